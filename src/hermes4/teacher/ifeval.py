"""The teacher on composed IFEval prompts: the composer's solver writes the answer; a planted mistake drops one
instruction and keeps the draft only if it really breaks it."""

from __future__ import annotations

from hermes4.envs.ifeval.composer import solve
from hermes4.envs.ifeval.instructions import INSTRUCTIONS_BY_ID, follows
from hermes4.envs.ifeval.reader import read_prompt
from hermes4.teacher.context import TeacherContext


def respond(ctx: TeacherContext) -> str | None:
    """A response following every instruction of the prompt (or, for a planted mistake, all but one)."""
    read = read_prompt(ctx.task_text)
    if read is None:
        return None
    base, spec = read
    plan = "\n".join(f"- {INSTRUCTIONS_BY_ID[i].describe(k)}" for i, k in spec)
    reasoning = f"The request: {base}\nThe constraints I must satisfy:\n{plan}\nI draft a response and check each one."
    if ctx.mistaken:
        for index in ctx.rng.sample(range(len(spec)), len(spec)):
            dropped_id, dropped_kwargs = spec[index]
            draft = solve(spec[:index] + spec[index + 1 :], base, ctx.rng) if len(spec) > 1 else base
            if draft is not None and not follows(dropped_id, draft, dropped_kwargs):
                return ctx.compose(reasoning, draft)
        return ctx.compose(reasoning, "")  # an empty answer follows nothing
    answer = solve(spec, base, ctx.rng)
    if answer is None:
        return None
    return ctx.compose(reasoning, answer)
