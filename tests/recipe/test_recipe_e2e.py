"""The tiny recipe end to end, shrunk: `hermes4 run` makes the model, serves the teacher over HTTP for DataForge and
the rejection sampler, trains with torchrun, serves each checkpoint for the evals, runs length control and writes
the report; a rerun skips every finished stage, `--from` reruns from a stage, and an edited recipe is refused
until the stale stage is rerun."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hermes4.recipe import read_recipe_file

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["data", "model", "eval-base", "sft", "eval-sft", "length-control", "eval-length-control", "report"]


def _small_tiny_recipe() -> dict:
    """recipes/tiny.yaml with every count cut down (same stages, same settings otherwise)."""
    data = read_recipe_file(ROOT / "recipes" / "tiny.yaml")
    data["data"]["forge"][0]["walks"] = 60
    sizes = {"reasoning": "procedural:tasks=arithmetic,difficulty=0,n=80",
             "reasoning-long": "procedural:tasks=sorting,difficulty=1,n=10",
             "tool-use": "tool_use:n=8", "json-schema": "json_schema:tasks=produce,max_depth=0,n=16",
             "easy": "procedural:tasks=compare,difficulty=0,n=10"}
    for run in data["data"]["sample"]:
        run["envs"] = [sizes[run["name"]]]
    data["data"]["prompts"][0]["env"] = "procedural:tasks=sorting,difficulty=1,n=12,seed=7"
    data["train"]["schedule"].update(steps=24, warmup_steps=4)
    data["train"]["checkpoint"]["every"] = 12
    data["length_control"]["train"]["schedule"].update(steps=3, warmup_steps=1)
    tasks = {"multi_step": "procedural:tasks=arithmetic,difficulty=0,n=8", "long": "procedural:tasks=sorting,difficulty=1,n=4",
             "tool_use": "tool_use:n=4", "json_schema": "json_schema:tasks=produce,max_depth=0,n=4",
             "easy": "procedural:tasks=compare,difficulty=0,n=4"}
    for task in data["eval"]["tasks"]:
        task["env"] = tasks[task["name"]]
    return data


def _run(recipe: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes4", "run", str(recipe), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def _statuses(out: Path) -> dict[str, str]:
    return {s["stage"]: s["status"] for s in json.loads((out / "run.json").read_text())["stages"]}


@pytest.mark.slow
def test_tiny_recipe_runs_end_to_end_then_resumes(tmp_path):
    recipe = tmp_path / "tiny-small.yaml"
    recipe.write_text(yaml.safe_dump(_small_tiny_recipe(), sort_keys=False))
    out = tmp_path / "run"

    first = _run(recipe, out)
    assert first.returncode == 0, first.stderr[-3000:]
    assert _statuses(out) == dict.fromkeys(STAGES, "ran")
    assert all((out / "stages" / f"{stage}.json").is_file() for stage in STAGES)

    # Data: the teacher's planted mistakes were rejected by the verifiers (forge's checker and the sampler's envs).
    summary = json.loads((out / "data" / "summary.json").read_text())
    forge = summary["forge"]["direct"]
    assert forge["walks"] == 60 and forge["rejected_answers"] > 0 and forge["final_records"] == forge["accepted"]
    sampled = summary["sample"]["reasoning"]["envs"]["procedural:tasks=arithmetic,difficulty=0,n=80"]
    assert sampled["rejected"] > 0 and sampled["samples"] == sampled["accepted"] + sampled["rejected"]
    assert summary["prompts"]["length-control-prompts"]["prompts"] == 12
    # The trainer ran under torchrun with 2 processes and exported a model; length control cut and trained.
    sft = json.loads((out / "stages" / "sft.json").read_text())["summary"]
    assert sft["steps"] == 24 and sft["processes"] == 2 and (out / "sft" / "final" / "config.json").is_file()
    lc = json.loads((out / "stages" / "length-control.json").read_text())["summary"]
    assert lc["traces"] == 12 and lc["used"] == lc["cut"] > 0 and lc["train"]["steps"] == 3

    # The report: headline measures with their counts for the three models, and the PNG.
    report = (out / "report" / "report.md").read_text()
    for line in ("| measure | untrained base | SFT | SFT + length control |", "multi-step accuracy, reasoning",
                 "multi-step accuracy, non-reasoning", "overlong rate, long task (reasoning)", "tool-call validity",
                 "JSON-schema adherence", "## Effects", "## Data", "## Length control", "## Stage times"):
        assert line in report, line
    assert "/8)" in report and "/4)" in report  # rates carry their counts
    png = (out / "report" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert (out / "report" / "eval" / "report.md").is_file()

    # A rerun finds every stage finished and skips it.
    again = _run(recipe, out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _statuses(out) == dict.fromkeys(STAGES, "skipped")

    # --from reruns that stage and the later ones only.
    partial = _run(recipe, out, "--from", "eval-length-control")
    assert partial.returncode == 0, partial.stderr[-2000:]
    assert _statuses(out) == {**dict.fromkeys(STAGES[:6], "skipped"), "eval-length-control": "ran", "report": "ran"}

    # An edit to the eval suite makes the finished evals stale: refused, naming the stage to rerun from.
    edited = yaml.safe_load(recipe.read_text())
    edited["eval"]["max_tokens"] = 200
    recipe.write_text(yaml.safe_dump(edited, sort_keys=False))
    stale = _run(recipe, out)
    assert stale.returncode == 2 and "rerun it with --from eval-base" in stale.stderr
