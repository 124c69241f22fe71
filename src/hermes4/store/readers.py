"""Reading datasets (JSONL shards, a JSONL file, Parquet, saved `datasets` folders) and exporting to Parquet."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from hermes4.store.files import decode_utf8
from hermes4.store.journal import StoreError, list_shards

_log = logging.getLogger(__name__)

# Parquet metadata key listing the columns stored as JSON text (their values had no single Arrow type).
JSON_COLUMNS_KEY = b"hermes4.json_columns"
# Columns of the conversation record whose values are free-form JSON; decoded when read back as text.
_FREEFORM = ("tools", "meta")


TornLineHandler = Callable[[Path, int, int], None]


def warn_torn_line(path: Path, lineno: int, size: int) -> None:
    """The default for a torn last line: skip it, but say so (a silent drop would change a dataset unseen)."""
    _log.warning("hermes4: warning: %s:%d: the last line is torn (%d bytes, no newline, not valid JSON); skipped",
                 path, lineno, size)


def read_jsonl(path: str | os.PathLike[str], *, on_torn: TornLineHandler = warn_torn_line) -> Iterator[dict[str, Any]]:
    """Records of one JSONL file. A torn last line (no newline, bad JSON: a write in progress, or a crash) is not a
    record: `on_torn(path, line number, bytes)` is told (by default a warning on stderr), and may raise instead."""
    path = Path(path)
    with open(path, "rb") as handle:
        pending: tuple[int, bytes, int] | None = None
        offset = 0
        for lineno, raw in enumerate(handle, start=1):
            if pending is not None:
                yield _decode_line(path, *pending)
                pending = None
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            if raw.endswith(b"\n"):
                yield _decode_line(path, lineno, raw, start)
            else:
                pending = (lineno, raw, start)
        if pending is not None:
            try:
                yield _decode_line(path, *pending)
            except StoreError:
                on_torn(path, pending[0], len(pending[1]))


def parse_yaml(text: str, where: str, error: type[Exception] = StoreError) -> Any:
    """`text` parsed as YAML; a syntax error raises `error` naming `where` and the line (`f.yaml: line 3: invalid
    YAML: ...`), the one way recipes, training configs and graph files report it. A key given twice in one mapping
    is an error too (YAML's loaders let the last one win silently, so an edit could be ignored unseen)."""
    import yaml

    try:
        return yaml.load(text, Loader=_unique_keys_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f": line {mark.line + 1}" if mark else ""
        raise error(f"{where}{line}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None


_LOADER: Any = None


def _unique_keys_loader() -> Any:
    """yaml.SafeLoader that refuses a duplicate key in a mapping (made once, on first use: yaml loads lazily)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class UniqueKeyLoader(yaml.SafeLoader):
            def construct_mapping(self, node: Any, deep: bool = False) -> Any:
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: its keys may be overridden
                        continue
                    key = self.construct_object(key_node, deep=True)
                    line = key_node.start_mark.line + 1
                    try:
                        first = seen.get(key)
                    except TypeError:  # an unhashable key: the base class reports it
                        continue
                    if first is not None:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (first given at line {first})", key_node.start_mark)
                    seen[key] = line
                return super().construct_mapping(node, deep=deep)

        _LOADER = UniqueKeyLoader
    return _LOADER


def _decode_line(path: Path, lineno: int, raw: bytes, start: int) -> dict[str, Any]:
    text = decode_utf8(raw, f"{path}:{lineno}", start)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise StoreError(f"{path}:{lineno}: a record must be a JSON object, got {type(record).__name__}")
    return record


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def read_records(
    path: str | os.PathLike[str], *, stream: str = "data", split: str = "train", on_torn: TornLineHandler = warn_torn_line
) -> Iterator[dict[str, Any]]:
    """Every record at `path`: a dataset folder (its `stream` shards), a `.jsonl` file, a `.parquet` file or a
    folder of them, or a folder written by `datasets.save_to_disk` (its `split` when it holds several)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix == ".jsonl":
            yield from read_jsonl(path, on_torn=on_torn)
        elif path.suffix == ".parquet":
            yield from read_parquet(path)
        else:
            raise StoreError(f"{path}: unknown dataset file type (expected .jsonl or .parquet)")
        return
    if _is_saved_dataset(path):
        yield from _read_saved(path, split)
        return
    shards = list_shards(path, stream)
    if shards or (path / "manifest.json").is_file():
        # A dataset folder: only this stream's shards (a stream nobody wrote to yet is empty).
        for shard in shards:
            yield from read_jsonl(shard, on_torn=on_torn)
        return
    parquet = sorted(path.glob("*.parquet"))
    if parquet:
        for file in parquet:
            yield from read_parquet(file)
        return
    loose = sorted(path.glob("*.jsonl"))
    if loose:
        for file in loose:
            yield from read_jsonl(file, on_torn=on_torn)
        return
    raise StoreError(f"{path}: no `{stream}-NNNNN.jsonl` shards, .jsonl, .parquet or saved dataset in this folder")


def _clean_messages(messages: Any) -> Any:
    # Columnar storage gives every message every field; drop the empty ones again (content stays, even None).
    if not isinstance(messages, list):
        return messages
    out = []
    for message in messages:
        if not isinstance(message, dict):
            out.append(message)
            continue
        clean = {k: v for k, v in message.items() if v is not None or k in ("role", "content")}
        if isinstance(clean.get("tool_calls"), list):
            clean["tool_calls"] = [
                {k: v for k, v in call.items() if v is not None} if isinstance(call, dict) else call
                for call in clean["tool_calls"]
            ]
        out.append(clean)
    return out


def _restore(row: dict[str, Any], json_columns: Iterable[str]) -> dict[str, Any]:
    for column in json_columns:
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    for column in _FREEFORM:
        value = row.get(column)
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                row[column] = json.loads(value)
            except json.JSONDecodeError:
                pass
    if "messages" in row:
        row["messages"] = _clean_messages(row["messages"])
    return {k: v for k, v in row.items() if v is not None}


def read_parquet(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise StoreError(f"{path}: not a readable Parquet file ({exc})") from None
    metadata = parquet.schema_arrow.metadata or {}
    json_columns = json.loads(metadata.get(JSON_COLUMNS_KEY, b"[]"))
    for batch in parquet.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            yield _restore(row, json_columns)


def _read_saved(path: Path, split: str) -> Iterator[dict[str, Any]]:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise StoreError(f"{path}: no split {split!r}; splits: {', '.join(loaded)}")
        loaded = loaded[split]
    for row in loaded:
        yield _restore(dict(row), ())


# -- export --------------------------------------------------------------------------------------------


def _message_type() -> Any:
    import pyarrow as pa

    function = pa.struct([("name", pa.string()), ("arguments", pa.string())])
    call = pa.struct([("id", pa.string()), ("type", pa.string()), ("function", function)])
    return pa.struct(
        [
            ("role", pa.string()),
            ("content", pa.string()),
            ("reasoning_content", pa.string()),
            ("tool_calls", pa.list_(call)),
            ("tool_call_id", pa.string()),
            ("name", pa.string()),
            ("train", pa.bool_()),
        ]
    )


def _flat_message(message: dict[str, Any]) -> dict[str, Any]:
    # The OpenAI wire shape: arguments as JSON text, so one Arrow type fits every tool.
    from hermes4.chat.messages import Message

    parsed = Message.model_validate(message)
    out = parsed.to_openai()
    out["train"] = parsed.train
    return out


def _column_kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if all(isinstance(v, str) for v in present):
        return "string"
    if all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    return "json"


def export_parquet(
    source: str | os.PathLike[str] | Iterable[dict[str, Any]],
    dest: str | os.PathLike[str],
    *,
    stream: str = "data",
    rows_per_group: int = 10_000,
) -> int:
    """Write records (or the dataset at `source`) to one Parquet file; returns the number of rows.

    `messages` becomes a list of structs in the OpenAI shape (readable by `datasets` and TRL); other
    columns keep their scalar type, and free-form values (meta, tools) are stored as JSON text, listed in the
    file's metadata so `read_records` gives back the same records.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = list(read_records(source, stream=stream) if isinstance(source, (str, os.PathLike)) else source)
    columns: list[str] = []
    for record in records:
        for key in record:
            if key not in columns:
                columns.append(key)
    arrays: dict[str, Any] = {}
    json_columns: list[str] = []
    for column in columns:
        values = [record.get(column) for record in records]
        if column == "messages":
            try:
                flat = [[_flat_message(m) for m in v] if v is not None else None for v in values]
            except Exception as exc:
                raise StoreError(f"export_parquet: a record's messages are not chat messages ({exc})") from None
            arrays[column] = pa.array(flat, type=pa.list_(_message_type()))
            continue
        kind = _column_kind(values)
        if kind == "json":
            json_columns.append(column)
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
            kind = "string"
        arrow_type = {"string": pa.string(), "bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}[kind]
        arrays[column] = pa.array(values, type=arrow_type)
    table = pa.table(arrays) if arrays else pa.table({})
    table = table.replace_schema_metadata({JSON_COLUMNS_KEY: json.dumps(json_columns).encode()})
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    pq.write_table(table, tmp, row_group_size=rows_per_group)
    os.replace(tmp, dest)
    return len(records)
