"""Shared CLI conventions: how a command reads its input and reports bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer


class UsageFailure(Exception):
    """Bad input from the user. `main` prints `hermes4: <message>` on stderr and exits with code 2."""


def fail(message: str) -> typer.Exit:
    """Print one line on stderr and exit 2. Use as `raise fail("input.json: line 3: ...")`."""
    print(f"hermes4: {message}", file=sys.stderr)
    return typer.Exit(code=2)


RETRIES_HELP = ("Times a failed request to an http(s) endpoint is retried (with backoff) before the run gives up on "
                "it; a dead endpoint takes minutes at the default 8, seconds at 0-2. Default: the client's (8).")


def retry_options(spec: str, retries: int | None) -> dict[str, Any]:
    """The client options of the shared `--retries` setting: it reaches http(s) endpoints (the only ones that retry)."""
    if retries is None:
        return {}
    if retries < 0:
        raise fail(f"--retries: must be 0 or more, got {retries}")
    return {"max_retries": retries} if spec.strip().startswith(("http://", "https://")) else {}


def connect_model(spec: str, *, retries: int | None = None, **options: Any):
    """`hermes4.llm.connect` with the shared CLI settings (`--retries`); the other options are passed as given."""
    from hermes4.llm import connect

    return connect(spec, **options, **retry_options(spec, retries))


def read_text(path: str | None) -> tuple[str, str]:
    """Read FILE or stdin (`-` or None) as UTF-8; returns (text, name used in error messages)."""
    from hermes4.store import NotUtf8Error, decode_utf8, read_text_file

    try:
        if path in (None, "-"):
            return decode_utf8(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
        p = Path(path)
        if not p.is_file():
            raise fail(f"{path}: no such file")
        return read_text_file(p), path
    except NotUtf8Error as exc:
        raise fail(str(exc)) from None


def read_json(path: str | None) -> tuple[Any, str]:
    text, name = read_text(path)
    try:
        return json.loads(text), name
    except json.JSONDecodeError as exc:
        raise fail(f"{name}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}") from None


def stderr_console() -> Any:
    """The rich console of a long command's progress and closing table: stderr, and in logs and pipes wide enough
    that the summary table is never squeezed."""
    from rich.console import Console

    console = Console(stderr=True)
    return console if console.is_terminal else Console(stderr=True, width=160)
