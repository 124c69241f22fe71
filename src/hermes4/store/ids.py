"""Content-hash record ids: the same content always gets the same id, on every machine and every run."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no optional whitespace, so equal values serialise to equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_id(*parts: Any, length: int = 32) -> str:
    """A hex id (128 bits by default) hashing the canonical JSON of `parts`; order of parts matters."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()
    return digest[:length]


def derive_seed(*parts: Any) -> int:
    """A 31-bit seed from values (e.g. base seed, env, item id, sample index), independent of run order."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
