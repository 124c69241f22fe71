"""The system-prompt texts of the Hermes format: deep thinking, default identity, tools block, JSON mode."""

from __future__ import annotations

import json
from typing import Any

from hermes4.chat.messages import ToolSpec

# Verbatim from the Hermes 4 model card (seeds/002, "Reasoning mode").
DEEP_THINKING_PROMPT = (
    "You are a deep thinking AI, you may use extremely long chains of thought to deeply consider the problem "
    "and deliberate with yourself via systematic reasoning processes to help come to a correct solution prior "
    "to answering. You should enclose your thoughts and internal monologue inside <think> </think> tags, and "
    "then provide your solution or response to the problem."
)

DEFAULT_SYSTEM_PROMPT = "You are Hermes, created by Nous Research."

# The tools block follows the model card's example system message: a short instruction, the specs inside
# <tools></tools> one JSON object per line, and the exact shape of a call. Every line of the list parses as JSON.
TOOLS_PREAMBLE = (
    "You are a function-calling AI. Tools are provided inside <tools></tools> XML tags, "
    "one JSON function signature per line:"
)
TOOLS_CALL_INSTRUCTIONS = (
    "When appropriate, call a tool by emitting a JSON object with the function name and arguments "
    "inside <tool_call></tool_call> tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-dict>}\n'
    "</tool_call>\n"
    "Tool results come back inside <tool_response></tool_response> tags; use them to continue and "
    "produce the final answer."
)


def tool_spec_json(tool: ToolSpec) -> str:
    """One tool as the JSON line of the tools block (the same dict `Conversation.to_json()` writes)."""
    return json.dumps(tool.model_dump(exclude_none=True), ensure_ascii=False)


def tools_system_prompt(tools: list[ToolSpec]) -> str:
    """The tools block of the system message: preamble, `<tools>` with one spec per line, how to call."""
    lines = "\n".join(tool_spec_json(t) for t in tools)
    return f"{TOOLS_PREAMBLE}\n<tools>\n{lines}\n</tools>\n{TOOLS_CALL_INSTRUCTIONS}"


def json_mode_system_prompt(schema: Any) -> str:
    """The JSON-mode system prompt: answer with one JSON object that follows `schema` (a dict or a pydantic model).

    The schema sits inside `<schema></schema>` as indented JSON, as in the Hermes function-calling datasets.
    """
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        schema = schema.model_json_schema()
    elif hasattr(schema, "model_json_schema"):
        schema = type(schema).model_json_schema()
    if not isinstance(schema, dict):
        raise TypeError(f"json_mode_system_prompt needs a JSON schema dict or a pydantic model, got {type(schema).__name__}")
    return (
        "You are a helpful assistant that answers in JSON. "
        "Here's the json schema you must adhere to:\n"
        f"<schema>\n{json.dumps(schema, indent=2, ensure_ascii=False)}\n</schema>"
    )
