"""What reading a model output produces: the parsed result, its tool calls and issues, and the stream events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from hermes4.chat.messages import FunctionCall, Message, ToolCall

IssueKind = Literal[
    "repaired_json",  # near-JSON read after repair (single quotes, Python literals, raw newlines, trailing commas, ...)
    "unreadable_tool_call",  # a closed <tool_call> whose body is not a call even after repair
    "truncated_tool_call",  # the output ended inside a call whose JSON was not complete
    "missing_name",  # the call JSON has no usable "name"
    "arguments_not_object",  # arguments are neither an object, a JSON string holding one, nor null
    "missing_close_tag",  # a call ended by the next <tool_call>, by </think>, or by the end of the output
    "extra_text_in_tool_call",  # text after the call JSON, before </tool_call>
    "arguments_cut",  # repair disagreed with what was already streamed; the streamed part was kept
]


class ParseIssue(BaseModel):
    """Something repaired or rejected while reading the output, with its character span in the output."""

    kind: IssueKind
    message: str
    start: int
    end: int
    text: str = ""  # the offending text (e.g. the whole body of an unreadable call), so nothing is lost


class ParsedToolCall(BaseModel):
    """One tool call read from `<tool_call>…</tool_call>`."""

    id: str  # deterministic: `call_<index>_<hash of the output before the call>`, equal in batch and streaming
    index: int  # position among all calls the output attempted (rejected ones included), as streamed
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # The arguments' JSON text exactly as streamed (the argument deltas concatenated); `json.loads` gives `arguments`.
    arguments_json: str = "{}"
    raw: str  # the text between the tags, as the model wrote it
    start: int  # span of the call in the output, from `<tool_call>` to the end of `</tool_call>` when present
    end: int
    in_reasoning: bool = False  # written inside <think> (interleaved tool use)


class ParsedOutput(BaseModel):
    """A model output split into reasoning, content and tool calls."""

    content: str = ""
    reasoning: str | None = None  # None when the output had no think block
    tool_calls: list[ParsedToolCall] = Field(default_factory=list)
    truncated: bool = False  # an unclosed <think> or an unclosed final call
    issues: list[ParseIssue] = Field(default_factory=list)

    def to_message(self) -> Message:
        """The assistant message this output is, in the conversation record's shape."""
        calls = [
            ToolCall(id=call.id, function=FunctionCall(name=call.name, arguments=call.arguments))
            for call in self.tool_calls
        ]
        return Message(role="assistant", content=self.content, reasoning_content=self.reasoning, tool_calls=calls or None)

    def summary(self) -> dict[str, Any]:
        """The `hermes4 parse` JSON: content, reasoning, tool calls (name and arguments), truncated."""
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "tool_calls": [{"name": call.name, "arguments": call.arguments} for call in self.tool_calls],
            "truncated": self.truncated,
        }


# ---- stream events -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReasoningStarted:
    """The output opened a think block (or the prompt did); reasoning is "" from here even if no text follows."""


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """Sent as soon as the call's name is known; argument deltas for `index` follow."""

    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallArgumentsDelta:
    """A piece of the arguments' JSON text; a call's pieces concatenated are its `arguments_json`."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEnded:
    """The call is complete. `call` is None when it was rejected (see the output's issues): discard it."""

    index: int
    call: ParsedToolCall | None


@dataclass(frozen=True, slots=True)
class OutputEnded:
    truncated: bool


StreamEvent = (
    ReasoningStarted | ReasoningDelta | ContentDelta | ToolCallStarted | ToolCallArgumentsDelta | ToolCallEnded | OutputEnded
)


def assemble(events: list[StreamEvent]) -> dict[str, Any]:
    """Rebuild the `hermes4 parse` JSON from stream events alone (deltas concatenated, arguments decoded).

    This is what a streaming client does; it must agree with `ParsedOutput.summary()` of the batch parse.
    Calls are listed in the order they ended; each also carries its `id`.
    """
    content: list[str] = []
    reasoning: list[str] | None = None
    started: dict[int, ToolCallStarted] = {}
    arguments: dict[int, list[str]] = {}
    calls: list[dict[str, Any]] = []
    truncated = False
    for event in events:
        if isinstance(event, ContentDelta):
            content.append(event.text)
        elif isinstance(event, ReasoningStarted):
            reasoning = reasoning if reasoning is not None else []
        elif isinstance(event, ReasoningDelta):
            reasoning = reasoning if reasoning is not None else []
            reasoning.append(event.text)
        elif isinstance(event, ToolCallStarted):
            started[event.index] = event
            arguments[event.index] = []
        elif isinstance(event, ToolCallArgumentsDelta):
            arguments[event.index].append(event.text)
        elif isinstance(event, ToolCallEnded):
            if event.call is not None:
                head = started[event.index]
                calls.append({"id": head.id, "name": head.name, "arguments": json.loads("".join(arguments[event.index]))})
        elif isinstance(event, OutputEnded):
            truncated = event.truncated
    return {
        "content": "".join(content),
        "reasoning": None if reasoning is None else "".join(reasoning),
        "tool_calls": calls,
        "truncated": truncated,
    }
