"""A finished output as OpenAI chat-completion stream deltas, read by the parse layer's streaming parser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hermes4.llm.cutoff import word_pieces
from hermes4.parse import (
    ContentDelta,
    ReasoningDelta,
    StreamEvent,
    StreamParser,
    ToolCallArgumentsDelta,
    ToolCallEnded,
    ToolCallStarted,
)


def chat_deltas(text: str, *, reasoning_started: bool = False) -> Iterator[dict[str, Any]]:
    """`delta` objects for one choice: `reasoning_content`, `content`, and `tool_calls` pieces, in order.

    The text is fed piece by piece (word pieces, as a model would emit tokens). A tool call's
    deltas are held until the parser has accepted the call, because the OpenAI stream cannot take
    back a call that turns out to be unreadable; the rejected call's text stays in the parse issues.
    """
    parser = StreamParser(reasoning_started=reasoning_started)
    held: dict[int, list[StreamEvent]] = {}
    streamed_calls = 0

    def convert(events: list[StreamEvent]) -> Iterator[dict[str, Any]]:
        nonlocal streamed_calls
        for event in events:
            if isinstance(event, ReasoningDelta):
                if event.text:
                    yield {"reasoning_content": event.text}
            elif isinstance(event, ContentDelta):
                if event.text:
                    yield {"content": event.text}
            elif isinstance(event, (ToolCallStarted, ToolCallArgumentsDelta)):
                held.setdefault(event.index, []).append(event)
            elif isinstance(event, ToolCallEnded):
                pieces = held.pop(event.index, [])
                if event.call is None:
                    continue
                index = streamed_calls
                streamed_calls += 1
                call = event.call
                yield {"tool_calls": [{"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]}
                arguments = "".join(p.text for p in pieces if isinstance(p, ToolCallArgumentsDelta))
                if not arguments:
                    arguments = call.arguments_json
                yield {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}

    for piece in word_pieces(text):
        yield from convert(parser.feed(piece))
    events, _ = parser.finish()
    yield from convert(events)
