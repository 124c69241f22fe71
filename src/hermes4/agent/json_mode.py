"""JSON mode: ask for one JSON value that follows a schema, and feed every problem back to the model for N retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from hermes4.chat import json_mode_system_prompt
from hermes4.chat.messages import Conversation, Message
from hermes4.llm import LLM, Completion, Sampling
from hermes4.parse.jsontools import (
    JsonExtractionError,
    extract_json,
    json_path,
    schema_of,
    validate,
)


@dataclass
class JsonModeResult:
    ok: bool
    value: Any  # the JSON value that passed; None when no attempt did
    errors: list[str]  # what was wrong with the last attempt (`$.path: message`); empty when ok
    attempts: int
    conversation: Conversation  # the JSON-mode prompt, every attempt and every correction request
    completions: list[Completion]
    instance: BaseModel | None = None  # the validated model when the schema was a pydantic model class


def _with_json_prompt(conversation: Conversation, prompt: str) -> Conversation:
    copy = conversation.model_copy(deep=True)
    if copy.messages and copy.messages[0].role == "system":
        first = copy.messages[0]
        first.content = f"{first.content}\n\n{prompt}" if first.content else prompt
    else:
        copy.messages.insert(0, Message(role="system", content=prompt))
    return copy


def _problems(completion: Completion, schema: dict[str, Any] | bool, model: type[BaseModel] | None) -> tuple[Any, list[str], BaseModel | None]:
    if completion.finish_reason == "length":
        return None, ["$: the answer was cut off by the token limit before the JSON was complete"], None
    try:
        found = extract_json(completion.parsed.content)
    except JsonExtractionError as exc:
        return None, [f"$: {exc}"], None
    errors = [str(error) for error in validate(found.value, schema)]
    if errors or model is None:
        return found.value, errors, None
    try:
        return found.value, [], model.model_validate(found.value)
    except ValidationError as exc:  # the model's own validators, beyond what its schema says
        return found.value, [f"{json_path(e['loc'])}: {e['msg']}" for e in exc.errors()], None


def correction_request(errors: list[str]) -> str:
    """The user message that sends a failed attempt back: every problem with its JSON path."""
    listed = "\n".join(f"- {error}" for error in errors)
    return f"Your answer does not follow the JSON schema:\n{listed}\nReply with only the corrected JSON object."


async def json_mode(
    llm: LLM,
    conversation: Conversation,
    schema: dict[str, Any] | type[BaseModel],
    *,
    retries: int = 2,
    sampling: Sampling | None = None,
    thinking: bool | None = None,
) -> JsonModeResult:
    """Get a JSON value following `schema` (a JSON schema dict or a pydantic model class).

    The schema goes into the system prompt (`hermes4.chat.json_mode_system_prompt`, appended to a
    system message the conversation already has). The JSON is read from the answer after any
    `<think>` block (`hermes4.parse.jsontools.extract_json`: bare, fenced or tagged, near-JSON
    repaired) and checked against the schema; on failure the problems go back to the model as a user
    message, up to `retries` times. An invalid schema raises `InvalidSchemaError` before any call.
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, got {retries}")
    model = schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None
    json_schema = schema_of(schema)
    validate({}, json_schema)  # raises InvalidSchemaError now rather than after spending model calls
    conv = _with_json_prompt(conversation, json_mode_system_prompt(json_schema))
    think = bool(conv.thinking) if thinking is None else thinking
    request = (sampling or Sampling()).model_copy(update={"n": 1})
    completions: list[Completion] = []
    errors: list[str] = []
    for attempt in range(1, retries + 2):
        completion = (await llm.chat(conv, sampling=request, thinking=think))[0]
        completions.append(completion)
        conv.messages.append(completion.parsed.to_message())
        value, errors, instance = _problems(completion, json_schema, model)
        if not errors:
            return JsonModeResult(True, value, [], attempt, conv, completions, instance)
        if attempt <= retries:
            conv.messages.append(Message(role="user", content=correction_request(errors)))
    return JsonModeResult(False, None, errors, retries + 1, conv, completions)
