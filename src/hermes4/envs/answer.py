"""What a verifier may look at: the final answer (text after `</think>`), never the reasoning."""

from __future__ import annotations

import re

from hermes4.envs.base import Trajectory

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_TOOL_CALL = re.compile(r"<tool_call>.*?(</tool_call>|$)", re.DOTALL)


def final_message_text(trajectory: Trajectory) -> str:
    """The content of the last assistant message ("" when there is none)."""
    for message in reversed(trajectory.messages):
        if message.role == "assistant":
            return message.content or ""
    return ""


def strip_reasoning(text: str) -> str:
    """Text after the last `</think>`; "" when a `<think>` is still open (all of it is reasoning)."""
    if THINK_CLOSE in text:
        return text.rsplit(THINK_CLOSE, 1)[1]
    if THINK_OPEN in text:
        return ""
    return text


def final_answer(trajectory: Trajectory, *, strip: bool = True) -> str:
    """The answer the verifier judges: the last assistant content with any reasoning and tool calls removed.

    Reasoning parsed into `reasoning_content` is never consulted, so an answer written only inside
    `<think>` counts as no answer at all.
    """
    text = _TOOL_CALL.sub("", strip_reasoning(final_message_text(trajectory)))
    return text.strip() if strip else text


def raw_output(trajectory: Trajectory) -> str:
    """The model's raw text for the final turn: the completion text when present, else rebuilt from the message."""
    if trajectory.completions:
        text = getattr(trajectory.completions[-1], "text", None)
        if isinstance(text, str):
            return text
    for message in reversed(trajectory.messages):
        if message.role == "assistant":
            content = message.content or ""
            if message.reasoning_content is not None:
                return f"{THINK_OPEN}{message.reasoning_content}{THINK_CLOSE}{content}"
            return content
    return ""


def think_structure(raw: str) -> str | None:
    """None when `raw` is exactly one `<think>…</think>` block at the start followed by a non-empty answer;
    otherwise a short reason (for verdict details)."""
    body = raw.lstrip()
    opens, closes = body.count(THINK_OPEN), body.count(THINK_CLOSE)
    if opens == 0 and closes == 0:
        return "no think block"
    if opens != 1 or closes != 1:
        return f"expected exactly one think block, found {opens} <think> and {closes} </think>"
    if not body.startswith(THINK_OPEN):
        return "text before <think>"
    if body.index(THINK_CLOSE) < body.index(THINK_OPEN):
        return "</think> before <think>"
    reasoning, answer = body[len(THINK_OPEN) :].split(THINK_CLOSE, 1)
    if not reasoning.strip():
        return "empty think block"
    if not answer.strip():
        return "nothing after </think>"
    return None
