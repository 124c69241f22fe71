"""Procedural tasks: solvers against independent computations, planted mistakes, the env's verdicts, the teacher."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

import pytest

from hermes4.envs import Trajectory, get_env
from hermes4.envs.procedural import (
    TASKS,
    answers_match,
    recognise,
)
from hermes4.envs.procedural.tasks import _UNITS
from hermes4.llm import Sampling, ScriptedEngine, ScriptRequest
from hermes4.teacher import make_teacher, split_rendered_prompt


def _expected(name: str, p: dict) -> str:
    """Independent answers (Python arithmetic, datetime, sorted, int(x, base)) for each task."""
    if name == "arithmetic":
        a, op, b = p["a"], p["op"], p["b"]
        return str(a + b if op == "+" else a - b if op == "-" else a * b)
    if name == "sorting":
        return ", ".join(map(str, sorted(p["numbers"], reverse=p["order"] == "descending")))
    if name == "compare":
        return str(max(p["a"], p["b"]))
    if name == "counting":
        return str(p["text"].count(p["letter"]))
    if name == "unit_conversion":
        value = Decimal(p["value"]) * _UNITS[p["source"]][1] / _UNITS[p["target"]][1]
        return str(value)
    if name == "word_problem":
        value = p["start"]
        for kind, *numbers in p["events"]:
            if kind in ("sells", "gives"):
                value -= numbers[0]
            elif kind == "buys":
                value += numbers[0]
            elif kind == "crates":
                value += numbers[0] * numbers[1]
            else:
                value *= 2
        return str(value)
    if name == "base_conversion":
        n, base, digits = p["n"], p["base"], ""
        while n:
            digits = "0123456789ABCDEF"[n % base] + digits
            n //= base
        return digits
    if name == "date_difference":
        return str((dt.date.fromisoformat(p["end"]) - dt.date.fromisoformat(p["start"])).days)
    if name == "gcd":
        import math

        return str(math.gcd(p["a"], p["b"]))
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_solver_matches_independent_answer_and_mistakes_are_wrong(name: str) -> None:
    task = TASKS[name]
    for i in range(150):
        params = task.generate(random.Random(i), 1 + i % 3)
        question = task.question(params)
        assert task.parse(question) == params
        assert recognise(question)[0] is task
        solution = task.solve(params)
        assert answers_match(task.answer_type, solution.answer, _expected(name, params)), (params, solution.answer)
        assert len(solution.steps) >= 2
        mistaken = task.solve(params, mistake=random.Random(10_000 + i))
        assert not answers_match(task.answer_type, mistaken.answer, solution.answer), (params, mistaken.trace())


@pytest.mark.parametrize("name", sorted(name for name, task in TASKS.items() if task.easiest == 0))
def test_the_tiny_model_level_solves_and_plants_mistakes(name: str) -> None:
    task = TASKS[name]
    sizes = set()
    for i in range(200):
        params = task.generate(random.Random(i), 0)
        assert task.parse(task.question(params)) == params
        solution = task.solve(params)
        assert answers_match(task.answer_type, solution.answer, _expected(name, params)), (params, solution.answer)
        assert not answers_match(task.answer_type, task.solve(params, mistake=random.Random(i)).answer, solution.answer)
        if name == "sorting":
            assert all(0 <= n <= 9 for n in params["numbers"])
            assert len(set(params["numbers"])) == len(params["numbers"])  # distinct: the trace's lists are copyable
            sizes.add(len(params["numbers"]))
    if name == "sorting":  # short and long traces both: the length-control stage needs the long ones
        assert sizes == set(range(4, 11))


def test_difficulty_zero_only_where_a_task_has_it() -> None:
    assert len(get_env("procedural:tasks=arithmetic+sorting+compare,difficulty=0,n=9").items()) == 9
    with pytest.raises(ValueError, match=r"option difficulty: must be 1\.\.5, got 0"):
        get_env("procedural:tasks=sorting+counting,difficulty=0")


def test_items_are_deterministic_unique_and_seeded() -> None:
    first = get_env("procedural:n=60,seed=3").items()
    again = get_env("procedural:n=60,seed=3").items()
    other = get_env("procedural:n=60,seed=4").items()
    assert [i.id for i in first] == [i.id for i in again]
    assert len({i.id for i in first}) == 60
    assert [i.id for i in first] != [i.id for i in other]
    assert {i.meta["task"] for i in first} == set(TASKS)
    assert [i.id for i in get_env("procedural:n=10").items(split="test")] != [i.id for i in get_env("procedural:n=10").items()]


def test_unknown_task_is_named() -> None:
    with pytest.raises(ValueError, match="unknown task 'algebra'; known tasks: arithmetic"):
        get_env("procedural:tasks=arithmetic+algebra")


def test_verdicts_and_reward_hack_probes() -> None:
    env = get_env("procedural:n=8,tasks=arithmetic+sorting")
    for item in env.items():
        answer = item.reference["answer"]
        assert env.verify(item, Trajectory.from_text(f"Let me see.\nAnswer: {answer}", reasoning="steps")).status == "pass"
        assert env.verify(item, Trajectory.from_text(f"<think>steps</think>\n**Answer:** {answer}")).status == "pass"
        # the answer only inside the reasoning
        assert env.verify(item, Trajectory.from_text("", reasoning=f"Answer: {answer}")).status == "fail"
        assert env.verify(item, Trajectory.from_text(f"<think>Answer: {answer}")).status == "fail"
        # right format, wrong answer
        wrong = "1" + answer.replace("-", "") if item.meta["task"] == "arithmetic" else answer[::-1] + ", 0"
        assert env.verify(item, Trajectory.from_text(f"Answer: {wrong}")).status == "fail"
        # empty answer
        assert env.verify(item, Trajectory.from_text("")).status == "fail"


def test_answer_comparison_normalises() -> None:
    assert answers_match("int", "1,234", "1234")
    assert answers_match("decimal", "3250.0", "3250")
    assert answers_match("int_list", "[1, 2,3]", "1, 2, 3")
    assert not answers_match("int_list", "1, 3, 2", "1, 2, 3")
    assert answers_match("token", "1a", "1A")
    assert not answers_match("int", "twelve", "12")


def _request(conversation, *, thinking: bool, index: int = 0, seed: int | None = None) -> ScriptRequest:
    return ScriptRequest(prompt="", sampling=Sampling(seed=seed), conversation=conversation, thinking=thinking, sample_index=index)


def test_teacher_thinking_and_direct_answers_pass() -> None:
    env = get_env("procedural:n=16")
    teacher = make_teacher(error_rate=0.0)
    for item in env.items():
        thought = teacher(_request(item.prompt, thinking=True))
        assert thought.startswith("<think>\n") and thought.count("</think>") == 1
        assert env.verify(item, Trajectory.from_text(thought)).status == "pass"
        direct = teacher(_request(item.prompt, thinking=False))
        assert "<think>" not in direct
        assert env.verify(item, Trajectory.from_text(direct)).status == "pass"


def test_teacher_mistakes_are_deterministic_at_the_configured_rate() -> None:
    env = get_env("procedural:n=100")
    teacher = make_teacher(error_rate=0.3, seed=7)
    outcomes = Counter()
    for item in env.items():
        for index in range(4):
            text = teacher(_request(item.prompt, thinking=True, index=index))
            assert text == teacher(_request(item.prompt, thinking=True, index=index))
            outcomes[env.verify(item, Trajectory.from_text(text)).status] += 1
    rate = outcomes["fail"] / 400
    assert 0.24 <= rate <= 0.36, outcomes
    assert make_teacher(error_rate=1.0)(_request(env.items()[0].prompt, thinking=False)) != make_teacher(error_rate=0.0)(
        _request(env.items()[0].prompt, thinking=False)
    )


def test_teacher_reads_rendered_prompts_of_both_formats() -> None:
    question = "Compute 12 + 30."
    chatml = f"<|im_start|>system\nYou are Hermes.<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n<think>\nstep"
    llama = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nsys<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{question}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert split_rendered_prompt(chatml) == (question, "<think>\nstep", [])
    assert split_rendered_prompt(llama) == (question, "", [])
    teacher = make_teacher(error_rate=0.0)
    continued = teacher(ScriptRequest(prompt=chatml, sampling=Sampling(), conversation=None))
    assert not continued.startswith("<think>") and "</think>\nAnswer: 42" in continued


async def test_teacher_through_the_scripted_engine_matches_error_rate() -> None:
    env = get_env("procedural:n=40,seed=2")
    llm = ScriptedEngine(make_teacher(error_rate=0.25, seed=1))
    try:
        statuses = Counter()
        for item in env.items():
            for trajectory in await env.rollout_group(item, llm, Sampling(max_tokens=4096, seed=5), thinking=True, n=4):
                assert trajectory.meta["thinking"] is True and trajectory.completion_tokens > 0
                statuses[env.verify(item, trajectory).status] += 1
    finally:
        await llm.aclose()
    assert statuses["error"] == 0 and statuses["timeout"] == 0
    assert 0.15 <= statuses["fail"] / 160 <= 0.35, statuses
