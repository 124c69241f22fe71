"""A real vLLM server (CPU build, engine venv) on an exported tiny checkpoint, started once by `hermes4 serve
--engine vllm`, driven with the official `openai` client: chat with tools and thinking, parsed by hermes4's plugins.

A tiny random model writes noise, so parser cases are made deterministic with vLLM's structured outputs: a
`choice` of exactly one text forces the model to write that text, token by token, through the real engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import openai
import pytest

from hermes4.parse import parse

sys.path.insert(0, str(Path(__file__).parent))
from test_vllm_plugins import accumulate, expected_message  # noqa: E402

pytestmark = pytest.mark.slow

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
FORCED = {
    "think, content and a call": '<think>\nThe user wants weather.\n</think>\nLet me look.\n<tool_call>\n'
                                 '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    "</tool_call> inside a string": '<tool_call>{"name": "get_weather", "arguments": {"city": "a </tool_call> b"}}</tool_call>',
    "two calls, text between": 'First.\n<tool_call>{"name": "get_weather", "arguments": {"city": "A"}}</tool_call>\n'
                               'Then.\n<tool_call>{"name": "get_weather", "arguments": {"city": "B"}}</tool_call>',
    "unreadable call stays in content": "Hi <tool_call>get_weather(city='Paris')</tool_call> bye",
    "reasoning only, plain answer": "<think>\nshort\n</think>\nIt is sunny.",
    "call inside think is reasoning": '<think>\nmaybe <tool_call>{"name": "get_weather", "arguments": {}}</tool_call>\n</think>\nNo call.',
}


def _client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=300)


def _batch_and_stream(client: openai.OpenAI, **request) -> tuple[dict, dict, str]:
    response = client.chat.completions.create(model="tiny", stream=False, **request)
    message = response.choices[0].message
    batch = {"reasoning": getattr(message, "reasoning", None) or "", "content": message.content or "",
             "tool_calls": [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                            for c in message.tool_calls or []]}
    deltas = []
    for chunk in client.chat.completions.create(model="tiny", stream=True, **request):
        if chunk.choices:
            deltas.append(chunk.choices[0].delta.model_dump(exclude_none=True))
    return batch, accumulate(deltas), response.choices[0].finish_reason


@pytest.mark.parametrize("case", list(FORCED), ids=list(FORCED))
def test_forced_outputs_are_parsed_by_the_plugins_stream_equal_to_batch(vllm_server, case: str) -> None:
    # Not in reasoning mode: vLLM applies structured outputs after the reasoning, and in reasoning mode the
    # (random) model would have to close <think> first; here the forced text itself holds any think block.
    text = FORCED[case]
    batch, streamed, finish = _batch_and_stream(
        _client(vllm_server), messages=MESSAGES, tools=TOOLS, max_tokens=400, temperature=0,
        extra_body={"structured_outputs": {"choice": [text]}})
    assert finish in ("stop", "tool_calls")
    assert batch == expected_message(text, False)
    assert streamed == batch


def test_exported_checkpoint_chat_with_tools_and_thinking(vllm_server) -> None:
    """The answer a tool-using, thinking model gives, through the official client: reasoning split off, the call's
    arguments as a JSON string the client decodes, finish_reason tool_calls; then the tool result goes back."""
    client = _client(vllm_server)
    text = FORCED["think, content and a call"]
    response = client.chat.completions.create(
        model="tiny", messages=MESSAGES, tools=TOOLS, max_tokens=400, temperature=0,
        extra_body={"structured_outputs": {"choice": [text]}})
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.reasoning == "The user wants weather."
    assert choice.message.content == "Let me look."
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id == parse(text).tool_calls[0].id
    follow = MESSAGES + [choice.message.model_dump(exclude_none=True),
                         {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    answer = client.chat.completions.create(model="tiny", messages=follow, tools=TOOLS, max_tokens=8, temperature=0,
                                            extra_body={"chat_template_kwargs": {"thinking": True}})
    assert answer.usage.prompt_tokens > response.usage.prompt_tokens
    assert answer.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_free_generation_streams_equal_batch(vllm_server) -> None:
    """The model's own (random) output at temperature 0, with thinking and tools on: whatever it writes, the
    streamed message equals the non-streamed one."""
    for seed in (1, 2):
        batch, streamed, _ = _batch_and_stream(
            _client(vllm_server), messages=MESSAGES, tools=TOOLS, max_tokens=120, temperature=0, seed=seed,
            extra_body={"chat_template_kwargs": {"thinking": True}, "skip_special_tokens": False})
        assert streamed == batch


def test_engine_log_is_kept(vllm_server) -> None:
    log = Path(vllm_server.log).read_text()
    assert "vllm.entrypoints.openai.api_server" in log and "--tool-call-parser hermes4" in log


PROMPT_IN_THINK = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\n"


def test_vllm_thinking_token_budget_closes_the_reasoning(vllm_server) -> None:
    """vLLM's own budget (`thinking_token_budget`) works with the launcher's --reasoning-config: after 4 tokens of
    reasoning the engine writes `</think>`, whatever the (random) model wanted."""
    client = _client(vllm_server)
    response = client.completions.create(model="tiny", prompt=PROMPT_IN_THINK, max_tokens=40, temperature=0,
                                         extra_body={"thinking_token_budget": 4, "ignore_eos": True,
                                                     "skip_special_tokens": False})
    text = response.choices[0].text
    assert "</think>" in text
    before = text.split("</think>")[0]
    budgeted = client.completions.create(model="tiny", prompt=PROMPT_IN_THINK, max_tokens=4, temperature=0,
                                         extra_body={"ignore_eos": True, "skip_special_tokens": False})
    # the reasoning before the forced close is the model's own first tokens (the budget counts the prompt's
    # tokens after <think> too, so it may be shorter than 4)
    assert before and budgeted.choices[0].text.startswith(before)


async def test_client_budget_fallback_on_vllm(vllm_server) -> None:
    """hermes4's client-side budget on the vLLM endpoint: 6 tokens of the model's reasoning, the trained close
    string, then the model continues; the result says the budget fired."""
    from hermes4.llm import OpenAIClient, Sampling
    from hermes4.llm.budget import complete_with_budget

    async with OpenAIClient(vllm_server.url, model="tiny", extra_body={"ignore_eos": True}) as client:
        result = await complete_with_budget(client, PROMPT_IN_THINK, sampling=Sampling(max_tokens=30, temperature=0),
                                            budget=6)
        first = (await client.complete(PROMPT_IN_THINK, sampling=Sampling(max_tokens=6, temperature=0)))[0]
    completion = result.completion
    assert "</think>" not in first.text  # the model itself did not close its reasoning within the budget
    assert result.budget_fired
    assert completion.text.startswith(first.text + "</think>")
    assert completion.parsed.reasoning is not None and not completion.parsed.reasoning.endswith("</think>")
    assert completion.completion_tokens == 30
