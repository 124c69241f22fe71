"""The client-side reasoning budget: generate to the budget, append the trained `</think>`, continue; each result
says whether the budget fired. Driven through the scripted engine (a model that reasons for 200 words, or briefly)."""

from __future__ import annotations

import pytest

from hermes4.chat.messages import Conversation
from hermes4.llm import Sampling, ScriptedEngine, ScriptRequest
from hermes4.llm.budget import THINK_CLOSE, chat_with_budget, complete_with_budget

LONG = "<think>\n" + " ".join(f"step{i}" for i in range(200)) + "\n</think>\nThe answer is 4."


def thinker(request: ScriptRequest) -> str:
    if request.prompt.endswith(THINK_CLOSE):
        return "\nThe answer is 4."  # what length control taught: answer right after the forced close
    return "<think>\nshort\n</think>\nThe answer is 4." if "brief" in request.prompt else LONG


@pytest.fixture
def engine():
    return ScriptedEngine(thinker, name="thinker")


async def test_budget_fires_on_a_long_reasoning_and_the_answer_follows(engine):
    conversation = Conversation.parse([{"role": "user", "content": "What is 2 + 2?"}])
    result = await chat_with_budget(engine, conversation, sampling=Sampling(max_tokens=400, temperature=0), budget=20)
    assert result.budget_fired and result.reasoning_budget == 20
    completion = result.completion
    assert completion.text.count(THINK_CLOSE) == 1 and "step199" not in completion.text
    assert completion.parsed.content == "The answer is 4." and not completion.parsed.truncated
    assert completion.parsed.reasoning.startswith("step0") and completion.finish_reason == "stop"
    assert completion.completion_tokens > 20


async def test_budget_does_not_fire_when_reasoning_ends_in_time(engine):
    conversation = Conversation.parse([{"role": "user", "content": "brief: 2 + 2?"}])
    result = await chat_with_budget(engine, conversation, sampling=Sampling(max_tokens=400, temperature=0), budget=64)
    assert not result.budget_fired
    assert result.completion.parsed.reasoning == "short" and result.completion.parsed.content == "The answer is 4."


async def test_the_whole_output_limit_still_holds(engine):
    result = await complete_with_budget(engine, "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n",
                                        sampling=Sampling(max_tokens=10, temperature=0), budget=20)
    assert not result.budget_fired and result.completion.completion_tokens <= 10
    with pytest.raises(ValueError, match="at least 1 token"):
        await complete_with_budget(engine, "p", sampling=Sampling(), budget=0)


def test_engine_budget_fired_counts_reasoning_tokens_as_vllm_does():
    from hermes4.llm.budget import engine_budget_fired

    open_ids, close_ids = [7], [8, 9]  # a two-token close string, as some tokenizers split </think>
    # The prompt opens the reasoning with one token after <think>; the output adds 3 and the close: 4 in all.
    assert engine_budget_fired([1, 7, 5], [5, 5, 5, 8, 9, 3], open_ids=open_ids, close_ids=close_ids, budget=4)
    assert not engine_budget_fired([1, 7, 5], [5, 5, 5, 8, 9, 3], open_ids=open_ids, close_ids=close_ids, budget=5)
    # The output opens its own reasoning; closed after 2 tokens: under a budget of 3, not fired.
    assert not engine_budget_fired([1], [7, 5, 5, 8, 9, 3], open_ids=open_ids, close_ids=close_ids, budget=3)
    assert engine_budget_fired([1], [7, 5, 5, 8, 9, 3], open_ids=open_ids, close_ids=close_ids, budget=2)
    # A prompt whose reasoning is already closed, and an output with no reasoning: nothing to cut.
    assert not engine_budget_fired([7, 5, 8, 9], [5, 5, 5, 5], open_ids=open_ids, close_ids=close_ids, budget=1)
    assert not engine_budget_fired([1], [5, 5, 5], open_ids=open_ids, close_ids=close_ids, budget=1)
    # Cut by max_tokens before the budget: not fired.
    assert not engine_budget_fired([1, 7], [5, 5], open_ids=open_ids, close_ids=close_ids, budget=4)
    with pytest.raises(ValueError, match="token ids are needed"):
        engine_budget_fired([1], [2], open_ids=[], close_ids=close_ids, budget=1)


async def test_budgeted_llm_applies_the_budget_to_reasoning_calls_only(engine):
    from hermes4.llm.budget import BudgetedLLM

    budgeted = BudgetedLLM(engine, 20)
    conversation = Conversation.parse([{"role": "user", "content": "What is 2 + 2?"}])
    (reasoning,) = await budgeted.chat(conversation, sampling=Sampling(max_tokens=400, temperature=0), thinking=True)
    assert reasoning.budget_fired and reasoning.parsed.content == "The answer is 4." and "step199" not in reasoning.text
    brief = Conversation.parse([{"role": "user", "content": "brief: 2 + 2?"}])
    (short,) = await budgeted.chat(brief, sampling=Sampling(max_tokens=400, temperature=0), thinking=True)
    assert short.budget_fired is False and short.parsed.reasoning == "short"
    (direct,) = await budgeted.chat(conversation, sampling=Sampling(max_tokens=400, temperature=0), thinking=False)
    assert direct.budget_fired is None  # no budget applies outside reasoning mode: the wrapped engine answered
    two = await budgeted.chat(conversation, sampling=Sampling(max_tokens=400, temperature=0, n=2), thinking=True)
    assert [c.budget_fired for c in two] == [True, True]
    assert budgeted.name == "thinker" and budgeted.stats().requests == engine.stats().requests
    with pytest.raises(ValueError, match="needs an http"):
        BudgetedLLM(engine, 20, mode="engine")
    with pytest.raises(ValueError, match="at least 1 token"):
        BudgetedLLM(engine, 0)
