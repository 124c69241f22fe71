"""The scripted teacher on composed IFEval prompts: the composer's solver writes the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes4.envs.ifeval.composer import solve
from hermes4.envs.ifeval.instructions import INSTRUCTIONS_BY_ID, follows
from hermes4.envs.ifeval.reader import read_prompt

if TYPE_CHECKING:
    from hermes4.envs.procedural.teacher_model import TeacherContext


def teach(ctx: TeacherContext) -> str | None:
    """A response following every instruction of the prompt (or, for a planted mistake, all but one)."""
    from hermes4.envs.procedural.teacher_model import _compose

    read = read_prompt(ctx.task_text)
    if read is None:
        return None
    base, spec = read
    plan = "\n".join(f"- {INSTRUCTIONS_BY_ID[i].describe(k)}" for i, k in spec)
    reasoning = f"The request: {base}\nThe constraints I must satisfy:\n{plan}\nI draft a response and check each one."
    if ctx.mistaken:
        # Drop one instruction and keep the draft only if it really breaks that instruction.
        for index in ctx.rng.sample(range(len(spec)), len(spec)):
            dropped_id, dropped_kwargs = spec[index]
            draft = solve(spec[:index] + spec[index + 1 :], base, ctx.rng) if len(spec) > 1 else base
            if draft is not None and not follows(dropped_id, draft, dropped_kwargs):
                return _compose(ctx, reasoning, draft)
        return _compose(ctx, reasoning, "")  # an empty answer follows nothing
    answer = solve(spec, base, ctx.rng)
    if answer is None:
        return None
    return _compose(ctx, reasoning, answer)
