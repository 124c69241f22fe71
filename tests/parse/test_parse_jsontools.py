"""JSON helpers: extraction from model output, repair with a record, schema errors with JSON paths."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hermes4.parse.jsontools import (
    InvalidSchemaError,
    JsonExtractionError,
    extract_json,
    json_path,
    repair_json,
    validate,
)


@pytest.mark.parametrize(
    ("text", "value", "source"),
    [
        ('{"a": 1}', {"a": 1}, "bare"),
        ("  [1, 2]\n", [1, 2], "bare"),
        ('Here you go:\n```json\n{"a": [1, 2]}\n```\nDone.', {"a": [1, 2]}, "fenced"),
        ('```\n{"plain": "fence"}\n```', {"plain": "fence"}, "fenced"),
        ('```json\n{"draft": 1}\n```\nFixed:\n```json\n{"final": 2}\n```', {"final": 2}, "fenced"),
        ('<json>\n{"t": true}\n</json>', {"t": True}, "tag"),
        ('<think>\n{"not": "this"}\n</think>\n{"answer": 42}', {"answer": 42}, "bare"),
        ('I reason {"x": 0}</think>The result: {"y": [1, {"z": null}]} as asked.', {"y": [1, {"z": None}]}, "embedded"),
    ],
)
def test_extract(text: str, value, source: str) -> None:
    found = extract_json(text)
    assert (found.value, found.source, found.repaired) == (value, source, False)
    offset = text.rfind("</think>") + len("</think>") if "</think>" in text else 0
    assert found.start >= offset and text[found.start : found.end].strip()


def test_extract_repairs_and_says_so() -> None:
    found = extract_json("<json>{'name': 'x', 'ok': True,}</json>")
    assert found.value == {"name": "x", "ok": True} and found.repaired and found.source == "tag"


def test_extract_nothing_is_a_clear_error() -> None:
    with pytest.raises(JsonExtractionError, match="no JSON value found"):
        extract_json("<think>{}</think>I cannot answer that.")


def test_repair_json() -> None:
    assert repair_json('{"a": 1}').repaired is False
    fixed = repair_json("{'a': None, 'b': [1, 2,],}")
    assert fixed.value == {"a": None, "b": [1, 2]} and fixed.repaired
    assert repair_json("null").value is None
    with pytest.raises(JsonExtractionError):
        repair_json("   ")


SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        },
        "count": {"type": "integer", "minimum": 0},
        "weird key": {"enum": ["a", "b"]},
    },
    "required": ["items", "count"],
    "additionalProperties": False,
}


def test_validate_returns_every_error_with_its_path() -> None:
    value = {"items": [{"name": "a"}, {"name": "b"}, {"name": 3}, {}], "count": -1, "weird key": "c", "extra": 1}
    errors = validate(value, SCHEMA)
    assert [(e.path, e.validator) for e in errors] == [
        ("$", "additionalProperties"),
        ("$.count", "minimum"),
        ("$.items[2].name", "type"),
        ("$.items[3]", "required"),
        ('$["weird key"]', "enum"),
    ]
    assert "'name' is a required property" in str(errors[3])
    assert validate({"items": [], "count": 0}, SCHEMA) == []


def test_validate_orders_indices_numerically() -> None:
    errors = validate([0] * 12, {"type": "array", "items": {"type": "string"}})
    assert [e.path for e in errors] == [f"$[{i}]" for i in range(12)]


def test_validate_with_a_pydantic_model() -> None:
    class Answer(BaseModel):
        value: int
        unit: str

    assert [e.path for e in validate({"value": "x"}, Answer)] == ["$", "$.value"]


def test_invalid_schema_is_a_clear_error() -> None:
    with pytest.raises(InvalidSchemaError, match=r"invalid schema at \$\.type"):
        validate({}, {"type": "nope"})


def test_json_path() -> None:
    assert json_path([]) == "$"
    assert json_path(["a", 0, "b c", "_x1"]) == '$.a[0]["b c"]._x1'


def test_email_format_needs_a_local_part_and_a_dotted_domain():
    # Issue 16: jsonschema checks "email" as "contains an @", so the json_schema env accepted "@" as an email.
    from hermes4.envs.json_schema import validate as env_validate
    from hermes4.parse.jsontools import validate as parse_validate

    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    for bad in ["@", "a@", "@b.c", "a@b", "a@@b.c", "a b@c.d"]:
        assert env_validate({"email": bad}, schema), bad
        assert parse_validate({"email": bad}, schema), bad
    for good in ["a@b.c", "first.last+tag@mail.example.org"]:
        assert env_validate({"email": good}, schema) == [] and parse_validate({"email": good}, schema) == []
