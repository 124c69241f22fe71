"""The reasoning_gym env: spec options, items with provenance, the library's scorer out of process (pass, fail,
crash = error, hang = timeout, a dying scorer process = error and the pool recovers), `envs list`, and the `broad`
preset in a recipe."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hermes4.envs import EnvSpecError, Trajectory, get_env
from hermes4.envs.rgym.catalog import ANSWER_INSTRUCTION, all_datasets, core_tasks, oracle_answer, presets, usable_datasets
from hermes4.envs.rgym.env import ReasoningGymEnv, allocate, parse_mix

pytest.importorskip("reasoning_gym")


def answered(text: str, reasoning: str = "worked it out") -> Trajectory:
    return Trajectory.from_text(text, reasoning=reasoning)


def test_spec_options_and_errors() -> None:
    env = get_env("reasoning_gym:datasets=gcd:3+lcm,n=8")
    counts = {}
    for item in env.items():
        counts[item.meta["provenance"]["dataset"]] = counts.get(item.meta["provenance"]["dataset"], 0) + 1
    assert counts == {"gcd": 6, "lcm": 2}
    assert allocate(parse_mix(["gcd", "lcm", "chain_sum:2"]), 5) == {"gcd": 1, "lcm": 1, "chain_sum": 3}
    assert len(get_env("reasoning_gym").parts) == len(usable_datasets()) == len(presets()["broad"])
    assert {p.dataset for p in get_env("reasoning_gym:preset=geometry").parts} == {"advanced_geometry", "simple_geometry"}
    with pytest.raises(EnvSpecError, match="unknown reasoning-gym dataset 'no_such'"):
        get_env("reasoning_gym:dataset=no_such")
    with pytest.raises(EnvSpecError, match="'game_of_life_halting' is excluded"):
        get_env("reasoning_gym:dataset=game_of_life_halting")
    with pytest.raises(EnvSpecError, match="give one of dataset, datasets, preset"):
        get_env("reasoning_gym:dataset=gcd,preset=broad")
    with pytest.raises(EnvSpecError, match="weight must be positive"):
        get_env("reasoning_gym:datasets=gcd:0")
    with pytest.raises(EnvSpecError, match="config: applies to a single dataset"):
        get_env("reasoning_gym:datasets=gcd+lcm,config=min_value:5")
    with pytest.raises(EnvSpecError, match="bad config"):
        get_env("reasoning_gym:dataset=gcd,config=colour:red,n=2")


def test_items_carry_provenance_and_answer_format() -> None:
    import reasoning_gym

    env = get_env("reasoning_gym:dataset=gcd,config=min_value:10;max_value:99,n=5,seed=3")
    items = env.items()
    assert [i.id for i in items] == [i.id for i in env.items()]  # deterministic
    assert {i.id for i in items}.isdisjoint(i.id for i in env.items(split="test"))
    for item in items:
        assert item.prompt.messages[-1].content.endswith(ANSWER_INSTRUCTION)
        provenance = item.meta["provenance"]
        assert provenance["dataset"] == "gcd" and provenance["config"]["min_value"] == 10 and provenance["seed"] == provenance["config"]["seed"]
        assert provenance["library"].startswith("reasoning-gym ")
        # The provenance regenerates the entry with the library alone.
        again = reasoning_gym.create_dataset("gcd", **provenance["config"])[provenance["index"]]
        assert again["question"] == item.reference["entry"]["question"]


def test_library_scorer_decides_and_every_verdict_has_provenance() -> None:
    # arc_agi's config nests a dataclass and its metadata holds tuples; graph_color has no single answer.
    env = get_env("reasoning_gym:datasets=countdown+spiral_matrix+graph_color+arc_agi,n=4")
    for item in env.items():
        answer = oracle_answer(item.reference["entry"])
        good = env.verify(item, answered(f"<answer>{answer}</answer>"))
        assert good.status == "pass" and good.reward == 1.0, good.details
        assert good.details["provenance"] == item.meta["provenance"]
        wrong = env.verify(item, answered("<answer>7</answer>"))
        assert wrong.status == "fail" and wrong.details["provenance"]["dataset"] == item.meta["provenance"]["dataset"]
        # Only the text after </think> counts: an answer inside the reasoning is no answer.
        hidden = env.verify(item, Trajectory.from_text(f"<think>maybe <answer>{answer}</answer></think>\nnot sure"))
        assert hidden.status == "fail" and "no <answer>" in hidden.details["reason"]


def test_scorer_crash_hang_and_death_are_error_and_timeout() -> None:
    crash_env = get_env("reasoning_gym:dataset=prime_factorization,n=1")
    item = crash_env.items()[0]
    crashed = crash_env.verify(item, answered("<answer>not numbers</answer>"))
    assert crashed.status == "error" and "ValueError" in crashed.details["error"]

    env = get_env("reasoning_gym:dataset=spiral_matrix,n=1,timeout_s=1")
    item = env.items()[0]
    hung = env.verify(item, answered("<answer>[9**9**9**9]</answer>"))  # the scorer eval()s the answer
    assert hung.status == "timeout" and "exceeded 1s" in hung.details["reason"]
    died = env.verify(item, answered("<answer>[__import__('os')._exit(3)]</answer>"))
    assert died.status == "error" and "died (exit 3" in died.details["error"]
    # The pool replaced both workers: the next call is scored normally.
    good = env.verify(item, answered(f"<answer>{oracle_answer(item.reference['entry'])}</answer>"))
    assert good.status == "pass"


def test_envs_list_shows_the_families() -> None:
    listed = subprocess.run([sys.executable, "-m", "hermes4", "envs", "list"], capture_output=True, text=True, timeout=180, check=False)
    assert listed.returncode == 0, listed.stderr
    usable, every = usable_datasets(), all_datasets()
    assert f"{len(usable)} datasets ({len(every)} found, {len(every) - len(usable)} excluded): reasoning-gym 0.1" in listed.stdout
    assert "countdown" in listed.stdout and "excluded composite:" in listed.stdout
    assert "presets: broad, reasoning_gym," in listed.stdout


def test_broad_preset_in_a_recipe(tmp_path) -> None:
    import json

    import yaml

    from pathlib import Path

    recipe = yaml.safe_load((Path(__file__).parents[2] / "recipes" / "tiny.yaml").read_text(encoding="utf-8"))
    recipe["endpoints"]["teacher"]["serve"].update(
        scripted="hermes4.teacher.reasoning_gym:teacher", env={"HERMES4_RG_TEACHER_ENV": "reasoning_gym:preset=broad,n=5000"}
    )
    recipe["data"]["sample"][0]["envs"] = ["reasoning_gym:preset=broad,n=5000"]
    path = tmp_path / "broad.yaml"
    path.write_text(yaml.safe_dump(recipe))
    run = subprocess.run([sys.executable, "-m", "hermes4", "run", str(path), "--dry-run", "--json"], capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    data = next(s for s in json.loads(run.stdout)["stages"] if s["stage"] == "data")
    assert any(c.startswith("sample reasoning: 5,000 items") for c in data["counts"])


def test_reasoning_core_tasks_join_the_mix_when_installed() -> None:
    if not core_tasks():
        pytest.skip("reasoning-core is not installed")
    env = get_env("reasoning_gym:datasets=set_expression+gcd,n=4")
    items = env.items()
    libraries = {item.meta["provenance"]["library"].split()[0] for item in items}
    assert libraries == {"reasoning-core", "reasoning-gym"}
    for item in items:
        good = env.verify(item, answered(f"<answer>{oracle_answer(item.reference['entry'])}</answer>"))
        assert good.status == "pass", good.details
        assert env.verify(item, answered("<answer>nothing</answer>")).status == "fail"
    assert "set_expression" in presets()["reasoning_core"] and "set_expression" not in presets()["reasoning_gym"]


def test_a_broken_generator_is_skipped_in_a_mix_and_an_error_alone(monkeypatch) -> None:
    make = ReasoningGymEnv._make_dataset

    def broken_lcm(self, name, *args, **kwargs):
        if name == "lcm":
            raise RuntimeError("no valid grid after 500 tries")
        return make(self, name, *args, **kwargs)

    monkeypatch.setattr(ReasoningGymEnv, "_make_dataset", broken_lcm)
    mix = get_env("reasoning_gym:datasets=gcd+lcm,n=4")
    items = mix.items()
    assert {i.meta["provenance"]["dataset"] for i in items} == {"gcd"} and len(items) == 2
    assert "no valid grid" in mix.skipped["lcm"]
    with pytest.raises(ValueError, match="dataset 'lcm': cannot create it: RuntimeError: no valid grid"):
        get_env("reasoning_gym:dataset=lcm,n=2").items()
