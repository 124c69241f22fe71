"""Curation at scale (issue 16, item 10): IVF dedup memory linear in the passages, duplicate ids refused."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from hermes4.curate.dedup import semantic_dedup
from hermes4.curate.passages import load_passages


def _cluster(size: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    """`size` near-copies of one vector: every pair is above any usual threshold."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=dim)
    rows = base + 0.05 * rng.normal(size=(size, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_memory_does_not_grow_with_the_square_of_a_near_duplicate_cluster():
    # The finding: every above-threshold pair of a cell was stored in a dict, so a cluster of 3,000 held 4.5M pairs
    # (hundreds of MiB); now a cell stores only its kept vectors and a block its own block x block matrix.
    emb = _cluster(3000)
    tracemalloc.start()
    try:
        result = semantic_dedup(emb, 0.7, index="ivf")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.removed >= 2950 and result.keep[0]  # IVF may keep a few that share no cell with a kept copy
    removed = ~result.keep
    assert np.all(result.keep[result.duplicate_of[removed]])
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_ivf_agrees_with_exact_on_a_cluster_among_distinct_passages():
    rng = np.random.default_rng(1)
    distinct = rng.normal(size=(1500, 64))
    distinct /= np.linalg.norm(distinct, axis=1, keepdims=True)
    emb = np.concatenate([_cluster(1500), distinct.astype(np.float32)])
    order = rng.permutation(len(emb))
    exact = semantic_dedup(emb, 0.7, order=order, index="exact")
    ivf = semantic_dedup(emb, 0.7, order=order, index="ivf", nprobe=4)
    assert exact.removed == 1499
    both = int(np.sum(~exact.keep & ~ivf.keep))
    assert both == ivf.removed and both >= 0.98 * exact.removed  # IVF's recall; it never removes a distinct one
    kept = ~ivf.keep
    assert np.all(ivf.similarity[kept] >= 0.7) and np.all(ivf.keep[ivf.duplicate_of[kept]])


def test_duplicate_passage_ids_are_refused_in_one_line(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": pid, "text": f"passage {i}"}) + "\n" for i, pid in enumerate(["a", "b", "a"])))
    with pytest.raises(ValueError, match=r"record 3: id 'a' is already used by record 1; passage ids must be unique"):
        load_passages(seeds)
    proc = subprocess.run([sys.executable, "-m", "hermes4", "curate", "--in", str(seeds), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().endswith("passage ids must be unique")
