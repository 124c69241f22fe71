"""The tool loops: turn-based (`tool_loop`) and interleaved inside one `<think>` block (`interleaved_tool_loop`).

Turn-based: the model answers a turn; its tool calls are checked against each tool's schema and run
(concurrently when the tools are async); each result becomes a `tool` message carrying the call's
`tool_call_id`; the model is asked again, until it answers without calls or `max_turns` is reached.
Unknown tools, invalid arguments and exceptions come back to the model as `{"error": ...}` results.

Interleaved (Hermes 4 trains tool use inside the reasoning): the assistant turn is generated as a
raw completion of the rendered prompt, stopping at `</tool_call>`. A call written inside `<think>`
is run at once, and `</tool_call>\\n<tool_response>\\n{result}\\n</tool_response>\\n` is appended to
the same assistant text before generation continues. The finished assistant message is recorded
with the whole think block verbatim as its `reasoning_content`, calls and responses included in
order, and no `tool_calls` for them: rendering the conversation again
(`<think>\\n{reasoning}\\n</think>\\n{content}`) reproduces the text the model saw and wrote, so the
record trains exactly what was generated. Each inline call is also listed in `LoopResult.exchanges`
(`inline=True`). Calls the model writes after `</think>` are ordinary turn-level calls and are
handled as in the turn-based loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hermes4.agent.tools import ToolRegistry, ToolResult, error_content
from hermes4.chat import render
from hermes4.chat.messages import Conversation, Message
from hermes4.llm import LLM, Completion, Sampling
from hermes4.parse import ParsedOutput, parse

LoopFinish = Literal["answer", "max_turns", "length", "unreadable_tool_call"]

CALL_CLOSE = "</tool_call>"


@dataclass
class ToolExchange:
    """One call and what came back, in the order they happened."""

    turn: int  # index of the assistant turn (0-based) that made the call
    call_id: str
    name: str
    arguments: dict[str, Any]
    content: str  # the tool response text the model saw
    error: str | None  # None when the tool ran and returned
    inline: bool = False  # True: made inside <think> and answered inside the same assistant message


@dataclass
class LoopResult:
    conversation: Conversation  # the input conversation plus every message the loop added
    messages: list[Message]  # only the added messages: assistant turns and tool results
    exchanges: list[ToolExchange]
    completions: list[Completion]  # every model call, in order (several per turn in the interleaved loop)
    finish: LoopFinish
    turns: int  # assistant turns generated

    @property
    def final_message(self) -> Message | None:
        return next((m for m in reversed(self.messages) if m.role == "assistant"), None)

    @property
    def answer(self) -> str:
        """The content of the last assistant message (empty when the loop ended without one)."""
        message = self.final_message
        return (message.content or "") if message else ""

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.completions)


def _single(sampling: Sampling | None, *, extra_stop: list[str] | None = None, max_tokens: int | None = None) -> Sampling:
    base = sampling or Sampling()
    update: dict[str, Any] = {"n": 1}
    if extra_stop:
        update["stop"] = [*base.stop, *[s for s in extra_stop if s not in base.stop]]
    if max_tokens is not None:
        update["max_tokens"] = max_tokens
    return base.model_copy(update=update)


def _with_tools(conversation: Conversation, registry: ToolRegistry) -> Conversation:
    # The caller's own tool descriptions win; otherwise the registry's are shown to the model.
    copy = conversation.model_copy(deep=True)
    if not copy.tools:
        copy.tools = registry.specs()
    return copy


def _unique_ids(message: Message, taken: set[str], turn: int) -> None:
    for index, call in enumerate(message.tool_calls or ()):
        call_id = call.id or f"call_{turn}_{index}"
        while call_id in taken:
            call_id = f"{call_id}_{turn}"
        call.id = call_id
        taken.add(call_id)


def _existing_ids(conversation: Conversation) -> set[str]:
    return {call.id for m in conversation.messages for call in (m.tool_calls or ()) if call.id}


async def _run_turn_calls(
    message: Message, registry: ToolRegistry, turn: int, parallel: bool
) -> tuple[list[Message], list[ToolExchange]]:
    calls = [(call.name, call.arguments, call.id) for call in message.tool_calls or ()]
    if parallel:
        results = await registry.call_many(calls)
    else:
        results = [await registry.call(name, args, call_id=cid) for name, args, cid in calls]
    exchanges = [_exchange(result, turn, inline=False) for result in results]
    return [result.to_message() for result in results], exchanges


def _exchange(result: ToolResult, turn: int, *, inline: bool) -> ToolExchange:
    return ToolExchange(turn, result.call_id or "", result.name, result.arguments, result.content, result.error, inline)


def _unreadable_calls(parsed: ParsedOutput) -> bool:
    return any(issue.kind in ("unreadable_tool_call", "missing_name") for issue in parsed.issues)


async def tool_loop(
    llm: LLM,
    conversation: Conversation,
    registry: ToolRegistry,
    *,
    sampling: Sampling | None = None,
    thinking: bool | None = None,
    max_turns: int = 8,
    parallel: bool = True,
) -> LoopResult:
    """Generate, run the calls, append the results, repeat until an answer without calls or `max_turns` turns.

    On the last allowed turn, calls the model makes are recorded but not run (nothing would read
    their results), and the loop ends with `finish="max_turns"`. A turn cut by `max_tokens` ends the
    loop with `finish="length"`; a turn whose only calls could not be read ends it with
    `finish="unreadable_tool_call"` (the parse issues are in the completion).
    """
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}")
    conv = _with_tools(conversation, registry)
    think = bool(conv.thinking) if thinking is None else thinking
    request = _single(sampling)
    added: list[Message] = []
    exchanges: list[ToolExchange] = []
    completions: list[Completion] = []
    taken = _existing_ids(conv)
    finish: LoopFinish = "max_turns"
    turn = 0
    for turn in range(max_turns):
        completion = (await llm.chat(conv, sampling=request, thinking=think))[0]
        completions.append(completion)
        message = completion.parsed.to_message()
        _unique_ids(message, taken, turn)
        conv.messages.append(message)
        added.append(message)
        if completion.finish_reason == "length":
            finish = "length"
            break
        if not message.tool_calls:
            finish = "unreadable_tool_call" if _unreadable_calls(completion.parsed) else "answer"
            break
        if turn == max_turns - 1:
            break
        tool_messages, turn_exchanges = await _run_turn_calls(message, registry, turn, parallel)
        conv.messages.extend(tool_messages)
        added.extend(tool_messages)
        exchanges.extend(turn_exchanges)
    return LoopResult(conv, added, exchanges, completions, finish, turn + 1)


@dataclass
class _InlineState:
    text: str = ""  # the assistant text so far, as the model saw it
    tokens: int = 0
    calls: int = 0
    completions: list[Completion] = field(default_factory=list)
    exchanges: list[ToolExchange] = field(default_factory=list)


def _call_ending_at(candidate: str) -> tuple[str, Any]:
    """What `candidate` (the text so far plus `</tool_call>`) has at its end: a call, an incomplete one, or junk."""
    parsed = parse(candidate, tools_in_reasoning=True)
    end = len(candidate)
    for call in parsed.tool_calls:
        if call.end == end:
            return "call", call
    for issue in parsed.issues:
        if issue.end >= end - len(CALL_CLOSE) and issue.kind == "truncated_tool_call":
            return "incomplete", issue
    for issue in parsed.issues:
        if issue.end >= end - len(CALL_CLOSE) and issue.kind in ("unreadable_tool_call", "missing_name", "arguments_not_object"):
            return "unreadable", issue
    return "none", None


async def _interleaved_turn(
    llm: LLM,
    prompt: str,
    registry: ToolRegistry,
    sampling: Sampling,
    turn: int,
    max_tool_calls: int,
    taken: set[str],
) -> tuple[_InlineState, str]:
    """Generate one assistant message, answering calls inside <think> in place. Returns the state and why it ended."""
    state = _InlineState()
    # Every segment after a tool response is a continuation of the same message, so the token budget
    # is shared by the message, as when an engine generates it in one go.
    max_segments = 2 * max_tool_calls + 8
    for _ in range(max_segments):
        remaining = sampling.max_tokens - state.tokens
        if remaining <= 0:
            return state, "length"
        request = _single(sampling, extra_stop=[CALL_CLOSE], max_tokens=remaining)
        completion = (await llm.complete(prompt + state.text, sampling=request))[0]
        state.completions.append(completion)
        state.tokens += completion.completion_tokens
        state.text += completion.text
        if completion.finish_reason == "length":
            return state, "length"
        # The engine removes the stop string, so whether it stopped at `</tool_call>` or at the end of
        # the turn shows only in the text: does closing a call here complete one (string-aware)?
        candidate = state.text + CALL_CLOSE
        kind, found = _call_ending_at(candidate)
        if kind == "none":
            return state, "end"  # the model ended its turn
        if kind == "incomplete":
            # `</tool_call>` was text inside a JSON string: put it back and let the model go on.
            state.text = candidate
            continue
        if kind == "call" and not found.in_reasoning:
            state.text = candidate  # a turn-level call after </think>: answered after the message, in a tool turn
            continue
        if kind == "call":
            call_id = f"call_{turn}_{state.calls}"
            while call_id in taken:
                call_id += "_"
            taken.add(call_id)
            if state.calls >= max_tool_calls:
                message = f"tool call limit of {max_tool_calls} reached in this message; continue without tools"
                result = ToolResult(found.name, found.arguments, error_content(message), call_id, message)
            else:
                result = await registry.call(found.name, found.arguments, call_id=call_id)
        else:
            call_id = f"call_{turn}_{state.calls}"
            detail = found.message
            message = f"could not read the tool call ({detail}); write it as {{\"name\": ..., \"arguments\": {{...}}}}"
            result = ToolResult("", {}, error_content(message), call_id, message)
        state.calls += 1
        state.exchanges.append(_exchange(result, turn, inline=True))
        state.text = f"{candidate}\n<tool_response>\n{result.content}\n</tool_response>\n"
    return state, "max_segments"


async def interleaved_tool_loop(
    llm: LLM,
    conversation: Conversation,
    registry: ToolRegistry,
    *,
    sampling: Sampling | None = None,
    format: str | None = None,
    max_tool_calls: int = 16,
    max_turns: int = 4,
    parallel: bool = True,
) -> LoopResult:
    """Tool use inside one `<think>` block (see the module docstring for how the result is recorded).

    `format` is the chat format the model was trained on (default: the engine's own `format`
    attribute when it has one, else ChatML). Thinking is always on. `sampling.max_tokens` bounds
    each assistant message as a whole (tool responses do not count). Inline calls beyond
    `max_tool_calls` in one message are answered with an error asking the model to go on without
    tools. Turn-level calls (after `</think>`) are run as in `tool_loop`, up to `max_turns` turns.
    """
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}")
    chat_format = format or getattr(llm, "format", None) or "chatml"
    conv = _with_tools(conversation, registry)
    conv.thinking = True
    base = _single(sampling)
    added: list[Message] = []
    exchanges: list[ToolExchange] = []
    completions: list[Completion] = []
    taken = _existing_ids(conv)
    finish: LoopFinish = "max_turns"
    turn = 0
    for turn in range(max_turns):
        prompt = render(conv, format=chat_format, thinking=True, add_generation_prompt=True).text
        state, ended = await _interleaved_turn(llm, prompt, registry, base, turn, max_tool_calls, taken)
        completions.extend(state.completions)
        exchanges.extend(state.exchanges)
        # Parsed without tools_in_reasoning, the whole think block (calls and responses) stays reasoning text.
        parsed = parse(state.text)
        message = parsed.to_message()
        _unique_ids(message, taken, turn)
        conv.messages.append(message)
        added.append(message)
        if ended in ("length", "max_segments") or parsed.truncated:
            finish = "length" if ended != "max_segments" else "max_turns"
            break
        if not message.tool_calls:
            finish = "unreadable_tool_call" if _unreadable_calls(parsed) else "answer"
            break
        if turn == max_turns - 1:
            break
        tool_messages, turn_exchanges = await _run_turn_calls(message, registry, turn, parallel)
        conv.messages.extend(tool_messages)
        added.extend(tool_messages)
        exchanges.extend(turn_exchanges)
    return LoopResult(conv, added, exchanges, completions, finish, turn + 1)
