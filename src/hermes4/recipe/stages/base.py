"""What a stage of a recipe is: a name, the stages whose outputs it reads, the recipe sections it depends on, its
folder, and `run(context) -> summary` (a typed value the runner keeps in the stage's marker and the report reads)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from hermes4.recipe.display import RunDisplay
    from hermes4.recipe.resolve import ResolvedRecipe


class StageSummary(BaseModel):
    """What a finished stage reports (JSON in its marker, read back typed)."""


@dataclass
class StageContext:
    """What a stage runs with: the resolved recipe, the live display, and what the stages before it reported."""

    run: ResolvedRecipe
    display: RunDisplay
    summaries: dict[str, StageSummary] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class Stage(ABC):
    name: str
    inputs: tuple[str, ...]  # the stages whose outputs this one reads
    summary_type: ClassVar[type[StageSummary]]

    @abstractmethod
    def folder(self, run: ResolvedRecipe) -> Path:
        """Where the stage writes."""

    @abstractmethod
    def sections(self, recipe: dict[str, Any]) -> list[Any]:
        """The parts of the recipe (as JSON) the stage's result depends on: its fingerprint hashes them."""

    @abstractmethod
    def run(self, context: StageContext) -> StageSummary:
        """Run the stage (resuming its own work where the layers can) and say what it produced."""

    def read_summary(self, data: Any) -> StageSummary | None:
        """The summary kept in a marker, or None when it is not this stage's shape (a marker of an older version)."""
        try:
            return self.summary_type.model_validate(data)
        except ValueError:
            return None
