"""vLLM's engine-side reasoning budget driven by hermes4 (`BudgetedLLM(mode="engine")`): the request carries
`thinking_token_budget` and `return_token_ids`, and each completion's `budget_fired` is derived from the token ids
(vLLM 0.32 does not report it). Runs on the session's one vLLM server (tests/vllm/conftest.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

PROMPT_IN_THINK = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\n"


async def test_engine_budget_fires_and_says_so(vllm_server) -> None:
    from hermes4.llm import OpenAIClient, Sampling
    from hermes4.llm.budget import BudgetedLLM

    sampling = Sampling(max_tokens=30, temperature=0)
    async with OpenAIClient(vllm_server.url, model="tiny", extra_body={"ignore_eos": True, "skip_special_tokens": False}) as client:
        tight = BudgetedLLM(client, 4, mode="engine")
        loose = BudgetedLLM(client, 1000, mode="engine")
        try:
            (cut,) = await tight.complete(PROMPT_IN_THINK, sampling=sampling)
            (free,) = await loose.complete(PROMPT_IN_THINK, sampling=sampling)
            (plain,) = await client.complete(PROMPT_IN_THINK, sampling=sampling)
            open_ids, close_ids = await tight._marker_ids()
        finally:
            await tight.aclose()
            await loose.aclose()
    # The engine forced the close after 4 reasoning tokens (the prompt's token after <think> counts): fired.
    assert cut.budget_fired is True and "</think>" in cut.text
    assert cut.token_ids is not None and cut.prompt_token_ids is not None
    close_at = next(i for i in range(len(cut.token_ids)) if cut.token_ids[i:i + len(close_ids)] == close_ids)
    opened = max(i for i in range(len(cut.prompt_token_ids)) if cut.prompt_token_ids[i:i + len(open_ids)] == open_ids)
    assert len(cut.prompt_token_ids) - (opened + len(open_ids)) + close_at == 4
    assert cut.parsed.reasoning is not None and cut.parsed.content  # the model went on to an answer after the close
    # A budget past max_tokens never fires; the output is the model's own, as without any budget.
    assert free.budget_fired is False and free.text == plain.text and plain.budget_fired is None
