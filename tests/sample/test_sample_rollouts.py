"""The rollout engine shared by sampling and evaluation: concurrency bound, timeouts as outcomes, abort after
failures in a row, checkers off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from hermes4.envs import Item, Trajectory, Verdict
from hermes4.sample.rollouts import RolloutEngine, RolloutFailure, RolloutLimits

LIMITS = RolloutLimits(concurrency=3, verify_workers=2, rollout_timeout_s=0.5, max_consecutive_failures=4)


async def test_calls_stay_within_the_bound_and_timeouts_do_not_abort() -> None:
    in_flight, peak, outcomes = 0, 0, []

    async def call(job: int) -> Trajectory:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(5 if job % 5 == 0 else 0.01)  # every fifth call hangs past the timeout
        finally:
            in_flight -= 1
        return Trajectory.from_text(str(job))

    async def handle(job: int) -> None:
        outcomes.append(await engine.rollout(lambda: call(job)))

    with RolloutEngine(None, LIMITS) as engine:
        await engine.run(deque(range(12)), handle)
    timeouts = [o for o in outcomes if isinstance(o, RolloutFailure)]
    assert peak <= 3 and len(outcomes) == 12 and engine.aborted is None
    assert len(timeouts) == 3 and all(o.status == "timeout" for o in timeouts)


async def test_failures_in_a_row_abort_and_stop_taking_jobs() -> None:
    taken = []

    async def broken() -> Trajectory:
        raise ConnectionError("connection refused")

    async def handle(job: int) -> None:
        taken.append(job)
        await engine.rollout(broken)

    with RolloutEngine(None, LIMITS) as engine:
        await engine.run(deque(range(100)), handle)
    assert engine.aborted and "4 model calls failed in a row" in engine.aborted and "connection refused" in engine.aborted
    assert len(taken) < 100


async def test_checkers_run_in_the_thread_pool() -> None:
    loop_thread = threading.get_ident()

    def check(item: Item, trajectory: Trajectory) -> Verdict:
        return Verdict.judge(threading.get_ident() != loop_thread)

    with RolloutEngine(None, LIMITS) as engine:
        verdict = await engine.verify(check, Item(id="x", prompt=None, reference=None), Trajectory.from_text("a"))  # type: ignore[arg-type]
    assert verdict.status == "pass"
