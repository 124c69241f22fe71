"""Seed passages: loading them from any supported source, normalising text, exact dedup, newest-first order."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hermes4.store.readers import read_records

TEXT_SUFFIXES = (".txt", ".md")
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class Passage:
    id: str
    text: str
    date: str | None = None  # ISO date when the source has one; newer passages are preferred
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.date is not None:
            out["date"] = self.date
        if self.meta:
            out["meta"] = self.meta
        return out


def normalise(text: str) -> str:
    """NFC, unified newlines, runs of spaces folded, at most one blank line, trimmed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def text_hash(text: str) -> str:
    """Exact-dedup key: case and whitespace do not make two passages different."""
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def load_passages(
    path: str | Path, *, text_field: str = "text", id_field: str = "id", date_field: str = "date"
) -> list[Passage]:
    """Passages from JSONL, Parquet, a saved `datasets` folder, or a folder of .txt/.md files (one passage each)."""
    path = Path(path)
    if path.is_dir() and not any(path.glob("*.jsonl")) and not any(path.glob("*.parquet")) and any(
        p.suffix in TEXT_SUFFIXES for p in path.rglob("*")
    ):
        files = sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES and p.is_file())
        return [
            Passage(id=str(f.relative_to(path)), text=normalise(f.read_text(encoding="utf-8", errors="replace")))
            for f in files
        ]
    passages = []
    first_record: dict[str, int] = {}  # id -> the record (1-based) that first used it
    for index, record in enumerate(read_records(path)):
        number = index + 1  # positions in messages count from 1, like line numbers
        text = record.get(text_field)
        if not isinstance(text, str):
            raise ValueError(f"{path}: record {number}: field {text_field!r} missing or not text (keys: {sorted(record)})")
        pid = record.get(id_field)
        passage_id = str(pid) if pid is not None else f"{index}"
        if passage_id in first_record:
            # ids name passages in `duplicate_of` and in forge's records: two passages with one id are ambiguous
            raise ValueError(f"{path}: record {number}: id {passage_id!r} is already used by record "
                             f"{first_record[passage_id]}; passage ids must be unique")
        first_record[passage_id] = number
        meta = {k: v for k, v in record.items() if k not in (text_field, id_field, date_field)}
        passages.append(
            Passage(
                id=passage_id,
                text=normalise(text),
                date=_iso_date(record.get(date_field), where=f"{path}: record {number}: {date_field}"),
                meta=meta,
            )
        )
    return passages


def _iso_date(value: Any, *, where: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    text = str(value).strip()
    try:  # ISO dates and timestamps, "Z" suffix included
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    for fmt in ("%Y/%m/%d", "%Y-%m", "%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"{where}: {value!r} is not a date (expected e.g. 2024-05-01)")


def newest_first(passages: list[Passage]) -> list[int]:
    """Indices from the most to the least preferred: newer dates first, undated last, ties in input order."""
    dated = sorted((i for i, p in enumerate(passages) if p.date), key=lambda i: passages[i].date, reverse=True)
    return dated + [i for i, p in enumerate(passages) if not p.date]
