"""Task generators beside the graph: taxonomy expansion and persona simulation, near-duplicates removed.

Taxonomy: a domain is split by a model into subcategories, recursively to a depth (or until a leaf
budget), and each leaf gets a handful of concrete prompts. Personas: a model invents people, then writes
tasks in each person's voice. Both end in the same place: user prompts (one-message conversations, with
where they came from in `meta`), near-duplicates removed with the curation embedder, ready for the
sampler or a graph to answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hermes4.chat.messages import Conversation, Message
from hermes4.curate.dedup import semantic_dedup
from hermes4.curate.embed import HashedEmbedder
from hermes4.llm.types import LLM, Sampling
from hermes4.store import content_id, derive_seed

LIST_SCHEMA = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
PERSONA_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
        "required": ["name", "description"],
    },
}


class GeneratorError(RuntimeError):
    """The model's answer could not be read as the list asked for, after retries."""


@dataclass
class GeneratedPrompts:
    prompts: list[dict[str, Any]]  # records: conversation JSON with meta
    generated: int = 0
    duplicates_removed: int = 0
    failures: list[str] = field(default_factory=list)


async def ask_json_list(llm: LLM, prompt: str, schema: dict[str, Any], *, seed: int, retries: int = 2) -> list[Any]:
    from hermes4.parse.jsontools import find_json, validate

    problem = ""
    for attempt in range(retries + 1):
        sampling = Sampling(temperature=0.8, max_tokens=1024, seed=seed + attempt)
        out = await llm.chat(Conversation(messages=[Message(role="user", content=prompt)]), sampling=sampling)
        value = find_json(out[0].content)
        errors = validate(value, schema) if value is not None else ["no JSON array in the answer"]
        if not errors:
            return value
        problem = str(errors[0])
    raise GeneratorError(f"{problem} (prompt: {prompt[:80]!r})")


def _dedup(records: list[dict[str, Any]], threshold: float) -> tuple[list[dict[str, Any]], int]:
    if not records:
        return records, 0
    texts = [r["messages"][0]["content"] for r in records]
    result = semantic_dedup(HashedEmbedder(256).embed(texts), threshold)
    kept = [r for r, k in zip(records, result.keep) if k]
    return kept, len(records) - len(kept)


def _prompt_record(text: str, meta: dict[str, Any]) -> dict[str, Any]:
    record = Conversation(messages=[Message(role="user", content=text.strip())]).to_json()
    record["meta"] = {"id": content_id("prompt", text.strip()), **meta}
    return record


async def expand_taxonomy(
    llm: LLM,
    domain: str,
    *,
    depth: int = 2,
    breadth: int = 4,
    prompts_per_leaf: int = 3,
    max_leaves: int = 200,
    dedup_threshold: float = 0.9,
    seed: int = 0,
    concurrency: int = 32,
) -> GeneratedPrompts:
    """Split `domain` recursively into subcategories, then write prompts for each leaf."""
    gate = asyncio.Semaphore(concurrency)
    result = GeneratedPrompts(prompts=[])

    async def children(path: list[str]) -> list[str]:
        ask = (
            f"List {breadth} distinct subcategories of the topic \"{' > '.join(path)}\". "
            "Reply with a JSON array of short names only."
        )
        async with gate:
            items = await ask_json_list(llm, ask, LIST_SCHEMA, seed=derive_seed(seed, path))
        return list(dict.fromkeys(s.strip() for s in items))[:breadth]

    level = [[domain]]
    for _ in range(depth):
        expanded = await asyncio.gather(*(children(p) for p in level), return_exceptions=True)
        next_level = []
        for path, subs in zip(level, expanded):
            if isinstance(subs, BaseException):
                result.failures.append(f"{' > '.join(path)}: {subs}")
                next_level.append(path)  # keep the node as a leaf rather than lose the branch
                continue
            next_level.extend(path + [s] for s in subs)
        level = next_level[:max_leaves]

    async def leaf_prompts(path: list[str]) -> list[dict[str, Any]]:
        ask = (
            f"Write {prompts_per_leaf} different, specific requests a user might send an assistant about "
            f"\"{' > '.join(path)}\". Vary their type (questions, tasks, creative requests). "
            "Reply with a JSON array of strings."
        )
        async with gate:
            items = await ask_json_list(llm, ask, LIST_SCHEMA, seed=derive_seed(seed, path, "prompts"))
        return [_prompt_record(t, {"source": "taxonomy", "path": path}) for t in items[:prompts_per_leaf]]

    leaves = await asyncio.gather(*(leaf_prompts(p) for p in level), return_exceptions=True)
    records = []
    for path, got in zip(level, leaves):
        if isinstance(got, BaseException):
            result.failures.append(f"{' > '.join(path)}: {got}")
        else:
            records.extend(got)
    result.generated = len(records)
    result.prompts, result.duplicates_removed = _dedup(records, dedup_threshold)
    return result


async def simulate_personas(
    llm: LLM,
    n: int,
    *,
    tasks_per_persona: int = 3,
    dedup_threshold: float = 0.9,
    seed: int = 0,
    concurrency: int = 32,
    batch: int = 10,
) -> GeneratedPrompts:
    """Invent `n` personas (in batches), then tasks each would ask, written in their voice."""
    gate = asyncio.Semaphore(concurrency)
    result = GeneratedPrompts(prompts=[])
    personas: list[dict[str, str]] = []
    round_ = 0
    while len(personas) < n and round_ < 3 * (n // batch + 1):
        ask = (
            f"Invent {min(batch, n - len(personas))} diverse people (different ages, jobs, countries, interests). "
            'Reply with a JSON array of {"name": ..., "description": ...} objects.'
        )
        try:
            got = await ask_json_list(llm, ask, PERSONA_SCHEMA, seed=derive_seed(seed, "personas", round_))
        except GeneratorError as exc:
            result.failures.append(f"persona batch {round_}: {exc}")
            got = []
        known = {p["name"] for p in personas}
        personas.extend(p for p in got if p["name"] not in known)
        round_ += 1
    personas = personas[:n]

    async def tasks_of(persona: dict[str, str]) -> list[dict[str, Any]]:
        ask = (
            f"You are {persona['name']}: {persona['description']}\n"
            f"Write {tasks_per_persona} requests you would send an AI assistant, in your own voice. "
            "Reply with a JSON array of strings."
        )
        async with gate:
            items = await ask_json_list(llm, ask, LIST_SCHEMA, seed=derive_seed(seed, persona["name"]))
        return [_prompt_record(t, {"source": "persona", "persona": persona}) for t in items[:tasks_per_persona]]

    got_all = await asyncio.gather(*(tasks_of(p) for p in personas), return_exceptions=True)
    records = []
    for persona, got in zip(personas, got_all):
        if isinstance(got, BaseException):
            result.failures.append(f"{persona['name']}: {got}")
        else:
            records.extend(got)
    result.generated = len(records)
    result.prompts, result.duplicates_removed = _dedup(records, dedup_threshold)
    return result
