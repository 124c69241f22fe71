"""`hermes4 <command>`: one typer app; each layer adds its commands from its own module in this package.

A module here defines `register(app: typer.Typer) -> None`. Modules are discovered, so layers never edit a
shared list. Heavy imports (torch, transformers) belong inside the command functions, so `hermes4 parse`
starts in a fraction of a second.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from hermes4.cli._common import UsageFailure
from hermes4.store import one_line_fault

app = typer.Typer(
    name="hermes4",
    help="Hermes 4 end to end: format, parse, serve, sample, forge, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Hermes 4 end to end: format, parse, serve, sample, forge, train, evaluate."""


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    try:
        app()
    except UsageFailure as exc:  # bad input: one line naming what and where, exit 2, no traceback
        print(f"hermes4: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        fault = one_line_fault(exc)  # a full disk, a read-only folder, a non-UTF-8 file: the same in every command
        if fault is None:
            raise
        print(f"hermes4: {fault}", file=sys.stderr)
        sys.exit(2)
