"""The one reader of model output: a streaming state machine; batch parsing is it fed the whole text at once.

Rules (the contract every consumer relies on):

* Reasoning exists only when `<think>` opens the output (after whitespace) or the prompt opened it
  (`reasoning_started`). One newline or space just inside `<think>`/`</think>` and just after `</think>` is layout,
  not text. An unclosed think block is all reasoning: `truncated`, empty content.
* `<tool_call>` inside reasoning is reasoning text unless `tools_in_reasoning`; then such calls are read and
  returned in order with the others (`in_reasoning=True`).
* Call bodies are read by a string-aware incremental JSON reader (`toolcall.CallReader`): `</tool_call>`, `<` or
  braces inside a string are text. Back-to-back calls, newlines or none around the JSON, several objects or a JSON
  array in one tag, a missing `</tool_call>` before the next `<tool_call>` (or `</think>` for a call in reasoning),
  `arguments` as an object, a JSON string (decoded once) or null, and `parameters` as an alias are all read.
* A call whose JSON is complete but whose `</tool_call>` never came (end of output) is accepted and flags
  `truncated`; one whose JSON is incomplete at the end is rejected (never executed half-written) and flags it too.
* Near-JSON is repaired and recorded in `issues`. A call that cannot be read is an issue carrying its text; its
  text does *not* go into content (it was meant as a call, and content is what a user reads).
* Content is the text outside think and calls, in order. Whitespace touching a `<tool_call>`/`</tool_call>` tag
  is layout, a segment that is only whitespace is dropped, and segments split by calls are joined with one
  newline. Reasoning split by calls follows the same rule.

Streaming: nothing is re-read. Only a suffix that could still become a tag (at most `</tool_call>`'s length) is
held back between chunks; everything else is decided once, so the total work is linear in the output length.
Call ids are `call_<index>_<hash of the output before the call>`: deterministic, equal in batch and streaming.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

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
)
from hermes4.parse.toolcall import CallReader, Settled, settle

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"

_START, _TEXT, _BODY, _AFTER = range(4)  # before anything significant / reasoning or content / in a call / after its JSON
_NOT_WS = re.compile(r"[^ \t\n\r]")


class _Channel:
    """Content or reasoning: text segments between tags, with the layout rules of the module docstring."""

    def __init__(self, events: list[StreamEvent], delta: type) -> None:
        self.parts: list[str] = []
        self._events = events
        self._delta = delta
        self._any = False  # some segment already produced text (the next one is joined with a newline)
        self._has_text = False  # the current segment has non-whitespace text
        self._held: list[str] = []  # whitespace not yet emitted: leading, or trailing (it may touch a tag)
        self._strip_one = False
        self._strip_leading = False

    def start(self, *, strip_one: bool = False, strip_leading: bool = False) -> None:
        self._strip_one = strip_one
        self._strip_leading = strip_leading

    def write(self, text: str) -> None:
        if self._strip_one and text:
            self._strip_one = False
            if text[0] in "\n ":
                text = text[1:]
        if not text:
            return
        body = text.rstrip()
        if not body:
            self._held.append(text)  # a list: a long run of whitespace arriving piecewise stays linear
            return
        held = "".join(self._held)
        if self._has_text:
            out = held + body
        else:
            words = body.lstrip()
            leading = "" if self._strip_leading else held + body[: len(body) - len(words)]
            out = ("\n" if self._any else "") + leading + words
            self._has_text = self._any = True
        self._held = [text[len(body) :]] if len(body) < len(text) else []
        self._emit(out)

    def end(self, by: str) -> None:
        """End the segment `by` a tool call (trailing whitespace is layout), `</think>` (one char is) or the end."""
        held = "".join(self._held)
        if self._has_text and held:
            if by == "call":
                held = ""
            elif by == "think" and held[-1] in "\n ":
                held = held[:-1]
            if held:
                self._emit(held)
        self._held = []
        self._has_text = self._strip_one = self._strip_leading = False

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self._events.append(self._delta(text))


@dataclass
class _OpenCall:
    index: int
    id: str
    digest: str
    start: int
    in_reasoning: bool
    reader: CallReader | None = None
    body: list[str] = field(default_factory=list)
    junk: list[str] = field(default_factory=list)
    junk_start: int = -1
    announced: str | None = None
    streamed: list[str] = field(default_factory=list)


class StreamParser:
    """Feed chunks of a model output with `feed`, get events; `finish` returns the last events and the result."""

    def __init__(self, *, reasoning_started: bool = False, tools_in_reasoning: bool = False) -> None:
        self._events: list[StreamEvent] = []
        self._content = _Channel(self._events, ContentDelta)
        self._reasoning = _Channel(self._events, ReasoningDelta)
        self._tools_in_reasoning = tools_in_reasoning
        self._pending = ""  # held-back suffix that may still become a tag
        self._offset = 0  # position of _pending[0] in the whole output
        self._hasher = hashlib.blake2b(digest_size=6)  # of the output consumed so far, for call ids
        self._hashed = 0  # within the buffer `_run` is reading
        self._calls: list[ParsedToolCall] = []
        self._issues: list[ParseIssue] = []
        self._next_index = 0
        self._truncated = False
        self._finished = False
        self._saw_reasoning = False
        self._in_think = False
        self._call: _OpenCall | None = None
        self._lead_ws: list[str] = []  # whitespace before the first significant character
        self._mode = _START
        self._channel = self._content
        self._tags: tuple[str, ...] = ()
        if reasoning_started:
            self._enter_reasoning()

    # ---- public ----

    def feed(self, chunk: str) -> list[StreamEvent]:
        if self._finished:
            raise RuntimeError("StreamParser.feed after finish")
        if chunk:
            self._run(self._pending + chunk, final=False)
        return self._take_events()

    def finish(self) -> tuple[list[StreamEvent], ParsedOutput]:
        if self._finished:
            raise RuntimeError("StreamParser.finish called twice")
        self._finished = True
        self._run(self._pending, final=True)
        end = self._offset
        if self._mode == _START:
            self._enter_content()  # only whitespace (or nothing) came
            self._content.write("".join(self._lead_ws))
        if self._mode in (_BODY, _AFTER):
            self._close_call(closed=False, end=end)
        self._channel.end("eof")
        if self._in_think:
            self._truncated = True
        self._events.append(OutputEnded(truncated=self._truncated))
        result = ParsedOutput(
            content="".join(self._content.parts),
            reasoning="".join(self._reasoning.parts) if self._saw_reasoning else None,
            tool_calls=self._calls,
            truncated=self._truncated,
            issues=self._issues,
        )
        return self._take_events(), result

    # ---- modes ----

    def _enter_reasoning(self) -> None:
        self._saw_reasoning = self._in_think = True
        self._events.append(ReasoningStarted())
        self._mode, self._channel = _TEXT, self._reasoning
        self._tags = (THINK_CLOSE, CALL_OPEN) if self._tools_in_reasoning else (THINK_CLOSE,)
        self._reasoning.start(strip_one=True)

    def _enter_content(self, *, strip_one: bool = False) -> None:
        self._in_think = False
        self._mode, self._channel = _TEXT, self._content
        self._tags = (CALL_OPEN,)
        self._content.start(strip_one=strip_one)

    def _return_from_call(self) -> None:
        self._mode = _TEXT
        self._channel.start(strip_leading=True)

    def _call_tags(self, call: _OpenCall) -> tuple[str, ...]:
        return (CALL_CLOSE, CALL_OPEN, THINK_CLOSE) if call.in_reasoning else (CALL_CLOSE, CALL_OPEN)

    # ---- the machine ----

    def _run(self, buf: str, *, final: bool) -> None:
        base = self._offset
        self._hashed = 0  # buf[:_hashed] is already in _hasher: a call id never re-hashes what came before it
        i, n = 0, len(buf)
        while i < n:
            mode = self._mode
            if mode == _TEXT:
                j = buf.find("<", i)
                if j < 0:
                    self._channel.write(buf[i:])
                    i = n
                    break
                if j > i:
                    self._channel.write(buf[i:j])
                    i = j
                tag = _match(buf, j, self._tags)
                if tag is None:
                    if not final and _partial(buf, j, self._tags):
                        break
                    self._channel.write("<")
                    i = j + 1
                elif tag == THINK_CLOSE:
                    self._reasoning.end("think")
                    self._enter_content(strip_one=True)
                    i = j + len(tag)
                else:
                    self._channel.end("call")
                    self._open_call(base + j, self._digest(buf, j))
                    i = j + len(tag)
            elif mode == _START:
                m = _NOT_WS.search(buf, i, n)
                if m is None:
                    self._lead_ws.append(buf[i:])
                    i = n
                    break
                k = m.start()
                self._lead_ws.append(buf[i:k])
                i = k
                if buf.startswith(THINK_OPEN, k):
                    self._lead_ws = []
                    self._enter_reasoning()
                    i = k + len(THINK_OPEN)
                elif not final and _partial(buf, k, (THINK_OPEN,)):
                    break
                else:
                    self._enter_content()
                    self._content.write("".join(self._lead_ws))
                    self._lead_ws = []
            elif mode == _BODY:
                call = self._call
                assert call is not None
                reader = call.reader
                if reader is None:
                    m = _NOT_WS.search(buf, i, n)
                    if m is None:
                        i = n
                        break
                    i = m.start()
                    if buf[i] != "<":
                        reader = call.reader = CallReader(skim=buf[i] != "{", base_hint=base + i)
                if reader is not None:
                    j = reader.feed(buf, i, n, base)
                    if j > i:
                        call.body.append(buf[i:j])
                        i = j
                    self._pump(call)
                    if reader.done:
                        self._mode = _AFTER
                        continue
                    if i >= n:
                        break
                # at a `<` outside any string
                tags = self._call_tags(call)
                tag = _match(buf, i, tags)
                if tag is None:
                    if not final and _partial(buf, i, tags):
                        break
                    if reader is None:
                        reader = call.reader = CallReader(skim=True, base_hint=base + i)
                    reader.take_lt()
                    call.body.append("<")
                    i += 1
                else:
                    i = self._end_call_at(tag, buf, i, base)
            else:  # _AFTER: the call's JSON is complete
                call = self._call
                assert call is not None
                m = _NOT_WS.search(buf, i, n)
                if m is None:
                    if call.junk:
                        call.junk.append(buf[i:])
                    i = n
                    break
                k = m.start()
                if call.junk:
                    call.junk.append(buf[i:k])
                i = k
                c = buf[k]
                if c == "<":
                    tags = self._call_tags(call)
                    tag = _match(buf, k, tags)
                    if tag is not None:
                        i = self._end_call_at(tag, buf, k, base)
                        continue
                    if not final and _partial(buf, k, tags):
                        break
                elif c == "{" and not call.junk:  # another call object in the same tag
                    self._close_call(closed=True, end=base + k)
                    self._open_call(base + k, self._digest(buf, k), in_reasoning=call.in_reasoning)
                    continue
                if not call.junk:
                    call.junk_start = base + k
                j = buf.find("<", k + 1, n)
                j = n if j < 0 else j
                call.junk.append(buf[k:j])
                i = j
        self._hash_upto(buf, i)
        self._pending = buf[i:]
        self._offset = base + i

    def _hash_upto(self, buf: str, upto: int) -> None:
        self._hasher.update(buf[self._hashed : upto].encode("utf-8", "surrogatepass"))
        self._hashed = upto

    def _digest(self, buf: str, upto: int) -> str:
        """Hash of the output before `upto`: the running hash is advanced, so the whole output is hashed once."""
        self._hash_upto(buf, upto)
        return self._hasher.hexdigest()

    # ---- calls ----

    def _open_call(self, start: int, digest: str, *, in_reasoning: bool | None = None) -> None:
        index = self._next_index
        self._next_index += 1
        in_reasoning = self._in_think if in_reasoning is None else in_reasoning
        self._call = _OpenCall(index=index, id=f"call_{index}_{digest}", digest=digest, start=start, in_reasoning=in_reasoning)
        self._mode = _BODY

    def _pump(self, call: _OpenCall) -> None:
        """Announce the call once its name is known, then stream whatever arguments text has grown."""
        reader = call.reader
        assert reader is not None
        if call.announced is None:
            if not reader.name:
                return
            call.announced = reader.name
            self._events.append(ToolCallStarted(index=call.index, id=call.id, name=reader.name))
        delta = reader.drain_arguments()
        if delta:
            call.streamed.append(delta)
            self._events.append(ToolCallArgumentsDelta(index=call.index, text=delta))

    def _end_call_at(self, tag: str, buf: str, i: int, base: int) -> int:
        """A call tag outside any string ends the open call; returns where to continue."""
        if tag == CALL_CLOSE:
            self._close_call(closed=True, end=base + i + len(tag))
            self._return_from_call()
            return i + len(tag)
        # `<tool_call>` or `</think>`: the model forgot `</tool_call>`; the tag itself is read by the text mode
        self._issue("missing_close_tag", f"this tool call was ended by {tag}, not </tool_call>", self._call.start, base + i)
        self._close_call(closed=True, end=base + i)
        self._return_from_call()
        return i

    def _close_call(self, *, closed: bool, end: int) -> None:
        call = self._call
        assert call is not None
        self._call = None
        reader = call.reader
        if reader is not None:
            reader.finish()
            self._pump(call)
        raw = "".join(call.body).strip()
        if not closed:
            self._truncated = True
            if reader is not None and reader.done:
                self._issue("missing_close_tag", "the output ended before </tool_call>", call.start, end)
        if call.junk:
            junk = "".join(call.junk)
            self._issue("extra_text_in_tool_call", "text after the call's JSON was ignored", call.junk_start, end, junk.strip())
        streamed = "".join(call.streamed) if call.announced is not None else None
        settled = settle(reader, raw, closed=closed, streamed=streamed)
        for kind, message in settled.problems:
            self._issue(kind, message, call.start, end, raw if settled.rejected else "")
        if settled.rejected:
            if call.announced is not None:
                self._events.append(ToolCallEnded(index=call.index, call=None))
            return
        self._accept(call.index, call.id, call.announced, settled, raw, call, end)
        for extra in settled.more:
            if extra.rejected:
                for kind, message in extra.problems:
                    self._issue(kind, message, call.start, end, raw)
                continue
            index = self._next_index
            self._next_index += 1
            self._accept(index, f"call_{index}_{call.digest}", None, extra, raw, call, end)

    def _accept(
        self, index: int, call_id: str, announced: str | None, settled: Settled, raw: str, call: _OpenCall, end: int
    ) -> None:
        name = announced or settled.name
        if announced is None:
            self._events.append(ToolCallStarted(index=index, id=call_id, name=name))
        if settled.tail:
            self._events.append(ToolCallArgumentsDelta(index=index, text=settled.tail))
        parsed = ParsedToolCall(
            id=call_id,
            index=index,
            name=name,
            arguments=settled.arguments,
            arguments_json=settled.arguments_json,
            raw=raw,
            start=call.start,
            end=end,
            in_reasoning=call.in_reasoning,
        )
        self._calls.append(parsed)
        self._events.append(ToolCallEnded(index=index, call=parsed))

    # ---- helpers ----

    def _issue(self, kind: str, message: str, start: int, end: int, text: str = "") -> None:
        self._issues.append(ParseIssue(kind=kind, message=message, start=start, end=end, text=text))

    def _take_events(self) -> list[StreamEvent]:
        events = self._events[:]
        self._events.clear()
        return events


def _match(buf: str, j: int, tags: tuple[str, ...]) -> str | None:
    for tag in tags:
        if buf.startswith(tag, j):
            return tag
    return None


def _partial(buf: str, j: int, tags: tuple[str, ...]) -> bool:
    """Whether buf[j:] (the end of what arrived) could still grow into one of the tags.

    Compared in place: copying buf[j:] for every `<` would make one long buffer (batch parsing) quadratic."""
    left = len(buf) - j
    return any(left < len(tag) and buf.startswith(tag[:left], j) for tag in tags)


def parse(text: str, *, reasoning_started: bool = False, tools_in_reasoning: bool = False) -> ParsedOutput:
    """Read a whole model output: the stream parser fed everything at once, so streaming equals batch."""
    parser = StreamParser(reasoning_started=reasoning_started, tools_in_reasoning=tools_in_reasoning)
    parser.feed(text)
    return parser.finish()[1]
