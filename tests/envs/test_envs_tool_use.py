"""tool_use: answer correctness, the bonus only when the answer rests on a tool result, real tool rollouts."""

from __future__ import annotations

from collections import Counter

import pytest

from hermes4.chat.messages import Message
from hermes4.envs import Trajectory, get_env
from hermes4.teacher import make_teacher
from hermes4.envs.tool_use import _NO_INPUT_CAP, COMPUTATIONS, recognise_computation, tool_exchanges
from hermes4.llm import Sampling, ScriptedEngine


@pytest.fixture(scope="module")
def env():
    return get_env("tool_use:n=10,bonus=0.5")


def _call(code: str, call_id: str = "c1") -> Message:
    return Message.model_validate(
        {"role": "assistant", "content": "", "tool_calls": [{"id": call_id, "name": "python", "arguments": {"code": code}}]}
    )


def _tool(content: str, call_id: str = "c1") -> Message:
    return Message(role="tool", content=content, tool_call_id=call_id, name="python")


def test_computations_round_trip_and_match_their_programs(env) -> None:
    for item in env.items():
        comp, params = recognise_computation(item.prompt.messages[0].content)
        assert comp.name == item.meta["task"] and params == item.meta["params"]
        assert comp.solve(params) == item.reference["answer"]
    assert {c.name for c in COMPUTATIONS} == {i.meta["task"] for i in env.items()}


def test_bonus_only_when_the_answer_comes_from_a_tool_result(env) -> None:
    item = env.items()[0]
    answer = item.reference["answer"]
    used = Trajectory(messages=[_call("print(compute())"), _tool(f"{answer}\n"), Message(role="assistant", content=f"Answer: {answer}")])
    verdict = env.verify(item, used)
    assert verdict.status == "pass" and verdict.reward == 1.5 and verdict.details["tool_result_used"]
    # a tool call whose result is ignored: correct answer, no bonus
    ignored = Trajectory(messages=[_call("print('hello')"), _tool("hello"), Message(role="assistant", content=f"Answer: {answer}")])
    verdict = env.verify(item, ignored)
    assert verdict.status == "pass" and verdict.reward == 1.0 and not verdict.details["tool_result_used"]
    # echoing a number the model already had through the tool earns nothing either
    echoed = Trajectory(messages=[_call(f"print({answer})"), _tool(f"{answer}"), Message(role="assistant", content=f"Answer: {answer}")])
    assert env.verify(item, echoed).reward == 1.0
    # no tool at all: correct answer, no bonus
    assert env.verify(item, Trajectory.from_text(f"Answer: {answer}")).reward == 1.0


def test_reward_hack_probes_fail(env) -> None:
    item = env.items()[1]
    answer = item.reference["answer"]
    # the tool found the answer but the model answered something else
    wrong = Trajectory(messages=[_call("print(x)"), _tool(f"{answer}"), Message(role="assistant", content=f"Answer: {answer + 1}")])
    assert env.verify(item, wrong).status == "fail"
    # the answer only inside the reasoning
    hidden = Trajectory(messages=[Message(role="assistant", content="", reasoning_content=f"Answer: {answer}")])
    assert env.verify(item, hidden).status == "fail"
    assert env.verify(item, Trajectory.from_text("")).status == "fail"
    assert env.verify(item, Trajectory.from_text("Answer: many")).status == "fail"


def test_inline_exchanges_are_read_from_the_reasoning(env) -> None:
    item = env.items()[2]
    answer = item.reference["answer"]
    reasoning = (
        'Let me compute.\n<tool_call>\n{"name": "python", "arguments": {"code": "print(f())"}}\n</tool_call>\n'
        f"<tool_response>\n{answer}\n</tool_response>\nDone."
    )
    trajectory = Trajectory(messages=[Message(role="assistant", content=f"Answer: {answer}", reasoning_content=reasoning)])
    exchanges = tool_exchanges(trajectory)
    assert [(e.name, e.arguments, e.response) for e in exchanges] == [("python", {"code": "print(f())"}, str(answer))]
    assert env.verify(item, trajectory).reward == 1.5


@pytest.mark.parametrize("thinking", [True, False])
async def test_rollouts_with_the_sandboxed_python_tool(thinking: bool) -> None:
    env = get_env("tool_use:n=5")
    llm = ScriptedEngine(make_teacher(error_rate=0.0))
    try:
        rewards = Counter()
        for item in env.items():
            trajectory = await env.rollout(item, llm, Sampling(max_tokens=2048, seed=1), thinking=thinking)
            verdict = env.verify(item, trajectory)
            assert trajectory.meta["tool_calls"] == 1 and trajectory.meta["loop_finish"] == "answer"
            if thinking:  # interleaved: the call and its response sit inside the reasoning of one message
                assert len(trajectory.messages) == 1 and "<tool_response>" in trajectory.messages[0].reasoning_content
            else:
                assert [m.role for m in trajectory.messages] == ["assistant", "tool", "assistant"]
            rewards[verdict.reward] += 1
    finally:
        await llm.aclose()
    assert rewards == Counter({1.25: 5})


async def test_teacher_mistakes_ignore_the_tool_and_fail() -> None:
    env = get_env("tool_use:n=3")
    llm = ScriptedEngine(make_teacher(error_rate=1.0))
    try:
        for item in env.items():
            trajectory = await env.rollout(item, llm, Sampling(max_tokens=2048), thinking=True)
            verdict = env.verify(item, trajectory)
            assert verdict.status == "fail" and verdict.details["tool_calls"] == 1
    finally:
        await llm.aclose()


def test_question_and_program_name_the_input_alike_and_the_program_prints_the_answer_line():
    import random
    import re
    import subprocess
    import sys

    rng = random.Random(3)
    for comp in COMPUTATIONS:
        params = comp.draw(rng, _NO_INPUT_CAP)
        if comp.name == "count_primes":
            params = {"n": 5000}  # keep the sieve quick
        question, program = comp.question(params), comp.program(params)
        assert recognise_computation(question) == (comp, params)
        # every `name = value` the question states opens a line of the program, in the same words
        stated = re.findall(r"\b([a-z]) = ([\d *]+\d)", question)
        assert stated and all(f"{name} = {value}" in program.splitlines() for name, value in stated), (question, program)
        printed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60).stdout
        assert printed == f"Answer: {comp.solve(params)}\n"


def test_max_digits_caps_every_input_and_keeps_the_items_solvable():
    capped = get_env("tool_use:n=40,max_digits=4")
    items = capped.items()
    assert {item.meta["task"] for item in items} == {c.name for c in COMPUTATIONS}
    for item in items:
        assert all(value <= 9999 for value in item.meta["params"].values()), item.meta
        comp, params = recognise_computation(item.prompt.messages[0].content)
        assert comp.solve(params) == item.reference["answer"]
    sizes = [len(str(item.meta["params"]["n"])) for item in items if item.meta["task"] == "collatz_steps"]
    assert max(sizes) == 4 and min(sizes) >= 3  # the range's top moved down, not every input to the top
    uncapped = get_env("tool_use:n=40").items()
    assert max(i.meta["params"]["n"] for i in uncapped if i.meta["task"] == "collatz_steps") > 10**5
    with pytest.raises(ValueError, match="max_digits"):
        get_env("tool_use:n=4,max_digits=1")
