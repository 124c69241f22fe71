"""The stages of a recipe as objects, one file each: `model`, `data`, `sft`, `eval-*`, `length-control`, `report`.
`STAGE_OBJECTS` holds them in run order (the order of `hermes4.recipe.config.STAGES`)."""

from hermes4.recipe.config import STAGES
from hermes4.recipe.stages.base import Stage, StageContext, StageSummary
from hermes4.recipe.stages.data import DataStage, DataSummary
from hermes4.recipe.stages.evaluate import EvalStage, EvalSummary, ToolCallCheck
from hermes4.recipe.stages.length_control import LengthControlStage, LengthControlSummary
from hermes4.recipe.stages.model import ModelStage, ModelSummary
from hermes4.recipe.stages.report import ReportStage, ReportSummary
from hermes4.recipe.stages.sft import SftStage, TrainSummary

STAGE_OBJECTS: dict[str, Stage] = {
    stage.name: stage
    for stage in (DataStage(), ModelStage(), EvalStage("base"), SftStage(), EvalStage("sft"), LengthControlStage(),
                  EvalStage("length-control"), ReportStage())
}
assert tuple(STAGE_OBJECTS) == STAGES, "the stage objects must be listed in run order"

__all__ = [
    "STAGE_OBJECTS",
    "DataStage",
    "DataSummary",
    "EvalStage",
    "EvalSummary",
    "LengthControlStage",
    "LengthControlSummary",
    "ModelStage",
    "ModelSummary",
    "ReportStage",
    "ReportSummary",
    "SftStage",
    "Stage",
    "StageContext",
    "StageSummary",
    "ToolCallCheck",
    "TrainSummary",
]
