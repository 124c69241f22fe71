"""Showing a sampling run on stderr: a live rich progress bar (or periodic log lines) and the closing table."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console
from rich.table import Table

from hermes4.sample.tally import LiveCounters


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def status_line(live: LiveCounters) -> str:
    return (
        f"items {live.items_done}/{live.items_total} · samples {live.samples} · accept {live.accept_rate:.1%} · "
        f"{live.tokens_per_s:,.0f} tok/s · ETA {_eta(live.eta_s)}"
    )


@contextlib.asynccontextmanager
async def show_progress(
    live: LiveCounters, console: Console | None = None, *, log_every_s: float = 10.0, label: str = "sample"
) -> AsyncIterator[None]:
    """A rich progress bar on a terminal; elsewhere (logs, pipes) one status line every `log_every_s`."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        )
        task = progress.add_task("items", total=live.items_total or None, status="")

        async def refresh() -> None:
            while True:
                progress.update(
                    task,
                    total=live.items_total or None,
                    completed=live.items_done,
                    status=f"samples {live.samples} · accept {live.accept_rate:.1%} · {live.tokens_per_s:,.0f} tok/s · ETA {_eta(live.eta_s)}",
                )
                await asyncio.sleep(0.25)

        with progress:
            ticker = asyncio.create_task(refresh())
            try:
                yield
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                progress.update(task, total=live.items_total or None, completed=live.items_done)
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


def summary_table(summary: dict[str, dict[str, Any]]) -> Table:
    """The closing summary: one row per env (totals over the whole output folder)."""
    table = Table(title="sample summary", title_justify="left")
    for column in ("env", "items", "solved", "samples", "accepted", "accept", "pass", "error", "timeout", "overlong", "tokens"):
        table.add_column(column, justify="left" if column == "env" else "right")
    for env, row in summary.items():
        table.add_row(
            env,
            str(row["items"]),
            str(row["solved"]),
            str(row["samples"]),
            str(row["accepted"]),
            f"{row['accept_rate']:.1%}",
            f"{row['pass_rate']:.1%}",
            f"{row['error_rate']:.1%}",
            f"{row['timeout_rate']:.1%}",
            f"{row['overlong_rate']:.1%}",
            f"{row['tokens']:,}",
        )
    return table
