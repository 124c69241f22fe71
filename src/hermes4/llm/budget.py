"""A reasoning budget enforced by the client, for any model source (any OpenAI-compatible endpoint, the local engines):
generate up to the budget; if the model is still inside `<think>`, append the close string the length-control stage
trained (`</think>`) and let it continue to its answer. Each result says whether the budget fired.

vLLM can enforce the same budget in the engine (the request option `thinking_token_budget`, which needs the
`--reasoning-config` that `hermes4.llm.vllm_engine` passes); this is the fallback that works everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from hermes4.chat.messages import Conversation
from hermes4.chat.render import render
from hermes4.llm.types import LLM, Completion, Sampling, prompt_opens_think

THINK_CLOSE = "</think>"  # what length control trains the model to write at its budget


@dataclass
class BudgetedCompletion:
    completion: Completion  # the whole output (reasoning, the appended close string when fired, the answer), parsed
    budget_fired: bool  # the model was still reasoning at the budget, so the close string was appended
    reasoning_budget: int


async def complete_with_budget(llm: LLM, prompt: str, *, sampling: Sampling, budget: int,
                               close: str = THINK_CLOSE) -> BudgetedCompletion:
    """Continue `prompt` (already rendered) with at most `budget` tokens before the answer must start.

    The budget counts generated tokens from the start of the output; `sampling.max_tokens` stays the limit of the
    whole output (the close string is sent as prompt, not counted).
    """
    from hermes4.parse import parse

    if budget < 1:
        raise ValueError(f"reasoning budget must be at least 1 token, got {budget}")
    single = sampling.model_copy(update={"n": 1})
    first = (await llm.complete(prompt, sampling=single.model_copy(update={"max_tokens": min(budget, single.max_tokens)})))[0]
    left = single.max_tokens - first.completion_tokens
    if first.finish_reason != "length" or left <= 0:
        return BudgetedCompletion(first, False, budget)
    opened = prompt_opens_think(prompt)
    thinking = first.parsed.reasoning is not None and first.parsed.truncated and THINK_CLOSE not in first.text
    inserted = close if thinking else ""
    rest = (await llm.complete(prompt + first.text + inserted, sampling=single.model_copy(update={"max_tokens": left})))[0]
    text = first.text + inserted + rest.text
    whole = Completion(text=text, parsed=parse(text, reasoning_started=opened), finish_reason=rest.finish_reason,
                       prompt_tokens=first.prompt_tokens, completion_tokens=first.completion_tokens + rest.completion_tokens,
                       latency_s=first.latency_s + rest.latency_s)
    return BudgetedCompletion(whole, thinking, budget)


async def chat_with_budget(llm: LLM, conversation: Conversation, *, sampling: Sampling, budget: int,
                           format: str = "chatml", close: str = THINK_CLOSE) -> BudgetedCompletion:
    """The next assistant turn of `conversation` in reasoning mode, under a reasoning budget (see above)."""
    prompt = render(conversation, format=format, thinking=True, add_generation_prompt=True).text
    return await complete_with_budget(llm, prompt, sampling=sampling, budget=budget, close=close)
