"""The vLLM launcher's refusals and failures: a head size the CPU build cannot run is refused before anything
starts (by the library and by `hermes4 serve --engine vllm`), and a server that dies shows its log's last lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.llm.vllm_engine import EngineError, VllmSettings, check_model, start_vllm, vllm_command


def test_cpu_refuses_head_dim_16_naming_it(tiny_model_dir: Path) -> None:
    with pytest.raises(EngineError, match=r"head_dim 16 is not supported by vLLM's CPU attention .*64"):
        check_model(tiny_model_dir, "cpu")
    check_model(tiny_model_dir, "cuda")  # GPU attention backends run it


def test_not_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="no config.json"):
        check_model(tmp_path, "cpu")


def test_command_carries_plugins_sizes_and_lengths(tmp_path: Path) -> None:
    settings = VllmSettings(tensor_parallel_size=4, data_parallel_size=2, max_model_len=40960, max_num_seqs=256,
                            tools_in_reasoning=True, extra_args=["--seed", "3"])
    command = vllm_command(Path("/venv/bin/python"), tmp_path, settings, port=9000, name="m", device="cuda")
    line = " ".join(command)
    assert command[:3] == ["/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    for expected in ("--tensor-parallel-size 4", "--data-parallel-size 2", "--max-model-len 40960", "--max-num-seqs 256",
                     "--reasoning-parser hermes4-interleaved", "--tool-call-parser hermes4-interleaved",
                     "--enable-auto-tool-choice", "--port 9000", "--served-model-name m", "--seed 3"):
        assert expected in line
    assert "--enforce-eager" not in command  # CUDA graphs stay on for GPUs; CPU runs eager by default
    assert "--enforce-eager" in vllm_command(Path("p"), tmp_path, VllmSettings(), port=1, device="cpu")
    plugin = Path(command[command.index("--tool-parser-plugin") + 1])
    assert plugin.name == "vllm_plugins.py" and plugin.is_file()


def test_serve_cli_refuses_before_starting(tiny_model_dir: Path) -> None:
    run = [sys.executable, "-m", "hermes4", "serve", "--engine", "vllm"]
    done = subprocess.run([*run, "--model", str(tiny_model_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "head_dim 16" in done.stderr and done.stderr.count("\n") == 1
    done = subprocess.run([*run, "--scripted", "m:f"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--engine vllm serves a model folder" in done.stderr
    done = subprocess.run([sys.executable, "-m", "hermes4", "serve", "--engine", "sglang", "--model", "x"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--engine must be transformers or vllm" in done.stderr


@pytest.mark.slow
def test_a_server_that_dies_shows_the_log_tail(engine_python: Path, vllm_model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "run" / "vllm.log"
    settings = VllmSettings(extra_args=["--no-such-flag"], startup_timeout=600)
    with pytest.raises(EngineError) as failure:
        start_vllm(vllm_model_dir, settings, log=log)
    message = str(failure.value)
    assert "exited with code" in message and str(log) in message
    assert "--no-such-flag" in message  # vLLM's own complaint, from the log's tail
    assert "--no-such-flag" in log.read_text()
