"""Ready-made scripted models for demos and tests, e.g. `hermes4 serve --scripted hermes4.llm.scripts:echo`."""

from __future__ import annotations

import json
from typing import Any

from hermes4.llm.types import ScriptRequest


def _last_user_text(request: ScriptRequest) -> str:
    if request.conversation is None:
        return request.prompt.rsplit("\n", 1)[-1]
    for message in reversed(request.conversation.messages):
        if message.role == "user":
            return message.content or ""
    return ""


def _example_value(schema: dict[str, Any], text: str) -> Any:
    kind = schema.get("type")
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "integer":
        return len(text.split())
    if kind == "number":
        return float(len(text.split()))
    if kind == "boolean":
        return True
    if kind == "array":
        return [_example_value(schema.get("items") or {"type": "string"}, text)]
    if kind == "object":
        return {}
    return text


def echo(request: ScriptRequest) -> str:
    """Answers `You said: <last user message>`; thinks first when thinking is on."""
    text = _last_user_text(request)
    answer = f"You said: {text}"
    if request.thinking:
        return f"<think>\nThe user wrote {len(text.split())} words. I will repeat them.\n</think>\n{answer}"
    return answer


def tool_user(request: ScriptRequest) -> str:
    """Calls the first tool (arguments filled from its schema) when the last turn is the user's; otherwise sums up the tool results."""
    conversation = request.conversation
    if conversation is None or not conversation.tools:
        return echo(request)
    last = conversation.messages[-1]
    if last.role == "tool":
        results = [m.content or "" for m in conversation.messages if m.role == "tool"]
        answer = "The tool said: " + " | ".join(results)
    else:
        function = conversation.tools[0].function
        properties = (function.parameters or {}).get("properties") or {}
        arguments = {name: _example_value(schema, _last_user_text(request)) for name, schema in properties.items()}
        answer = f"<tool_call>\n{json.dumps({'name': function.name, 'arguments': arguments}, ensure_ascii=False)}\n</tool_call>"
    if request.thinking:
        return f"<think>\nI have the tools; deciding what to do next.\n</think>\n{answer}"
    return answer
