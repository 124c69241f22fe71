"""benchmarks/make_probe_data.py: the probes' training data is what it says it is. Every layout's answers pass the
env's own verifier, the JSON trace copies the prompt verbatim and arrives at the object it answers, and the rows
load as training conversations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.chat.messages import Conversation
from hermes4.envs import Trajectory, get_env
from hermes4.envs.json_schema import fenced_blocks
from hermes4.train.data import load_conversations

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "make_probe_data.py"
TINY_JSON = "json_schema:tasks=produce,max_depth=0,max_fields=3,kinds=integer+boolean+enum"
ENVS = {"json-direct": TINY_JSON, "json-every-field": TINY_JSON, "json-trace": TINY_JSON,
        "sorting": "procedural:tasks=sorting,difficulty=0"}


def make(layout: str, out: Path, n: int = 30) -> list[dict]:
    done = subprocess.run([sys.executable, str(SCRIPT), "--layout", layout, "--n", str(n), "--out", str(out)],
                          capture_output=True, text=True, check=True)
    assert f"wrote {n} {layout} conversations" in done.stdout
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("layout", sorted(ENVS))
def test_every_answer_passes_the_env_verifier(layout, tmp_path):
    rows = make(layout, tmp_path / "probe.jsonl")
    env = get_env(f"{ENVS[layout]},n=30")
    items = env.items(split="train")
    assert len(rows) == len(items) == 30
    for item, row in zip(items, rows, strict=True):
        assert row["messages"][0]["content"] == item.prompt.messages[0].content
        assert row["thinking"] == (layout in ("json-trace", "sorting"))
        answer = Conversation.model_validate({"messages": row["messages"]})
        verdict = env.verify(item, Trajectory(messages=answer.messages[1:]))
        assert verdict.status == "pass", (layout, verdict)
    assert len(load_conversations(str(tmp_path / "probe.jsonl"))) == 30


def test_json_trace_copies_the_prompt_and_arrives_at_the_object(tmp_path):
    for row in make("json-trace", tmp_path / "trace.jsonl"):
        prompt, answer = row["messages"][0]["content"], row["messages"][1]
        schema = json.loads(fenced_blocks(prompt)[0])
        value = json.loads(fenced_blocks(answer["content"])[0])
        lines = answer["reasoning_content"].splitlines()[1:]
        assert len(lines) == len(schema["properties"])
        for line, name in zip(lines, schema["properties"], strict=True):
            span = line.removesuffix(" is optional.").split(" is required: ")[0]
            assert span in prompt and span.startswith(json.dumps(name) + ": ")
            assert line.endswith(" is optional.") == (name not in schema["required"])
            if name in schema["required"]:
                assert line.endswith(f"is required: {json.dumps(name)}: {json.dumps(value[name])}")
        assert list(value) == [n for n in schema["properties"] if n in schema["required"]]


def test_every_field_object_lists_each_property_in_the_schemas_order(tmp_path):
    for row in make("json-every-field", tmp_path / "every.jsonl"):
        schema = json.loads(fenced_blocks(row["messages"][0]["content"])[0])
        value = json.loads(fenced_blocks(row["messages"][1]["content"])[0])
        assert list(value) == list(schema["properties"])


def test_bad_layout_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--layout", "poetry", "--out", str(tmp_path / "x.jsonl")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "invalid choice: 'poetry'" in done.stderr
    assert not (tmp_path / "x.jsonl").exists()
