"""`hermes4 run`: the stages of a recipe in order, each into its own folder under the run folder.

A stage is finished when its marker (`<out>/stages/<stage>.json`, written atomically as the stage's last act)
exists and carries the stage's current fingerprint; a rerun skips it. A stage without a marker runs (again):
the layers resume their own work (sample and forge journals, trainer checkpoints, eval logs), so an interrupted
stage continues where it stopped. `--from STAGE` discards that stage's and every later stage's outputs inside
the run folder and runs them again. A marker whose fingerprint no longer matches the recipe is an error that
names the stage to rerun from, never a silent reuse of stale outputs.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hermes4.recipe.config import RecipeError
from hermes4.recipe.display import RunDisplay
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.store import write_json_atomic


@dataclass
class StageOutcome:
    stage: str
    status: str  # ran | skipped | failed | not run
    seconds: float | None
    output: str
    error: str | None = None


@dataclass
class RunResult:
    out: Path
    outcomes: list[StageOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.status in ("ran", "skipped") for o in self.outcomes)


def marker_path(run: ResolvedRecipe, stage: str) -> Path:
    return run.markers / f"{stage}.json"


def read_marker(run: ResolvedRecipe, stage: str) -> dict[str, Any] | None:
    path = marker_path(run, stage)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # written atomically, so only a hand edit breaks it: treat the stage as not finished


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def discard_from(run: ResolvedRecipe, stage: str, console: Console) -> None:
    """Forget `stage` and every later stage: markers, and their outputs inside the run folder."""
    order = run.recipe.stages()
    for later in order[order.index(stage):]:
        marker_path(run, later).unlink(missing_ok=True)
        folder = run.stage_dir(later)
        if folder.exists() and _inside(folder, run.out) and folder.resolve() != run.out.resolve():
            console.print(f"--from {stage}: removing {folder}", highlight=False)
            shutil.rmtree(folder)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_recipe(run: ResolvedRecipe, *, from_stage: str | None = None, console: Console | None = None) -> RunResult:
    """Run every unfinished stage of `run` in order; stops at the first stage that fails."""
    console = console or Console(stderr=True)
    order = run.recipe.stages()
    if from_stage is not None and from_stage not in order:
        raise RecipeError(f"--from: {from_stage!r} is not a stage of this recipe; its stages: {', '.join(order)}")
    prints = run.fingerprints()
    run.out.mkdir(parents=True, exist_ok=True)
    run.markers.mkdir(parents=True, exist_ok=True)
    if from_stage is not None:
        discard_from(run, from_stage, console)
    # Stale markers are found before anything runs, so a run never half-uses an outdated result.
    for stage in order:
        marker = read_marker(run, stage)
        if marker is not None and marker.get("fingerprint") != prints[stage]:
            raise RecipeError(f"stage {stage} finished earlier with a different recipe (or an earlier stage changed); "
                              f"rerun it with --from {stage}")
    run.write_resolved()
    from hermes4.recipe.stages import STAGE_OBJECTS, StageContext

    result = RunResult(out=run.out)
    with RunDisplay(order, console=console, title=f"hermes4 run {run.recipe.name} -> {run.out}") as display:
        context = StageContext(run, display)
        summaries, timings = context.summaries, context.timings
        failed = False
        for stage in order:
            runner = STAGE_OBJECTS[stage]
            output = str(runner.folder(run))
            if failed:
                result.outcomes.append(StageOutcome(stage, "not run", None, output))
                continue
            marker = read_marker(run, stage)
            kept = runner.read_summary(marker.get("summary")) if marker is not None else None
            if marker is not None and kept is not None:  # a marker this version cannot read: the stage runs again
                summaries[stage] = kept
                timings[stage] = float(marker.get("seconds") or 0.0)
                display.states[stage].seconds = timings[stage]
                display.finish(stage, "skipped", "finished earlier")
                result.outcomes.append(StageOutcome(stage, "skipped", timings[stage], output))
                continue
            display.start(stage)
            started = time.monotonic()
            try:
                summary = runner.run(context)
            except KeyboardInterrupt:
                display.finish(stage, "failed", "interrupted; rerun to resume")
                raise
            except Exception as exc:  # noqa: BLE001 (reported in the summary; the run stops here)
                seconds = time.monotonic() - started
                display.finish(stage, "failed", type(exc).__name__)
                message = str(exc) if isinstance(exc, (RecipeError, RuntimeError)) else (
                    f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
                result.outcomes.append(StageOutcome(stage, "failed", seconds, output, message))
                failed = True
                continue
            seconds = time.monotonic() - started
            timings[stage] = seconds
            summaries[stage] = summary
            write_json_atomic(marker_path(run, stage), {
                "stage": stage, "fingerprint": prints[stage], "finished": _now(), "seconds": round(seconds, 3),
                "output": output, "summary": summary.model_dump(mode="json")})
            display.finish(stage, "done")
            result.outcomes.append(StageOutcome(stage, "ran", seconds, output))
    write_json_atomic(run.out / "run.json", {
        "recipe": run.recipe.name, "source": str(run.source) if run.source else None, "finished": _now(),
        "stages": [{"stage": o.stage, "status": o.status, "seconds": o.seconds, "output": o.output, "error": o.error}
                   for o in result.outcomes]})
    return result


def summary_table(result: RunResult, run: ResolvedRecipe) -> Table:
    """The closing summary: every stage, what happened, how long it took, where its output is."""
    table = Table(title=f"hermes4 run {run.recipe.name}: {'done' if result.ok else 'stopped'}", title_justify="left")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("output")
    for outcome in result.outcomes:
        seconds = f"{outcome.seconds:.1f}" if outcome.seconds is not None else ""
        status = {"skipped": "skipped (finished earlier)"}.get(outcome.status, outcome.status)
        output = outcome.output
        if outcome.stage == "report" and outcome.status in ("ran", "skipped"):
            output = str(Path(outcome.output) / "report.md")
        table.add_row(outcome.stage, status, seconds, output)
    total = sum(o.seconds or 0 for o in result.outcomes if o.status == "ran")
    table.caption = f"this run: {total:.1f}s; run folder {run.out}"
    return table
