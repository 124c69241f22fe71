"""Properties over random conversations: exported template == renderer (text and mask), ids == tokenizer(text)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermes4.chat import Conversation, render, tokenize
from hermes4.chat.tokenize import mask_from_offsets

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text that stresses tokenization: words, digits, JSON punctuation, whitespace runs, non-ASCII, and the format's
# own tag text appearing inside content.
PIECES = st.sampled_from(
    ["hello", " world", "42", "3.5", "\n", "\n\n", "  ", "\t", '{"a": 1}', "[", "]", '"', "\\", "é", "日本", "🙂",
     "<think>", "</think>", "<tool_call>", "x</tool_call>", "<|im_end|>", "<|eot_id|>", " </think>\n", "."]
)
TEXT = st.lists(PIECES, max_size=6).map("".join)
JSON_SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False, width=32) | TEXT
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
NAMES = st.sampled_from(["get_weather", "search", "python", "do-it", "名前"])


@st.composite
def tool_calls(draw):
    calls = []
    for i in range(draw(st.integers(1, 3))):
        arguments = draw(st.dictionaries(TEXT, JSON_VALUES, max_size=3))
        calls.append({"id": f"call_{i}", "type": "function", "function": {"name": draw(NAMES), "arguments": arguments}})
    return calls


@st.composite
def conversations(draw):
    messages = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(TEXT)})
    for _ in range(draw(st.integers(1, 4))):
        messages.append({"role": "user", "content": draw(TEXT)})
        for _ in range(draw(st.integers(0, 2))):
            assistant = {"role": "assistant", "content": draw(st.none() | TEXT)}
            if draw(st.booleans()):
                assistant["reasoning_content"] = draw(TEXT)
            train = draw(st.sampled_from([None, None, True, False]))
            if train is not None:
                assistant["train"] = train
            calls = draw(st.none() | tool_calls())
            if calls:
                assistant["tool_calls"] = calls
            elif assistant["content"] is None:
                assistant["content"] = ""  # null content needs tool_calls (a null turn is refused)
            messages.append(assistant)
            if calls:
                for call in calls[: draw(st.integers(1, len(calls)))]:
                    messages.append({"role": "tool", "tool_call_id": call["id"], "content": draw(TEXT)})
        if draw(st.integers(0, 5)) == 0:
            messages.append({"role": "system", "content": draw(TEXT)})
    tools = [
        {"type": "function", "function": {"name": draw(NAMES), "description": draw(TEXT),
                                          "parameters": {"type": "object", "properties": {draw(TEXT): {"type": "string"}}}}}
        for _ in range(draw(st.integers(0, 2)))
    ]
    return Conversation.parse({"messages": messages, "tools": tools})


FLAGS = st.fixed_dictionaries(
    {"thinking": st.booleans(), "keep_cots": st.booleans(), "add_generation_prompt": st.booleans(),
     "train_last_turn_only": st.booleans()}
)


def template_messages(conversation: Conversation) -> list[dict]:
    # the record shape plus each message's `train` override, which the exported template honours
    record = conversation.to_json()["messages"]
    for message, source in zip(record, conversation.messages):
        if source.train is not None:
            message["train"] = source.train
    return record


def check_against_transformers(tokenizer, fmt, conversation, flags):
    rendered = render(conversation, format=fmt, **flags)
    sample = tokenize([rendered], tokenizer)[0]
    tools = conversation.to_json().get("tools")
    hf = tokenizer.apply_chat_template(
        template_messages(conversation), tools=tools, tokenize=True, return_dict=True,
        return_assistant_tokens_mask=True, **flags,
    )
    text = tokenizer.apply_chat_template(template_messages(conversation), tools=tools, tokenize=False, **flags)
    assert text == rendered.text
    assert hf["input_ids"] == sample.input_ids
    assert hf["assistant_masks"] == sample.loss_mask

    # ids are exactly what the tokenizer gives for the text
    encoded = tokenizer(rendered.text, return_offsets_mapping=True)
    assert encoded["input_ids"] == sample.input_ids
    # the mask covers exactly the trained spans: a token is trained iff it overlaps one, every trained character
    # lies in a trained token, and every span ends on a token boundary (the end-of-turn token)
    offsets = encoded["offset_mapping"]
    for (start, end), bit in zip(offsets, sample.loss_mask):
        assert bit == int(any(start < s_end and end > s_start for s_start, s_end in rendered.spans))
    ends = {end for _, end in offsets}
    for s_start, s_end in rendered.spans:
        assert s_end in ends
        covered = [i for i, (start, end) in enumerate(offsets) if start < s_end and end > s_start]
        assert all(sample.loss_mask[i] for i in covered)
        assert offsets[covered[0]][0] <= s_start
        # the span's last token is the end-of-turn token
        assert tokenizer.convert_ids_to_tokens(sample.input_ids[covered[-1]]) in ("<|im_end|>", "<|eot_id|>")


@SETTINGS
@given(conversation=conversations(), flags=FLAGS)
def test_chatml_template_equals_renderer(tiny_tokenizer, conversation, flags):
    check_against_transformers(tiny_tokenizer, "chatml", conversation, flags)


@SETTINGS
@given(conversation=conversations(), flags=FLAGS)
def test_llama3_template_equals_renderer(tiny_llama3_tokenizer, conversation, flags):
    check_against_transformers(tiny_llama3_tokenizer, "llama3", conversation, flags)


@settings(max_examples=300, deadline=None)
@given(
    boundaries=st.lists(st.integers(0, 60), min_size=1, max_size=20).map(lambda xs: sorted(set([0] + xs))),
    cuts=st.lists(st.integers(0, 60), max_size=8).map(lambda xs: sorted(set(xs))),
)
def test_mask_from_offsets_matches_the_definition(boundaries, cuts):
    offsets = list(zip(boundaries, boundaries[1:]))
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2]) if a < b]
    expected = [int(any(s < e2 and e > s2 for s2, e2 in spans)) for s, e in offsets]
    assert mask_from_offsets(offsets, spans) == expected


@pytest.mark.parametrize("fmt", ["chatml", "llama3"])
def test_batched_tokenize_equals_one_by_one(request, fmt):
    tokenizer = request.getfixturevalue("tiny_tokenizer" if fmt == "chatml" else "tiny_llama3_tokenizer")
    from hermes4.chat.battery import BATTERY

    rendered = [render(c.conversation, format=fmt, thinking=c.thinking, keep_cots=c.keep_cots) for c in BATTERY]
    batched = tokenize(rendered, tokenizer)
    assert batched == [tokenize([r], tokenizer)[0] for r in rendered]
    assert [s.input_ids for s in batched] == [tokenizer(r.text)["input_ids"] for r in rendered]


def test_mask_of_equals_offsets_sweep_on_split_characters(tiny_tokenizer):
    from hermes4.chat.tokenize import backend_of, mask_of

    text = "<|im_start|>assistant\n🙂日本 ok<|im_end|>\n"
    encoding = backend_of(tiny_tokenizer).encode(text, add_special_tokens=False)
    end = text.index("<|im_end|>") + len("<|im_end|>")
    for start in range(text.index("\n") , text.index(" ok")):
        assert mask_of(encoding, [(start, end)]) == mask_from_offsets(encoding.offsets, [(start, end)])
