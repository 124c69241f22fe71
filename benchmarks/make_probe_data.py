"""Training data for the one-task probes of issue 19 (`bench_tiny_learning.py --data OUT`): N conversations of one
of the tiny recipe's task families, from its env's train split (the probe scores the test split), written as the
scripted teacher writes them (its own responders, with no planted mistake), in one of these layouts:

  json-direct   the smallest conforming object alone, fields in `required` order (the teacher's, thinking off)
  json-every-field  the object with every property the schema declares, in the schema's order, each at the value
                the teacher would give it (thinking off): no `required` lookup, each value read after its own name
  json-trace    thinking on, a reasoning trace that walks the schema's properties in order, each line a verbatim
                copy of that property's schema followed by `is optional.` or `is required: "name": value`; the
                object then lists the required fields in the order the trace found them (not the teacher's)
  sorting       thinking on, the sorting task at difficulty 0 answered by the scripted teacher itself

The JSON trace turns the direct answer's two hops (a name in `required` -> its property -> its type or bounds) into
copies of spans of the prompt, so the probe tells a model that fails at the lookup from one that fails at copying.
A run's own data (`runs/tiny/data/<family>`) is the other source, but it holds a few hundred conversations; these
probes need thousands to tell "cannot learn" from "memorised".

    .venv/bin/python benchmarks/make_probe_data.py --layout json-trace --n 6000 --out /tmp/json-trace.jsonl
"""

from __future__ import annotations

import argparse
import json
from typing import Any

TINY_JSON_ENV = "json_schema:tasks=produce,max_depth=0,max_fields=3,kinds=integer+boolean+enum"
SORTING_ENV = "procedural:tasks=sorting,difficulty=0"
FENCE = "```json\n{}\n```"  # the teacher's JSON answer


def teacher_answer(question: str, thinking: bool) -> dict[str, Any]:
    """The scripted teacher's own assistant message (first wording, no planted mistake), split as a server splits
    it into reasoning and content."""
    from hermes4.parse import parse
    from hermes4.teacher import TeacherContext
    from hermes4.teacher.model import RESPONDERS

    ctx = TeacherContext(task_text=question, thinking=thinking)
    text = next((out for out in (respond(ctx) for respond in RESPONDERS) if out is not None), None)
    if text is None:
        raise SystemExit(f"make_probe_data: the teacher does not recognise this question: {question[:80]!r}")
    parsed = parse(text)
    answer: dict[str, Any] = {"role": "assistant"}
    if thinking:
        answer["reasoning_content"] = parsed.reasoning
    answer["content"] = parsed.content
    return answer


def trace_answer(schema: dict[str, Any], required_value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The property-walk trace and the object it arrives at (the required fields in property order)."""
    lines = ["I go through the properties in order and fill each required one with the simplest value its schema allows."]
    value: dict[str, Any] = {}
    for name, sub in schema.get("properties", {}).items():
        span = json.dumps({name: sub})[1:-1]  # json.dumps' separators, as the env renders the prompt's schema
        if name in required_value:
            value[name] = required_value[name]
            lines.append(f"{span} is required: {json.dumps({name: value[name]})[1:-1]}")
        else:
            lines.append(f"{span} is optional.")
    return "\n".join(lines), value


def every_field_answer(schema: dict[str, Any]) -> dict[str, Any]:
    """The teacher's object (`witness(minimal=True)`) for the schema with every property required, in the schema's
    order: each declared property at the teacher's value for it."""
    import random

    from hermes4.envs.json_schema import witness

    every_required = {**schema, "required": list(schema.get("properties", {}))}
    value = witness(every_required, random.Random(0), minimal=True)  # minimal draws nothing from the rng
    return {"role": "assistant", "content": FENCE.format(json.dumps(value))}


def answer_in_layout(layout: str, question: str) -> dict[str, Any]:
    """The assistant message of one probe conversation: the teacher's, or (json-trace) the teacher's object reached
    by the property-walk trace, or (json-every-field) every property at the teacher's value for it."""
    if layout in ("json-direct", "sorting"):
        return teacher_answer(question, thinking=layout == "sorting")
    from hermes4.envs.json_schema import fenced_blocks

    schema = json.loads(fenced_blocks(question)[0])
    if layout == "json-every-field":
        return every_field_answer(schema)
    direct = json.loads(fenced_blocks(teacher_answer(question, thinking=False)["content"])[0])
    reasoning, value = trace_answer(schema, direct)
    return {"role": "assistant", "reasoning_content": reasoning, "content": FENCE.format(json.dumps(value))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", choices=["json-direct", "json-every-field", "json-trace", "sorting"], required=True)
    parser.add_argument("--n", type=int, default=6000, help="conversations (items of the env's train split)")
    parser.add_argument("--out", required=True, help="the JSONL file to write")
    args = parser.parse_args()

    from hermes4.envs import get_env

    written = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for item in get_env(f"{SORTING_ENV if args.layout == 'sorting' else TINY_JSON_ENV},n={args.n}").items(split="train"):
            answer = answer_in_layout(args.layout, item.prompt.messages[-1].content)
            messages = [m.model_dump(exclude_none=True) for m in item.prompt.messages] + [answer]
            out.write(json.dumps({"messages": messages, "thinking": "reasoning_content" in answer}) + "\n")
            written += 1
    print(f"wrote {written} {args.layout} conversations to {args.out}")


if __name__ == "__main__":
    main()
