"""Global bin packing of sample lengths into fixed-capacity rows: best-fit decreasing and order-preserving first-fit.

Both algorithms see every sample at once (never chunks of 1,000), place each sample whole in exactly one
bin, and return a `Packing`: bins as a CSR pair (`bin_offsets`, `items`) of sample indices.

Best-fit decreasing is grouped by length: all samples of one length are placed together, and bins that
share the same free space are moved as a block, so the Python-level work is proportional to the number of
distinct (length, free space) events rather than to the number of samples, and the smallest free space
that fits is found in a segment tree over free-space values (O(log capacity)). The result is exactly
what the one-sample-at-a-time algorithm produces (same bin loads), up to the order of tied bins.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

ALGORITHMS = ("bfd", "first-fit")


class PackingError(ValueError):
    """Lengths that cannot be packed; the message names the sample index and the value."""


@dataclass(frozen=True)
class Packing:
    """Bins of sample indices. Bin `b` holds `items[bin_offsets[b]:bin_offsets[b + 1]]`."""

    capacity: int
    lengths: np.ndarray  # int64 [n]: the length of every sample, indexed by sample
    bin_offsets: np.ndarray  # int64 [bins + 1]
    items: np.ndarray  # int64 [n]: sample indices, grouped by bin

    @property
    def num_bins(self) -> int:
        return len(self.bin_offsets) - 1

    @property
    def num_samples(self) -> int:
        return len(self.items)

    @property
    def total_tokens(self) -> int:
        return int(self.lengths.sum())

    @property
    def lower_bound(self) -> int:
        """The fewest bins any packing could use: ceil(total tokens / capacity)."""
        return -(-self.total_tokens // self.capacity)

    @property
    def efficiency(self) -> float:
        """Total tokens / (bins × capacity); 1.0 for an empty packing."""
        return self.total_tokens / (self.num_bins * self.capacity) if self.num_bins else 1.0

    def bin(self, index: int) -> np.ndarray:
        return self.items[self.bin_offsets[index] : self.bin_offsets[index + 1]]

    def bin_loads(self) -> np.ndarray:
        """Tokens in each bin."""
        sums = np.concatenate(([0], np.cumsum(self.lengths[self.items])))
        return sums[self.bin_offsets[1:]] - sums[self.bin_offsets[:-1]]

    def summary(self, seconds: float | None = None) -> dict:
        out = {
            "samples": self.num_samples,
            "bins": self.num_bins,
            "lower_bound": self.lower_bound,
            "efficiency": self.efficiency,
        }
        if seconds is not None:
            out["seconds"] = seconds
        return out


def pack(lengths, capacity: int, *, algo: str = "bfd", seed: int | None = 0) -> Packing:
    """Pack samples of the given token lengths into bins of `capacity` tokens.

    `algo="bfd"`: global best-fit decreasing; its bins come out sorted by their largest sample, so they are
    shuffled with `seed` afterwards (long and short rows mixed through training; `seed=None` keeps them).
    `algo="first-fit"`: samples in their given order, each into the lowest-numbered bin with room; bins stay
    in opening order (that is the point of it: reading bins in order reads the data nearly in order), so
    `seed` is not used.
    """
    lengths = _validated(lengths, capacity)
    if algo == "bfd":
        item_bin, num_bins = _best_fit_decreasing(lengths, capacity)
    elif algo == "first-fit":
        item_bin, num_bins = _first_fit(lengths, capacity)
    else:
        raise PackingError(f"algo: unknown packing algorithm {algo!r}; allowed: {', '.join(ALGORITHMS)}")
    if algo == "bfd" and seed is not None and num_bins > 1:
        new_index = np.empty(num_bins, dtype=np.int64)
        new_index[np.random.default_rng(seed).permutation(num_bins)] = np.arange(num_bins)
        item_bin = new_index[item_bin]
    # A stable sort keeps samples inside a bin in index order.
    items = np.argsort(item_bin, kind="stable").astype(np.int64)
    bin_offsets = np.zeros(num_bins + 1, dtype=np.int64)
    np.cumsum(np.bincount(item_bin, minlength=num_bins), out=bin_offsets[1:])
    return Packing(capacity=capacity, lengths=lengths, bin_offsets=bin_offsets, items=items)


def _validated(lengths, capacity: int) -> np.ndarray:
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
        raise PackingError(f"capacity: must be a positive integer, got {capacity!r}")
    array = np.asarray(lengths)
    if array.ndim != 1:
        raise PackingError(f"lengths: expected a flat sequence of integers, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise PackingError(f"lengths: expected integers, got {array.dtype}")
    array = array.astype(np.int64, copy=False)
    bad = np.flatnonzero((array < 1) | (array > capacity))
    if bad.size:
        i = int(bad[0])
        why = "is empty (length < 1)" if array[i] < 1 else f"is longer than the capacity {capacity}"
        raise PackingError(f"lengths[{i}]: {int(array[i])} {why} ({bad.size} such sample(s))")
    return array


class _MaxTree:
    """Max segment tree over the integers 1..size; finds the smallest present value >= x in O(log size)."""

    def __init__(self, size: int):
        self.leaves = 1 << max(size - 1, 0).bit_length()
        self.tree = [0] * (2 * self.leaves)

    def _set(self, value: int, present: int) -> None:
        tree = self.tree
        i = self.leaves + value - 1
        tree[i] = present
        i >>= 1
        while i:
            left, right = tree[2 * i], tree[2 * i + 1]
            best = left if left >= right else right
            if tree[i] == best:
                break  # ancestors are unchanged
            tree[i] = best
            i >>= 1

    def add(self, value: int) -> None:
        self._set(value, value)

    def remove(self, value: int) -> None:
        self._set(value, 0)

    def smallest_at_least(self, x: int) -> int:
        """The smallest present value >= x, or 0 when none is."""
        tree = self.tree
        if tree[1] < x:
            return 0
        i = 1
        while i < self.leaves:
            i = 2 * i if tree[2 * i] >= x else 2 * i + 1
        return tree[i]


class _BinGroups:
    """Bins grouped by free space; each group is a FIFO of numpy arrays of bin ids."""

    def __init__(self, capacity: int):
        self.groups: dict[int, deque[np.ndarray]] = {}
        self.sizes: dict[int, int] = {}
        self.tree = _MaxTree(capacity)

    def put(self, space: int, bins: np.ndarray) -> None:
        if space <= 0 or len(bins) == 0:
            return  # full bins take nothing more
        group = self.groups.get(space)
        if group is None:
            self.groups[space] = deque([bins])
            self.sizes[space] = len(bins)
            self.tree.add(space)
        else:
            group.append(bins)
            self.sizes[space] += len(bins)

    def take(self, space: int, count: int) -> np.ndarray:
        """Remove and return the first `count` bins with this free space (count <= size of the group)."""
        group = self.groups[space]
        parts = []
        needed = count
        while needed:
            head = group[0]
            if len(head) <= needed:
                parts.append(group.popleft())
                needed -= len(head)
            else:
                parts.append(head[:needed])
                group[0] = head[needed:]
                needed = 0
        self.sizes[space] -= count
        if not self.sizes[space]:
            del self.groups[space], self.sizes[space]
            self.tree.remove(space)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _best_fit_decreasing(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, int]:
    """Bin of every sample under best-fit decreasing, and the number of bins (in opening order)."""
    n = len(lengths)
    item_bin = np.empty(n, dtype=np.int64)
    if n == 0:
        return item_bin, 0
    order = np.argsort(-lengths, kind="stable")
    sizes, starts, counts = np.unique(lengths[order], return_index=True, return_counts=True)
    # np.unique sorts ascending while `order` is descending: map each size to its run in `order`.
    groups = _BinGroups(capacity)
    num_bins = 0
    for size, start, count in zip(sizes[::-1].tolist(), starts[::-1].tolist(), counts[::-1].tolist()):
        run = order[start : start + count]
        placed = 0
        while placed < count:
            remaining = count - placed
            space = groups.tree.smallest_at_least(size)
            if space:
                # Best fit: the bins with the least room that still fits. Sequentially, one such bin takes
                # samples of this size until its room drops below `size`, then the next bin of that group does.
                per_bin = space // size
                wanted = -(-remaining // per_bin)
                available = groups.sizes[space]
                bins = groups.take(space, min(wanted, available))
            else:
                # Nothing fits: open new bins, each filled with as many samples of this size as fit.
                per_bin = capacity // size
                wanted = -(-remaining // per_bin)
                bins = np.arange(num_bins, num_bins + wanted, dtype=np.int64)
                num_bins += wanted
                space = capacity
            used = min(remaining, len(bins) * per_bin)
            item_bin[run[placed : placed + used]] = np.repeat(bins, per_bin)[:used]
            placed += used
            last_count = used - (len(bins) - 1) * per_bin
            if last_count == per_bin:
                groups.put(space - per_bin * size, bins)
            else:  # the last bin took fewer samples, keeping room for shorter ones
                groups.put(space - per_bin * size, bins[:-1])
                groups.put(space - last_count * size, bins[-1:])
    return item_bin, num_bins


def _first_fit(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, int]:
    """Bin of every sample under first-fit in the given order, and the number of bins."""
    n = len(lengths)
    item_bin = np.empty(n, dtype=np.int64)
    if n == 0:
        return item_bin, 0
    # A max tree over bins (free space per bin) finds the lowest-numbered bin with room in O(log bins).
    # The bins are at most n; the tree grows by doubling so small inputs stay cheap.
    leaves = 1 << max(math.ceil(math.log2(max(2, int(lengths.sum()) // capacity + 2))), 1)
    tree = [0] * (2 * leaves)
    num_bins = 0
    out = [0] * n
    for index, length in enumerate(lengths.tolist()):
        if tree[1] >= length:
            i = 1
            while i < leaves:
                i = 2 * i if tree[2 * i] >= length else 2 * i + 1
            bin_id = i - leaves
        else:
            bin_id = num_bins
            num_bins += 1
            if bin_id >= leaves:  # grow: copy the leaves into a tree twice as wide, then rebuild
                old = tree[leaves:]
                leaves *= 2
                tree = [0] * (2 * leaves)
                tree[leaves : leaves + len(old)] = old
                for j in range(leaves - 1, 0, -1):
                    a, b = tree[2 * j], tree[2 * j + 1]
                    tree[j] = a if a >= b else b
            i = leaves + bin_id
            tree[i] = capacity
        out[index] = bin_id
        i = leaves + bin_id
        tree[i] -= length
        i >>= 1
        while i:
            a, b = tree[2 * i], tree[2 * i + 1]
            best = a if a >= b else b
            if tree[i] == best:
                break  # ancestors are unchanged
            tree[i] = best
            i >>= 1
    item_bin[:] = out
    return item_bin, num_bins
