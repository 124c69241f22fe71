"""The per-sample log: one JSON record per (task, item, repeat, mode, config), its key, and the overlong rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hermes4.envs import Item, Trajectory, Verdict
from hermes4.envs.answer import THINK_CLOSE, THINK_OPEN, final_answer, raw_output
from hermes4.sample.rollouts import jsonable, verdict_json
from hermes4.store import content_id, list_shards, read_jsonl

SAMPLES_STREAM = "samples"
MODES: dict[str, bool] = {"reasoning": True, "non-reasoning": False}  # mode name -> thinking flag
RUN_MANIFEST = "run.json"
METRICS_FILE = "metrics.json"


def modes_for(thinking: str) -> list[str]:
    """`on` -> reasoning, `off` -> non-reasoning, `both` -> both (reasoning first)."""
    choices = {"on": ["reasoning"], "off": ["non-reasoning"], "both": ["reasoning", "non-reasoning"]}
    if thinking not in choices:
        raise ValueError(f"thinking: expected on, off or both, got {thinking!r}")
    return choices[thinking]


def sample_key(task_spec: str, item_id: str, repeat: int, mode: str, config_hash: str) -> str:
    """The resume key of a sample: the same (task, item, repeat, mode, config) is generated and scored once."""
    return content_id("eval-sample", task_spec, item_id, repeat, mode, config_hash)


def is_overlong(trajectory: Trajectory, *, thinking: bool) -> bool:
    """Whether the output never closed its reasoning within the budget.

    True when the raw text opens `<think>` and never closes it, or when a reasoning-mode generation hit the
    token limit with no answer after the reasoning: servers that split reasoning (vLLM, `hermes4 serve`) hand
    back an unclosed think block as `reasoning_content` with empty content, so the text alone cannot tell.
    """
    raw = raw_output(trajectory)
    if THINK_OPEN in raw and raw.rfind(THINK_OPEN) > raw.rfind(THINK_CLOSE):
        return True
    # Only the last completion: earlier ones of an interleaved tool loop stop inside <think> at a tool call.
    if any(getattr(c, "parsed", None) is not None and c.parsed.truncated and c.parsed.reasoning is not None and not c.parsed.content.strip() for c in trajectory.completions[-1:]):
        return True
    return bool(thinking and trajectory.finish_reason == "length" and not final_answer(trajectory))


def overlong_verdict(budget: int) -> Verdict:
    return Verdict("fail", 0.0, {"reason": f"overlong: the reasoning was not closed with </think> within {budget} tokens"})


def sample_score(verdict: Verdict) -> float | None:
    """The sample's score (the verdict's reward); None when the checker or judge failed (not a wrong answer)."""
    if verdict.status in ("error", "timeout"):
        return None
    return float(verdict.reward)


def build_record(
    *,
    key: str,
    task_spec: str,
    item: Item,
    repeat: int,
    mode: str,
    config_hash: str,
    seed: int,
    trajectory: Trajectory,
    verdict: Verdict,
    overlong: bool,
    timing: dict[str, float],
) -> dict[str, Any]:
    """One line of the per-sample log."""
    completions = trajectory.completions
    last = completions[-1] if completions else None
    details = verdict.details or {}
    answer = details.get("answer", details.get("given"))
    if answer is None and not overlong:
        answer = final_answer(trajectory)
    return {
        "id": key,
        "task": task_spec,
        "item_id": item.id,
        "repeat": repeat,
        "mode": mode,
        "config": config_hash,
        "seed": seed,
        "prompt": item.prompt.to_json(),
        "output": {
            "raw": raw_output(trajectory),
            "reasoning": last.parsed.reasoning if last is not None else None,
            "content": last.parsed.content if last is not None else final_answer(trajectory),
            "answer": answer,
            "finish_reason": trajectory.finish_reason,
            "overlong": overlong,
            "prompt_tokens": sum(int(c.prompt_tokens or 0) for c in completions),
            "completion_tokens": int(trajectory.completion_tokens or 0),
            "turns": len([m for m in trajectory.messages if m.role == "assistant"]),
            **_budget_fired(completions),
        },
        "verdict": verdict_json(verdict),
        "score": 0.0 if overlong else sample_score(verdict),
        "reference": jsonable(item.reference),
        "item_meta": jsonable(item.meta),
        "timing": {k: round(v, 6) for k, v in timing.items()},
    }


def _budget_fired(completions: list[Any]) -> dict[str, bool]:
    """`{"budget_fired": ...}` when a reasoning budget applied to any completion (a run without one records nothing)."""
    flags = [c.budget_fired for c in completions if getattr(c, "budget_fired", None) is not None]
    return {"budget_fired": any(flags)} if flags else {}


def stable_view(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its timings: equal for the same sample in any two runs of a deterministic model."""
    return {k: v for k, v in record.items() if k != "timing"}


def read_samples(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every per-sample record of a run folder, in write order (a torn last line is skipped)."""
    records: list[dict[str, Any]] = []
    for shard in list_shards(Path(run_dir), SAMPLES_STREAM):
        records.extend(read_jsonl(shard))
    return records
