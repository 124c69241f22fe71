"""Benchmark rows from where they live: local JSONL / JSON / CSV / Parquet files, folders of them, saved
`datasets` folders, the small samples shipped with hermes4, or (only when a user names one) the hub."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
HUB_PREFIX = "hf:"
SAMPLE = "sample"  # `data=sample` (the default) reads the small file shipped for tests and demos


class DatasetError(ValueError):
    """Rows that cannot be read; the message names the file (and line) or hub dataset, and why."""


def sample_path(benchmark: str) -> Path:
    """The sample file hermes4 ships for a benchmark (written by the project in the benchmark's public format)."""
    json_file = DATA_DIR / f"{benchmark}.json"  # benchmarks published as one JSON object (CreativeWriting3's prompts)
    return json_file if json_file.exists() else DATA_DIR / f"{benchmark}.jsonl"


def describe_source(source: str, benchmark: str) -> str:
    """What a report says about where the items came from."""
    if source in ("", SAMPLE):
        return f"hermes4 sample ({sample_path(benchmark).name})"
    return source


def load_rows(source: str, *, benchmark: str, split: str = "test", config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a benchmark. `source` is `sample` (or empty), a local file or folder, or `hf:owner/name` (hub)."""
    if source in ("", SAMPLE):
        return _read_local(sample_path(benchmark), split, benchmark)
    if source.startswith(HUB_PREFIX):
        return _read_hub(source.removeprefix(HUB_PREFIX), split=split, config=config)
    return _read_local(Path(source).expanduser(), split, benchmark)


def _read_local(path: Path, split: str, benchmark: str = "") -> list[dict[str, Any]]:
    from hermes4.store import StoreError, read_records

    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix == ".csv":
        return _read_csv(path, benchmark)
    if path.is_file() and path.suffix == ".json":
        return _read_json(path)
    if path.is_dir() and not any(path.glob("*.jsonl")) and not any(path.glob("*.parquet")):
        # A folder of task files: BIG-Bench Hard's one JSON per subtask, MMLU's one CSV per subject.
        files = sorted(path.glob("*.json")) + sorted(path.glob("*.csv"))
        files = [f for f in files if f.name not in ("manifest.json", "dataset_info.json", "state.json", "dataset_dict.json")]
        if files:
            return [row for file in files for row in _read_local(file, split, benchmark)]
    try:
        rows = list(read_records(path, split=split))
    except StoreError as exc:
        raise DatasetError(str(exc)) from None
    except (OSError, ValueError) as exc:  # pyarrow / datasets errors on damaged folders
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows


# MMLU's original release: one headerless CSV per subject and split (`abstract_algebra_test.csv`), each row
# `question,A,B,C,D,answer-letter`.
_MMLU_SPLIT_SUFFIX = ("_test", "_dev", "_val")


def _read_csv(path: Path, benchmark: str = "") -> list[dict[str, Any]]:
    # GPQA and SimpleQA are published as CSV files with a header; MMLU's original files have none.
    with open(path, newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    table = [row for row in table if any(cell.strip() for cell in row)]
    if not table:
        raise DatasetError(f"{path}: empty CSV file")
    if benchmark == "mmlu" and _headerless_mmlu(table[0]):
        subject = path.stem
        for suffix in _MMLU_SPLIT_SUFFIX:
            subject = subject.removesuffix(suffix)
        rows = []
        for number, row in enumerate(table, 1):
            if len(row) != 6:
                raise DatasetError(f"{path}: line {number}: expected 6 columns (question, A, B, C, D, answer), got {len(row)}")
            rows.append({"question": row[0], "choices": row[1:5], "answer": row[5].strip(), "subject": subject})
        return rows
    header, body = table[0], table[1:]
    if not body:
        raise DatasetError(f"{path}: no rows under the header {header[:6]} (an MMLU file without a header reads with task mmlu)")
    return [dict(zip(header, row)) for row in body]


def _headerless_mmlu(first: list[str]) -> bool:
    return len(first) == 6 and first[5].strip().upper() in ("A", "B", "C", "D") and first[0].strip().lower() != "question"


def _read_json(path: Path) -> list[dict[str, Any]]:
    # A JSON list of rows, or BIG-Bench Hard's own task files: {"canary": ..., "examples": [{"input", "target"}]}.
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if isinstance(value, dict) and value and all(isinstance(v, dict) and "qa_pairs" in v for v in value.values()):
        # DROP's official release (drop_dataset_dev.json): {passage_id: {passage, qa_pairs: [...]}}, one row per question.
        return [
            {"section_id": passage_id, "passage": entry.get("passage", ""), **pair}
            for passage_id, entry in value.items()
            for pair in entry["qa_pairs"]
            if isinstance(pair, dict)
        ]
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()) and not {"examples", "data", "rows"} & set(value):
        # rows keyed by id (CreativeWriting3's prompt file: {"1": {"title", "writing_prompt", ...}}): the key is kept
        return [{"_key": key, **row} for key, row in value.items()]
    if isinstance(value, dict):
        for key in ("examples", "data", "rows"):
            if isinstance(value.get(key), list):
                rows = value[key]
                if key == "examples":  # a BBH task file: the subtask is the file's name
                    rows = [{"subset": path.stem, **row} if isinstance(row, dict) else row for row in rows]
                value = rows
                break
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise DatasetError(f"{path}: expected a JSON list of objects or an object with an 'examples' list")
    return value


def _read_hub(name: str, *, split: str, config: str | None) -> list[dict[str, Any]]:
    import datasets

    try:
        loaded = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # noqa: BLE001 (network, auth and missing-config errors all land here)
        raise DatasetError(
            f"hub dataset {name!r} (config {config!r}, split {split!r}): cannot load ({type(exc).__name__}: {exc}); "
            "on a machine without network, download it elsewhere and pass the local path as data=PATH"
        ) from None
    return [dict(row) for row in loaded]
