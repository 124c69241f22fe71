"""`hermes4 forge`: walk a graph once per seed passage, concurrently, writing records exactly once.

Records go to the `data` stream of a dataset folder (`hermes4.store`): each walk's intermediate steps
(`meta.stage` = transform / instruction / answer / judge / revise) and then its final instruction-answer
conversation (`meta.stage` = final, `meta.id` = the walk id). A walk counts as done once its final record,
or its `discarded` record, is on disk; a rerun after `kill -9` redoes only the walks that are not done, and
the journal refuses any step record already written (step ids are the walk id plus the step's index).
A walk that fails for another reason (a model that is down, a node that breaks) goes to `failed` and is
retried on the next run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from hermes4.chat.messages import Conversation, Message
from hermes4.curate.passages import Passage
from hermes4.forge.builtin import final_pair
from hermes4.forge.graph import Graph, WalkContext, WalkError, walk
from hermes4.forge.nodes import Discarded
from hermes4.progress import show_progress
from hermes4.progress import LiveCounters
from hermes4.store import Store, content_id


@dataclass
class ForgeSummary:
    walks: int = 0
    skipped: int = 0  # done by an earlier run
    accepted: int = 0
    discarded: int = 0
    failed: int = 0
    judge_errors: int = 0
    revisions: int = 0
    records: int = 0
    stages: Counter = field(default_factory=Counter)
    paths: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "walks": self.walks, "skipped": self.skipped, "accepted": self.accepted, "discarded": self.discarded,
            "failed": self.failed, "judge_errors": self.judge_errors, "revisions": self.revisions,
            "records": self.records, "stages": dict(self.stages), "top_paths": dict(self.paths.most_common(10)),
            "failures": self.failures[:20],
        }


def walk_id(graph: Graph, seed: int, passage: Passage) -> str:
    return content_id("forge", graph.name, seed, passage.id, passage.text)


async def forge(
    graph: Graph,
    passages: list[Passage],
    out_dir: str | Path,
    *,
    llms: dict[str, Any] | None = None,
    seed: int = 0,
    concurrency: int = 64,
    console: Console | None = None,
) -> ForgeSummary:
    """One walk per passage; returns the summary (also written into the manifest)."""
    summary = ForgeSummary()
    done: set[str] = set()

    def observe_final(record: dict[str, Any]) -> None:
        meta = record.get("meta") or {}
        if meta.get("stage") == "final" or "walk" in record:
            done.add(meta.get("id") or record.get("walk"))

    store = Store(out_dir, config={"graph": graph.name, "seed": seed}, must_match=("graph", "seed"))
    data = store.stream("data", observe=observe_final)
    discarded = store.stream("discarded", key=lambda r: r.get("walk"), observe=observe_final)
    failed = store.stream("failed", key=lambda r: None)

    todo = []
    for passage in passages:
        wid = walk_id(graph, seed, passage)
        if wid in done:
            summary.skipped += 1
        else:
            todo.append((wid, passage))
    live = LiveCounters(items_total=len(passages), items_done=summary.skipped, items_skipped=summary.skipped)
    gate = asyncio.Semaphore(concurrency)

    async def one(wid: str, passage: Passage) -> None:
        async with gate:
            ctx = WalkContext.for_walk(seed, wid, llms)
            summary.walks += 1
            live.samples += 1
            try:
                state = await walk(graph, {"passage": passage.text, "passage_id": passage.id}, ctx)
            except Discarded as exc:
                summary.discarded += 1
                _count_attempts(summary, ctx)
                discarded.append({"walk": wid, "passage_id": passage.id, "reason": str(exc), "path": ctx.path, "attempts": ctx.attempts})
                live.items_done += 1
                return
            except WalkError as exc:
                summary.failed += 1
                summary.failures.append(f"{passage.id}: {exc}")
                failed.append({"walk": wid, "passage_id": passage.id, "error": str(exc), "path": ctx.path})
                live.items_incomplete += 1
                return
            _count_attempts(summary, ctx)
            base = {"source": "forge", "graph": graph.name, "walk": wid, "passage_id": passage.id, "path": ctx.path}
            for index, step in enumerate(ctx.steps):
                record = step.conversation.to_json()
                record["meta"] = {**base, "id": f"{wid}-s{index}", "stage": step.stage, "node": step.node}
                if data.append(record):
                    summary.records += 1
                    summary.stages[step.stage] += 1
            pair = final_pair(state)
            final = Conversation(
                messages=[Message(role="user", content=pair["user"]), Message(role="assistant", content=pair["assistant"])],
                thinking=False,
            ).to_json()
            final["meta"] = {
                **base, "id": wid, "stage": "final", "instruction_type": state.get("instruction_type"),
                "kind": state.get("kind"), "score": state.get("score"), "attempts": ctx.attempts,
            }
            if data.append(final):
                summary.records += 1
                summary.stages["final"] += 1
            summary.accepted += 1
            summary.paths[" > ".join(p.rsplit("/", 1)[-1] for p in ctx.path)] += 1
            live.accepted += 1
            live.records_written = summary.records
            live.items_done += 1

    try:
        async with show_progress(live, console, label="forge", unit="walks"):
            await asyncio.gather(*(one(wid, p) for wid, p in todo))
    finally:
        store.summary = summary.to_json()
        store.close()
    return summary


def _count_attempts(summary: ForgeSummary, ctx: WalkContext) -> None:
    summary.judge_errors += sum(1 for a in ctx.attempts if a.get("judge_error"))
    summary.revisions += sum(1 for a in ctx.attempts if a.get("revision", 0) > 0)


def synthetic_seeds(n: int) -> list[Passage]:
    """Seeds for graphs that do not read the passage (the procedural graph): distinct ids, no text needed."""
    return [Passage(id=f"seed-{i:06d}", text=f"procedural seed {i}") for i in range(n)]
