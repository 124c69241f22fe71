"""The teacher on tool-use items: call `python` first, then answer from its output; a planted mistake ignores the
tool and guesses."""

from __future__ import annotations

import json
import re

from hermes4.envs.tool_use import TOOL_HINT, recognise_computation
from hermes4.teacher.context import TeacherContext

_INTEGER = re.compile(r"-?\d+")


def respond(ctx: TeacherContext) -> str | None:
    found = recognise_computation(ctx.task_text)
    if found is None or TOOL_HINT not in ctx.task_text:
        return None
    comp, params = found
    if not ctx.tool_responses:
        call = json.dumps({"name": "python", "arguments": {"code": comp.program(params)}})
        preamble = "This needs an exact computation, so I will run Python."
        if ctx.thinking:
            prefix = "" if (ctx.inside_think or ctx.partial.rstrip().endswith("<think>")) else "<think>\n"
            return f"{prefix}{preamble}\n<tool_call>\n{call}\n</tool_call>"
        return f"<tool_call>\n{call}\n</tool_call>"
    printed = _INTEGER.findall(ctx.tool_responses[-1])
    if ctx.mistaken or not printed:
        value = comp.solve(params) + ctx.rng.choice([-3, -2, -1, 1, 2, 3])
        reasoning = "I will trust my own estimate instead of the tool output."
    else:
        value = int(printed[-1])
        reasoning = "The tool printed the exact result."  # the answer line below copies it
    return ctx.compose(reasoning, f"Answer: {value}")
