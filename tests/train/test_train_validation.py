"""Validation loss on a held-out split: the split is seeded, disjoint from training and the same on every rank; the
loss is logged every N steps and falls when the held-out samples share what the model learns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from hermes4.train.data import TokenizedSamples
from hermes4.train.shards import hold_out


def test_hold_out_is_seeded_disjoint_and_capped():
    samples = TokenizedSamples.from_lists([([i] * (i + 2), [1] * (i + 2)) for i in range(200)])
    train, held = hold_out(samples, 0.05, None, seed=3)
    assert len(held) == 10 and len(train) == 190
    assert not set(held.indices.tolist()) & set(train.indices.tolist())
    assert np.array_equal(hold_out(samples, 0.05, None, seed=3)[1].indices, held.indices)
    assert not np.array_equal(hold_out(samples, 0.05, None, seed=4)[1].indices, held.indices)
    assert len(hold_out(samples, 0.5, 7, seed=3)[1]) == 7
    assert len(hold_out(samples, 0.001, None, seed=3)[1]) == 1  # at least one


@pytest.mark.slow
def test_validation_loss_is_logged_every_n_steps_and_falls(tiny_model_dir, tmp_path):
    rng = np.random.default_rng(1)
    pattern = rng.integers(5, 1500, 24).tolist()
    TokenizedSamples.from_lists([(pattern, [0] * 4 + [1] * 20) for _ in range(60)]).save(tmp_path / "tok")
    train = {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / "run"),
             "data": {"tokenized": str(tmp_path / "tok"), "seq_len": 64}, "global_batch_size": 2,
             "optim": {"lr": 3e-3}, "schedule": {"steps": 6, "warmup_steps": 0, "decay": "constant"},
             "checkpoint": {"every": 0}, "logging": {"progress": False, "every": 3},
             "export": {"enabled": False}, "validation": {"every": 2, "fraction": 0.1}}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    proc = subprocess.run([sys.executable, "-m", "hermes4", "train", str(config)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3, 4, 6]  # logging every 3, validation every 2
    validated = [r for r in records if "val_loss" in r]
    assert [r["step"] for r in validated] == [2, 4, 6]
    assert all(r["val_tokens"] == 6 * 20 for r in validated)  # 6 held-out samples x 20 trained tokens
    assert validated[-1]["val_loss"] < validated[0]["val_loss"]
