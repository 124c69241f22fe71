"""Report plots as PNG files (matplotlib, Agg backend): score per mode with CIs, overlong rate, output lengths,
and the results table itself as an image. Every figure has a fixed size in pixels (`SIZES`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DPI = 100
SIZES = {  # name -> (width, height) in pixels
    "scores": (1400, 620),
    "overlong": (1400, 520),
    "lengths": (1400, 620),
    "table": (1400, 0),  # height grows with the number of rows (`table_height`)
}
_MODE_STYLE = {"reasoning": {"alpha": 1.0, "hatch": None}, "non-reasoning": {"alpha": 0.45, "hatch": "//"}}


def pyplot():
    """matplotlib.pyplot on the Agg backend (the one way hermes4 draws: files only)."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only, never a window, safe in threads and on servers
    import matplotlib.pyplot as plt

    return plt


def _figure(plt, name: str, height: int | None = None):
    width, fixed = SIZES[name]
    return plt.figure(figsize=(width / DPI, (height or fixed) / DPI), dpi=DPI)


def _colors(n: int) -> list[Any]:
    plt = pyplot()
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def _short(label: str, width: int = 16) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _slots(runs: list[str]) -> tuple[list[tuple[int, str, str, float]], float]:
    """One slot per (run, mode) inside each task's group: (run index, run, mode, x offset from the task), width."""
    modes = list(_MODE_STYLE)
    width = 0.8 / max(len(runs) * len(modes), 1)
    slots = [(r, run, mode, -0.4 + width * (r * len(modes) + m + 0.5)) for r, run in enumerate(runs) for m, mode in enumerate(modes)]
    return slots, width


def _label_tasks(ax, rows: list[tuple[str, str]], ylabel: str, title: str) -> None:
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([_short(label) for _, label in rows], rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def save(plt, fig, path: Path, dpi: int = DPI) -> Path:
    """Lay out, write and close `fig`; returns `path`."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def scores_plot(path: Path, rows: list[tuple[str, str]], runs: list[str], cell: Any) -> Path:
    """Grouped bars: per task (`rows`: key, label), one bar per (run, mode), with 95% CI whiskers.
    `cell(key, run, mode)` gives the score estimate (a dict with value/low/high in [0, 1]) or None."""
    plt = pyplot()
    fig = _figure(plt, "scores")
    ax = fig.add_subplot(1, 1, 1)
    slots, width = _slots(runs)
    colors = _colors(len(runs))
    for r, run, mode, offset in slots:
        xs, heights, lows, highs = [], [], [], []
        for i, (row, _) in enumerate(rows):
            estimate = cell(row, run, mode)
            if estimate is None:
                continue
            xs.append(i + offset)
            heights.append(100 * estimate["value"])
            lows.append(100 * (estimate["value"] - estimate["low"]))
            highs.append(100 * (estimate["high"] - estimate["value"]))
        if xs:
            style = _MODE_STYLE[mode]
            ax.bar(xs, heights, width * 0.95, color=colors[r], alpha=style["alpha"], hatch=style["hatch"], edgecolor=colors[r],
                   label=f"{run} · {mode}", yerr=[lows, highs], capsize=2, error_kw={"elinewidth": 0.8, "ecolor": "0.25"})
    _label_tasks(ax, rows, "score (%)", "Score per benchmark and mode (bars: 95% bootstrap CI)")
    ax.set_ylim(0, 122)  # the band above 100 holds the legend
    ax.set_yticks(range(0, 101, 20))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(4, max(len(slots), 1)), loc="upper right")
    return save(plt, fig, path)


def overlong_plot(path: Path, rows: list[tuple[str, str]], runs: list[str], rate: Any) -> Path:
    """Grouped bars of the overlong rate (outputs that never closed </think>) per task, run and mode."""
    plt = pyplot()
    fig = _figure(plt, "overlong")
    ax = fig.add_subplot(1, 1, 1)
    slots, width = _slots(runs)
    colors = _colors(len(runs))
    top = 0.0
    for r, run, mode, offset in slots:
        xs, heights = [], []
        for i, (row, _) in enumerate(rows):
            value = rate(row, run, mode)
            if value is None:
                continue
            xs.append(i + offset)
            heights.append(100 * value)
        if xs:
            style = _MODE_STYLE[mode]
            ax.bar(xs, heights, width * 0.95, color=colors[r], alpha=style["alpha"], hatch=style["hatch"], edgecolor=colors[r], label=f"{run} · {mode}")
            top = max(top, *heights)
    _label_tasks(ax, rows, "overlong (%)", "Overlong rate: outputs that never closed </think> within the budget (counted as wrong)")
    ax.set_ylim(0, max(10.0, top) * 1.25)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(4, max(len(slots), 1)), loc="upper right")
    return save(plt, fig, path)


def lengths_plot(path: Path, rows: list[tuple[str, str]], runs: list[str], lengths: Any) -> Path:
    """Box plots of completion tokens per task, run and mode (log scale); `lengths(row, run, mode)` -> list."""
    plt = pyplot()
    fig = _figure(plt, "lengths")
    ax = fig.add_subplot(1, 1, 1)
    slots, width = _slots(runs)
    colors = _colors(len(runs))
    handles = {}
    for r, run, mode, offset in slots:
        for i, (row, _) in enumerate(rows):
            values = [max(v, 1) for v in (lengths(row, run, mode) or [])]
            if not values:
                continue
            box = ax.boxplot([values], positions=[i + offset], widths=width * 0.85, patch_artist=True, showfliers=True,
                             flierprops={"markersize": 2, "alpha": 0.5})
            style = _MODE_STYLE[mode]
            for patch in box["boxes"]:
                patch.set_facecolor(colors[r])
                patch.set_alpha(style["alpha"])
                if style["hatch"]:
                    patch.set_hatch(style["hatch"])
            handles[f"{run} · {mode}"] = box["boxes"][0]
    ax.set_yscale("log")
    _label_tasks(ax, rows, "completion tokens (log)", "Output length distribution per benchmark and mode")
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", alpha=0.3, which="both")
    if handles:
        ax.legend(list(handles.values()), list(handles), fontsize=8, ncol=min(4, len(handles)), loc="upper right")
    return save(plt, fig, path)


def table_height(rows: int) -> int:
    return 90 + 34 * (rows + 1)


def table_plot(path: Path, header: list[str], body: list[list[str]], title: str) -> Path:
    """The results table drawn as an image, for reading the report where HTML is not rendered."""
    plt = pyplot()
    fig = _figure(plt, "table", table_height(len(body)))
    ax = fig.add_subplot(1, 1, 1)
    ax.axis("off")
    ax.set_title(title, fontsize=12, loc="left")
    table = ax.table(cellText=body, colLabels=header, loc="upper center", cellLoc="center", colLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1.0, 1.6)
    for (row, col), cell_ in table.get_celld().items():
        if row == 0:
            cell_.set_facecolor("#e8ecf4")
            cell_.set_text_props(weight="bold")
        if col == 0:
            cell_.set_text_props(ha="left")
            cell_.PAD = 0.02
    table.auto_set_column_width(list(range(len(header))))
    return save(plt, fig, path)
