"""The rejection-sampling policy over the rollout engine (`hermes4.sample.rollouts`): per item, waves of samples,
verify, keep up to k distinct correct paths.

Determinism and exactly-once, in one place:

- the seed of a request derives from (run seed, env, item id, sample index), never from run order, so a
  seeded model gives the same sample at the same index in every run;
- an item is scanned in sample-index order and accepts the first `keep` distinct passing samples, so the
  kept set does not depend on wave sizes or on timing;
- kept samples are written as their wave finishes, the item's ledger entry after its last wave; a rerun
  skips items with a ledger entry, reuses the kept samples an interrupted item already has (at their
  indices), and draws the others again. Record ids hash (env, item, normalised reasoning), so a record on
  disk is never written twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from hermes4.chat.messages import Conversation
from hermes4.envs import Env, Item, Trajectory, Verdict, get_env
from hermes4.llm import LLM, Sampling
from hermes4.progress import LiveCounters
from hermes4.sample.config import MUST_MATCH, SampleConfig
from hermes4.sample.rollouts import RolloutEngine, RolloutFailure, connect_source, jsonable, verdict_json
from hermes4.sample.select import distinct_key, item_key, over_budget, record_id
from hermes4.sample.tally import EnvTally, ItemCounts
from hermes4.store import Journal, Store, derive_seed

DATA_STREAM = "data"
ITEMS_STREAM = "items"


@dataclass
class _Job:
    env_spec: str
    env: Env
    item: Item
    key: str
    stored: dict[int, dict[str, Any]]  # sample index -> kept record from an interrupted earlier run


@dataclass
class _Outcome:
    index: int
    status: str  # see hermes4.sample.tally.OUTCOMES
    tokens: int = 0
    trajectory: Trajectory | None = None
    verdict: Verdict | None = None
    error: str | None = None
    stored: dict[str, Any] | None = None


@dataclass
class SampleResult:
    """What a run did: per-env totals (whole folder), this run's counters, and any repair or abort."""

    summary: dict[str, dict[str, Any]]
    live: LiveCounters
    repairs: list[str] = field(default_factory=list)
    aborted: str | None = None
    llm_stats: str | None = None


class Sampler:
    """Runs `config`: `open(store)` scans and repairs the output folder, `run(llm)` samples what is missing.

    `envs` (spec -> Env) overrides the registry, e.g. for envs built in code.
    """

    def __init__(self, config: SampleConfig, envs: dict[str, Env] | None = None, live: LiveCounters | None = None) -> None:
        self.config = config
        self._engine: RolloutEngine[_Job] | None = None
        self._store: Store | None = None
        self.envs = {spec: (envs or {}).get(spec) or get_env(spec) for spec in config.envs}
        self.live = live or LiveCounters()
        self._stored: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self._tallies: dict[str, EnvTally] = {spec: EnvTally() for spec in config.envs}
        self._data: Journal | None = None
        self._ledger: Journal | None = None

    # -- indexes rebuilt from the output folder --------------------------------------------------------

    def _observe_record(self, record: dict[str, Any]) -> None:
        meta = record.get("meta") or {}
        if meta.get("env") in self._tallies and isinstance(meta.get("sample_index"), int):
            key = item_key(meta["env"], str(meta.get("item_id")))
            if self._ledger is None or key not in self._ledger:
                self._stored[key][meta["sample_index"]] = record

    def _observe_item(self, entry: dict[str, Any]) -> None:
        meta = entry.get("meta") or {}
        tally = self._tallies.get(meta.get("env"))
        if tally is not None:
            tally.add_item(meta.get("status", "unsolved"), meta.get("counts") or {})

    # -- the run ---------------------------------------------------------------------------------------

    def open(self, store: Store) -> list[str]:
        """Scan the output folder (repairing torn tails) and index what earlier runs finished; returns the repairs."""
        self._store = store
        # The ledger first: kept records of finished items need no index, only those of interrupted ones.
        self._ledger = store.stream(ITEMS_STREAM, observe=self._observe_item)
        self._data = store.stream(DATA_STREAM, observe=self._observe_record)
        return [r.describe() for r in store.repairs]

    async def run(self, llm: LLM) -> SampleResult:
        config = self.config
        store = self._store
        if store is None or self._ledger is None:
            raise RuntimeError("Sampler.run: call open(store) first")
        jobs: deque[_Job] = deque()
        for spec, env in self.envs.items():
            items = env.items(config.split, config.seed)
            if config.limit is not None:
                items = items[: config.limit]
            self.live.items_total += len(items)
            for item in items:
                key = item_key(spec, item.id)
                if key in self._ledger:
                    self.live.items_done += 1
                    self.live.items_skipped += 1
                    continue
                jobs.append(_Job(spec, env, item, key, dict(self._stored.get(key, {}))))
        self._stored.clear()
        self.live.started = time.monotonic()
        engine: RolloutEngine[_Job] = RolloutEngine(llm, config.limits())
        self._engine = engine
        try:
            with engine:
                await engine.run(jobs, self._run_item)
        finally:
            store.summary = {"envs": self.summary(), "last_run": self._run_summary()}
        return SampleResult(
            summary=self.summary(),
            live=self.live,
            repairs=[r.describe() for r in store.repairs],
            aborted=engine.aborted,
            llm_stats=engine.llm_stats(),
        )

    @property
    def _abort(self) -> str | None:
        return self._engine.aborted if self._engine is not None else None

    def summary(self) -> dict[str, dict[str, Any]]:
        return {spec: tally.to_json() for spec, tally in self._tallies.items()}

    def _run_summary(self) -> dict[str, Any]:
        live = self.live
        return {
            "wall_s": round(live.elapsed, 3),
            "items_finished": live.items_done - live.items_skipped,
            "items_incomplete": live.items_incomplete,
            "samples": live.samples,
            "records_written": live.records_written,
            "samples_per_s": round(live.samples / live.elapsed, 3),
            "tokens_per_s": round(live.tokens_per_s, 1),
            "aborted": self._abort,
        }

    # -- one item --------------------------------------------------------------------------------------

    async def _run_item(self, job: _Job) -> None:
        config = self.config
        counts = ItemCounts()
        seen: set[str] = set()
        pending_stored = set(job.stored)  # kept earlier, not reached yet: their slots are reserved
        stored_trajectories = {i: _stored_trajectory(job, record) for i, record in job.stored.items()}
        next_index = 0
        undecided_misses = 0
        # Walk on while accepts are missing, or while an earlier run's kept sample lies ahead (so the counts
        # match those of an uninterrupted run).
        while next_index < config.group_size and self._abort is None and (
            counts.accepted + len(pending_stored) < config.keep or pending_stored
        ):
            need = config.keep - counts.accepted
            size = min(config.wave_size or need, config.group_size - next_index)
            indices = range(next_index, next_index + size)
            next_index += size
            outcomes = await asyncio.gather(
                *(self._stored_outcome(job, i, stored_trajectories[i]) if i in job.stored else self._sample(job, i) for i in indices)
            )
            for outcome in outcomes:  # in sample-index order: the kept set does not depend on timing
                if counts.accepted < config.keep and outcome.status != "pass":
                    undecided_misses += 1  # before the decision: what a wave of one would have drawn too
                counts.add(outcome.status, outcome.tokens)
                self.live.samples += 1
                self.live.tokens += outcome.tokens
                if outcome.status == "pass":
                    self.live.passed += 1
                if outcome.stored is not None:
                    pending_stored.discard(outcome.index)
                    if outcome.trajectory is not None:
                        seen.add(distinct_key(outcome.trajectory))
                    counts.accepted += 1
                    self.live.accepted += 1
                    continue
                if outcome.status != "pass" or outcome.trajectory is None:
                    continue
                key = distinct_key(outcome.trajectory)
                ahead = {distinct_key(stored_trajectories[i]) for i in pending_stored if stored_trajectories[i] is not None}
                if key in seen or key in ahead:  # ahead: a model that does not honour seeds repeated a kept path
                    counts.duplicates += 1
                    continue
                if counts.accepted + len(pending_stored) >= config.keep:
                    counts.surplus += 1
                    continue
                seen.add(key)
                counts.accepted += 1
                self.live.accepted += 1
                if self._write_sample(job, outcome, key):
                    self.live.records_written += 1
        counts.accepted += len(pending_stored)  # kept by an earlier run at indices this one did not reach
        counts.all_passed = int(counts.samples > 0 and undecided_misses == 0)
        if self._abort is not None or (counts.rollout_errors and counts.accepted < config.keep):
            # The model failed on this item: no ledger entry, so a rerun tries it again.
            self.live.items_incomplete += 1
            return
        self._finish_item(job, counts)

    async def _stored_outcome(self, job: _Job, index: int, trajectory: Trajectory | None) -> _Outcome:
        tokens = int((job.stored[index].get("meta") or {}).get("tokens") or 0)
        return _Outcome(index, "pass", tokens, trajectory=trajectory, stored=job.stored[index])

    async def _sample(self, job: _Job, index: int) -> _Outcome:
        config, engine = self.config, self._engine
        assert engine is not None
        sampling = Sampling(
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k,
            max_tokens=config.max_tokens,
            seed=derive_seed(config.seed, job.env_spec, job.item.id, index),
        )
        trajectory = await engine.rollout(lambda: job.env.rollout(job.item, engine.llm, sampling, thinking=config.thinking))
        if isinstance(trajectory, RolloutFailure):
            return _Outcome(index, trajectory.status, error=trajectory.error)
        tokens = int(trajectory.completion_tokens or 0)
        if over_budget(trajectory, config.max_tokens):
            return _Outcome(index, "overlong", tokens, trajectory=trajectory)
        verdict = await engine.verify(job.env.verify, job.item, trajectory)
        return _Outcome(index, verdict.status, tokens, trajectory=trajectory, verdict=verdict)

    # -- writing ---------------------------------------------------------------------------------------

    def _write_sample(self, job: _Job, outcome: _Outcome, key: str) -> bool:
        assert outcome.trajectory is not None and outcome.verdict is not None and self._data is not None
        prompt = job.item.prompt
        conversation = Conversation(
            messages=[*prompt.messages, *outcome.trajectory.messages],
            tools=prompt.tools,
            thinking=self.config.thinking,
            meta={
                "id": record_id(job.env_spec, job.item.id, key),
                "source": "sample",
                "env": job.env_spec,
                "item_id": job.item.id,
                "verdict": verdict_json(outcome.verdict),
                "sample_index": outcome.index,
                "tokens": outcome.tokens,
                "finish_reason": outcome.trajectory.finish_reason,
            },
        )
        return self._data.append(conversation.to_json())

    def _finish_item(self, job: _Job, counts: ItemCounts) -> None:
        assert self._ledger is not None
        status = "solved" if counts.accepted else "unsolved"
        entry: dict[str, Any] = {
            "meta": {
                "id": job.key,
                "source": "sample",
                "env": job.env_spec,
                "item_id": job.item.id,
                "status": status,
                "counts": counts.to_json(),
            }
        }
        if status == "unsolved":  # the prompt, so hard items can be retried or sent elsewhere
            entry["prompt"] = jsonable(job.item.prompt.to_json())
        if self._ledger.append(entry):
            self._tallies[job.env_spec].add_item(status, counts.to_json())
        self.live.items_done += 1


def _stored_trajectory(job: _Job, record: dict[str, Any]) -> Trajectory | None:
    """What the model produced in a kept record (the messages after the prompt)."""
    try:
        conversation = Conversation.parse(record)
    except ValueError:  # a hand-edited record: it still counts as kept, it just has no distinct key
        return None
    tokens = int((record.get("meta") or {}).get("tokens") or 0)
    return Trajectory(messages=conversation.messages[len(job.item.prompt.messages) :], completion_tokens=tokens)


async def run_sample(
    config: SampleConfig,
    llm: LLM | None = None,
    *,
    envs: dict[str, Env] | None = None,
    live: LiveCounters | None = None,
    llm_options: dict[str, Any] | None = None,
) -> SampleResult:
    """Run `config` into `config.out` (created or resumed) and return what happened: what `hermes4 sample` and the
    recipe's data stage both call. `llm` None connects to `config.llm` with `llm_options` (and closes it after); `live` is the counters
    a progress display watches. Bad input raises before anything is written: `EnvSpecError` (an env spec),
    `EndpointError` (`config.llm`), `StoreError` (`config.out`)."""
    sampler = Sampler(config, envs, live)
    owned = None
    if llm is None:
        llm = owned = connect_source("llm", config.llm, **(llm_options or {}))
    try:
        with Store(config.out, config=config.fingerprint(), must_match=MUST_MATCH) as store:
            sampler.open(store)
            return await sampler.run(llm)
    finally:
        if owned is not None:
            await owned.aclose()
