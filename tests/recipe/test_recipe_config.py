"""Recipes: the shipped recipes parse, resolve and plan; mistakes are named by field; `--out` moves stage paths;
stage fingerprints change exactly downstream of an edit; `hermes4 run --dry-run` prints the plan."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.recipe import RecipeError, parse_recipe, read_recipe_file, resolve_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"


def _hermes4(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes4", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def test_tiny_recipe_parses_with_every_stage():
    recipe = parse_recipe(read_recipe_file(RECIPES / "tiny.yaml"), where="tiny.yaml")
    assert recipe.name == "tiny"
    assert [run.name for run in recipe.data.sample][:2] == ["reasoning", "reasoning-long"]
    assert recipe.stages() == ["data", "model", "eval-base", "sft", "eval-sft", "length-control",
                               "eval-length-control", "report"]


def test_a_misspelt_key_names_its_field():
    data = read_recipe_file(RECIPES / "tiny.yaml")
    data["data"]["sample"][0]["keeep"] = 2
    with pytest.raises(RecipeError, match=r"data\.sample\[0\]\.keeep: unknown field"):
        parse_recipe(data, where="tiny.yaml")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["data"]["sample"][1].update(llm="nobody"), r"data\.sample\[1\]\.llm: no endpoint named 'nobody'"),
    (lambda d: d["data"]["sample"][0].update(keep=9, group_size=4), r"data\.sample\[0\].*keep \(9\) cannot exceed group_size"),
    (lambda d: d["endpoints"]["teacher"].update(url="http://x:1/v1"), r"endpoints\.teacher.*exactly one of url or serve"),
    (lambda d: d["model"]["tiny"]["size"].update(hidden=8), r"model\.tiny\.size: unknown field 'hidden'"),
    (lambda d: d["eval"]["tasks"][0].update(thinking="maybe"), r"eval\.tasks\[0\]\.thinking: must be one of"),
    (lambda d: d.pop("length_control"), r"eval\.models: 'length-control' needs a length_control section"),
    (lambda d: d["eval"].update(reasoning_budget=0), r"eval\.reasoning_budget: .*greater than or equal to 1"),
    (lambda d: d["eval"].update(budget_mode="server"), r"eval\.budget_mode: .*'client' or 'engine'"),
    (lambda d: d["eval"].update(budget_mode="engine", reasoning_budget=64), r"eval\.budget_mode: engine .* needs engine: vllm"),
])
def test_recipe_mistakes_name_the_field(edit, message):
    data = read_recipe_file(RECIPES / "tiny.yaml")
    edit(data)
    with pytest.raises(RecipeError, match=message):
        parse_recipe(data, where="tiny.yaml")


def test_train_section_errors_come_from_the_trainers_loader(tmp_path):
    data = read_recipe_file(RECIPES / "tiny.yaml")
    data["train"]["optim"]["lr"] = -1
    with pytest.raises(RecipeError, match=r"train\.optim\.lr: Input should be greater than 0"):
        resolve_recipe(RECIPES / "tiny.yaml", data=data, out=tmp_path / "run")
    data = read_recipe_file(RECIPES / "tiny.yaml")
    data["length_control"]["control_budget"] = 10**6
    with pytest.raises(RecipeError, match=r"control_budget \(1000000\) exceeds generation_budget"):
        resolve_recipe(RECIPES / "tiny.yaml", data=data, out=tmp_path / "run")


def test_out_moves_every_stage_path(tmp_path):
    run = resolve_recipe(RECIPES / "tiny.yaml", out=tmp_path / "elsewhere")
    out = tmp_path / "elsewhere"
    assert Path(run.train.model.path) == out / "model"
    assert Path(run.train.output_dir) == out / "sft"
    assert {Path(s["path"]).parent.parent if s["path"].endswith(".jsonl") else Path(s["path"]).parent
            for s in run.train.data.mix["sources"]} == {out / "data"}
    assert run.length_control is not None
    assert Path(run.length_control.prompts) == out / "data" / "length-control-prompts.jsonl"
    assert Path(run.length_control.train.model.path) == out / "sft" / "final"  # continues from the SFT export
    assert [run.stage_dir(s) for s in ("data", "eval-sft", "report")] == [out / "data", out / "eval" / "sft", out / "report"]


def test_fingerprints_change_exactly_downstream_of_an_edit(tmp_path):
    base_data = read_recipe_file(RECIPES / "tiny.yaml")
    base = resolve_recipe(RECIPES / "tiny.yaml", data=base_data, out=tmp_path).fingerprints()

    def changed(edit) -> set[str]:
        data = copy.deepcopy(base_data)
        edit(data)
        prints = resolve_recipe(RECIPES / "tiny.yaml", data=data, out=tmp_path).fingerprints()
        return {stage for stage in prints if prints[stage] != base[stage]}

    assert changed(lambda d: d["eval"].update(max_tokens=300)) == {"eval-base", "eval-sft", "eval-length-control", "report"}
    assert changed(lambda d: d["eval"].update(reasoning_budget=64)) == {"eval-base", "eval-sft", "eval-length-control", "report"}
    assert changed(lambda d: d["train"]["schedule"].update(steps=100)) == {
        "sft", "eval-sft", "length-control", "eval-length-control", "report"}
    # the tiny model's tokenizer learns from the data (tokenizer_from_data), so the model and its eval follow it
    assert changed(lambda d: d["data"]["sample"][0].update(keep=2)) == {
        "data", "model", "eval-base", "sft", "eval-sft", "length-control", "eval-length-control", "report"}
    assert changed(lambda d: d["length_control"].update(control_budget=120)) == {
        "length-control", "eval-length-control", "report"}


def test_dry_run_prints_the_plan_and_bad_files_are_one_line(tmp_path):
    plan = _hermes4("run", str(RECIPES / "tiny.yaml"), "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "report" in plan.stdout and "sft" in plan.stdout and "2 CPU cores" in plan.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nout: runs/x\nmodel: {tiny: {size: {hidden_size: -1}}}\n")
    proc = _hermes4("run", str(bad), "--dry-run")
    assert proc.returncode == 2 and proc.stderr.count("\n") <= 1 and "bad.yaml: train: Field required" in proc.stderr
    missing = _hermes4("run", str(tmp_path / "nope.yaml"), "--dry-run")
    assert missing.returncode == 2 and "nope.yaml: no such recipe file" in missing.stderr


@pytest.mark.parametrize(("name", "gpu_hours_reported", "stages"), [
    ("qwen3-14b.yaml", 4504, ["data", "sft", "eval-sft", "length-control", "eval-length-control", "report"]),
    ("llama3.1-70b.yaml", 13007, ["data", "sft", "eval-sft", "report"]),
])
def test_real_recipes_dry_run(name, gpu_hours_reported, stages):
    proc = _hermes4("run", str(RECIPES / name), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [s["stage"] for s in plan["stages"]] == stages
    sft = next(s for s in plan["stages"] if s["stage"] == "sft")
    assert "9,000 steps x 384 rows x 16,384 tokens = 56.623B tokens processed" in sft["counts"][0]
    # GPU-hours from the report's own throughput are labelled as reported, the MFU-based ones as assumed.
    assert f"{gpu_hours_reported:,} B200 GPU-hours (reported)" in sft["compute"] and "(assumed)" in sft["compute"]
    assert {t["source"] for t in plan["throughput"]} == {"reported", "assumed"}
    data = next(s for s in plan["stages"] if s["stage"] == "data")
    assert any("1,000,000 items" in c and "keep <= 4 of <= 16" in c for c in data["counts"])
    if name.startswith("qwen3"):
        lc = next(s for s in plan["stages"] if s["stage"] == "length-control")
        assert "cut at 30,000 reasoning tokens, generate up to 40,960" in lc["what"]
