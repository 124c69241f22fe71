"""Conversations to training ids and loss masks, through the chat layer: parallel, cached on disk, over-length policy.

`TokenizedSamples` is the compact result (one flat id array, one flat mask array, offsets), what packing
and `hermes4.train.batches.PackedLoader` consume.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hermes4.chat import Conversation


_DIGEST_CHUNK_TOKENS = 1 << 22


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic): a fixed, well-mixed hash of each value."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _sample_digests(input_ids: np.ndarray, loss_mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per sample: the wrapping sum over its tokens of hash(position, id, mask), plus a hash of its length.
    Vectorised (no Python loop per sample); `offsets` start at 0 and index these arrays."""
    lengths = np.diff(offsets)
    position = np.arange(len(input_ids), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    token = input_ids.astype(np.uint64) * np.uint64(2) + loss_mask.astype(np.uint64)
    values = _splitmix64(position.astype(np.uint64) << np.uint64(33) ^ token)
    sums = np.zeros(len(lengths), dtype=np.uint64)
    nonempty = lengths > 0
    with np.errstate(over="ignore"):
        if nonempty.any():
            sums[nonempty] = np.add.reduceat(values, offsets[:-1][nonempty])
        return sums + _splitmix64(lengths.astype(np.uint64))


@dataclass
class TokenizedSamples:
    """Samples as CSR arrays: sample `i` is `input_ids[offsets[i]:offsets[i+1]]` with its `loss_mask` (1 = trained)."""

    input_ids: np.ndarray  # int32 [total tokens]
    loss_mask: np.ndarray  # uint8 [total tokens]
    offsets: np.ndarray  # int64 [n + 1]
    sources: list[str] = field(default_factory=list)  # per sample: the name of the source it came from ("" if none)
    # `digests()` once computed, or as saved beside the arrays (a store is hashed when written, not at every start)
    saved_digests: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.loss_mask) or self.offsets[-1] != len(self.input_ids):
            raise ValueError("TokenizedSamples: input_ids, loss_mask and offsets disagree")
        if self.sources and len(self.sources) != len(self):
            raise ValueError(f"TokenizedSamples: {len(self.sources)} source names for {len(self)} samples")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    @property
    def num_trained_tokens(self) -> int:
        return int(self.loss_mask.sum())

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.input_ids[start:end], self.loss_mask[start:end]

    @classmethod
    def from_lists(cls, samples: list[tuple[list[int], list[int]]], sources: list[str] | None = None) -> TokenizedSamples:
        """From `(input_ids, loss_mask)` pairs."""
        lengths = np.array([len(ids) for ids, _ in samples], dtype=np.int64)
        offsets = np.zeros(len(samples) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.fromiter((t for s, _ in samples for t in s), dtype=np.int32, count=int(offsets[-1]))
        mask = np.fromiter((m for _, s in samples for m in s), dtype=np.uint8, count=int(offsets[-1]))
        return cls(input_ids=ids, loss_mask=mask, offsets=offsets, sources=list(sources or []))

    @classmethod
    def concat(cls, parts: list[TokenizedSamples]) -> TokenizedSamples:
        if not parts:
            return cls.from_lists([])
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for part in parts:
            offsets.append(part.offsets[1:] + base)
            base += part.num_tokens
        sources = [name for part in parts for name in (part.sources or [""] * len(part))]
        return cls(
            input_ids=np.concatenate([p.input_ids for p in parts]),
            loss_mask=np.concatenate([p.loss_mask for p in parts]),
            offsets=np.concatenate(offsets),
            sources=sources if any(sources) else [],
        )

    def select(self, indices) -> TokenizedSamples:
        """A new TokenizedSamples with the given samples, in the given order."""
        indices = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[indices]
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # Gather every token of the chosen samples in one vectorised pass.
        starts = np.repeat(self.offsets[indices] - offsets[:-1], lengths)
        gather = np.arange(offsets[-1], dtype=np.int64) + starts
        return TokenizedSamples(
            input_ids=self.input_ids[gather],
            loss_mask=self.loss_mask[gather],
            offsets=offsets,
            sources=[self.sources[i] for i in indices.tolist()] if self.sources else [],
        )

    def digests(self) -> np.ndarray:
        """uint64 [n]: a digest of each sample's ids and loss mask (equal samples, equal digests), computed in
        chunks of ~4M tokens so a memory-mapped shard is never read whole into memory."""
        if self.saved_digests is not None:
            return self.saved_digests
        out = np.zeros(len(self), dtype=np.uint64)
        first = 0
        while first < len(self):
            last = int(np.searchsorted(self.offsets, self.offsets[first] + _DIGEST_CHUNK_TOKENS, side="right")) - 1
            last = min(max(last, first + 1), len(self))
            start, end = int(self.offsets[first]), int(self.offsets[last])
            offsets = self.offsets[first : last + 1] - start
            out[first:last] = _sample_digests(self.input_ids[start:end], self.loss_mask[start:end], offsets)
            first = last
        self.saved_digests = out
        return out

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "input_ids.npy", self.input_ids)
        np.save(directory / "loss_mask.npy", self.loss_mask)
        np.save(directory / "offsets.npy", self.offsets)
        np.save(directory / "digests.npy", self.digests())
        (directory / "sources.json").write_text(json.dumps(self.sources))

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = True) -> TokenizedSamples:
        directory = Path(directory)
        mode = "r" if mmap else None
        return cls(
            input_ids=np.load(directory / "input_ids.npy", mmap_mode=mode),
            loss_mask=np.load(directory / "loss_mask.npy", mmap_mode=mode),
            offsets=np.load(directory / "offsets.npy"),
            sources=json.loads((directory / "sources.json").read_text()),
            saved_digests=np.load(directory / "digests.npy") if (directory / "digests.npy").is_file() else None,
        )


# ---------------------------------------------------------------------------------------------------------
# Conversations -> TokenizedSamples


OVERLONG_POLICIES = ("drop", "truncate")
CACHE_VERSION = 1


@dataclass(frozen=True)
class TokenizeOptions:
    """How conversations become ids. Every field is part of the cache key."""

    format: str = "chatml"
    thinking: bool | None = None  # None: each conversation's own `thinking`, else False
    keep_cots: bool | None = None
    train_last_turn_only: bool = False
    max_length: int | None = None  # longer samples are dropped or truncated (the packing capacity)
    overlong: str = "drop"  # "drop" | "truncate"
    drop_untrained: bool = True  # samples with no trained token teach nothing; drop (and count) them

    def __post_init__(self) -> None:
        if self.overlong not in OVERLONG_POLICIES:
            raise ValueError(f"overlong: {self.overlong!r} is not one of {', '.join(OVERLONG_POLICIES)}")
        if self.max_length is not None and self.max_length < 2:
            raise ValueError(f"max_length: must be at least 2 tokens, got {self.max_length}")


@dataclass
class TokenizeReport:
    """What happened to every input conversation; `kept + dropped_overlong + dropped_untrained == conversations`."""

    conversations: int = 0
    kept: int = 0
    dropped_overlong: int = 0
    truncated: int = 0
    dropped_untrained: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    cache: str = "off"  # "hit" | "miss" | "off"
    cache_key: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _sha(*parts: bytes | str) -> hashlib._Hash:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of everything that decides the ids: the full serialized fast tokenizer (vocab, merges, added tokens)."""
    from hermes4.chat.tokenize import backend_of

    return _sha(backend_of(tokenizer).to_str()).hexdigest()


def _renderer_fingerprint() -> str:
    # The renderer's own source is part of the key: a format change must not reuse stale ids.
    # (import_module: `hermes4.chat.render` as an attribute is the function the package re-exports)
    names = ("formats", "prompts", "render", "tokenize")
    modules = [importlib.import_module(f"hermes4.chat.{name}") for name in names]
    return _sha(*(Path(m.__file__).read_bytes() for m in modules)).hexdigest()


def conversations_fingerprint(conversations: list[Conversation]) -> str:
    digest = hashlib.sha256()
    for conversation in conversations:
        data = conversation.model_dump_json().encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cache_key(conversations: list[Conversation], tokenizer, options: TokenizeOptions) -> str:
    return _sha(
        f"hermes4-tokenized-v{CACHE_VERSION}",
        conversations_fingerprint(conversations),
        tokenizer_fingerprint(tokenizer),
        _renderer_fingerprint(),
        json.dumps(asdict(options), sort_keys=True),
    ).hexdigest()[:32]


def _tokenize_chunk(conversations: list[Conversation], tokenizer, options: TokenizeOptions) -> list[tuple[list[int], list[int]]]:
    from hermes4.chat import render, tokenize

    rendered = [
        render(
            conversation,
            format=options.format,
            thinking=options.thinking,
            keep_cots=options.keep_cots,
            train_last_turn_only=options.train_last_turn_only,
        )
        for conversation in conversations
    ]
    return [(sample.input_ids, sample.loss_mask) for sample in tokenize(rendered, tokenizer)]


_worker_tokenizer = None


def _worker_init(tokenizer) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _worker_run(args: tuple[list[dict], TokenizeOptions]) -> list[tuple[list[int], list[int]]]:
    from hermes4.chat import Conversation

    records, options = args
    return _tokenize_chunk([Conversation.model_validate(r) for r in records], _worker_tokenizer, options)


def _tokenize_all(conversations: list[Conversation], tokenizer, options: TokenizeOptions, workers: int, chunk_size: int):
    if workers <= 1 or len(conversations) <= chunk_size:
        return _tokenize_chunk(conversations, tokenizer, options)
    # Rendering is Python, so it is spread over processes; "spawn" because a forked child of a process
    # whose Rust tokenizer already ran threads can deadlock. Conversations travel as plain dicts.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [
        ([c.model_dump(mode="json", by_alias=True) for c in conversations[i : i + chunk_size]], options)
        for i in range(0, len(conversations), chunk_size)
    ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init, initargs=(tokenizer,)) as pool:
        return [sample for part in pool.map(_worker_run, chunks) for sample in part]


def apply_length_policies(pairs, options: TokenizeOptions, report: TokenizeReport) -> TokenizedSamples:
    """The kept samples of `(ids, mask)` pairs under the over-length and untrained policies; counts go to
    `report` (kept, dropped, truncated, tokens)."""
    kept: list[tuple[list[int], list[int]]] = []
    for ids, mask in pairs:
        if options.max_length is not None and len(ids) > options.max_length:
            if options.overlong == "drop":
                report.dropped_overlong += 1
                continue
            ids, mask = ids[: options.max_length], mask[: options.max_length]
            report.truncated += 1
        # The first token is never a target (nothing predicts it), so it does not count as trained.
        if options.drop_untrained and not any(mask[1:]):
            report.dropped_untrained += 1
            continue
        kept.append((ids, mask))
    samples = TokenizedSamples.from_lists(kept)
    report.kept += len(samples)
    report.tokens += samples.num_tokens
    report.trained_tokens += samples.num_trained_tokens
    return samples


def tokenize_conversations(
    conversations: list[Conversation],
    tokenizer,
    options: TokenizeOptions | None = None,
    *,
    cache_dir: str | Path | None = None,
    workers: int = 1,
    chunk_size: int = 512,
    source: str = "",
) -> tuple[TokenizedSamples, TokenizeReport]:
    """Render and tokenize through the chat layer, apply the over-length policy, and cache the result.

    The cache entry is `cache_dir/<key>/`, key = hash(conversations, tokenizer, renderer source, options); it is
    written to a temporary folder and renamed into place, so a crash never leaves a half entry behind.
    """
    options = options or TokenizeOptions()
    started = time.perf_counter()
    key = cache_key(conversations, tokenizer, options) if cache_dir is not None else ""
    if cache_dir is not None:
        entry = Path(cache_dir) / key
        if (entry / "report.json").is_file():
            samples = TokenizedSamples.load(entry)
            report = TokenizeReport(**json.loads((entry / "report.json").read_text()))
            report.cache, report.seconds = "hit", time.perf_counter() - started
            if source:
                samples.sources = [source] * len(samples)
            return samples, report

    report = TokenizeReport(conversations=len(conversations), cache="miss" if cache_dir is not None else "off", cache_key=key)
    samples = apply_length_policies(_tokenize_all(conversations, tokenizer, options, workers, chunk_size), options, report)
    if cache_dir is not None:
        entry = Path(cache_dir) / key
        partial = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=_ensure_dir(Path(cache_dir))))
        samples.save(partial)
        (partial / "report.json").write_text(json.dumps({**report.to_json(), "cache": "miss", "seconds": 0.0}))
        try:
            os.replace(partial, entry)
        except OSError:  # another process wrote the same entry first: theirs is identical
            shutil.rmtree(partial, ignore_errors=True)
    if source:
        samples.sources = [source] * len(samples)
    report.seconds = time.perf_counter() - started
    return samples, report


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_conversations(path: str | Path) -> list[Conversation]:
    """Conversations from a JSONL file, a folder of JSONL shards or Parquet files, or a saved `datasets` folder.

    A bad record raises ConversationError naming the path, the record number and the field; so does a torn last
    line (training on the file minus a line nobody sees would also leave the tokenize cache key unchanged).
    """
    from hermes4.chat import Conversation, ConversationError
    from hermes4.store.readers import read_records

    def refuse_torn(file: Path, lineno: int, size: int) -> None:
        raise ConversationError(f"{file}:{lineno}: the last line is torn ({size} bytes, no newline, not valid JSON); "
                                "complete or remove it")

    out = []
    for number, record in enumerate(read_records(path, on_torn=refuse_torn), start=1):
        try:
            out.append(Conversation.parse(record))
        except ConversationError as exc:
            raise ConversationError(f"{path}: record {number}: {exc}") from None
    return out
