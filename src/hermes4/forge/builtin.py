"""Python node functions the built-in graphs use (`kind: python` in YAML)."""

from __future__ import annotations

from typing import Any

from hermes4.forge.graph import State, Step, WalkContext
from hermes4.forge.nodes import Discarded, ask, step_conversation
from hermes4.llm.types import Sampling


def start(state: State, ctx: WalkContext) -> State:
    """Remember the seed passage before any transformation rewrites `passage`."""
    return {"started": "yes", "seed_passage": state["passage"]}


def keep_as_is(state: State, ctx: WalkContext) -> State:
    """The no-op transformation: instructions are made from the passage itself."""
    return {"transformed": "yes", "kind": "original"}


# -- the procedural graph: tasks from the procedural env, answered by a model or by the solver ------------


def procedural_task(state: State, ctx: WalkContext, *, task: str, difficulty: int = 1) -> State:
    """Draw a task of one family with the walk's RNG (seeded from the passage id, so replays match)."""
    from hermes4.envs.procedural.tasks import ANSWER_INSTRUCTION, TASKS

    family = TASKS[task]
    params = family.generate(ctx.rng, difficulty)
    return {
        "instruction": f"{family.question(params)}\n\n{ANSWER_INSTRUCTION}",
        "instruction_type": task,
        "task_params": params,
        "with_passage": "no",
    }


async def procedural_answer(state: State, ctx: WalkContext, *, max_tokens: int = 512) -> State:
    """The model named `default` answers directly (no thinking) when the walk has one; else the solver does."""
    from hermes4.envs.procedural.tasks import TASKS

    if "default" in ctx.llms:
        answer = await ask(ctx, "default", None, state["instruction"], Sampling(max_tokens=max_tokens), node="answer", attempt=0)
        return {"answer": answer, "answered_by": "model"}
    solution = TASKS[state["instruction_type"]].solve(state["task_params"])
    return {"answer": f"Answer: {solution.answer}", "answered_by": "solver"}


async def procedural_check(state: State, ctx: WalkContext, *, max_revisions: int = 2) -> State:
    """The judge of the procedural graph is the procedural env's own `verify`; a wrong answer is asked again with
    feedback up to `max_revisions` times, then the walk is discarded. Every attempt is kept."""
    from hermes4.envs import Trajectory, get_env
    from hermes4.envs.procedural.env import task_item
    from hermes4.envs.procedural.tasks import TASKS

    env = get_env("procedural")
    item = task_item(TASKS[state["instruction_type"]], state["task_params"])
    answer = state["answer"]
    given = None
    for revision in range(max_revisions + 1):
        verdict = env.verify(item, Trajectory.from_text(answer))
        given, ok = verdict.details.get("given"), verdict.status == "pass"
        ctx.attempts.append(
            {"node": ctx.prefix + "check", "revision": revision, "answer": answer, "given": given,
             "expected": item.reference["answer"], "passed": ok}
        )
        if ok:
            return {"answer": answer, "judged": "pass", "score": 1.0}
        if revision == max_revisions or "default" not in ctx.llms:
            break
        feedback = f"{state['instruction']}\n\nYour previous answer was:\n{answer}\n\nIt is not correct. Solve it again carefully."
        answer = await ask(ctx, "default", None, feedback, Sampling(max_tokens=512), node="check.revise", attempt=revision)
        ctx.steps.append(Step(ctx.prefix + "check", "revise", step_conversation(None, feedback, answer)))
    raise Discarded(f"the answer {given!r} does not match the task's answer after {max_revisions} revisions")


def final_pair(state: State) -> dict[str, Any]:
    """The user turn of the final sample: the passage travels with instructions made about it."""
    instruction = state["instruction"]
    if state.get("with_passage") == "yes" and state.get("passage"):
        return {"user": f"{state['passage']}\n\n{instruction}", "assistant": state["answer"]}
    return {"user": instruction, "assistant": state["answer"]}


def set_facts(state: State, ctx: WalkContext, **facts: Any) -> State:
    """Set constant facts (e.g. mark a stage finished)."""
    return facts
