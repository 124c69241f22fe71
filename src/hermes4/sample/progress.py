"""The closing table of a sampling run (the live display is `hermes4.progress`)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


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
