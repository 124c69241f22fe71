"""The GPU benchmark script is ready: it parses its arguments, and every part runs on CPU on a tiny shape."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "bench_gpu.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arguments_default_to_the_issue_settings():
    bench = load()
    args = bench.parse_args([])
    assert (args.shapes, args.parts, args.seq_len, args.attn) == (
        ["qwen3-1.7b", "qwen3-8b"], ["ours", "trl", "numerics"], 16384, "flex_attention")
    assert args.budget_s + 30 <= 8 * 60  # leaves the run under 8 minutes with the last part's wrap-up
    assert bench.parse_args(["--no-trl"]).parts == ["ours", "numerics"]
    smoke = bench.parse_args(["--smoke"])
    assert smoke.seq_len == 256 and smoke.attn == "sdpa"
    help_text = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    assert "--layers-8b" in help_text.stdout


@pytest.mark.slow
def test_every_part_runs_on_cpu_in_smoke_mode(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--shapes", "qwen3-1.7b", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    assert results["qwen3-1.7b/ours"]["tokens_per_s"] > 0
    assert results["qwen3-1.7b/numerics"]["max_abs_logit_diff"] < 1e-4
    trl = results["qwen3-1.7b/trl"]
    assert trl.get("tokens_per_s", 0) > 0 or "TRL not installed" in trl.get("skipped", "")
    if "tokens_per_s" in trl:
        assert results["qwen3-1.7b/ratio"] > 0
