"""Eval building blocks: metrics (bootstrap, pass@k), answer checkers, judge labels, the overlong rule, task
specs, and dataset loaders for every file shape (JSONL, JSON, CSV, Parquet, saved `datasets` folders)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hermes4.envs import Trajectory
from hermes4.eval import TaskError, load_task, split_task_list
from hermes4.eval.checkers import (
    bbh_equal,
    contains_phrase,
    drop_scores,
    extract_choice,
    extract_short_answer,
)
from hermes4.eval.datasets import DATA_DIR
from hermes4.eval.judge import REFUSAL, SIMPLEQA, JudgeFailure, read_label
from hermes4.eval.metrics import bootstrap, cell_metrics, pass_at_k
from hermes4.eval.records import is_overlong
from hermes4.llm import Completion
from hermes4.parse import parse

# -- metrics -------------------------------------------------------------------------------------------------


def test_pass_at_k_matches_the_definition():
    assert pass_at_k(4, 2, 1) == 0.5
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)
    assert pass_at_k(4, 0, 3) == 0.0
    assert pass_at_k(4, 3, 2) == 1.0  # fewer wrong samples than k: some draw is always right
    assert pass_at_k(5, 1, 5) == 1.0
    with pytest.raises(ValueError, match="pass@3 needs at least 3"):
        pass_at_k(2, 1, 3)


def test_bootstrap_is_seeded_and_brackets_the_value():
    scores = [1.0] * 30 + [0.0] * 20
    a = bootstrap(scores, [1.0] * 50, seed=7)
    b = bootstrap(scores, [1.0] * 50, seed=7)
    assert a == b and a.value == 0.6 and a.n == 50
    assert a.low < 0.6 < a.high and a.high - a.low < 0.35
    # The same resamples computed directly: percentile CI of the mean over items drawn with replacement.
    picks = np.random.default_rng(7).integers(0, 50, size=(1000, 50))
    means = np.asarray(scores)[picks].mean(axis=1)
    assert (a.low, a.high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    # More items, narrower interval; no spread, no width.
    wide = bootstrap([1.0, 0.0] * 10, [1.0] * 20, seed=1)
    narrow = bootstrap([1.0, 0.0] * 500, [1.0] * 1000, seed=1)
    assert narrow.high - narrow.low < wide.high - wide.low
    flat = bootstrap([1.0] * 9, [1.0] * 9, seed=3)
    assert (flat.value, flat.low, flat.high) == (1.0, 1.0, 1.0)
    assert bootstrap([], [], seed=0) is None


def _record(item: str, repeat: int, score: float | None, **extra) -> dict:
    status = "error" if score is None else ("pass" if score == 1.0 else "fail")
    return {
        "item_id": item,
        "repeat": repeat,
        "score": score,
        "verdict": {"status": status, "reward": score or 0.0, "details": extra.pop("details", {})},
        "output": {"overlong": extra.pop("overlong", False), "finish_reason": "stop", "completion_tokens": 10},
        "reference": extra.pop("reference", {}),
    }


def test_accuracy_is_averaged_over_repeats_and_errors_are_left_out():
    records = [
        _record("a", 0, 1.0), _record("a", 1, 0.0),  # item a: 0.5
        _record("b", 0, 1.0), _record("b", 1, 1.0),  # item b: 1.0
        _record("c", 0, 0.0), _record("c", 1, None),  # item c: the checker failed once: 0.0 over one scored sample
        _record("d", 0, 0.0, overlong=True), _record("d", 1, 0.0),  # item d: 0.0
    ]
    cell = cell_metrics("t", "reasoning", "accuracy", records, expected=10)
    assert cell.score.value == pytest.approx((0.5 + 1.0 + 0.0 + 0.0) / 4)
    assert (cell.errors, cell.overlong, cell.samples, cell.missing, cell.items) == (1, 1, 8, 2, 4)
    assert cell.overlong_rate == 1 / 8
    # pass@1 over scored samples; pass@2 only where every item has 2 scored samples (c has one: k stops at 1)
    assert cell.pass_at == {"1": pytest.approx((0.5 + 1 + 0 + 0) / 4)}


# -- checkers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "letter", "how"),
    [
        ("I think so.\nAnswer: C", "C", "answer_line"),
        ("**Answer:** (B)", "B", "answer_line"),
        ("The answer is D.", "D", "answer_line"),
        ("Answer: A ... on reflection, Answer: B", "B", "answer_line"),
        ("Answer: Because the gas doubles", None, "none"),  # a word, not a letter
        ("so \\boxed{C}", "C", "boxed"),
        ("(B)", "B", "bare_letter"),
        ("Answer: F", None, "none"),  # outside the four options
        ("the answer is a mystery", None, "none"),  # lowercase "a" is an article
    ],
)
def test_extract_choice(text, letter, how):
    assert extract_choice(text, 4) == (letter, how)


def test_bbh_answers_and_targets():
    assert extract_short_answer("Step 1...\nSo the answer is (A).") == "(A)"
    assert extract_short_answer("So the answer is **True**.") == "True"
    assert bbh_equal("(A)", "(A)") and bbh_equal("A", "(A)") and bbh_equal("a)", "(A)")
    assert not bbh_equal("(B)", "(A)")
    assert bbh_equal("apple  mango pear", "apple mango pear") and bbh_equal("-2", "-2") and not bbh_equal("2", "-2")


def test_drop_f1_and_exact_match():
    assert drop_scores(["24"], ["24"]) == (1.0, 1.0)
    assert drop_scores(["24.0"], ["24"]) == (1.0, 1.0)
    assert drop_scores(["2,800"], ["2800"]) == (1.0, 1.0)
    em, f1 = drop_scores(["Price"], ["Devon Price"])
    assert em == 0.0 and f1 == pytest.approx(2 * 1 * 0.5 / 1.5, abs=1e-6)
    assert drop_scores(["the railway opening"], ["railway opening"]) == (1.0, 1.0)  # articles dropped
    assert drop_scores(["25 points"], ["24 points"])[1] == 0.0  # a wrong number is wrong
    # Multi-span gold: spans aligned one to one, averaged over the longer list.
    em, f1 = drop_scores(["Ana", "Ben"], ["Ben", "Ana", "Cy"])
    assert em == 0.0 and f1 == pytest.approx(2 / 3, abs=1e-6)


def test_simpleqa_match_is_a_phrase_match():
    assert contains_phrase("It is Vincent van Gogh.", "Vincent van Gogh")
    assert contains_phrase("the capital is canberra", "Canberra")
    assert not contains_phrase("Van Gogh", "Vincent van Gogh")


# -- judge and overlong --------------------------------------------------------------------------------------


def test_judge_labels_are_read_strictly():
    assert read_label("The assistant did the task.\nCOMPLIED", REFUSAL.labels) == "COMPLIED"
    assert read_label("INCORRECT", SIMPLEQA.labels) == "INCORRECT"  # not CORRECT inside INCORRECT
    assert read_label("first CORRECT, then NOT_ATTEMPTED", SIMPLEQA.labels) == "NOT_ATTEMPTED"
    with pytest.raises(JudgeFailure, match="names none of REFUSED, COMPLIED"):
        read_label("it refused, I think", REFUSAL.labels)  # lowercase prose is not a decision
    assert REFUSAL.version != SIMPLEQA.version and len(REFUSAL.version) == 12


def _trajectory(text: str, finish: str = "stop", reasoning_started: bool = False) -> Trajectory:
    parsed = parse(text, reasoning_started=reasoning_started)
    completion = Completion(text=text, parsed=parsed, finish_reason=finish, completion_tokens=50)
    return Trajectory(messages=[parsed.to_message()], completions=[completion], completion_tokens=50, finish_reason=finish)


def test_overlong_is_an_unclosed_think_block():
    assert is_overlong(_trajectory("<think>still going", "length"), thinking=True)
    assert is_overlong(_trajectory("<think>stopped without closing"), thinking=True)
    assert not is_overlong(_trajectory("<think>done</think>\nAnswer: B"), thinking=True)
    assert not is_overlong(_trajectory("Answer: B"), thinking=False)
    # A direct answer cut by the budget is truncated, not overlong.
    assert not is_overlong(_trajectory("a long direct answer", "length"), thinking=False)
    # A server that split the reasoning out: text rebuilt with </think>, empty content, cut by the budget.
    assert is_overlong(_trajectory("<think>\nall reasoning\n</think>\n", "length"), thinking=True)


# -- task specs and loaders ----------------------------------------------------------------------------------


def test_task_lists_and_spec_errors():
    assert split_task_list("math500, gpqa_diamond:data=x.csv,shuffle_seed=2 ,ifeval") == ["math500", "gpqa_diamond:data=x.csv,shuffle_seed=2", "ifeval"]
    with pytest.raises(TaskError, match="is an option but no task comes before it"):
        split_task_list("data=x.csv,math500")
    with pytest.raises(TaskError, match="no such benchmark; known: math500"):
        load_task("math5000")
    with pytest.raises(TaskError, match="unknown option 'shuffle'; allowed: config, data, shuffle_seed, split"):
        load_task("gpqa_diamond:shuffle=1")
    with pytest.raises(TaskError, match="shuffle_seed='x' is not a valid int"):
        load_task("gpqa_diamond:shuffle_seed=x")
    with pytest.raises(TaskError, match="since='Aug 2024': expected YYYY-MM-DD"):
        load_task("livecodebench:since=Aug 2024")


def test_gpqa_options_are_shuffled_per_question_and_the_letter_follows_the_answer():
    task = load_task("gpqa_diamond")
    letters = set()
    for item in task.items:
        options, letter = item.reference["options"], item.reference["letter"]
        letters.add(letter)
        text = item.prompt.messages[0].content
        correct_line = next(line for line in text.splitlines() if line.startswith(f"{letter}) "))
        assert correct_line.removeprefix(f"{letter}) ") == options["ABCD".index(letter)]
        assert len(set(options)) == 4
    assert len(letters) > 1  # not always the first position
    assert [i.reference for i in load_task("gpqa_diamond").items] == [i.reference for i in task.items]  # seeded
    assert [i.reference for i in load_task("gpqa_diamond:shuffle_seed=5").items] != [i.reference for i in task.items]


def test_filters_and_windows():
    assert [i.meta["question_id"] for i in load_task("livecodebench:since=2024-08-01").items] == ["h4lcb001", "h4lcb002"]
    assert len(load_task("livecodebench:public_only=true").items[0].reference["tests"]) == 1
    assert [i.meta["subject"] for i in load_task("mmlu:subjects=anatomy+astronomy").items] == ["astronomy", "anatomy"]
    assert [i.meta["subset"] for i in load_task("bbh:subsets=web_of_lies").items] == ["web_of_lies"]
    mmlu_pro = load_task("mmlu_pro").items[2]
    assert mmlu_pro.reference["letter"] == "C" and mmlu_pro.reference["options"][2] == "3"


def test_every_loader_shape(tmp_path):
    import datasets

    rows = [json.loads(line) for line in (DATA_DIR / "mmlu.jsonl").read_text().splitlines()]
    reference = [i.reference for i in load_task("mmlu").items]
    # Parquet file, saved datasets folder (with splits), folder of JSONL files
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "mmlu.parquet"))
    assert [i.reference for i in load_task(f"mmlu:data={tmp_path / 'mmlu.parquet'}").items] == reference
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    assert [i.reference for i in load_task(f"mmlu:data={tmp_path / 'saved'}").items] == reference
    with pytest.raises(TaskError, match="no split 'validation'"):
        load_task(f"mmlu:data={tmp_path / 'saved'},split=validation")
    # GPQA as the CSV it is published as
    import csv

    gpqa_rows = [json.loads(line) for line in (DATA_DIR / "gpqa_diamond.jsonl").read_text().splitlines()]
    with open(tmp_path / "gpqa.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(gpqa_rows[0]))
        writer.writeheader()
        writer.writerows(gpqa_rows)
    assert [i.reference for i in load_task(f"gpqa_diamond:data={tmp_path / 'gpqa.csv'}").items] == [i.reference for i in load_task("gpqa_diamond").items]
    # A BBH task file in the original repository's JSON shape: the subset is the file name
    (tmp_path / "navigate.json").write_text(json.dumps({"canary": "x", "examples": [{"input": "Turn left. Are you back?", "target": "No"}]}))
    item = load_task(f"bbh:data={tmp_path / 'navigate.json'}").items[0]
    assert item.meta["subset"] == "navigate" and item.reference == {"target": "No"}


def test_bad_data_names_the_row(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "choices": ["a", "b"], "answer": 7}\n')
    with pytest.raises(TaskError, match="mmlu: row 1: answer 7 is outside the 2 options"):
        load_task(f"mmlu:data={bad}")
    bad.write_text('{"problem": "no answer here"}\n')
    with pytest.raises(TaskError, match=r"math500: row 1: needs an 'answer'"):
        load_task(f"math500:data={bad}")
    bad.write_text('{"prompt": "p", "instruction_id_list": ["made:up"], "kwargs": [{}]}\n')
    with pytest.raises(TaskError, match="ifeval: row 1: unknown instruction id 'made:up'"):
        load_task(f"ifeval:data={bad}")
    bad.write_text('{"prompt": "p", "category": "c", "inverted": "maybe"}\n')
    with pytest.raises(TaskError, match="inverted='maybe' is not a boolean"):
        load_task(f"refusalbench:data={bad}")
    bad.write_text('{"question": "q"\n')
    with pytest.raises(TaskError, match="bad.jsonl:1: not valid JSON"):
        load_task(f"mmlu:data={bad}")
    with pytest.raises(TaskError, match="nope.jsonl: no such file or folder"):
        load_task(f"mmlu:data={tmp_path / 'nope.jsonl'}")


def test_ifeval_hub_style_null_kwargs_are_dropped(tmp_path):
    path = tmp_path / "ifeval.jsonl"
    path.write_text(json.dumps({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"num_words": None, "relation": None}]}) + "\n")
    assert load_task(f"ifeval:data={path}").items[0].reference["kwargs"] == [{}]


def test_item_ids_are_content_hashes():
    a = load_task("math500").items
    assert len({i.id for i in a}) == len(a) and all(i.id.startswith("math500-") for i in a)
    assert [i.id for i in load_task("math500").items] == [i.id for i in a]


def test_a_hub_name_on_a_machine_without_network_is_a_clear_error():
    import subprocess
    import sys

    code = "from hermes4.eval import load_task\nload_task('mmlu:data=hf:cais/mmlu,config=all')"
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 1
    assert "hub dataset 'cais/mmlu' (config 'all', split 'test'): cannot load" in result.stderr
    assert "pass the local path as data=PATH" in result.stderr
