"""Acceptance rules: normalised reasoning, distinctness, the token budget, content ids, config checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hermes4.chat.messages import Message, ToolCall
from hermes4.envs import Trajectory
from hermes4.sample import SampleConfig, distinct_key, item_key, normalise, over_budget, record_id


def traj(content, reasoning=None, **kw):
    return Trajectory(messages=[Message(role="assistant", content=content, reasoning_content=reasoning)], **kw)


def test_normalise_folds_whitespace_and_case():
    assert normalise("  Two  plus\nTWO\tis four ") == "two plus two is four"


def test_distinct_by_reasoning_not_by_answer_spacing():
    a = traj("Answer: 4", "First add 2 and 2.\nThat is 4.")
    b = traj("Answer:   4", "first  add 2 and 2. that is 4.")
    c = traj("Answer: 4", "Two and two make four.")
    assert distinct_key(a) == distinct_key(b)
    assert distinct_key(a) != distinct_key(c)
    # Same reasoning, different final answer: still the same path.
    assert distinct_key(traj("Answer: 5", "First add 2 and 2. That is 4.")) == distinct_key(a)


def test_without_reasoning_the_answer_and_tool_calls_decide():
    assert distinct_key(traj("Answer: 4")) != distinct_key(traj("The answer is 4"))
    assert distinct_key(traj("Answer: 4", "   ")) == distinct_key(traj("answer:  4"))
    call = Trajectory(
        messages=[
            Message(role="assistant", content="", tool_calls=[ToolCall.model_validate({"name": "python", "arguments": {"code": "print(1)"}})]),
            Message(role="tool", content="1", tool_call_id="x"),
            Message(role="assistant", content="Answer: 1"),
        ]
    )
    other = Trajectory(
        messages=[
            Message(role="assistant", content="", tool_calls=[ToolCall.model_validate({"name": "python", "arguments": {"code": "print(2-1)"}})]),
            Message(role="tool", content="1", tool_call_id="x"),
            Message(role="assistant", content="Answer: 1"),
        ]
    )
    assert distinct_key(call) != distinct_key(other)


def test_token_budget():
    assert not over_budget(traj("x", completion_tokens=100), 100)
    assert over_budget(traj("x", completion_tokens=101), 100)
    assert over_budget(traj("x", completion_tokens=10, finish_reason="length"), 100)


def test_ids_hash_env_item_and_path():
    assert record_id("procedural", "i1", "p") == record_id("procedural", "i1", "p")
    assert len({record_id("procedural", "i1", "p"), record_id("procedural", "i2", "p"), record_id("math", "i1", "p"), record_id("procedural", "i1", "q")}) == 4
    assert item_key("procedural", "i1") != record_id("procedural", "i1", "")


def test_config_validation_names_the_field(tmp_path):
    with pytest.raises(ValidationError, match="keep"):
        SampleConfig(envs=["x"], llm="u", out=tmp_path, keep=9, group_size=8)
    with pytest.raises(ValidationError, match="group_size"):
        SampleConfig(envs=["x"], llm="u", out=tmp_path, group_size=0)
    with pytest.raises(ValidationError, match="twice"):
        SampleConfig(envs=["x", " x"], llm="u", out=tmp_path)
