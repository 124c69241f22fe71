"""Tokenized data as memory-mapped shards on disk, and lazy views over them, so memory is bounded by the number of
samples (their lengths), never by the number of tokens.

Writing: conversations stream from their source in chunks of `shard_size`; each chunk is rendered and tokenized
(in `workers` processes) and saved as one shard folder (`shard_000000/`: the `TokenizedSamples` arrays plus its
report), written under a temporary name and renamed, so a killed run resumes by skipping the shards that exist.
Several writers split the chunks (chunk k belongs to writer k mod n): `hermes4 tokenize` offline, or every rank
of a training run together, never one rank while the others wait. `index.json` marks a complete store.

Reading: `open_samples` maps every shard (ids and masks stay on disk, in the page cache shared by the ranks of a
node); `ConcatSamples` and `SampleView` concatenate and select without copying tokens. Packing reads `lengths`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from hermes4.train.data import TokenizedSamples, TokenizeOptions, TokenizeReport

STORE_VERSION = 1
INDEX = "index.json"
# Conversations per shard: what a tokenizing process holds at once (~160 bytes per token while it renders), so
# 256 reasoning samples of ~5k tokens are ~200 MB in flight per worker.
DEFAULT_SHARD_SIZE = 256


class ConcatSamples:
    """Several sample sets as one, in order; `sample(i)` finds its part by binary search (no token is copied)."""

    def __init__(self, parts: list[Any]):
        self.parts = list(parts)
        counts = np.array([len(p) for p in self.parts], dtype=np.int64)
        self.starts = np.zeros(len(self.parts) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])
        self.lengths = (np.concatenate([np.asarray(p.lengths, dtype=np.int64) for p in self.parts])
                        if self.parts else np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.starts[-1])

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        part = int(np.searchsorted(self.starts, index, side="right")) - 1
        return self.parts[part].sample(index - int(self.starts[part]))

    def digests(self) -> np.ndarray:
        return (np.concatenate([p.digests() for p in self.parts]) if self.parts else np.zeros(0, dtype=np.uint64))


class SampleView:
    """The samples `indices` of `base` (repeats allowed), in that order, without copying tokens."""

    def __init__(self, base: Any, indices: np.ndarray):
        self.base = base
        self.indices = np.asarray(indices, dtype=np.int64)
        self.lengths = np.asarray(base.lengths, dtype=np.int64)[self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.base.sample(int(self.indices[index]))

    def digests(self) -> np.ndarray:
        return self.base.digests()[self.indices]


def digest_order(samples: Any) -> np.ndarray:
    """Indices that put `samples` in the order of their content digests (ids and loss mask): the same records give
    the same order whatever order their files hold them in. Equal samples tie, and either order of them is the same."""
    return np.argsort(samples.digests(), kind="stable")


def is_store(directory: str | Path) -> bool:
    return (Path(directory) / INDEX).is_file()


def shard_dir(store: Path, number: int) -> Path:
    return store / f"shard_{number:06d}"


def open_samples(directory: str | Path) -> Any:
    """A complete shard store (every shard memory-mapped), or a single saved `TokenizedSamples` folder."""
    directory = Path(directory)
    if not is_store(directory):
        return TokenizedSamples.load(directory)
    index = json.loads((directory / INDEX).read_text())
    return ConcatSamples([TokenizedSamples.load(shard_dir(directory, k)) for k in range(index["shards"])])


def store_report(directory: str | Path) -> TokenizeReport:
    return TokenizeReport(**json.loads((Path(directory) / INDEX).read_text())["report"])


def source_key(paths: list[Path], rules: Any, tokenizer: Any, options: TokenizeOptions) -> str:
    """What decides a source's ids: its files (path, size, modification time), the source's rules, the tokenizer,
    the renderer's source and the options. File stats, not contents: hashing 80 GB of text on every start is the
    cost this avoids; rewrite a file and its mtime changes."""
    from hermes4.train.data import _renderer_fingerprint, tokenizer_fingerprint

    digest = hashlib.sha256(f"hermes4-shards-v{STORE_VERSION}".encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest.update((rules.model_dump_json() if rules is not None else "").encode())
    digest.update(tokenizer_fingerprint(tokenizer).encode())
    digest.update(_renderer_fingerprint().encode())
    digest.update(json.dumps(asdict(options), sort_keys=True).encode())
    return digest.hexdigest()[:32]


def source_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def _chunks(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_worker_tokenizer = None


def _init_worker(tokenizer: Any) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _write_shard(job: tuple[Path, int, int, list[dict], Any, TokenizeOptions, str]) -> None:
    """Tokenize one chunk and save it as shard `number` of `store` (atomically: temporary folder, then rename)."""
    from hermes4.chat import Conversation, ConversationError
    from hermes4.train.data import _tokenize_chunk, apply_length_policies
    from hermes4.train.mix import apply_source_rules

    store, number, first_record, records, rules, options, where = job
    conversations = []
    for offset, record in enumerate(records):
        try:
            conversation = Conversation.parse(record)
        except ConversationError as exc:
            raise ConversationError(f"{where}: record {first_record + offset + 1}: {exc}") from None
        conversations.append(apply_source_rules(conversation, rules) if rules is not None else conversation)
    report = TokenizeReport(conversations=len(conversations))
    samples = apply_length_policies(_tokenize_chunk(conversations, _worker_tokenizer, options), options, report)
    partial = Path(tempfile.mkdtemp(prefix=f".shard_{number:06d}.", dir=store))
    samples.save(partial)
    (partial / "report.json").write_text(json.dumps(report.to_json()))
    try:
        os.replace(partial, shard_dir(store, number))
    except OSError:  # written meanwhile by another writer of the same chunk: identical
        shutil.rmtree(partial, ignore_errors=True)


def write_shards(records: Iterable[dict], store: str | Path, tokenizer: Any, options: TokenizeOptions, *,
                 rules: Any = None, where: str = "data", shard_size: int = DEFAULT_SHARD_SIZE, workers: int = 1,
                 writer: int = 0, writers: int = 1) -> int:
    """Write this writer's missing shards of `records` into `store`; returns the total number of shards.

    Memory: the chunks in flight (about `2 * workers` of `shard_size` conversations), whatever the data's size."""
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    _init_worker(tokenizer)
    jobs = (
        (store, number, number * shard_size, chunk, rules, options, where)
        for number, chunk in enumerate(_chunks(records, shard_size))
    )
    total = 0

    def mine() -> Iterator[tuple]:
        nonlocal total
        for job in jobs:
            total = job[1] + 1
            if job[1] % writers == writer and not (shard_dir(store, job[1]) / "report.json").is_file():
                yield job

    if workers <= 1:
        for job in mine():
            _write_shard(job)
        return total
    # Rendering is Python: spread it over processes ("spawn": a forked child of a process whose Rust tokenizer
    # ran threads can deadlock); at most 2 chunks per worker in flight bound the memory.
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(tokenizer,)) as pool:
        running: set = set()
        for job in mine():
            running.add(pool.submit(_write_shard, job))
            if len(running) >= 2 * workers:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
        for future in running:
            future.result()
    return total


def finish_store(store: str | Path, shards: int, key: str) -> TokenizeReport:
    """Sum the shards' reports into `index.json` (after every writer finished): the store is then complete."""
    store = Path(store)
    report = TokenizeReport(cache="miss", cache_key=key)
    for number in range(shards):
        part = shard_dir(store, number) / "report.json"
        if not part.is_file():
            raise RuntimeError(f"{store}: shard {number} of {shards} is missing; run the tokenization again")
        done = TokenizeReport(**json.loads(part.read_text()))
        for name in ("conversations", "kept", "dropped_overlong", "truncated", "dropped_untrained", "tokens",
                     "trained_tokens"):
            setattr(report, name, getattr(report, name) + getattr(done, name))
    index = {"version": STORE_VERSION, "key": key, "shards": shards, "report": report.to_json()}
    partial = store / f".{INDEX}.tmp"
    partial.write_text(json.dumps(index, indent=2))
    os.replace(partial, store / INDEX)
    return report


def build_store(records: Callable[[], Iterable[dict]], store: Path, tokenizer: Any, options: TokenizeOptions, *,
                key: str, rules: Any = None, where: str = "data", shard_size: int = DEFAULT_SHARD_SIZE,
                workers: int = 1, writer: int = 0, writers: int = 1,
                barrier: Callable[[], None] = lambda: None) -> tuple[Any, TokenizeReport]:
    """The complete store at `store` (written if missing, by every writer together), mapped; with its report.

    Every writer calls this (collective: two barriers when several write), and each writer is expected to see the
    same file system."""
    complete = is_store(store)
    shards = 0
    if not complete:
        shards = write_shards(records(), store, tokenizer, options, rules=rules, where=where, shard_size=shard_size,
                              workers=workers, writer=writer, writers=writers)
    barrier()
    if not complete and writer == 0:
        finish_store(store, shards, key)
    barrier()
    report = store_report(store)
    report.cache = "miss" if not complete else "hit"
    return open_samples(store), report


def hold_out(samples: Any, fraction: float, max_samples: int | None, seed: int) -> tuple[Any, Any]:
    """(train, held out): a seeded `fraction` of the samples (at most `max_samples`, at least one when there are
    two or more) as views; the same samples and seed give the same split on every rank."""
    count = min(int(round(len(samples) * fraction)), max_samples or len(samples), len(samples) - 1)
    count = max(count, 1 if len(samples) > 1 else 0)
    held = np.sort(np.random.default_rng([seed, 7]).permutation(len(samples))[:count])
    keep = np.ones(len(samples), dtype=bool)
    keep[held] = False
    return SampleView(samples, np.flatnonzero(keep)), SampleView(samples, held)
