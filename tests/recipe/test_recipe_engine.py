"""The recipe's `engine:` section: vllm, transformers or an endpoint URL; the 14B and 70B recipes plan vLLM with
their parallel sizes for every stage that generates with a checkpoint; a bad value names the field."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.recipe import RecipeError, parse_recipe, read_recipe_file
from hermes4.recipe.engine import EngineSection, model_endpoint

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"


def test_short_and_long_forms():
    assert EngineSection.model_validate("vllm").use == "vllm"
    section = EngineSection.model_validate({"use": "vllm", "vllm": {"tensor_parallel_size": 4, "data_parallel_size": 2}})
    assert section.describe() == "vLLM (tp 4 x dp 2)"
    assert EngineSection().describe() == "hermes4 serve (transformers)"
    assert EngineSection.model_validate("http://gpu-box:8000/v1").describe() == "the endpoint http://gpu-box:8000/v1"


@pytest.mark.parametrize(("engine", "message"), [
    ("sglang", r"engine\.use: must be vllm, transformers or an http\(s\):// endpoint URL, got 'sglang'"),
    ({"use": "vllm", "vllm": {"tensor_parallel_size": 0}}, r"engine\.vllm\.tensor_parallel_size"),
    ({"use": "vllm", "vllm": {"tp": 2}}, r"engine\.vllm\.tp: unknown field"),
])
def test_bad_engine_names_the_field(engine, message):
    data = read_recipe_file(RECIPES / "tiny.yaml")
    data["engine"] = engine
    with pytest.raises(RecipeError, match=message):
        parse_recipe(data, where="tiny.yaml")


@pytest.mark.parametrize(("name", "sizes", "stages"), [
    ("qwen3-14b.yaml", "vLLM (tp 1 x dp 8, max_model_len 45,056)", ["eval-sft", "length-control", "eval-length-control"]),
    ("llama3.1-70b.yaml", "vLLM (tp 4 x dp 2, max_model_len 45,056)", ["eval-sft"]),
])
def test_large_recipes_plan_vllm_for_every_generation_stage(name, sizes, stages):
    proc = subprocess.run([sys.executable, "-m", "hermes4", "run", str(RECIPES / name), "--dry-run", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    plan = {s["stage"]: s for s in json.loads(proc.stdout)["stages"]}
    for stage in stages:
        text = plan[stage]["what"] + " ".join(plan[stage]["counts"])
        assert sizes in text, (stage, text)
        assert "transformers" not in text


def test_tiny_recipe_keeps_transformers():
    # its model has 4 heads of 16, which vLLM's CPU attention refuses (see benchmarks/RESULTS.md ## bench_engines)
    recipe = parse_recipe(read_recipe_file(RECIPES / "tiny.yaml"), where="tiny.yaml")
    assert recipe.engine.use == "transformers"


def test_an_endpoint_url_is_used_as_is(tmp_path):
    with model_endpoint(EngineSection.model_validate("http://127.0.0.1:9/v1"), tmp_path, name="sft",
                        log=tmp_path / "serve.log", env={}, max_batch=8) as endpoint:
        assert endpoint.url == "http://127.0.0.1:9/v1" and endpoint.engine == "endpoint"
    assert not (tmp_path / "serve.log").exists()


def test_a_served_endpoint_can_run_on_vllm():
    data = read_recipe_file(RECIPES / "tiny.yaml")
    data["endpoints"]["student"] = {"serve": {"model": "runs/x/sft/final", "engine": "vllm",
                                              "vllm": {"tensor_parallel_size": 2}}}
    recipe = parse_recipe(data, where="tiny.yaml")
    assert recipe.endpoints["student"].serve.vllm.tensor_parallel_size == 2
    from hermes4.recipe.plan import _served

    assert _served(recipe.endpoints["student"]) == "served by vLLM" and _served(recipe.endpoints["teacher"]) == "served"
    data["endpoints"]["student"] = {"serve": {"scripted": "m:f", "engine": "vllm"}}
    with pytest.raises(RecipeError, match=r"endpoints\.student\.serve.*engine vllm serves a model folder"):
        parse_recipe(data, where="tiny.yaml")
