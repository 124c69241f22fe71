"""One tool call's body: reading `{"name": ..., "arguments": ...}` as it streams, and settling it when it ends.

`CallReader` is the JSON reader of `jsonstream` that also watches the members of the call object: it announces
the name as soon as its string closes and exposes the canonical text of `arguments` (alias `parameters`) as it
grows, so arguments stream OpenAI style. Arguments given as a JSON string are decoded once, by a nested reader
fed the decoded characters, so they stream too.

`settle` decides what the call is when it ends. The arguments of a call whose deltas were already streamed are
always `json.loads` of everything streamed: when the call had to be repaired, the repaired arguments are used if
they extend what was streamed; otherwise the streamed part is kept (closed with nulls) and the cut is an issue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import json_repair

from hermes4.parse.jsonstream import JsonNormalizer, close_json_prefix

ARGUMENT_KEYS = ("arguments", "parameters")
# json_repair can take quadratic time on adversarial text (many quotes); a malformed call longer than this is
# rejected as unreadable instead, so parsing stays linear. Well-formed calls and the repairs the streaming reader
# does itself (quotes, literals, raw newlines, trailing commas) have no length limit.
REPAIR_LIMIT = 16_384
# Deeper call JSON is unreadable. A fixed bound, because json.loads' own limit moves with sys.setrecursionlimit,
# which some libraries raise at import: the same output must parse the same way in every process.
MAX_NESTING = 512


class CallReader(JsonNormalizer):
    def __init__(self, *, skim: bool = False, base_hint: int = 0) -> None:
        super().__init__(skim=skim, stop_at_tag=True, base_hint=base_hint)
        self.name: str | None = None
        self.args_kind: str | None = None  # kind of the first arguments/parameters value
        self.inner: JsonNormalizer | None = None  # reader of arguments given as a JSON string
        self.args_string: list[str] | None = None  # decoded text of arguments given as a JSON string
        self._member = ""  # which member is being read: "name", "args" or ""
        self.args_complete = False  # the arguments value was read to its end before any stall
        self._args_parts: list[str] = []
        self._capturing = False
        self._drained = 0

    def _member_start(self, kind: str) -> None:
        key = self.top_key
        if key == "name" and self.name is None and kind == "string":
            self._member = "name"
            self.collect = []
        elif key in ARGUMENT_KEYS and self.args_kind is None:
            self._member = "args"
            self.args_kind = kind
            if kind == "{":
                self._capturing = True
            elif kind == "string":
                self.inner = JsonNormalizer()
                self.sink = self.inner
                self.collect = self.args_string = []
        else:
            self._member = ""

    def _member_end(self) -> None:
        if self._member == "name" and self.collect is not None:
            self.name = "".join(self.collect)
        elif self._member == "args":
            self.args_complete = True
        self._capturing = False
        self.collect = None
        self.sink = None
        self._member = ""

    def _out(self, text: str) -> None:
        self.out.append(text)
        if self._capturing:
            self._args_parts.append(text)

    def args_parts(self) -> list[str]:
        """Canonical pieces of the arguments object read so far ([] while they cannot stream as an object)."""
        if self.args_kind == "{":
            return self._args_parts
        if self.args_kind == "string" and self.inner is not None and self.inner.first_kind == "{":
            return self.inner.out
        return []

    def drain_arguments(self) -> str:
        """The arguments text added since the last call."""
        parts = self.args_parts()
        if len(parts) == self._drained:
            return ""
        text = "".join(parts[self._drained :])
        self._drained = len(parts)
        return text

    @property
    def clean(self) -> bool:
        """Read strictly (apart from recorded repairs) to its end."""
        return self.done and self.stalled_at is None and not self.skim_from_start


@dataclass
class Settled:
    """What a call turned out to be: its name and arguments, the last argument delta, and issues to record."""

    name: str | None = None
    arguments: dict[str, Any] | None = None
    arguments_json: str = ""
    tail: str = ""  # argument text still to stream (everything, when nothing streamed yet)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (issue kind, message)
    rejected: bool = False
    more: list[Settled] = field(default_factory=list)  # further calls found in the same body (a JSON array of calls)


def repair_value(text: str) -> tuple[Any, list[str] | None]:
    """Strict JSON if possible, else json_repair: (value, None) or (value, what json_repair did).

    The value is None when even json_repair finds nothing in the text.
    """
    try:
        return json.loads(text), None
    except (json.JSONDecodeError, RecursionError, ValueError):
        pass
    try:
        value, log = json_repair.repair_json(text, return_objects=True, logging=True)
    except Exception:  # noqa: BLE001 - json_repair is best effort; any failure inside it means "unreadable", not a crash
        return None, None
    if value == "" and text.strip() not in ('""', "''"):
        return None, None
    return value, [entry["text"] for entry in log if isinstance(entry, dict) and entry.get("text")]


def _arguments_value(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments from a call object's value: an object, a JSON string holding one (decoded once), or null."""
    if value is None:
        return {}, None
    if isinstance(value, str):
        if not value.strip():
            return {}, None
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError, ValueError):
            if len(value) > REPAIR_LIMIT:
                return None, f"the arguments string is malformed and too long to repair ({len(value)} characters)"
            value, _ = repair_value(value)
            if value is None:
                return None, "the arguments string is not JSON, even after repair"
    if isinstance(value, dict):
        return value, None
    return None, f"arguments must be a JSON object, got {type(value).__name__}"


def _call_fields(obj: Any) -> tuple[str | None, Any, bool]:
    """(name, raw arguments value, has arguments) from a call object, also in the OpenAI nested shape."""
    if not isinstance(obj, dict):
        return None, None, False
    if not isinstance(obj.get("name"), str) and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    for key in ARGUMENT_KEYS:
        if key in obj:
            return (name if isinstance(name, str) and name else None), obj[key], True
    return (name if isinstance(name, str) and name else None), None, False


def _complete(settled: Settled, streamed: str) -> Settled:
    """Fill `tail` / `arguments_json` so that streamed + tail is JSON text whose value is `arguments`."""
    target = json.dumps(settled.arguments, ensure_ascii=False)
    if target.startswith(streamed):
        settled.tail = target[len(streamed) :]
        settled.arguments_json = target
        return settled
    settled.tail = close_json_prefix(streamed)
    settled.arguments_json = streamed + settled.tail
    settled.arguments = json.loads(settled.arguments_json)
    settled.problems.append(
        ("arguments_cut", f"the repaired arguments disagree with the {len(streamed)} characters already streamed; kept those")
    )
    return settled


def settle(reader: CallReader | None, raw: str, *, closed: bool, streamed: str | None) -> Settled:
    """Decide what a call is. `streamed` is the argument text already sent (None if the call was never announced)."""
    if reader is None or not raw.strip():
        if closed:
            return Settled(rejected=True, problems=[("unreadable_tool_call", "empty tool call")])
        return Settled(rejected=True, problems=[("truncated_tool_call", "the output ended at the start of a tool call")])
    if not closed and not reader.done:
        return Settled(rejected=True, problems=[("truncated_tool_call", "the output ended inside this tool call's JSON")])
    if reader.max_depth > MAX_NESTING:
        return _too_deep()
    try:
        if reader.clean:
            return _settle_clean(reader, streamed or "")
        if reader.name and reader.args_complete and not reader.skim_from_start:
            # Name and arguments were read strictly; only the envelope after them is broken (a missing final
            # brace, a stray key): keep what was read rather than re-reading everything with json_repair.
            settled = _settle_clean(reader, streamed or "")
            settled.problems.append(("repaired_json", f"ignored the malformed rest of the call object from {reader.stalled_at}"))
            return settled
        if len(raw) > REPAIR_LIMIT:
            return Settled(
                rejected=True,
                problems=[("unreadable_tool_call", f"malformed and too long to repair ({len(raw)} > {REPAIR_LIMIT} characters)")],
            )
        return _settle_repaired(raw, streamed)
    except RecursionError:  # json.loads/dumps recurse; a pathologically deep value is unreadable, not a crash
        return _too_deep()


def _too_deep() -> Settled:
    return Settled(rejected=True, problems=[("unreadable_tool_call", f"the tool call JSON is nested too deeply (over {MAX_NESTING} levels)")])


def _repair_problems(repairs: list[tuple[str, int]], where: str) -> list[tuple[str, str]]:
    """One issue listing every repair of a call, grouped by what was repaired, with positions in the output."""
    if not repairs:
        return []
    grouped: dict[str, list[str]] = {}
    for what, pos in repairs:
        grouped.setdefault(what, []).append(str(pos))
    listed = "; ".join(f"{what} at {', '.join(positions)}" for what, positions in grouped.items())
    return [("repaired_json", f"repaired {where}{listed}")]


def _settle_clean(reader: CallReader, streamed: str) -> Settled:
    problems = _repair_problems(reader.repairs, "")
    name = reader.name
    kind = reader.args_kind
    if not name:  # name missing, not a string, or the call uses the nested {"function": {...}} shape
        name, value, _ = _call_fields(json.loads(reader.text()))
        if not name:
            return Settled(rejected=True, problems=[("missing_name", "the tool call has no name")])
        arguments, error = _arguments_value(value)
        if arguments is None:
            return Settled(rejected=True, problems=[("arguments_not_object", error or "")])
        return _complete(Settled(name=name, arguments=arguments, problems=problems), streamed)
    if kind is None or kind == "null":
        return _complete(Settled(name=name, arguments={}, problems=problems), streamed)
    if kind == "{":
        text = "".join(reader.args_parts())
        return Settled(name=name, arguments=json.loads(text), arguments_json=text, tail=text[len(streamed) :], problems=problems)
    if kind == "string":
        inner = reader.inner
        decoded = "".join(reader.args_string or ())
        if inner is not None:
            inner.finish()
            problems += _repair_problems(inner.repairs, "inside the arguments string (positions in the decoded string): ")
            if inner.done and inner.stalled_at is None and inner.extra_at is None and inner.first_kind == "{":
                text = inner.text()
                return Settled(name=name, arguments=json.loads(text), arguments_json=text, tail=text[len(streamed) :], problems=problems)
        arguments, error = _arguments_value(decoded)
        if arguments is None:
            return Settled(rejected=True, problems=[("arguments_not_object", error or "")])
        if decoded.strip():
            problems.append(("repaired_json", "the arguments string was repaired with json_repair"))
        return _complete(Settled(name=name, arguments=arguments, problems=problems), streamed)
    return Settled(rejected=True, problems=[("arguments_not_object", f"arguments must be a JSON object, got a {kind}")])


def _settle_repaired(raw: str, streamed: str | None) -> Settled:
    value, log = repair_value(raw.strip())
    if value is None:
        return Settled(rejected=True, problems=[("unreadable_tool_call", "the tool call is not JSON, even after repair")])
    note = "repaired with json_repair" + (": " + "; ".join(dict.fromkeys(log)) if log else "")
    if isinstance(value, list):  # a JSON array of calls in one tag (only the first, if one was already announced)
        candidates = value if streamed is None else value[:1]
    else:
        candidates = [value]
    settled: list[Settled] = []
    for obj in candidates:
        name, raw_arguments, _ = _call_fields(obj)
        if not name:
            settled.append(Settled(rejected=True, problems=[("missing_name", "the tool call has no name")]))
            continue
        arguments, error = _arguments_value(raw_arguments)
        if arguments is None:
            settled.append(Settled(rejected=True, problems=[("arguments_not_object", error or "")]))
            continue
        one = Settled(name=name, arguments=arguments, problems=[("repaired_json", note)] if log is not None else [])
        settled.append(_complete(one, streamed or "") if not settled else _complete(one, ""))
    if not settled:
        return Settled(rejected=True, problems=[("unreadable_tool_call", "an empty list of tool calls")])
    first, *rest = settled
    first.more = rest
    return first
