"""Batch parsing does the streaming parser's work: each character hashed once, no copy of the rest per `<`."""

from __future__ import annotations

import tracemalloc

from hermes4.parse import StreamParser, parse
from hermes4.parse import stream as stream_module


class _CountingHasher:
    """Wraps the parser's running hash and counts the bytes given to it and to every copy of it."""

    def __init__(self, inner, tally: list[int] | None = None) -> None:
        self.inner = inner
        self.tally = [0] if tally is None else tally

    @property
    def bytes_hashed(self) -> int:
        return self.tally[0]

    def update(self, data: bytes) -> None:
        self.tally[0] += len(data)
        self.inner.update(data)

    def hexdigest(self) -> str:
        return self.inner.hexdigest()

    def copy(self):
        return _CountingHasher(self.inner.copy(), self.tally)


def _bytes_hashed(text: str, chunk: int | None = None) -> tuple[int, object]:
    parser = StreamParser()
    counter = _CountingHasher(parser._hasher)
    parser._hasher = counter
    pieces = [text] if chunk is None else [text[i : i + chunk] for i in range(0, len(text), chunk)]
    for piece in pieces:
        parser.feed(piece)
    return counter.bytes_hashed, parser.finish()[1]


def test_call_ids_hash_the_output_once_in_batch():
    # The finding: every call opening re-hashed the whole output before it (40,000 openings of a 440 KB text).
    text = "<tool_call>" * 3000 + '<tool_call>{"name": "f", "arguments": {}}</tool_call>'
    hashed, batch = _bytes_hashed(text)
    assert hashed <= len(text)
    streamed_hashed, streamed = _bytes_hashed(text, chunk=7)
    assert streamed_hashed <= len(text)
    assert [c.id for c in batch.tool_calls] == [c.id for c in streamed.tool_calls] == [c.id for c in parse(text).tool_calls]
    assert len(batch.tool_calls) == 1


def test_partial_tag_check_copies_nothing():
    # The finding: `_partial` copied buf[j:] for every `<` that was not a tag, 1 MB per `<` on a 1 MB output.
    buf = "<" * 1_000_000
    tracemalloc.start()
    try:
        for j in range(0, 1000):
            assert not stream_module._partial(buf, j, (stream_module.CALL_OPEN, stream_module.THINK_CLOSE))
        assert stream_module._partial(buf, len(buf) - 1, (stream_module.CALL_OPEN,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000


def test_partial_agrees_with_the_definition():
    tags = (stream_module.CALL_OPEN, stream_module.CALL_CLOSE, stream_module.THINK_CLOSE)
    for buf in ["x<", "x<t", "x</tool_ca", "x</think", "x<tool_call", "x<tool_call>", "x<a", "x</thinky", "<"]:
        for j in range(len(buf)):
            rest = buf[j:]
            expected = any(len(rest) < len(tag) and tag.startswith(rest) for tag in tags)
            assert stream_module._partial(buf, j, tags) == expected, (buf, j)
