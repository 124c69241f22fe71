"""The `sft` stage: the trainer on the mix (tokenize, cached; pack; train; export), resuming from its last checkpoint;
one process or torchrun, given its resolved config as JSON."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import Stage, StageContext
from hermes4.recipe.stages.common import TrainSummary, metrics_activity, read_metrics, run_logged, train_command, train_summary


class SftStage(Stage):
    name = "sft"
    inputs = ("model", "data")
    summary_type = TrainSummary

    def folder(self, run: ResolvedRecipe) -> Path:
        return Path(run.train.output_dir)

    def sections(self, recipe: dict[str, Any]) -> list[Any]:
        return [recipe["train"], recipe["launch"]]

    def run(self, context: StageContext) -> TrainSummary:
        run = context.run
        cfg = run.train
        command, env = train_command(run, "sft")
        started = time.monotonic()
        procs = run.recipe.launch.nproc_per_node
        context.display.track(f"train ({'torchrun ' + str(procs) + ' processes' if procs > 1 else 'one process'})",
                              metrics_activity(cfg.resolved("jsonl"), cfg.schedule.steps, started))
        run_logged(command, env, self.folder(run) / "train.log", "sft: hermes4.train")
        return train_summary(read_metrics(cfg.resolved("jsonl")), cfg.resolved("export"), time.monotonic() - started, procs)
