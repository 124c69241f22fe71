"""Data mixes: several conversation sources, each with a weight or a fixed count and its own system-prompt rules.

A mix is deterministic for its seed. Each source is loaded, its rules applied (e.g. `thinking: true` for
reasoning data, so the renderer puts the deep-thinking prompt first), tokenized and cached as a whole
(`hermes4.train.data`), then samples are drawn from what survived the over-length policy:

- `count: N`: exactly N samples; N above the source's size repeats the source (every sample
  `N // size` times, plus a seeded subset for the rest), N below draws a seeded subset.
- `weight: w`: the sources with weights share the mix's `total` in proportion to their weights
  (largest-remainder rounding, so the counts add up to `total` exactly).
- neither: every sample once.

Because the draw happens after tokenizing, changing counts, weights or the seed never re-tokenizes.

With `shared` (what the trainer and `hermes4 tokenize` use) each source streams into a memory-mapped shard store
(`hermes4.train.shards`) written by every writer together, and the draw is a view: no process holds the tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hermes4.train.data import (
    TokenizedSamples,
    TokenizeOptions,
    TokenizeReport,
    load_conversations,
    tokenize_conversations,
)
from hermes4.train.shards import ConcatSamples, SampleView, digest_order

if TYPE_CHECKING:
    from hermes4.chat import Conversation


class MixError(ValueError):
    """A mix that cannot be built; the message names the source and field."""


class SourceSpec(BaseModel):
    """One conversation source of a mix."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="JSONL file, folder of JSONL shards / Parquet, or a saved `datasets` folder")
    name: str | None = Field(default=None, description="defaults to the file or folder name")
    weight: float | None = Field(default=None, gt=0, description="share of the mix's `total`")
    count: int | None = Field(default=None, ge=0, description="exactly this many samples (repeats if needed)")
    thinking: bool | None = Field(default=None, description="set `thinking` on every conversation (None: keep)")
    keep_cots: bool | None = Field(default=None, description="set `keep_cots` on every conversation (None: keep)")
    system_prompt: str | None = Field(default=None, description="text for the system message")
    system_prompt_mode: Literal["if_missing", "replace", "remove"] = Field(
        default="if_missing",
        description="if_missing: add `system_prompt` where there is no system message; replace: always use it; "
        "remove: drop the conversation's system message",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SourceSpec:
        if self.weight is not None and self.count is not None:
            raise ValueError("give either weight or count, not both")
        if self.system_prompt_mode == "remove" and self.system_prompt is not None:
            raise ValueError("system_prompt_mode 'remove' takes no system_prompt")
        if self.system_prompt_mode == "replace" and self.system_prompt is None:
            raise ValueError("system_prompt_mode 'replace' needs a system_prompt")
        return self

    @property
    def label(self) -> str:
        return self.name or Path(self.path).stem


class MixSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[SourceSpec] = Field(min_length=1)
    total: int | None = Field(default=None, ge=0, description="samples shared by the weighted sources")
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> MixSpec:
        if any(s.weight is not None for s in self.sources) and self.total is None:
            raise ValueError("total: required when a source has a weight")
        labels = [s.label for s in self.sources]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"sources: names must be unique, {duplicates[0]!r} is used twice (set `name`)")
        return self

    @classmethod
    def parse(cls, data: Any, where: str = "mix") -> MixSpec:
        """Validate, raising MixError that names the field, e.g. `mix.sources[1].weight: ...`."""
        if isinstance(data, list):
            data = {"sources": data}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
            raise MixError(f"{path}: {error['msg'].removeprefix('Value error, ')}") from None


def apply_source_rules(conversation: Conversation, source: SourceSpec) -> Conversation:
    """The conversation with the source's thinking / keep_cots / system-prompt rules applied (a copy)."""
    from hermes4.chat import Message

    updates: dict[str, Any] = {}
    if source.thinking is not None:
        updates["thinking"] = source.thinking
    if source.keep_cots is not None:
        updates["keep_cots"] = source.keep_cots
    messages = list(conversation.messages)
    has_system = bool(messages) and messages[0].role == "system"
    if source.system_prompt_mode == "remove" and has_system:
        messages = messages[1:]
    elif source.system_prompt is not None:
        if source.system_prompt_mode == "replace" and has_system:
            messages = messages[1:]
            has_system = False
        if not has_system:
            messages = [Message(role="system", content=source.system_prompt), *messages]
    if messages != conversation.messages:
        updates["messages"] = messages
    return conversation.model_copy(update=updates) if updates else conversation


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Integer shares of `total` proportional to `weights`, adding up to `total` exactly."""
    exact = np.asarray(weights, dtype=np.float64) / float(sum(weights)) * total
    shares = np.floor(exact).astype(np.int64)
    # Ties in the remainders go to the earlier source, so the result does not depend on float noise order.
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: total - int(shares.sum())]:
        shares[i] += 1
    return shares.tolist()


def draw(available: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` indices into `available` samples: whole repeats first, then a seeded subset without replacement."""
    if count and not available:
        raise MixError(f"count: {count} samples requested from a source with none left")
    repeats, rest = divmod(count, available) if available else (0, 0)
    parts = [np.tile(np.arange(available), repeats), np.sort(rng.permutation(available)[:rest])]
    return np.concatenate(parts).astype(np.int64)


@dataclass
class SourceReport:
    name: str
    tokenize: TokenizeReport
    requested: int | None  # None: every sample once
    drawn: int = 0
    tokens: int = 0


@dataclass
class MixReport:
    sources: list[SourceReport] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(s.drawn for s in self.sources)

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.sources)

    def to_json(self) -> dict:
        return {
            "samples": self.samples,
            "tokens": self.tokens,
            "sources": [
                {"name": s.name, "requested": s.requested, "drawn": s.drawn, "tokens": s.tokens, **s.tokenize.to_json()}
                for s in self.sources
            ],
        }


@dataclass(frozen=True)
class SharedTokenization:
    """Tokenize into shard stores under the cache folder, split over `writers` processes (the ranks of a run, each
    calling `build_mix` with its own `writer` and a `barrier` over all of them)."""

    writer: int = 0
    writers: int = 1
    barrier: Callable[[], None] = lambda: None
    shard_size: int | None = None


def _source_store(path: Path, source: SourceSpec, tokenizer, options: TokenizeOptions, cache_dir: str | Path,
                  workers: int, shared: SharedTokenization):
    from hermes4.store.readers import read_records
    from hermes4.train.shards import DEFAULT_SHARD_SIZE, build_store, source_files, source_key

    key = source_key(source_files(path), source, tokenizer, options)
    return build_store(lambda: read_records(path), Path(cache_dir) / f"shards-{key}", tokenizer, options, key=key,
                       rules=source, where=str(path), shard_size=shared.shard_size or DEFAULT_SHARD_SIZE,
                       workers=workers, writer=shared.writer, writers=shared.writers, barrier=shared.barrier)


def build_mix(
    mix: MixSpec | dict | list,
    tokenizer,
    options: TokenizeOptions | None = None,
    *,
    cache_dir: str | Path | None = None,
    workers: int = 1,
    base_dir: str | Path | None = None,
    shared: SharedTokenization | None = None,
    content_order: bool = False,
) -> tuple[Any, MixReport]:
    """Tokenize every source (cached), draw each source's samples, and return them concatenated in source order.

    `content_order`: each source's samples are first sorted by their content digest, so the draw and the result
    depend on the records and not on their order in the files (the sampler writes answers in the order they
    complete). Best-fit packing needs it: which of several equal-length samples shares a bin with which follows
    their order, and so does everything the model sees. Without it, a source keeps its file order (what
    order-preserving first-fit packing is for).
    `base_dir`: relative source paths are resolved against it (e.g. the recipe file's folder).
    `shared`: memory-mapped shard stores in `cache_dir` instead of in-memory samples (see `SharedTokenization`).
    """
    if shared is not None and cache_dir is None:
        raise MixError("cache_dir: required to tokenize into shard stores")
    spec = mix if isinstance(mix, MixSpec) else MixSpec.parse(mix)
    options = options or TokenizeOptions()
    weighted = [i for i, s in enumerate(spec.sources) if s.weight is not None]
    shares = dict(zip(weighted, largest_remainder(spec.total or 0, [spec.sources[i].weight for i in weighted])))
    parts: list[TokenizedSamples] = []
    report = MixReport()
    for index, source in enumerate(spec.sources):
        path = Path(source.path)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        if not path.exists():
            raise MixError(f"mix.sources[{index}].path: {path}: no such file or folder")
        if shared is None:
            conversations = [apply_source_rules(c, source) for c in load_conversations(path)]
            samples, tokenized = tokenize_conversations(
                conversations, tokenizer, options, cache_dir=cache_dir, workers=workers, source=source.label
            )
        else:
            samples, tokenized = _source_store(path, source, tokenizer, options, cache_dir, workers, shared)
        order = digest_order(samples) if content_order else None
        requested = source.count if source.count is not None else shares.get(index)
        indices = order
        if requested is not None:
            rng = np.random.default_rng([spec.seed, index])
            try:
                drawn = draw(len(samples), requested, rng)
            except MixError as exc:
                raise MixError(f"mix.sources[{index}] ({source.label}): {exc}") from None
            indices = drawn if order is None else order[drawn]
        if indices is None:
            chosen = samples
        else:
            chosen = samples.select(indices) if shared is None else SampleView(samples, indices)
        parts.append(chosen)
        report.sources.append(
            SourceReport(name=source.label, tokenize=tokenized, requested=requested, drawn=len(chosen), tokens=chosen.num_tokens)
        )
    return (TokenizedSamples.concat(parts) if shared is None else ConcatSamples(parts)), report
