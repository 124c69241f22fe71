"""Reports over one or more eval runs: Markdown and HTML with the paper-shaped table (rows benchmarks, columns
runs, cells `reasoning (non-reasoning)` with 95% CIs), paired deltas against the first run, IFEval's four
numbers, refusal categories, failures, run details, and PNG plots."""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes4.eval.metrics import bootstrap, cell_metrics
from hermes4.eval.records import MODES
from hermes4.eval.runner import cell_records, read_manifest
from hermes4.store import derive_seed

_CSS = (
    "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1400px;color:#1d2330}"
    "table{border-collapse:collapse;margin:0.6em 0 1.4em}th,td{border:1px solid #cdd3df;padding:4px 10px;text-align:right;"
    "font-variant-numeric:tabular-nums}th{background:#e8ecf4}td:first-child,th:first-child{text-align:left}"
    "table.text td,table.text th{text-align:left}tr:nth-child(even) td{background:#f7f8fb}img{max-width:100%;border:1px solid #e2e5ec;margin:0.5em 0}"
    "p.note{color:#4b5366}code{background:#f1f3f7;padding:0 3px}"
)
IFEVAL_ROWS = [("prompt_strict", "prompt-level strict"), ("prompt_loose", "prompt-level loose"),
               ("instruction_strict", "instruction-level strict"), ("instruction_loose", "instruction-level loose")]


@dataclass
class ReportPaths:
    """What `write_report` wrote."""

    markdown: Path
    html: Path
    plots: list[Path] = field(default_factory=list)


@dataclass
class _Run:
    path: Path
    manifest: dict[str, Any]
    label: str
    cells: dict[tuple[str, str], dict[str, Any]]  # (task spec, mode) -> metrics json
    records: dict[tuple[str, str], list[dict[str, Any]]]


def _load(run_dirs: list[Path]) -> list[_Run]:
    runs = []
    for path in run_dirs:
        manifest = read_manifest(path)
        tasks = manifest.get("tasks") or {}
        cells, records = {}, {}
        for (spec, mode), (rows, expected) in cell_records(path, tasks).items():
            cells[(spec, mode)] = cell_metrics(spec, mode, tasks[spec]["metric"], rows, expected=expected).to_json()
            records[(spec, mode)] = rows
        runs.append(_Run(path, manifest, str(manifest.get("name") or path.name), cells, records))
    labels = [r.label for r in runs]
    for run in runs:  # two runs of one model: tell them apart by folder
        if labels.count(run.label) > 1:
            run.label = f"{run.label} ({run.path.name})"
    return runs


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def _with_ci(estimate: dict[str, Any] | None) -> str:
    if not estimate:
        return "–"
    return f"{_pct(estimate['value'])} [{_pct(estimate['low'])}, {_pct(estimate['high'])}]"


def _pair(run: _Run, spec: str, render) -> str:
    reasoning = run.cells.get((spec, "reasoning"))
    direct = run.cells.get((spec, "non-reasoning"))
    if reasoning is None and direct is None:
        return "–"
    left = render(reasoning) if reasoning is not None else "–"
    return f"{left} ({render(direct)})" if direct is not None else left


def _rows(runs: list[_Run]) -> list[tuple[str, str]]:
    """(spec, row label) of every task of any run, in the paper's order."""
    seen: dict[str, tuple[int, str]] = {}
    for run in runs:
        for spec, entry in (run.manifest.get("tasks") or {}).items():
            label = entry.get("label") or spec
            options = spec.partition(":")[2]
            shown = ", ".join(p for p in options.split(",") if p and not p.startswith("data="))
            seen.setdefault(spec, (int(entry.get("order", 100)), f"{label} ({shown})" if shown else label))
    return [(spec, label) for spec, (_, label) in sorted(seen.items(), key=lambda kv: (kv[1][0], kv[0]))]


def _paired_delta(base: list[dict[str, Any]], other: list[dict[str, Any]], seed: int) -> dict[str, Any] | None:
    """Mean per-item score difference (other - base) over items both runs scored, with a paired bootstrap CI."""

    def per_item(records: list[dict[str, Any]]) -> dict[str, float]:
        sums: dict[str, list[float]] = defaultdict(list)
        for record in records:
            if record.get("score") is not None:
                sums[record["item_id"]].append(float(record["score"]))
        return {k: sum(v) / len(v) for k, v in sums.items()}

    a, b = per_item(base), per_item(other)
    common = sorted(set(a) & set(b))
    if not common:
        return None
    diffs = [b[i] - a[i] for i in common]
    estimate = bootstrap(diffs, [1.0] * len(diffs), seed=seed)
    assert estimate is not None
    return {**estimate.to_json(), "items": len(common)}


def _delta_text(delta: dict[str, Any] | None) -> str:
    if delta is None:
        return "–"
    significant = delta["low"] > 0 or delta["high"] < 0
    return f"{100 * delta['value']:+.1f} [{100 * delta['low']:+.1f}, {100 * delta['high']:+.1f}]{'*' if significant else ''}"


class _Doc:
    """The report's content once, written out as Markdown and as HTML."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, Any]] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", (level, text)))

    def text(self, text: str) -> None:
        self.blocks.append(("text", text))

    def table(self, header: list[str], body: list[list[str]], *, numeric: bool = True) -> None:
        """A table; `numeric` right-aligns every column but the first."""
        self.blocks.append(("table", (header, body, numeric)))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("image", (path, alt)))

    def markdown(self, base: Path) -> str:
        out = []
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"{'#' * value[0]} {value[1]}\n")
            elif kind == "text":
                out.append(f"{value}\n")
            elif kind == "table":
                header, body, numeric = value
                escape = lambda s: str(s).replace("|", "\\|")
                out.append("| " + " | ".join(escape(h) for h in header) + " |")
                out.append("|" + "|".join(["---"] + ["---:" if numeric else "---"] * (len(header) - 1)) + "|")
                out.extend("| " + " | ".join(escape(c) for c in row) + " |" for row in body)
                out.append("")
            elif kind == "image":
                path, alt = value
                out.append(f"![{alt}]({path.relative_to(base).as_posix()})\n")
        return "\n".join(out)

    def html(self, title: str) -> str:
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
        ]
        for kind, value in self.blocks:
            if kind == "heading":
                parts.append(f"<h{value[0]}>{html.escape(value[1])}</h{value[0]}>")
            elif kind == "text":
                parts.append(f"<p class='note'>{html.escape(value)}</p>")
            elif kind == "table":
                header, body, numeric = value
                parts.append(f"<table class='{'num' if numeric else 'text'}'><thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr></thead><tbody>")
                parts.extend("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
                parts.append("</tbody></table>")
            elif kind == "image":
                path, alt = value
                data = base64.b64encode(path.read_bytes()).decode("ascii")  # embedded: the page is one portable file
                parts.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _paths(out: Path) -> tuple[Path, Path, Path]:
    if out.suffix.lower() in (".html", ".htm"):
        markdown = out.with_suffix(".md")
    elif out.suffix.lower() == ".md":
        markdown = out
    else:
        markdown = out.with_name(out.name + ".md")
    return markdown, markdown.with_suffix(".html"), markdown.parent / f"{markdown.stem}_plots"


def write_report(run_dirs: list[str | Path] | str | Path, out: str | Path | None = None) -> ReportPaths:
    """Write the Markdown and HTML report of `run_dirs` (the first is the baseline of the deltas) to `out`
    (default: `report.md` in the first run folder), plots in `<stem>_plots/` next to it."""
    from hermes4.eval import plots

    dirs = [Path(run_dirs)] if isinstance(run_dirs, (str, Path)) else [Path(d) for d in run_dirs]
    if not dirs:
        raise ValueError("write_report: no run folders given")
    runs = _load(dirs)
    markdown_path, html_path, plot_dir = _paths(Path(out) if out is not None else dirs[0] / "report.md")
    plot_dir.mkdir(parents=True, exist_ok=True)
    rows = _rows(runs)
    labels = {spec: label for spec, label in rows}
    names = [run.label for run in runs]

    doc = _Doc()
    title = "Evaluation report: " + " vs ".join(names)
    doc.heading(title, 1)
    doc.text(
        "Scores in %, as reasoning (non-reasoning), each with its 95% bootstrap confidence interval over items. "
        "Accuracy is averaged over repeats; outputs that never close </think> within the budget count as wrong."
    )

    header = ["Benchmark", *names]
    main_body = [[label, *(_pair(run, spec, lambda c: _with_ci(c["score"])) for run in runs)] for spec, label in rows]
    doc.heading("Results")
    doc.table(header, main_body)
    table_png = plots.table_plot(plot_dir / "table.png", header, main_body, "Results: reasoning (non-reasoning), % with 95% CI")

    if len(runs) > 1:
        doc.heading(f"Deltas against {runs[0].label}")
        doc.text("Paired over the items both runs scored: mean per-item difference in points with a 95% bootstrap CI; * marks a CI that excludes 0.")
        body = []
        for spec, label in rows:
            row = [label]
            for run in runs[1:]:
                texts = {}
                for mode in MODES:
                    if (spec, mode) in runs[0].records and (spec, mode) in run.records:
                        delta = _paired_delta(runs[0].records[(spec, mode)], run.records[(spec, mode)], derive_seed("delta", spec, mode, run.label))
                        texts[mode] = _delta_text(delta)
                reasoning, direct = texts.get("reasoning"), texts.get("non-reasoning")
                row.append(f"{reasoning or '–'} ({direct})" if direct else (reasoning or "–"))
            body.append(row)
        doc.table(["Benchmark", *(f"{run.label} − {runs[0].label}" for run in runs[1:])], body)

    doc.heading("Overlong rate")
    doc.text("Share of outputs that never closed </think> within the token budget, reasoning (non-reasoning).")
    doc.table(header, [[label, *(_pair(run, spec, lambda c: _pct(c["overlong_rate"]) + "%" if c["overlong_rate"] is not None else "–") for run in runs)] for spec, label in rows])

    budgeted = [run for run in runs if run.manifest.get("reasoning_budget")]
    if budgeted:
        doc.heading("Reasoning budget")
        doc.text("Reasoning mode, each run with its reasoning budget (none: the plain run): accuracy, overlong rate, "
                 "and the share of samples whose reasoning the budget cut short.")
        body = [[label, *(_budget_cell(run.cells.get((spec, "reasoning"))) for run in runs)] for spec, label in rows]
        doc.table(["Benchmark", *(f"{run.label}: {_budget_label(run.manifest)}" for run in runs)], body)

    ifeval_specs = [spec for spec, _ in rows if any((r.manifest.get("tasks") or {}).get(spec, {}).get("metric") == "ifeval" for r in runs)]
    for spec in ifeval_specs:
        doc.heading(f"{labels[spec]}: the four numbers")
        body = [[name, *(_pair(run, spec, lambda c, k=key: _with_ci(c["secondary"].get(k))) for run in runs)] for key, name in IFEVAL_ROWS]
        doc.table(["Measure", *names], body)

    refusal_specs = [spec for spec, _ in rows if any((r.manifest.get("tasks") or {}).get(spec, {}).get("metric") == "refusal" for r in runs)]
    for spec in refusal_specs:
        doc.heading(f"{labels[spec]}: categories")
        doc.text("Share of good outcomes per category: helping, or refusing where the category is inverted (marked ↺). Judge failures are left out of the scores and counted.")
        categories = sorted({c for run in runs for mode in MODES for c in (run.cells.get((spec, mode)) or {}).get("categories", {})})
        body = []
        for category in categories:
            inverted = any(((run.cells.get((spec, m)) or {}).get("categories", {}).get(category) or {}).get("inverted") for run in runs for m in MODES)
            body.append([f"{category}{' ↺' if inverted else ''}", *(_pair(run, spec, lambda c, k=category: _with_ci((c["categories"].get(k) or {}).get("score"))) for run in runs)])
        body.append(["judge failures", *(_pair(run, spec, lambda c: str(c["judge_failures"])) for run in runs)])
        doc.table(["Category", *names], body)

    reward_specs = [spec for spec, _ in rows if any((r.manifest.get("tasks") or {}).get(spec, {}).get("metric") == "rewardbench" for r in runs)]
    for spec in reward_specs:
        doc.heading(f"{labels[spec]}: subsets")
        doc.text("Accuracy at picking the chosen answer: the four sections (their mean is the score), then every subset.")
        sections = [k for k in ("Chat", "Chat Hard", "Safety", "Reasoning") if any(k in ((run.cells.get((spec, m)) or {}).get("secondary") or {}) for run in runs for m in MODES)]
        subsets = sorted({c for run in runs for mode in MODES for c in (run.cells.get((spec, mode)) or {}).get("categories", {})})
        body = [[section, *(_pair(run, spec, lambda c, k=section: _with_ci(c["secondary"].get(k))) for run in runs)] for section in sections]
        body += [[subset, *(_pair(run, spec, lambda c, k=subset: _with_ci((c["categories"].get(k) or {}).get("score"))) for run in runs)] for subset in subsets]
        doc.table(["Section / subset", *names], body)

    problems = []
    for run in runs:
        for (spec, mode), cell in sorted(run.cells.items()):
            parts = []
            if cell["missing"]:
                parts.append(f"{cell['missing']} of {cell['expected']} samples missing (model calls failed; rerun to finish)")
            if cell["judge_failures"]:
                parts.append(f"{cell['judge_failures']} judge failures")
            if cell["errors"] - cell["judge_failures"] > 0:
                parts.append(f"{cell['errors'] - cell['judge_failures']} checker errors")
            if parts:
                problems.append([run.label, labels.get(spec, spec), mode, "; ".join(parts)])
    doc.heading("Failures")
    if problems:
        doc.text("Samples whose checker or judge failed are left out of the scores; missing samples were never generated.")
        doc.table(["Run", "Benchmark", "Mode", "What"], problems, numeric=False)
    else:
        doc.text("None: every sample was generated and scored.")

    doc.heading("Plots")
    score_png = plots.scores_plot(plot_dir / "scores.png", rows, names,
                                  lambda spec, name, mode: (_by_label(runs, name).cells.get((spec, mode)) or {}).get("score"))
    overlong_png = plots.overlong_plot(plot_dir / "overlong.png", rows, names,
                                       lambda spec, name, mode: (_by_label(runs, name).cells.get((spec, mode)) or {}).get("overlong_rate"))
    lengths_png = plots.lengths_plot(plot_dir / "lengths.png", rows, names,
                                     lambda spec, name, mode: [int(r["output"].get("completion_tokens") or 0) for r in _by_label(runs, name).records.get((spec, mode), [])])
    for path, alt in ((score_png, "score per mode"), (overlong_png, "overlong rate"), (lengths_png, "output lengths"), (table_png, "results table")):
        doc.image(path, alt)

    doc.heading("Runs")
    body = []
    for run in runs:
        m = run.manifest
        sampling = m.get("sampling") or {}
        budgets = m.get("budgets") or {}
        judge = m.get("judge")
        git = m.get("git") or {}
        versions = m.get("versions") or {}
        body.append([
            run.label,
            str(m.get("model")),
            str(m.get("endpoint")),
            f"T={sampling.get('temperature')} top_p={sampling.get('top_p')} top_k={sampling.get('top_k')}",
            " / ".join(f"{k} {v:,}" for k, v in budgets.items()) + (f"; reasoning {_budget_label(m)}" if m.get("reasoning_budget") else ""),
            f"{judge['model']} (T={judge['temperature']})" if judge else "–",
            f"{str(git.get('revision', ''))[:10]}{' +changes' if git.get('dirty') else ''}" if git else "–",
            f"{m.get('started')} → {m.get('ended') or 'running'} ({m.get('status')})",
            ", ".join(f"{k} {versions[k]}" for k in ("hermes4", "transformers", "torch") if k in versions),
        ])
    doc.table(["Run", "Model", "Endpoint", "Sampling", "Token budget", "Judge", "Git", "Time", "Versions"], body, numeric=False)
    sources = sorted({(labels.get(spec, spec), str(entry.get("source"))) for run in runs for spec, entry in (run.manifest.get("tasks") or {}).items()})
    doc.table(["Benchmark", "Data"], [[a, b] for a, b in sources], numeric=False)
    doc.text("Run folders: " + ", ".join(str(run.path) for run in runs) + ". Every sample is in samples-*.jsonl of its folder.")

    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(doc.markdown(markdown_path.parent), encoding="utf-8")
    html_path.write_text(doc.html(title), encoding="utf-8")
    return ReportPaths(markdown_path, html_path, [score_png, overlong_png, lengths_png, table_png])


def _budget_label(manifest: dict[str, Any]) -> str:
    pin = manifest.get("reasoning_budget")
    return f"budget {pin['tokens']:,} ({pin['mode']})" if pin else "no budget"


def _budget_cell(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "–"
    fired = f", fired {_pct(cell['budget_fired_rate'])}%" if cell.get("budget_fired_rate") is not None else ""
    overlong = f"{_pct(cell['overlong_rate'])}%" if cell["overlong_rate"] is not None else "–"
    return f"acc {_with_ci(cell['score'])}, overlong {overlong}{fired}"


def _by_label(runs: list[_Run], label: str) -> _Run:
    return next(run for run in runs if run.label == label)

