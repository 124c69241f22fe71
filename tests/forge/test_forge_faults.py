"""Forge faults found in review (issue 16): exit code when every walk failed, the recipe refusing to mark such a
data stage done, the manifest summary after a resume, and `--n N` meaning N walks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from hermes4.forge.loader import load_graph
from hermes4.forge.run import forge, synthetic_seeds
from hermes4.recipe import read_recipe_file, resolve_recipe
from hermes4.recipe.runner import read_marker, run_recipe
from hermes4.store import read_manifest, read_records

ROOT = Path(__file__).resolve().parents[2]


def _seeds(path: Path, count: int) -> Path:
    with open(path, "w") as handle:
        for i in range(count):
            handle.write(json.dumps({"id": f"s{i}", "text": f"Seed passage {i} about a harbour."}) + "\n")
    return path


def _forge_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes4", "forge", *args], capture_output=True, text=True, timeout=120)


def test_forge_exits_non_zero_in_one_line_when_every_walk_failed(tmp_path):
    # the default graph's nodes need a model; with none every walk fails
    proc = _forge_cli("--graph", "default", "--seeds", str(_seeds(tmp_path / "seeds.jsonl", 3)), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("hermes4: forge default: every walk failed (3 of 3); first:"), line


def test_forge_n_means_n_walks_cycling_the_seeds(tmp_path):
    proc = _forge_cli("--graph", "procedural", "--seeds", str(_seeds(tmp_path / "seeds.jsonl", 2)), "--n", "5",
                      "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    finals = [r for r in read_records(tmp_path / "out") if r["meta"]["stage"] == "final"]
    assert len(finals) == 5 and len({r["meta"]["id"] for r in finals}) == 5
    assert sorted(r["meta"]["passage_id"] for r in finals) == ["s0", "s0", "s0", "s1", "s1"]


def test_manifest_summary_covers_every_session_after_a_resume(tmp_path):
    graph = load_graph("procedural")
    first = asyncio.run(forge(graph, synthetic_seeds(6), tmp_path, llms={}))
    second = asyncio.run(forge(graph, synthetic_seeds(10), tmp_path, llms={}))
    assert (first.accepted, second.accepted, second.skipped) == (6, 4, 6)
    summary = read_manifest(tmp_path)["summary"]
    finals = [r for r in read_records(tmp_path) if r["meta"]["stage"] == "final"]
    assert summary["accepted"] == 4  # this session
    assert summary["total"]["accepted"] == len(finals) == 10
    assert summary["total"]["records"] == len(list(read_records(tmp_path)))


def test_recipe_refuses_to_mark_the_data_stage_done_when_forge_walks_failed(tmp_path):
    data = read_recipe_file(ROOT / "recipes" / "tiny.yaml")
    data["data"]["forge"] = [{"name": "broken", "graph": "default", "seeds": str(_seeds(tmp_path / "seeds.jsonl", 3))}]
    data["data"]["sample"] = []
    run = resolve_recipe(ROOT / "recipes" / "tiny.yaml", data=data, out=tmp_path / "run")
    for _ in range(2):  # the rerun must not skip it as finished
        result = run_recipe(run)
        outcome = {o.stage: o for o in result.outcomes}["data"]
        assert outcome.status == "failed"
        assert "forge broken: every walk failed (3 of 3)" in outcome.error
        assert read_marker(run, "data") is None


def test_retries_setting_reaches_the_http_client_and_bounds_a_dead_endpoint(tmp_path):
    from hermes4.cli._common import connect_model

    client = connect_model("http://127.0.0.1:9", retries=0)
    assert client.max_retries == 0
    assert connect_model("http://127.0.0.1:9").max_retries == 8  # the client's default when not given
    # a port nobody listens on: the run gives up (exit 1, one line), it does not retry for minutes
    proc = _forge_cli("--graph", "default", "--seeds", str(_seeds(tmp_path / "seeds.jsonl", 2)), "--llm", "http://127.0.0.1:9",
                      "--retries", "0", "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "every walk failed (2 of 2)" in proc.stderr.strip().splitlines()[-1]
    bad = _forge_cli("--graph", "default", "--seeds", str(tmp_path / "seeds.jsonl"), "--llm", "http://127.0.0.1:9",
                     "--retries", "-1", "--out", str(tmp_path / "out2"))
    assert bad.returncode == 2 and bad.stderr.strip() == "hermes4: --retries: must be 0 or more, got -1"
