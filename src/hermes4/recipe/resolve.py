"""A recipe bound to its output folder: paths moved under `--out`, each stage's folder named, the training configs
the trainer receives (by value, as JSON), and a fingerprint per stage that says whether a finished stage is still
the one the recipe asks for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes4.recipe.config import STAGES, Recipe, RecipeError, parse_recipe, read_recipe_file, rebase_paths
from hermes4.store import content_id, write_json_atomic
from hermes4.train.config import LengthControlConfig, TrainConfig

@dataclass
class ResolvedRecipe:
    recipe: Recipe  # paths already under `out`
    out: Path
    source: Path | None = None

    @property
    def train(self) -> TrainConfig:
        return self.recipe.train

    @property
    def length_control(self) -> LengthControlConfig | None:
        return self.recipe.length_control

    # -- folders ---------------------------------------------------------------------------------------------

    @property
    def markers(self) -> Path:
        return self.out / "stages"

    def stage_dir(self, stage: str) -> Path:
        """Where a stage writes."""
        from hermes4.recipe.stages import STAGE_OBJECTS

        return STAGE_OBJECTS[stage].folder(self)

    def model_dir(self, which: str) -> Path:
        """The model folder of `base`, `sft` or `length-control`."""
        if which == "base":
            return Path(self.train.model.path)
        if which == "sft":
            return self.train.resolved("export")
        assert self.length_control is not None
        return self.length_control.train.resolved("export")

    # -- fingerprints ----------------------------------------------------------------------------------------

    def fingerprints(self) -> dict[str, str]:
        """Per stage, a hash of the recipe sections it reads and of the fingerprints of the stages it reads from,
        so a change marks that stage and everything downstream of it as out of date (and nothing else)."""
        from hermes4.recipe.stages import STAGE_OBJECTS

        recipe = self.recipe.model_dump(mode="json")
        out: dict[str, str] = {}
        for stage in STAGES:  # STAGES is in dependency order
            upstream = [out[s] for s in STAGE_OBJECTS[stage].inputs]
            out[stage] = content_id("recipe-stage", stage, STAGE_OBJECTS[stage].sections(recipe), upstream, length=16)
        return out

    # -- what the trainer receives ----------------------------------------------------------------------------

    def training(self, stage: str) -> TrainConfig:
        """The training config of `sft` or `length-control` as the trainer runs it under `hermes4 run` (the run's
        display shows training progress, so the trainer draws none)."""
        if stage == "sft":
            config = self.train
        else:
            assert self.length_control is not None
            from hermes4.train.length_control import length_control_train_config

            config = length_control_train_config(self.length_control)
        return config.model_copy(update={"logging": config.logging.model_copy(update={"progress": False})})

    def write_resolved(self) -> Path:
        """The resolved recipe (paths under the run folder, every default filled in) as JSON: a record of what ran."""
        path = self.out / "recipe.resolved.json"
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, self.recipe.model_dump(mode="json"))
        return path

    def write_training(self, stage: str) -> Path:
        """The stage's training config as JSON in the run folder: what `python -m hermes4.train` (torchrun) reads."""
        path = self.out / f"train-{stage}.json"
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, self.training(stage).model_dump(mode="json"))
        return path


def resolve_recipe(path: str | Path | None = None, *, data: dict[str, Any] | None = None,
                   out: str | Path | None = None, seed: int | None = None) -> ResolvedRecipe:
    """Load a recipe file (or an already-read mapping) and bind it to `out` (default: the recipe's `out:`) and to
    `seed` (default: the recipe's `seed:`; without either, the seed fields stay as written)."""
    source = Path(path) if path is not None else None
    if data is None:
        if source is None:
            raise RecipeError("resolve_recipe: give a recipe path or data")
        data = read_recipe_file(source)
    where = str(source) if source else "recipe"
    recipe = parse_recipe(data, where=where)
    if seed is not None and seed < 0:
        raise RecipeError(f"--seed: must be 0 or more, got {seed}")
    run_seed = seed if seed is not None else recipe.seed
    if run_seed is not None:
        from hermes4.recipe.seeding import apply_seed

        data = apply_seed(data, run_seed)
    target = Path(out) if out is not None else Path(recipe.out)
    # Paths under the recipe's own `out:` folder are stage outputs: they move with --out.
    moved = rebase_paths(data, recipe.out, str(target)) if Path(recipe.out) != target else dict(data)
    moved["out"] = str(target)
    return ResolvedRecipe(recipe=parse_recipe(moved, where=where), out=target, source=source)
