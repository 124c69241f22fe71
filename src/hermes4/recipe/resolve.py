"""A recipe bound to its output folder: paths moved under `--out`, the trainer's own configs loaded from the
resolved copy, each stage's folder named, and a fingerprint per stage that says whether a finished stage is
still the one the recipe asks for."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hermes4.recipe.config import STAGES, Recipe, RecipeError, parse_recipe, read_recipe_file, rebase_paths
from hermes4.store import content_id
from hermes4.train.config import ConfigError, LengthControlConfig, TrainConfig

RESOLVED_NAME = "recipe.resolved.yaml"
# The stages whose outputs each stage reads.
STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "model": (),
    "data": (),
    "eval-base": ("model",),
    "sft": ("model", "data"),
    "eval-sft": ("sft",),
    "length-control": ("sft", "data"),
    "eval-length-control": ("length-control",),
    "report": ("data", "eval-base", "sft", "eval-sft", "length-control", "eval-length-control"),
}


@dataclass
class ResolvedRecipe:
    recipe: Recipe
    out: Path
    data: dict[str, Any]  # the recipe as validated, paths already under `out`
    train: TrainConfig
    length_control: LengthControlConfig | None
    source: Path | None = None

    # -- folders ---------------------------------------------------------------------------------------------

    @property
    def resolved_file(self) -> Path:
        return self.out / RESOLVED_NAME

    @property
    def markers(self) -> Path:
        return self.out / "stages"

    def stage_dir(self, stage: str) -> Path:
        """Where a stage writes."""
        if stage == "model":
            return Path(self.train.model.path)
        if stage == "data":
            return self.out / "data"
        if stage == "sft":
            return Path(self.train.output_dir)
        if stage == "length-control":
            assert self.length_control is not None
            return Path(self.length_control.train.output_dir)
        if stage.startswith("eval-"):
            return self.out / "eval" / stage.removeprefix("eval-")
        if stage == "report":
            return self.out / "report"
        raise KeyError(stage)

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
        d = self.data
        own: dict[str, Any] = {
            "model": [d.get("model"), (d.get("train") or {}).get("model")],
            "data": [d.get("endpoints"), d.get("data")],
            "eval-base": [d.get("eval")],
            "sft": [d.get("train"), d.get("launch")],
            "eval-sft": [d.get("eval")],
            "length-control": [d.get("length_control"), d.get("launch")],
            "eval-length-control": [d.get("eval")],
            "report": [d.get("eval"), d.get("name"), d.get("description")],
        }
        out: dict[str, str] = {}
        for stage in STAGES:  # STAGES is in dependency order
            upstream = [out[s] for s in STAGE_INPUTS[stage]]
            out[stage] = content_id("recipe-stage", stage, own[stage], upstream, length=16)
        return out

    # -- the copy the trainer reads ---------------------------------------------------------------------------

    def write_resolved(self) -> Path:
        """Write the resolved recipe (what `hermes4.train` and `hermes4 length-control` read) into the run folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        text = _resolved_text(self.data, self.source)
        tmp = self.resolved_file.with_name(f".{RESOLVED_NAME}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.resolved_file)
        return self.resolved_file


def _for_trainer(data: dict[str, Any]) -> dict[str, Any]:
    """The recipe as the trainer reads it under `hermes4 run`: the run's display shows training progress."""
    out = dict(data)
    train = dict(out["train"])
    train["logging"] = {**(train.get("logging") or {}), "progress": False}
    out["train"] = train
    if out.get("length_control"):
        lc = dict(out["length_control"])
        lc_train = dict(lc.get("train") or {})
        lc_train["logging"] = {**(lc_train.get("logging") or {}), "progress": False}
        lc["train"] = lc_train
        out["length_control"] = lc
    return out


def _resolved_text(data: dict[str, Any], source: Path | None) -> str:
    head = f"# Resolved by `hermes4 run` from {source}: paths under the run folder; read by the trainer.\n" if source else ""
    return head + yaml.safe_dump(_for_trainer(data), sort_keys=False, allow_unicode=True, width=120)


def _load_trainer_sections(data: dict[str, Any], source: Path | None) -> tuple[TrainConfig, LengthControlConfig | None]:
    """The trainer's loaders on a temporary resolved copy (they read files), with their field-naming errors."""
    from hermes4.train.config import load_length_control_config, load_train_config

    with tempfile.TemporaryDirectory(prefix="hermes4-recipe-") as tmp:
        path = Path(tmp) / RESOLVED_NAME
        path.write_text(_resolved_text(data, source), encoding="utf-8")
        where = str(source) if source else "recipe"
        try:
            train = load_train_config(path)
            lc = load_length_control_config(path) if data.get("length_control") else None
        except ConfigError as exc:
            raise RecipeError(str(exc).replace(str(path), where)) from None
    return train, lc


def resolve_recipe(path: str | Path | None = None, *, data: dict[str, Any] | None = None,
                   out: str | Path | None = None) -> ResolvedRecipe:
    """Load a recipe file (or an already-read mapping) and bind it to `out` (default: the recipe's `out:`)."""
    source = Path(path) if path is not None else None
    if data is None:
        if source is None:
            raise RecipeError("resolve_recipe: give a recipe path or data")
        data = read_recipe_file(source)
    where = str(source) if source else "recipe"
    recipe = parse_recipe(data, where=where)
    target = Path(out) if out is not None else Path(recipe.out)
    # Paths under the recipe's own `out:` folder are stage outputs: they move with --out.
    moved = rebase_paths(data, recipe.out, str(target)) if Path(recipe.out) != target else dict(data)
    moved["out"] = str(target)
    recipe = parse_recipe(moved, where=where)
    train, lc = _load_trainer_sections(moved, source)
    return ResolvedRecipe(recipe=recipe, out=target, data=moved, train=train, length_control=lc, source=source)
