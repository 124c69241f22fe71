"""The `length-control` stage: serve the SFT checkpoint, generate traces over HTTP, cut those over the budget, train
on `</think>` + end of turn (and, with `anchor`, the traces that finished by themselves as the model wrote them) from
the SFT checkpoint (`hermes4.train.length_control`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hermes4.recipe.config import RecipeError
from hermes4.recipe.engine import model_endpoint
from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import Stage, StageContext, StageSummary
from hermes4.recipe.stages.common import (
    TrainSummary,
    metrics_activity,
    read_metrics,
    run_logged,
    thread_env,
    train_command,
    train_summary,
)
from hermes4.store import write_json_atomic


class LengthControlSummary(StageSummary):
    """`hermes4.train.length_control_data.LengthControlReport`'s counts, where the traces went, and the training."""

    traces: int
    closed_naturally: int
    cut: int
    short: int
    dropped_overlong: int
    used: int
    used_natural: int = 0
    natural_rejected: int = 0
    anchors: int = 0
    traces_file: str
    samples_dir: str | None
    train: TrainSummary | None = None


class LengthControlStage(Stage):
    name = "length-control"
    inputs = ("sft", "data")
    summary_type = LengthControlSummary

    def folder(self, run: ResolvedRecipe) -> Path:
        assert run.length_control is not None
        return Path(run.length_control.train.output_dir)

    def sections(self, recipe: dict[str, Any]) -> list[Any]:
        return [recipe["length_control"], recipe["launch"]]

    def run(self, context: StageContext) -> LengthControlSummary:
        from hermes4.length_control import run_length_control

        run, display = context.run, context.display
        lc = run.length_control
        assert lc is not None
        sft = run.model_dir("sft")
        if not (sft / "config.json").is_file():
            raise RecipeError(f"length-control: no SFT model at {sft} (run the sft stage first)")
        out = self.folder(run)
        out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        total = _count_prompts(Path(lc.prompts)) * lc.samples_per_prompt
        with model_endpoint(run.recipe.engine, sft, name="sft", env=thread_env(run), log=out / "serve-sft.log",
                            max_batch=run.recipe.eval.max_batch if run.recipe.eval else 32) as served:
            display.track(f"generate {total} traces with the served SFT model (budget {lc.generation_budget} tokens)",
                          lambda: (0, 0, f"{time.monotonic() - started:.0f}s"))
            result = run_length_control(lc.model_copy(update={"llm": served.url}), train_model=False)
        summary = LengthControlSummary.model_validate({k: v for k, v in result.items() if k != "train"})
        if not summary.used:
            raise RuntimeError("length-control: no trace ran past the control budget, so there is nothing to train; "
                               f"lower length_control.control_budget (now {lc.control_budget})")
        command, env = train_command(run, "length-control")
        train_started = time.monotonic()
        trained = "</think> + end of turn" + ("" if lc.anchor == "close" else f" + anchors ({lc.anchor})")
        display.track(f"train on {trained}",
                      metrics_activity(lc.train.resolved("jsonl"), lc.train.schedule.steps, train_started))
        run_logged(command, env, out / "train.log", "length-control: hermes4.train")
        summary.train = train_summary(read_metrics(lc.train.resolved("jsonl")), lc.train.resolved("export"),
                                      time.monotonic() - train_started, run.recipe.launch.nproc_per_node)
        write_json_atomic(out / "stage_summary.json", summary.model_dump(mode="json"))
        return summary


def _count_prompts(path: Path) -> int:
    from hermes4.store import read_records

    return sum(1 for _ in read_records(path))
