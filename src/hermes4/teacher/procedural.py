"""The teacher on procedural and answer-format items: the task's own solver writes the trace; a planted mistake is a
slipped step (procedural) or a near-miss format (answer format, the thing that env grades)."""

from __future__ import annotations

from hermes4.envs.answer_format import format_for_prompt
from hermes4.envs.procedural.tasks import recognise
from hermes4.teacher.context import TeacherContext


def respond(ctx: TeacherContext) -> str | None:
    found = recognise(ctx.task_text)
    if found is None:
        return None
    task, params = found
    # The slip must propagate through the step-by-step trace, which only the solver computes: it takes the RNG
    # that places it. Everything else about planting (whether, how often, with which seed) is decided here.
    solution = task.solve(params, mistake=ctx.rng if ctx.mistaken else None)
    answer_line = f"Answer: {solution.answer}"
    fmt = format_for_prompt(ctx.task_text)
    if fmt is not None:  # an answer-format item wraps a procedural question: answer in that format
        text = fmt.broken(solution.answer) if ctx.mistaken else fmt.render(solution.answer)
        return ctx.compose(f"{ctx.opening()}\n{solution.trace()}", text)
    if ctx.thinking:
        return ctx.compose(f"{ctx.opening()}\n{solution.trace()}", answer_line)
    return f"{solution.steps[-1]}\n{answer_line}"
