"""answer_format: every format accepts its own rendering and rejects near misses; reasoning shape is enforced."""

from __future__ import annotations

import pytest

from hermes4.envs import Trajectory, get_env
from hermes4.envs.answer_format import FORMATS, FORMATS_BY_NAME, format_for_prompt

ANSWERS = ["42", "-35, 2, 9", "1A3F", "3.25"]


def test_at_least_thirty_distinct_formats() -> None:
    assert len(FORMATS) >= 30
    assert len({f.instruction for f in FORMATS}) == len(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_format_accepts_rendering_and_rejects_near_miss(fmt) -> None:
    for answer in ANSWERS:
        assert fmt.check(fmt.render(answer)) is None, (fmt.name, answer)
        assert fmt.check(fmt.broken(answer)) is not None
    assert fmt.check("") is not None


@pytest.mark.parametrize(
    ("name", "text", "ok"),
    [
        ("boxed", "so \\boxed{}", False),
        ("json_field", '{"answer": 5}', True),
        ("json_field", '```json\n{"answer": 5}\n```', True),
        ("json_field", '{"result": 5}', False),
        ("json_field", "answer: 5", False),
        ("xml_tag", "<answer> </answer>", False),
        ("markdown_table", "| Answer |\n|---|\n| 5 |", True),
        ("markdown_table", "| Answer |\n| 5 |", False),
        ("numbered_list", "1. a\n3. b", False),
        ("yaml", "answer: [unclosed", False),
        ("csv", "answer\n\"1, 2\"", True),
        ("csv", "answer\n1, 2", False),
        ("uppercase", "THE ANSWER IS 5.", True),
        ("final_answer_line", "Final Answer: 5\nthanks", False),
        ("two_paragraphs", "one\n\ntwo\n\nthree", False),
    ],
)
def test_format_examples(name: str, text: str, ok: bool) -> None:
    assert (FORMATS_BY_NAME[name].check(text) is None) is ok


def test_env_items_cover_all_formats_and_are_recognisable() -> None:
    items = get_env(f"answer_format:n={len(FORMATS)}").items()
    assert {i.reference["format"] for i in items} == set(FORMATS_BY_NAME)
    for item in items:
        assert format_for_prompt(item.prompt.messages[0].content).name == item.reference["format"]


def test_verdicts_grade_format_only_and_reasoning_shape() -> None:
    env = get_env("answer_format:n=40")
    for item in env.items():
        fmt = FORMATS_BY_NAME[item.reference["format"]]
        good = fmt.render("7")
        assert env.verify(item, Trajectory.from_text(good)).status == "pass"  # direct mode
        assert env.verify(item, Trajectory.from_text(f"<think>work</think>\n{good}")).status == "pass"
        # the right format with a wrong answer still passes: this env rewards the format only
        assert env.verify(item, Trajectory.from_text(fmt.render("999999"))).status == "pass"
        # reward-hack probes
        assert env.verify(item, Trajectory.from_text("", reasoning=good)).status == "fail"  # answer only in reasoning
        assert env.verify(item, Trajectory.from_text(f"<think>{good}")).status == "fail"  # unclosed think
        assert env.verify(item, Trajectory.from_text("")).status == "fail"  # empty
        assert env.verify(item, Trajectory.from_text(f"<think>a</think><think>b</think>{good}")).status == "fail"
        assert env.verify(item, Trajectory.from_text(fmt.broken("7"))).status == "fail"
        # reasoning mode requires a think block; direct mode forbids one
        thinking = Trajectory.from_text(good)
        thinking.meta["thinking"] = True
        assert env.verify(item, thinking).status == "fail"
        direct = Trajectory.from_text(good, reasoning="work")
        direct.meta["thinking"] = False
        assert env.verify(item, direct).status == "fail"
