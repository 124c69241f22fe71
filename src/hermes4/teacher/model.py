"""The scripted teacher as a model function: `make_teacher(error_rate, seed)` and the ready-made `teacher`.

`teacher(request)` reads the conversation (or the rendered prompt of a raw completion), recognises a procedural,
answer-format, JSON-schema, composed-IFEval or tool-use task, and answers like a reasoning model would:
`<think>step-by-step trace</think>answer` with thinking on, a direct answer with it off. A configured fraction of its
answers carry a planted mistake, chosen deterministically from (seed, prompt, sample_index, sampling seed), so the
verifiers reject exactly those. In the interleaved tool loop it emits a `python` tool call inside `<think>` and, when
called again with the tool responses in the partial assistant message, continues from them.

Configuration: `HERMES4_TEACHER_ERROR_RATE` (default 0.2) and `HERMES4_TEACHER_SEED` (default 0), or
`make_teacher(error_rate=..., seed=...)` for a function with its own settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from hermes4.teacher import ifeval, json_schema, procedural, tool_use
from hermes4.teacher.context import TeacherContext, read_request

if TYPE_CHECKING:
    from hermes4.llm import ScriptRequest

DEFAULT_ERROR_RATE = 0.2

# Tried in order; the first that recognises the task answers. Tool use and JSON schema come first because their
# prompts can embed a procedural question.
RESPONDERS: tuple[Callable[[TeacherContext], str | None], ...] = (tool_use.respond, json_schema.respond, ifeval.respond, procedural.respond)


def make_teacher(error_rate: float | None = None, seed: int | None = None) -> Callable[[ScriptRequest], str]:
    """A teacher function with fixed settings (None: read the environment variables at call time)."""
    if error_rate is not None and not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must be within [0, 1], got {error_rate}")

    def teach(request: ScriptRequest) -> str:
        rate = error_rate if error_rate is not None else float(os.environ.get("HERMES4_TEACHER_ERROR_RATE", DEFAULT_ERROR_RATE))
        base_seed = seed if seed is not None else int(os.environ.get("HERMES4_TEACHER_SEED", "0"))
        ctx = read_request(request, rate, base_seed)
        for responder in RESPONDERS:
            out = responder(ctx)
            if out is not None:
                return out
        return ctx.compose("This is not a task I was built to solve.", "I can't solve this task.")

    teach.__name__ = "teacher"
    return teach


teacher = make_teacher()
teacher.__doc__ = "The scripted teacher with settings from HERMES4_TEACHER_ERROR_RATE / HERMES4_TEACHER_SEED."
perfect_teacher = make_teacher(error_rate=0.0)
