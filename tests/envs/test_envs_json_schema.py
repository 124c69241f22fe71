"""json_schema: generated schemas, witnesses, corruption, produce/repair verdicts, the teacher."""

from __future__ import annotations

import json
import random

import json_repair
import pytest

from hermes4.envs import EnvSpecError, Trajectory, get_env
from hermes4.envs.json_schema import corrupt, random_schema, validate, witness
from hermes4.teacher import make_teacher
from hermes4.llm import Sampling, ScriptRequest


def _walk(schema: dict, seen: set[str]) -> None:
    seen.add(schema.get("type", "?"))
    for key in ("enum", "format", "required", "minItems", "additionalProperties"):
        if key in schema:
            seen.add(key)
    for sub in schema.get("properties", {}).values():
        _walk(sub, seen)
    if isinstance(schema.get("items"), dict):
        seen.add("array_items")
        _walk(schema["items"], seen)


def test_schemas_are_rich_and_witnesses_valid() -> None:
    seen: set[str] = set()
    for seed in range(300):
        rng = random.Random(seed)
        schema = random_schema(rng)
        _walk(schema, seen)
        value = witness(schema, rng)
        assert validate(value, schema) == [], (schema, value)
        smallest = witness(schema, rng, minimal=True)
        assert validate(smallest, schema) == [] and list(smallest) == schema["required"], (schema, smallest)
        broken = corrupt(value, rng)
        try:
            json.loads(broken)
            raise AssertionError(f"corruption left valid JSON: {broken}")
        except json.JSONDecodeError:
            pass
        assert json_repair.loads(broken) == value
    assert {"object", "array", "string", "integer", "number", "boolean", "enum", "format", "required", "array_items"} <= seen


def test_validation_reports_paths() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}}}, "required": ["a", "b"]}
    errors = validate({"a": [1, "x"]}, schema)
    assert len(errors) == 2 and any("b" in e for e in errors) and any("1" in e for e in errors)


def test_produce_and_repair_verdicts_with_reward_hack_probes() -> None:
    env = get_env("json_schema:n=30")
    kinds = set()
    for item in env.items():
        kinds.add(item.reference["task"])
        schema, example = item.reference["schema"], item.meta["witness"]
        good = json.dumps(example)
        assert env.verify(item, Trajectory.from_text(good)).status == "pass"
        assert env.verify(item, Trajectory.from_text(f"```json\n{good}\n```", reasoning="fields")).status == "pass"
        assert env.verify(item, Trajectory.from_text("", reasoning=good)).status == "fail"  # only in reasoning
        assert env.verify(item, Trajectory.from_text("")).status == "fail"
        assert env.verify(item, Trajectory.from_text(f"Sure! {good}")).status == "fail"  # not a JSON document
        required = schema["required"][0]
        missing = {k: v for k, v in example.items() if k != required}
        verdict = env.verify(item, Trajectory.from_text(json.dumps(missing)))
        assert verdict.status == "fail" and "schema violations" in verdict.details["reason"]
        if item.reference["task"] == "repair":
            # valid under the schema but not the object that was asked to be repaired
            other = witness(schema, random.Random(99))
            if other != example:
                assert env.verify(item, Trajectory.from_text(json.dumps(other))).status == "fail"
    assert kinds == {"produce", "repair"}


def test_teacher_answers_schema_items() -> None:
    env = get_env("json_schema:n=40,seed=5")
    right, wrong = make_teacher(error_rate=0.0), make_teacher(error_rate=1.0)
    for item in env.items():
        for thinking in (True, False):
            request = ScriptRequest(prompt="", sampling=Sampling(), conversation=item.prompt, thinking=thinking)
            assert env.verify(item, Trajectory.from_text(right(request))).status == "pass"
            assert env.verify(item, Trajectory.from_text(wrong(request))).status == "fail"


def test_narrow_schemas_for_small_models() -> None:
    """`max_fields` and `kinds` narrow the schemas; the teacher answers with the smallest object."""
    env = get_env("json_schema:n=60,tasks=produce,max_depth=0,max_fields=3,kinds=integer+boolean+enum")
    teacher = make_teacher(error_rate=0.0)
    for item in env.items():
        schema = item.reference["schema"]
        assert 1 <= len(schema["properties"]) <= 3
        for prop in schema["properties"].values():
            assert prop["type"] in ("integer", "boolean") or "enum" in prop, prop
        request = ScriptRequest(prompt="", sampling=Sampling(), conversation=item.prompt, thinking=False)
        answer = json.loads(_fenced_json(teacher(request)))
        assert list(answer) == schema["required"]  # the smallest object: required fields, in their listed order
    with pytest.raises(EnvSpecError, match="unknown kind 'uuid'"):
        get_env("json_schema:kinds=uuid")
    with pytest.raises(EnvSpecError, match="max_fields"):
        get_env("json_schema:max_fields=0")


def _fenced_json(text: str) -> str:
    return text.split("```json\n", 1)[1].split("\n```", 1)[0]
