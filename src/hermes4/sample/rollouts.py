"""The one rollout engine under rejection sampling and evaluation: jobs drained by concurrent workers, model calls
bounded, timed out and counted towards an abort when too many fail in a row, checkers in a thread pool, the model's
stats. The policies on top decide what a job is and what happens to its outcome: `hermes4.sample.engine` keeps k
distinct correct paths per item, `hermes4.eval.runner` scores every sample."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from hermes4.envs import Item, Trajectory, Verdict

J = TypeVar("J")


class EndpointError(ValueError):
    """A model source named by a run's config that cannot be connected; `field` names the config field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def connect_source(field: str, spec: str, **options: Any) -> Any:
    """`hermes4.llm.connect(spec, **options)`, with a failure raised as an `EndpointError` naming `field`."""
    from hermes4.llm import connect

    try:
        return connect(spec, **options)
    except (ValueError, OSError) as exc:
        raise EndpointError(field, str(exc)) from None


@dataclass(frozen=True)
class RolloutFailure:
    """A rollout that produced nothing to judge: it ran past the timeout, or the model call failed for good."""

    status: Literal["timeout", "rollout_error"]
    error: str


@dataclass(frozen=True)
class RolloutLimits:
    """How hard a run drives the model: calls in flight, checker threads, the time one rollout may take, and how many
    failed calls in a row mean the model is down."""

    concurrency: int
    verify_workers: int
    rollout_timeout_s: float | None
    max_consecutive_failures: int


class RolloutEngine(Generic[J]):
    """Runs jobs over one model: `with RolloutEngine(llm, ...) as engine: await engine.run(jobs, handle)`, where
    `handle` calls `engine.rollout(...)` and `engine.verify(...)` (usable until the `with` block ends).

    `concurrency` bounds the model calls in flight (and the workers); `verify_workers` the checker threads. After
    `max_consecutive_failures` failed calls in a row `aborted` says why, the workers stop taking jobs and
    `rollout` refuses new calls: everything finished so far stays written, a rerun resumes.
    """

    def __init__(self, llm: Any, limits: RolloutLimits) -> None:
        self.llm = llm
        self.limits = limits
        self.aborted: str | None = None
        self._failures_in_a_row = 0
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._pool = ThreadPoolExecutor(max_workers=limits.verify_workers, thread_name_prefix="verify")

    def __enter__(self) -> RolloutEngine[J]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, jobs: deque[J], handle: Callable[[J], Awaitable[None]]) -> None:
        """Drain `jobs` with up to `concurrency` workers; a failing worker cancels the others and the error propagates."""

        async def worker() -> None:
            while jobs and self.aborted is None:
                await handle(jobs.popleft())

        await gather_or_cancel([asyncio.create_task(worker()) for _ in range(min(self.limits.concurrency, len(jobs)))])

    async def rollout(self, rollout: Callable[[], Awaitable[Trajectory]]) -> Trajectory | RolloutFailure:
        """One rollout within the concurrency bound and the timeout. A timeout is the rollout's own outcome (the model
        answers, just too long); a raised call counts towards the abort."""
        async with self._slots:
            if self.aborted is not None:
                return RolloutFailure("rollout_error", "run aborted")
            try:
                trajectory = await asyncio.wait_for(rollout(), self.limits.rollout_timeout_s)
            except asyncio.TimeoutError:
                self._failures_in_a_row = 0
                return RolloutFailure("timeout", f"rollout exceeded {self.limits.rollout_timeout_s:g}s")
            except Exception as exc:  # the model call failed for good (after the client's retries); a rerun retries it
                message = f"{type(exc).__name__}: {exc}"
                self._failures_in_a_row += 1
                if self._failures_in_a_row >= self.limits.max_consecutive_failures and self.aborted is None:
                    self.aborted = f"{self._failures_in_a_row} model calls failed in a row; last: {message}"
                return RolloutFailure("rollout_error", message)
        self._failures_in_a_row = 0
        return trajectory

    async def verify(self, check: Callable[[Item, Trajectory], Verdict], item: Item, trajectory: Trajectory) -> Verdict:
        """`check(item, trajectory)` in the thread pool: checkers parse, run sympy or wait on the sandbox, and must not
        stall the event loop that drives generation."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, check, item, trajectory)

    def llm_stats(self) -> str | None:
        return llm_stats(self.llm)


async def gather_or_cancel(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait for every task; when one fails (or the wait is cancelled), cancel the rest before the error propagates."""
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def llm_stats(llm: Any) -> str | None:
    """The model source's one-line stats (requests, retries, tokens), when it keeps them."""
    try:
        return llm.stats().summary()
    except Exception:  # stats are a courtesy; a source without them still ran fine
        return None


def jsonable(value: Any) -> Any:
    """`value` as plain JSON (anything else becomes its string), so a record can always be written."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The verdict as a record stores it: plain JSON, without the checker's timing (`verify_s`), because records of
    two equal runs must be equal."""
    data = jsonable(verdict.to_json())
    data["details"] = {k: v for k, v in (data.get("details") or {}).items() if k != "verify_s"}
    return data
