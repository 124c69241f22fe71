"""An eval run's closing table (its live counters and display are in `hermes4.progress`)."""

from __future__ import annotations

from typing import Any

from rich.table import Table



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
