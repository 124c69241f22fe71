"""Which trajectories become data: distinctness by normalised reasoning, the token budget, record ids."""

from __future__ import annotations

import json

from hermes4.envs import Trajectory
from hermes4.store import content_id


def normalise(text: str) -> str:
    """Whitespace collapsed and case folded: two paths that differ only in spacing or case are one path."""
    return " ".join(text.split()).casefold()


def distinct_key(trajectory: Trajectory) -> str:
    """The normalised reasoning of every assistant turn; for a trajectory without reasoning (thinking off),
    its normalised answers and tool calls, so direct answers are still told apart."""
    assistant = [m for m in trajectory.messages if m.role == "assistant"]
    reasoning = [m.reasoning_content for m in assistant if m.reasoning_content and m.reasoning_content.strip()]
    if reasoning:
        return normalise("\n".join(reasoning))
    parts: list[str] = []
    for message in assistant:
        parts.append(message.content or "")
        for call in message.tool_calls or []:
            parts.append(json.dumps({"name": call.name, "arguments": call.arguments}, sort_keys=True))
    return normalise("\n".join(parts))


def record_id(env: str, item_id: str, key: str) -> str:
    """The id of a kept sample: a hash of where it comes from and what it says. The same path for the same
    item is the same record, which makes both "distinct" and "exactly once" one check."""
    return content_id("sample", env, item_id, key)


def item_key(env: str, item_id: str) -> str:
    """The ledger id of an item of an env."""
    return content_id("item", env, item_id)


def over_budget(trajectory: Trajectory, max_tokens: int) -> bool:
    """True when the trajectory was cut (`length`) or used more completion tokens than the budget."""
    return trajectory.finish_reason == "length" or trajectory.completion_tokens > max_tokens
