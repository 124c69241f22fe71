"""The eval run, the score-everything policy over the rollout engine (`hermes4.sample.rollouts`): generate every
(task, item, repeat, mode) sample over one model, score each as soon as it arrives while generation goes on, log
every sample, resume exactly where a killed run stopped, compute the metrics.

Pipeline: the engine's `concurrency` workers take jobs and call the model; each finished generation goes on a
queue that `score_concurrency` scorer coroutines drain at the same time (checkers in a thread pool, judges as
async calls), so scoring never waits for generation to end. A sample is written once, scored, as one JSONL
line keyed by (task, item, repeat, mode, config hash); a rerun skips the keys on disk and draws the rest with
the same per-sample seeds, so a resumed run logs the same samples as an uninterrupted one.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import platform
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hermes4.envs import Item, Trajectory, Verdict, trajectory_from_completion
from hermes4.envs.answer import final_answer
from hermes4.eval.judge import Judge, JudgeConfig, connect_judge, judged_verdict
from hermes4.eval.metrics import cell_metrics
from hermes4.progress import EvalCounters
from hermes4.eval.records import (
    METRICS_FILE,
    MODES,
    RUN_MANIFEST,
    SAMPLES_STREAM,
    build_record,
    is_overlong,
    modes_for,
    overlong_verdict,
    read_samples,
    sample_key,
)
from hermes4.eval.tasks import Task, TaskError, load_task, split_task_list
from hermes4.sample.rollouts import EndpointError, RolloutEngine, RolloutFailure, RolloutLimits, connect_source, gather_or_cancel
from hermes4.store import (
    Journal,
    StoreError,
    content_id,
    derive_seed,
    write_json_atomic,
)
from hermes4.store.dataset import refuse_changed

FORMAT = "hermes4-eval/1"
PAPER_REASONING_BUDGET = 40_960  # tokens: the Hermes 4 reasoning evals
# Settings whose change would make the samples of two sessions incomparable: a resume must repeat them.
MUST_MATCH = ("model", "temperature", "top_p", "top_k", "max_tokens", "direct_max_tokens", "seed", "judge", "reasoning_budget")
_VERSIONED = ("numpy", "torch", "transformers", "openai", "httpx", "math-verify", "datasets", "pyarrow", "matplotlib", "pydantic")


class EvalConfig(BaseModel):
    """What an eval run is asked to do (the CLI flags, or `run_eval`'s arguments)."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str] = Field(min_length=1)
    out: Path
    llm: str = "<in-process>"
    thinking: Literal["on", "off", "both"] = "both"
    repeats: int = Field(default=1, ge=1)
    max_tokens: int = Field(default=PAPER_REASONING_BUDGET, ge=1)  # the budget of one generation
    direct_max_tokens: int | None = Field(default=None, ge=1)  # non-reasoning budget (default: max_tokens)
    limit: int | None = Field(default=None, ge=1)  # first M items of each task
    concurrency: int = Field(default=64, ge=1)  # model requests in flight
    score_concurrency: int = Field(default=8, ge=1)  # samples being scored at once (checker threads / judge calls)
    seed: int = 0
    temperature: float = Field(default=0.6, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=20, ge=-1)
    judge: JudgeConfig | None = None
    name: str | None = None  # the run's column title in reports (default: the model)
    overlap: bool = True  # False: generate everything first, then score (only to measure what overlap saves)
    rollout_timeout_s: float | None = Field(default=None, gt=0)
    max_consecutive_failures: int = Field(default=32, ge=1)
    # Reasoning-mode samples under a reasoning budget (`hermes4.llm.budget`): `client` works on any model source,
    # `engine` is vLLM's `thinking_token_budget`. Each record says whether it fired.
    reasoning_budget: int | None = Field(default=None, ge=1)
    budget_mode: Literal["client", "engine"] = "client"
    chat_format: Literal["chatml", "llama3"] = "chatml"  # how a budgeted call renders its prompt (the model's format)

    @model_validator(mode="after")
    def _budget_mode_needs_a_budget(self) -> EvalConfig:
        if self.budget_mode == "engine" and self.reasoning_budget is None:
            raise ValueError("budget_mode engine: set reasoning_budget (the budget vLLM enforces)")
        return self

    def limits(self) -> RolloutLimits:
        # Checker threads are scorers here: judges are async calls, so one bound serves both.
        return RolloutLimits(self.concurrency, self.score_concurrency, self.rollout_timeout_s, self.max_consecutive_failures)

    def reasoning_budget_pin(self) -> dict[str, Any] | None:
        """The budget as the manifest and the config hash record it (None: no budget)."""
        if self.reasoning_budget is None:
            return None
        return {"tokens": self.reasoning_budget, "mode": self.budget_mode, "format": self.chat_format}

    def budget(self, mode: str) -> int:
        return self.max_tokens if MODES[mode] or self.direct_max_tokens is None else self.direct_max_tokens

    def sampling(self, mode: str, seed: int):  # -> Sampling
        from hermes4.llm import Sampling

        return Sampling(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, max_tokens=self.budget(mode), seed=seed)


@dataclass
class EvalRun:
    """What `run_eval` did: where it wrote, the metrics of every (task, mode), and this session's counts."""

    out: Path
    cells: list[dict[str, Any]]
    written: int  # samples written by this session
    skipped: int  # samples already on disk when it started
    missing: int  # samples still missing (model calls failed): rerun to finish them
    aborted: str | None = None
    repairs: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    llm_stats: str | None = None

    def cell(self, task: str, mode: str) -> dict[str, Any]:
        for cell in self.cells:
            if cell["task"] == task and cell["mode"] == mode:
                return cell
        raise KeyError(f"no metrics for task {task!r} in mode {mode!r}")

    def score(self, task: str, mode: str) -> float | None:
        """The headline score (a fraction) of a task in a mode."""
        estimate = self.cell(task, mode)["score"]
        return None if estimate is None else estimate["value"]


@dataclass
class _Job:
    task: Task
    item: Item
    mode: str
    repeat: int
    key: str
    config_hash: str
    seed: int


@dataclass
class _Generated:
    job: _Job
    trajectory: Trajectory
    overlong: bool
    generated_at: float
    generate_s: float


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from hermes4 import __version__

    found = {"hermes4": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_revision() -> dict[str, Any] | None:
    """The commit of the hermes4 source tree (and whether it had local changes), when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"revision": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


async def served_model(llm: Any) -> str:
    """The model id a source serves (asked from the endpoint when it is an HTTP client)."""
    named = getattr(llm, "model", None)
    if isinstance(named, str) and named:
        return named
    if hasattr(llm, "models"):
        names = await llm.models()
        if names:
            return str(names[0])
    return str(getattr(llm, "name", None) or type(llm).__name__)


def config_hash(config: EvalConfig, task: Task, mode: str, judge_pin: dict[str, Any] | None) -> str:
    """What decides a sample besides its item and repeat: the task, mode, sampling, budget, seed, judge."""
    sampling: dict[str, Any] = {"temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k, "max_tokens": config.budget(mode)}
    if config.reasoning_budget is not None and MODES[mode]:  # only when set, so plain runs keep their hashes
        sampling["reasoning_budget"] = config.reasoning_budget_pin()
    return content_id("eval-config", task.spec, mode, sampling, config.seed, judge_pin if task.judged else None, length=16)


class EvalRunner:
    """One eval session over an output folder: `open()` scans it, `run(llm)` fills in what is missing."""

    def __init__(self, config: EvalConfig, tasks: list[Task] | None = None, live: EvalCounters | None = None) -> None:
        self.config = config
        self.tasks = tasks if tasks is not None else [load_task(spec) for spec in config.tasks]
        names = [t.spec for t in self.tasks]
        if len(set(names)) != len(names):
            raise TaskError("the same task is named twice")
        self.modes = modes_for(config.thinking)
        self.live = live or EvalCounters()
        self.judge: Judge | None = None
        self._journal: Journal | None = None
        self._previous: dict[str, Any] = {}
        self._written = 0
        self._repairs: list[str] = []

    # -- the output folder ---------------------------------------------------------------------------

    def open(self) -> list[str]:
        """Create or resume the output folder (repairing a torn last line); returns the repairs made."""
        out = self.config.out
        if out.exists() and not out.is_dir():
            raise StoreError(f"{out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        manifest = out / RUN_MANIFEST
        if manifest.is_file():
            try:
                self._previous = json.loads(manifest.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise StoreError(f"{manifest}: line {exc.lineno}: invalid JSON ({exc.msg}); fix or delete it (the samples are kept)") from None
        self._journal = Journal(out, SAMPLES_STREAM, key=lambda r: r.get("id"))
        self._repairs = [r.describe() for r in self._journal.repairs]
        return self._repairs

    def _settings(self, model: str, judge_pin: dict[str, Any] | None) -> dict[str, Any]:
        c = self.config
        settings: dict[str, Any] = {
            "model": model,
            "temperature": c.temperature,
            "top_p": c.top_p,
            "top_k": c.top_k,
            "max_tokens": c.max_tokens,
            "direct_max_tokens": c.direct_max_tokens,
            "seed": c.seed,
            "reasoning_budget": c.reasoning_budget_pin(),
        }
        if judge_pin is not None:
            settings["judge"] = judge_pin
        return settings

    # -- the run -------------------------------------------------------------------------------------

    async def run(self, llm: Any, judge_llm: Any | None = None) -> EvalRun:
        if self._journal is None:
            raise RuntimeError("EvalRunner.run: call open() first")
        config = self.config
        if any(t.judged for t in self.tasks) and config.judge is None:
            judged = ", ".join(t.spec for t in self.tasks if t.judged)
            raise ValueError(f"{judged}: graded by a judge model; pass a judge (--judge URL or scripted:module:function)")
        model = await served_model(llm)
        judge_pin: dict[str, Any] | None = None
        if config.judge is not None and any(t.judged for t in self.tasks):
            if judge_llm is None:
                raise ValueError("a judge is configured but no judge model was connected")
            self.judge = Judge(config.judge, judge_llm, await served_model(judge_llm))
            judge_pin = self.judge.config.pin(self.judge.served_model)
        settings = self._settings(model, judge_pin)
        # A setting this run does not use (no judge) is not compared: it cannot make the samples differ.
        old = {k: v for k, v in (self._previous.get("settings") or {}).items() if k in settings}
        refuse_changed(config.out, old, settings, MUST_MATCH, made="evaluated")
        budgeted = self._with_budget(llm)  # refused here (a bad --budget-mode) before anything is written
        started_at = _now()
        jobs, cells = self._plan(judge_pin)
        self._write_manifest(settings, cells, started_at=started_at, ended_at=None, status="running")
        self.live.started = time.monotonic()
        engine: RolloutEngine[_Job] = RolloutEngine(budgeted, config.limits())
        try:
            with engine:
                await self._pipeline(engine, jobs)
        finally:
            self._journal.close()
            results = self.metrics(cells)
            missing = sum(c["missing"] for c in results)
            status = "complete" if missing == 0 and engine.aborted is None else "incomplete"
            self._write_manifest(settings, cells, started_at=started_at, ended_at=_now(), status=status)
            write_json_atomic(config.out / METRICS_FILE, {"cells": results})
        return EvalRun(
            out=config.out,
            cells=results,
            written=self._written,
            skipped=self.live.done_before,
            missing=missing,
            aborted=engine.aborted,
            repairs=self._repairs,
            wall_s=round(self.live.elapsed, 3),
            llm_stats=engine.llm_stats(),
        )

    def _with_budget(self, llm: Any) -> Any:
        """The model every rollout asks for its completions: with a reasoning budget, wrapped so that each
        reasoning-mode call (any task, any env) goes through it."""
        from hermes4.llm.budget import BudgetedLLM

        if self.config.reasoning_budget is None:
            return llm
        try:
            return BudgetedLLM(llm, self.config.reasoning_budget, mode=self.config.budget_mode, format=self.config.chat_format)
        except ValueError as exc:
            raise EndpointError("budget-mode", str(exc)) from None

    def _plan(self, judge_pin: dict[str, Any] | None) -> tuple[deque[_Job], dict[str, Any]]:
        """The samples this session asks for (those not on disk become jobs) and the manifest's task cells."""
        assert self._journal is not None
        config = self.config
        jobs: deque[_Job] = deque()
        cells: dict[str, Any] = {}
        for task in self.tasks:
            items = task.items[: config.limit] if config.limit else task.items
            entry = cells.setdefault(task.spec, {**task.describe(), "cells": {}})
            for mode in self.modes:
                chash = config_hash(config, task, mode, judge_pin)
                entry["cells"][mode] = {"config": chash, "repeats": config.repeats, "budget": config.budget(mode), "item_ids": [i.id for i in items]}
                for item in items:
                    for repeat in range(config.repeats):
                        key = sample_key(task.spec, item.id, repeat, mode, chash)
                        self.live.total += 1
                        if key in self._journal:
                            self.live.done_before += 1
                            continue
                        seed = derive_seed(config.seed, task.spec, item.id, repeat, mode)
                        jobs.append(_Job(task, item, mode, repeat, key, chash, seed))
        return jobs, cells

    async def _pipeline(self, engine: RolloutEngine[_Job], jobs: deque[_Job]) -> None:
        """Generators (the engine's workers) put each finished generation on a queue that `score_concurrency` scorers
        drain at the same time, so scoring never waits for generation to end (unless `overlap` is off)."""
        config = self.config
        queue: asyncio.Queue[_Generated | None] = asyncio.Queue()

        async def generate(job: _Job) -> None:
            generated = await self._generate(engine, job)
            if generated is not None:
                await queue.put(generated)

        async def scorer() -> None:
            while (generated := await queue.get()) is not None:
                await self._score_and_write(engine, generated)

        def start_scorers() -> list[asyncio.Task[None]]:
            return [asyncio.create_task(scorer()) for _ in range(config.score_concurrency)]

        scorers = start_scorers() if config.overlap else []
        generation = asyncio.create_task(engine.run(jobs, generate))
        try:
            await gather_or_cancel([generation])
            if not config.overlap:
                scorers = start_scorers()
            for _ in scorers:
                await queue.put(None)
            await gather_or_cancel(scorers)
        except BaseException:
            for task in [generation, *scorers]:
                task.cancel()
            await asyncio.gather(generation, *scorers, return_exceptions=True)
            raise

    async def _generate(self, engine: RolloutEngine[_Job], job: _Job) -> _Generated | None:
        thinking = MODES[job.mode]
        sampling = self.config.sampling(job.mode, job.seed)
        started = time.monotonic()
        if job.task.env is not None:
            env = job.task.env
            trajectory = await engine.rollout(lambda: env.rollout(job.item, engine.llm, sampling, thinking=thinking))
        else:
            trajectory = await engine.rollout(lambda: _plain_rollout(job.item, engine.llm, sampling, thinking))
        if isinstance(trajectory, RolloutFailure):  # the sample stays missing; a rerun draws it again
            self.live.failed += 1
            return None
        self.live.generated += 1
        self.live.tokens += int(trajectory.completion_tokens or 0)
        overlong = is_overlong(trajectory, thinking=thinking)
        return _Generated(job, trajectory, overlong, time.time(), time.monotonic() - started)

    async def _score_and_write(self, engine: RolloutEngine[_Job], generated: _Generated) -> None:
        job, trajectory = generated.job, generated.trajectory
        started = time.monotonic()
        verdict = await self._verdict(engine, generated)
        scored_at = time.time()
        if generated.overlong:
            self.live.overlong += 1
        if verdict.status in ("error", "timeout"):
            self.live.errors += 1
        latency = sum(float(getattr(c, "latency_s", 0.0) or 0.0) for c in trajectory.completions)
        record = build_record(
            key=job.key,
            task_spec=job.task.spec,
            item=job.item,
            repeat=job.repeat,
            mode=job.mode,
            config_hash=job.config_hash,
            seed=job.seed,
            trajectory=trajectory,
            verdict=verdict,
            overlong=generated.overlong,
            timing={
                "latency_s": latency,
                "generate_s": generated.generate_s,
                "score_s": time.monotonic() - started,
                "generated_at": generated.generated_at,
                "scored_at": scored_at,
            },
        )
        assert self._journal is not None
        if self._journal.append(record):
            self._written += 1
        self.live.scored += 1

    async def _verdict(self, engine: RolloutEngine[_Job], generated: _Generated) -> Verdict:
        job, trajectory = generated.job, generated.trajectory
        if generated.overlong:
            return overlong_verdict(self.config.budget(job.mode))
        if job.task.rubric is not None:
            request = job.item.prompt.messages[-1].content or ""
            response = trajectory.meta.get("transcript") or final_answer(trajectory)  # multi-turn envs: the whole exchange
            return await judged_verdict(self.judge, job.task.rubric, request=request, response=response, reference=job.item.reference)
        assert job.task.env is not None
        return await engine.verify(job.task.env.verify, job.item, trajectory)

    # -- results -------------------------------------------------------------------------------------

    def metrics(self, cells: dict[str, Any]) -> list[dict[str, Any]]:
        return compute_metrics(self.config.out, cells)

    def _write_manifest(self, settings: dict[str, Any], cells: dict[str, Any], *, started_at: str, ended_at: str | None, status: str) -> None:
        config = self.config
        previous = self._previous
        tasks = dict(previous.get("tasks") or {})
        for spec, entry in cells.items():  # a session updates the cells it ran and keeps the others
            merged = {**(tasks.get(spec) or {}), **{k: v for k, v in entry.items() if k != "cells"}}
            merged["cells"] = {**((tasks.get(spec) or {}).get("cells") or {}), **entry["cells"]}
            tasks[spec] = merged
        sessions = list(previous.get("sessions") or [])
        session = {
            "started": started_at,
            "ended": ended_at,
            "status": status,
            "argv": sys.argv if _is_cli() else None,
            "written": self._written,
            "repairs": self._repairs,  # torn last lines cut off when this session opened the log
            "thinking": config.thinking,
            "repeats": config.repeats,
            "limit": config.limit,
        }
        # `previous` is the manifest as this session found it, so this session is always the one appended; matching
        # on the start time instead merged two sessions started within the same second (a quick kill, then a rerun).
        sessions.append(session)
        judge = None
        if self.judge is not None:
            judge = {**self.judge.config.pin(self.judge.served_model), "endpoint": self.judge.config.llm}
        manifest = {
            "format": FORMAT,
            "name": config.name or previous.get("name") or settings["model"],
            "model": settings["model"],
            "endpoint": config.llm,
            "settings": settings,
            "sampling": {"temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k},
            "budgets": {mode: config.budget(mode) for mode in MODES},
            "reasoning_budget": config.reasoning_budget_pin(),
            "judge": judge or previous.get("judge"),
            "versions": package_versions(),
            "git": git_revision(),
            "started": previous.get("started") or started_at,
            "ended": ended_at,
            "status": status,
            "sessions": sessions,
            "tasks": tasks,
        }
        write_json_atomic(config.out / RUN_MANIFEST, manifest)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The `run.json` of a run folder; errors name the file."""
    path = Path(run_dir) / RUN_MANIFEST
    if not path.is_file():
        raise StoreError(f"{run_dir}: not an eval run folder (no {RUN_MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError(f"{path}: not a {FORMAT} manifest")
    return manifest


def cell_records(run_dir: str | Path, tasks: dict[str, Any]) -> dict[tuple[str, str], tuple[list[dict[str, Any]], int]]:
    """(task, mode) -> (the records the manifest asks for that are on disk, how many it asks for). Records of
    other configs or items in the folder (an earlier session with other settings) are left out."""
    by_key = {r["id"]: r for r in read_samples(run_dir) if isinstance(r.get("id"), str)}
    out: dict[tuple[str, str], tuple[list[dict[str, Any]], int]] = {}
    for spec, entry in tasks.items():
        for mode in MODES:
            cell = (entry.get("cells") or {}).get(mode)
            if cell is None:
                continue
            keys = [sample_key(spec, item_id, r, mode, cell["config"]) for item_id in cell["item_ids"] for r in range(cell["repeats"])]
            out[(spec, mode)] = ([by_key[k] for k in keys if k in by_key], len(keys))
    return out


def compute_metrics(run_dir: str | Path, tasks: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Metrics of every (task, mode) cell of a run folder (see `cell_records` for which samples count)."""
    if tasks is None:
        tasks = read_manifest(run_dir).get("tasks") or {}
    out = []
    for (spec, mode), (records, expected) in cell_records(run_dir, tasks).items():
        entry = tasks[spec]
        metrics = cell_metrics(spec, mode, entry["metric"], records, expected=expected).to_json()
        metrics.update({"name": entry.get("name"), "label": entry.get("label"), "order": entry.get("order", 100)})
        out.append(metrics)
    return out


async def _plain_rollout(item: Item, llm: Any, sampling: Any, thinking: bool) -> Trajectory:
    """One chat turn for judge-graded tasks (they have no env)."""
    completions = await llm.chat(item.prompt, sampling=sampling, thinking=thinking)
    return trajectory_from_completion(completions[0], thinking=thinking)


def _is_cli() -> bool:
    return bool(sys.argv) and Path(sys.argv[0]).name in ("hermes4", "__main__.py")


def describe_endpoint(llm: Any) -> str:
    """What the manifest records as the endpoint of an `LLM` object."""
    balancer = getattr(llm, "balancer", None)
    if balancer is not None:
        return ",".join(endpoint.url for endpoint in balancer.endpoints)
    return f"<in-process {type(llm).__name__}>"


async def run_eval(
    tasks: EvalConfig | str | list[str | Task],
    llm: Any = None,
    out_dir: str | Path | None = None,
    *,
    loaded: list[Task] | None = None,
    judge_llm: Any = None,
    live: EvalCounters | None = None,
    llm_options: dict[str, Any] | None = None,
    judge_api_key: str | None = None,
    **options: Any,
) -> EvalRun:
    """Evaluate a model and return the metrics of every (task, mode); rerunning resumes. What `hermes4 eval` and the
    recipe's eval stages both call.

    The run is an `EvalConfig` (`run_eval(config)`), or for a quick call its parts: `run_eval("math500,gpqa_diamond",
    llm, out_dir, thinking=..., repeats=..., judge=..., seed=...)` with any `EvalConfig` field as a keyword.
    `llm`: an `LLM`, or None to connect to `config.llm` (`llm_options` go to `connect`, e.g. model, api_key);
    `judge_llm` likewise for the judge. `loaded`: the config's tasks already loaded (or built in code). `live`: the
    counters a progress display watches. Bad input raises before anything is written: `TaskError` (a task),
    `EndpointError` (llm or judge), `StoreError` (the output folder).
    """
    if isinstance(tasks, EvalConfig):
        if out_dir is not None or options:
            raise TypeError("run_eval(config): the config holds the settings; pass no out_dir or EvalConfig fields")
        config = tasks
    else:
        if out_dir is None:
            raise TypeError("run_eval(tasks, llm, out_dir): out_dir is required")
        specs = split_task_list(tasks) if isinstance(tasks, str) else list(tasks)
        loaded = [load_task(t) for t in specs]
        judge = options.pop("judge", None)
        config = EvalConfig(
            tasks=[t.spec for t in loaded],
            out=Path(out_dir),
            llm=llm if isinstance(llm, str) else describe_endpoint(llm),
            judge=JudgeConfig(llm=judge) if isinstance(judge, str) else judge,
            **options,
        )
        llm = None if isinstance(llm, str) else llm
    runner = EvalRunner(config, loaded, live=live)
    owned = []
    try:
        if llm is None:
            llm = connect_source("llm", config.llm, **(llm_options or {}))
            owned.append(llm)
        if judge_llm is None and config.judge is not None and any(t.judged for t in runner.tasks):
            try:
                judge_llm = connect_judge(config.judge, api_key=judge_api_key)
            except (ValueError, OSError) as exc:
                raise EndpointError("judge", str(exc)) from None
            owned.append(judge_llm)
        if config.reasoning_budget is not None:  # a source the budget mode cannot use is refused before the folder exists
            from hermes4.llm.budget import check_budget_source

            try:
                check_budget_source(llm, config.budget_mode)
            except ValueError as exc:
                raise EndpointError("budget-mode", str(exc)) from None
        runner.open()
        return await runner.run(llm, judge_llm)
    finally:
        for source in owned:
            await source.aclose()
