"""`hermes4 parse`: read a raw model output and print its reasoning, content and tool calls as one JSON object."""

from __future__ import annotations

import json
import random
import sys

import typer

from hermes4.cli._common import fail, read_text


def stream_chunks(text: str, spec: str) -> list[str]:
    """Split `text` as `--stream SPEC` says: `N` characters per chunk, or `random:SEED` sizes from 1 to 16."""
    if spec.isdigit() and int(spec) > 0:
        size = int(spec)
        return [text[i : i + size] for i in range(0, len(text), size)]
    kind, _, seed = spec.partition(":")
    if kind == "random" and seed.lstrip("-").isdigit():
        rng = random.Random(int(seed))
        chunks, i = [], 0
        while i < len(text):
            size = rng.randint(1, 16)
            chunks.append(text[i : i + size])
            i += size
        return chunks
    raise fail(f"--stream: expected a positive chunk size N or random:SEED, got {spec!r}")


def register(app: typer.Typer) -> None:
    @app.command("parse")
    def parse_command(
        file: str | None = typer.Argument(None, help="File holding the raw model output; `-` or nothing reads stdin."),
        reasoning_started: bool = typer.Option(False, "--reasoning-started", help="The prompt already opened <think>."),
        tools_in_reasoning: bool = typer.Option(
            False, "--tools-in-reasoning", help="Read <tool_call> inside <think> as calls (interleaved tool use)."
        ),
        stream: str | None = typer.Option(
            None, "--stream", metavar="SPEC", help="Feed the streaming parser chunks of N characters, or random:SEED."
        ),
    ) -> None:
        """Print {"content", "reasoning", "tool_calls": [{"name", "arguments"}], "truncated"} for a model output."""
        from hermes4.parse import StreamParser, assemble, parse

        if stream is not None:
            stream_chunks("", stream)  # reject a bad SPEC before reading any input
        text, _ = read_text(file)  # not UTF-8: one line naming the byte offset
        if stream is None:
            result = parse(text, reasoning_started=reasoning_started, tools_in_reasoning=tools_in_reasoning).summary()
        else:
            chunks = stream_chunks(text, stream)
            parser = StreamParser(reasoning_started=reasoning_started, tools_in_reasoning=tools_in_reasoning)
            events = []
            for chunk in chunks:
                events += parser.feed(chunk)
            events += parser.finish()[0]
            result = assemble(events)
            result["tool_calls"] = [{"name": call["name"], "arguments": call["arguments"]} for call in result["tool_calls"]]
        # A lone surrogate (from a `\ud800` escape in the output) cannot be UTF-8 encoded; backslashreplace writes
        # it back as the same JSON escape, so the line stays valid JSON.
        sys.stdout.buffer.write((json.dumps(result, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace"))
        sys.stdout.flush()
