"""The recipe's report (Markdown + PNG): what each stage produced and the headline effects, measured from the
run's own files (data summaries, training metrics, per-sample eval logs), each number with its count. The
detailed benchmark report of the eval runs is `hermes4.eval.write_report`'s, written beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes4.recipe.effects import (
    EASY_DIRECT,
    OVERLONG_LONG,
    THINK_OFF_NONE,
    THINK_ON_OPENS,
    TOOL_FROM_OUTPUT,
    TOOL_VALID_ITEMS,
    effect_lines,
    judge_effects,
)
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import StageSummary
from hermes4.recipe.stages.common import TrainSummary, read_metrics
from hermes4.recipe.stages.data import DataSummary
from hermes4.recipe.stages.length_control import LengthControlSummary
from hermes4.recipe.stages.report import CountSummary, ReportSummary

MODEL_LABELS = {"base": "untrained base", "sft": "SFT", "length-control": "SFT + length control"}
OVERLONG_ALL = "overlong rate, every reasoning-mode sample"


@dataclass
class Count:
    """`hits` of `n` (a rate with the count it rests on)."""

    hits: int
    n: int

    @property
    def rate(self) -> float | None:
        return self.hits / self.n if self.n else None

    def text(self) -> str:
        return f"{100 * self.hits / self.n:.1f}% ({self.hits}/{self.n})" if self.n else "n/a (0 items)"

    def summary(self) -> CountSummary:
        return CountSummary(hits=self.hits, n=self.n, rate=self.rate)


def _cells(run: ResolvedRecipe, which: str) -> dict[tuple[str, str], tuple[list[dict[str, Any]], int]]:
    """(task, mode) -> (the samples the eval run's manifest asks for that are on disk, how many it asks for)."""
    from hermes4.eval.records import RUN_MANIFEST
    from hermes4.eval.runner import cell_records, read_manifest

    folder = run.stage_dir(f"eval-{which}")
    if not (folder / RUN_MANIFEST).is_file():
        return {}
    return cell_records(folder, read_manifest(folder).get("tasks") or {})


def _pooled(cells: dict[tuple[str, str], tuple[list[dict[str, Any]], int]], names: set[str] | None, mode: str):
    """`hermes4.eval.metrics.cell_metrics` over the samples of several tasks (every task when `names` is None) in one
    mode, as if they were one task: a headline measure pools the tasks that feed it."""
    from hermes4.eval.metrics import cell_metrics

    chosen = [(records, expected) for (task, m), (records, expected) in cells.items()
              if m == mode and (names is None or task in names)]
    records = [r for rs, _ in chosen for r in rs]
    if not records:
        return None
    return cell_metrics("+".join(sorted(names or ["all"])), mode, "accuracy", records, expected=sum(e for _, e in chosen))


def _accuracy(cell) -> Count:
    """Items answered correctly (pass@1, exact with one repeat) of the items scored."""
    return Count(round(cell.pass_at.get("1", 0.0) * cell.items), cell.items)


def _tasks_with(run: ResolvedRecipe, headline: str) -> set[str]:
    assert run.recipe.eval is not None
    return {t.name for t in run.recipe.eval.tasks if t.headline == headline}


def headline_numbers(run: ResolvedRecipe) -> dict[str, dict[str, Count]]:
    """measure -> model -> Count: accuracy and overlong rates from `hermes4.eval.metrics` over each model's eval run;
    the tool-call counts from the tool-call check's verdict details (no eval metric holds them)."""
    section = run.recipe.eval
    if section is None:
        return {}
    multi, long, tools, schema, easy = (_tasks_with(run, h) for h in ("multi_step", "long", "tool_calls", "json_schema", "easy"))
    out: dict[str, dict[str, Count]] = {}

    def put(measure: str, model: str, count: Count) -> None:
        out.setdefault(measure, {})[model] = count

    for model in section.models:
        cells = _cells(run, model)
        if not cells:
            continue
        for mode, measure in (("reasoning", "multi-step accuracy, reasoning"), ("non-reasoning", "multi-step accuracy, non-reasoning")):
            if cell := _pooled(cells, multi, mode):
                put(measure, model, _accuracy(cell))
        if cell := _pooled(cells, long, "reasoning"):
            put("long-task accuracy, reasoning", model, _accuracy(cell))
            put(OVERLONG_LONG, model, Count(cell.overlong, cell.samples))
        if cell := _pooled(cells, None, "reasoning"):
            put(OVERLONG_ALL, model, Count(cell.overlong, cell.samples))
        tool_records = [r for (task, _), (records, _) in cells.items() if task in tools for r in records]
        if tool_records:
            details = [(r.get("verdict") or {}).get("details") or {} for r in tool_records]
            put("tool-call validity (valid calls / calls written)", model,
                Count(sum(int(d.get("tool_calls_valid", 0)) for d in details), sum(int(d.get("tool_calls_written", 0)) for d in details)))
            put(TOOL_VALID_ITEMS, model, Count(sum(1 for d in details if d.get("tool_calls_valid")), len(tool_records)))
            accuracy = [c for mode in ("reasoning", "non-reasoning") if (c := _pooled(cells, tools, mode))]
            put("tool-use accuracy", model, Count(sum(_accuracy(c).hits for c in accuracy), sum(c.items for c in accuracy)))
            # Only a correct answer the tool printed (the env's `tool_result_used`), never one the model echoed.
            scored = [r for r in tool_records if r.get("score") is not None]
            put(TOOL_FROM_OUTPUT, model, Count(sum(1 for r in scored if _from_tool(r)), len(scored)))
        if cell := _pooled(cells, easy, "non-reasoning"):
            put(EASY_DIRECT, model, _accuracy(cell))
        every = [r for records, _ in cells.values() for r in records]
        opened = [_opens_think(r) for r in every if r.get("mode") == "reasoning"]
        closed = [not _opens_think(r) for r in every if r.get("mode") == "non-reasoning"]
        if opened:
            put(THINK_ON_OPENS, model, Count(sum(opened), len(opened)))
        if closed:
            put(THINK_OFF_NONE, model, Count(sum(closed), len(closed)))
        schema_cells = [c for mode in ("reasoning", "non-reasoning") if (c := _pooled(cells, schema, mode))]
        if schema_cells:
            put("JSON-schema adherence", model, Count(sum(_accuracy(c).hits for c in schema_cells), sum(c.items for c in schema_cells)))
    return out


def _from_tool(record: dict[str, Any]) -> bool:
    verdict = record.get("verdict") or {}
    return verdict.get("status") == "pass" and bool((verdict.get("details") or {}).get("tool_result_used"))


def _opens_think(record: dict[str, Any]) -> bool:
    """The sample's output opened a reasoning block (the server may have split it off into `reasoning`)."""
    output = record.get("output") or {}
    return output.get("reasoning") is not None or "<think>" in (output.get("raw") or "")


def effects(numbers: dict[str, dict[str, Count]]) -> list[str]:
    """Plain statements of the effects the recipe is meant to show, each saying whether it appeared."""
    lines = []
    think = numbers.get("multi-step accuracy, reasoning", {})
    direct = numbers.get("multi-step accuracy, non-reasoning", {})
    if "sft" in think and "sft" in direct:
        a, b = think["sft"], direct["sft"]
        seen = (a.rate or 0) > (b.rate or 0)
        lines.append(f"Reasoning {'helps' if seen else 'did NOT help'} on the multi-step task after SFT: "
                     f"{a.text()} with reasoning vs {b.text()} without.")
    if "base" in think and "sft" in think:
        a, b = think["sft"], think["base"]
        seen = (a.rate or 0) > (b.rate or 0)
        lines.append(f"Training {'worked' if seen else 'did NOT improve the model'}: multi-step accuracy with reasoning "
                     f"{b.text()} untrained -> {a.text()} after SFT.")
    over = numbers.get(OVERLONG_LONG) or numbers.get(OVERLONG_ALL, {})
    if "sft" in over and "length-control" in over:
        a, b = over["sft"], over["length-control"]
        seen = (b.rate or 0) < (a.rate or 0)
        lines.append(f"Length control {'cut' if seen else 'did NOT cut'} the overlong rate: {a.text()} before -> "
                     f"{b.text()} after.")
        if "sft" in think and "length-control" in think:
            lines.append(f"Its cost on the multi-step task with reasoning: {think['sft'].text()} before -> "
                         f"{think['length-control'].text()} after.")
    return lines


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _plot(path: Path, numbers: dict[str, dict[str, Count]], models: list[str], loss: list[tuple[int, float]]) -> Path:
    from hermes4.eval.plots import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.4))
    labels = [MODEL_LABELS[m] for m in models]
    colors = ["#9aa5b8", "#3b6fb6", "#d9822b"]

    def bars(ax, measures: list[tuple[str, str]], title: str) -> None:
        width = 0.8 / max(len(measures), 1)
        for k, (measure, short) in enumerate(measures):
            counts = [numbers.get(measure, {}).get(m) for m in models]
            values = [100 * (c.rate or 0) if c else 0 for c in counts]
            xs = [i + (k - (len(measures) - 1) / 2) * width for i in range(len(models))]
            ax.bar(xs, values, width, label=short, color=colors[k % len(colors)])
            for x, c in zip(xs, counts):
                if c is not None:
                    ax.text(x, 100 * (c.rate or 0) + 1.5, f"{c.hits}/{c.n}", ha="center", fontsize=7)
        ax.set_xticks(range(len(models)), labels, fontsize=8)
        ax.set_ylim(0, 110)
        ax.set_ylabel("%")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="upper left")

    bars(axes[0], [("multi-step accuracy, reasoning", "reasoning"), ("multi-step accuracy, non-reasoning", "non-reasoning")],
         "multi-step accuracy")
    bars(axes[1], [(OVERLONG_LONG, "long task"), (OVERLONG_ALL, "every reasoning sample")], "overlong rate (reasoning mode)")
    bars(axes[2], [("tool-call validity (valid calls / calls written)", "tool-call validity"),
                   ("JSON-schema adherence", "JSON-schema adherence")], "structured output")
    ax = axes[3]
    if loss:
        ax.plot([s for s, _ in loss], [v for _, v in loss], color="#3b6fb6")
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("SFT training loss", fontsize=10)
    return save(plt, fig, path, dpi=110)


def write_recipe_report(run: ResolvedRecipe, summaries: dict[str, StageSummary], timings: dict[str, float]) -> ReportSummary:
    """Write `report.md` and `report.png` (plus the eval layer's detailed report) into the report stage folder, from
    the typed summaries of the stages before it."""
    out = run.stage_dir("report")
    out.mkdir(parents=True, exist_ok=True)
    numbers = headline_numbers(run)
    models = [m for m in (run.recipe.eval.models if run.recipe.eval else []) if _cells(run, m)]
    doc: list[str] = [f"# {run.recipe.name}: recipe report", ""]
    if run.recipe.description:
        doc += [run.recipe.description.strip(), ""]
    doc += ["Every number below was measured by this run (nothing is copied in); each rate shows its count.", ""]

    if numbers:
        doc += ["## Headline", ""]
        header = ["measure", *[MODEL_LABELS[m] for m in models]]
        rows = [[measure, *[(per.get(m).text() if per.get(m) else "-") for m in models]] for measure, per in numbers.items()]
        doc += [_table(header, rows), ""]
        statements = effects(numbers)
        if statements:
            doc += ["## Effects", ""] + [f"- {s}" for s in statements] + [""]
    judged = judge_effects(numbers)
    doc += ["## The six Hermes 4 effects (issue 19)", "", *effect_lines(judged), ""]

    data = summaries.get("data")
    if isinstance(data, DataSummary):
        doc += ["## Data", ""]
        rows = []
        for name, forged in data.forge.items():
            rows.append([f"forge `{name}`", f"{forged.walks + forged.skipped} walks", f"{forged.accepted} accepted, "
                         f"{forged.discarded} discarded", f"{forged.rejected_answers} answers rejected by the checker "
                         f"({forged.revisions} revisions)", f"{forged.final_records} final pairs"])
        for name, sampled in data.sample.items():
            for spec, env in sampled.envs.items():
                rows.append([f"sample `{name}` (thinking {'on' if sampled.thinking else 'off'})", f"`{spec}`: {env.items} items",
                             f"{env.samples} samples drawn", f"{env.rejected} rejected by the verifier "
                             f"({100 * (1 - env.pass_rate):.1f}%)", f"{env.accepted} kept"])
        for name, prompts in data.prompts.items():
            rows.append([f"prompts `{name}`", f"{prompts.prompts} prompts", "", "", prompts.path])
        doc += [_table(["run", "input", "drawn", "rejected", "kept"], rows), ""]

    loss: list[tuple[int, float]] = []
    sft = summaries.get("sft")
    if isinstance(sft, TrainSummary):
        loss = [(int(m["step"]), float(m["loss"])) for m in read_metrics(run.train.resolved("jsonl"))]
        doc += ["## Training", "", _table(["stage", "processes", "steps", "tokens", "loss (first -> last)", "tokens/s", "train time"], [
            ["SFT", str(sft.processes), str(sft.steps), f"{sft.tokens:,}",
             f"{sft.first_loss:.3f} -> {sft.final_loss:.3f}" if sft.first_loss is not None and sft.final_loss is not None else "-",
             f"{sft.tokens_per_s:,.0f}" if sft.tokens_per_s else "-", f"{sft.train_seconds:.0f}s"]]), ""]
    lc = summaries.get("length-control")
    if isinstance(lc, LengthControlSummary):
        assert run.length_control is not None
        doc += ["## Length control", "",
                f"Control budget {run.length_control.control_budget} tokens of reasoning, generation budget "
                f"{run.length_control.generation_budget}. Traces: {lc.traces} generated, {lc.cut} cut at the budget, "
                f"{lc.closed_naturally} closed `</think>` by themselves, {lc.short} stopped early, {lc.used} used for "
                "training (loss only on `</think>` and the end of turn).", ""]
        t = lc.train
        if t is not None and t.first_loss is not None and t.final_loss is not None:
            doc += [f"Training: {t.steps} steps, {t.tokens:,} tokens, loss {t.first_loss:.3f} -> {t.final_loss:.3f}.", ""]

    if timings:
        doc += ["## Stage times", "", _table(["stage", "seconds"], [[s, f"{t:.1f}"] for s, t in timings.items()]),
                f"\nTotal: {sum(timings.values()):.1f}s", ""]

    png = _plot(out / "report.png", numbers, models, loss) if numbers else None
    if png is not None:
        doc[4:4] = [f"![headline]({png.name})", ""]
    detailed = None
    eval_dirs = [run.stage_dir(f"eval-{m}") for m in models]
    if eval_dirs:
        from hermes4.eval import write_report

        paths = write_report(eval_dirs, out / "eval" / "report.md")
        detailed = str(paths.markdown)
        doc += ["## Detailed eval report", "", f"Per task and mode, with confidence intervals and plots: `{Path(detailed).relative_to(out)}`.", ""]
    (out / "report.md").write_text("\n".join(doc), encoding="utf-8")
    return ReportSummary(markdown=str(out / "report.md"), png=str(png) if png else None, eval_report=detailed,
                         headline={k: {m: c.summary() for m, c in v.items()} for k, v in numbers.items()},
                         effects=judged)
