"""What each stage of a recipe does, through the layers' own APIs: make the tiny model, make data (DataForge and
rejection sampling against teachers served over HTTP), SFT (the trainer, one process or torchrun), evaluate a
served checkpoint, length control. Each returns a summary (JSON values) that the stage marker keeps and the
report reads. The runner (`hermes4.recipe.runner`) decides which stages run; these functions just run one."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from hermes4.recipe.config import EvalTask, RecipeError
from hermes4.recipe.display import RunDisplay
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.llm.spawn import Served, serve, serve_command
from hermes4.store import write_json_atomic

# ------------------------------------------------------------------------------------------------ helpers


def _quiet_console() -> Console:
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
            served: Served = stack.enter_context(serve(
                serve_command(scripted=spec.scripted, model=spec.model, max_batch=spec.max_batch, name=name),
                env=spec.env, log=logs / f"serve-{name}.log"))
            urls[name] = served.url
        yield urls


def _connect(run: ResolvedRecipe, name: str, url: str):
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


# -------------------------------------------------------------------------------------------------- model


def run_model(run: ResolvedRecipe, display: RunDisplay) -> dict[str, Any]:
    """Make the tiny base model (tokenizer + random-init Qwen3) where `train.model.path` points."""
    from hermes4.train.tiny import TinySize, init_tiny

    tiny = run.recipe.model.tiny
    assert tiny is not None
    target = Path(run.train.model.path)
    display.track(f"tiny model -> {target}")
    init_tiny(target, format=run.train.model.format, size=TinySize(**tiny.size), vocab_size=tiny.vocab_size,
              seed=tiny.seed)
    from transformers import AutoConfig

    from hermes4.train.metrics import ModelShape

    shape = ModelShape.from_hf_config(AutoConfig.from_pretrained(target))
    return {"path": str(target), "params": shape.params, "layers": shape.layers, "hidden": shape.hidden,
            "vocab": shape.vocab}


# --------------------------------------------------------------------------------------------------- data


def run_data(run: ResolvedRecipe, display: RunDisplay) -> dict[str, Any]:
    """Every forge run, sample run and prompt set of `data:`, with the served teachers up while they run."""
    section = run.recipe.data
    folder = run.stage_dir("data")
    folder.mkdir(parents=True, exist_ok=True)
    needed = {r.llm for r in section.forge if r.llm} | {r.judge for r in section.forge if r.judge}
    needed |= {r.llm for r in section.sample}
    summary: dict[str, Any] = {"forge": {}, "sample": {}, "prompts": {}}
    with endpoints_up(run, needed, folder / "logs") as urls:
        for forge_run in section.forge:
            summary["forge"][forge_run.name] = asyncio.run(_forge_one(run, forge_run, urls, folder, display))
        for sample_run in section.sample:
            summary["sample"][sample_run.name] = asyncio.run(_sample_one(run, sample_run, urls, folder, display))
    for prompt_set in section.prompts:
        display.track(f"prompts {prompt_set.name}")
        summary["prompts"][prompt_set.name] = _write_prompts(prompt_set, folder)
    write_json_atomic(folder / "summary.json", summary)
    return summary


async def _forge_one(run, forge_run, urls: dict[str, str], folder: Path, display: RunDisplay) -> dict[str, Any]:
    from hermes4.curate.passages import load_passages
    from hermes4.forge.loader import load_graph
    from hermes4.forge.run import forge, synthetic_seeds

    graph = load_graph(forge_run.graph)
    passages = load_passages(forge_run.seeds) if forge_run.seeds else synthetic_seeds(forge_run.walks)
    if forge_run.walks is not None:
        passages = passages[: forge_run.walks]
    llms: dict[str, Any] = {}
    if forge_run.llm:
        llms["default"] = _connect(run, forge_run.llm, urls[forge_run.llm])
        judge = forge_run.judge or forge_run.llm
        llms["judge"] = _connect(run, judge, urls[judge]) if judge != forge_run.llm else llms["default"]
    out = folder / forge_run.name
    # forge() counts into its own LiveCounters; show walks done against the total meanwhile.
    started = time.monotonic()
    display.track(f"forge {forge_run.name} ({graph.name} graph, {len(passages)} walks)",
                  lambda: (_count_lines(out, "data") + _count_lines(out, "discarded"), len(passages),
                           f"{time.monotonic() - started:.0f}s"))
    try:
        result = await forge(graph, passages, out, llms=llms, seed=forge_run.seed, concurrency=forge_run.concurrency,
                             console=_quiet_console())
    finally:
        for llm in {id(v): v for v in llms.values()}.values():
            await llm.aclose()
    failure = result.failure(forge_run.name)
    if failure:  # failed walks are retried on a rerun, so the stage must not be marked done (issue 16)
        raise RuntimeError(f"{failure}; the data stage is not done, rerun to retry the failed walks")
    finals = _export_finals(out)
    info = result.to_json()
    info.update({"out": str(out), "final_jsonl": str(out / "final.jsonl"), "final_records": finals,
                 # every rejected answer: the judge (the task's own checker) asked for a revision or discarded it
                 "rejected_answers": sum(1 for a in _attempts(out) if a.get("passed") is False)})
    return info


def _count_lines(folder: Path, stream: str) -> int:
    from hermes4.store import list_shards

    total = 0
    for shard in list_shards(folder, stream):
        with open(shard, "rb") as handle:
            total += sum(1 for _ in handle)
    return total


def _attempts(folder: Path) -> Iterator[dict[str, Any]]:
    """Every judged attempt recorded by finished walks, discarded ones included."""
    from hermes4.store import read_records

    for stream in ("data", "discarded"):
        for record in read_records(folder, stream=stream):
            meta = record.get("meta") or {}
            if stream == "data" and meta.get("stage") != "final":
                continue
            yield from (record.get("attempts") if stream == "discarded" else meta.get("attempts")) or []


def _export_finals(folder: Path) -> int:
    """`final.jsonl` beside the dataset: only the walks' final instruction-answer pairs (no intermediate steps)."""
    from hermes4.store import read_records

    finals = [r for r in read_records(folder) if (r.get("meta") or {}).get("stage") == "final"]
    tmp = folder / ".final.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in finals:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, folder / "final.jsonl")
    return len(finals)


async def _sample_one(run, sample_run, urls: dict[str, str], folder: Path, display: RunDisplay) -> dict[str, Any]:
    from hermes4.sample import Sampler
    from hermes4.sample.config import MUST_MATCH
    from hermes4.store import Store

    out = folder / sample_run.name
    config = sample_run.to_config(urls[sample_run.llm], out)
    sampler = Sampler(config)
    llm = _connect(run, sample_run.llm, urls[sample_run.llm])
    display.track(f"sample {sample_run.name} ({', '.join(config.envs)}, thinking {'on' if config.thinking else 'off'})",
                  sampler.live.progress)
    try:
        with Store(config.out, config=config.fingerprint(), must_match=MUST_MATCH) as store:
            sampler.open(store)
            result = await sampler.run(llm)
    finally:
        await llm.aclose()
    if result.aborted or result.live.items_incomplete:
        raise RuntimeError(f"data.sample {sample_run.name}: {result.aborted or str(result.live.items_incomplete) + ' items failed'}"
                           "; rerun to continue where it stopped")
    envs = {}
    for spec, tally in result.summary.items():
        passed = round(tally["pass_rate"] * tally["samples"])
        envs[spec] = {**tally, "passed": passed, "rejected": tally["samples"] - passed}
    return {"out": str(out), "thinking": config.thinking, "records": result.live.records_written, "envs": envs}


def _write_prompts(prompt_set, folder: Path) -> dict[str, Any]:
    from hermes4.envs import get_env

    items = get_env(prompt_set.env).items(prompt_set.split, prompt_set.seed)
    if prompt_set.limit:
        items = items[: prompt_set.limit]
    path = folder / f"{prompt_set.name}.jsonl"
    tmp = folder / f".{prompt_set.name}.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        for item in items:
            conversation = item.prompt.model_copy(update={"thinking": prompt_set.thinking})
            record = conversation.to_json()
            record["meta"] = {**(record.get("meta") or {}), "id": item.id, "env": prompt_set.env}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return {"path": str(path), "prompts": len(items)}


# ---------------------------------------------------------------------------------------------------- sft


def _thread_env(run: ResolvedRecipe) -> dict[str, str]:
    """Torch threads of the processes a run starts (trainers, served models), when the recipe sets them."""
    threads = run.recipe.launch.threads_per_process
    return {"OMP_NUM_THREADS": str(threads)} if threads else {}


def train_command(run: ResolvedRecipe, *extra: str) -> tuple[list[str], dict[str, str]]:
    """`python -m hermes4.train RESOLVED` (one process) or `torchrun --nproc_per_node N -m hermes4.train ...`."""
    launch = run.recipe.launch
    env = {**os.environ, **_thread_env(run)}
    target = [str(run.resolved_file), *extra]
    if launch.nproc_per_node > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={launch.nproc_per_node}", "-m", "hermes4.train", *target]
    else:
        command = [sys.executable, "-m", "hermes4.train", *target]
    return command, env


def _metrics_activity(path: Path, total: int, started: float):
    """(steps done, steps, `loss … · tok/s`) from the trainer's metrics JSONL, read as it grows."""
    state = {"size": -1, "line": None}

    def activity() -> tuple[int, int, str]:
        try:
            size = path.stat().st_size
        except OSError:
            return 0, total, f"starting · {time.monotonic() - started:.0f}s"
        if size != state["size"]:
            state["size"] = size
            with open(path, "rb") as handle:
                lines = handle.read().splitlines()
            for raw in reversed(lines):
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


def _run_logged(command: list[str], env: dict[str, str], log: Path, what: str) -> None:
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


def _train_summary(metrics: list[dict[str, Any]], export: Path, seconds: float) -> dict[str, Any]:
    """Steps, tokens (exact when every step was logged, else scaled from the logged ones), loss, speed."""
    last = metrics[-1] if metrics else {}
    steps = int(last.get("step", 0))
    logged = sum(int(m.get("tokens", 0)) for m in metrics)
    exact = len(metrics) == steps
    tokens = logged if exact or not metrics else round(logged / len(metrics) * steps)
    elapsed = float(last.get("elapsed_s") or seconds)
    return {"steps": steps, "final_loss": last.get("loss"), "first_loss": metrics[0]["loss"] if metrics else None,
            "tokens": tokens, "tokens_exact": exact, "train_seconds": round(elapsed, 2),
            "tokens_per_s": round(tokens / elapsed, 1) if elapsed else None, "export": str(export),
            "wall_seconds": round(seconds, 2)}


def run_sft(run: ResolvedRecipe, display: RunDisplay) -> dict[str, Any]:
    """The trainer on the mix: tokenize (cached), pack, train, export; resumes from its last checkpoint."""
    cfg = run.train
    run.write_resolved()
    command, env = train_command(run)
    started = time.monotonic()
    procs = run.recipe.launch.nproc_per_node
    display.track(f"train ({'torchrun ' + str(procs) + ' processes' if procs > 1 else 'one process'})",
                  _metrics_activity(cfg.resolved("jsonl"), cfg.schedule.steps, started))
    _run_logged(command, env, Path(cfg.output_dir) / "train.log", "sft: hermes4.train")
    summary = _train_summary(read_metrics(cfg.resolved("jsonl")), cfg.resolved("export"), time.monotonic() - started)
    summary["processes"] = procs
    return summary


# ---------------------------------------------------------------------------------------------------- eval


class ToolCallCheck:
    """Wraps a tool env so each verdict also says how many tool calls the model wrote and how many were valid
    (a known tool, arguments that pass the tool's schema). The score is the env's own."""

    def __init__(self, env):
        self.env = env
        self.name = env.name

    def items(self, split: str = "test", seed: int = 0):
        return self.env.items(split, seed)

    async def rollout(self, item, llm, sampling, *, thinking: bool = False):
        return await self.env.rollout(item, llm, sampling, thinking=thinking)

    def verify(self, item, trajectory):
        from hermes4.envs.tool_rollout import python_registry
        from hermes4.envs.tool_use import tool_exchanges

        verdict = self.env.verify(item, trajectory)
        registry = python_registry()
        written = 0
        for message in trajectory.messages:
            if message.role == "assistant":
                written += len(message.tool_calls or [])
                written += sum((t or "").count("<tool_call>") for t in (message.reasoning_content, message.content))
        valid = 0
        for exchange in tool_exchanges(trajectory):
            if exchange.name in registry and isinstance(exchange.arguments, dict) and "raw" not in exchange.arguments:
                valid += not registry[exchange.name].check(exchange.arguments)
        verdict.details = {**verdict.details, "tool_calls_written": written, "tool_calls_valid": min(valid, written)}
        return verdict


def eval_tasks(run: ResolvedRecipe, tasks: list[EvalTask]):
    """`hermes4.eval` Tasks for the recipe's eval entries (env items or named benchmarks)."""
    from hermes4.envs import get_env
    from hermes4.eval import Task, load_task

    out = []
    for order, task in enumerate(tasks):
        if task.benchmark is not None:
            out.append(load_task(task.benchmark))
            continue
        env = get_env(task.env)
        items = env.items(task.split, task.seed)
        if run.recipe.eval and run.recipe.eval.limit:
            items = items[: run.recipe.eval.limit]
        wrapped = ToolCallCheck(env) if task.headline == "tool_calls" else env
        out.append(Task(name=task.name, spec=task.name, label=task.name, metric="accuracy", items=items,
                        env=wrapped, source=f"{task.env} ({task.split} split)", order=order))
    return out


def run_eval_stage(run: ResolvedRecipe, which: str, display: RunDisplay) -> dict[str, Any]:
    """Serve the `which` checkpoint with `hermes4 serve --model` and run the eval suite over HTTP, one session per
    thinking setting (reasoning, non-reasoning or both), all into one eval run folder."""
    from hermes4.eval import EvalConfig, EvalRunner, compute_metrics

    section = run.recipe.eval
    assert section is not None
    model = run.model_dir(which)
    if not (model / "config.json").is_file():
        raise RecipeError(f"eval-{which}: no model at {model} (run the {which} stage first)")
    out = run.stage_dir(f"eval-{which}")
    groups: dict[str, list[EvalTask]] = {}
    for task in section.tasks:
        groups.setdefault(task.thinking, []).append(task)
    judge_url = None
    sessions = []
    with contextlib.ExitStack() as stack:
        served = stack.enter_context(serve(serve_command(model=model, max_batch=section.max_batch, name=which),
                                           env=_thread_env(run), log=out.parent / f"serve-{which}.log"))
        if section.judge:
            judge_url = stack.enter_context(endpoints_up(run, {section.judge}, out.parent))[section.judge]
        for thinking, tasks in groups.items():
            loaded = eval_tasks(run, tasks)
            config = EvalConfig(tasks=[t.spec for t in loaded], out=out, llm=served.url, thinking=thinking,
                                repeats=section.repeats, max_tokens=section.max_tokens,
                                direct_max_tokens=section.direct_max_tokens, limit=section.limit,
                                concurrency=section.concurrency, seed=section.seed, temperature=section.temperature,
                                top_p=section.top_p, top_k=section.top_k, name=which,
                                judge={"llm": judge_url} if judge_url else None)
            runner = EvalRunner(config, loaded)
            display.track(f"eval {which} ({', '.join(t.name for t in tasks)}; thinking {thinking})", runner.live.progress)
            sessions.append(asyncio.run(_eval_session(runner, served.url, judge_url)))
    cells = compute_metrics(out)
    failed = [s for s in sessions if s["missing"] or s["aborted"]]
    if failed:
        raise RuntimeError(f"eval-{which}: {failed[0]['aborted'] or str(failed[0]['missing']) + ' samples missing'}; "
                           "rerun to finish them")
    return {"out": str(out), "model": str(model), "cells": cells, "sessions": sessions}


async def _eval_session(runner, url: str, judge_url: str | None) -> dict[str, Any]:
    from hermes4.llm import connect

    llm = connect(url)
    judge = connect(judge_url) if judge_url else None
    try:
        runner.open()
        result = await runner.run(llm, judge)
    finally:
        await llm.aclose()
        if judge is not None:
            await judge.aclose()
    return {"written": result.written, "skipped": result.skipped, "missing": result.missing, "aborted": result.aborted,
            "wall_s": result.wall_s}


# ---------------------------------------------------------------------------------------------- length control


def run_length_control_stage(run: ResolvedRecipe, display: RunDisplay) -> dict[str, Any]:
    """Serve the SFT checkpoint, generate traces over HTTP, cut those over the budget, train on `</think>` + end of
    turn only (`hermes4.train.length_control`), from the SFT checkpoint."""
    from hermes4.train.length_control import run_length_control

    lc = run.length_control
    assert lc is not None
    sft = run.model_dir("sft")
    if not (sft / "config.json").is_file():
        raise RecipeError(f"length-control: no SFT model at {sft} (run the sft stage first)")
    out = run.stage_dir("length-control")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    total = _count_prompts(Path(lc.prompts)) * lc.samples_per_prompt
    with serve(serve_command(model=sft, max_batch=run.recipe.eval.max_batch if run.recipe.eval else 32, name="sft"),
               env=_thread_env(run), log=out / "serve-sft.log") as served:
        display.track(f"generate {total} traces with the served SFT model (budget {lc.generation_budget} tokens)",
                      lambda: (0, 0, f"{time.monotonic() - started:.0f}s"))
        result = run_length_control(lc.model_copy(update={"llm": served.url}), train_model=False)
    summary: dict[str, Any] = {k: v for k, v in result.items() if k != "train"}
    if result.get("used"):
        run.write_resolved()
        command, env = train_command(run, "--length-control")
        train_started = time.monotonic()
        display.track("train on </think> + end of turn only",
                      _metrics_activity(lc.train.resolved("jsonl"), lc.train.schedule.steps, train_started))
        _run_logged(command, env, out / "train.log", "length-control: hermes4.train --length-control")
        summary["train"] = _train_summary(read_metrics(lc.train.resolved("jsonl")), lc.train.resolved("export"),
                                          time.monotonic() - train_started)
    else:
        raise RuntimeError("length-control: no trace ran past the control budget, so there is nothing to train; "
                           f"lower length_control.control_budget (now {lc.control_budget})")
    write_json_atomic(out / "stage_summary.json", summary)
    return summary


def _count_prompts(path: Path) -> int:
    from hermes4.store import read_records

    return sum(1 for _ in read_records(path))
