"""Rendering a conversation to prompt text plus the character spans that carry loss.

The format, decided here and mirrored exactly by the exported Jinja template (`hermes4.chat.template`):

System message. One system turn always opens the conversation. Its text is, joined by a blank line:
the deep-thinking prompt (when `thinking`), then the caller's system text (a `system` message at index 0),
then the tools block (when `tools`). With none of the three the text is `DEFAULT_SYSTEM_PROMPT`. With tools
but no system message and no thinking, the tools block stands alone (it opens with its own identity line).
An explicit system message with empty content and no thinking/tools gives an empty system turn: the way to
opt out of the default. A `system` message later in the conversation renders in place as its own turn.

Assistant turns. Body = think block + content + each call, where
- thinking off: no think block at all (reasoning is dropped);
- thinking on, reasoning shown: `<think>\\n{reasoning}\\n</think>\\n`; shown means the turn comes after the last
  user message (the current turn, e.g. the steps of a tool loop) or `keep_cots` is on;
- thinking on, reasoning not shown (an earlier turn without keep_cots, or a turn with no reasoning):
  `<think> </think>\\n`;
- the content as given (None is empty), then every call as `<tool_call>\\n{json}\\n</tool_call>` where json is
  `json.dumps({"name": ..., "arguments": {...}}, ensure_ascii=False)`; content and calls are joined by `\\n`.

Tool turns. Consecutive `tool` messages share one `tool` turn; each result is
`<tool_response>\\n{content}\\n</tool_response>`, results joined by `\\n`.

Loss spans. A trained assistant turn contributes one span: its body plus the end-of-turn token
(`<|im_end|>` / `<|eot_id|>`); never headers, system, user or tool text. By default every assistant turn is
trained except those whose reasoning was stripped (thinking on, keep_cots off, before the last user message):
such a turn is context, because training it would teach the model to emit empty thinking in reasoning
mode. `train_last_turn_only` keeps only the last assistant turn. A message's own `train` flag wins over both.
Inside shown reasoning, each `<tool_response>...</tool_response>` block (interleaved tool use: results the tool
loop wrote into the thinking) is cut out of the span, tags included: the model must not learn to write tool
results itself. A block runs from `<tool_response>` to the first `</tool_response>` after it (or to the end of
the reasoning when it never closes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from hermes4.chat.formats import ChatFormat, get_format
from hermes4.chat.messages import Conversation, Message, ToolCall
from hermes4.chat.prompts import (
    DEEP_THINKING_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    tools_system_prompt,
)

EMPTY_THINK = "<think> </think>\n"
THINK_OPEN = "<think>\n"
TOOL_RESPONSE_BLOCK = re.compile(r"<tool_response>.*?(?:</tool_response>|\Z)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Rendered:
    """Prompt text and the half-open character ranges `[start, end)` of it that carry loss, in order."""

    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)

    def trained_text(self) -> list[str]:
        return [self.text[start:end] for start, end in self.spans]


def tool_call_json(call: ToolCall) -> str:
    """A call as the JSON between `<tool_call>` tags; key order and escaping match Jinja's `tojson`."""
    return json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)


def system_text(conversation: Conversation, *, thinking: bool) -> tuple[str, bool]:
    """The system turn's text and whether messages[0] (a system message) was consumed by it."""
    messages = conversation.messages
    has_system = bool(messages) and messages[0].role == "system"
    parts = []
    if thinking:
        parts.append(DEEP_THINKING_PROMPT)
    if has_system and messages[0].content:
        parts.append(messages[0].content)
    if conversation.tools:
        parts.append(tools_system_prompt(conversation.tools))
    if parts:
        return "\n\n".join(parts), has_system
    return ("" if has_system else DEFAULT_SYSTEM_PROMPT), has_system


def assistant_body(message: Message, *, thinking: bool, show_reasoning: bool) -> str:
    out = ""
    if thinking:
        reasoning = message.reasoning_content
        out = f"{THINK_OPEN}{reasoning}\n</think>\n" if show_reasoning and reasoning else EMPTY_THINK
    content = message.content or ""
    pieces = [content] if content else []
    pieces.extend(f"<tool_call>\n{tool_call_json(call)}\n</tool_call>" for call in message.tool_calls or ())
    return out + "\n".join(pieces)


def _without(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`[start, end)` minus the sorted, disjoint `holes` inside it, as non-empty spans."""
    pieces = []
    for hole_start, hole_end in holes:
        if hole_start > start:
            pieces.append((start, hole_start))
        start = hole_end
    if end > start:
        pieces.append((start, end))
    return pieces


def render(
    conversation: Conversation,
    *,
    format: str | ChatFormat = "chatml",
    thinking: bool | None = None,
    keep_cots: bool | None = None,
    add_generation_prompt: bool = False,
    train_last_turn_only: bool = False,
) -> Rendered:
    """Render `conversation` in `format`. None for thinking/keep_cots takes the conversation's value, else False."""
    fmt = format if isinstance(format, ChatFormat) else get_format(format)
    thinking = bool(conversation.thinking if thinking is None else thinking)
    keep_cots = bool(conversation.keep_cots if keep_cots is None else keep_cots)
    messages = conversation.messages

    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    last_assistant = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
    end, after = fmt.end_of_turn, fmt.after_turn

    system, consumed = system_text(conversation, thinking=thinking)
    chunks = [fmt.begin, fmt.header("system"), system, end, after]
    length = sum(map(len, chunks))
    spans: list[tuple[int, int]] = []

    index = 1 if consumed else 0
    while index < len(messages):
        message = messages[index]
        if message.role == "tool":
            results = []
            while index < len(messages) and messages[index].role == "tool":
                results.append(f"<tool_response>\n{messages[index].content or ''}\n</tool_response>")
                index += 1
            turn = (fmt.header("tool"), "\n".join(results), end, after)
            chunks.extend(turn)
            length += sum(map(len, turn))
            continue
        header = fmt.header(message.role)
        if message.role == "assistant":
            stripped = thinking and not keep_cots and index < last_user
            body = assistant_body(message, thinking=thinking, show_reasoning=not stripped)
            if message.train is not None:
                trained = message.train
            else:
                trained = not stripped and (not train_last_turn_only or index == last_assistant)
            if trained:
                start = length + len(header)
                shown = (thinking and not stripped and message.reasoning_content) or ""
                holes = [(start + len(THINK_OPEN) + m.start(), start + len(THINK_OPEN) + m.end())
                         for m in TOOL_RESPONSE_BLOCK.finditer(shown)]
                spans.extend(_without(start, start + len(body) + len(end), holes))
        else:
            body = message.content or ""
        turn = (header, body, end, after)
        chunks.extend(turn)
        length += sum(map(len, turn))
        index += 1

    if add_generation_prompt:
        chunks.append(fmt.generation_prompt)
    return Rendered("".join(chunks), spans)
