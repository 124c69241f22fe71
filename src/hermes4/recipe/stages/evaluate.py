"""The `eval-base`, `eval-sft` and `eval-length-control` stages: serve the checkpoint with `hermes4 serve --model` and
run the eval suite over HTTP (`hermes4.eval.run_eval`), one session per thinking setting, into one eval run folder."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from hermes4.recipe.config import EvalTask, RecipeError
from hermes4.recipe.engine import model_endpoint
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import Stage, StageContext, StageSummary
from hermes4.recipe.stages.common import endpoints_up, thread_env

# The stage whose model each eval stage serves.
MODEL_STAGE = {"base": "model", "sft": "sft", "length-control": "length-control"}


class EvalSession(StageSummary):
    written: int
    skipped: int
    missing: int
    aborted: str | None
    wall_s: float


class EvalSummary(StageSummary):
    out: str
    model: str
    cells: list[dict[str, Any]]  # `hermes4.eval.compute_metrics` of the run folder, as it writes them to metrics.json
    sessions: list[EvalSession]


class ToolCallCheck:
    """Wraps a tool env so each verdict also says how many tool calls the model wrote (read with `hermes4.parse`,
    malformed ones included) and how many were valid (a known tool, arguments that pass its schema). The score is
    the env's own."""

    def __init__(self, env):
        self.env = env
        self.name = env.name

    def items(self, split: str = "test", seed: int = 0):
        return self.env.items(split, seed)

    async def rollout(self, item, llm, sampling, *, thinking: bool = False):
        return await self.env.rollout(item, llm, sampling, thinking=thinking)

    def verify(self, item, trajectory):
        from hermes4.envs.tool_rollout import python_registry

        verdict = self.env.verify(item, trajectory)
        written, valid = 0, 0
        registry = python_registry()
        for name, arguments in _calls(trajectory):
            written += 1
            if name is not None and name in registry and isinstance(arguments, dict):
                valid += not registry[name].check(arguments)
        verdict.details = {**verdict.details, "tool_calls_written": written, "tool_calls_valid": valid}
        return verdict


# A call the parser read but had to reject (it was written, it is not valid).
_REJECTED = ("unreadable_tool_call", "truncated_tool_call", "missing_name", "arguments_not_object")


def _calls(trajectory) -> list[tuple[str | None, Any]]:
    """(name, arguments) of every tool call the assistant turns wrote: calls the server already parsed into
    `tool_calls`, and calls written inline in the reasoning or the text (interleaved tool use), rejected ones as
    (None, None)."""
    from hermes4.parse import parse

    calls: list[tuple[str | None, Any]] = []
    for message in trajectory.messages:
        if message.role != "assistant":
            continue
        calls += [(call.name, call.arguments) for call in message.tool_calls or []]
        for text in (message.reasoning_content, message.content):
            if text and "<tool_call>" in text:
                parsed = parse(text, tools_in_reasoning=True)
                calls += [(call.name, call.arguments) for call in parsed.tool_calls]
                calls += [(None, None) for issue in parsed.issues if issue.kind in _REJECTED]
    return calls


class EvalStage(Stage):
    """Evaluate one of the recipe's models (`base`, `sft` or `length-control`)."""

    summary_type = EvalSummary

    def __init__(self, which: str) -> None:
        self.which = which
        self.name = f"eval-{which}"
        self.inputs = (MODEL_STAGE[which],)

    def folder(self, run: ResolvedRecipe) -> Path:
        return run.out / "eval" / self.which

    def sections(self, recipe: dict[str, Any]) -> list[Any]:
        return [recipe["eval"]]

    def run(self, context: StageContext) -> EvalSummary:
        from hermes4.eval import EvalConfig, compute_metrics
        from hermes4.progress import EvalCounters

        run, which = context.run, self.which
        section = run.recipe.eval
        assert section is not None
        model = run.model_dir(which)
        if not (model / "config.json").is_file():
            raise RecipeError(f"eval-{which}: no model at {model} (run the {which} stage first)")
        out = self.folder(run)
        groups: dict[str, list[EvalTask]] = {}
        for task in section.tasks:
            groups.setdefault(task.thinking, []).append(task)
        judge_url = None
        sessions = []
        with contextlib.ExitStack() as stack:
            served = stack.enter_context(model_endpoint(run.recipe.engine, model, name=which, env=thread_env(run),
                                                        log=out.parent / f"serve-{which}.log", max_batch=section.max_batch))
            if section.judge:
                judge_url = stack.enter_context(endpoints_up(run, {section.judge}, out.parent))[section.judge]
            for thinking, tasks in groups.items():
                loaded = eval_tasks(run, tasks)
                config = EvalConfig(tasks=[t.spec for t in loaded], out=out, llm=served.url, thinking=thinking,
                                    repeats=section.repeats, max_tokens=section.max_tokens,
                                    direct_max_tokens=section.direct_max_tokens, limit=section.limit,
                                    reasoning_budget=section.reasoning_budget, budget_mode=section.budget_mode,
                                    chat_format=run.train.model.format,
                                    concurrency=section.concurrency, seed=section.seed, temperature=section.temperature,
                                    top_p=section.top_p, top_k=section.top_k, name=which,
                                    judge={"llm": judge_url} if judge_url else None)
                live = EvalCounters()
                context.display.track(f"eval {which} ({', '.join(t.name for t in tasks)}; thinking {thinking})", live.progress)
                sessions.append(asyncio.run(_session(config, loaded, live)))
        failed = [s for s in sessions if s.missing or s.aborted]
        if failed:
            raise RuntimeError(f"eval-{which}: {failed[0].aborted or str(failed[0].missing) + ' samples missing'}; "
                               "rerun to finish them")
        return EvalSummary(out=str(out), model=str(model), cells=compute_metrics(out), sessions=sessions)


async def _session(config, loaded, live) -> EvalSession:
    from hermes4.eval import run_eval

    result = await run_eval(config, loaded=loaded, live=live)
    return EvalSession(written=result.written, skipped=result.skipped, missing=result.missing, aborted=result.aborted,
                       wall_s=result.wall_s)


def _user_text(conversation: Any) -> str | None:
    """The last user turn's text of a conversation record (`{"messages": [...]}`)."""
    messages = conversation.get("messages") if isinstance(conversation, dict) else None
    users = [m.get("content") for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else None


def training_prompts(run: ResolvedRecipe) -> set[str]:
    """The user prompts of every conversation the SFT mix reads (sources not on disk yet are skipped)."""
    from hermes4.store import read_records
    from hermes4.train.mix import MixSpec

    if run.train.data.mix is None:
        return set()
    prompts: set[str] = set()
    for source in MixSpec.parse(run.train.data.mix).sources:
        if Path(source.path).exists():
            prompts |= {text for record in read_records(source.path) if (text := _user_text(record)) is not None}
    return prompts


def eval_tasks(run: ResolvedRecipe, tasks: list[EvalTask]):
    """`hermes4.eval` Tasks for the recipe's eval entries (env items or named benchmarks)."""
    from hermes4.envs import get_env
    from hermes4.eval import Task, load_task

    out = []
    trained = training_prompts(run)
    for order, task in enumerate(tasks):
        if task.benchmark is not None:
            out.append(load_task(task.benchmark))
            continue
        env = get_env(task.env)
        # Held out means held out: an item whose prompt the training data also holds (a chance collision of the
        # envs' separately seeded train and test draws) is left out of the eval.
        items = [item for item in env.items(task.split, task.seed) if _user_text(item.prompt.to_json()) not in trained]
        if run.recipe.eval and run.recipe.eval.limit:
            items = items[: run.recipe.eval.limit]
        wrapped = ToolCallCheck(env) if task.headline == "tool_calls" else env
        out.append(Task(name=task.name, spec=task.name, label=task.name, metric="accuracy", items=items,
                        env=wrapped, source=f"{task.env} ({task.split} split)", order=order))
    return out
