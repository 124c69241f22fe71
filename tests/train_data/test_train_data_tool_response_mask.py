"""Tool results written into the reasoning (interleaved tool use) carry no loss, in the renderer's spans and in the
exported Jinja template's generation blocks, for both wire formats."""

from __future__ import annotations

import pytest

from hermes4.chat import Conversation, render
from hermes4.chat.tokenize import tokenize

REASONING = ("Let me look it up.\n<tool_call>\n{\"name\": \"lookup\", \"arguments\": {\"q\": \"x\"}}\n</tool_call>\n"
             "<tool_response>\n{\"value\": 41}\n</tool_response>\nSo the value is 41, plus one."
             "\n<tool_response>\nunclosed result text")
CONVERSATION = {"messages": [{"role": "user", "content": "What is x plus one?"},
                             {"role": "assistant", "reasoning_content": REASONING, "content": "42"}],
                "thinking": True}


@pytest.fixture(params=["chatml", "llama3"])
def format_and_tokenizer(request, tiny_tokenizer, tiny_llama3_tokenizer):
    return request.param, tiny_tokenizer if request.param == "chatml" else tiny_llama3_tokenizer


def trained_text(tokenizer, ids, mask) -> str:
    return "".join(tokenizer.decode([i]) for i, m in zip(ids, mask) if m)


def test_tool_responses_inside_reasoning_carry_no_loss(format_and_tokenizer):
    fmt, tokenizer = format_and_tokenizer
    conversation = Conversation.parse(CONVERSATION)
    rendered = render(conversation, format=fmt)
    trained = "".join(rendered.trained_text())
    assert "<tool_response>" not in trained and "41}" not in trained and "unclosed result" not in trained
    assert "</tool_response>" not in trained
    # the model's own reasoning around the results, its call and its answer are trained
    for own in ("Let me look it up.", "<tool_call>", "</tool_call>", "So the value is 41, plus one.", "42"):
        assert own in trained
    assert trained.startswith("<think>\n") and trained.endswith(("42<|im_end|>", "42<|eot_id|>"))
    assert len(rendered.spans) == 3  # before the first result, between the two, after the unclosed one

    sample = tokenize([rendered], tokenizer)[0]
    from_tokens = trained_text(tokenizer, sample.input_ids, sample.loss_mask)
    assert "<tool_response>" not in from_tokens and "41}" not in from_tokens
    assert "So the value is 41, plus one." in from_tokens

    # the exported template (what transformers and TRL read) gives the same text and the same mask
    record = conversation.to_json()
    hf = tokenizer.apply_chat_template(record["messages"], thinking=True, tokenize=True, return_dict=True,
                                       return_assistant_tokens_mask=True)
    assert tokenizer.apply_chat_template(record["messages"], thinking=True, tokenize=False) == rendered.text
    assert hf["input_ids"] == sample.input_ids
    assert hf["assistant_masks"] == sample.loss_mask


def test_a_tool_turn_and_reasoning_without_results_are_unchanged(tiny_tokenizer):
    conversation = Conversation.parse({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "reasoning_content": "plain thinking", "content": "hello"}], "thinking": True})
    rendered = render(conversation)
    assert len(rendered.spans) == 1
    assert rendered.trained_text() == ["<think>\nplain thinking\n</think>\nhello<|im_end|>"]
