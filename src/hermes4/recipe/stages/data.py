"""The `data` stage: every DataForge run, rejection-sampling run and prompt set of the recipe's `data:`, with the
served teachers up while they run."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hermes4.recipe.config import ForgeRun, SampleRun
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import Stage, StageContext, StageSummary
from hermes4.recipe.stages.common import connect_endpoint, endpoints_up, quiet_console


class ForgeRunSummary(StageSummary):
    """A DataForge run (`hermes4.forge.ForgeSummary`'s counts) and what the stage made of it."""

    walks: int
    skipped: int
    accepted: int
    discarded: int
    failed: int
    judge_errors: int
    revisions: int
    records: int
    stages: dict[str, int]
    top_paths: dict[str, int]
    failures: list[str]
    out: str
    final_jsonl: str
    final_records: int
    rejected_answers: int  # every answer the judge (the task's own checker) asked to revise or discarded


class EnvSampleSummary(StageSummary):
    """One env of a sampling run: `hermes4.sample.EnvTally`'s totals, with the verifier's passes and rejections."""

    items: int
    solved: int
    unsolved: int
    all_passed_items: int
    samples: int
    accepted: int
    accept_rate: float
    pass_rate: float
    solve_rate: float
    error_rate: float
    timeout_rate: float
    overlong_rate: float
    duplicates: int
    tokens: int
    passed: int
    rejected: int


class SampleRunSummary(StageSummary):
    out: str
    thinking: bool
    records: int
    envs: dict[str, EnvSampleSummary]


class PromptSetSummary(StageSummary):
    path: str
    prompts: int


class DataSummary(StageSummary):
    forge: dict[str, ForgeRunSummary] = {}
    sample: dict[str, SampleRunSummary] = {}
    prompts: dict[str, PromptSetSummary] = {}


class DataStage(Stage):
    name = "data"
    inputs = ()
    summary_type = DataSummary

    def folder(self, run: ResolvedRecipe) -> Path:
        return run.out / "data"

    def sections(self, recipe: dict[str, Any]) -> list[Any]:
        return [recipe["endpoints"], recipe["data"]]

    def run(self, context: StageContext) -> DataSummary:
        run, display = context.run, context.display
        section = run.recipe.data
        folder = self.folder(run)
        folder.mkdir(parents=True, exist_ok=True)
        needed = {r.llm for r in section.forge if r.llm} | {r.judge for r in section.forge if r.judge}
        needed |= {r.llm for r in section.sample}
        summary = DataSummary()
        with endpoints_up(run, needed, folder / "logs") as urls:
            for forge_run in section.forge:
                summary.forge[forge_run.name] = asyncio.run(_forge_one(run, forge_run, urls, folder, context))
            for sample_run in section.sample:
                summary.sample[sample_run.name] = asyncio.run(_sample_one(run, sample_run, urls, folder, context))
        for prompt_set in section.prompts:
            display.track(f"prompts {prompt_set.name}")
            summary.prompts[prompt_set.name] = _write_prompts(prompt_set, folder)
        from hermes4.store import write_json_atomic

        write_json_atomic(folder / "summary.json", summary.model_dump(mode="json"))
        return summary


async def _forge_one(run: ResolvedRecipe, forge_run: ForgeRun, urls: dict[str, str], folder: Path,
                     context: StageContext) -> ForgeRunSummary:
    from hermes4.curate.passages import load_passages
    from hermes4.forge.loader import load_graph
    from hermes4.forge.run import forge, synthetic_seeds

    graph = load_graph(forge_run.graph)
    passages = load_passages(forge_run.seeds) if forge_run.seeds else synthetic_seeds(forge_run.walks)
    if forge_run.walks is not None:
        passages = passages[: forge_run.walks]
    llms: dict[str, Any] = {}
    if forge_run.llm:
        llms["default"] = connect_endpoint(run, forge_run.llm, urls[forge_run.llm])
        judge = forge_run.judge or forge_run.llm
        llms["judge"] = connect_endpoint(run, judge, urls[judge]) if judge != forge_run.llm else llms["default"]
    out = folder / forge_run.name
    # forge() counts into its own LiveCounters; show walks done against the total meanwhile.
    started = time.monotonic()
    context.display.track(f"forge {forge_run.name} ({graph.name} graph, {len(passages)} walks)",
                          lambda: (_count_lines(out, "data") + _count_lines(out, "discarded"), len(passages),
                                   f"{time.monotonic() - started:.0f}s"))
    try:
        result = await forge(graph, passages, out, llms=llms, seed=forge_run.seed, concurrency=forge_run.concurrency,
                             console=quiet_console())
    finally:
        for llm in {id(v): v for v in llms.values()}.values():
            await llm.aclose()
    failure = result.failure(forge_run.name)
    if failure:  # failed walks are retried on a rerun, so the stage must not be marked done
        raise RuntimeError(f"{failure}; the data stage is not done, rerun to retry the failed walks")
    return ForgeRunSummary(**result.to_json(), out=str(out), final_jsonl=str(out / "final.jsonl"),
                           final_records=_export_finals(out),
                           rejected_answers=sum(1 for a in _attempts(out) if a.get("passed") is False))


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


async def _sample_one(run: ResolvedRecipe, sample_run: SampleRun, urls: dict[str, str], folder: Path,
                      context: StageContext) -> SampleRunSummary:
    from hermes4.progress import LiveCounters
    from hermes4.sample import run_sample

    out = folder / sample_run.name
    config = sample_run.to_config(urls[sample_run.llm], out)
    live = LiveCounters()
    llm = connect_endpoint(run, sample_run.llm, urls[sample_run.llm])
    context.display.track(f"sample {sample_run.name} ({', '.join(config.envs)}, thinking {'on' if config.thinking else 'off'})",
                          live.progress)
    try:
        result = await run_sample(config, llm, live=live)
    finally:
        await llm.aclose()
    if result.aborted or result.live.items_incomplete:
        raise RuntimeError(f"data.sample {sample_run.name}: {result.aborted or str(result.live.items_incomplete) + ' items failed'}"
                           "; rerun to continue where it stopped")
    envs = {}
    for spec, tally in result.summary.items():
        passed = round(tally["pass_rate"] * tally["samples"])
        envs[spec] = EnvSampleSummary(**tally, passed=passed, rejected=tally["samples"] - passed)
    return SampleRunSummary(out=str(out), thinking=config.thinking, records=result.live.records_written, envs=envs)


def _write_prompts(prompt_set, folder: Path) -> PromptSetSummary:
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
            # where the item comes from, so that a later stage can check an answer to it (length control's anchors)
            record["meta"] = {**(record.get("meta") or {}), "id": item.id, "env": prompt_set.env,
                              "split": prompt_set.split, "seed": prompt_set.seed}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return PromptSetSummary(path=str(path), prompts=len(items))
