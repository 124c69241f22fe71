"""`json_schema`: random JSON Schemas; tasks "produce a conforming object" and "repair a malformed one"."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import string
from collections.abc import Sequence
from typing import Any

from hermes4.chat.messages import Conversation, Message
from hermes4.envs.answer import final_answer
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.registry import register_env

PRODUCE_MARKER = "Produce a JSON object that conforms to this JSON Schema:"
REPAIR_MARKER = "Repair this malformed JSON object"
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n```", re.DOTALL)


def fenced_blocks(text: str) -> list[str]:
    """The bodies of the ```json fenced blocks of `text`, in order (a prompt's schema and malformed object)."""
    return _FENCE.findall(text)


_FIELD_NAMES = ["id", "name", "title", "email", "created", "birthday", "status", "priority", "tags", "score", "count", "price", "ratio", "active", "verified", "owner", "address", "city", "country", "zip", "items", "quantity", "notes", "labels", "version", "host", "port", "uuid", "kind", "level"]
_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]
_FORMATS = ["date", "email", "ipv4", "ipv6", "uuid"]
# What a property can be; `kinds=` narrows it (a tiny model can learn integers, booleans and enums, not uuids).
PROPERTY_KINDS = ("string", "format", "enum", "integer", "number", "boolean", "array", "object", "array_of_objects")


# ----------------------------------------------------------------------------------------------- schemas


def random_schema(
    rng: random.Random, depth: int = 0, max_depth: int = 2, max_fields: int = 5, kinds: Sequence[str] | None = None
) -> dict[str, Any]:
    """A random object schema: nested objects, arrays, enums, string formats, bounds, required fields.

    `max_fields` bounds the properties of the outermost object (nested ones have at most 3); `kinds` limits what a
    property can be (default: every kind in PROPERTY_KINDS)."""
    widest = max_fields if depth == 0 else min(3, max_fields)
    names = rng.sample(_FIELD_NAMES, rng.randint(min(2, widest), widest))
    properties = {name: _random_property(rng, depth, max_depth, max_fields, kinds) for name in names}
    required = sorted(rng.sample(names, rng.randint(1, len(names))))
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if rng.random() < 0.5:
        schema["additionalProperties"] = False
    return schema


def _random_property(rng: random.Random, depth: int, max_depth: int, max_fields: int, allowed: Sequence[str] | None) -> dict[str, Any]:
    kinds = ["string", "format", "enum", "integer", "number", "boolean", "array"]
    if depth < max_depth:
        kinds += ["object", "array_of_objects"]
    if allowed is not None:
        kinds = [k for k in kinds if k in allowed] or ["integer"]  # only nesting kinds allowed, at the deepest level
    kind = rng.choice(kinds)
    if kind == "string":
        low = rng.randint(1, 4)
        return {"type": "string", "minLength": low, "maxLength": low + rng.randint(2, 20)}
    if kind == "format":
        return {"type": "string", "format": rng.choice(_FORMATS)}
    if kind == "enum":
        return {"type": "string", "enum": rng.sample(_WORDS, rng.randint(2, 4))}
    if kind == "integer":
        low = rng.randint(-100, 100)
        return {"type": "integer", "minimum": low, "maximum": low + rng.randint(0, 1000)}
    if kind == "number":
        return {"type": "number", "minimum": 0, "exclusiveMaximum": rng.choice([1, 10, 100.5])}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "array":
        low = rng.randint(0, 2)
        inner = rng.choice([{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}, {"type": "string", "enum": rng.sample(_WORDS, 3)}])
        return {"type": "array", "items": inner, "minItems": low, "maxItems": low + rng.randint(1, 4), **({"uniqueItems": True} if inner.get("type") == "integer" else {})}
    if kind == "object":
        return random_schema(rng, depth + 1, max_depth, max_fields, allowed)
    return {"type": "array", "items": random_schema(rng, depth + 1, max_depth, max_fields, allowed), "minItems": 1, "maxItems": 3}


def witness(schema: dict[str, Any], rng: random.Random, minimal: bool = False) -> Any:
    """A value valid under `schema` (for the constructs `random_schema` emits, plus const/anyOf/type lists).

    `minimal` gives the smallest, plainest conforming value instead of a random one: only the required fields, in
    the order `required` lists them, each at its lower bound, the first enum value, the fewest array items."""
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if "enum" in schema:
        return copy.deepcopy(schema["enum"][0] if minimal else rng.choice(schema["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return witness(schema[key][0], rng, minimal)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        names = list(required) if minimal else [n for n in properties if n in required or rng.random() < 0.6]
        return {name: witness(properties.get(name, {}), rng, minimal) for name in names}
    if kind == "array":
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", low + 3)
        count = low if minimal else rng.randint(low, max(low, high))
        items = schema.get("items", {"type": "string"})
        unique = bool(schema.get("uniqueItems"))
        out: list[Any] = []
        attempts = 0
        while len(out) < count and attempts < 100:
            attempts += 1
            value = witness(items, rng, minimal and not unique)  # equal minimal items would break uniqueness
            if unique and value in out:
                continue
            out.append(value)
        return out
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1000) + 1 if "exclusiveMinimum" in schema else -1000)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 1001) - 1 if "exclusiveMaximum" in schema else 1000)
        return int(low) if minimal else rng.randint(int(low), int(high))
    if kind == "number":
        low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0.0)))
        high = float(schema.get("maximum", schema.get("exclusiveMaximum", low + 100.0)))
        if minimal and "exclusiveMinimum" not in schema:
            return int(low) if low.is_integer() else low
        return round(low + (high - low) * (0.5 if minimal else rng.uniform(0.1, 0.9)), 3)
    if kind == "boolean":
        return True if minimal else rng.random() < 0.5
    if kind == "null":
        return None
    if minimal and "format" not in schema:
        return string.ascii_lowercase[: max(1, schema.get("minLength", 1))]
    return _witness_string(schema, rng)


def _witness_string(schema: dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt == "date":
        return f"{rng.randint(1970, 2030):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if fmt == "ipv6":
        return ":".join(f"{rng.randint(0, 0xFFFF):x}" for _ in range(8))
    if fmt == "email":
        return f"{rng.choice(_WORDS)}.{rng.randint(1, 99)}@example.org"
    if fmt == "ipv4":
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if fmt == "uuid":
        hexes = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        return f"{hexes[:8]}-{hexes[8:12]}-4{hexes[13:16]}-a{hexes[17:20]}-{hexes[20:]}"
    low = schema.get("minLength", 1)
    high = schema.get("maxLength", low + 12)
    length = rng.randint(low, max(low, high))
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def validate(value: Any, schema: dict[str, Any]) -> list[str]:
    """Schema errors as `path: message` strings (empty when valid), via `hermes4.parse.jsontools` when present."""
    try:
        from hermes4.parse.jsontools import validate as parse_validate
    except ImportError:
        parse_validate = None
    if parse_validate is not None:
        return [f"{getattr(e, 'path', '')}: {getattr(e, 'message', e)}" for e in parse_validate(value, schema)]
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in validator.iter_errors(value)]


# ----------------------------------------------------------------------------------------- malformed JSON


def corrupt(value: dict[str, Any], rng: random.Random) -> str:
    """A syntactically broken rendering of `value` that a careful reader can still repair unambiguously."""
    text = json.dumps(value, indent=2)
    damages = rng.sample(["trailing_comma", "single_quotes", "missing_brace", "unquoted_keys", "python_literals"], 2)
    for damage in damages:
        if damage == "trailing_comma":
            text = re.sub(r'("|\d|true|false|null|\]|\})\n(\s*)\}', r"\1,\n\2}", text, count=1)
        elif damage == "single_quotes":
            text = re.sub(r'"([A-Za-z_]+)":', r"'\1':", text)
        elif damage == "missing_brace":
            text = text.rstrip()[:-1].rstrip()
        elif damage == "unquoted_keys":
            text = re.sub(r'"([A-Za-z_]+)":', r"\1:", text)
        elif damage == "python_literals":
            text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    try:  # make sure the damage really broke it
        json.loads(text)
    except json.JSONDecodeError:
        return text
    return text + "\n}"


def extract_object(answer: str) -> tuple[Any, str | None]:
    """The JSON value of an answer that is a JSON document, optionally in one ```json fence."""
    body = answer.strip()
    fenced = _FENCE.fullmatch(body)
    if fenced:
        body = fenced[1].strip()
    try:
        return json.loads(body), None
    except json.JSONDecodeError as exc:
        return None, f"the answer is not a JSON document ({exc.msg} at line {exc.lineno} column {exc.colno})"


# ---------------------------------------------------------------------------------------------------- env


@register_env("json_schema")
class JsonSchemaEnv(Env):
    """Random JSON Schemas (nesting, arrays, enums, formats, required): produce or repair a conforming object."""

    check_timeout_s = 5.0

    def __init__(
        self, n: int = 200, seed: int = 0, tasks: list[str] | None = None, max_depth: int = 2, max_fields: int = 5,
        kinds: list[str] | None = None,
    ) -> None:
        self.tasks = tasks or ["produce", "repair"]
        bad = [t for t in self.tasks if t not in ("produce", "repair")]
        if bad:
            raise ValueError(f"option tasks: unknown task {bad[0]!r}; known: produce, repair")
        unknown = [k for k in kinds or [] if k not in PROPERTY_KINDS]
        if unknown:
            raise ValueError(f"option kinds: unknown kind {unknown[0]!r}; known: {', '.join(PROPERTY_KINDS)}")
        if max_fields < 1:
            raise ValueError(f"option max_fields: must be at least 1, got {max_fields}")
        self.n, self.seed, self.max_depth, self.max_fields, self.kinds = n, seed, max_depth, max_fields, kinds

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        from hermes4.envs.procedural.env import task_rng

        out = []
        for index in range(self.n):
            rng = task_rng(f"json_schema|{split}", self.seed + seed, index)
            task = self.tasks[index % len(self.tasks)]
            schema = random_schema(rng, max_depth=self.max_depth, max_fields=self.max_fields, kinds=self.kinds)
            example = witness(schema, rng)
            schema_text = json.dumps(schema)  # compact, as function-calling prompts carry schemas
            if task == "produce":
                text = f"{PRODUCE_MARKER}\n```json\n{schema_text}\n```\nReply with the JSON object only."
                reference = {"task": task, "schema": schema}
            else:
                broken = corrupt(example, rng)
                text = (
                    f"{REPAIR_MARKER} so that it is valid JSON conforming to the schema below. Keep every value as "
                    f"it is; fix only the syntax.\n```\n{broken}\n```\nSchema:\n```json\n{schema_text}\n```\n"
                    "Reply with the repaired JSON object only."
                )
                reference = {"task": task, "schema": schema, "original": example}
            out.append(
                Item(
                    id=f"json_schema-{task}-{hashlib.sha256(text.encode()).hexdigest()[:12]}",
                    prompt=Conversation(messages=[Message(role="user", content=text)]),
                    reference=reference,
                    meta={"task": task, "witness": example},
                )
            )
        return out

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        answer = final_answer(trajectory)
        if not answer:
            return Verdict("fail", 0.0, {"reason": "empty answer"})
        value, problem = extract_object(answer)
        if problem:
            return Verdict("fail", 0.0, {"reason": problem})
        errors = validate(value, item.reference["schema"])
        if errors:
            return Verdict("fail", 0.0, {"reason": "schema violations", "errors": errors[:10]})
        if item.reference["task"] == "repair" and value != item.reference["original"]:
            return Verdict("fail", 0.0, {"reason": "valid, but the values differ from the original object"})
        return Verdict("pass", 1.0, {})
