"""`hermes4 forge`: walk a graph once per seed passage, concurrently, writing records exactly once.

Records go to the `data` stream of a dataset folder (`hermes4.store`): each walk's intermediate steps
(`meta.stage` = transform / instruction / answer / judge / revise) and then its final instruction-answer
conversation (`meta.stage` = final, `meta.id` = the walk id). A walk counts as done once its final record,
or its `discarded` record, is on disk; a rerun after `kill -9` redoes only the walks that are not done, and
the journal refuses any step record already written (step ids are the walk id plus the step's index).
A walk that fails for another reason (a model that is down, a node that breaks) goes to `failed` and is
retried on the next run; `ForgeSummary.failure` says so in one line, for the CLI's exit code and the recipe.

`walks=N` means N walks: the seed passages are cycled when there are fewer than N (a later round of a passage
is a distinct walk with its own id and random path). The manifest's summary covers this run and, under `total`,
everything the folder holds from every run.
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
    total_accepted: int = 0  # in the folder, from this run and every earlier one
    total_discarded: int = 0
    total_records: int = 0

    @property
    def all_failed(self) -> bool:
        """This run attempted walks and not one of them ended (accepted or discarded)."""
        return self.walks > 0 and self.failed == self.walks

    def failure(self, name: str) -> str | None:
        """One line when walks failed (None when none did): how many, and the first error."""
        if not self.failed:
            return None
        first = self.failures[0] if self.failures else "no error recorded"
        amount = f"every walk failed ({self.failed} of {self.walks})" if self.all_failed else f"{self.failed} of {self.walks} walks failed"
        return f"forge {name}: {amount}; first: {first}"

    def to_json(self) -> dict[str, Any]:
        return {
            "walks": self.walks, "skipped": self.skipped, "accepted": self.accepted, "discarded": self.discarded,
            "failed": self.failed, "judge_errors": self.judge_errors, "revisions": self.revisions,
            "records": self.records, "stages": dict(self.stages), "top_paths": dict(self.paths.most_common(10)),
            "failures": self.failures[:20],
            "total": {"accepted": self.total_accepted, "discarded": self.total_discarded, "records": self.total_records},
        }


def walk_id(graph: Graph, seed: int, passage: Passage, round_: int = 0) -> str:
    """Round 0 is a passage's first walk (the id every earlier folder holds); later rounds are further walks."""
    if round_ == 0:
        return content_id("forge", graph.name, seed, passage.id, passage.text)
    return content_id("forge", graph.name, seed, passage.id, passage.text, round_)


async def forge(
    graph: Graph,
    passages: list[Passage],
    out_dir: str | Path,
    *,
    llms: dict[str, Any] | None = None,
    seed: int = 0,
    concurrency: int = 64,
    console: Console | None = None,
    walks: int | None = None,
) -> ForgeSummary:
    """`walks` walks (default: one per passage), cycling the passages; returns the summary (also in the manifest)."""
    if walks is not None and walks > 0 and not passages:
        raise ValueError(f"{walks} walks asked for, but there are no seed passages")
    summary = ForgeSummary()
    accepted: set[str] = set()
    ended_discarded: set[str] = set()

    def observe_final(record: dict[str, Any]) -> None:
        meta = record.get("meta") or {}
        if meta.get("stage") == "final":
            accepted.add(meta.get("id"))

    def observe_discarded(record: dict[str, Any]) -> None:
        ended_discarded.add(record.get("walk"))

    store = Store(out_dir, config={"graph": graph.name, "seed": seed}, must_match=("graph", "seed"))
    data = store.stream("data", observe=observe_final)
    discarded = store.stream("discarded", key=lambda r: r.get("walk"), observe=observe_discarded)
    failed = store.stream("failed", key=lambda r: None)

    count = len(passages) if walks is None else walks
    todo = []
    for index in range(count):
        passage = passages[index % len(passages)]
        wid = walk_id(graph, seed, passage, index // len(passages))
        if wid in accepted or wid in ended_discarded:
            summary.skipped += 1
        else:
            todo.append((wid, passage))
    live = LiveCounters(items_total=count, items_done=summary.skipped, items_skipped=summary.skipped)
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
        # the walks of this run were not among those that ended earlier, so the counts add up without overlap
        summary.total_accepted = len(accepted) + summary.accepted
        summary.total_discarded = len(ended_discarded) + summary.discarded
        summary.total_records = data.records
        store.summary = summary.to_json()
        store.close()
    return summary


def _count_attempts(summary: ForgeSummary, ctx: WalkContext) -> None:
    summary.judge_errors += sum(1 for a in ctx.attempts if a.get("judge_error"))
    summary.revisions += sum(1 for a in ctx.attempts if a.get("revision", 0) > 0)


def synthetic_seeds(n: int) -> list[Passage]:
    """Seeds for graphs that do not read the passage (the procedural graph): distinct ids, no text needed."""
    return [Passage(id=f"seed-{i:06d}", text=f"procedural seed {i}") for i in range(n)]
