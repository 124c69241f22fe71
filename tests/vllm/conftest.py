"""Fixtures for the real-vLLM tests: the engine venv, an exported tiny checkpoint vLLM's CPU attention can run
(head_dim 64), and one vLLM server over it for the whole session, started through `hermes4 serve --engine vllm`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

# `make test` sets it: there the engine venv was just built, so a missing one is a failure, not a skip.
REQUIRED = os.environ.get("HERMES4_REQUIRE_VLLM") == "1"
MAX_MODEL_LEN = 2048


@pytest.fixture(scope="session")
def engine_python() -> Path:
    from hermes4.llm.vllm_engine import EngineError, engine_python

    try:
        return engine_python()
    except EngineError as exc:
        if REQUIRED:
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def vllm_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen3 with 2 heads of 64, trained for 3 steps by `hermes4 train` and exported (the folder a run ships)."""
    from hermes4.train.data import TokenizedSamples
    from hermes4.train.tiny import TinySize, init_tiny

    root = tmp_path_factory.mktemp("vllm-model")
    base = init_tiny(root / "base", size=TinySize(hidden_size=128, num_heads=2, num_kv_heads=1, intermediate_size=256,
                                                  max_position_embeddings=MAX_MODEL_LEN))
    rng = np.random.default_rng(0)
    samples = [(rng.integers(5, 1500, n).tolist(), [1] * n) for n in rng.integers(8, 40, 16)]
    TokenizedSamples.from_lists(samples).save(root / "tok")
    train = {"model": {"path": str(base)}, "output_dir": str(root / "run"),
             "data": {"tokenized": str(root / "tok"), "seq_len": 64}, "global_batch_size": 4, "micro_batch_size": 4,
             "optim": {"lr": 1e-3}, "schedule": {"steps": 3, "warmup_steps": 1}, "logging": {"progress": False}}
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-m", "hermes4", "train", str(config)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    exported = root / "run" / "final"
    assert (exported / "config.json").is_file() and (exported / "tokenizer_config.json").is_file()
    return exported


@pytest.fixture(scope="session")
def vllm_server(engine_python: Path, vllm_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """`hermes4 serve --engine vllm` on the exported model: started once per session, stopped at its end."""
    from hermes4.llm.spawn import serve

    log = tmp_path_factory.mktemp("vllm-run") / "vllm.log"
    command = [sys.executable, "-m", "hermes4", "serve", "--engine", "vllm", "--model", str(vllm_model_dir),
               "--name", "tiny", "--port", "0", "--max-model-len", str(MAX_MODEL_LEN), "--log", str(log)]
    with serve(command, startup_timeout=900) as served:
        served.log = log
        yield served
