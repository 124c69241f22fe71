"""Scoring reasoning-gym answers out of process: a pool of `scorer_worker` processes with a wall-clock limit per call."""

from __future__ import annotations

import atexit
import base64
import json
import os
import pickle
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

ScoreStatus = Literal["ok", "error", "timeout"]
_STARTUP_S = 120.0  # importing reasoning-gym (sympy, numpy) on a loaded 2-core machine


@dataclass
class Score:
    """One scorer call: `ok` with the library's score in [0, 1], else `error` / `timeout` with the reason."""

    status: ScoreStatus
    score: float = 0.0
    reason: str = ""


class _Process:
    """One worker process and the line protocol to it."""

    def __init__(self, memory_mb: int) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "hermes4.envs.rgym.scorer_worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal is the caller's to handle, not the scorer's
        )
        self.buffer = b""
        self.prepared: set[str] = set()  # datasets this process has built
        self.broken = False  # set when a call leaves the process unusable (timeout, death, garbage on the pipe)
        hello = self._read_line(_STARTUP_S)
        if hello is None or not json.loads(hello).get("ready"):
            self.kill()
            raise RuntimeError("the reasoning-gym scorer process did not start (is reasoning-gym installed?)")
        self.network_isolated = bool(json.loads(hello).get("network_isolated"))

    def _read_line(self, timeout_s: float) -> str | None:
        """The next reply line, or None at the deadline or when the process is gone."""
        deadline = time.monotonic() + timeout_s
        stdout = self.popen.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    self.popen.wait()  # end of file: the process exited (or is exiting)
                    return None
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8", errors="replace")

    def call(self, request: dict[str, Any], timeout_s: float) -> Score:
        key = repr((request["dataset"], request["config"]))
        if key not in self.prepared:  # building the dataset (importing a generator) is not the answer's time
            prepared = self._exchange({"dataset": request["dataset"], "config": request["config"], "prepare": True}, _STARTUP_S)
            if prepared.status != "ok":
                return prepared
            self.prepared.add(key)
        return self._exchange(request, timeout_s)

    def _exchange(self, request: dict[str, Any], timeout_s: float) -> Score:
        assert self.popen.stdin is not None
        try:
            # Pickle, not JSON, towards the worker: the scorers need the entry's native types (tuples, int keys).
            self.popen.stdin.write(base64.b64encode(pickle.dumps(request)) + b"\n")
            self.popen.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.broken = True
            return Score("error", reason=f"the scorer process is gone ({exc})")
        line = self._read_line(timeout_s)
        if line is None:
            self.broken = True
            if self.popen.poll() is None:
                return Score("timeout", reason=f"scorer exceeded {timeout_s:g}s")
            return Score("error", reason=f"the scorer process died (exit {self.popen.returncode}; memory limit?)")
        try:  # the worker ran untrusted text through eval: read its reply as data, strictly
            reply = json.loads(line)
            if "error" in reply:
                return Score("error", reason=str(reply["error"]))
            if reply.get("prepared") is True:
                return Score("ok", score=0.0)
            score = float(reply["score"])
        except (ValueError, KeyError, TypeError) as exc:
            self.broken = True
            return Score("error", reason=f"unreadable scorer reply ({exc})")
        return Score("ok", score=score)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


class ScorerPool:
    """Up to `size` worker processes shared by every thread that verifies; a timed-out or dead worker is killed and
    replaced on the next call, so one hung scorer never blocks the rest."""

    def __init__(self, size: int, memory_mb: int = 4096) -> None:
        self.size, self.memory_mb = size, memory_mb
        self._idle: list[_Process] = []
        self._count = 0
        self._lock = threading.Condition()
        self.network_isolated: bool | None = None

    def _acquire(self) -> _Process:
        with self._lock:
            while not self._idle and self._count >= self.size:
                self._lock.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            process = _Process(self.memory_mb)
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise
        self.network_isolated = process.network_isolated
        return process

    def _release(self, process: _Process, healthy: bool) -> None:
        if not healthy:
            process.kill()
        with self._lock:
            if healthy:
                self._idle.append(process)
            else:
                self._count -= 1
            self._lock.notify()

    def score(self, dataset: str, config: Any, entry: dict[str, Any], answer: str, timeout_s: float) -> Score:
        process = self._acquire()
        try:
            return process.call({"dataset": dataset, "config": config, "entry": entry, "answer": answer}, timeout_s)
        except BaseException:
            process.broken = True
            raise
        finally:
            self._release(process, not process.broken and process.alive)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for process in idle:
            process.kill()


_SHARED: ScorerPool | None = None
_SHARED_LOCK = threading.Lock()


def shared_pool() -> ScorerPool:
    """The process-wide pool (`HERMES4_RG_SCORERS` workers, default min(4, CPUs)); closed at exit."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            size = int(os.environ.get("HERMES4_RG_SCORERS", "0") or 0) or min(4, os.cpu_count() or 1)
            _SHARED = ScorerPool(size)
            atexit.register(_SHARED.close)
        return _SHARED
