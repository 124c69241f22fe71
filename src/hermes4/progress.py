"""Live progress of every long run (sample, forge, eval): the counters the runs update, and the display they share,
a rich bar on a terminal, one status line every few seconds in logs and pipes.

A run's counters object only has to say where it is: `progress() -> (done, total, status)`, where
`status` is one line such as `samples 40 · accept 75.0% · 1,200 tok/s · ETA 0:42`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Console


class Progressing(Protocol):
    def progress(self) -> tuple[int, int, str]:
        """(units done, units in total, one-line status without the done/total count)."""
        ...


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class RunClock:
    """What the counters of every run share: completion tokens and the wall time since the run started."""

    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed


@dataclass
class LiveCounters(RunClock):
    """This run's progress, read by the progress display."""

    items_total: int = 0
    items_done: int = 0  # finished by an earlier run or this one
    items_skipped: int = 0  # already finished when this run started
    items_incomplete: int = 0  # left for a rerun (the model call failed)
    samples: int = 0
    passed: int = 0
    accepted: int = 0
    records_written: int = 0

    @property
    def accept_rate(self) -> float:
        return self.accepted / self.samples if self.samples else 0.0

    def progress(self) -> tuple[int, int, str]:
        status = f"samples {self.samples} · accept {self.accept_rate:.1%} · {self.tokens_per_s:,.0f} tok/s · ETA {format_eta(self.eta_s)}"
        return self.items_done, self.items_total, status

    @property
    def eta_s(self) -> float | None:
        finished_now = self.items_done - self.items_skipped
        remaining = self.items_total - self.items_done - self.items_incomplete
        if finished_now <= 0:
            return None
        return remaining * self.elapsed / finished_now


@dataclass
class EvalCounters(RunClock):
    """This run's progress, updated by the runner and read by the display."""

    total: int = 0  # samples the run asks for
    done_before: int = 0  # already on disk when the run started
    generated: int = 0
    scored: int = 0
    overlong: int = 0
    errors: int = 0  # checker / judge failures
    failed: int = 0  # model calls that failed (left for a rerun)

    @property
    def done(self) -> int:
        return self.done_before + self.scored

    def progress(self) -> tuple[int, int, str]:
        status = (
            f"generated {self.generated} · scored {self.scored} · overlong {self.overlong} · errors {self.errors} · "
            f"failed {self.failed} · {self.tokens_per_s:,.0f} tok/s · ETA {format_eta(self.eta_s)}"
        )
        return self.done, self.total, status

    @property
    def eta_s(self) -> float | None:
        if self.scored <= 0:
            return None
        return (self.total - self.done - self.failed) * self.elapsed / self.scored


def status_line(counters: Progressing, unit: str) -> str:
    done, total, status = counters.progress()
    return f"{unit} {done}/{total} · {status}"


@contextlib.asynccontextmanager
async def show_progress(
    counters: Progressing,
    console: Console | None = None,
    *,
    label: str,
    unit: str = "items",
    log_every_s: float = 10.0,
) -> AsyncIterator[None]:
    """Show `counters` while the body runs; the last state is shown when it ends, however it ends."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"), console=console)
        task = bar.add_task(unit, total=None, status="")

        def refresh() -> None:
            done, total, status = counters.progress()
            bar.update(task, total=total or None, completed=done, status=status)

        with bar:
            try:
                async with _repeat(refresh, 0.25, at_start=True):
                    yield
            finally:
                refresh()
        return

    async with _repeat(lambda: console.print(f"{label}: {status_line(counters, unit)}", highlight=False), log_every_s, at_start=False):
        yield


@contextlib.asynccontextmanager
async def _repeat(action: Callable[[], None], every_s: float, *, at_start: bool) -> AsyncIterator[None]:
    """Call `action` every `every_s` seconds (and once at the start when `at_start`) while the body runs."""

    async def loop() -> None:
        if at_start:
            action()
        while True:
            await asyncio.sleep(every_s)
            action()

    ticker = asyncio.create_task(loop())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
