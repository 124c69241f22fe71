"""The scripted teacher: a deterministic model function that solves the envs' generated tasks.

`teacher(request)` reads the conversation (or the rendered prompt of a raw completion), recognises a
procedural, answer-format, JSON-schema, composed-IFEval or tool-use task, and answers like a reasoning model would:
`<think>step-by-step trace</think>answer` with thinking on, a direct answer with it off. A configured
fraction of its answers carry a planted mistake, chosen deterministically from (seed, prompt,
sample_index, sampling seed), so the verifiers reject exactly those. In the interleaved tool loop it
emits a `python` tool call inside `<think>` and, when called again with the tool responses in the
partial assistant message, continues from them.

Configuration: `HERMES4_TEACHER_ERROR_RATE` (default 0.2) and `HERMES4_TEACHER_SEED` (default 0), or
`make_teacher(error_rate=..., seed=...)` for a function with its own settings.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hermes4.envs.procedural.tasks import recognise

if TYPE_CHECKING:
    from hermes4.llm import ScriptRequest

DEFAULT_ERROR_RATE = 0.2
_TOOL_RESPONSE = re.compile(r"<tool_response>\s*(.*?)\s*</tool_response>", re.DOTALL)


@dataclass
class TeacherContext:
    """What the teacher understood of a request."""

    task_text: str  # the last user message
    partial: str = ""  # assistant text already generated in this turn (raw completions / prefill)
    tool_responses: list[str] = field(default_factory=list)  # tool results received after the user message
    thinking: bool = False
    mistaken: bool = False
    rng: random.Random = field(default_factory=random.Random)
    variant: int = 0  # picks the wording of the trace, so correct samples of one item differ

    def opening(self) -> str:
        return _OPENINGS[self.variant % len(_OPENINGS)]

    @property
    def inside_think(self) -> bool:
        return self.partial.rfind("<think>") > self.partial.rfind("</think>")


def split_rendered_prompt(prompt: str) -> tuple[str, str, list[str]]:
    """(last user text, partial assistant text, tool responses after that user turn) from a ChatML or
    Llama-3 rendered prompt."""
    if "<|start_header_id|>" in prompt:
        turns = [t.split("<|end_header_id|>", 1) for t in prompt.split("<|start_header_id|>")[1:]]
        parsed = [(role.strip(), body.lstrip("\n")) for role, body in (t for t in turns if len(t) == 2)]
        end = "<|eot_id|>"
    else:
        turns = [t.split("\n", 1) for t in prompt.split("<|im_start|>")[1:]]
        parsed = [(t[0].strip(), t[1] if len(t) == 2 else "") for t in turns]
        end = "<|im_end|>"
    user_index = max((i for i, (role, _) in enumerate(parsed) if role == "user"), default=-1)
    if user_index < 0:
        return "", "", []
    user_text = parsed[user_index][1].split(end, 1)[0]
    after = parsed[user_index + 1 :]
    partial = ""
    if after and after[-1][0] == "assistant" and end not in after[-1][1]:
        partial = after[-1][1]
    responses = [r for _, body in after for r in _TOOL_RESPONSE.findall(body)]
    return user_text, partial, responses


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


def _context(request: ScriptRequest, error_rate: float, seed: int) -> TeacherContext:
    conversation = request.conversation
    if conversation is not None and conversation.messages:
        messages = conversation.messages
        user_index = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        task_text = messages[user_index].content or "" if user_index >= 0 else ""
        after = messages[user_index + 1 :]
        responses = []
        for m in after:
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
        from hermes4.chat import DEEP_THINKING_PROMPT

        thinking = DEEP_THINKING_PROMPT[:60] in prompt
    key = f"{seed}|{task_text}|{request.sample_index}|{request.sampling.seed}"
    rng = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
    mistaken = rng.random() < error_rate
    variant = int.from_bytes(hashlib.sha256(f"wording|{key}".encode()).digest()[:4], "big")
    return TeacherContext(task_text, partial, responses, thinking, mistaken, rng, variant)


def _compose(ctx: TeacherContext, reasoning: str, answer: str) -> str:
    """The output for this request, given the full reasoning and the final answer."""
    if not ctx.thinking:
        return answer
    if ctx.inside_think or ctx.partial.rstrip().endswith("<think>"):
        return f"{reasoning}\n</think>\n{answer}"
    if "</think>" in ctx.partial:
        return answer
    return f"<think>\n{reasoning}\n</think>\n{answer}"


def _procedural(ctx: TeacherContext) -> str | None:
    found = recognise(ctx.task_text)
    if found is None:
        return None
    task, params = found
    solution = task.solve(params, mistake=ctx.rng if ctx.mistaken else None)
    answer_line = f"Answer: {solution.answer}"
    from hermes4.envs.answer_format import format_for_prompt

    fmt = format_for_prompt(ctx.task_text)
    if fmt is not None:  # an answer-format item wraps a procedural question: answer in that format
        text = fmt.render(solution.answer)
        if ctx.mistaken:  # a format slip instead of a wrong value: that is what this env grades
            text = fmt.broken(solution.answer)
        return _compose(ctx, f"{ctx.opening()}\n{solution.trace()}", text)
    if ctx.thinking:
        return _compose(ctx, f"{ctx.opening()}\n{solution.trace()}", answer_line)
    return f"{solution.steps[-1]}\n{answer_line}"


def _teachers() -> list[Callable[[TeacherContext], str | None]]:
    from hermes4.envs.ifeval.teach import teach as ifeval_teach
    from hermes4.envs.json_schema import teach as json_schema_teach
    from hermes4.envs.tool_use import teach as tool_use_teach

    return [tool_use_teach, json_schema_teach, ifeval_teach, _procedural]


def make_teacher(error_rate: float | None = None, seed: int | None = None) -> Callable[[ScriptRequest], str]:
    """A teacher function with fixed settings (None: read the environment variables at call time)."""
    if error_rate is not None and not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must be within [0, 1], got {error_rate}")

    def teach(request: ScriptRequest) -> str:
        rate = error_rate if error_rate is not None else float(os.environ.get("HERMES4_TEACHER_ERROR_RATE", DEFAULT_ERROR_RATE))
        base_seed = seed if seed is not None else int(os.environ.get("HERMES4_TEACHER_SEED", "0"))
        ctx = _context(request, rate, base_seed)
        for responder in _teachers():
            out = responder(ctx)
            if out is not None:
                return out
        return _compose(ctx, "This is not a task I was built to solve.", "I can't solve this task.")

    teach.__name__ = "teacher"
    return teach


teacher = make_teacher()
teacher.__doc__ = "The procedural teacher with settings from HERMES4_TEACHER_ERROR_RATE / HERMES4_TEACHER_SEED."
perfect_teacher = make_teacher(error_rate=0.0)
