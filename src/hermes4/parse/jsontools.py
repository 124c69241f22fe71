"""JSON in model output: find the value (bare, fenced, inside tags, after the reasoning), repair it, check a schema."""

from __future__ import annotations

import itertools
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema

from hermes4.parse.toolcall import repair_value

Source = Literal["bare", "fenced", "tag", "embedded"]

_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_TAGGED = re.compile(r"<(json|answer|output|result|response|final_answer)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_EMBEDDED_TRIES = 64  # start positions tried for JSON embedded in prose (each try may scan to the end)


class JsonExtractionError(ValueError):
    """No JSON value could be found in the text; the message says what was looked for."""


class InvalidSchemaError(ValueError):
    """The JSON schema itself is invalid; the message names the offending part of the schema."""


@dataclass(frozen=True)
class RepairedJson:
    value: Any
    repaired: bool  # False when the text was already valid JSON
    notes: list[str] = field(default_factory=list)  # what json_repair did


@dataclass(frozen=True)
class ExtractedJson:
    value: Any
    source: Source
    start: int  # span of the JSON text in the input
    end: int
    repaired: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaError:
    path: str  # JSONPath of the offending value, e.g. `$.items[2].name` (`$` is the whole value)
    message: str
    validator: str  # the schema keyword that failed: "required", "type", "enum", ...

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def repair_json(text: str) -> RepairedJson:
    """Decode JSON, repairing near-JSON (single quotes, Python literals, trailing commas, ...) with json_repair."""
    value, notes = repair_value(text.strip())
    if value is None and not _is_null_literal(text):
        raise JsonExtractionError("no JSON value in the text, even after repair")
    return RepairedJson(value=value, repaired=notes is not None, notes=notes or [])


def _is_null_literal(text: str) -> bool:
    return text.strip() == "null"


def extract_json(text: str) -> ExtractedJson:
    """The JSON value a model answered with.

    Looks after the last `</think>` if there is one, then, in order: a ```json fence, a `<json>` (or `<answer>`,
    `<output>`, `<result>`, `<response>`, `<final_answer>`) tag, the whole text, and finally the first `{` or `[`
    from which a value decodes. The last candidate of a kind wins for fences and tags (models restate drafts).
    Near-JSON found this way is repaired and `repaired` says so. Raises JsonExtractionError when nothing is found.
    """
    offset = 0
    think_end = text.rfind("</think>")
    if think_end >= 0:
        offset = think_end + len("</think>")
    body = text[offset:]
    candidates: list[tuple[Source, int, int]] = []
    fences = list(_FENCE.finditer(body))
    if fences:
        m = fences[-1]
        candidates.append(("fenced", m.start(1), m.end(1)))
    tags = list(_TAGGED.finditer(body))
    if tags:
        m = tags[-1]
        candidates.append(("tag", m.start(2), m.end(2)))
    candidates.append(("bare", 0, len(body)))
    for source, start, end in candidates:
        found = _decode_span(body, start, end)
        if found is not None:
            value, repaired, notes, s, e = found
            return ExtractedJson(value, source, offset + s, offset + e, repaired, notes)
    decoder = json.JSONDecoder()
    for m in itertools.islice(re.finditer(r"[{\[]", body), _MAX_EMBEDDED_TRIES):
        try:
            value, end = decoder.raw_decode(body, m.start())
        except (json.JSONDecodeError, RecursionError):
            continue
        return ExtractedJson(value, "embedded", offset + m.start(), offset + end, False)
    for m in itertools.islice(re.finditer(r"[{\[]", body), 3):  # nothing strict: a container json_repair can read
        value, notes = repair_value(body[m.start() :])
        if isinstance(value, (dict, list)) and value:
            return ExtractedJson(value, "embedded", offset + m.start(), len(text), True, notes or [])
    where = " after </think>" if think_end >= 0 else ""
    raise JsonExtractionError(f"no JSON value found in the output{where} (looked for a ```json fence, a <json> tag, bare JSON)")


def _decode_span(body: str, start: int, end: int) -> tuple[Any, bool, list[str], int, int] | None:
    chunk = body[start:end]
    stripped = chunk.strip()
    if not stripped:
        return None
    s = start + (len(chunk) - len(chunk.lstrip()))
    e = s + len(stripped)
    try:
        return json.loads(stripped), False, [], s, e
    except (json.JSONDecodeError, RecursionError):
        pass
    if stripped[0] not in "{[":
        return None  # prose: only containers are worth repairing, else any word would "repair" into a string
    value, notes = repair_value(stripped)
    if value is None or not isinstance(value, (dict, list)):
        return None
    return value, True, notes or [], s, e


def json_path(parts: Any) -> str:
    """`$.items[2].name` from a jsonschema error path; keys that are not identifiers are quoted: `$["a b"]`."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.fullmatch(str(part)):
            path += f".{part}"
        else:
            path += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return path


def schema_of(schema: Any) -> dict[str, Any] | bool:
    """A JSON schema from a dict / bool schema or a pydantic model class."""
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    if isinstance(schema, (dict, bool)):
        return schema
    raise InvalidSchemaError(f"a schema must be a JSON schema object or a pydantic model class, got {type(schema).__name__}")


def validate(value: Any, schema: Any) -> list[SchemaError]:
    """Every way `value` breaks `schema` (empty when it conforms), ordered by path. Uses the schema's own draft."""
    schema = schema_of(schema)
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidSchemaError(f"a schema must be JSON: {exc}") from None
    errors = sorted(_checked_validator(key).iter_errors(value), key=_error_order)
    return [SchemaError(path=json_path(err.absolute_path), message=err.message, validator=str(err.validator)) for err in errors]


@functools.lru_cache(maxsize=1024)
def _checked_validator(schema_json: str) -> jsonschema.protocols.Validator:
    # Checking a schema costs ~100x validating a value against it; verifiers validate thousands of
    # answers against the same few schemas, so each distinct schema is checked and compiled once.
    schema = json.loads(schema_json)
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidSchemaError(f"invalid schema at {json_path(exc.absolute_path)}: {exc.message}") from None
    return validator_class(schema, format_checker=_format_checker(validator_class))


# jsonschema checks "email" as "contains an @", so "@" alone passed; an address needs a local part, one @, and a
# domain with a dot (what RFC 5321 allows at the edges, e.g. quoted local parts, is not what a model should write).
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


@functools.lru_cache(maxsize=8)
def _format_checker(validator_class: type) -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(validator_class.FORMAT_CHECKER.checkers)

    def is_email(instance: object) -> bool:
        return not isinstance(instance, str) or _EMAIL.fullmatch(instance) is not None

    for name in ("email", "idn-email"):
        checker.checks(name)(is_email)
    return checker


def _error_order(err: jsonschema.ValidationError) -> tuple[list[tuple[int, int, str]], str]:
    # Indices compare as numbers ([2] before [10]), keys as text; then by keyword for a stable order.
    path = [(0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in err.absolute_path]
    return path, str(err.validator)


def find_json(text: str) -> Any | None:
    """The value `extract_json` finds, or None when the text holds no JSON (for callers that count misses)."""
    try:
        return extract_json(text).value
    except JsonExtractionError:
        return None
