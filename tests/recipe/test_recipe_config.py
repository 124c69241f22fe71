"""Recipes: the tiny recipe parses and plans; mistakes are named by field; `hermes4 run --dry-run` prints the plan."""

import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.recipe import RecipeError, parse_recipe, read_recipe_file

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_recipe_parses_with_every_stage():
    recipe = parse_recipe(read_recipe_file(ROOT / "recipes" / "tiny.yaml"), where="tiny.yaml")
    assert recipe.name == "tiny"
    assert [run.name for run in recipe.data.sample][:2] == ["reasoning", "reasoning-long"]


def test_a_misspelt_key_names_its_field():
    data = read_recipe_file(ROOT / "recipes" / "tiny.yaml")
    data["data"]["sample"][0]["keeep"] = 2
    with pytest.raises(RecipeError, match=r"data\.sample\[0\].*keeep"):
        parse_recipe(data, where="tiny.yaml")


def test_dry_run_prints_the_plan_and_bad_files_are_one_line(tmp_path):
    plan = subprocess.run([sys.executable, "-m", "hermes4", "run", str(ROOT / "recipes" / "tiny.yaml"), "--dry-run"],
                          capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0, plan.stderr
    assert "report" in plan.stdout and "sft" in plan.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nout: runs/x\nmodel: {tiny: {size: {hidden_size: -1}}}\n")
    proc = subprocess.run([sys.executable, "-m", "hermes4", "run", str(bad), "--dry-run"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") <= 1 and "bad.yaml: train: Field required" in proc.stderr
