"""Arena-Hard v1: hard user questions answered by the model, each judged twice against a baseline model's answer
with the positions swapped. Questions and baseline answers are read in Arena-Hard's public shapes
(`question.jsonl`: question_id, category, turns[{content}]; `model_answer/<baseline>.jsonl`: question_id,
choices[{turns[{content}]}])."""

from __future__ import annotations

from typing import Any

from hermes4.envs import Env, Item
from hermes4.eval.benchmarks.judged import PAIRWISE_LABELS
from hermes4.eval.datasets import DATA_DIR, SAMPLE, DatasetError, load_rows
from hermes4.eval.judge import Rubric

SAMPLE_BASELINE = DATA_DIR / "arena_hard_baseline.jsonl"

# Shaped as Arena-Hard's judge prompt: the judge answers the question itself first, compares, explains, then gives
# one of five bracketed verdicts. The wording is hermes4's.
ARENA_HARD = Rubric(
    name="arena_hard",
    kind="pairwise",
    system=(
        "You are an impartial judge comparing two AI assistants' answers to the user prompt below. First write your "
        "own answer to the prompt. Then compare both assistants' answers with yours: point out mistakes and inaccurate "
        "information, and judge whether each answer is helpful (it addresses the request; where the prompt is "
        "ambiguous, asking for clarification beats guessing), relevant (every part fits the request) and concise "
        "(clear, not verbose). Consider creativity and novelty where they matter, and note important information "
        "an answer leaves out. Do not let the order of the answers, their length or the assistants' names sway you.\n\n"
        "After your explanation, end with exactly one verdict label:\n"
        "[[A>>B]]: Assistant A is much better\n[[A>B]]: Assistant A is slightly better\n[[A=B]]: a tie, about the same\n"
        "[[B>A]]: Assistant B is slightly better\n[[B>>A]]: Assistant B is much better\n"
        'For example: "My final verdict: [[A>B]]".'
    ),
    template=(
        "<|User Prompt|>\n{request}\n\n"
        "<|The Start of Assistant A's Answer|>\n{answer_a}\n<|The End of Assistant A's Answer|>\n\n"
        "<|The Start of Assistant B's Answer|>\n{answer_b}\n<|The End of Assistant B's Answer|>"
    ),
    labels=PAIRWISE_LABELS,
)


def _first_turn(turns: Any) -> str | None:
    if isinstance(turns, list) and turns and isinstance(turns[0], dict):
        content = turns[0].get("content")
        return str(content) if content not in (None, "") else None
    return None


def _baseline_answers(path: str) -> dict[str, str]:
    answers = {}
    for number, row in enumerate(load_rows(path, benchmark="arena_hard_baseline"), 1):
        question_id = row.get("question_id") or row.get("uid")
        choices = row.get("choices")
        text = _first_turn(choices[0].get("turns")) if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        text = text or row.get("answer")
        if question_id is None or not text:
            raise DatasetError(f"{path}: row {number}: a baseline answer needs 'question_id' and choices[0].turns[0].content")
        answers[str(question_id)] = str(text)
    return answers


def build(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.eval.tasks import TaskError, _Ids, _user

    source = options["baseline"] or (str(SAMPLE_BASELINE) if options["data"] in ("", SAMPLE) else "")
    if not source:
        raise TaskError("arena_hard: option baseline=PATH (the baseline model's answers, model_answer/<name>.jsonl) is needed with data=")
    baseline = _baseline_answers(source)
    ids = _Ids("arena_hard")
    items = []
    for number, row in enumerate(rows, 1):
        question_id = str(row.get("question_id") or row.get("uid") or "")
        question = _first_turn(row.get("turns")) or row.get("prompt")
        if not question_id or not question:
            raise TaskError(f"arena_hard: row {number}: needs 'question_id' and turns[0].content")
        if question_id not in baseline:
            raise TaskError(f"arena_hard: row {number}: no baseline answer for question {question_id} in {source}")
        reference = {"baseline": baseline[question_id], "category": row.get("category")}
        items.append(Item(id=ids(question_id, question), prompt=_user(str(question)), reference=reference, meta={"question_id": question_id, "cluster": row.get("cluster")}))
    return items, None, ARENA_HARD
