"""An eval run's live counters and its closing table (the live display is `hermes4.progress`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from hermes4.progress import format_eta


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

    def progress(self) -> tuple[int, int, str]:
        status = (
            f"generated {self.generated} · scored {self.scored} · overlong {self.overlong} · errors {self.errors} · "
            f"failed {self.failed} · {self.tokens / self.elapsed:,.0f} tok/s · ETA {format_eta(self.eta_s)}"
        )
        return self.done, self.total, status

    @property
    def eta_s(self) -> float | None:
        if self.scored <= 0:
            return None
        return (self.total - self.done - self.failed) * self.elapsed / self.scored


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
