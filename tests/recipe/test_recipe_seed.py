"""The recipe's one seed: every seed field derives from it, the same seed resolves identically, and the held-out
eval items stay disjoint from the items the data stages draw under any seed."""

from __future__ import annotations

import json

import pytest

from hermes4.recipe import RecipeError, resolve_recipe
from hermes4.recipe.config import read_recipe_file
from hermes4.recipe.seeding import seed_fields

TINY = "recipes/tiny.yaml"


def _resolved(seed: int | None, tmp_path) -> dict:
    run = resolve_recipe(TINY, out=tmp_path / "run", seed=seed)
    return run.recipe.model_dump(mode="json")


def test_different_seeds_differ_in_every_derived_seed(tmp_path):
    a, b = seed_fields(_resolved(0, tmp_path)), seed_fields(_resolved(1, tmp_path))
    # every random choice of the tiny recipe has its field: model, teacher, each data run, mix, packing, LC, eval
    assert {"model.tiny.seed", "endpoints.teacher.serve.env.HERMES4_TEACHER_SEED", "data.forge[direct].seed",
            "data.sample[reasoning].seed", "data.sample[tool-use].seed", "data.prompts[length-control-prompts].seed",
            "train.seed", "train.data.mix.seed", "length_control.seed", "length_control.train.seed",
            "eval.seed"} <= set(a)
    assert a.keys() == b.keys()
    same = [k for k in a if a[k] == b[k]]
    assert same == []
    assert len(set(a.values())) == len(a)  # no two fields share a seed within one run


def test_same_seed_gives_identical_resolved_configs(tmp_path):
    first, second = _resolved(7, tmp_path), _resolved(7, tmp_path)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["seed"] == 7
    run = resolve_recipe(TINY, out=tmp_path / "run", seed=7)
    assert run.fingerprints() == resolve_recipe(TINY, out=tmp_path / "run", seed=7).fingerprints()
    assert run.fingerprints()["model"] != resolve_recipe(TINY, out=tmp_path / "run", seed=8).fingerprints()["model"]


def test_recipe_seed_field_and_cli_override(tmp_path):
    data = read_recipe_file(TINY)
    from_field = resolve_recipe(data={**data, "seed": 5}, out=tmp_path / "run").recipe.model_dump(mode="json")
    from_flag = _resolved(5, tmp_path)
    assert seed_fields(from_field) == seed_fields(from_flag)
    overridden = resolve_recipe(data={**data, "seed": 5}, out=tmp_path / "run", seed=6).recipe
    assert overridden.seed == 6
    # without a seed the recipe's own fields stay as written
    plain = resolve_recipe(TINY, out=tmp_path / "run").recipe
    assert plain.seed is None and plain.train.seed == 0 and plain.model.tiny.seed == 0
    with pytest.raises(RecipeError, match="--seed"):
        resolve_recipe(TINY, out=tmp_path / "run", seed=-1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_eval_items_stay_disjoint_from_training_items(seed, tmp_path):
    """The envs' train and test draws are separately seeded streams, not a partition: under seed 3 the reasoning
    sample run draws one of the 100 multi_step eval prompts, under seed 4 the easy run one of the 100 compare prompts,
    and under seeds 0 and 3 the sorting run one of the 40 long-task lists (lists of 4-10 distinct digits recur). The
    eval stage leaves such items out."""
    from hermes4.envs import get_env
    from hermes4.recipe.stages.evaluate import eval_tasks

    run = resolve_recipe(TINY, out=tmp_path / "run", seed=seed)
    recipe = run.recipe
    assert recipe.eval is not None
    drawn = [item.prompt.to_json() for sample in recipe.data.sample for spec in sample.envs
             for item in get_env(spec).items(sample.split, sample.seed)]
    # what the data stage would write: one mix source holding every drawn conversation's prompt
    source = tmp_path / "run" / "data" / "direct" / "final.jsonl"
    source.parent.mkdir(parents=True)
    source.write_text("".join(json.dumps(c) + "\n" for c in drawn), encoding="utf-8")
    trained = {c["messages"][-1]["content"] for c in drawn}
    tasks = eval_tasks(run, recipe.eval.tasks)
    for task in tasks:
        prompts = {item.prompt.messages[-1].content for item in task.items}
        assert prompts and not (prompts & trained), task.name
    sizes = {t.name: len(t.items) for t in tasks}
    assert sizes == {"multi_step": 99 if seed == 3 else 100, "long": 39 if seed in (0, 3) else 40, "tool_use": 40, "json_schema": 40,
                     "easy": 99 if seed == 4 else 100}


def test_dry_run_shows_the_seed_and_every_derived_seed(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "hermes4", "run", TINY, "--seed", "3", "--dry-run", "--json",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["seed"] == 3
    assert plan["seeds"] == seed_fields(_resolved(3, tmp_path))
    assert not (tmp_path / "run").exists()  # a dry run writes nothing


def test_bad_seed_flag_is_one_line_exit_2(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "hermes4", "run", TINY, "--seed", "-4", "--dry-run",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "--seed: must be 0 or more" in result.stderr
