"""`verify_natural`: a trace that closed by itself is checked by the verifier of the env its prompt came from; a
wrong one is not kept (it would train the model on its own mistake)."""

from __future__ import annotations

import pytest

from hermes4.chat import Conversation
from hermes4.envs import get_env
from hermes4.length_control.stage import GeneratedTrace, natural_verdicts
from hermes4.train.config import LengthControlConfig

SPEC = "procedural:tasks=arithmetic,difficulty=0,n=4,seed=7"


def _prompts(meta_keys=("env", "id", "split", "seed")) -> tuple[list[Conversation], list]:
    items = get_env(SPEC).items("train", 11)
    conversations = []
    for item in items:
        meta = {"env": SPEC, "id": item.id, "split": "train", "seed": 11}
        conversations.append(item.prompt.model_copy(update={"meta": {k: meta[k] for k in meta_keys}}))
    return conversations, items


def test_natural_traces_are_checked_against_their_prompts_items():
    conversations, items = _prompts()
    right, wrong = (str(item.reference["answer"]) for item in items[:2])
    traces = [
        GeneratedTrace(0, 0, "p0", f"<think>\nsteps\n</think>\nAnswer: {right}", "stop", 9),
        GeneratedTrace(1, 0, "p1", f"<think>\nsteps\n</think>\nAnswer: {int(wrong) + 1}", "stop", 9),
        GeneratedTrace(2, 0, "p2", "<think>\nstep step step", "length", 9),  # cut: not a natural trace
    ]
    assert natural_verdicts(traces, conversations) == [True, False, None]


def test_prompts_that_do_not_name_their_item_are_not_judged():
    conversations, items = _prompts(meta_keys=("env", "id"))  # a hand-written prompt file: no split or seed
    trace = GeneratedTrace(0, 0, "p0", f"<think>\nx\n</think>\nAnswer: {items[0].reference['answer']}", "stop", 5)
    assert natural_verdicts([trace], conversations) == [None]


def test_verify_natural_needs_keep_natural(tmp_path):
    train = {"model": {"path": str(tmp_path)}, "data": {"tokenized": str(tmp_path)}, "output_dir": str(tmp_path)}
    base = {"prompts": "p.jsonl", "control_budget": 10, "generation_budget": 20, "train": train}
    with pytest.raises(ValueError, match="verify_natural .* set keep_natural too"):
        LengthControlConfig.model_validate({**base, "verify_natural": True})
    LengthControlConfig.model_validate({**base, "verify_natural": True, "keep_natural": True})
