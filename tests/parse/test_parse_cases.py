"""The case table: every case asserted on the whole ParsedOutput, in batch and streamed at several chunkings.

Cases marked with an issue number reproduce failures users reported against vLLM's / SGLang's Hermes parsers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _parse_helpers import assert_stream_equals_batch, assert_well_formed

CHUNKINGS = [1, 2, 3, 5, 7, 13, 10_000, "seed-1", "seed-2"]


@dataclass
class Case:
    id: str
    text: str
    content: str = ""
    reasoning: str | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    truncated: bool = False
    issues: list[str] = field(default_factory=list)  # issue kinds, in order
    options: dict[str, bool] = field(default_factory=dict)
    in_reasoning: list[bool] | None = None  # per accepted call, when it matters


def call(name: str, arguments: Any = None, *, key: str = "arguments", nl: bool = True) -> str:
    import json

    body = {"name": name} if arguments is None else {"name": name, key: arguments}
    text = json.dumps(body, ensure_ascii=False)
    return f"<tool_call>\n{text}\n</tool_call>" if nl else f"<tool_call>{text}</tool_call>"


W = {"city": "Paris"}
CASES = [
    # ---- plain text, reasoning split ----
    Case("plain content", "The answer is 4.", content="The answer is 4."),
    Case("empty output", ""),
    Case("only whitespace", "  \n\t \n"),
    Case("think then content", "<think>\nLet me add.\n</think>\nThe answer is 4.", "The answer is 4.", "Let me add."),
    Case("think without newlines", "<think>hmm</think>4", "4", "hmm"),
    Case("only one newline stripped", "<think>\n\nA\n\n</think>\n\nB", "\nB", "\nA\n"),
    Case("one space stripped", "<think> A </think> B", "B", "A"),
    Case("whitespace before think", "\n  <think>r</think>c", "c", "r"),
    Case("empty think block", "<think>\n</think>\nHi", "Hi", ""),
    Case("think not at the start is content", "Sure. <think>x</think> y", "Sure. <think>x</think> y"),
    Case("stray closing tags are content", "a </think> b </tool_call> c", "a </think> b </tool_call> c"),
    Case("partial tag at the end is content", "Hello <tool_", "Hello <tool_"),
    Case("angle brackets in reasoning", "<think>if a < b and b <think> c</think>ok", "ok", "if a < b and b <think> c"),
    Case(
        "prompt opened think",
        "I reason.\n</think>\nAnswer",
        "Answer",
        "I reason.",
        options={"reasoning_started": True},
    ),
    Case(
        "prompt opened think, never closed",
        "still thinking",
        reasoning="still thinking",
        truncated=True,
        options={"reasoning_started": True},
    ),
    Case("unclosed think", "<think>\nstep 1\nstep 2", reasoning="step 1\nstep 2", truncated=True),
    # ---- tool calls: shapes ----
    Case("one call", call("get_weather", W), calls=[("get_weather", W)]),
    Case("no newlines around the JSON (dynamo#2915)", call("get_weather", W, nl=False), calls=[("get_weather", W)]),
    Case(
        "literal </tool_call> inside a string argument (vllm#45167)",
        call("write", {"text": "end tag: </tool_call> and <tool_call> too"}),
        calls=[("write", {"text": "end tag: </tool_call> and <tool_call> too"})],
    ),
    Case(
        "braces and quotes inside strings",
        call("f", {"code": 'if (x) { return "}"; } // {{', "q": "\\\"}"}),
        calls=[("f", {"code": 'if (x) { return "}"; } // {{', "q": "\\\"}"})],
    ),
    Case(
        "mkdir -p a/{b,c} (vllm#21544)",
        call("bash", {"command": "mkdir -p a/{b,c}"}),
        calls=[("bash", {"command": "mkdir -p a/{b,c}"})],
    ),
    Case(
        "unbalanced brace in a string (vllm#21544)",
        call("bash", {"command": "mkdir -p test/{test1,test2"}),
        calls=[("bash", {"command": "mkdir -p test/{test1,test2"})],
    ),
    Case("parameterless call, no arguments key (vllm#28806)", call("current_time"), calls=[("current_time", {})]),
    Case("parameterless call, empty object", call("current_time", {}), calls=[("current_time", {})]),
    Case("arguments null", '<tool_call>{"name": "now", "arguments": null}</tool_call>', calls=[("now", {})]),
    Case(
        "booleans, integers, floats, null",
        call("set", {"on": True, "off": False, "n": -12, "x": 2.5, "big": 10**20, "e": 1e-7, "none": None}),
        calls=[("set", {"on": True, "off": False, "n": -12, "x": 2.5, "big": 10**20, "e": 1e-7, "none": None})],
    ),
    Case(
        "nested arrays of objects with CJK (vllm#19056)",
        call("summary", {"outline": [{"h2": "一、背景", "guideline": "阐述"}, {"h2": "二、突破", "tags": ["a", "b"]}]}),
        calls=[("summary", {"outline": [{"h2": "一、背景", "guideline": "阐述"}, {"h2": "二、突破", "tags": ["a", "b"]}]})],
    ),
    Case(
        "unicode escapes and surrogate pairs",
        '<tool_call>{"name": "s", "arguments": {"q": "Ume\\u00e5 \\ud83d\\ude00 \\n\\t\\/"}}</tool_call>',
        calls=[("s", {"q": "Umeå 😀 \n\t/"})],
    ),
    Case(
        "arguments before name",
        '<tool_call>{"arguments": {"a": [1, {"b": "}"}]}, "name": "late"}</tool_call>',
        calls=[("late", {"a": [1, {"b": "}"}]})],
    ),
    Case(
        "arguments as a JSON string, decoded once",
        '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1, \\"s\\": \\"{\\\\\\"not\\\\\\": \\\\\\"decoded\\\\\\"}\\"}"}</tool_call>',
        calls=[("f", {"a": 1, "s": '{"not": "decoded"}'})],
    ),
    Case(
        "arguments string holding a Python dict",
        '<tool_call>{"name": "f", "arguments": "{\'a\': True}"}</tool_call>',
        calls=[("f", {"a": True})],
        issues=["repaired_json"],
    ),
    Case(
        "double-encoded arguments are decoded once, not twice",
        '<tool_call>{"name": "f", "arguments": "\\"{\\\\\\"a\\\\\\": 1}\\""}</tool_call>',
        issues=["arguments_not_object"],
    ),
    Case("arguments as an empty string", '<tool_call>{"name": "f", "arguments": ""}</tool_call>', calls=[("f", {})]),
    Case("parameters alias", call("f", {"x": 1}, key="parameters"), calls=[("f", {"x": 1})]),
    Case(
        "OpenAI nested function shape",
        '<tool_call>{"type": "function", "function": {"name": "f", "arguments": "{\\"x\\": 2}"}}</tool_call>',
        calls=[("f", {"x": 2})],
    ),
    # ---- several calls, content around them ----
    Case("two calls with a newline between", call("a", {}) + "\n" + call("b", {"x": 1}), calls=[("a", {}), ("b", {"x": 1})]),
    Case(
        "two calls back to back",
        call("a", {}, nl=False) + call("b", {"x": 1}, nl=False),
        calls=[("a", {}), ("b", {"x": 1})],
    ),
    Case(
        "three calls with newlines",
        "\n".join(call(n, {"i": i}) for i, n in enumerate("abc")),
        calls=[("a", {"i": 0}), ("b", {"i": 1}), ("c", {"i": 2})],
    ),
    Case(
        "three calls back to back",
        "".join(call(n, {"i": i}, nl=False) for i, n in enumerate("abc")),
        calls=[("a", {"i": 0}), ("b", {"i": 1}), ("c", {"i": 2})],
    ),
    Case(
        "narration before a call (dynamo#10445)",
        "I will check the weather. " + call("get_weather", W, nl=False),
        "I will check the weather.",
        calls=[("get_weather", W)],
    ),
    Case("content after the last call", call("a", {}) + "\nDone, calling a.", "Done, calling a.", calls=[("a", {})]),
    Case(
        "text before, between and after calls, in order",
        "First.\n" + call("a", {}) + "\nSecond.\n" + call("b", {}) + "\nThird.",
        "First.\nSecond.\nThird.",
        calls=[("a", {}), ("b", {})],
    ),
    Case(
        "think, then content and a call",
        "<think>\nNeed weather.\n</think>\nLet me look.\n" + call("get_weather", W),
        "Let me look.",
        "Need weather.",
        calls=[("get_weather", W)],
    ),
    Case(
        "no think block, content and a call (vllm#19017)",
        "Sure!\n\n" + call("greet_world", {}),
        "Sure!",
        calls=[("greet_world", {})],
    ),
    Case(
        "two objects in one tag",
        '<tool_call>\n{"name": "a", "arguments": {}}\n{"name": "b", "arguments": {"y": 2}}\n</tool_call>',
        calls=[("a", {}), ("b", {"y": 2})],
    ),
    Case(
        "a JSON array of calls in one tag",
        '<tool_call>[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"y": 2}}]</tool_call>',
        calls=[("a", {}), ("b", {"y": 2})],
    ),
    # ---- calls and reasoning ----
    Case(
        "call inside think is reasoning text (verl#4757)",
        "<think>\nmaybe " + call("a", {}, nl=False) + "\n</think>\n" + call("a", {}, nl=False),
        reasoning="maybe " + call("a", {}, nl=False),
        calls=[("a", {})],
    ),
    Case(
        "call inside think, interleaved mode returns both in order",
        "<think>\nfirst " + call("search", {"q": "x"}) + "\nthen\n</think>\n" + call("answer", {}),
        reasoning="first\nthen",
        calls=[("search", {"q": "x"}), ("answer", {})],
        options={"tools_in_reasoning": True},
        in_reasoning=[True, False],
    ),
    Case(
        "unclosed think containing a call",
        "<think>\nI could " + call("a", {"k": 1}, nl=False) + " later",
        reasoning="I could " + call("a", {"k": 1}, nl=False) + " later",
        truncated=True,
    ),
    Case(
        "unclosed think containing a call, interleaved mode",
        "<think>\nI could " + call("a", {"k": 1}, nl=False) + " later",
        reasoning="I could\nlater",
        calls=[("a", {"k": 1})],
        truncated=True,
        options={"tools_in_reasoning": True},
        in_reasoning=[True],
    ),
    Case(
        "call in think ended by </think>, interleaved mode",
        '<think>\n<tool_call>{"name": "a", "arguments": {}}</think>\nok',
        "ok",
        "",
        calls=[("a", {})],
        issues=["missing_close_tag"],
        options={"tools_in_reasoning": True},
    ),
    # ---- truncation ----
    Case(
        "unclosed final call with complete JSON",
        "Checking.\n<tool_call>\n" + '{"name": "a", "arguments": {"x": 1}}\n',
        "Checking.",
        calls=[("a", {"x": 1})],
        truncated=True,
        issues=["missing_close_tag"],
    ),
    Case(
        "unclosed final call with incomplete JSON",
        call("a", {}) + '\n<tool_call>\n{"name": "b", "arguments": {"x": "hal',
        calls=[("a", {})],
        truncated=True,
        issues=["truncated_tool_call"],
    ),
    Case("output ends right after <tool_call>", "Hi <tool_call>", "Hi", truncated=True, issues=["truncated_tool_call"]),
    # ---- repairs ----
    Case(
        "single-quoted Python dict",
        "<tool_call>{'name': 'f', 'arguments': {'s': \"it's\", 'n': 1}}</tool_call>",
        calls=[("f", {"s": "it's", "n": 1})],
        issues=["repaired_json"],
    ),
    Case(
        "True / False / None",
        '<tool_call>{"name": "f", "arguments": {"a": True, "b": False, "c": None}}</tool_call>',
        calls=[("f", {"a": True, "b": False, "c": None})],
        issues=["repaired_json"],
    ),
    Case(
        "raw newline inside a string",
        '<tool_call>{"name": "write", "arguments": {"text": "line 1\nline 2"}}</tool_call>',
        calls=[("write", {"text": "line 1\nline 2"})],
        issues=["repaired_json"],
    ),
    Case(
        "trailing commas",
        '<tool_call>{"name": "f", "arguments": {"a": [1, 2,], "b": 3,},}</tool_call>',
        calls=[("f", {"a": [1, 2], "b": 3})],
        issues=["repaired_json"],
    ),
    Case(
        "unquoted key needs json_repair",
        '<tool_call>{"name": "f", "arguments": {"a": 1, b: 2}}</tool_call>',
        calls=[("f", {"a": 1, "b": 2})],
        issues=["repaired_json"],
    ),
    Case(
        "missing closing brace before </tool_call>",
        '<tool_call>{"name": "f", "arguments": {"a": 1}</tool_call>after',
        "after",
        calls=[("f", {"a": 1})],
        issues=["repaired_json"],
    ),
    Case(
        "extra closing brace",
        '<tool_call>{"name": "f", "arguments": {"a": 1}}}</tool_call>',
        calls=[("f", {"a": 1})],
        issues=["extra_text_in_tool_call"],
    ),
    Case(
        "missing </tool_call> before the next call",
        '<tool_call>{"name": "a", "arguments": {}}\n<tool_call>{"name": "b", "arguments": {}}</tool_call>',
        calls=[("a", {}), ("b", {})],
        issues=["missing_close_tag"],
    ),
    # ---- a quote right before a tag opens a string, whichever chunk the tag arrives in ----
    Case(
        "a body opening a string before <tool_call> is one truncated call",
        '<tool_call>"<tool_call>',
        truncated=True,
        issues=["truncated_tool_call"],
    ),
    Case(
        "a body opening a single-quoted string before <tool_call>",
        "<tool_call>'<tool_call>",
        truncated=True,
        issues=["truncated_tool_call"],
    ),
    Case(
        "a string opened before </tool_call> runs to the end",
        'Hi <tool_call>"</tool_call>\nafter',
        "Hi",
        truncated=True,
        issues=["truncated_tool_call"],
    ),
    Case(
        "a string opened after a stall runs past <tool_call>",
        '<tool_call>{"a" "<tool_call>',
        truncated=True,
        issues=["truncated_tool_call"],
    ),
    Case(
        "a call in think opening a string before </think>, interleaved mode",
        '<think>\n<tool_call>"</think>\nok',
        reasoning="",
        truncated=True,
        issues=["truncated_tool_call"],
        options={"tools_in_reasoning": True},
    ),
    Case(
        "a call in prompt-opened think opening a single-quoted string before </think>",
        "why\n<tool_call>'</think>\nok",
        reasoning="why",
        truncated=True,
        issues=["truncated_tool_call"],
        options={"reasoning_started": True, "tools_in_reasoning": True},
    ),
    Case(
        "literal </tool_call> as a string in a skimmed array",
        '<tool_call>["</tool_call>"]</tool_call>ok',
        "ok",
        issues=["missing_name"],
    ),
    Case(
        "literal </tool_call> as a whole argument in a JSON array of calls",
        '<tool_call>[{"name": "f", "arguments": {"s": "</tool_call>"}}]</tool_call>ok',
        "ok",
        calls=[("f", {"s": "</tool_call>"})],
    ),
    # ---- `<` in a malformed arguments string is text (there are no tags inside a decoded string) ----
    Case(
        "arguments string with an unquoted value holding <",
        '<tool_call>{"name": "f", "arguments": "{\\"expr\\": a < b}"}</tool_call>',
        calls=[("f", {"expr": "a < b"})],
        issues=["repaired_json"],
    ),
    Case(
        "arguments string with an unquoted key, then a string starting with <",
        '<tool_call>{"name": "f", "arguments": "{x: \\"<\\"}"}</tool_call>',
        calls=[("f", {"x": "<"})],
        issues=["repaired_json"],
    ),
    # ---- rejected calls never raise, the rest still parses ----
    Case(
        "unreadable call between good ones",
        "A\n" + call("a", {}) + "\n<tool_call>\nthis is not json\n</tool_call>\n" + call("b", {}) + "\nB",
        "A\nB",
        calls=[("a", {}), ("b", {})],
        issues=["unreadable_tool_call"],
    ),
    Case("empty call", "x <tool_call></tool_call> y", "x\ny", issues=["unreadable_tool_call"]),
    Case("call without a name", '<tool_call>{"arguments": {"a": 1}}</tool_call>', issues=["missing_name"]),
    Case(
        "arguments that are not an object",
        '<tool_call>{"name": "f", "arguments": [1, 2]}</tool_call>' + call("g", {}),
        calls=[("g", {})],
        issues=["arguments_not_object"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_parse_case(case: Case) -> None:
    result = assert_stream_equals_batch(case.text, CHUNKINGS, **case.options)
    assert result.content == case.content
    assert result.reasoning == case.reasoning
    assert [(c.name, c.arguments) for c in result.tool_calls] == case.calls
    assert result.truncated is case.truncated
    assert [issue.kind for issue in result.issues] == case.issues, [issue.message for issue in result.issues]
    if case.in_reasoning is not None:
        assert [c.in_reasoning for c in result.tool_calls] == case.in_reasoning
    assert_well_formed(case.text, result)


def test_case_table_size() -> None:
    assert len(CASES) >= 40


def test_ids_are_deterministic_and_differ_across_outputs() -> None:
    from hermes4.parse import parse

    first = parse("Hi " + call("a", {}))
    assert parse("Hi " + call("a", {})).tool_calls[0].id == first.tool_calls[0].id
    assert parse("Hello " + call("a", {})).tool_calls[0].id != first.tool_calls[0].id


def test_unreadable_call_text_is_kept_in_the_issue_not_in_content() -> None:
    from hermes4.parse import parse

    result = parse("before <tool_call>get_weather(city='Paris')</tool_call> after")
    assert result.content == "before\nafter"
    assert result.tool_calls == []
    (issue,) = result.issues
    assert issue.kind == "unreadable_tool_call" and issue.text == "get_weather(city='Paris')"
    assert result.summary()["tool_calls"] == []


def test_repair_issue_names_what_and_where() -> None:
    from hermes4.parse import parse

    text = "<tool_call>{'name': 'f', 'arguments': {'a': True,}}</tool_call>"
    (issue,) = parse(text).issues
    assert issue.kind == "repaired_json"
    assert f"Python literal True at {text.index('True')}" in issue.message
    assert f"trailing comma at {text.index(',}')}" in issue.message
    assert f"single-quoted string at {text.index(chr(39))}" in issue.message


def test_rejected_call_after_its_name_streamed_ends_with_none() -> None:
    from hermes4.parse import StreamParser, ToolCallEnded, ToolCallStarted

    parser = StreamParser()
    events = parser.feed('<tool_call>{"name": "f", "arguments": {"x": "cut')
    assert any(isinstance(e, ToolCallStarted) and e.name == "f" for e in events)
    tail, result = parser.finish()
    assert ToolCallEnded(index=0, call=None) in tail
    assert result.tool_calls == [] and result.truncated


def test_name_and_arguments_stream_before_the_call_ends() -> None:
    from hermes4.parse import StreamParser, ToolCallArgumentsDelta, ToolCallStarted

    parser = StreamParser()
    events = parser.feed('Let me.\n<tool_call>\n{"name": "write", "arguments": {"path": "a.txt", "text": "hel')
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [(e.index, e.name) for e in started] == [(0, "write")]
    assert "".join(e.text for e in events if isinstance(e, ToolCallArgumentsDelta)) == '{"path": "a.txt", "text": "hel'


def test_parameterless_call_streams_empty_object() -> None:
    import _parse_helpers

    from hermes4.parse import ToolCallArgumentsDelta

    for chunking in (1, 4, 1000):
        events, _ = _parse_helpers.stream(call("current_time", nl=False), chunking)
        assert [e.text for e in events if isinstance(e, ToolCallArgumentsDelta)] == ["{}"]


def test_to_message() -> None:
    from hermes4.chat.messages import Message
    from hermes4.parse import parse

    result = parse("<think>\nr\n</think>\nText\n" + call("f", {"a": [1]}))
    message = result.to_message()
    assert isinstance(message, Message)
    assert (message.role, message.content, message.reasoning_content) == ("assistant", "Text", "r")
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == [(result.tool_calls[0].id, "f", {"a": [1]})]
    assert parse("plain").to_message().tool_calls is None


def test_deep_nesting_is_an_issue_not_a_crash() -> None:
    for depth in (50, 5000):
        deep = "[" * depth + "]" * depth
        result = assert_stream_equals_batch(f'<tool_call>{{"name": "f", "arguments": {{"a": {deep}}}}}</tool_call>ok', [1, 997])
        assert result.content == "ok"
        if depth == 50:
            assert result.tool_calls[0].name == "f" and not result.issues
        else:
            assert result.tool_calls == [] and [i.kind for i in result.issues] == ["unreadable_tool_call"]


def test_deep_nesting_verdict_does_not_follow_the_recursion_limit() -> None:
    # Some libraries raise the recursion limit at import (problog via reasoning-core); json.loads' depth limit moves
    # with it, the parser's must not: the same output reads the same in every process.
    deep = "[" * 5000 + "]" * 5000
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        result = assert_stream_equals_batch(f'<tool_call>{{"name": "f", "arguments": {{"a": {deep}}}}}</tool_call>ok', [1, 997])
    finally:
        sys.setrecursionlimit(old)
    assert result.tool_calls == [] and [i.kind for i in result.issues] == ["unreadable_tool_call"]
