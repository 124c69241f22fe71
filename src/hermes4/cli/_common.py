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


def read_text(path: str | None) -> tuple[str, str]:
    """Read FILE or stdin (`-` or None); returns (text, name used in error messages)."""
    if path in (None, "-"):
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    if not p.is_file():
        raise fail(f"{path}: no such file")
    return p.read_text(encoding="utf-8"), path


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
def not_utf8(name: str, exc: UnicodeDecodeError) -> typer.Exit:
    """The one-line error for a file that is not UTF-8, naming the first bad byte's offset."""
    bad = exc.object[exc.start : exc.start + 1]
    return fail(f"{name}: not UTF-8: byte {exc.start} is 0x{bad.hex()} ({exc.reason})")
