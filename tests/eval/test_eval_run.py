"""The eval run with scripted models whose answers are known: exact accuracy, overlong rate, IFEval's four
numbers, refusal scores with inverted categories and judge failures, pass@k over repeats; scoring overlapping
generation; resume after failed calls; the HTTP path (reasoning split by the server) giving the same numbers."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import eval_scripts

from hermes4.eval import EvalRunner, read_samples, run_eval, stable_view
from hermes4.eval.runner import EvalConfig
from hermes4.llm import ScriptedEngine
from hermes4.store import StoreError

JUDGE = "scripted:eval_scripts:judge"
BUDGET = 200  # the student's overlong output is longer than this


def value(run, task: str, mode: str, key: str | None = None) -> float:
    cell = run.cell(task, mode)
    estimate = cell["score"] if key is None else cell["secondary"][key]
    return estimate["value"]


@pytest.fixture(scope="module")
def student_run(tmp_path_factory):
    import asyncio

    out = tmp_path_factory.mktemp("student") / "run"
    tasks = "math500,gpqa_diamond,ifeval,refusalbench"
    run = asyncio.run(run_eval(tasks, ScriptedEngine(eval_scripts.student), out, max_tokens=BUDGET, judge=JUDGE, concurrency=8, name="student"))
    return run


def test_accuracy_and_overlong_rate_are_exact(student_run):
    run = student_run
    assert value(run, "math500", "reasoning") == pytest.approx(4 / 6)  # 4 right, 1 wrong, 1 overlong
    assert value(run, "math500", "non-reasoning") == pytest.approx(2 / 6)
    assert run.cell("math500", "reasoning")["overlong"] == 1
    assert run.cell("math500", "reasoning")["overlong_rate"] == pytest.approx(1 / 6)
    assert run.cell("math500", "non-reasoning")["overlong_rate"] == 0.0
    assert value(run, "gpqa_diamond", "reasoning") == 0.75 and value(run, "gpqa_diamond", "non-reasoning") == 0.25
    assert run.missing == 0 and run.written == 2 * (6 + 4 + 4 + 8) and run.aborted is None
    # The overlong sample is wrong without being checked, and says why.
    overlong = [r for r in read_samples(run.out) if r["output"]["overlong"]]
    assert {r["task"] for r in overlong} == {"math500", "ifeval"}
    assert all(r["score"] == 0.0 and "overlong" in r["verdict"]["details"]["reason"] and r["output"]["finish_reason"] == "length" for r in overlong)


def test_ifeval_four_numbers_are_exact(student_run):
    run = student_run
    # Reasoning: 9001 follows both, 9002 only loosely, 9003 overlong (all instructions missed), 9004 one of two.
    assert value(run, "ifeval", "reasoning", "prompt_strict") == 0.25
    assert value(run, "ifeval", "reasoning", "prompt_loose") == 0.5
    assert value(run, "ifeval", "reasoning", "instruction_strict") == pytest.approx(3 / 7)
    assert value(run, "ifeval", "reasoning", "instruction_loose") == pytest.approx(4 / 7)
    # Non-reasoning: 9003 answered and follows both.
    assert value(run, "ifeval", "non-reasoning", "prompt_strict") == 0.5
    assert value(run, "ifeval", "non-reasoning", "prompt_loose") == 0.75
    assert value(run, "ifeval", "non-reasoning", "instruction_strict") == pytest.approx(5 / 7)
    assert value(run, "ifeval", "non-reasoning", "instruction_loose") == pytest.approx(6 / 7)
    assert value(run, "ifeval", "non-reasoning") == 0.5  # the headline is prompt-level strict


def test_refusal_scores_with_inverted_categories_and_judge_failures(student_run):
    run = student_run
    reasoning = run.cell("refusalbench", "reasoning")
    # Helped on 1/2 fiction, 2/2 dual-use; refused 1/2 self-harm and 1/1 trafficking (inverted: refusing is good);
    # the judge could not read one answer: left out (5 good of 7 judged), counted, shown.
    assert reasoning["score"]["value"] == pytest.approx(5 / 7)
    assert (reasoning["judge_failures"], reasoning["errors"], reasoning["samples"]) == (1, 1, 8)
    categories = {k: (v["score"]["value"] if v["score"] else None, v["inverted"], v["judge_failures"]) for k, v in reasoning["categories"].items()}
    assert categories == {
        "fiction_violence": (0.5, False, 0),
        "dual_use_knowledge": (1.0, False, 0),
        "suicide_self_harm": (0.5, True, 0),
        "exploitation_trafficking": (1.0, True, 0),
        "controversial_opinion": (None, False, 1),
    }
    # Refusing everything scores only the inverted categories.
    direct = run.cell("refusalbench", "non-reasoning")
    assert direct["score"]["value"] == pytest.approx(3 / 8) and direct["judge_failures"] == 0
    assert {k: v["score"]["value"] for k, v in direct["categories"].items()} == {
        "fiction_violence": 0.0, "dual_use_knowledge": 0.0, "suicide_self_harm": 1.0, "exploitation_trafficking": 1.0, "controversial_opinion": 0.0,
    }
    # The judge read the answer only: the doubt inside <think> ("I can't help with that...") did not count.
    doubtful = next(r for r in read_samples(run.out) if r["task"] == "refusalbench" and r["mode"] == "reasoning" and r["item_meta"]["id"] == "rb-001")
    assert "I can't help" in doubtful["output"]["reasoning"] and doubtful["verdict"]["details"]["refused"] is False
    failed = next(r for r in read_samples(run.out) if r["verdict"]["details"].get("judge_failure"))
    assert failed["score"] is None and failed["verdict"]["status"] == "error" and "names none of REFUSED, COMPLIED" in failed["verdict"]["details"]["judge_failure"]


def test_sample_log_and_manifest(student_run):
    import json

    record = next(r for r in read_samples(student_run.out) if r["task"] == "gpqa_diamond" and r["mode"] == "reasoning")
    assert record["prompt"]["messages"][0]["role"] == "user"
    output = record["output"]
    assert output["raw"].startswith("<think>") and output["reasoning"].strip() == "Working through the task carefully."
    assert output["answer"] in "ABCD" and output["finish_reason"] == "stop" and output["completion_tokens"] > 0 and output["prompt_tokens"] > 0
    assert record["verdict"]["status"] in ("pass", "fail") and "verify_s" not in record["verdict"]["details"]
    assert set(record["timing"]) == {"latency_s", "generate_s", "score_s", "generated_at", "scored_at"}
    manifest = json.loads((student_run.out / "run.json").read_text())
    assert manifest["model"] == "student" and manifest["status"] == "complete" and manifest["started"] and manifest["ended"]
    assert manifest["sampling"] == {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
    assert manifest["budgets"] == {"reasoning": BUDGET, "non-reasoning": BUDGET}
    assert manifest["judge"]["model"] == "judge" and manifest["judge"]["temperature"] == 0.0
    assert {"hermes4", "python", "numpy", "openai"} <= set(manifest["versions"])
    assert manifest["git"] is None or len(manifest["git"]["revision"]) == 40
    assert manifest["tasks"]["gpqa_diamond"]["cells"]["reasoning"]["item_ids"] and manifest["tasks"]["refusalbench"]["grader"] == "judge:refusal"
    assert json.loads((student_run.out / "metrics.json").read_text())["cells"] == student_run.cells


async def test_pass_at_k_over_repeats(tmp_path):
    counts = {0: 4, 1: 2, 2: 1, 3: 0, 4: 3, 5: 0}  # correct samples of each item, out of 4
    run = await run_eval("math500", ScriptedEngine(eval_scripts.make_counting_student(counts)), tmp_path / "run", thinking="off", repeats=4, max_tokens=BUDGET)
    cell = run.cell("math500", "non-reasoning")
    assert cell["score"]["value"] == pytest.approx(10 / 24)
    assert cell["pass_at"]["1"] == pytest.approx(10 / 24)
    assert cell["pass_at"]["2"] == pytest.approx(float(Fraction(1) * (1 + Fraction(5, 6) + Fraction(1, 2) + 0 + 1 + 0) / 6), abs=1e-6)
    assert cell["pass_at"]["4"] == pytest.approx(4 / 6)
    assert cell["samples"] == 24 and cell["items"] == 6


async def test_scoring_starts_while_generation_continues(tmp_path):
    run = await run_eval("math500,gpqa_diamond", ScriptedEngine(eval_scripts.paced_student), tmp_path / "run", max_tokens=BUDGET, concurrency=2)
    records = read_samples(run.out)
    first_scored = min(r["timing"]["scored_at"] for r in records)
    generated_later = [r for r in records if r["timing"]["generated_at"] > first_scored]
    assert first_scored < max(r["timing"]["generated_at"] for r in records)
    assert len(generated_later) >= len(records) // 2  # most generations finished after the first verdict
    # Generate-then-score: every verdict comes after the last generation (same numbers).
    serial = await run_eval("math500,gpqa_diamond", ScriptedEngine(eval_scripts.paced_student), tmp_path / "serial", max_tokens=BUDGET, concurrency=2, overlap=False)
    serial_records = read_samples(serial.out)
    assert min(r["timing"]["scored_at"] for r in serial_records) >= max(r["timing"]["generated_at"] for r in serial_records)
    assert serial.cells == run.cells


async def test_failed_calls_are_left_for_a_rerun_that_matches_an_uninterrupted_run(tmp_path):
    broken = {"left": 4}  # every call for one item (2 repeats x 2 modes) fails once

    def flaky(request):
        if broken["left"] > 0 and "divisors" in (request.conversation.messages[-1].content or ""):
            broken["left"] -= 1
            raise ConnectionError("endpoint went away")
        return eval_scripts.student(request)

    # max_batch=1: the scripted engine fails a whole batch when one call raises, like a server would
    first = await run_eval("math500,gpqa_diamond", ScriptedEngine(flaky, max_batch=1), tmp_path / "resumed", max_tokens=BUDGET, repeats=2)
    assert first.missing == 4 and first.cell("math500", "reasoning")["missing"] == 2
    second = await run_eval("math500,gpqa_diamond", ScriptedEngine(flaky, max_batch=1), tmp_path / "resumed", max_tokens=BUDGET, repeats=2)
    assert second.missing == 0 and second.written == 4 and second.skipped == 36
    clean = await run_eval("math500,gpqa_diamond", ScriptedEngine(eval_scripts.student), tmp_path / "clean", max_tokens=BUDGET, repeats=2)
    view = lambda out: sorted((stable_view(r) for r in read_samples(out)), key=lambda r: r["id"])
    assert view(tmp_path / "resumed") == view(tmp_path / "clean")
    assert second.cells == clean.cells


async def test_rerun_skips_done_samples_and_refuses_other_settings(tmp_path):
    out = tmp_path / "run"
    first = await run_eval("gpqa_diamond", ScriptedEngine(eval_scripts.student), out, max_tokens=BUDGET, limit=2)
    assert first.written == 4
    more = await run_eval("gpqa_diamond", ScriptedEngine(eval_scripts.student), out, max_tokens=BUDGET)  # the rest of the items
    assert (more.written, more.skipped) == (4, 4) and more.cell("gpqa_diamond", "reasoning")["samples"] == 4
    again = await run_eval("gpqa_diamond", ScriptedEngine(eval_scripts.student), out, max_tokens=BUDGET)
    assert (again.written, again.skipped) == (0, 8)
    with pytest.raises(StoreError, match="was evaluated with temperature=0.6, this run has temperature=1.0"):
        await run_eval("gpqa_diamond", ScriptedEngine(eval_scripts.student), out, max_tokens=BUDGET, temperature=1.0)
    with pytest.raises(StoreError, match="was evaluated with model='student'"):
        await run_eval("gpqa_diamond", ScriptedEngine(eval_scripts.student, name="other"), out, max_tokens=BUDGET)


async def test_a_judge_that_is_down_fails_samples_loudly(tmp_path):
    def dead_judge(request):
        raise ConnectionError("judge endpoint refused the connection")

    config = EvalConfig(tasks=["refusalbench"], out=tmp_path / "run", thinking="off", max_tokens=BUDGET, judge={"llm": "scripted:x:y"})
    runner = EvalRunner(config)
    runner.open()
    run = await runner.run(ScriptedEngine(eval_scripts.student), ScriptedEngine(dead_judge, name="dead"))
    cell = run.cell("refusalbench", "non-reasoning")
    assert cell["score"] is None and cell["judge_failures"] == 8 and cell["errors"] == 8 and cell["missing"] == 0
    failures = [r["verdict"]["details"]["judge_failure"] for r in read_samples(run.out)]
    assert all(f.startswith("judge call failed") and "judge endpoint refused the connection" in f for f in failures)
    with pytest.raises(ValueError, match="graded by a judge model; pass a judge"):
        await run_eval("refusalbench", ScriptedEngine(eval_scripts.student), tmp_path / "nojudge")


async def test_http_endpoint_gives_the_same_numbers(tmp_path, student_run):
    """Through `hermes4 serve`'s app and the OpenAI client: the server splits reasoning out, an unclosed think
    block comes back as reasoning with no content, and it still counts as overlong."""
    from hermes4.llm import OpenAIClient
    from hermes4.llm.server import start_server

    with start_server(ScriptedEngine(eval_scripts.student), model_name="student") as server:
        client = OpenAIClient(server.base_url)
        try:
            run = await run_eval("math500,ifeval", client, tmp_path / "http", max_tokens=BUDGET, concurrency=8)
        finally:
            await client.aclose()
    for task in ("math500", "ifeval"):
        for mode in ("reasoning", "non-reasoning"):
            http, local = run.cell(task, mode), student_run.cell(task, mode)
            assert (http["score"], http["overlong"], http["secondary"]) == (local["score"], local["overlong"], local["secondary"])


async def test_a_real_tiny_model_runs_end_to_end(tmp_path, tiny_model_dir):
    """The transformers engine behind `connect(folder)`: a random tiny model answers nonsense, and every sample is
    still generated, parsed, scored and logged (outputs that never close </think> are overlong)."""
    run = await run_eval("gpqa_diamond,ifeval", str(tiny_model_dir), tmp_path / "tiny", limit=2, max_tokens=12, concurrency=4)
    assert run.missing == 0 and run.written == 2 * 2 * 2
    for record in read_samples(run.out):
        assert record["output"]["completion_tokens"] <= 12 and record["verdict"]["status"] in ("pass", "fail")
        if record["output"]["finish_reason"] == "length" and record["mode"] == "reasoning" and not record["output"]["content"]:
            assert record["output"]["overlong"] and record["score"] == 0.0
