"""Semantic dedup: keep a passage unless it is within a cosine threshold of a passage already kept.

Greedy in preference order (newest first when dates are known), so of a near-duplicate pair the
preferred one survives. Two ways to find neighbours:

- `exact`: every passage is compared with every kept passage, a block at a time (a matrix product per
  block; faiss' flat inner-product index when faiss is installed). Exact, O(N x kept).
- `ivf`: passages are assigned to their `nprobe` nearest of ~sqrt(N) k-means cells and compared only
  with kept passages in those cells; the similarity itself is still exact. Much faster on millions of
  passages; near-duplicates share cells, so recall is high (measured against `exact` in benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass
class DedupResult:
    keep: np.ndarray  # bool per passage
    duplicate_of: np.ndarray  # index of the kept passage it duplicates, -1 when kept
    similarity: np.ndarray  # removed: cosine to that passage; kept: best cosine to an earlier kept one

    @property
    def removed(self) -> int:
        return int((~self.keep).sum())


def semantic_dedup(
    embeddings: np.ndarray,
    threshold: float = 0.7,
    *,
    order: np.ndarray | None = None,
    index: Literal["exact", "ivf"] = "exact",
    block: int = 2048,
    nprobe: int = 3,
    seed: int = 0,
) -> DedupResult:
    """Greedy dedup of unit-norm rows; `order` lists row indices from most to least preferred."""
    n = len(embeddings)
    emb = np.ascontiguousarray(embeddings, dtype=np.float32)
    order = np.arange(n) if order is None else np.asarray(order)
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError("order must be a permutation of the passage indices")
    keep = np.zeros(n, dtype=bool)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    similarity = np.zeros(n, dtype=np.float32)
    if n == 0:
        return DedupResult(keep, duplicate_of, similarity)
    if index == "exact":
        _exact(emb, threshold, order, block, keep, duplicate_of, similarity)
    elif index == "ivf":
        _ivf(emb, threshold, order, nprobe, seed, keep, duplicate_of, similarity)
    else:
        raise ValueError(f"index {index!r}: expected 'exact' or 'ivf'")
    return DedupResult(keep, duplicate_of, similarity)


def _exact(emb, threshold, order, block, keep, duplicate_of, similarity) -> None:
    kept_rows = np.empty_like(emb)  # kept vectors in the order they were kept
    kept_ids = np.empty(len(emb), dtype=np.int64)
    count = 0
    for start in range(0, len(order), block):
        ids = order[start : start + block]
        vecs = emb[ids]
        best = np.full(len(ids), -1.0, dtype=np.float32)
        best_id = np.full(len(ids), -1, dtype=np.int64)
        if count:
            sims = vecs @ kept_rows[:count].T
            arg = sims.argmax(axis=1)
            best = sims[np.arange(len(ids)), arg]
            best_id = kept_ids[arg]
        inner = vecs @ vecs.T
        accepted: list[int] = []  # positions within the block kept so far
        for pos in range(len(ids)):
            if accepted:
                row = inner[pos, accepted]
                j = int(row.argmax())
                if row[j] > best[pos]:
                    best[pos], best_id[pos] = row[j], ids[accepted[j]]
            gid = ids[pos]
            similarity[gid] = max(best[pos], 0.0)
            if best[pos] >= threshold:
                duplicate_of[gid] = best_id[pos]
            else:
                keep[gid] = True
                accepted.append(pos)
        kept_rows[count : count + len(accepted)] = vecs[accepted]
        kept_ids[count : count + len(accepted)] = ids[accepted]
        count += len(accepted)


def _kmeans(emb: np.ndarray, k: int, seed: int, iterations: int = 8, sample: int = 65536) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pool = emb[rng.choice(len(emb), size=min(sample, len(emb)), replace=False)]
    centroids = pool[rng.choice(len(pool), size=k, replace=False)].copy()
    for _ in range(iterations):
        assign = (pool @ centroids.T).argmax(axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, pool)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        centroids = np.where(empty[:, None], centroids, sums / np.maximum(norms, 1e-12))
    return centroids


def _ivf(emb, threshold, order, nprobe, seed, keep, duplicate_of, similarity, block: int = 2048) -> None:
    n = len(emb)
    k = max(1, min(n, int(np.sqrt(n))))
    centroids = _kmeans(emb, k, seed)
    nprobe = min(nprobe, k)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    cells = np.empty((n, nprobe), dtype=np.int64)
    for start in range(0, n, 8192):
        scores = emb[start : start + 8192] @ centroids.T
        cells[start : start + 8192] = np.argpartition(-scores, nprobe - 1, axis=1)[:, :nprobe]

    # 1. Every pair at or above the threshold that shares a cell, as (later, earlier) in preference order,
    #    found with one matrix product per block of a cell; the best similarity below it, for the report.
    flat_cells = cells.ravel()
    flat_items = np.repeat(np.arange(n), nprobe)
    by_cell = np.lexsort((rank[flat_items], flat_cells))  # cell, then preference rank within the cell
    flat_cells, flat_items = flat_cells[by_cell], flat_items[by_cell]
    bounds = np.flatnonzero(np.diff(flat_cells)) + 1
    pairs: dict[int, dict[int, float]] = {}
    below = np.zeros(n, dtype=np.float32)
    for members in np.split(flat_items, bounds):
        for lo in range(0, len(members), block):
            rows = members[lo : lo + block]
            cols = members[: lo + len(rows)]
            sims = emb[rows] @ emb[cols].T
            earlier = np.arange(len(cols))[None, :] < (lo + np.arange(len(rows)))[:, None]
            close = earlier & (sims >= threshold)
            under = np.where(earlier & ~close, sims, 0.0).max(axis=1, initial=0.0)
            np.maximum.at(below, rows, under.astype(np.float32))
            for r, c in zip(*np.nonzero(close)):
                pairs.setdefault(int(rows[r]), {})[int(cols[c])] = float(sims[r, c])

    # 2. The greedy pass: a passage goes when an earlier passage that was kept is that close to it.
    for gid in order.tolist():
        partners = pairs.get(gid)
        if partners:
            kept = [(sim, other) for other, sim in partners.items() if keep[other]]
            if kept:
                sim, other = max(kept)
                duplicate_of[gid], similarity[gid] = other, sim
                continue
        keep[gid] = True
        similarity[gid] = below[gid]
