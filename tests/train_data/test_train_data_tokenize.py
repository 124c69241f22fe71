"""Conversations to ids through the chat layer: same ids as the chat layer, cache keyed correctly, over-length counted."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from hermes4.chat import Conversation, ConversationError, render, tokenize
from hermes4.train.data import (
    TokenizeOptions,
    load_conversations,
    tokenize_conversations,
)


def conversations(n: int = 12) -> list[Conversation]:
    out = []
    for i in range(n):
        messages = [
            {"role": "user", "content": f"What is {i} plus {i}? " + "Explain carefully. " * (i % 5)},
            {"role": "assistant", "content": f"It is {2 * i}.", "reasoning_content": f"{i} + {i} = {2 * i}." * (1 + i % 3)},
        ]
        out.append(Conversation.parse({"messages": messages, "thinking": i % 2 == 0}))
    return out


def test_ids_and_masks_are_the_chat_layers(tiny_tokenizer):
    convs = conversations()
    samples, report = tokenize_conversations(convs, tiny_tokenizer)
    expected = tokenize([render(c) for c in convs], tiny_tokenizer)
    assert len(samples) == len(convs) == report.kept == report.conversations
    for i, want in enumerate(expected):
        ids, mask = samples.sample(i)
        assert ids.tolist() == want.input_ids and mask.tolist() == want.loss_mask
    assert report.tokens == sum(len(s.input_ids) for s in expected)
    assert report.trained_tokens == sum(sum(s.loss_mask) for s in expected) > 0
    assert report.cache == "off"


def test_cache_hits_only_for_the_same_inputs_tokenizer_and_options(tiny_tokenizer, tmp_path):
    convs = conversations()
    cache = tmp_path / "cache"
    first, report = tokenize_conversations(convs, tiny_tokenizer, cache_dir=cache)
    assert report.cache == "miss"
    again, report_again = tokenize_conversations(convs, tiny_tokenizer, cache_dir=cache)
    assert report_again.cache == "hit" and report_again.cache_key == report.cache_key
    assert np.array_equal(first.input_ids, again.input_ids) and np.array_equal(first.loss_mask, again.loss_mask)
    assert report_again.kept == report.kept and report_again.trained_tokens == report.trained_tokens

    keys = {report.cache_key}
    edited = [c.model_copy(deep=True) for c in convs]
    edited[3].messages[1].content = "It is six."
    other_tokenizer = copy.deepcopy(tiny_tokenizer)
    other_tokenizer.add_tokens(["<extra_token>"])
    for variant in (
        {"conversations": edited},
        {"conversations": convs[:-1]},
        {"tokenizer": other_tokenizer},
        {"options": TokenizeOptions(thinking=True)},
        {"options": TokenizeOptions(max_length=64, overlong="truncate")},
        {"options": TokenizeOptions(format="llama3")},
    ):
        args = {"conversations": convs, "tokenizer": tiny_tokenizer, "options": None} | variant
        _, changed = tokenize_conversations(args["conversations"], args["tokenizer"], args["options"], cache_dir=cache)
        assert changed.cache == "miss", variant
        keys.add(changed.cache_key)
    assert len(keys) == 7
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 7


def test_overlong_samples_are_dropped_or_truncated_and_counted(tiny_tokenizer):
    convs = conversations()
    lengths = [len(s.input_ids) for s in tokenize([render(c) for c in convs], tiny_tokenizer)]
    limit = int(np.median(lengths))
    longer = sum(length > limit for length in lengths)
    assert 0 < longer < len(convs)

    dropped, report = tokenize_conversations(convs, tiny_tokenizer, TokenizeOptions(max_length=limit, overlong="drop"))
    assert report.dropped_overlong == longer and report.truncated == 0
    assert report.kept == len(convs) - longer == len(dropped)
    assert dropped.lengths.max() <= limit

    # Truncated at the median, the long samples lose their whole answer: counted as truncated, then dropped as
    # untrained (a sample whose loss tokens were all cut teaches nothing).
    cut, report = tokenize_conversations(convs, tiny_tokenizer, TokenizeOptions(max_length=limit, overlong="truncate"))
    assert report.truncated == longer and report.dropped_overlong == 0
    assert report.kept + report.dropped_untrained == len(convs) and report.dropped_untrained > 0
    # Cut just short of the longest sample, it keeps most of its answer and exactly `limit` tokens.
    limit = max(lengths) - 2
    cut, report = tokenize_conversations(convs, tiny_tokenizer, TokenizeOptions(max_length=limit, overlong="truncate"))
    assert report.truncated == sum(length > limit for length in lengths) >= 1 and report.dropped_untrained == 0
    assert cut.lengths.max() == limit and len(cut) == len(convs)
    longest = int(np.argmax(lengths))
    assert cut.sample(longest)[0].tolist() == tokenize([render(convs[longest])], tiny_tokenizer)[0].input_ids[:limit]


def test_samples_without_trained_tokens_are_dropped_and_counted(tiny_tokenizer):
    convs = conversations(3)
    convs.append(Conversation.parse({"messages": [{"role": "user", "content": "hello"}]}))
    samples, report = tokenize_conversations(convs, tiny_tokenizer)
    assert report.dropped_untrained == 1 and report.kept == 3 == len(samples)


def test_parallel_workers_give_the_same_samples(tiny_tokenizer):
    convs = conversations(40)
    serial, _ = tokenize_conversations(convs, tiny_tokenizer)
    parallel, _ = tokenize_conversations(convs, tiny_tokenizer, workers=2, chunk_size=8)
    assert np.array_equal(serial.input_ids, parallel.input_ids)
    assert np.array_equal(serial.loss_mask, parallel.loss_mask)
    assert np.array_equal(serial.offsets, parallel.offsets)


def test_bad_options_and_records_are_named(tmp_path):
    with pytest.raises(ValueError, match="overlong: 'cut' is not one of drop, truncate"):
        TokenizeOptions(overlong="cut")
    path = tmp_path / "data.jsonl"
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    bad = {"messages": [{"role": "robot", "content": "hi"}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ConversationError, match=r"data.jsonl: record 2: messages\[0\].role"):
        load_conversations(path)
    path.write_text(json.dumps(good) + "\n")
    assert load_conversations(path)[0].messages[1].content == "hello"
