"""The recipe is one typed tree: `train:` and `length_control:` are the trainer's own models, and the trainer gets the
resolved config by value (its JSON), which it reads back to the same config."""

import json
from pathlib import Path

from hermes4.recipe import resolve_recipe
from hermes4.train.config import LengthControlConfig, TrainConfig
from hermes4.train.entry import load_training, run_train

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_sections_are_the_trainers_models_and_length_control_continues_train(tmp_path):
    run = resolve_recipe(RECIPES / "tiny.yaml", out=tmp_path / "run")
    assert isinstance(run.recipe.train, TrainConfig) and isinstance(run.recipe.length_control, LengthControlConfig)
    lc_train = run.recipe.length_control.train
    assert Path(lc_train.model.path) == tmp_path / "run" / "sft" / "final" and lc_train.model.init == "pretrained"
    assert Path(lc_train.output_dir) == tmp_path / "run" / "length-control"  # the recipe names it


def test_the_trainer_reads_the_resolved_json_back_to_the_same_config(tmp_path, capsys):
    run = resolve_recipe(RECIPES / "qwen3-14b.yaml", out=tmp_path / "run")  # a known architecture: plans offline
    path = run.write_training("sft")
    expected = run.training("sft")
    assert load_training(path) == expected and expected.logging.progress is False
    assert run_train(path, dry_run=True, as_json=True) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["steps"] == expected.schedule.steps and plan["seq_len"] == expected.data.seq_len
