"""DataForge runs: records and steps, replay, judge -> revise -> accept / discard, judge failures, generators."""

import asyncio
import json


from hermes4.curate.passages import Passage
from hermes4.forge.generators import expand_taxonomy, simulate_personas
from hermes4.forge.loader import load_graph
from hermes4.forge.run import forge, synthetic_seeds
from hermes4.llm import ScriptedEngine
from hermes4.store import read_records

from forge_teacher import teacher  # noqa: E402  (tests/forge is on sys.path via conftest)


def passages(markers=()):
    out = [Passage(id=f"p{i}", text=f"Passage {i} about the harbour town of Vell and its {i} boats.") for i in range(8)]
    for i, marker in enumerate(markers):
        out.append(Passage(id=f"m{i}", text=f"Special passage {i} {marker} about lighthouses."))
    return out


def run(graph, seeds, out, **kwargs):
    eng = ScriptedEngine(teacher)
    return asyncio.run(forge(load_graph(graph), seeds, out, llms={"default": eng, "judge": eng}, **kwargs))


def records(folder, stream="data"):
    return list(read_records(folder, stream=stream))


def test_default_graph_records_steps_and_paths(tmp_path):
    summary = run("default", passages(), tmp_path)
    assert summary.accepted == 8 and summary.failed == 0
    data = records(tmp_path)
    finals = [r for r in data if r["meta"]["stage"] == "final"]
    assert len(finals) == 8
    for final in finals:
        meta = final["meta"]
        assert meta["path"][0] == "default/start" and meta["path"][-1] == "default/judge"
        assert [m["role"] for m in final["messages"]] == ["user", "assistant"]
        steps = [r for r in data if r["meta"].get("walk") == meta["id"] and r["meta"]["stage"] != "final"]
        stages = {s["meta"]["stage"] for s in steps}
        assert {"instruction", "answer", "judge"} <= stages  # every model call is its own sample
        if meta["kind"] != "original":
            assert "transform" in stages
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["summary"]["accepted"] == 8


def test_same_seed_same_records_other_seed_other_paths(tmp_path):
    run("default", passages(), tmp_path / "a", seed=3)
    run("default", passages(), tmp_path / "b", seed=3)
    run("default", passages(), tmp_path / "c", seed=4)
    a, b, c = (sorted(json.dumps(r, sort_keys=True) for r in records(tmp_path / x)) for x in "abc")
    assert a == b
    paths = lambda rs: sorted(tuple(json.loads(r)["meta"]["path"]) for r in rs if '"stage": "final"' in r)  # noqa: E731
    assert paths(a) != paths(c)


def test_judge_revise_accept_and_discard_and_judge_failure(tmp_path):
    summary = run("default", passages(["REVISEME", "DISCARDME", "BADJUDGE"]), tmp_path)
    finals = {r["meta"]["passage_id"]: r for r in records(tmp_path) if r["meta"]["stage"] == "final"}
    discarded = {r["passage_id"]: r for r in records(tmp_path, "discarded")}
    # REVISEME: rejected once, revised, accepted; every attempt is on the record
    attempts = finals["m0"]["meta"]["attempts"]
    assert [a["mean"] for a in attempts] == [3.0, 9.0] and finals["m0"]["messages"][1]["content"].endswith("REVISED")
    # DISCARDME: never good enough, discarded after max_revisions
    assert "below 7" in discarded["m1"]["reason"] and len(discarded["m1"]["attempts"]) == 3
    # BADJUDGE: judge failures are counted and never pass
    assert "m2" in discarded and all(a["judge_error"] for a in discarded["m2"]["attempts"])
    assert summary.judge_errors == 3 and summary.discarded == 2 and summary.accepted == 9


def test_rerun_skips_finished_walks(tmp_path):
    run("default", passages(), tmp_path)
    before = records(tmp_path)
    summary = run("default", passages(), tmp_path)
    assert summary.skipped == 8 and summary.walks == 0 and records(tmp_path) == before


def test_procedural_graph_needs_no_llm(tmp_path):
    summary = asyncio.run(forge(load_graph("procedural"), synthetic_seeds(12), tmp_path, llms={}))
    finals = [r for r in records(tmp_path) if r["meta"]["stage"] == "final"]
    assert summary.accepted == 12 and len(finals) == 12
    assert all(r["messages"][1]["content"].startswith("Answer: ") for r in finals)


def test_nested_example_runs_two_levels_deep(tmp_path):
    summary = run("nested_example", passages(), tmp_path)
    final = next(r for r in records(tmp_path) if r["meta"]["stage"] == "final")
    assert summary.accepted == 8
    assert final["meta"]["path"] == [
        "nested_example/start", "nested_example/qa/instruct", "nested_example/qa/respond/draft",
        "nested_example/qa/respond/judge", "nested_example/finish",
    ]


def test_taxonomy_and_personas_remove_near_duplicates():
    eng = ScriptedEngine(teacher)
    tax = asyncio.run(expand_taxonomy(eng, "astronomy", depth=2, breadth=2, prompts_per_leaf=4))
    assert len({tuple(r["meta"]["path"]) for r in tax.prompts}) == 4  # 2 x 2 leaves
    assert tax.duplicates_removed == 4 and tax.generated == 16  # the teacher repeats one prompt per leaf
    people = asyncio.run(simulate_personas(eng, 5, tasks_per_persona=2))
    assert {r["meta"]["persona"]["name"] for r in people.prompts} and len(people.prompts) == 10
