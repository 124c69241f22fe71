"""hermes4's reasoning and tool-call parsers as vLLM plugins: thin adapters over `hermes4.parse`, loaded by vLLM.

This module runs inside the engine venv (vLLM's own environment), never in hermes4's: it imports vLLM and
`hermes4.parse` only. Start vLLM with

    --reasoning-parser-plugin THIS_FILE --reasoning-parser hermes4
    --tool-parser-plugin THIS_FILE --tool-call-parser hermes4 --enable-auto-tool-choice

(`hermes4-interleaved` for both names reads tool calls written inside `<think>` as calls, hermes4's
`tools_in_reasoning`). `hermes4.llm.vllm_engine` passes these flags.

How it maps onto vLLM 0.3x's `DelegatingParser` (one reasoning parser and one tool parser per request):

* One `hermes4.parse.StreamParser` reads the whole output — reasoning, content and calls are one state machine in
  hermes4, so they are not split between two parsers here. Whichever of the two vLLM drives does all the work:
  the reasoning parser never reports the end of reasoning to vLLM (`has_engine_confirmed_reasoning_end`), so it
  is fed every delta; when the prompt already closed the reasoning, vLLM feeds the tool parser instead, which
  does the same. Both are `engine_based_streaming`, so vLLM calls `finish_streaming` at the end of the stream,
  where the parser's `finish` decides the last call and flushes held-back text.
* Batch: the reasoning parser parses the whole output and returns (reasoning, content); the tool parser of the
  same request reuses that parse (so the calls are the same ones, interleaved calls included).
* A call is sent once it has ended and was accepted (id, name and the complete arguments in one delta), never
  half-streamed: hermes4 may still reject a call at its end (truncated JSON, arguments not an object), and a
  stream cannot take back what it sent. Content and reasoning stream as they come.
* A call hermes4 rejects stays visible: its text (from `<tool_call>` to the end of the tag) is appended to the
  content, after the rest, in batch and streaming alike, so nothing the model wrote is lost.

Streamed deltas therefore accumulate to exactly the non-streamed message (hermes4 guarantees stream == batch for
every chunking; the adapters add nothing that depends on chunking).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vllm.entrypoints.generate.base.protocol import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)
from vllm.reasoning import ReasoningParser, ReasoningParserManager
from vllm.tool_parsers import ToolParser, ToolParserManager

from hermes4.parse import (
    ContentDelta,
    ParsedOutput,
    ParsedToolCall,
    ReasoningDelta,
    StreamEvent,
    StreamParser,
    ToolCallEnded,
    parse,
)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
TURN_STARTS = ("<|im_start|>", "<|start_header_id|>")  # ChatML and Llama-3 headers: a prompt's last turn follows
# Issue kinds of a call hermes4 did not accept: their text goes back into the content.
REJECTED_CALL = frozenset({"unreadable_tool_call", "truncated_tool_call", "missing_name", "arguments_not_object"})


def rejected_call_texts(output: str, parsed: ParsedOutput) -> list[str]:
    """The text of every call hermes4 rejected, in output order (one span per tag, even if it held several)."""
    spans = sorted({(issue.start, issue.end) for issue in parsed.issues if issue.kind in REJECTED_CALL})
    return [output[start:end] for start, end in spans if output[start:end].strip()]


def content_with_rejected(content: str, rejected: list[str]) -> str:
    if not rejected:
        return content
    return "\n".join([content, *rejected]) if content else "\n".join(rejected)


def vllm_tool_call(call: ParsedToolCall) -> ToolCall:
    return ToolCall(id=call.id, function=FunctionCall(id=call.id, name=call.name, arguments=call.arguments_json))


class OutputStream:
    """One output read by `StreamParser` as deltas arrive, turned into vLLM `DeltaMessage`s."""

    def __init__(self, *, tools_in_reasoning: bool) -> None:
        self.parser = StreamParser(tools_in_reasoning=tools_in_reasoning)
        self.text: list[str] = []  # the raw output, for the text of rejected calls
        self.fed = False
        self.finished = False
        self.sent_calls = 0  # OpenAI tool-call indices count accepted calls only

    def feed(self, delta_text: str) -> DeltaMessage | None:
        self.fed = True
        self.text.append(delta_text)
        return self._message(self.parser.feed(delta_text))

    def finish(self) -> DeltaMessage | None:
        if not self.fed or self.finished:
            return None
        self.finished = True
        events, parsed = self.parser.finish()
        message = self._message(events) or DeltaMessage()
        rejected = rejected_call_texts("".join(self.text), parsed)
        if rejected:
            before = "" if not parsed.content else "\n"
            message.content = (message.content or "") + before + "\n".join(rejected)
        return message if (message.content or message.reasoning or message.tool_calls) else None

    def _message(self, events: list[StreamEvent]) -> DeltaMessage | None:
        content: list[str] = []
        reasoning: list[str] = []
        calls: list[DeltaToolCall] = []
        for event in events:
            if isinstance(event, ContentDelta):
                content.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, ToolCallEnded) and event.call is not None:
                call = event.call
                calls.append(DeltaToolCall(index=self.sent_calls, id=call.id, type="function",
                                           function=DeltaFunctionCall(name=call.name, arguments=call.arguments_json)))
                self.sent_calls += 1
        if not (content or reasoning or calls):
            return None
        return DeltaMessage(content="".join(content) or None, reasoning="".join(reasoning) or None, tool_calls=calls)


class _Hermes4Reasoning(ReasoningParser):
    engine_based_streaming = True
    tools_in_reasoning = False

    def __init__(self, tokenizer: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, *args, **kwargs)
        vocab = self.vocab
        self.think_open_id = vocab.get(THINK_OPEN)
        self.think_close_id = vocab.get(THINK_CLOSE)
        self.turn_start_ids = {vocab[t] for t in TURN_STARTS if t in vocab}
        # Reasoning mode (the exported template's `thinking`): the model is expected to open <think> itself.
        self.thinking = bool((kwargs.get("chat_template_kwargs") or {}).get("thinking"))
        self.stream = OutputStream(tools_in_reasoning=self.tools_in_reasoning)
        self.batch: tuple[str, ParsedOutput] | None = None  # (content returned, parse) for this request's tool parser
        _Sibling.last = self

    @property
    def reasoning_start_str(self) -> str:
        return THINK_OPEN

    @property
    def reasoning_end_str(self) -> str:
        return THINK_CLOSE

    # -- token-level answers (structured-output gate, reasoning token counts) --------------------------------

    def is_reasoning_end(self, input_ids: Sequence[int]) -> bool:
        """Whether the ids (a prompt: its last turn only) leave no reasoning to come: a `<think>` there was closed,
        or none was opened and the request is not in reasoning mode. vLLM's structured outputs start here."""
        ids = list(input_ids)
        last_turn = max((_last_index(ids, t) for t in self.turn_start_ids), default=-1)
        ids = ids[last_turn + 1 :]
        opened = _last_index(ids, self.think_open_id)
        closed = _last_index(ids, self.think_close_id)
        if opened < 0 and closed < 0:
            return not self.thinking
        return closed > opened

    def is_reasoning_end_streaming(self, input_ids: Sequence[int], delta_ids: Any) -> bool:
        return self.think_close_id is not None and self.think_close_id in list(delta_ids)

    def extract_content_ids(self, input_ids: list[int]) -> list[int]:
        closed = _last_index(input_ids, self.think_close_id)
        return input_ids[closed + 1 :] if closed >= 0 else input_ids

    def count_reasoning_tokens(self, token_ids: Sequence[int]) -> int:
        ids = list(token_ids)
        if self.think_open_id not in ids:
            return 0
        start = ids.index(self.think_open_id) + 1
        end = ids.index(self.think_close_id, start) if self.think_close_id in ids[start:] else len(ids)
        return end - start

    # -- text ---------------------------------------------------------------------------------------------------

    def extract_reasoning(self, model_output: str, request: Any) -> tuple[str | None, str | None]:
        parsed = parse(model_output, tools_in_reasoning=self.tools_in_reasoning)
        content = content_with_rejected(parsed.content, rejected_call_texts(model_output, parsed))
        self.batch = (content, parsed)
        return parsed.reasoning, content

    def extract_reasoning_streaming(self, previous_text: str, current_text: str, delta_text: str,
                                    previous_token_ids: Sequence[int], current_token_ids: Sequence[int],
                                    delta_token_ids: Sequence[int]) -> DeltaMessage | None:
        return self.stream.feed(delta_text)

    def has_engine_confirmed_reasoning_end(self) -> bool:
        return False  # this parser reads the whole output itself (see the module docstring)

    def finish_streaming(self) -> DeltaMessage | None:
        return self.stream.finish()


class _Hermes4Tools(ToolParser):
    engine_based_streaming = True
    supports_required_and_named = True
    tools_in_reasoning = False
    skip_reasoning_parsing = False  # vLLM sets it when no reasoning parser runs; hermes4 still splits <think>

    def __init__(self, tokenizer: Any, tools: Any = None) -> None:
        super().__init__(tokenizer, tools)
        # The reasoning parser of the same request is built just before this one (vLLM's Parser.__init__, no
        # await between them): its batch parse is reused, so there is one reading of the output per request.
        sibling = _Sibling.last
        _Sibling.last = None
        self.sibling = sibling if sibling is not None and sibling.model_tokenizer is tokenizer else None
        self.stream = OutputStream(tools_in_reasoning=self.tools_in_reasoning)

    def extract_tool_calls(self, model_output: str, request: Any) -> ExtractedToolCallInformation:
        batch = self.sibling.batch if self.sibling is not None else None
        if batch is not None and batch[0] == model_output:
            content, parsed = batch
        else:  # no hermes4 reasoning parser ran: read the output here
            parsed = parse(model_output, tools_in_reasoning=self.tools_in_reasoning)
            content = content_with_rejected(parsed.content, rejected_call_texts(model_output, parsed))
        calls = [vllm_tool_call(call) for call in parsed.tool_calls]
        return ExtractedToolCallInformation(tools_called=bool(calls), tool_calls=calls, content=content or None)

    def extract_tool_calls_streaming(self, previous_text: str, current_text: str, delta_text: str,
                                     previous_token_ids: Sequence[int], current_token_ids: Sequence[int],
                                     delta_token_ids: Sequence[int], request: Any) -> DeltaMessage | None:
        return self.stream.feed(delta_text)

    def finish_streaming(self) -> DeltaMessage | None:
        return self.stream.finish()


class _Sibling:
    last: _Hermes4Reasoning | None = None


def _last_index(ids: list[int], token_id: int | None) -> int:
    if token_id is None:
        return -1
    for i in range(len(ids) - 1, -1, -1):
        if ids[i] == token_id:
            return i
    return -1


class Hermes4ReasoningParser(_Hermes4Reasoning):
    """`<think>` reasoning; tool calls written inside it are reasoning text."""


class Hermes4InterleavedReasoningParser(_Hermes4Reasoning):
    """`<think>` reasoning; tool calls written inside it are calls (interleaved tool use)."""

    tools_in_reasoning = True


class Hermes4ToolParser(_Hermes4Tools):
    """`<tool_call>{json}</tool_call>` read by hermes4's string-aware parser."""


class Hermes4InterleavedToolParser(_Hermes4Tools):
    """The same, with calls inside `<think>` read as calls."""

    tools_in_reasoning = True


# Registered eagerly: vLLM imports this file by path (`--*-parser-plugin FILE`), under a module name that a lazy
# registration could not import again.
ReasoningParserManager.register_module("hermes4", module=Hermes4ReasoningParser)
ReasoningParserManager.register_module("hermes4-interleaved", module=Hermes4InterleavedReasoningParser)
ToolParserManager.register_module("hermes4", module=Hermes4ToolParser)
ToolParserManager.register_module("hermes4-interleaved", module=Hermes4InterleavedToolParser)
