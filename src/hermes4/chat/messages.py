"""The conversation record that flows through every stage, in the OpenAI chat shape."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Role = Literal["system", "user", "assistant", "tool"]


class ConversationError(ValueError):
    """A conversation that cannot be used; the message says what and where (e.g. `messages[3].role`)."""


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments", mode="before")
    @classmethod
    def _decode_once(cls, value: Any) -> Any:
        # OpenAI sends arguments as a JSON string; datasets often hold the object. Decode exactly once,
        # so a string that itself contains JSON text stays a string inside the object.
        if value is None:
            return {}
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"arguments are not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        if not isinstance(value, dict):
            raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
        return value


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall

    @model_validator(mode="before")
    @classmethod
    def _accept_flat(cls, data: Any) -> Any:
        # Accept the flat {"name": ..., "arguments": ...} shape that Hermes outputs and many datasets use.
        if isinstance(data, dict) and "function" not in data and "name" in data:
            data = {"id": data.get("id"), "function": {"name": data["name"], "arguments": data.get("arguments")}}
        return data

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def arguments(self) -> dict[str, Any]:
        return self.function.arguments


class FunctionSpec(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolSpec(BaseModel):
    """An OpenAI function tool: `{"type": "function", "function": {name, description, parameters}}`."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["function"] = "function"
    function: FunctionSpec

    @model_validator(mode="before")
    @classmethod
    def _accept_bare(cls, data: Any) -> Any:
        if isinstance(data, dict) and "function" not in data and "name" in data:
            data = {"type": "function", "function": data}
        return data

    @property
    def name(self) -> str:
        return self.function.name


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    role: Role
    content: str | None = None
    reasoning_content: str | None = Field(default=None, validation_alias="reasoning_content")
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    # Per-message loss override: True trains this message even where the default would not, False never.
    train: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "reasoning" in data and data.get("reasoning_content") is None:
                data = {**data, "reasoning_content": data["reasoning"]}
            content = data.get("content")
            if isinstance(content, list):  # OpenAI content parts: keep the text parts, in order
                data = {**data, "content": "".join(p.get("text", "") for p in content if isinstance(p, dict))}
        return data

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _empty_calls(cls, value: Any) -> Any:
        return value or None

    def to_openai(self) -> dict[str, Any]:
        """The message as an OpenAI API dict (arguments as a JSON string, reasoning as `reasoning_content`)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.reasoning_content is not None:
            out["reasoning_content"] = self.reasoning_content
        if self.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
                }
                for call in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


class Conversation(BaseModel):
    """`{"messages": [...], "tools": [...], "thinking": bool, "meta": {...}}`: the one record type."""

    model_config = ConfigDict(extra="ignore")

    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    thinking: bool | None = None
    keep_cots: bool | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tools", mode="before")
    @classmethod
    def _no_tools(cls, value: Any) -> Any:
        return value or []

    @model_validator(mode="after")
    def _structure(self) -> Conversation:
        open_calls = False
        for index, message in enumerate(self.messages):
            if message.role == "tool":
                if not open_calls:
                    raise ValueError(f"messages[{index}]: a tool message must follow an assistant message with tool_calls")
            elif message.role == "assistant":
                open_calls = bool(message.tool_calls)
                if message.content is None and not open_calls:
                    # served, rendered or trained, such a turn would teach an empty answer
                    raise ValueError(f"messages[{index}]: an assistant message needs content or tool_calls (both are null)")
            else:
                open_calls = False
            if message.role != "assistant" and (message.tool_calls or message.reasoning_content is not None):
                raise ValueError(f"messages[{index}]: only assistant messages carry tool_calls or reasoning")
        return self

    @classmethod
    def parse(cls, data: Any) -> Conversation:
        """Validate a JSON-shaped object, raising ConversationError that names the field, never a traceback dump."""
        if isinstance(data, list):
            data = {"messages": data}
        if not isinstance(data, dict):
            raise ConversationError(f"a conversation must be a JSON object or a list of messages, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConversationError(describe_validation_error(exc)) from None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"messages": [m.to_openai() for m in self.messages]}
        if self.tools:
            out["tools"] = [t.model_dump(exclude_none=True) for t in self.tools]
        if self.thinking is not None:
            out["thinking"] = self.thinking
        if self.meta:
            out["meta"] = self.meta
        return out


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of a pydantic ValidationError as `path: message`, with list indices as `[i]`."""
    first = exc.errors()[0]
    path = ""
    for part in first["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("function-after[_structure(), Conversation]",):
            continue
        else:
            path += f".{part}" if path else str(part)
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: {message}" if path else message
