"""Dataset I/O shared by sample, forge and eval: append-only JSONL shards, manifest, exactly-once journal."""

from hermes4.store.files import NotUtf8Error, decode_utf8, describe_fault, one_line_fault, read_text_file
from hermes4.store.dataset import MANIFEST, Store, read_manifest, write_json_atomic
from hermes4.store.ids import canonical_json, content_id, derive_seed
from hermes4.store.journal import FSYNC_POLICIES, FsyncPolicy, Journal, Repair, StoreError, list_shards, record_key
from hermes4.store.readers import export_parquet, read_jsonl, read_parquet, read_records

__all__ = [
    "FSYNC_POLICIES",
    "MANIFEST",
    "NotUtf8Error",
    "FsyncPolicy",
    "Journal",
    "Repair",
    "Store",
    "StoreError",
    "canonical_json",
    "content_id",
    "decode_utf8",
    "derive_seed",
    "describe_fault",
    "one_line_fault",
    "export_parquet",
    "list_shards",
    "read_jsonl",
    "read_manifest",
    "read_parquet",
    "read_records",
    "read_text_file",
    "record_key",
    "write_json_atomic",
]
