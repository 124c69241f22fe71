"""benchmarks/bench_fidelity.py without running a recipe: its seed list, its per-effect table over seeds (shares
with Wilson CIs, figures with bootstrap CIs), the shrunk --quick recipe, and its reading of a finished run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from hermes4.recipe.effects import judge_effects
from hermes4.recipe.report import Count

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fidelity.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_fidelity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_fidelity"] = module  # its dataclasses look their module up
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_seed_lists():
    bench = load()
    assert bench.parse_seeds("5") == [0, 1, 2, 3, 4]
    assert bench.parse_seeds("0,3,7") == [0, 3, 7]
    for bad in ("0", "x", "-1,2", ","):
        with pytest.raises(ValueError, match="--seeds"):
            bench.parse_seeds(bad)
    assert bench.main(["--seeds", "x"]) == 2
    assert bench.main(["--recipe", "no/such.yaml"]) == 2


def _numbers(reasoning_hits: int) -> dict[str, dict[str, Count]]:
    return {"multi-step accuracy, reasoning": {"base": Count(0, 100), "sft": Count(reasoning_hits, 100)},
            "multi-step accuracy, non-reasoning": {"base": Count(0, 100), "sft": Count(1, 100)}}


def test_effect_table_counts_seeds_and_shows_each_seed():
    bench = load()
    runs = [bench.SeedRun(seed, Path(f"s{seed}"), judge_effects(_numbers(hits)), 1.0, False)
            for seed, hits in ((0, 81), (1, 0), (2, 90))]
    table, rows = bench.effect_table(runs)
    first = rows[0]
    assert first["effect"] == 1 and first["shown"] == 2 and first["seeds"] == 3
    assert [s["appeared"] for s in first["per_seed"]] == [True, False, True]
    line = table.splitlines()[2]
    assert "| 2/3 |" in line and "s0 yes (80.0)" in line and "s1 no (-1.0)" in line and "s2 yes (89.0)" in line
    assert "lift, points 56.0 [" in line  # the mean of 80, -1 and 89 with its bootstrap interval
    unmeasured = [r for r in rows if r["effect"] == 4][0]
    assert unmeasured["shown"] == 0 and all(s["appeared"] is None for s in unmeasured["per_seed"])


def test_quick_recipe_is_a_valid_shrunk_copy(tmp_path):
    from hermes4.recipe import resolve_recipe

    bench = load()
    path = bench.quick_recipe(Path("recipes/tiny.yaml"), tmp_path)
    run = resolve_recipe(path, out=tmp_path / "seed-0", seed=0).recipe
    assert run.train.schedule.steps == 20 and run.eval is not None and run.eval.limit == 8
    assert all("n=2500" not in spec for sample in run.data.sample for spec in sample.envs)
    assert run.seed == 0
