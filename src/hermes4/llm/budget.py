"""A reasoning budget at serving time, and `BudgetedLLM`, the model source that applies it to every reasoning-mode
call (what `hermes4 eval --reasoning-budget` wraps around its model). Each completion says whether the budget fired.

Two ways to enforce it:
- `client` (any model source: any OpenAI-compatible endpoint, the local engines): generate up to the budget; if the
  model is still inside `<think>`, append the close string the length-control stage trained (`</think>`) and let it
  continue to its answer.
- `engine` (a vLLM endpoint): vLLM's own request option `thinking_token_budget` (it needs the `--reasoning-config`
  that `hermes4.llm.vllm_engine` passes). vLLM 0.32 does not say whether it forced the close, so the request also
  asks for `return_token_ids` and `engine_budget_fired` derives it from the ids, counting as vLLM's
  `ThinkingBudgetStateHolder` counts: the reasoning tokens after the last `<think>` (those in the prompt included)
  up to the first `</think>`; the budget fired when that count reached the budget. The one case the ids cannot tell
  apart is a model that closes by itself on exactly the budget's token: it is reported as fired (vLLM would have
  forced the close there anyway).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Literal

from hermes4.chat.messages import Conversation
from hermes4.chat.render import render
from hermes4.llm.types import LLM, Completion, LLMError, LLMStats, Sampling, prompt_opens_think

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"  # what length control trains the model to write at its budget
BudgetMode = Literal["client", "engine"]


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
        return BudgetedCompletion(replace(first, budget_fired=False), False, budget)
    opened = prompt_opens_think(prompt)
    thinking = first.parsed.reasoning is not None and first.parsed.truncated and THINK_CLOSE not in first.text
    inserted = close if thinking else ""
    rest = (await llm.complete(prompt + first.text + inserted, sampling=single.model_copy(update={"max_tokens": left})))[0]
    text = first.text + inserted + rest.text
    whole = Completion(text=text, parsed=parse(text, reasoning_started=opened), finish_reason=rest.finish_reason,
                       prompt_tokens=first.prompt_tokens, completion_tokens=first.completion_tokens + rest.completion_tokens,
                       latency_s=first.latency_s + rest.latency_s, budget_fired=thinking)
    return BudgetedCompletion(whole, thinking, budget)


async def chat_with_budget(llm: LLM, conversation: Conversation, *, sampling: Sampling, budget: int,
                           format: str = "chatml", close: str = THINK_CLOSE) -> BudgetedCompletion:
    """The next assistant turn of `conversation` in reasoning mode, under a reasoning budget (see above)."""
    prompt = render(conversation, format=format, thinking=True, add_generation_prompt=True).text
    return await complete_with_budget(llm, prompt, sampling=sampling, budget=budget, close=close)


def engine_budget_fired(prompt_ids: list[int], output_ids: list[int], *, open_ids: list[int], close_ids: list[int],
                        budget: int) -> bool:
    """Whether vLLM's `thinking_token_budget` cut this output's reasoning short (see the module's note): the
    reasoning's token count, from after the last `<think>` before the output's first close, reached the budget."""
    if not open_ids or not close_ids:
        raise ValueError("engine_budget_fired: the <think> and </think> token ids are needed")
    tokens = prompt_ids + output_ids
    close_at = _find(tokens, close_ids, start=len(prompt_ids))
    end = close_at if close_at >= 0 else len(tokens)
    open_at = _find_last(tokens[:end], open_ids)
    if open_at < 0 or _find(tokens[:end], close_ids, start=open_at) >= 0:
        return False  # no reasoning open when the output closed (or ended): nothing for a budget to cut
    return end - (open_at + len(open_ids)) >= budget


def _find(tokens: list[int], needle: list[int], *, start: int = 0) -> int:
    for i in range(start, len(tokens) - len(needle) + 1):
        if tokens[i:i + len(needle)] == needle:
            return i
    return -1


def _find_last(tokens: list[int], needle: list[int]) -> int:
    for i in range(len(tokens) - len(needle), -1, -1):
        if tokens[i:i + len(needle)] == needle:
            return i
    return -1


def check_budget_source(llm: Any, mode: str) -> None:
    """Refuse a budget mode the model source cannot serve (ValueError): the engine mode needs an HTTP endpoint."""
    from hermes4.llm.client import OpenAIClient

    if mode not in ("client", "engine"):
        raise ValueError(f"budget mode: expected client or engine, got {mode!r}")
    if mode == "engine" and not isinstance(llm, OpenAIClient):
        raise ValueError("budget mode engine: needs an http(s) endpoint served by vLLM; use client for others")


class BudgetedLLM:
    """A model source with a reasoning budget on every reasoning-mode call: `chat(..., thinking=True)` and raw
    prompts that open `<think>` go through the budget (rendered with `format`, then completed), everything else
    goes to the wrapped source unchanged. `mode="engine"` needs an `OpenAIClient` on a vLLM endpoint.

    Every other attribute (`model`, `balancer`, `models()`) is the wrapped source's, so a caller sees the same model.
    """

    def __init__(self, llm: LLM, budget: int, *, mode: BudgetMode = "client", format: str = "chatml",
                 close: str = THINK_CLOSE) -> None:
        if budget < 1:
            raise ValueError(f"reasoning budget must be at least 1 token, got {budget}")
        check_budget_source(llm, mode)
        self.llm = llm
        self.budget = budget
        self.mode = mode
        self.format = format
        self.close = close
        self._markers: tuple[list[int], list[int]] | None = None
        self._markers_lock: asyncio.Lock | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "llm":  # not set yet (during __init__): no recursion through the delegation below
            raise AttributeError(name)
        return getattr(self.llm, name)

    async def chat(self, conversation: Conversation, *, sampling: Sampling, thinking: bool = False) -> list[Completion]:
        if not (thinking or conversation.thinking):
            return await self.llm.chat(conversation, sampling=sampling, thinking=thinking)
        prompt = render(conversation, format=self.format, thinking=True, add_generation_prompt=True).text
        return await self._budgeted(prompt, sampling)

    async def complete(self, prompt: str, *, sampling: Sampling) -> list[Completion]:
        if not prompt_opens_think(prompt):
            return await self.llm.complete(prompt, sampling=sampling)
        return await self._budgeted(prompt, sampling)

    def stats(self) -> LLMStats:
        return self.llm.stats()

    async def aclose(self) -> None:
        """Nothing of its own to close: the wrapped source stays its owner's."""

    async def _budgeted(self, prompt: str, sampling: Sampling) -> list[Completion]:
        if self.mode == "engine":
            return await self._engine_budget(prompt, sampling)

        def one(index: int) -> Sampling:  # one budgeted continuation per sample; seeds kept apart as n would
            return sampling.model_copy(update={"n": 1, "seed": None if sampling.seed is None else sampling.seed + index})

        results = await asyncio.gather(*(complete_with_budget(self.llm, prompt, sampling=one(i), budget=self.budget,
                                                              close=self.close) for i in range(sampling.n)))
        return [result.completion for result in results]

    async def _engine_budget(self, prompt: str, sampling: Sampling) -> list[Completion]:
        open_ids, close_ids = await self._marker_ids()
        completions = await self.llm.complete(prompt, sampling=sampling, extra_body={  # type: ignore[call-arg]
            "thinking_token_budget": self.budget, "return_token_ids": True})
        out = []
        for completion in completions:
            if completion.prompt_token_ids is None or completion.token_ids is None:
                raise LLMError("budget mode engine: the endpoint returned no token ids (is it vLLM?)")
            fired = engine_budget_fired(completion.prompt_token_ids, completion.token_ids, open_ids=open_ids,
                                        close_ids=close_ids, budget=self.budget)
            out.append(replace(completion, budget_fired=fired))
        return out

    async def _marker_ids(self) -> tuple[list[int], list[int]]:
        """The token ids of `<think>` and `</think>`, asked once from the endpoint's `/tokenize` (vLLM's own
        tokenizer, the one its reasoning config encoded them with)."""
        if self._markers_lock is None:
            self._markers_lock = asyncio.Lock()
        async with self._markers_lock:  # the first reasoning calls arrive together: one of them asks
            if self._markers is None:
                self._markers = (await self._tokenize(THINK_OPEN), await self._tokenize(self.close))
        return self._markers

    async def _tokenize(self, text: str) -> list[int]:
        import httpx

        client: Any = self.llm
        endpoint = client.balancer.endpoints[0].url
        base = endpoint[: -len("/v1")] if endpoint.endswith("/v1") else endpoint
        headers = {"Authorization": f"Bearer {client.api_key}"} if client.api_key else {}
        async with httpx.AsyncClient(timeout=30.0, trust_env=False, headers=headers) as http:
            try:
                response = await http.post(f"{base}/tokenize", json={"model": await client._model_name(),
                                                                     "prompt": text, "add_special_tokens": False})
                response.raise_for_status()
                return [int(t) for t in response.json()["tokens"]]
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                raise LLMError(f"budget mode engine: {base}/tokenize failed ({type(exc).__name__}: {exc}); "
                               "the engine budget needs a vLLM endpoint") from None
