"""Passage embeddings for semantic dedup: a built-in hashed n-gram embedder, or a local sentence-transformers model."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm float32 rows, one per text."""
        ...


class HashedEmbedder:
    """Word unigrams and bigrams hashed (crc32, so stable across processes) into signed buckets.

    No model, no download: cosine between two passages approximates the overlap of their (log-weighted)
    word and bigram multisets, which is what near-duplicate detection needs. It is for tests and for
    machines without an embedding model; it does not capture paraphrase the way ModernBERT does.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashed-{dim}"

    def _features(self, text: str) -> list[int]:
        words = _WORD.findall(text.lower())
        feats = [zlib.crc32(w.encode()) for w in words]
        feats += [zlib.crc32(f"{a} {b}".encode()) for a, b in zip(words, words[1:])]
        return feats

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            feats = np.asarray(self._features(text), dtype=np.uint64)
            if feats.size == 0:
                continue
            buckets = (feats % self.dim).astype(np.intp)
            signs = np.where((feats >> np.uint64(31)) & np.uint64(1), -1.0, 1.0).astype(np.float32)
            np.add.at(out[row], buckets, signs)
        # log-scale term counts so one repeated word does not dominate, then unit-normalise
        out = np.sign(out) * np.log1p(np.abs(out))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder:
    """A local sentence-transformers model folder (e.g. a ModernBERT embedding model); never downloads."""

    def __init__(self, path: str, batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # an optional extra
            raise RuntimeError("embedder PATH needs sentence-transformers: pip install 'hermes4[dedup]'") from exc
        self.model = SentenceTransformer(path, local_files_only=True)
        self.batch_size = batch_size
        self.name = f"st:{path}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


def make_embedder(spec: str) -> Embedder:
    """`hashed` / `hashed:DIM` for the built-in embedder, anything else is a local model folder."""
    if spec == "hashed" or spec.startswith("hashed:"):
        dim = int(spec.split(":", 1)[1]) if ":" in spec else 256
        return HashedEmbedder(dim)
    return SentenceTransformerEmbedder(spec)
