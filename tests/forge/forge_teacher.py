"""A scripted model for DataForge tests: answers every prompt shape of the built-in graphs deterministically.

Markers in a seed passage steer the judge: REVISEME fails the first judgement and passes after a revision,
DISCARDME never passes, BADJUDGE makes the judge answer with text that is not JSON.
"""

import json
import random
import re

from hermes4.llm.types import ScriptRequest

CRITERIA = ("clarity", "relevance", "depth", "faithfulness")
VOCAB = [f"{stem}{i}" for i, stem in enumerate(("orbit comet quasar lens tide spore enzyme ledger tariff sonnet " * 20).split())]


def _user(request: ScriptRequest) -> str:
    return [m.content for m in request.conversation.messages if m.role == "user"][-1]


def teacher(request: ScriptRequest) -> str:
    text = _user(request)
    if text.startswith("Score the answer"):
        answer = text.split("\nAnswer:\n", 1)[1]
        if "BADJUDGE" in text:
            return "I liked it a lot."
        low = "DISCARDME" in text or ("REVISEME" in answer and "REVISED" not in answer)
        score = 3 if low else 9
        return json.dumps({"scores": {c: score for c in CRITERIA}, "feedback": "Be more specific." if low else "Good."})
    if text.startswith("Revise the answer"):
        previous = text.split("Previous answer:\n", 1)[1].split("\n\nReviewer feedback:", 1)[0]
        return previous + " REVISED"
    if text.startswith("Rewrite") or text.startswith("Retell"):
        passage = text.split("Passage:\n", 1)[1].split("\n\nReply with", 1)[0]
        return f"[rewritten] {passage}"
    if text.startswith("Write") and "\n\nText:\n" in text:
        passage = text.split("\n\nText:\n", 1)[1]
        markers = " ".join(re.findall(r"\b(?:REVISEME|DISCARDME|BADJUDGE)\b", passage))
        return f"What does the text say about {passage.split()[1]}? {markers}".strip()
    if text.startswith("List") and "subcategories" in text:
        topic = re.search(r'"(.+)"', text).group(1).split(" > ")[-1]
        return json.dumps([f"{topic} part {i}" for i in range(1, 5)])
    if text.startswith("Invent"):
        n = int(re.search(r"Invent (\d+)", text).group(1))
        return json.dumps([{"name": f"Person {request.sampling.seed % 1000}-{i}", "description": f"a teacher of subject {i}"} for i in range(n)])
    if "JSON array of strings" in text:
        # three clearly different prompts (their own vocabulary, drawn from the subject), then a repeat of
        # the first, which the generators' near-duplicate filter must remove
        about = re.search(r'about "(.+?)"', text)
        subject = about.group(1) if about else text.split(":", 1)[0]
        rng = random.Random(subject)
        prompts = [f"{verb} {' '.join(rng.sample(VOCAB, 8))}" for verb in ("Explain", "Compare", "Critique")]
        return json.dumps(prompts + [prompts[0]])
    return f"A careful answer to: {text[-200:]}"
