"""math: math-verify equivalence on the final answer only; datasets in MATH-500 / AIME shape."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hermes4.envs import EnvSpecError, Trajectory, get_env
from hermes4.envs.math_env import last_boxed


@pytest.fixture(scope="module")
def env():
    return get_env("math")


def _item(env, answer: str):
    return next(i for i in env.items() if i.reference["answer"] == answer)


def test_sample_dataset_reference_answers_pass(env) -> None:
    items = env.items()
    assert len(items) >= 20
    for item in items:
        text = f"So the result is $\\boxed{{{item.reference['answer']}}}$."
        assert env.verify(item, Trajectory.from_text(text, reasoning="work")).status == "pass", item.reference


@pytest.mark.parametrize(
    ("answer", "text", "status"),
    [
        ("\\frac{2}{3}", "\\boxed{\\frac{4}{6}}", "pass"),  # equivalent form
        ("\\frac{2}{3}", "The answer is $\\frac{2}{3}$.", "pass"),  # no box: math-verify extracts
        ("\\frac{2}{3}", "\\boxed{0.5}", "fail"),  # right format, wrong answer
        ("9\\pi", "\\boxed{9\\pi}", "pass"),
        ("9\\pi", "\\boxed{28.27}", "fail"),
        ("(7,3)", "\\boxed{(3,7)}", "fail"),
        ("210", "first \\boxed{200} then corrected \\boxed{210}", "pass"),  # the last box counts
        ("210", "first \\boxed{210} then \\boxed{200}", "fail"),
        ("210", "", "fail"),  # empty answer
        ("210", "I am not sure.", "fail"),
    ],
)
def test_verdicts(env, answer: str, text: str, status: str) -> None:
    assert env.verify(_item(env, answer), Trajectory.from_text(text)).status == status


def test_answer_only_inside_reasoning_fails(env) -> None:
    item = _item(env, "210")
    assert env.verify(item, Trajectory.from_text("", reasoning="\\boxed{210}")).status == "fail"
    assert env.verify(item, Trajectory.from_text("<think>\\boxed{210}")).status == "fail"
    assert env.verify(item, Trajectory.from_text("<think>\\boxed{210}</think>Done.")).status == "fail"


def test_last_boxed_balances_braces() -> None:
    assert last_boxed("\\boxed{\\frac{1}{2}} and \\boxed{x^{2}}") == "x^{2}"
    assert last_boxed("none") is None


def test_jsonl_and_parquet_datasets(tmp_path) -> None:
    rows = [{"problem": "What is 2+2?", "answer": "4"}, {"Problem": "AIME-style: 10*10?", "Answer": 100}]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"problem": "What is 3*3?", "solution": "It is \\boxed{9}."}]), parquet)
    from_jsonl = get_env(f"math:dataset={jsonl}").items()
    assert [i.reference["answer"] for i in from_jsonl] == ["4", "100"]
    from_parquet = get_env(f"math:dataset={parquet}")
    item = from_parquet.items()[0]
    assert item.reference["answer"] == "9"
    assert from_parquet.verify(item, Trajectory.from_text("\\boxed{9}")).status == "pass"


def test_bad_dataset_rows_are_named(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "x", "answer": "1"}\n{"problem": \n')
    with pytest.raises(EnvSpecError, match="bad.jsonl:2: invalid JSON"):
        get_env(f"math:dataset={bad}")
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"question_text": "x"}\n')
    with pytest.raises(ValueError, match="row 1: needs a 'problem' and an 'answer'"):
        get_env(f"math:dataset={missing}").items()


def _adhoc(answer: str):
    from hermes4.chat.messages import Conversation, Message
    from hermes4.envs import Item

    return Item(id=f"adhoc-{answer}", prompt=Conversation(messages=[Message(role="user", content="q")]), reference={"answer": answer})


@pytest.mark.parametrize(
    ("answer", "text", "status"),
    [
        ("5", "So \\boxed 5 and later the set {1,2,3}.", "pass"),  # a braceless box is its token, not a later brace
        ("3, 5", "The roots are \\boxed{3} and \\boxed{5}.", "pass"),  # a two-part gold reads the last two boxes
        ("5", "First \\boxed{3}. Wait, correction: \\boxed{5}.", "pass"),  # a single gold stays the last box
        ("3, 5", "\\boxed{2}? No: \\boxed{3} and \\boxed{5}", "pass"),
        ("3, 5", "\\boxed{3} and \\boxed{4}", "fail"),
        ("5", "<think>\\boxed{5}", "fail"),  # an unclosed think block has no answer
    ],
)
def test_box_reading(env, answer: str, text: str, status: str) -> None:
    assert env.verify(_adhoc(answer), Trajectory.from_text(text)).status == status


def test_boxed_answers_in_order() -> None:
    from hermes4.envs.math_env import boxed_answers, top_level_parts

    assert boxed_answers("\\boxed 5 then {1,2,3}") == ["5"]
    assert boxed_answers("\\boxed{3} and \\fbox{5} and \\boxed{x") == ["3", "5"]
    assert top_level_parts("3, 5") == ["3", "5"] and top_level_parts("(1, 2)") == ["(1, 2)"]
