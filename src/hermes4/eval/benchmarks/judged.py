"""The two judge protocols beyond one-word labels: pairwise against a baseline with the positions swapped
(Arena-Hard), and criterion scores on a fixed scale (EQBench3, CreativeWriting3). A judge answer that cannot be
read is a JudgeFailure: an `error` verdict that metrics count, never a guessed score."""

from __future__ import annotations

import re
from typing import Any

from hermes4.envs import Verdict
from hermes4.eval.judge import Judge, JudgeFailure, Rubric, read_label

# Arena-Hard's five verdicts from the evaluated model's side when it stands at position B: (score, weight).
# Decisive verdicts (>>) count as three games, as Arena-Hard's own tally does.
_AS_B = {"[[B>>A]]": (1.0, 3), "[[B>A]]": (1.0, 1), "[[A=B]]": (0.5, 1), "[[A>B]]": (0.0, 1), "[[A>>B]]": (0.0, 3)}
_SWAP = {"[[B>>A]]": "[[A>>B]]", "[[B>A]]": "[[A>B]]", "[[A=B]]": "[[A=B]]", "[[A>B]]": "[[B>A]]", "[[A>>B]]": "[[B>>A]]"}
PAIRWISE_LABELS = tuple(_AS_B)


async def pairwise_verdict(judge: Judge, rubric: Rubric, *, request: str, response: str, reference: dict[str, Any]) -> Verdict:
    """Two games: the baseline as A and the model as B, then swapped. Reward: the model's weighted win share
    (win 1, tie 0.5, loss 0; decisive verdicts weigh 3); pass when it is at least a tie. The games are kept in the
    details, so the task's win rate pools them over all questions (metric `winrate`)."""
    baseline = str(reference.get("baseline", ""))
    games = []
    for model_at in ("B", "A"):
        answer_a, answer_b = (baseline, response) if model_at == "B" else (response, baseline)
        answer, output = await judge.ask(rubric, request=request, answer_a=answer_a, answer_b=answer_b)
        label = read_label(answer, rubric.labels)
        as_b = label if model_at == "B" else _SWAP[label]
        games.append({"model_at": model_at, "verdict": label, "score": _AS_B[as_b][0], "weight": _AS_B[as_b][1], "judge_output": output[-1000:]})
    reward = sum(g["score"] * g["weight"] for g in games) / sum(g["weight"] for g in games)
    return Verdict("pass" if reward >= 0.5 else "fail", reward, {"games": games, "win_share": reward})


def read_scores(text: str, rubric: Rubric) -> dict[str, float]:
    """`Criterion: score` for every criterion of the rubric (the last such line wins); raises JudgeFailure when one
    is missing or off the scale."""
    scores: dict[str, float] = {}
    for criterion in rubric.criteria:
        found = re.findall(rf"(?im)^[\s*_#-]*{re.escape(criterion)}[\s*_]*:\s*\**\s*(-?\d+(?:\.\d+)?)", text)
        if not found:
            raise JudgeFailure(f"the judge gave no score for {criterion!r}", text)
        value = float(found[-1])
        if not 0 <= value <= rubric.scale:
            raise JudgeFailure(f"the judge's score {value} for {criterion!r} is outside 0..{rubric.scale:g}", text)
        scores[criterion] = value
    return scores


async def scored_verdict(judge: Judge, rubric: Rubric, *, request: str, response: str, reference: dict[str, Any]) -> Verdict:
    """One judge call scoring every criterion; reward = the mean score on 0..1, negative criteria inverted
    (scale - score), as the EQ-Bench rubric scores are aggregated."""
    criteria = "\n".join(f"- {c}{' (lower is better)' if c in rubric.negative else ''}" for c in rubric.criteria)
    answer, output = await judge.ask(rubric, request=request, response=response, criteria=criteria, reference=str(reference.get("reference", "")))
    scores = read_scores(answer, rubric)
    adjusted = [(rubric.scale - v) if c in rubric.negative else v for c, v in scores.items()]
    reward = sum(adjusted) / (len(adjusted) * rubric.scale)
    return Verdict("pass" if reward >= 0.5 else "fail", reward, {"scores": scores, "rubric_score": round(100 * reward, 2), "judge_output": output[-2000:]})
