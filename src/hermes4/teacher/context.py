"""What the scripted teacher understood of one request, read from the conversation or the rendered prompt, and how
it writes an answer (thinking on or off, continuing a partial assistant turn)."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hermes4.chat.formats import FORMATS, ChatFormat
from hermes4.chat.prompts import DEEP_THINKING_PROMPT

if TYPE_CHECKING:
    from hermes4.llm import ScriptRequest

_TOOL_RESPONSE = re.compile(r"<tool_response>\s*(.*?)\s*</tool_response>", re.DOTALL)

# Several correct samples of one item must be distinct reasoning paths (the sampler keeps k distinct ones),
# as a real teacher's would be; the wording varies, the steps do not.
_OPENINGS = (
    "Let me work through this step by step.",
    "I'll solve this carefully, one step at a time.",
    "Let me break the problem into steps.",
    "Working it out in order:",
    "I will compute this methodically.",
    "Step by step, then.",
    "Let me reason it through.",
    "Carefully, from the start:",
)


@dataclass
class TeacherContext:
    """What the teacher understood of a request."""

    task_text: str  # the last user message
    partial: str = ""  # assistant text already generated in this turn (raw completions / prefill)
    tool_responses: list[str] = field(default_factory=list)  # tool results received after the user message
    thinking: bool = False
    mistaken: bool = False  # this answer carries a planted mistake (the responder decides which)
    rng: random.Random = field(default_factory=random.Random)
    variant: int = 0  # picks the wording of the trace, so correct samples of one item differ

    def opening(self) -> str:
        return _OPENINGS[self.variant % len(_OPENINGS)]

    @property
    def inside_think(self) -> bool:
        return self.partial.rfind("<think>") > self.partial.rfind("</think>")

    def compose(self, reasoning: str, answer: str) -> str:
        """The output for this request, given the full reasoning and the final answer."""
        if not self.thinking:
            return answer
        if self.inside_think or self.partial.rstrip().endswith("<think>"):
            return f"{reasoning}\n</think>\n{answer}"
        if "</think>" in self.partial:
            return answer
        return f"<think>\n{reasoning}\n</think>\n{answer}"


@dataclass(frozen=True)
class Turn:
    """One turn of a rendered prompt: its role, its text, and whether its end-of-turn token was written."""

    role: str
    body: str
    closed: bool


def format_of(prompt: str) -> ChatFormat | None:
    """The chat format a rendered prompt was written in: the one whose turn header comes first in it."""
    found = [(prompt.find(fmt.header_open), fmt.name) for fmt in FORMATS.values() if fmt.header_open in prompt]
    return FORMATS[min(found)[1]] if found else None


def read_turns(prompt: str) -> list[Turn]:
    """The turns of a prompt rendered in one of the chat formats (an open last turn has `closed=False`)."""
    fmt = format_of(prompt)
    if fmt is None:
        return []
    turns = []
    for piece in prompt.split(fmt.header_open)[1:]:
        role, _, rest = piece.partition(fmt.header_close)
        body, closed, _ = rest.partition(fmt.end_of_turn)
        turns.append(Turn(role.strip(), body, bool(closed)))
    return turns


def split_rendered_prompt(prompt: str) -> tuple[str, str, list[str]]:
    """(last user text, partial assistant text, tool responses after that user turn) of a rendered prompt."""
    turns = read_turns(prompt)
    user_index = max((i for i, turn in enumerate(turns) if turn.role == "user"), default=-1)
    if user_index < 0:
        return "", "", []
    after = turns[user_index + 1 :]
    partial = after[-1].body if after and after[-1].role == "assistant" and not after[-1].closed else ""
    responses = [r for turn in after for r in _TOOL_RESPONSE.findall(turn.body)]
    return turns[user_index].body, partial, responses


def _asks_for_thinking(prompt: str) -> bool:
    """The rendered system turn opens with the deep-thinking prompt (how the renderer writes `thinking=True`)."""
    return any(turn.role == "system" and turn.body.startswith(DEEP_THINKING_PROMPT) for turn in read_turns(prompt))


def read_request(request: ScriptRequest, error_rate: float, seed: int) -> TeacherContext:
    """The context of one request; whether it is mistaken is drawn from (seed, task, sample index, sampling seed)."""
    conversation = request.conversation
    if conversation is not None and conversation.messages:
        messages = conversation.messages
        user_index = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        task_text = messages[user_index].content or "" if user_index >= 0 else ""
        responses = []
        for m in messages[user_index + 1 :]:
            if m.role == "tool":
                responses.extend(_TOOL_RESPONSE.findall(m.content or "") or [m.content or ""])
            elif m.role == "assistant":
                responses.extend(_TOOL_RESPONSE.findall(m.reasoning_content or "") + _TOOL_RESPONSE.findall(m.content or ""))
        partial = ""
        _, raw_partial, raw_responses = split_rendered_prompt(request.prompt or "")
        if raw_partial:  # a prefilled assistant turn is only visible in the rendered prompt
            partial = raw_partial
            responses = responses or raw_responses
    else:
        task_text, partial, responses = split_rendered_prompt(request.prompt or "")
    # A raw completion carries no thinking flag: the rendered prompt tells (the deep-thinking system
    # prompt, or a think block already open in the partial assistant message).
    prompt = request.prompt or ""
    thinking = bool(request.thinking) or "<think>" in partial or prompt.rstrip().endswith("<think>")
    if not thinking and conversation is None:
        thinking = _asks_for_thinking(prompt)
    key = f"{seed}|{task_text}|{request.sample_index}|{request.sampling.seed}"
    rng = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
    mistaken = rng.random() < error_rate
    variant = int.from_bytes(hashlib.sha256(f"wording|{key}".encode()).digest()[:4], "big")
    return TeacherContext(task_text, partial, responses, thinking, mistaken, rng, variant)
