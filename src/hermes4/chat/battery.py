"""A fixed battery of conversations that exercises every rule of the format (used by `template diff` and demos)."""

from __future__ import annotations

from dataclasses import dataclass

from hermes4.chat.messages import Conversation

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@dataclass(frozen=True)
class Case:
    """One battery entry: a conversation and the flags to render it with."""

    name: str
    conversation: Conversation
    thinking: bool = False
    keep_cots: bool = False
    add_generation_prompt: bool = False


def _conv(messages: list[dict], tools: list[dict] | None = None) -> Conversation:
    return Conversation.parse({"messages": messages, "tools": tools or []})


_PLAIN = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]
_MULTI = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "reasoning_content": "Two plus two is four.", "content": "4"},
    {"role": "user", "content": "And times 3?"},
    {"role": "assistant", "reasoning_content": "4 * 3 = 12.", "content": "12"},
]
_TOOLS = [
    {"role": "user", "content": "Weather and time in Paris?"},
    {
        "role": "assistant",
        "reasoning_content": "I need both tools.",
        "content": "Let me check both.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "c"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": {"city": "Paris"}}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 18, "sky": "clear"}'},
    {"role": "tool", "tool_call_id": "call_2", "content": "14:05"},
    {"role": "assistant", "reasoning_content": "Both answered.", "content": "It is 18 °C and clear; the time is 14:05."},
]
_NO_REASONING = [
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Count to three."},
    {"role": "assistant", "reasoning_content": "Simple.", "content": "1, 2, 3."},
]

BATTERY: tuple[Case, ...] = (
    Case("plain chat", _conv(_PLAIN)),
    Case("default system", _conv(_PLAIN[1:])),
    Case("generation prompt", _conv(_PLAIN[:2]), add_generation_prompt=True),
    Case("thinking, caller system", _conv(_PLAIN), thinking=True),
    Case("thinking, no system", _conv(_PLAIN[1:]), thinking=True),
    Case("multi-turn, keep_cots off", _conv(_MULTI), thinking=True),
    Case("multi-turn, keep_cots on", _conv(_MULTI), thinking=True, keep_cots=True),
    Case("multi-turn, thinking off", _conv(_MULTI)),
    Case("tools, calls and consecutive results", _conv(_TOOLS, [WEATHER_TOOL, TIME_TOOL])),
    Case("tools with thinking", _conv(_TOOLS, [WEATHER_TOOL, TIME_TOOL]), thinking=True),
    Case("tools, generation prompt", _conv(_TOOLS[:1], [WEATHER_TOOL]), add_generation_prompt=True),
    Case("earlier turn without reasoning", _conv(_NO_REASONING), thinking=True, keep_cots=True),
)
