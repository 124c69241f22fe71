"""The LLM quality filter: a judge model reads each passage and says keep or drop, with its reason."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hermes4.chat.messages import Conversation, Message
from hermes4.llm.types import LLM, Sampling

QUALITY_SCHEMA = {
    "type": "object",
    "properties": {"keep": {"type": "boolean"}, "reason": {"type": "string", "minLength": 1}},
    "required": ["keep", "reason"],
}

JUDGE_SYSTEM = (
    "You review passages that will seed synthetic training data. Keep a passage when it is coherent, "
    "informative prose a reader could learn from or discuss; drop boilerplate, navigation text, spam, "
    "keyword lists, machine-garbled text and fragments too short to build a task on. Answer with one JSON "
    'object: {"keep": true|false, "reason": "<one sentence>"}.'
)


@dataclass
class QualityVerdict:
    status: str  # "keep" | "drop" | "error" (the judge's answer could not be read: never counted as keep)
    reason: str


def judge_conversation(text: str) -> Conversation:
    return Conversation(
        messages=[Message(role="system", content=JUDGE_SYSTEM), Message(role="user", content=f"Passage:\n\n{text}")]
    )


def read_verdict(output: str) -> QualityVerdict:
    from hermes4.parse.jsontools import find_json, validate

    value = find_json(output)
    if value is None:
        return QualityVerdict("error", f"the judge's answer has no JSON object: {output[:120]!r}")
    errors = validate(value, QUALITY_SCHEMA)
    if errors:
        return QualityVerdict("error", f"the judge's JSON does not fit the schema: {errors[0]}")
    return QualityVerdict("keep" if value["keep"] else "drop", value["reason"])


async def judge_passages(
    texts: list[str], llm: LLM, *, concurrency: int = 32, sampling: Sampling | None = None
) -> list[QualityVerdict]:
    """One verdict per passage, in order. A failed request is an `error` verdict, never a silent keep."""
    sampling = sampling or Sampling(temperature=0.0, max_tokens=256)
    gate = asyncio.Semaphore(concurrency)

    async def one(text: str) -> QualityVerdict:
        async with gate:
            try:
                completions = await llm.chat(judge_conversation(text), sampling=sampling, thinking=False)
            except Exception as exc:  # the model is down or refused: report it per passage
                return QualityVerdict("error", f"judge request failed: {type(exc).__name__}: {exc}")
            return read_verdict(completions[0].content)

    return list(await asyncio.gather(*(one(t) for t in texts)))
