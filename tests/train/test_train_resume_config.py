"""Resuming with a changed config: what would move the data position is refused (one line naming the field); a new
step count and learning rate are followed from the resumed step; every step is logged once; `chunked: on` reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hermes4.train.config import parse_train_config
from hermes4.train.metrics import keep_steps_up_to, wandb_run_id


def test_yaml_on_off_for_chunked_loss(tmp_path):
    doc = yaml.safe_load("loss:\n  chunked: on\n")  # YAML 1.1: `on` is the boolean true
    assert doc["loss"]["chunked"] is True
    cfg = parse_train_config({"model": {"path": "m"}, **doc})
    assert cfg.loss.chunked == "on"
    assert parse_train_config({"model": {"path": "m"}, "loss": {"chunked": False}}).loss.chunked == "off"


def test_metrics_keep_each_step_once_and_the_wandb_id_is_kept(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3, 4)) + '{"step": 5, "lo')
    keep_steps_up_to(path, 2)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]
    first = wandb_run_id(tmp_path / "run")
    assert first == wandb_run_id(tmp_path / "run") and (tmp_path / "run" / "wandb_run_id").is_file()
    assert wandb_run_id(tmp_path / "other") != first


@pytest.mark.slow
def test_resume_refuses_data_changes_and_follows_a_new_schedule(tiny_model_dir, tmp_path):
    from hermes4.train.data import TokenizedSamples

    rng = np.random.default_rng(0)
    samples = [(rng.integers(5, 1500, n).tolist(), [1] * n) for n in rng.integers(8, 30, 40)]
    TokenizedSamples.from_lists(samples).save(tmp_path / "tok")
    base = {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / "run"),
            "data": {"tokenized": str(tmp_path / "tok"), "seq_len": 64}, "global_batch_size": 4,
            "micro_batch_size": 2, "optim": {"lr": 1e-3}, "schedule": {"steps": 4, "warmup_steps": 1,
                                                                      "decay": "linear"},
            "checkpoint": {"every": 2}, "logging": {"progress": False}, "export": {"enabled": False}}

    def run(name: str, **changes) -> subprocess.CompletedProcess:
        train = json.loads(json.dumps(base))
        for dotted, value in changes.items():
            *parents, leaf = dotted.split("__")
            node = train
            for key in parents:
                node = node[key]
            node[leaf] = value
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"train": train}))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.run([sys.executable, "-m", "hermes4", "train", str(path)], capture_output=True, text=True,
                              env=env, timeout=180, check=False)

    first = run("first")
    assert first.returncode == 0, first.stderr[-3000:]

    # (the other fields of the identity are checked by test_run_identity_names_fields, without a process each)
    for field, change in (("train.global_batch_size", {"global_batch_size": 8}),
                          ("train.data.seq_len", {"data__seq_len": 128})):
        refused = run("changed", **change)
        assert refused.returncode == 2, (field, refused.stderr[-2000:])
        lines = [line for line in refused.stderr.splitlines() if line.startswith("hermes4:")]
        assert len(lines) == 1 and lines[0].startswith(f"hermes4: {field}:"), (field, refused.stderr[-2000:])
    # fewer samples (another data folder): refused as a data change
    TokenizedSamples.from_lists(samples[:30]).save(tmp_path / "tok2")
    refused = run("fewer", data__tokenized=str(tmp_path / "tok2"))
    assert refused.returncode == 2 and "hermes4: train.data (the samples):" in refused.stderr

    # more steps and a new peak learning rate: resumed at step 4, the new schedule from there on
    longer = run("longer", schedule__steps=6, optim__lr=2e-3)
    assert longer.returncode == 0, longer.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    # linear decay after 1 warmup step over 6 steps: the lr used at step index 4 is 2e-3 * (1 - 3/5)
    assert records[4]["lr"] == pytest.approx(2e-3 * (1 - 3 / 5))
    assert records[5]["lr"] == pytest.approx(2e-3 * (1 - 4 / 5))


def test_run_identity_names_fields():
    from hermes4.train.checkpoint import check_resume, run_identity
    from hermes4.train.config import ConfigError

    cfg = parse_train_config({"model": {"path": "m"}, "global_batch_size": 8})
    saved = run_identity(cfg, np.array([3, 4, 5]), 2)
    check_resume(Path("ckpt"), saved, run_identity(cfg, np.array([3, 4, 5]), 2))
    with pytest.raises(ConfigError, match=r"^train.data \(the samples\): "):
        check_resume(Path("ckpt"), saved, run_identity(cfg, np.array([3, 4, 6]), 2))
    changes = {"train.micro_batch_size": {"micro_batch_size": 2}, "train.seed": {"seed": 1},
               "train.data.pack_algo": {"data": {"pack_algo": "first-fit"}}, "train.parallel.tp": {"parallel": {"tp": 2}},
               "train.model.format": {"model": {"path": "m", "format": "llama3"}}}
    for field, change in changes.items():
        other = parse_train_config({"model": {"path": "m"}, "global_batch_size": 8, **change})
        with pytest.raises(ConfigError, match=rf"^{field}: "):
            check_resume(Path("ckpt"), saved, run_identity(other, np.array([3, 4, 5]), 2))
    check_resume(Path("ckpt"), None, saved)  # a checkpoint from before identities: nothing to compare
