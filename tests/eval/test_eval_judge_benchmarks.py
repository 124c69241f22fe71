"""Arena-Hard v1, RewardBench, EQBench3 and CreativeWriting3 end to end: `hermes4 eval --task NAME` against a
scripted student served on loopback and the scripted judge, then the metrics each benchmark reports (win share
with swapped positions, per-subset and per-section accuracy, rubric scores) and the judge failures counted; plus
the judge protocols' readers on their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.eval import load_task, read_samples
from hermes4.eval.benchmarks.creative import CREATIVE_WRITING3
from hermes4.eval.benchmarks.judged import read_scores
from hermes4.eval.benchmarks.rewardbench import section_scores
from hermes4.eval.judge import JudgeFailure
from hermes4.llm.spawn import serve, serve_command

HERE = Path(__file__).parent
TASKS = "arena_hard,rewardbench,eqbench3,creative_writing3"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    env.pop("COLUMNS", None)
    return env


@pytest.mark.slow
def test_four_judge_benchmarks_run_end_to_end(tmp_path) -> None:
    out = tmp_path / "run"
    with serve(serve_command(scripted="eval_scripts:student", name="student"), env=_env()) as served:
        cmd = [sys.executable, "-m", "hermes4", "eval", "--task", TASKS, "--llm", served.url, "--out", str(out),
               "--judge", "scripted:eval_scripts:judge", "--max-tokens", "200"]
        done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    cells = {(c["task"], c["mode"]): c for c in json.loads((out / "metrics.json").read_text())["cells"]}
    score = lambda task, mode: cells[(task, mode)]["score"]["value"]
    # Arena-Hard: the thorough answer wins both swapped games, decisively (weight 3 each); a tie counts half
    # (weight 1); the share is pooled over every game.
    assert score("arena_hard", "reasoning") == 1.0
    assert score("arena_hard", "non-reasoning") == pytest.approx((6 + 1 + 6) / (6 + 2 + 6))
    # RewardBench: per subset, per section, then the mean of the four sections.
    assert score("rewardbench", "reasoning") == 1.0
    direct = cells[("rewardbench", "non-reasoning")]
    assert direct["score"]["value"] == pytest.approx((1 + 0.5 + 1 / 3 + 0.5) / 4)
    assert direct["secondary"]["Chat Hard"]["value"] == 0.5 and direct["categories"]["hep-python"]["score"]["value"] == 0.0
    # Rubric scores: 16/20 on every criterion, the lower-is-better ones inverted; an unscorable answer is a judge failure.
    for task in ("eqbench3", "creative_writing3"):
        assert score(task, "reasoning") == pytest.approx(0.8)
        assert cells[(task, "reasoning")]["judge_failures"] == 0
    assert cells[("eqbench3", "non-reasoning")]["judge_failures"] == 1 and cells[("eqbench3", "non-reasoning")]["errors"] == 1
    # EQBench3 plays each scenario's two turns, and the judge reads both replies.
    eq = [r for r in read_samples(out) if r["task"] == "eqbench3" and r["mode"] == "reasoning"]
    assert len(eq) == 2 and all("over 2 turns" in r["verdict"]["details"]["judge_output"] for r in eq)
    report = subprocess.run([sys.executable, "-m", "hermes4", "report", str(out), "--out", str(tmp_path / "r.md")], capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "r.md").read_text()
    for label in ("Arena-Hard v1", "RewardBench", "EQBench3", "CreativeWriting3", "RewardBench: subsets"):
        assert label in text


def test_rubric_scores_are_read_strictly() -> None:
    lines = "\n".join(f"{c}: 10" for c in CREATIVE_WRITING3.criteria)
    assert set(read_scores("[Scores]\n" + lines, CREATIVE_WRITING3).values()) == {10.0}
    with pytest.raises(JudgeFailure, match="no score for 'Coherent'"):
        read_scores("\n".join(f"{c}: 10" for c in CREATIVE_WRITING3.criteria if c != "Coherent"), CREATIVE_WRITING3)
    with pytest.raises(JudgeFailure, match="outside 0..20"):
        read_scores(lines.replace("Coherent: 10", "Coherent: 25"), CREATIVE_WRITING3)


def test_rewardbench_sections_and_positions() -> None:
    sections = section_scores({"alpacaeval-easy": (1.0, 3), "mt-bench-easy": (0.0, 1), "math-prm": (1.0, 10), "hep-go": (0.0, 5), "hep-js": (1.0, 5)})
    assert sections == {"Chat": 0.75, "Reasoning": 0.75}
    task = load_task("rewardbench")
    positions = [i.reference["chosen_position"] for i in task.items]
    assert set(positions) == {"A", "B"}  # the chosen answer is not always first
    assert positions == [i.reference["chosen_position"] for i in load_task("rewardbench").items]  # seeded


def test_arena_hard_needs_a_baseline_for_user_data(tmp_path) -> None:
    from hermes4.eval import TaskError

    questions = tmp_path / "question.jsonl"
    questions.write_text(json.dumps({"question_id": "q1", "turns": [{"content": "Hi?"}]}) + "\n")
    with pytest.raises(TaskError, match="option baseline=PATH"):
        load_task(f"arena_hard:data={questions}")
    baseline = tmp_path / "base.jsonl"
    baseline.write_text(json.dumps({"question_id": "q1", "choices": [{"index": 0, "turns": [{"content": "Hello."}]}]}) + "\n")
    assert load_task(f"arena_hard:data={questions},baseline={baseline}").items[0].reference["baseline"] == "Hello."
