"""The six effects of a recipe run: each judged from the run's counts, with the measured reason when absent."""

from __future__ import annotations

import pytest

from hermes4.recipe.effects import (
    EASY_DIRECT,
    JSON_ADHERENCE,
    MULTI_DIRECT,
    MULTI_THINK,
    OVERLONG_LONG,
    THINK_OFF_NONE,
    THINK_ON_OPENS,
    TOOL_FROM_OUTPUT,
    TOOL_VALID_ITEMS,
    effect_lines,
    judge_effects,
    wilson,
)
from hermes4.recipe.report import Count, _from_tool, _opens_think


def _faithful() -> dict[str, dict[str, Count]]:
    return {
        MULTI_THINK: {"base": Count(0, 100), "sft": Count(88, 100), "length-control": Count(85, 100)},
        MULTI_DIRECT: {"base": Count(0, 100), "sft": Count(10, 100), "length-control": Count(9, 100)},
        OVERLONG_LONG: {"sft": Count(27, 40), "length-control": Count(6, 40)},
        JSON_ADHERENCE: {"base": Count(0, 40), "sft": Count(34, 40)},
        TOOL_FROM_OUTPUT: {"base": Count(0, 40), "sft": Count(25, 40)},
        THINK_ON_OPENS: {"base": Count(0, 180), "sft": Count(180, 180)},
        THINK_OFF_NONE: {"base": Count(140, 140), "sft": Count(140, 140)},
        EASY_DIRECT: {"base": Count(0, 40), "sft": Count(36, 40)},
    }


def test_wilson_interval_brackets_the_rate_and_stays_inside_0_1():
    low, high = wilson(0, 40)
    assert low == 0.0 and 0.05 < high < 0.1
    low, high = wilson(88, 100)
    assert low < 0.88 < high
    assert wilson(40, 40)[1] == 1.0


def test_a_faithful_run_shows_every_effect():
    effects = judge_effects(_faithful())
    assert [e.number for e in effects] == [1, 2, 3, 4, 5, 6]
    assert [e.appeared for e in effects] == [True, True, True, True, True, True]
    # "thinking off: no <think>" is already 100% in an untrained base, and multi-step accuracy without reasoning is
    # effect 1's control arm: effect 2 asks neither to improve
    assert effects[1].detail == "all 5 measures improved"  # long-task accuracy is not in these numbers
    numbers = _faithful()
    numbers[MULTI_DIRECT]["sft"] = Count(0, 100)
    assert judge_effects(numbers)[1].appeared is True
    assert effects[2].values["cut"] == pytest.approx(1 - (6 / 40) / (27 / 40))


def test_length_control_bounds_are_inclusive_at_whole_counts():
    # 75/100 -> 70/100 costs 5 points and 10/40 -> 3/40 cuts 70%: both "at most 5" / "at least 70%", though the
    # float subtractions give 5.000000000000004 and 0.7 +- 1 ulp
    numbers = _faithful()
    numbers[MULTI_THINK].update({"sft": Count(75, 100), "length-control": Count(70, 100)})
    numbers[OVERLONG_LONG] = {"sft": Count(10, 40), "length-control": Count(3, 40)}
    third = judge_effects(numbers)[2]
    assert third.appeared is True, third.detail
    assert (third.values["accuracy_cost_points"], third.values["cut"]) == (5.0, 0.7)
    numbers[MULTI_THINK]["length-control"] = Count(69, 100)
    assert "accuracy cost 6.0 points > 5" in judge_effects(numbers)[2].detail


def test_missing_effects_say_the_measured_reason():
    numbers = _faithful()
    numbers[OVERLONG_LONG] = {"sft": Count(20, 40), "length-control": Count(13, 40)}  # -35%
    numbers[MULTI_DIRECT]["sft"] = Count(80, 100)  # CIs overlap 88%
    numbers[TOOL_FROM_OUTPUT]["sft"] = Count(0, 40)
    numbers[THINK_OFF_NONE]["sft"] = Count(120, 140)
    effects = {e.number: e for e in judge_effects(numbers)}
    assert effects[1].appeared is False and "overlap" in effects[1].detail
    assert effects[3].appeared is False and "overlong cut 35% < 70%" in effects[3].detail
    assert effects[5].appeared is False and "0.0% (0/40) < 50%" in effects[5].detail
    numbers[TOOL_VALID_ITEMS] = {"sft": Count(38, 40)}
    assert "valid tool call: 95.0% (38/40)" in judge_effects(numbers)[4].detail
    assert effects[2].appeared is False and "tool-use accuracy" in effects[2].detail
    assert effects[6].appeared is False and "thinking off without `<think>` 85.7% (120/140) < 95%" in effects[6].detail
    del numbers[EASY_DIRECT]
    assert judge_effects(numbers)[5].appeared is False  # the hybrid half failed: no easy task needed to say so
    numbers[THINK_OFF_NONE]["sft"] = Count(140, 140)
    sixth = judge_effects(numbers)[5]
    assert sixth.appeared is None and "easy task: not measured (no eval task with `headline: easy`)" in sixth.detail
    assert "not measured" in effect_lines([sixth])[0]
    del numbers[THINK_ON_OPENS]
    assert judge_effects(numbers)[5].detail == f"the run has no {THINK_ON_OPENS} (sft)"


def test_nothing_overlong_before_length_control_is_said_so():
    numbers = _faithful()
    numbers[OVERLONG_LONG] = {"sft": Count(0, 40), "length-control": Count(0, 40)}
    third = judge_effects(numbers)[2]
    assert third.appeared is False and "nothing was overlong before length control" in third.detail


def test_tool_accuracy_counts_only_answers_from_the_tool_output():
    echoed = {"verdict": {"status": "pass", "details": {"tool_result_used": False}}, "score": 1.0}
    from_tool = {"verdict": {"status": "pass", "details": {"tool_result_used": True}}, "score": 1.25}
    wrong = {"verdict": {"status": "fail", "details": {"tool_result_used": True}}, "score": 0.0}
    assert [_from_tool(r) for r in (echoed, from_tool, wrong)] == [False, True, False]


def test_think_block_is_seen_in_split_reasoning_or_raw_text():
    assert _opens_think({"output": {"reasoning": "carry the 1", "raw": "Answer: 3"}})
    assert _opens_think({"output": {"reasoning": None, "raw": "<think>\nx"}})
    assert not _opens_think({"output": {"reasoning": None, "raw": "Answer: 3"}})
