"""A dataset folder: named journals (record streams) plus `manifest.json` (shards, counts, config, summary)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hermes4.store.journal import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RECORDS,
    FsyncPolicy,
    Journal,
    StoreError,
    record_key,
)

MANIFEST = "manifest.json"
FORMAT = "hermes4-dataset/1"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict[str, str]:
    from hermes4 import __version__

    return {"hermes4": __version__, "python": platform.python_version()}


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of a dataset folder, or None when there is none yet."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        # The manifest is replaced atomically, so a bad one was edited by hand; the shards are the truth.
        raise StoreError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg}); fix it or delete it (the shards are kept)") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{path}: the manifest must be a JSON object")
    return manifest


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON so that readers (and a crash) see either the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    data = (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # a full disk must not leave a half (or empty) temporary file behind
        if exc.filename is None:  # a failed write(2) names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def refuse_changed(root: Path, old: dict[str, Any], new: dict[str, Any], must_match: Iterable[str], *, made: str = "written") -> None:
    """The resume check of every run folder (datasets, eval runs): a StoreError when a setting in `must_match` that an
    earlier run recorded differs now, since resuming would mix two runs in one folder."""
    for key in must_match:
        if key in old and old[key] != new.get(key):
            raise StoreError(
                f"{root}: was {made} with {key}={old[key]!r}, this run has {key}={new.get(key)!r}; "
                "rerun with the same settings to resume, or choose another output folder"
            )


class Store:
    """Open (create or resume) a dataset folder.

    `config` is what produced the data; keys listed in `must_match` must equal those of an earlier run in the
    same folder, so resuming with different options fails loudly instead of mixing two datasets.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        config: dict[str, Any] | None = None,
        must_match: Iterable[str] = (),
        fsync: FsyncPolicy = "rotate",
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: exists and is not a folder")
        self.root.mkdir(parents=True, exist_ok=True)
        previous = read_manifest(self.root)
        self.resumed = previous is not None
        self.config = dict(config or {})
        if previous is not None and config is not None:
            refuse_changed(self.root, previous.get("config") or {}, self.config, must_match)
        self.created = (previous or {}).get("created") or _now()
        self.runs = int((previous or {}).get("runs") or 0) + 1
        self.summary: dict[str, Any] = dict((previous or {}).get("summary") or {})
        self.repair_log: list[dict[str, Any]] = list((previous or {}).get("repairs") or [])
        self._previous_streams: dict[str, Any] = dict((previous or {}).get("streams") or {})
        self._fsync = fsync
        self._max_records = max_records
        self._max_bytes = max_bytes
        self.streams: dict[str, Journal] = {}

    def stream(
        self,
        name: str = "data",
        *,
        key: Callable[[dict[str, Any]], str | None] = record_key,
        observe: Callable[[dict[str, Any]], None] | None = None,
    ) -> Journal:
        """The journal of one record stream (opened, scanned and repaired on first use)."""
        if name in self.streams:
            return self.streams[name]
        journal = Journal(
            self.root,
            name,
            max_records=self._max_records,
            max_bytes=self._max_bytes,
            fsync=self._fsync,
            key=key,
            observe=observe,
        )
        for repair in journal.repairs:
            self.repair_log.append({**repair.to_json(), "at": _now()})
        self.streams[name] = journal
        return journal

    @property
    def repairs(self) -> list[Any]:
        return [r for j in self.streams.values() for r in j.repairs]

    def write_manifest(self) -> Path:
        manifest = {
            "format": FORMAT,
            "created": self.created,
            "updated": _now(),
            "runs": self.runs,
            "versions": _versions(),
            "config": self.config,
            # Streams this run did not open keep their last known entry.
            "streams": dict(sorted({**self._previous_streams, **{n: j.manifest_entry() for n, j in self.streams.items()}}.items())),
            "summary": self.summary,
            "repairs": self.repair_log,
        }
        path = self.root / MANIFEST
        write_json_atomic(path, manifest)
        return path

    def close(self) -> None:
        for journal in self.streams.values():
            journal.close()
        self.write_manifest()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
