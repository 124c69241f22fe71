"""One append-only record stream: JSONL shards in a folder, written exactly once per key, safe across `kill -9`.

Durability policy (the `fsync` argument):

- every `append` is one unbuffered `write(2)` of a whole line on an `O_APPEND` descriptor, so once it returns
  the record is in the kernel's page cache and survives the death of the process (`kill -9`, OOM killer);
- `"rotate"` (the default) also fsyncs a shard when it is closed (rotation, `close`), which bounds what an
  operating-system crash or power loss can take to the shard being written;
- `"always"` fsyncs after every record (power-loss safe, costs a disk flush per record);
- `"never"` leaves flushing to the kernel.

Whatever is lost, it is lost from the end: a crash can only leave the last line torn (no trailing newline).
Opening a journal truncates such a tail back to the last newline, keeping every complete record, and
reports it in `repairs`. The keys of the records already on disk are the `done` set: a rerun skips them.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

FsyncPolicy = Literal["always", "rotate", "never"]
FSYNC_POLICIES: tuple[str, ...] = ("always", "rotate", "never")

DEFAULT_MAX_RECORDS = 50_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class StoreError(RuntimeError):
    """A dataset folder that cannot be used as asked; the message names the file (and line) and what is wrong."""


@dataclass
class Repair:
    """A torn tail cut off a shard when it was opened."""

    file: str
    kept_records: int
    dropped_bytes: int

    def describe(self) -> str:
        return (
            f"{self.file}: repaired a torn last line: dropped {self.dropped_bytes} bytes after the last complete "
            f"record, kept {self.kept_records} records"
        )

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "kept_records": self.kept_records, "dropped_bytes": self.dropped_bytes}


@dataclass
class ShardInfo:
    file: str
    records: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "records": self.records, "bytes": self.bytes}


def record_key(record: dict[str, Any]) -> str | None:
    """The default key of a record: `meta.id` (conversations), else a top-level `id`."""
    meta = record.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("id"), str):
        return meta["id"]
    value = record.get("id")
    return value if isinstance(value, str) else None


def shard_name(stream: str, index: int) -> str:
    return f"{stream}-{index:05d}.jsonl"


def list_shards(root: Path, stream: str) -> list[Path]:
    """The shards of `stream` in `root`, in write order."""
    pattern = re.compile(rf"^{re.escape(stream)}-(\d{{5,}})\.jsonl$")
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_file() and (m := pattern.match(p.name))]
    return [p for _, p in sorted(found)]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; the file fsyncs still hold
        pass
    finally:
        os.close(fd)


def _cut_torn_tail(path: Path) -> int:
    """Truncate `path` after its last newline; returns how many bytes were dropped (0 when it was whole)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        # Walk back in blocks to the last newline; records can be megabytes long.
        end = size
        block = 1 << 16
        keep = 0
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            at = chunk.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            end = start
    os.truncate(path, keep)
    return size - keep


class Journal:
    """An append-only stream of JSON records in `<root>/<stream>-NNNNN.jsonl`, exactly once per key.

    Opening scans the existing shards (repairing a torn tail), so `key in journal` answers "already
    written?" for every record a previous run finished. `observe(record)` is called for each record found,
    so callers can rebuild their own indexes in the same pass.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        stream: str = "data",
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fsync: FsyncPolicy = "rotate",
        key: Callable[[dict[str, Any]], str | None] = record_key,
        observe: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise StoreError(f"fsync: {fsync!r} is not one of {', '.join(FSYNC_POLICIES)}")
        if max_records < 1 or max_bytes < 1:
            raise StoreError("max_records and max_bytes must be at least 1")
        if not re.fullmatch(r"[A-Za-z0-9_.]+", stream):
            raise StoreError(f"stream name {stream!r}: use letters, digits, '_' and '.' only")
        self.root = Path(root)
        self.stream = stream
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._key = key
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.done: set[str] = set()
        self.repairs: list[Repair] = []
        self.shards: list[ShardInfo] = []
        self.appended = 0  # records written by this process
        self.skipped = 0  # appends refused because the key was already done
        self.root.mkdir(parents=True, exist_ok=True)
        self._scan(observe)

    # -- opening -------------------------------------------------------------------------------------

    def _scan(self, observe: Callable[[dict[str, Any]], None] | None) -> None:
        for path in list_shards(self.root, self.stream):
            dropped = _cut_torn_tail(path)
            count = 0
            with open(path, "rb") as handle:
                for lineno, raw in enumerate(handle, start=1):
                    if not raw.strip():
                        continue
                    try:
                        record = json.loads(raw)
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        # Only the tail can be torn by a crash; a bad line in the middle is damage we must not
                        # silently drop, so stop and name it.
                        raise StoreError(
                            f"{path}:{lineno}: not a JSON record ({exc}); the shard is damaged before its end, "
                            "which a crash cannot cause: fix or remove that line"
                        ) from None
                    if not isinstance(record, dict):
                        raise StoreError(f"{path}:{lineno}: a record must be a JSON object, got {type(record).__name__}")
                    count += 1
                    key = self._key(record)
                    if key is not None:
                        self.done.add(key)
                    if observe is not None:
                        observe(record)
            self.shards.append(ShardInfo(path.name, count, path.stat().st_size))
            if dropped:
                self.repairs.append(Repair(path.name, count, dropped))

    # -- writing -------------------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self.done

    @property
    def records(self) -> int:
        return sum(s.records for s in self.shards)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    def append(self, record: dict[str, Any]) -> bool:
        """Write `record` unless its key is already done; returns whether it was written.

        The line is on its way to disk (in the kernel) when this returns; see the module doc for fsync.
        """
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        key = self._key(record)
        with self._lock:
            if key is not None and key in self.done:
                self.skipped += 1
                return False
            view = memoryview(line)
            try:
                fd = self._writable(len(line))
                while view:  # write(2) on a regular file may be partial only in rare cases; finish the line
                    written = os.write(fd, view)
                    view = view[written:]
                if self.fsync == "always":
                    os.fsync(fd)
            except OSError as exc:
                shard = self.shards[-1] if self.shards else None
                if shard is None:
                    raise
                self._undo_partial_write(shard)
                raise OSError(exc.errno, exc.strerror, exc.filename or str(self.root / shard.file)) from None
            shard = self.shards[-1]
            shard.records += 1
            shard.bytes += len(line)
            if key is not None:
                self.done.add(key)
            self.appended += 1
            return True

    def _undo_partial_write(self, shard: ShardInfo) -> None:
        """After a failed write (a full disk): no partial line stays, and a shard it had just created goes."""
        try:
            if shard.records == 0:
                self._close_fd_quietly()
                (self.root / shard.file).unlink(missing_ok=True)
                self.shards.pop()
            elif self._fd is not None:
                os.ftruncate(self._fd, shard.bytes)
        except OSError:
            pass  # then the next open repairs the torn tail, as after a crash

    def _close_fd_quietly(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass

    def _writable(self, size: int) -> int:
        current = self.shards[-1] if self.shards else None
        full = current is not None and (
            current.records >= self.max_records or (current.records > 0 and current.bytes + size > self.max_bytes)
        )
        if current is None or full:
            self._close_fd()
            index = len(self.shards)
            name = shard_name(self.stream, index)
            self.shards.append(ShardInfo(name, 0, 0))
            current = self.shards[-1]
        if self._fd is None:
            path = self.root / current.file
            created = not path.exists()
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if created and self.fsync != "never":
                _fsync_dir(self.root)
        return self._fd

    def _close_fd(self) -> None:
        if self._fd is not None:
            if self.fsync != "never":
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def sync(self) -> None:
        """Force what was written so far to disk (fsync), whatever the policy."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def manifest_entry(self) -> dict[str, Any]:
        return {"records": self.records, "bytes": self.bytes, "shards": [s.to_json() for s in self.shards]}
