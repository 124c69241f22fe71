"""What a request says its answer must be (`tool_choice`, `response_format`): reading the fields, checking an answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from hermes4.llm.types import Completion


class RuleError(ValueError):
    """A `tool_choice` / `response_format` the server cannot accept; `param` names the field (a 400)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class AnswerRules:
    """The shape an answer must have. `tool_choice`: auto, none (calls stay text), required, or a named function."""

    tool_choice: Literal["auto", "none", "required", "function"] = "auto"
    function: str | None = None  # the forced function's name, with tool_choice "function"
    json_mode: bool = False  # response_format json_object / json_schema
    schema: dict[str, Any] | None = None  # json_schema's schema (json_object: any object)

    @classmethod
    def read(cls, tool_choice: Any, tools: list[Any] | None, response_format: Any) -> AnswerRules:
        """The rules of one request, or RuleError for what vLLM refuses too (its messages, `param` set)."""
        names = [str((t.get("function") or {}).get("name")) for t in tools or [] if isinstance(t, dict)]
        choice: Literal["auto", "none", "required", "function"] = "auto"
        function = None
        if tool_choice is not None:
            if tool_choice in ("auto", "none", "required"):
                choice = tool_choice
            elif (
                isinstance(tool_choice, dict)
                and tool_choice.get("type") == "function"
                and isinstance(tool_choice.get("function"), dict)
                and isinstance(tool_choice["function"].get("name"), str)
            ):
                choice, function = "function", tool_choice["function"]["name"]
            else:
                raise RuleError(
                    'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": NAME}}', "tool_choice"
                )
            if choice != "none" and not tools:
                raise RuleError("When using `tool_choice`, `tools` must be set.", "tool_choice")
            if function is not None and function not in names:
                raise RuleError(f"Tool '{function}' has not been passed in `tools`.", "tool_choice")
        json_mode, schema = False, None
        if response_format is not None:
            kind = response_format.get("type") if isinstance(response_format, dict) else None
            if kind == "json_object":
                json_mode = True
            elif kind == "json_schema":
                spec = response_format.get("json_schema")
                schema = spec.get("schema") if isinstance(spec, dict) else None
                if not isinstance(schema, dict):
                    raise RuleError("response_format json_schema needs json_schema.schema (a JSON schema object)", "response_format")
                json_mode = True
            elif kind != "text":
                raise RuleError(f"response_format type {kind!r} is not supported: use text, json_object or json_schema", "response_format")
        return cls(tool_choice=choice, function=function, json_mode=json_mode, schema=schema)

    @property
    def parse_tools(self) -> bool:
        return self.tool_choice != "none"

    @property
    def checked(self) -> bool:
        """True when an answer must be checked (and maybe retried) before it is sent."""
        return self.tool_choice in ("required", "function") or self.json_mode

    def prefill(self) -> str:
        """The start that forces a call, for engines that can prefill the answer."""
        if self.tool_choice == "function":
            return f'<tool_call>\n{{"name": {json.dumps(self.function)}, "arguments": '
        if self.tool_choice == "required":
            return "<tool_call>\n"
        return ""

    def call_schema(self, tools: list[Any] | None) -> dict[str, Any] | None:
        """The JSON schema of the call a forced tool_choice allows (`{"name", "arguments"}`), for constrained decoding."""
        if self.tool_choice not in ("required", "function"):
            return None
        options = []
        for tool in tools or []:
            function = tool.get("function") or {} if isinstance(tool, dict) else {}
            name = function.get("name")
            if self.tool_choice == "function" and name != self.function:
                continue
            parameters = function.get("parameters") or {"type": "object"}
            options.append(
                {
                    "type": "object",
                    "properties": {"name": {"enum": [name]}, "arguments": parameters},
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
            )
        if not options:
            return None
        return options[0] if len(options) == 1 else {"anyOf": options}

    def system_text(self) -> str | None:
        """What the system message gains for json mode: the Hermes JSON-mode prompt with the schema."""
        if not self.json_mode:
            return None
        from hermes4.chat import json_mode_system_prompt

        return json_mode_system_prompt(self.schema if self.schema is not None else {"type": "object"})

    def problem(self, completion: Completion) -> str | None:
        """What the answer breaks, in words a retry instruction can use; None when it conforms."""
        calls = completion.parsed.tool_calls
        if self.tool_choice == "required" and not calls:
            return "you must call one of the tools"
        if self.tool_choice == "function" and not any(c.name == self.function for c in calls):
            return f"you must call the function {self.function}"
        if self.json_mode:
            value = self.json_value(completion)
            if isinstance(value, str):
                return value
        return None

    def json_value(self, completion: Completion) -> Any:
        """The answer's JSON value (repaired if needed), or a string saying why there is none."""
        from hermes4.parse.jsontools import JsonExtractionError, extract_json, validate

        try:
            value = extract_json(completion.parsed.content).value
        except JsonExtractionError as exc:
            return f"answer with JSON only: {exc}"
        if self.schema is None:
            return value if isinstance(value, dict) else "answer with one JSON object"
        errors = validate(value, self.schema)
        if errors:
            return "the JSON must follow the schema: " + "; ".join(str(e) for e in errors[:5])
        return value

    def retry_text(self, problem: str) -> str:
        return f"Your previous answer did not follow the required format: {problem}. Answer again, following it exactly."


def with_system_text(messages: list[Any], text: str) -> list[Any]:
    """The messages with `text` added to the system message (a new one first when there is none)."""
    if messages and isinstance(messages[0], dict) and messages[0].get("role") in ("system", "developer"):
        first = dict(messages[0])
        content = first.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        first["content"] = f"{content}\n\n{text}" if content else text
        return [first, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]
