"""Properties: arbitrary text never raises; generated outputs parse back exactly; every chunking equals batch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from _parse_helpers import assert_stream_equals_batch, assert_well_formed

from hermes4.parse import parse

TAGS = ["<think>", "</think>", "<tool_call>", "</tool_call>"]
FRAGMENTS = TAGS + [
    "<", "</", "<tool", "{", "}", "[", "]", '"', "'", "\\", ":", ",", "\n", " ", "name", '"name": "f"', '"arguments": ',
    '"parameters"', "True", "None", "null", "1.5", "-0", "é", "😀", "\\u00e5", "\\ud83d", "\\ude00", "\t", "\r\n",
]  # fmt: skip
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

chunk_seed = st.integers(min_value=0, max_value=2**16).map(lambda n: f"seed-{n}")
options = st.fixed_dictionaries({"reasoning_started": st.booleans(), "tools_in_reasoning": st.booleans()})


# ---- arbitrary text ----

arbitrary_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=40).map("".join)


@SETTINGS
@given(text=arbitrary_text, seed=chunk_seed, opts=options)
def test_arbitrary_text_never_raises_and_streams_like_batch(text: str, seed: str, opts: dict) -> None:
    result = assert_stream_equals_batch(text, [1, seed], **opts)
    assert_well_formed(text, result)


@SETTINGS
@given(text=st.text(max_size=200), opts=options)
def test_any_unicode_text_never_raises(text: str, opts: dict) -> None:
    assert_well_formed(text, parse(text, **opts))


# ---- generated outputs ----

tricky_char = st.sampled_from(list("ab {}[]\"'\\:,\n\t</>é中😀\x00\x1f") + ["</tool_call>", "<tool_call>", "</think>", "\\u00e5"])
tricky_text = st.lists(tricky_char | st.text(max_size=3), max_size=8).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False) | tricky_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3),
    max_leaves=8,
)  # fmt: skip
arguments = st.dictionaries(tricky_text, json_values, max_size=4)
plain_word = st.text(alphabet=st.sampled_from(list("abc xyz.,!?<>/{}\"'é中")), min_size=1, max_size=12)
segment = plain_word.map(str.strip).filter(lambda s: s and not any(tag in s for tag in TAGS) and not s.startswith("<"))
layout = st.sampled_from(["", "\n", " ", "\n\n", " \n "])


def near_json(value, draw) -> str:
    """The near-JSON models write: single quotes, Python literals, raw newlines in strings, trailing commas."""
    if isinstance(value, dict):
        items = [f"{near_json(key, draw)}: {near_json(item, draw)}" for key, item in value.items()]
        return "{" + ", ".join(items) + ("," if items and draw(st.booleans()) else "") + "}"
    if isinstance(value, list):
        items = [near_json(item, draw) for item in value]
        return "[" + ", ".join(items) + ("," if items and draw(st.booleans()) else "") + "]"
    if isinstance(value, bool) or value is None:
        return {True: "True", False: "False", None: "None"}[value] if draw(st.booleans()) else json.dumps(value)
    if isinstance(value, str):
        if draw(st.booleans()) and not any(c in value for c in "'\\") and all(c >= " " or c == "\n" for c in value):
            return "'" + value + "'"
        text = json.dumps(value, ensure_ascii=False)
        if "\\\\" not in text:  # no escaped backslash, so every `\n` escape is a newline: write it raw
            text = text.replace("\\n", "\n")
        return text
    return json.dumps(value)


@st.composite
def tool_call_text(draw) -> tuple[str, str, dict]:
    name = draw(st.sampled_from(["get_weather", "python", "search", "now", "f"]))
    args = draw(arguments)
    style = draw(st.sampled_from(["object", "string", "parameters", "omitted_if_empty", "args_first", "near", "near_string"]))
    if style == "near":
        return f'<tool_call>{{"name": "{name}", "arguments": {near_json(args, draw)}}}</tool_call>', name, args
    if style == "near_string":
        inner = json.dumps(near_json(args, draw), ensure_ascii=False)
        return f'<tool_call>{{"name": "{name}", "arguments": {inner}}}</tool_call>', name, args
    dumps = {"ensure_ascii": draw(st.booleans())}
    if draw(st.booleans()):
        dumps["separators"] = (",", ":")
    if style == "string":
        body = {"name": name, "arguments": json.dumps(args, **dumps)}
    elif style == "parameters":
        body = {"name": name, "parameters": args}
    elif style == "omitted_if_empty" and not args:
        body = {"name": name}
    elif style == "args_first":
        body = {"arguments": args, "name": name}
    else:
        body = {"name": name, "arguments": args}
    inner = draw(st.sampled_from(["", "\n", " "]))
    return f"<tool_call>{inner}{json.dumps(body, **dumps)}{inner}</tool_call>", name, args


@st.composite
def model_output(draw):
    interleaved = draw(st.booleans())
    parts: list[str] = []
    reasoning_segments: list[str] = []
    calls: list[tuple[str, dict]] = []
    has_think = draw(st.booleans())
    if has_think:
        parts.append(draw(st.sampled_from(["", "\n", "  "])) + "<think>\n")
        for index, text in enumerate(draw(st.lists(segment, min_size=1, max_size=3))):
            if index and interleaved:
                call, name, args = draw(tool_call_text())
                parts.append(draw(layout) + call + draw(layout))
                calls.append((name, args))
            elif index:
                parts.append(" ")
            parts.append(text)
            reasoning_segments.append(text)
        parts.append("\n</think>\n")
    content_segments: list[str] = []
    items = draw(st.lists(st.one_of(segment.map(lambda s: ("text", s)), tool_call_text().map(lambda c: ("call", c))), max_size=6))
    previous = None
    for kind, item in items:
        if kind == "text":
            if previous == "text":
                parts.append(" ")
                content_segments[-1] += " " + item
            else:
                content_segments.append(item)
            parts.append(item)
        else:
            call, name, args = item
            parts.append(draw(layout) + call + draw(layout))
            calls.append((name, args))
        previous = kind
    reasoning = (" " if not interleaved else "\n").join(reasoning_segments) if has_think else None
    return "".join(parts), interleaved, reasoning, "\n".join(content_segments), calls


@SETTINGS
@given(output=model_output(), seed=chunk_seed)
def test_generated_outputs_parse_back_and_stream_like_batch(output, seed: str) -> None:
    text, interleaved, reasoning, content, calls = output
    result = assert_stream_equals_batch(text, [1, 3, seed], tools_in_reasoning=interleaved)
    assert result.reasoning == reasoning
    assert result.content == content
    assert [(c.name, c.arguments) for c in result.tool_calls] == calls
    assert not result.truncated
    assert {issue.kind for issue in result.issues} <= {"repaired_json"}
    assert_well_formed(text, result)


@SETTINGS
@given(output=model_output(), cut=st.floats(min_value=0, max_value=1), seed=chunk_seed)
def test_any_prefix_of_an_output_streams_like_batch(output, cut: float, seed: str) -> None:
    # Every prefix is what a stopped generation (max_tokens) leaves: truncated calls and think blocks included.
    text, interleaved = output[0], output[1]
    prefix = text[: int(len(text) * cut)]
    result = assert_stream_equals_batch(prefix, [1, seed], tools_in_reasoning=interleaved)
    assert_well_formed(prefix, result)
