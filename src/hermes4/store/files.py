"""File faults as one line each: text that is not UTF-8 (file and byte offset), a full disk, a read-only or
forbidden place; found anywhere in an exception's chain, so every command reports them the same way."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from hermes4.store.journal import StoreError

# What the OS says, in words a user acts on; the errno names the fault, the exception names the file.
_OS_FAULTS = {
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


NEWLINE = b"\n"


class NotUtf8Error(StoreError):
    """A text input that is not UTF-8; the message names the file and the byte (1-based, like lines and columns)."""


def decode_utf8(data: bytes, where: str, offset: int = 0) -> str:
    """`data` (found `offset` bytes into its file) as UTF-8, or NotUtf8Error naming `where` and the offending byte:
    `f.yaml: not UTF-8 text at byte 25 (line 2): 0xe9 invalid continuation byte`. Positions count from 1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = f" (line {data.count(NEWLINE, 0, exc.start) + 1})" if offset == 0 else ""
        raise NotUtf8Error(
            f"{where}: not UTF-8 text at byte {offset + exc.start + 1}{line}: 0x{data[exc.start]:02x} {exc.reason}"
        ) from None


def read_text_file(path: str | os.PathLike[str]) -> str:
    """The whole file as UTF-8 text (NotUtf8Error names the file and byte offset when it is not)."""
    return decode_utf8(Path(path).read_bytes(), str(path))


def describe_fault(exc: BaseException) -> str | None:
    """One line for a file fault in `exc` or anything it was raised from (a full disk during a write often
    surfaces again while cleaning up); None when the chain holds no such fault."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _OS_FAULTS:
            where = current.filename if current.filename is not None else "writing output"
            return f"{os.fsdecode(where)}: {_OS_FAULTS[current.errno]}"
        if isinstance(current, NotUtf8Error):
            return str(current)
        pending.extend(getattr(current, "exceptions", ()))  # ExceptionGroup (asyncio.TaskGroup)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


def one_line_fault(exc: BaseException) -> str | None:
    """The one line a command prints for `exc`, when it is a fault the user can act on: a file fault anywhere in
    its chain (disk full, read-only, not UTF-8) or a store error (already one line naming file and place); None for
    a bug, which keeps its traceback."""
    from hermes4.store.journal import StoreError

    fault = describe_fault(exc)
    if fault is None and isinstance(exc, StoreError):
        fault = str(exc)
    return fault
