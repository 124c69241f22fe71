"""`torchrun --nproc_per_node 2 -m hermes4.train CONFIG.yaml` on conversations: the chat layer renders and
masks them (cached, rank 0 first), packing and the sharded loader feed both ranks, the run exports."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow


def test_torchrun_entry_trains_a_conversation_mix(tiny_model_dir, tmp_path):
    rng = random.Random(0)
    with (tmp_path / "math.jsonl").open("w") as f:
        for _ in range(60):
            a, b = rng.randint(1, 99), rng.randint(1, 99)
            f.write(json.dumps({"messages": [
                {"role": "user", "content": f"What is {a} + {b}?"},
                {"role": "assistant", "content": f"{a + b}", "reasoning_content": f"{a} plus {b} is {a + b}."}]}) + "\n")
    train = {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / "run"),
             "data": {"mix": {"sources": [{"path": str(tmp_path / "math.jsonl"), "thinking": True}]},
                      "seq_len": 256},
             "global_batch_size": 4, "micro_batch_size": 1, "optim": {"lr": 3e-3},
             "schedule": {"steps": 5, "warmup_steps": 1}, "logging": {"progress": False},
             "checkpoint": {"every": 0},
             # the GPU-scale memory savers, exercised here on CPU: recompute per block, logits in chunks
             "parallel": {"activation_checkpointing": True}, "loss": {"chunked": "on", "chunk_tokens": 32}}
    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             "-m", "hermes4.train", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=200)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stdout[-2000:] + stderr[-4000:]

    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    assert report["samples"] == 60 and report["sources"][0]["cache"] == "miss"
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert all(r["supervised_tokens"] > 0 and r["tokens"] > r["supervised_tokens"] for r in records)
    assert records[-1]["loss"] < records[0]["loss"]
    assert (tmp_path / "run" / "final" / "model.safetensors").is_file()
    assert json.loads(stdout.strip().splitlines()[-1])["steps"] == 5  # rank 0's summary line
