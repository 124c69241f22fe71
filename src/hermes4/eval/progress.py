"""Showing an eval run on stderr: live counters, a rich progress bar (or periodic log lines), the closing table."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class EvalCounters:
    """This run's progress, updated by the runner and read by the display."""

    total: int = 0  # samples the run asks for
    done_before: int = 0  # already on disk when the run started
    generated: int = 0
    scored: int = 0
    overlong: int = 0
    errors: int = 0  # checker / judge failures
    failed: int = 0  # model calls that failed (left for a rerun)
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def done(self) -> int:
        return self.done_before + self.scored

    @property
    def eta_s(self) -> float | None:
        if self.scored <= 0:
            return None
        return (self.total - self.done - self.failed) * self.elapsed / self.scored


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def status_line(live: EvalCounters) -> str:
    return (
        f"samples {live.done}/{live.total} · generated {live.generated} · scored {live.scored} · overlong {live.overlong} · "
        f"errors {live.errors} · failed {live.failed} · {live.tokens / live.elapsed:,.0f} tok/s · ETA {_eta(live.eta_s)}"
    )


@contextlib.asynccontextmanager
async def show_progress(live: EvalCounters, console: Console | None = None, *, log_every_s: float = 10.0) -> AsyncIterator[None]:
    """A rich progress bar on a terminal; elsewhere (logs, pipes) one status line every `log_every_s`."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        progress = Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"), console=console)
        task = progress.add_task("samples", total=live.total or None, status="")

        async def refresh() -> None:
            while True:
                progress.update(task, total=live.total or None, completed=live.done, status=status_line(live).split(" · ", 1)[1])
                await asyncio.sleep(0.25)

        with progress:
            ticker = asyncio.create_task(refresh())
            try:
                yield
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                progress.update(task, total=live.total or None, completed=live.done)
        return

    async def log() -> None:
        while True:
            await asyncio.sleep(log_every_s)
            console.print(status_line(live), highlight=False)

    ticker = asyncio.create_task(log())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


def _pct(estimate: dict[str, Any] | None) -> str:
    if not estimate:
        return "-"
    return f"{100 * estimate['value']:.1f} [{100 * estimate['low']:.1f}, {100 * estimate['high']:.1f}]"


def summary_table(cells: list[dict[str, Any]]) -> Table:
    """The closing summary: one row per task and mode."""
    table = Table(title="eval summary", title_justify="left")
    for column in ("task", "mode", "score [95% CI]", "samples", "overlong", "errors", "missing", "mean tokens"):
        table.add_column(column, justify="left" if column in ("task", "mode") else "right")
    for cell in cells:
        rate = cell.get("overlong_rate")
        table.add_row(
            cell["task"],
            cell["mode"],
            _pct(cell.get("score")),
            str(cell["samples"]),
            "-" if rate is None else f"{100 * rate:.1f}%",
            str(cell["errors"]),
            str(cell["missing"]),
            f"{cell['tokens'].get('mean', 0):,.0f}" if cell.get("tokens") else "-",
        )
    return table
