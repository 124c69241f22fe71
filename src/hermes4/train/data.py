"""Conversations to training ids and loss masks, through the chat layer: parallel, cached on disk, over-length policy.

`TokenizedSamples` is the compact result (one flat id array, one flat mask array, offsets), what packing
and `hermes4.train.batches.PackedLoader` consume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class TokenizedSamples:
    """Samples as CSR arrays: sample `i` is `input_ids[offsets[i]:offsets[i+1]]` with its `loss_mask` (1 = trained)."""

    input_ids: np.ndarray  # int32 [total tokens]
    loss_mask: np.ndarray  # uint8 [total tokens]
    offsets: np.ndarray  # int64 [n + 1]
    sources: list[str] = field(default_factory=list)  # per sample: the name of the source it came from ("" if none)

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

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "input_ids.npy", self.input_ids)
        np.save(directory / "loss_mask.npy", self.loss_mask)
        np.save(directory / "offsets.npy", self.offsets)
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
        )
