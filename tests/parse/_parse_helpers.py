"""Shared checks for the parse tests: stream a text at a chunking and compare with the batch parse."""

from __future__ import annotations

import random
import re

from hermes4.parse import ParsedOutput, StreamParser, assemble, parse

ID = re.compile(r"call_\d+_[0-9a-f]{12}")


def chunks_of(text: str, chunking: int | str) -> list[str]:
    if isinstance(chunking, int):
        return [text[i : i + chunking] for i in range(0, len(text), chunking)]
    rng = random.Random(chunking)
    out, i = [], 0
    while i < len(text):
        size = rng.randint(1, 16)
        out.append(text[i : i + size])
        i += size
    return out


def stream(text: str, chunking: int | str, **options: bool) -> tuple[list, ParsedOutput]:
    parser = StreamParser(**options)
    events = []
    for chunk in chunks_of(text, chunking):
        events += parser.feed(chunk)
    tail, result = parser.finish()
    return events + tail, result


def assert_stream_equals_batch(text: str, chunkings, **options: bool) -> ParsedOutput:
    """Batch result; every chunking gives the same ParsedOutput, and its events alone rebuild the same fields."""
    batch = parse(text, **options)
    summary = batch.summary()
    for chunking in chunkings:
        events, result = stream(text, chunking, **options)
        assert result == batch, f"chunking {chunking!r}"
        rebuilt = assemble(events)
        assert rebuilt["content"] == summary["content"], f"content deltas, chunking {chunking!r}"
        assert rebuilt["reasoning"] == summary["reasoning"], f"reasoning deltas, chunking {chunking!r}"
        assert rebuilt["truncated"] == summary["truncated"]
        assert [(c["id"], c["name"], c["arguments"]) for c in rebuilt["tool_calls"]] == [
            (c.id, c.name, c.arguments) for c in batch.tool_calls
        ], f"tool call events, chunking {chunking!r}"
        streamed_json = _arguments_text(events)
        for call in batch.tool_calls:
            assert streamed_json[call.index] == call.arguments_json, f"argument deltas of call {call.index}"
    return batch


def _arguments_text(events: list) -> dict[int, str]:
    from hermes4.parse import ToolCallArgumentsDelta, ToolCallStarted

    texts: dict[int, str] = {}
    for event in events:
        if isinstance(event, ToolCallStarted):
            texts[event.index] = ""
        elif isinstance(event, ToolCallArgumentsDelta):
            texts[event.index] += event.text
    return texts


def assert_well_formed(text: str, result: ParsedOutput) -> None:
    """Fields that hold for every result: ids, spans, raw text, issue spans."""
    ids = [call.id for call in result.tool_calls]
    assert len(set(ids)) == len(ids)
    indices = [call.index for call in result.tool_calls]
    assert indices == sorted(indices)
    for call in result.tool_calls:
        assert ID.fullmatch(call.id) and call.id.startswith(f"call_{call.index}_")
        assert 0 <= call.start < call.end <= len(text)
        assert call.raw.strip() in text[call.start : call.end]
    for issue in result.issues:
        assert 0 <= issue.start <= issue.end <= len(text), issue
