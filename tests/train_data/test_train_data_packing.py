"""Packing properties: every sample exactly once, no bin over capacity, loads equal to plain best-fit decreasing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes4.train.packing import PackingError, pack

capacities = st.integers(min_value=1, max_value=64)


@st.composite
def instances(draw):
    capacity = draw(capacities)
    lengths = draw(st.lists(st.integers(min_value=1, max_value=capacity), max_size=120))
    return capacity, lengths


def reference_bfd_loads(lengths: list[int], capacity: int) -> list[int]:
    """Textbook best-fit decreasing, one sample at a time."""
    loads: list[int] = []
    for length in sorted(lengths, reverse=True):
        fitting = [b for b, load in enumerate(loads) if load + length <= capacity]
        if fitting:
            best = max(fitting, key=lambda b: loads[b])
            loads[best] += length
        else:
            loads.append(length)
    return sorted(loads)


def reference_first_fit_bins(lengths: list[int], capacity: int) -> list[list[int]]:
    bins: list[list[int]] = []
    loads: list[int] = []
    for index, length in enumerate(lengths):
        for b, load in enumerate(loads):
            if load + length <= capacity:
                bins[b].append(index)
                loads[b] += length
                break
        else:
            bins.append([index])
            loads.append(length)
    return bins


def check_invariants(packing, lengths, capacity):
    n = len(lengths)
    assert sorted(packing.items.tolist()) == list(range(n))  # every sample once: none lost, none duplicated
    loads = packing.bin_loads()
    assert (loads <= capacity).all() and (loads > 0).all()  # nothing over capacity, no empty bin
    assert int(loads.sum()) == sum(lengths)  # no sample split or truncated
    for b in range(packing.num_bins):
        assert int(sum(lengths[i] for i in packing.bin(b))) == int(loads[b])
    total = sum(lengths)
    assert packing.lower_bound == -(-total // capacity)
    assert packing.num_bins >= packing.lower_bound
    if packing.num_bins:
        assert packing.efficiency == pytest.approx(total / (packing.num_bins * capacity))
        assert 0 < packing.efficiency <= 1
    # Any-fit: no two bins could have been merged (the later one's first item would have fit the earlier one).
    if packing.num_bins >= 2:
        smallest = np.sort(loads)[:2]
        assert int(smallest.sum()) > capacity


@settings(max_examples=300, deadline=None)
@given(instances(), st.sampled_from([None, 0, 5]))
def test_bfd_properties_and_equal_to_textbook_bfd(instance, seed):
    capacity, lengths = instance
    packing = pack(lengths, capacity, algo="bfd", seed=seed)
    check_invariants(packing, lengths, capacity)
    assert sorted(packing.bin_loads().tolist()) == reference_bfd_loads(lengths, capacity)


@settings(max_examples=300, deadline=None)
@given(instances())
def test_first_fit_properties_and_exact_bins(instance):
    capacity, lengths = instance
    packing = pack(lengths, capacity, algo="first-fit", seed=7)  # first-fit keeps its bin order whatever the seed
    check_invariants(packing, lengths, capacity)
    assert [packing.bin(b).tolist() for b in range(packing.num_bins)] == reference_first_fit_bins(lengths, capacity)


@settings(max_examples=100, deadline=None)
@given(instances(), st.integers(0, 2**32 - 1))
def test_shuffle_is_seeded_and_only_reorders_bins(instance, seed):
    capacity, lengths = instance
    plain = pack(lengths, capacity, seed=None)
    shuffled = pack(lengths, capacity, seed=seed)
    again = pack(lengths, capacity, seed=seed)
    assert np.array_equal(shuffled.items, again.items) and np.array_equal(shuffled.bin_offsets, again.bin_offsets)
    as_sets = lambda p: sorted(tuple(p.bin(b).tolist()) for b in range(p.num_bins))
    assert as_sets(plain) == as_sets(shuffled)


def hermes_like(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    reasoning = rng.lognormal(np.log(4300), 1.0, size=n * 7 // 10)
    plain = rng.lognormal(np.log(600), 1.0, size=n - len(reasoning))
    lengths = np.concatenate([reasoning, plain])
    rng.shuffle(lengths)
    return np.clip(np.rint(lengths), 1, 16384).astype(np.int64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bfd_beats_first_fit_on_hermes_like_lengths(seed):
    # BFD is not better than first-fit on every input (e.g. capacity 29, [18, 7, 8, 4, 17, 4]: first-fit
    # packs 2 bins, BFD 3), so this is checked on the length shape training sees, not as a universal law.
    lengths = hermes_like(20_000, seed)
    bfd = pack(lengths, 16384, algo="bfd")
    first_fit = pack(lengths, 16384, algo="first-fit")
    assert bfd.num_bins <= first_fit.num_bins
    assert bfd.num_bins - bfd.lower_bound <= 2
    assert bfd.efficiency >= 0.9995


def test_bfd_is_not_always_better_than_first_fit():
    assert pack([18, 7, 8, 4, 17, 4], 29, algo="first-fit").num_bins == 2
    assert pack([18, 7, 8, 4, 17, 4], 29, algo="bfd").num_bins == 3


def test_empty_input():
    packing = pack([], 8)
    assert packing.num_bins == 0 and packing.efficiency == 1.0 and packing.summary()["samples"] == 0


@pytest.mark.parametrize(
    "lengths, capacity, message",
    [
        ([3, 0, 2], 8, r"lengths\[1\]: 0 is empty"),
        ([3, 9, 2, 10], 8, r"lengths\[1\]: 9 is longer than the capacity 8 \(2 such sample"),
        ([1.5], 8, "expected integers"),
        ([[1, 2]], 8, "flat sequence"),
        ([1], 0, "capacity: must be a positive integer"),
    ],
)
def test_bad_input_is_named(lengths, capacity, message):
    with pytest.raises(PackingError, match=message):
        pack(lengths, capacity)


def test_unknown_algorithm_lists_the_allowed_ones():
    with pytest.raises(PackingError, match="allowed: bfd, first-fit"):
        pack([1], 4, algo="next-fit")
