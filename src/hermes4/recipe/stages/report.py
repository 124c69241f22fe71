"""The `report` stage: the recipe's report (`hermes4.recipe.report`) from what the earlier stages reported and the
eval runs' own files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hermes4.recipe.effects import EffectSummary
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import Stage, StageContext, StageSummary


class CountSummary(StageSummary):
    hits: int
    n: int
    rate: float | None


class ReportSummary(StageSummary):
    markdown: str
    png: str | None
    eval_report: str | None
    headline: dict[str, dict[str, CountSummary]]  # measure -> model -> count
    effects: list[EffectSummary] = []  # the six effects of issue 19 (empty in markers of older runs)


class ReportStage(Stage):
    name = "report"
    inputs = ("data", "eval-base", "sft", "eval-sft", "length-control", "eval-length-control")
    summary_type = ReportSummary

    def folder(self, run: ResolvedRecipe) -> Path:
        return run.out / "report"

    def sections(self, recipe: dict[str, Any]) -> list[Any]:
        return [recipe["eval"], recipe["name"], recipe["description"]]

    def run(self, context: StageContext) -> ReportSummary:
        from hermes4.recipe.report import write_recipe_report

        return write_recipe_report(context.run, context.summaries, context.timings)
