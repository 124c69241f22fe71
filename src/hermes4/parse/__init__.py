"""Reading model output: reasoning split, tool calls (batch and streaming, one state machine), JSON helpers."""

from hermes4.parse.output import (
    ContentDelta,
    OutputEnded,
    ParsedOutput,
    ParsedToolCall,
    ParseIssue,
    ReasoningDelta,
    ReasoningStarted,
    StreamEvent,
    ToolCallArgumentsDelta,
    ToolCallEnded,
    ToolCallStarted,
    assemble,
)
from hermes4.parse.stream import StreamParser, parse

__all__ = [
    "ContentDelta",
    "OutputEnded",
    "ParseIssue",
    "ParsedOutput",
    "ParsedToolCall",
    "ReasoningDelta",
    "ReasoningStarted",
    "StreamEvent",
    "StreamParser",
    "ToolCallArgumentsDelta",
    "ToolCallEnded",
    "ToolCallStarted",
    "assemble",
    "parse",
]
