"""Semantic dedup: keep a passage unless it is within a cosine threshold of a passage already kept.

Greedy in preference order (newest first when dates are known), so of a near-duplicate pair the
preferred one survives. Two ways to find neighbours:

- `exact`: every passage is compared with every kept passage, a block at a time (a matrix product per
  block; faiss' flat inner-product index when faiss is installed). Exact, O(N x kept).
- `ivf`: passages are assigned to their `nprobe` nearest of ~sqrt(N) k-means cells and compared only
  with kept passages in those cells; the similarity itself is still exact. Much faster on millions of
  passages; near-duplicates share cells, so recall is high (measured against `exact` in benchmarks).
  Memory is linear in the passages: each cell stores only its kept vectors, so a cluster of near-duplicates
  (web boilerplate) costs one kept row, not the square of its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from threadpoolctl import threadpool_limits


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
        accepted = _greedy_block(ids, vecs @ vecs.T, best, best_id, threshold, keep, duplicate_of, similarity)
        kept_rows[count : count + len(accepted)] = vecs[accepted]
        kept_ids[count : count + len(accepted)] = ids[accepted]
        count += len(accepted)


def _greedy_block(ids, inner, best, best_id, threshold, keep, duplicate_of, similarity) -> list[int]:
    """Decide one block in preference order: `best`/`best_id` hold each row's closest earlier kept passage outside
    the block, `inner` the similarities within it (-1 where not compared). Returns the positions kept."""
    accepted: list[int] = []
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
    return accepted


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


class _CellRows:
    """The kept vectors of one IVF cell, contiguous and growing by doubling (only kept passages are stored)."""

    __slots__ = ("ids", "rows", "count")

    def __init__(self, dim: int) -> None:
        self.rows = np.empty((4, dim), dtype=np.float32)
        self.ids = np.empty(4, dtype=np.int64)
        self.count = 0

    def add(self, gid: int, vec: np.ndarray) -> None:
        if self.count == len(self.ids):
            self.rows = np.concatenate([self.rows, np.empty_like(self.rows)])
            self.ids = np.concatenate([self.ids, np.empty_like(self.ids)])
        self.rows[self.count] = vec
        self.ids[self.count] = gid
        self.count += 1


def _ivf(emb, threshold, order, nprobe, seed, keep, duplicate_of, similarity, block: int = 2048) -> None:
    """The greedy pass of `_exact`, with neighbours looked up only among kept passages sharing a cell.

    Memory is linear in the passages: each cell holds its kept vectors (a near-duplicate cluster keeps one), and
    a block's own pairs are one block x block matrix; no pair list grows with the square of a cluster.
    """
    n, dim = emb.shape
    k = max(1, min(n, int(np.sqrt(n))))
    centroids = _kmeans(emb, k, seed)
    nprobe = min(nprobe, k)
    cells = np.empty((n, nprobe), dtype=np.int64)
    for start in range(0, n, 8192):
        scores = emb[start : start + 8192] @ centroids.T
        cells[start : start + 8192] = np.argpartition(-scores, nprobe - 1, axis=1)[:, :nprobe]
    kept_in: dict[int, _CellRows] = {}

    for start in range(0, n, block):
        ids = order[start : start + block]
        vecs = emb[ids]
        block_cells = cells[ids]
        best = np.full(len(ids), -1.0, dtype=np.float32)
        best_id = np.full(len(ids), -1, dtype=np.int64)
        # 1. Against passages kept by earlier blocks: one matrix product per cell this block touches.
        flat_cells = block_cells.ravel()
        flat_pos = np.repeat(np.arange(len(ids)), nprobe)
        by_cell = np.argsort(flat_cells, kind="stable")
        flat_cells, flat_pos = flat_cells[by_cell], flat_pos[by_cell]
        bounds = np.flatnonzero(np.diff(flat_cells)) + 1
        # Many small products: one BLAS thread each (a thread pool's start-up costs more than such a product).
        with threadpool_limits(1, user_api="blas"):
            for cell, positions in zip(flat_cells[np.r_[0, bounds]].tolist(), np.split(flat_pos, bounds)):
                rows = kept_in.get(cell)
                if rows is None or rows.count == 0:
                    continue
                sims = vecs[positions] @ rows.rows[: rows.count].T
                arg = sims.argmax(axis=1)
                top = sims[np.arange(len(positions)), arg]
                better = top > best[positions]
                best[positions[better]] = top[better]
                best_id[positions[better]] = rows.ids[arg[better]]
        # 2. Within the block, in preference order, against the block's kept passages that share a cell.
        inner = np.where(_share_a_cell(block_cells), vecs @ vecs.T, -1.0)
        for pos in _greedy_block(ids, inner, best, best_id, threshold, keep, duplicate_of, similarity):
            for cell in block_cells[pos].tolist():
                rows = kept_in.get(cell)
                if rows is None:
                    rows = kept_in[cell] = _CellRows(dim)
                rows.add(int(ids[pos]), vecs[pos])


def _share_a_cell(block_cells: np.ndarray) -> np.ndarray:
    """[i, j]: do passages i and j of a block have a cell in common (one comparison per pair of probes)."""
    cells = block_cells.astype(np.int32)
    shares = np.zeros((len(cells), len(cells)), dtype=bool)
    for a in range(cells.shape[1]):
        column = cells[:, a, None]
        for b in range(cells.shape[1]):
            shares |= column == cells[None, :, b]
    return shares
