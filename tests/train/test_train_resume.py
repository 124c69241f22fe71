"""Kill -9 in the middle of a run (while it writes a checkpoint), resume with `hermes4 train`: the loss curve
equals the uninterrupted run's (fp32, 1e-6), the torn checkpoint is ignored, the last K are kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow

# Runs the real CLI in a process that SIGKILLs itself halfway through writing the step-6 checkpoint.
KILLER = """
import os, signal, sys
import hermes4.train.trainer as trainer
real_save = trainer.save_checkpoint
def save_then_die(root, step, **kw):
    if step == 6:
        torn = root / "step_00000006"
        torn.mkdir(parents=True)
        (torn / "meta.json").write_text("{")
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(root, step, **kw)
trainer.save_checkpoint = save_then_die
from hermes4.train.entry import run_train
sys.exit(run_train(sys.argv[1]))
"""


def _losses(path: Path) -> dict[int, float]:
    # A killed run may have logged steps that the resumed run logs again: the later line wins.
    return {r["step"]: r["loss"] for r in map(json.loads, path.read_text().splitlines())}


def test_kill_and_resume_reproduces_the_loss_curve(tiny_model_dir, tmp_path):
    from hermes4.train.data import TokenizedSamples

    rng = np.random.default_rng(3)
    # a learnable pattern (repeated documents) so the curve moves, plus random ones
    pattern = rng.integers(5, 1500, 20).tolist()
    samples = [(pattern, [0] * 4 + [1] * 16) for _ in range(24)]
    samples += [(rng.integers(5, 1500, n).tolist(), [1] * n) for n in rng.integers(5, 30, 24)]
    TokenizedSamples.from_lists(samples).save(tmp_path / "tok")

    def config(name: str) -> Path:
        train = {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / name),
                 "data": {"tokenized": str(tmp_path / "tok"), "seq_len": 64}, "global_batch_size": 4,
                 "micro_batch_size": 2, "optim": {"lr": 2e-3}, "schedule": {"steps": 8, "warmup_steps": 2},
                 "checkpoint": {"every": 2, "keep": 2}, "logging": {"progress": False}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"train": train, "eval": {"other": "stage"}}))
        return path

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cli = [sys.executable, "-m", "hermes4", "train"]
    full = subprocess.run([*cli, str(config("full"))], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert full.returncode == 0, full.stderr[-3000:]

    killed = subprocess.run([sys.executable, "-c", KILLER, str(config("killed"))], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    checkpoints = tmp_path / "killed" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step_00000002", "step_00000004", "step_00000006"]
    assert max(_losses(tmp_path / "killed" / "metrics.jsonl")) == 6

    resumed = subprocess.run([*cli, str(config("killed"))], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    logged = [json.loads(line)["step"] for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3, 4, 5, 6, 7, 8]  # steps 5-6 of the killed run were dropped: every step once
    expected = _losses(tmp_path / "full" / "metrics.jsonl")
    got = _losses(tmp_path / "killed" / "metrics.jsonl")
    assert sorted(got) == sorted(expected) == list(range(1, 9))
    for step in expected:
        assert got[step] == pytest.approx(expected[step], abs=1e-6), step
    assert expected[8] < expected[1]  # it learned something: the curve is not flat
    # resumed from step 4 (the torn step-6 directory was skipped, then rewritten), keeping the last 2
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step_00000006", "step_00000008"]
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["final_loss"] == pytest.approx(expected[8], abs=1e-6)
