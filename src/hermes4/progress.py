"""The live progress display every long run shares (sample, forge, eval): a rich bar on a terminal,
one status line every few seconds in logs and pipes.

A run's counters object only has to say where it is: `progress() -> (done, total, status)`, where
`status` is one line such as `samples 40 · accept 75.0% · 1,200 tok/s · ETA 0:42`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
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

        async def tick() -> None:
            while True:
                refresh()
                await asyncio.sleep(0.25)

        with bar:
            ticker = asyncio.create_task(tick())
            try:
                yield
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                refresh()
        return

    async def log() -> None:
        while True:
            await asyncio.sleep(log_every_s)
            console.print(f"{label}: {status_line(counters, unit)}", highlight=False)

    ticker = asyncio.create_task(log())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
