"""The live progress display every long run shares (sample, forge, eval): a rich bar on a terminal,
one status line every few seconds in logs and pipes.

A run's counters object only has to say where it is: `progress() -> (done, total, status)`, where
`status` is one line such as `samples 40 · accept 75.0% · 1,200 tok/s · ETA 0:42`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
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
