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


def connect_model(spec: str, *, retries: int | None = None, **options: Any):
    """`hermes4.llm.connect` with the shared CLI settings: `--retries` reaches http(s) endpoints (the only ones that
    retry); the other options are passed as given."""
    from hermes4.llm import connect

    if retries is not None:
        if retries < 0:
            raise fail(f"--retries: must be 0 or more, got {retries}")
        if spec.strip().startswith(("http://", "https://")):
            options["max_retries"] = retries
    return connect(spec, **options)


def one_line_fault(exc: BaseException) -> str | None:
    """The one line a command prints for `exc`, when it is a fault the user can act on: a file fault anywhere in
    its chain (disk full, read-only, not UTF-8: `hermes4.store.describe_fault`) or a store error (already one
    line naming file and place); None for a bug, which keeps its traceback."""
    from hermes4.store import StoreError, describe_fault

    fault = describe_fault(exc)
    if fault is None and isinstance(exc, StoreError):
        fault = str(exc)
    return fault


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
