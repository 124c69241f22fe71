"""Model servers a run starts itself: `hermes4 serve` in a subprocess on a free loopback port, stopped after use.

The port is chosen here and passed to the server, and readiness is the server answering `/health` on it: nothing
depends on the wording of what the server prints.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"


class ServerError(RuntimeError):
    """A server that did not come up; the message carries the end of its output."""


@dataclass
class Served:
    url: str  # the OpenAI base URL, http://127.0.0.1:PORT/v1
    command: list[str]
    pid: int


def serve_command(*, scripted: str | None = None, model: str | Path | None = None, max_batch: int = 32,
                  name: str | None = None) -> list[str]:
    """The `hermes4 serve` command line for a scripted function or a model folder (`serve` adds the port)."""
    command = [sys.executable, "-m", "hermes4", "serve", "--host", HOST, "--max-batch", str(max_batch)]
    if scripted is not None:
        command += ["--scripted", scripted]
    else:
        command += ["--model", str(model)]
    if name:
        command += ["--name", name]
    return command


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0, trust_env=False).status_code == 200  # loopback: never via a proxy
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def serve(command: list[str], *, env: dict[str, str] | None = None, startup_timeout: float = 300.0,
          log: Path | None = None) -> Iterator[Served]:
    """Run `command` (a `hermes4 serve` line) on a free port until it answers `/health`; yield its URL; stop the
    server on exit.

    The server's output goes to `log` (when given) and its last lines into the error if it fails to start.
    """
    port = free_port()
    command = [*command, "--port", str(port)]
    base = f"http://{HOST}:{port}"
    full_env = {**os.environ, **(env or {})}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env, text=True,
                               bufsize=1, start_new_session=True)
    tail: deque[str] = deque(maxlen=40)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "a", encoding="utf-8") if log is not None else None  # noqa: SIM115 (closed in finally)

    def pump() -> None:
        # Drain the pipe for the server's whole life, so a chatty server never blocks on a full pipe.
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            if handle is not None:
                handle.write(line)
                handle.flush()

    reader = threading.Thread(target=pump, name="hermes4-serve-output", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not _answers(f"{base}/health"):
            if process.poll() is not None:
                reader.join(timeout=5)
                raise ServerError(f"{' '.join(command)}: exited with code {process.returncode} before serving; "
                                  "last output:\n" + "\n".join(tail))
            if time.monotonic() > deadline:
                raise ServerError(f"{' '.join(command)}: not ready after {startup_timeout:.0f}s; last output:\n"
                                  + "\n".join(tail))
            time.sleep(0.1)
        yield Served(url=f"{base}/v1", command=command, pid=process.pid)
    finally:
        stop_process_group(process)
        reader.join(timeout=5)
        if handle is not None:
            handle.close()


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to a server started in its own session (its whole group), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:  # the server runs in its own session: signal exactly that process group, nothing else
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
