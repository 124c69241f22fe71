"""What several stages share: served endpoints (`hermes4 serve` subprocesses), connecting to them, the trainer's
command line (the stage's resolved config as JSON, one process or torchrun), its logged run, and its summary."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from hermes4.llm.spawn import Served, serve, serve_command
from hermes4.recipe.config import RecipeError
from hermes4.recipe.engine import EngineSection, model_endpoint
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import StageSummary


def quiet_console() -> Console:
    """For layers that draw their own progress: the run's display already shows it."""
    return Console(file=io.StringIO(), width=160)


def _api_key(env_name: str | None) -> str | None:
    if env_name is None:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise RecipeError(f"endpoints: the API key variable {env_name} is not set")
    return value


@contextlib.contextmanager
def endpoints_up(run: ResolvedRecipe, names: set[str], logs: Path) -> Iterator[dict[str, str]]:
    """Start the served endpoints among `names` (`hermes4 serve` subprocesses); yield name -> URL."""
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for name in sorted(names):
            endpoint = run.recipe.endpoints[name]
            if endpoint.url is not None:
                urls[name] = endpoint.url
                continue
            spec = endpoint.serve
            assert spec is not None
            logs.mkdir(parents=True, exist_ok=True)
            if spec.model is not None:  # a model folder: the one way stages serve a checkpoint, on its engine
                urls[name] = stack.enter_context(model_endpoint(
                    EngineSection(use=spec.engine, vllm=spec.vllm), Path(spec.model), name=name,
                    log=logs / f"serve-{name}.log", env=spec.env, max_batch=spec.max_batch)).url
                continue
            served: Served = stack.enter_context(serve(
                serve_command(scripted=spec.scripted, max_batch=spec.max_batch, name=name),
                env=spec.env, log=logs / f"serve-{name}.log"))
            urls[name] = served.url
        yield urls


def connect_endpoint(run: ResolvedRecipe, name: str, url: str):
    from hermes4.llm import connect

    endpoint = run.recipe.endpoints[name]
    options: dict[str, Any] = {}
    if endpoint.model:
        options["model"] = endpoint.model
    if endpoint.api_key_env:
        options["api_key"] = _api_key(endpoint.api_key_env)
    if endpoint.max_concurrency:
        options["max_concurrency"] = endpoint.max_concurrency
    return connect(url, **options)


def thread_env(run: ResolvedRecipe) -> dict[str, str]:
    """Torch threads of the processes a run starts (trainers, served models), when the recipe sets them."""
    threads = run.recipe.launch.threads_per_process
    return {"OMP_NUM_THREADS": str(threads)} if threads else {}


def train_command(run: ResolvedRecipe, stage: str) -> tuple[list[str], dict[str, str]]:
    """`python -m hermes4.train CONFIG.json` (one process) or `torchrun --nproc_per_node N -m hermes4.train ...`, where
    CONFIG.json is the stage's resolved training config: the trainer gets the config by value."""
    env = {**os.environ, **thread_env(run)}
    return run.recipe.launch.torchrun().command(str(run.write_training(stage))), env


def metrics_activity(path: Path, total: int, started: float):
    """(steps done, steps, `loss … · tok/s`) from the trainer's metrics JSONL, read as it grows."""
    # Only the bytes appended since the last look are read: re-reading the whole file at every refresh costs a
    # tenth of a core by the end of a 2,000-step run, taken from the trainer on a 2-core machine.
    state: dict[str, Any] = {"offset": 0, "partial": b"", "line": None}

    def activity() -> tuple[int, int, str]:
        try:
            with open(path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size < state["offset"]:  # rewritten (a resumed trainer): start over
                    state.update(offset=0, partial=b"")
                handle.seek(state["offset"])
                chunk = handle.read()
        except OSError:
            return 0, total, f"starting · {time.monotonic() - started:.0f}s"
        state["offset"] += len(chunk)
        *complete, state["partial"] = (state["partial"] + chunk).split(b"\n")
        for raw in reversed(complete):
            try:
                state["line"] = json.loads(raw)
                break
            except json.JSONDecodeError:
                continue
        last = state["line"]
        if not last:
            return 0, total, f"starting · {time.monotonic() - started:.0f}s"
        return int(last["step"]), total, f"loss {last['loss']:.3f} · {last.get('tokens_per_s', 0):,.0f} tok/s"

    return activity


def run_logged(command: list[str], env: dict[str, str], log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code = process.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            process.wait(timeout=30)
            raise
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        raise RuntimeError(f"{what} failed (exit code {code}); see {log}; last lines:\n" + "\n".join(tail))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    records = []
    if path.is_file():
        for raw in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(raw))
    return records


class TrainSummary(StageSummary):
    """One training run: steps, tokens (exact when every step was logged, else scaled from the logged ones), loss,
    speed, where the model went."""

    steps: int
    final_loss: float | None
    first_loss: float | None
    tokens: int
    tokens_exact: bool
    train_seconds: float
    tokens_per_s: float | None
    export: str
    wall_seconds: float
    processes: int = 1


def train_summary(metrics: list[dict[str, Any]], export: Path, seconds: float, processes: int) -> TrainSummary:
    last = metrics[-1] if metrics else {}
    steps = int(last.get("step", 0))
    logged = sum(int(m.get("tokens", 0)) for m in metrics)
    exact = len(metrics) == steps
    tokens = logged if exact or not metrics else round(logged / len(metrics) * steps)
    elapsed = float(last.get("elapsed_s") or seconds)
    return TrainSummary(steps=steps, final_loss=last.get("loss"), first_loss=metrics[0]["loss"] if metrics else None,
                        tokens=tokens, tokens_exact=exact, train_seconds=round(elapsed, 2),
                        tokens_per_s=round(tokens / elapsed, 1) if elapsed else None, export=str(export),
                        wall_seconds=round(seconds, 2), processes=processes)
