"""Model text as OpenAI chat-completion deltas, read by the parse layer's streaming parser (one choice at a time)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

from hermes4.llm.cutoff import word_pieces
from hermes4.parse import (
    ContentDelta,
    ParsedOutput,
    ReasoningDelta,
    ReasoningStarted,
    StreamEvent,
    StreamParser,
    ToolCallArgumentsDelta,
    ToolCallEnded,
    ToolCallStarted,
)

# Issues that mean the parser rejected a call: its text goes back into `content`, as vLLM keeps unparsed text.
REJECTED_CALL = frozenset({"unreadable_tool_call", "truncated_tool_call", "missing_name", "arguments_not_object"})


def new_call_id() -> str:
    """A random id per call, as vLLM makes them: equal calls in two turns, or in two choices, never share one."""
    return f"chatcmpl-tool-{secrets.token_hex(16)}"


class ChoiceDeltas:
    """Feed a choice's text as it is generated; get `delta` objects (reasoning, content, tool-call pieces).

    A call's deltas are held until the parser has accepted the call, because the OpenAI stream
    cannot take back a call that turns out to be unreadable; a rejected call's text is sent as
    content at the end. With `parse_tools=False` (`tool_choice: "none"`) calls stay text, in place.
    The non-streaming answer is these same deltas folded (`message`), so the two always agree.
    """

    def __init__(self, *, reasoning_started: bool = False, parse_tools: bool = True) -> None:
        self.parser = StreamParser(reasoning_started=reasoning_started)
        self.parse_tools = parse_tools
        self.text = ""
        self.streamed_calls = 0
        self.content_sent = False
        self.parsed: ParsedOutput | None = None
        self._held: dict[int, list[StreamEvent]] = {}

    def feed(self, text: str) -> list[dict[str, Any]]:
        self.text += text
        return list(self._convert(self.parser.feed(text)))

    def finish(self) -> list[dict[str, Any]]:
        events, self.parsed = self.parser.finish()
        deltas = list(self._convert(events))
        for issue in self.parsed.issues:
            if issue.kind in REJECTED_CALL:
                deltas.append(self._content(self.text[issue.start : issue.end]))
        return [d for d in deltas if d]

    @property
    def rejected_issues(self) -> list[Any]:
        return [i for i in (self.parsed.issues if self.parsed else []) if i.kind in REJECTED_CALL]

    def _content(self, text: str) -> dict[str, Any]:
        if not text:
            return {}
        if self.content_sent and not text[0].isspace():
            text = "\n" + text  # a call's text set apart from the prose before it
        self.content_sent = True
        return {"content": text}

    def _convert(self, events: list[StreamEvent]) -> Iterator[dict[str, Any]]:
        for event in events:
            if isinstance(event, ReasoningStarted):
                yield {"reasoning_content": "", "reasoning": ""}  # an empty think block is still reasoning ""
            elif isinstance(event, ReasoningDelta):
                if event.text:
                    # Both names: older clients read `reasoning_content`, current vLLM sends `reasoning`.
                    yield {"reasoning_content": event.text, "reasoning": event.text}
            elif isinstance(event, ContentDelta):
                if event.text:
                    self.content_sent = True
                    yield {"content": event.text}
            elif isinstance(event, (ToolCallStarted, ToolCallArgumentsDelta)):
                self._held.setdefault(event.index, []).append(event)
            elif isinstance(event, ToolCallEnded):
                pieces = self._held.pop(event.index, [])
                call = event.call
                if call is None:
                    continue  # rejected: its text comes back in finish()
                if not self.parse_tools:
                    yield self._content(self.text[call.start : call.end])
                    continue
                index = self.streamed_calls
                self.streamed_calls += 1
                yield {"tool_calls": [{"index": index, "id": new_call_id(), "type": "function", "function": {"name": call.name, "arguments": ""}}]}
                arguments = "".join(p.text for p in pieces if isinstance(p, ToolCallArgumentsDelta)) or call.arguments_json
                yield {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}


def fold(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant message the deltas add up to (the non-streaming answer)."""
    content: list[str] = []
    reasoning: list[str] | None = None
    calls: list[dict[str, Any]] = []
    for delta in deltas:
        if "content" in delta:
            content.append(delta["content"])
        if "reasoning_content" in delta:
            reasoning = (reasoning or []) + [delta["reasoning_content"]]
        for piece in delta.get("tool_calls", []):
            if "id" in piece:
                calls.append({"id": piece["id"], "type": "function", "function": {"name": piece["function"]["name"], "arguments": ""}})
            else:
                calls[piece["index"]]["function"]["arguments"] += piece["function"]["arguments"]
    text = "".join(content)
    message: dict[str, Any] = {"role": "assistant", "content": text if (text or not calls) else None}
    if reasoning is not None:
        message["reasoning_content"] = message["reasoning"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return message


def chat_deltas(text: str, *, reasoning_started: bool = False) -> Iterator[dict[str, Any]]:
    """A finished output's deltas, fed piece by piece (word pieces, as a model would emit tokens)."""
    choice = ChoiceDeltas(reasoning_started=reasoning_started)
    for piece in word_pieces(text):
        yield from choice.feed(piece)
    yield from choice.finish()
