"""Model servers a run starts itself: `hermes4 serve` in a subprocess on a free loopback port, stopped after use."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_READY = re.compile(r"hermes4 serve: .* on (http://\S+/v1)")


class ServerError(RuntimeError):
    """A server that did not come up; the message carries the end of its output."""


@dataclass
class Served:
    url: str  # the OpenAI base URL, http://127.0.0.1:PORT/v1
    command: list[str]
    pid: int


def serve_command(*, scripted: str | None = None, model: str | Path | None = None, max_batch: int = 32,
                  name: str | None = None) -> list[str]:
    """The `hermes4 serve` command line for a scripted function or a model folder, on a free port."""
    command = [sys.executable, "-m", "hermes4", "serve", "--port", "0", "--max-batch", str(max_batch)]
    if scripted is not None:
        command += ["--scripted", scripted]
    else:
        command += ["--model", str(model)]
    if name:
        command += ["--name", name]
    return command


@contextlib.contextmanager
def serve(command: list[str], *, env: dict[str, str] | None = None, startup_timeout: float = 300.0,
          log: Path | None = None) -> Iterator[Served]:
    """Run `command` (a `hermes4 serve` line) until it prints its URL; yield it; stop the server on exit.

    The server's output goes to `log` (when given) and its last lines into the error if it fails to start.
    """
    full_env = {**os.environ, **(env or {})}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env, text=True,
                               bufsize=1, start_new_session=True)
    tail: deque[str] = deque(maxlen=40)
    found: list[str] = []
    ready = threading.Event()
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
            match = _READY.search(line)
            if match and not found:
                found.append(match[1])
                ready.set()
        ready.set()

    reader = threading.Thread(target=pump, name="hermes4-serve-output", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not ready.wait(0.1):
            if time.monotonic() > deadline:
                raise ServerError(f"{' '.join(command)}: not ready after {startup_timeout:.0f}s; last output:\n"
                                  + "\n".join(tail))
        if not found:
            process.wait(timeout=10)
            raise ServerError(f"{' '.join(command)}: exited with code {process.returncode} before serving; "
                              "last output:\n" + "\n".join(tail))
        yield Served(url=found[0], command=command, pid=process.pid)
    finally:
        _stop(process)
        reader.join(timeout=5)
        if handle is not None:
            handle.close()


def _stop(process: subprocess.Popen) -> None:
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
