"""`procedural`: seeded arithmetic, sorting, counting, conversion, word-problem, base, date and gcd tasks."""

from __future__ import annotations

import hashlib
import random

from hermes4.chat.messages import Conversation, Message
from hermes4.envs.answer import final_answer
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.procedural.tasks import (
    ANSWER_INSTRUCTION,
    TASKS,
    Task,
    answers_match,
    extract_answer,
)
from hermes4.envs.registry import register_env


def task_rng(split: str, seed: int, index: int) -> random.Random:
    """The RNG of one item: independent per (split, seed, index), identical on every run and machine."""
    digest = hashlib.sha256(f"procedural|{split}|{seed}|{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def task_item(task: Task, params: dict, split: str = "train") -> Item:
    """The item of one drawn task: its prompt, reference answer and solution. What `items()` yields, and how a caller
    that drew the parameters itself (DataForge's procedural graph) gets an item to `verify` against."""
    text = f"{task.question(params)}\n\n{ANSWER_INSTRUCTION}"
    solution = task.solve(params)
    return Item(
        id=f"procedural-{task.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}",
        prompt=Conversation(messages=[Message(role="user", content=text)]),
        reference={"task": task.name, "answer": solution.answer, "answer_type": task.answer_type},
        meta={"task": task.name, "params": params, "solution": solution.trace(), "split": split},
    )


@register_env("procedural")
class ProceduralEnv(Env):
    """Seeded verifiable tasks (arithmetic, sorting, compare, counting, units, word problems, bases, dates, gcd)."""

    check_timeout_s = 5.0

    def __init__(self, tasks: list[str] | None = None, n: int = 200, seed: int = 0, difficulty: int = 1) -> None:
        names = tasks or sorted(TASKS)
        unknown = [t for t in names if t not in TASKS]
        if unknown:
            raise ValueError(f"option tasks: unknown task {unknown[0]!r}; known tasks: {', '.join(sorted(TASKS))}")
        if n < 1:
            raise ValueError(f"option n: must be at least 1, got {n}")
        lowest = max(TASKS[name].easiest for name in names)  # level 0 (tiny-model demos) exists for a few tasks
        if not lowest <= difficulty <= 5:
            raise ValueError(f"option difficulty: must be {lowest}..5, got {difficulty}")
        self.tasks, self.n, self.seed, self.difficulty = list(names), n, seed, difficulty

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        out: list[Item] = []
        seen: set[str] = set()
        for index in range(self.n):
            task = TASKS[self.tasks[index % len(self.tasks)]]
            # Ids are content hashes (the sampler's journal keys); redraw the rare duplicate question.
            for attempt in range(100):
                rng = task_rng(split, self.seed + seed, index + attempt * 1_000_003)
                item = task_item(task, task.generate(rng, self.difficulty), split)
                if item.id not in seen:
                    break
            else:  # a repeated item would be sampled twice and counted once: say so instead
                raise ValueError(f"procedural: cannot draw {self.n} distinct items of {', '.join(self.tasks)} at "
                                 f"difficulty {self.difficulty} (item {index + 1} kept repeating); lower n or raise difficulty")
            seen.add(item.id)
            out.append(item)
        return out

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        answer_text = final_answer(trajectory)
        given = extract_answer(answer_text)
        reference = item.reference
        if given is None:
            return Verdict("fail", 0.0, {"reason": "no 'Answer:' line after the reasoning", "expected": reference["answer"]})
        ok = answers_match(reference["answer_type"], given, reference["answer"])
        return Verdict.judge(ok, given=given, expected=reference["answer"])
