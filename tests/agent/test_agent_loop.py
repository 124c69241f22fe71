"""The turn-based tool loop over a scripted model running through the real in-process engine."""

from __future__ import annotations

import asyncio
import json

import pytest

from hermes4.agent import ToolRegistry, tool_loop
from hermes4.chat import render
from hermes4.chat.messages import Conversation, Message
from hermes4.llm import Sampling, ScriptedEngine, ScriptRequest


def call(name: str, **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def ask(text: str) -> Conversation:
    return Conversation(messages=[Message(role="user", content=text)])


def tool_results(request: ScriptRequest) -> list[Message]:
    """The tool messages since the last assistant turn that made calls."""
    messages = request.conversation.messages
    out = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        out.append(message)
    return out[::-1]


def make_registry() -> ToolRegistry:
    registry = ToolRegistry()
    both_running = asyncio.Event()
    running: list[str] = []

    @registry.tool
    async def get_weather(city: str, unit: str = "celsius") -> dict:
        """Current weather for a city.

        Args:
            city: the city name
            unit: celsius or fahrenheit
        """
        running.append(city)
        if len(running) == 2:
            both_running.set()
        # Two calls in one turn must overlap: each waits until the other has started.
        await asyncio.wait_for(both_running.wait(), timeout=5)
        return {"city": city, "temperature": 21 if city == "Paris" else 15, "unit": unit}

    @registry.tool
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    return registry


async def test_parallel_async_calls_then_an_answer():
    prompts: list[str] = []

    def model(request: ScriptRequest) -> str:
        prompts.append(request.prompt)
        results = tool_results(request)
        if not results:
            return "Let me check both." + "\n" + call("get_weather", city="Paris") + "\n" + call("get_weather", city="Oslo")
        temps = [json.loads(m.content)["temperature"] for m in results]
        return f"Paris is {temps[0]}°C and Oslo is {temps[1]}°C."

    result = await tool_loop(ScriptedEngine(model), ask("Weather in Paris and Oslo?"), make_registry())
    assert result.finish == "answer" and result.turns == 2
    assert result.answer == "Paris is 21°C and Oslo is 15°C."
    first, tool_a, tool_b, _final = result.messages
    assert first.content == "Let me check both." and [c.name for c in first.tool_calls] == ["get_weather", "get_weather"]
    ids = [c.id for c in first.tool_calls]
    assert len(set(ids)) == 2 and [tool_a.tool_call_id, tool_b.tool_call_id] == ids
    assert (tool_a.name, json.loads(tool_a.content)["city"]) == ("get_weather", "Paris")
    assert [e.name for e in result.exchanges] == ["get_weather", "get_weather"] and all(e.error is None for e in result.exchanges)
    # the model saw the registry's tools in the system prompt and the results in a tool turn
    assert '"name": "get_weather"' in prompts[0] and "the city name" in prompts[0]
    assert f"<tool_response>\n{tool_a.content}\n</tool_response>\n<tool_response>\n{tool_b.content}\n</tool_response>" in prompts[1]
    assert result.conversation.messages[0].content == "Weather in Paris and Oslo?"
    assert [t.name for t in result.conversation.tools] == ["get_weather", "divide"]
    assert len(result.completions) == 2 and result.completion_tokens > 0
    # the record round-trips through the JSON shape every other stage reads
    assert Conversation.parse(result.conversation.to_json()).to_json() == result.conversation.to_json()


async def test_tool_exception_unknown_tool_and_schema_violation_are_fed_back():
    seen: list[str] = []

    def model(request: ScriptRequest) -> str:
        results = tool_results(request)
        if not results:
            return "\n".join([call("divide", a=1, b=0), call("multiply", a=2, b=3), call("divide", a="one", b=2)])
        seen.extend(m.content for m in results)
        return "I could not compute it."

    result = await tool_loop(ScriptedEngine(model), ask("1/0?"), make_registry())
    assert result.finish == "answer"
    errors = [json.loads(text)["error"] for text in seen]
    assert errors == [
        "divide raised ZeroDivisionError: float division by zero",
        "unknown tool 'multiply'; available tools: get_weather, divide",
        "invalid arguments for divide: $.a: 'one' is not of type 'number'",
    ]
    assert [e.error is not None for e in result.exchanges] == [True, True, True]


async def test_the_model_can_correct_its_arguments_after_a_schema_error():
    def model(request: ScriptRequest) -> str:
        results = tool_results(request)
        if not results:
            return call("divide", a=6)  # b is missing
        if results[0].content.startswith('{"error"'):
            return call("divide", a=6, b=3)
        return f"The answer is {results[0].content}."

    result = await tool_loop(ScriptedEngine(model), ask("6/3?"), make_registry())
    assert result.answer == "The answer is 2.0."
    assert [e.error for e in result.exchanges] == ["invalid arguments for divide: $: 'b' is a required property", None]
    assert result.turns == 3


async def test_max_turns_stops_a_model_that_never_answers():
    def model(request: ScriptRequest) -> str:
        return call("divide", a=len(request.conversation.messages), b=1)

    result = await tool_loop(ScriptedEngine(model), ask("loop"), make_registry(), max_turns=3)
    assert result.finish == "max_turns" and result.turns == 3
    assert [m.role for m in result.messages] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert result.messages[-1].tool_calls  # the last turn's call is recorded, not run
    assert len(result.exchanges) == 2


async def test_a_turn_cut_by_max_tokens_ends_the_loop():
    def model(request: ScriptRequest) -> str:
        return "word " * 100

    result = await tool_loop(ScriptedEngine(model), ask("talk"), make_registry(), sampling=Sampling(max_tokens=10))
    assert result.finish == "length" and result.turns == 1


async def test_thinking_turns_keep_their_reasoning_and_sync_tools_do_not_overlap():
    active = 0
    overlaps: list[int] = []
    registry = ToolRegistry()

    @registry.tool
    def slow_count(n: int) -> int:
        nonlocal active
        active += 1
        overlaps.append(active)
        import time

        time.sleep(0.05)
        active -= 1
        return n

    def model(request: ScriptRequest) -> str:
        assert request.thinking
        if not tool_results(request):
            return "<think>\nI will count twice.\n</think>\n" + call("slow_count", n=1) + call("slow_count", n=2)
        return "<think>\nDone.\n</think>\nCounted."

    conversation = ask("count").model_copy(update={"thinking": True})
    result = await tool_loop(ScriptedEngine(model), conversation, registry)
    assert result.messages[0].reasoning_content == "I will count twice."
    assert result.answer == "Counted." and result.final_message.reasoning_content == "Done."
    assert overlaps == [1, 1]
    # the record renders back to what the model wrote on its last turn
    rendered = render(result.conversation, thinking=True).text
    assert rendered.endswith("<|im_start|>assistant\n<think>\nDone.\n</think>\nCounted.<|im_end|>\n")


async def test_unreadable_call_is_reported_as_such():
    def model(request: ScriptRequest) -> str:
        return "<tool_call>\nnot json at all\n</tool_call>"

    result = await tool_loop(ScriptedEngine(model), ask("x"), make_registry())
    assert result.finish == "unreadable_tool_call"
    assert result.completions[0].parsed.issues


async def test_bad_max_turns_is_refused():
    with pytest.raises(ValueError, match="max_turns"):
        await tool_loop(ScriptedEngine(lambda r: "x"), ask("x"), make_registry(), max_turns=0)
