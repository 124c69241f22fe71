"""The teacher on JSON-schema items: the smallest conforming object (produce) or the repaired original (repair); a
planted mistake drops a required field or gives a field the wrong type."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import json_repair

from hermes4.envs.json_schema import PRODUCE_MARKER, REPAIR_MARKER, fenced_blocks, witness
from hermes4.teacher.context import TeacherContext


def break_value(value: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A planted mistake: drop a required field, or give a field the wrong type."""
    broken = copy.deepcopy(value)
    required = [k for k in schema.get("required", []) if k in broken]
    if required and rng.random() < 0.5:
        del broken[rng.choice(required)]
    elif broken:
        key = rng.choice(sorted(broken))
        broken[key] = [broken[key]] if not isinstance(broken[key], list) else {"value": broken[key]}
    else:
        broken["unexpected"] = 1
        broken = {"__not_an_object__": broken} if schema.get("additionalProperties") is not False else broken
    return broken


def respond(ctx: TeacherContext) -> str | None:
    """The answer to a JSON-schema item, or None when the prompt is not one."""
    text = ctx.task_text
    blocks = fenced_blocks(text)
    if PRODUCE_MARKER in text and blocks:
        try:
            schema = json.loads(blocks[0])
        except json.JSONDecodeError:
            return None
        value = witness(schema, ctx.rng, minimal=True)
        reasoning = "I fill only the required fields, each with the simplest value its type, enum, format or bounds allow."
    elif REPAIR_MARKER in text and len(blocks) >= 2:
        try:
            schema = json.loads(blocks[-1])
        except json.JSONDecodeError:
            return None
        value = json_repair.loads(blocks[0])
        if not isinstance(value, dict):
            return None
        reasoning = "I fix the quotes, commas and braces and keep every value unchanged."
    else:
        return None
    if ctx.mistaken:
        value = break_value(value, schema, ctx.rng)
    return ctx.compose(reasoning, "```json\n" + json.dumps(value) + "\n```")
