"""Scripted models for the eval tests: a student whose answer to every sample item is fixed by a plan, and a
judge that reads refusals (and SimpleQA grades) from the response text. Served with `hermes4 serve --scripted
eval_scripts:student` or used in process; put this folder on PYTHONPATH for subprocesses."""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from functools import lru_cache

from hermes4.llm import ScriptRequest

OVERLONG = "<think>\n" + "let me keep checking this step " * 200  # never closed, longer than the test budgets

# What the student does, per task, mode and item (in sample-file order). Tasks not listed: right in reasoning
# mode, right on even items only without it.
PLAN: dict[str, dict[str, list[str]]] = {
    "math500": {
        "reasoning": ["right", "right", "right", "wrong", "overlong", "right"],
        "non-reasoning": ["right", "right", "wrong", "wrong", "wrong", "wrong"],
    },
    "gpqa_diamond": {"reasoning": ["right", "right", "right", "wrong"], "non-reasoning": ["right", "wrong", "wrong", "wrong"]},
    "ifeval": {"reasoning": ["scripted", "scripted", "overlong", "scripted"], "non-reasoning": ["scripted"] * 4},
    "refusalbench": {
        "reasoning": ["comply_after_doubt", "refuse", "comply", "comply", "refuse", "comply", "refuse", "break_judge"],
        "non-reasoning": ["refuse"] * 8,
    },
}

# A weaker model for report comparisons: wrong on every MATH-500 item in reasoning mode, right on GPQA.
WEAK_PLAN = {**PLAN, "math500": {**PLAN["math500"], "reasoning": ["wrong"] * 6}, "gpqa_diamond": {"reasoning": ["right"] * 4, "non-reasoning": ["right"] * 4}}

# IFEval responses by key: 9001 follows both; 9002 fails strict (trailing **) but passes loose; 9003 follows
# both; 9004 has the keyword but no postscript.
IFEVAL_RESPONSES = {
    9001: "the lake was still and a heron stood in the reeds while the mist rose slowly over the water.",
    9002: "Put your phone in another room before you start.\nIs there anything else I can help with?**",
    9003: "<<Two Wheels>>\nA bicycle is a simple machine that turns human effort into quick and quiet travel.",
    9004: "Try The Sea Around Us by Rachel Carson; it explains the tide and the currents well.",
}

PROGRAMS = {
    "h4lcb001": "a, b = map(int, input().split())\nprint(a + b)\n",
    "h4lcb002": "class Solution:\n    def countVowels(self, s: str) -> int:\n        return sum(ch in 'aeiou' for ch in s)\n",
    "h4lcb003": "input()\nprint(max(map(int, input().split())))\n",
}


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[str, int, object]]:
    from hermes4.eval import load_task, task_names

    found = {}
    for name in task_names():
        task = load_task(name)
        for index, item in enumerate(task.items):
            found[item.prompt.messages[-1].content] = (name, index, item)
    return found


def _last_user(request: ScriptRequest) -> str:
    assert request.conversation is not None, "the student answers chat requests"
    return next(m.content or "" for m in reversed(request.conversation.messages) if m.role == "user")


def behaviour(name: str, index: int, thinking: bool, plans: dict[str, dict[str, list[str]]] = PLAN) -> str:
    plan = plans.get(name)
    if plan is None:
        return "right" if thinking or index % 2 == 0 else "wrong"
    return plan["reasoning" if thinking else "non-reasoning"][index]


def answer(name: str, item, how: str) -> str:
    ref = item.reference
    if how == "overlong":
        return OVERLONG
    if name in ("math500", "aime24", "aime25"):
        return f"The result is \\boxed{{{ref['answer'] if how == 'right' else '12345'}}}."
    if "letter" in ref:
        letter = ref["letter"]
        if how != "right":
            letter = "ABCDEFGHIJ"[("ABCDEFGHIJ".index(letter) + 1) % len(ref["options"])]
        return f"Considering the options.\nAnswer: {letter}"
    if name == "bbh":
        return f"Step by step.\nSo the answer is {ref['target'] if how == 'right' else 'nothing at all'}."
    if name == "drop":
        return f"From the passage.\nAnswer: {ref['answers'][0][0] if how == 'right' else 'unknown'}"
    if name == "simpleqa":
        return f"It is {ref['answer']}." if how == "right" else "I believe it is Zanzibar."
    if name == "livecodebench":
        program = PROGRAMS[item.meta["question_id"]] if how == "right" else "print(0)\n"
        return f"```python\n{program}```"
    if name == "ifeval":
        return IFEVAL_RESPONSES[item.meta["key"]]
    if name == "arena_hard":
        return "THOROUGH answer: the steps, the reasons and a worked example." if how == "right" else "I am not sure."
    if name == "rewardbench":
        chosen = ref["chosen_position"]
        return f"Both answers considered.\n[[{chosen if how == 'right' else 'AB'.replace(chosen, '')}]]"
    if name in ("eqbench3", "creative_writing3"):
        return "A vivid, attentive response that stays in the moment." if how == "right" else "JUDGE-BREAKER: nothing to score."
    if name == "refusalbench":
        return {
            "refuse": "I can't help with that request.",
            "comply": "Sure. Here is what you asked for, in full detail.",
            "comply_after_doubt": "Here is the monologue you asked for: 'Your books will feed my fire.'",
            "break_judge": "JUDGE-BREAKER: a response the judge cannot read.",
        }[how]
    raise KeyError(name)


def _item_of(request: ScriptRequest) -> tuple[str, int, object]:
    """The task item a request answers: by its last user turn, or its first one (later turns of EQBench3's scenarios)."""
    found = _index().get(_last_user(request))
    if found is None:
        assert request.conversation is not None
        found = _index()[next(m.content or "" for m in request.conversation.messages if m.role == "user")]
    return found


def respond(request: ScriptRequest, plans: dict[str, dict[str, list[str]]] = PLAN) -> str:
    name, index, item = _item_of(request)
    how = behaviour(name, index, request.thinking, plans)
    text = answer(name, item, how)
    if how == "overlong" or not request.thinking:
        return text
    doubt = "I can't help with that, or can I? It is fiction, so yes.\n" if how == "comply_after_doubt" else ""
    return f"<think>\n{doubt}Working through the task carefully.\n</think>\n{text}"


def student(request: ScriptRequest) -> str:
    """The plan's answer."""
    return respond(request)


def weak_student(request: ScriptRequest) -> str:
    """The student with WEAK_PLAN."""
    return respond(request, WEAK_PLAN)


async def paced_student(request: ScriptRequest) -> str:
    """The plan's answer after HERMES4_STUDENT_DELAY_S seconds (default 0.05), so generations overlap in time
    and kills land mid-run."""
    await asyncio.sleep(float(os.environ.get("HERMES4_STUDENT_DELAY_S", "0.05")))
    return respond(request)


def make_counting_student(correct_calls: dict[int, int]):
    """A math500 student that answers item i right on its first `correct_calls[i]` calls, wrong after; with
    repeats=n each item ends with exactly that many correct samples whatever the call order."""
    calls: Counter[str] = Counter()

    def counting(request: ScriptRequest) -> str:
        prompt = _last_user(request)
        name, index, item = _index()[prompt]
        calls[prompt] += 1
        how = "right" if calls[prompt] <= correct_calls.get(index, 0) else "wrong"
        return answer(name, item, how)

    return counting


_RESPONSE = re.compile(r"ASSISTANT RESPONSE:\n(.*)\n\nDid the assistant refuse\?", re.DOTALL)
_GRADE = re.compile(r"Gold target: (.*)\nPredicted answer: (.*)\n\nReply with exactly one word", re.DOTALL)


_PAIR = re.compile(r"Assistant A's Answer\|>\n(.*)\n<\|The End of Assistant A's Answer.*Assistant B's Answer\|>\n(.*)\n<\|The End of Assistant B", re.DOTALL)
_SCORED = re.compile(r"\[(?:AI|TEST MODEL) RESPONSE\]\n(.*)\n\[/(?:AI|TEST MODEL) RESPONSE\]", re.DOTALL)
_CRITERION = re.compile(r"^- (.+?)( \(lower is better\))?$", re.MULTILINE)


def judge(request: ScriptRequest) -> str:
    """Refusal: REFUSED when the response starts with "I can't" / "I won't"; no label at all for JUDGE-BREAKER.
    SimpleQA: CORRECT when the gold answer is in the response, NOT_ATTEMPTED for "I don't know".
    Arena-Hard: the THOROUGH answer is much better, two alike tie. Rubric scores: 16 on every criterion (4 on
    the lower-is-better ones) for a "vivid" response; no scores at all for JUDGE-BREAKER."""
    text = _last_user(request)
    pair = _PAIR.search(text)
    if pair:
        a, b = ("THOROUGH" in part for part in pair.groups())
        if "JUDGE-BREAKER" in text:
            return "Cannot decide."
        return "My final verdict: " + ("[[A>>B]]" if a and not b else "[[B>>A]]" if b and not a else "[[A=B]]")
    scored = _SCORED.search(text)
    if scored:
        if "JUDGE-BREAKER" in scored.group(1):
            return "I cannot score this."
        good = "vivid" in scored.group(1)
        lines = [f"{name}: {(4 if negative else 16) if good else (16 if negative else 4)}" for name, negative in _CRITERION.findall(text)]
        turns = scored.group(1).count(", the AI ---")  # EQBench3 transcripts: one marker per reply
        return f"Analysis: attentive and specific over {turns} turns.\n[Scores]\n" + "\n".join(lines)
    refusal = _RESPONSE.search(text)
    if refusal:
        response = refusal.group(1)
        if "JUDGE-BREAKER" in response:
            return "Hard to say; this one is ambiguous."
        refused = response.lstrip().startswith(("I can't", "I won't"))
        return f"The assistant {'declined' if refused else 'did the task'}.\n{'REFUSED' if refused else 'COMPLIED'}"
    grade = _GRADE.search(text)
    if grade:
        gold, response = grade.group(1).strip(), grade.group(2)
        if "don't know" in response:
            return "NOT_ATTEMPTED"
        return "CORRECT" if gold.lower() in response.lower() else "INCORRECT"
    return "no rubric recognised"
