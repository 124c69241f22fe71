"""Mixes: weights and fixed counts, per-source system-prompt rules, deterministic for a seed."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from hermes4.chat import DEEP_THINKING_PROMPT, Conversation
from hermes4.train.data import TokenizeOptions
from hermes4.train.mix import (
    MixError,
    MixSpec,
    SourceSpec,
    apply_source_rules,
    build_mix,
    draw,
    largest_remainder,
)


def write_source(path, n: int, tag: str, system: str | None = None):
    with open(path, "w") as handle:
        for i in range(n):
            messages = [{"role": "user", "content": f"{tag} question {i}"}, {"role": "assistant", "content": f"{tag} answer {i}"}]
            if system is not None:
                messages.insert(0, {"role": "system", "content": system})
            handle.write(json.dumps({"messages": messages}) + "\n")
    return path


@pytest.fixture
def sources(tmp_path):
    return {
        "reasoning": write_source(tmp_path / "reasoning.jsonl", 10, "r"),
        "plain": write_source(tmp_path / "plain.jsonl", 6, "p", system="Be brief."),
    }


def test_weights_share_the_total_and_counts_repeat(sources, tiny_tokenizer):
    spec = {"sources": [{"path": str(sources["reasoning"]), "weight": 3}, {"path": str(sources["plain"]), "weight": 1}], "total": 8}
    samples, report = build_mix(spec, tiny_tokenizer)
    assert [s.drawn for s in report.sources] == [6, 2] and len(samples) == 8
    assert Counter(samples.sources) == {"reasoning": 6, "plain": 2}

    spec = [{"path": str(sources["reasoning"]), "count": 4}, {"path": str(sources["plain"]), "count": 15}]
    samples, report = build_mix(spec, tiny_tokenizer)
    assert [s.drawn for s in report.sources] == [4, 15] and report.samples == 19
    plain = [samples.sample(i)[0].tobytes() for i in range(len(samples)) if samples.sources[i] == "plain"]
    # 15 from 6: every sample twice, then 3 distinct others.
    assert sorted(Counter(plain).values()) == [2, 2, 2, 3, 3, 3]
    assert report.to_json()["sources"][1]["requested"] == 15


def test_the_same_seed_gives_the_same_mix_and_another_seed_another(sources, tiny_tokenizer, tmp_path):
    def mix(seed):
        spec = {"sources": [{"path": str(sources["reasoning"]), "count": 5}, {"path": str(sources["plain"])}], "seed": seed}
        return build_mix(spec, tiny_tokenizer, cache_dir=tmp_path / "cache")

    (a, first), (b, second), (c, _) = mix(1), mix(1), mix(2)
    assert np.array_equal(a.input_ids, b.input_ids) and np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.input_ids, c.input_ids)
    assert [s.tokenize.cache for s in first.sources] == ["miss", "miss"]
    assert [s.tokenize.cache for s in second.sources] == ["hit", "hit"]  # a new draw never re-tokenizes
    assert second.sources[1].drawn == 6 and second.sources[1].requested is None


def test_per_source_system_prompt_and_thinking_rules(sources, tiny_tokenizer):
    spec = [
        {"path": str(sources["reasoning"]), "thinking": True},
        {"path": str(sources["plain"]), "system_prompt": "You are terse.", "system_prompt_mode": "replace"},
    ]
    samples, _ = build_mix(spec, tiny_tokenizer, TokenizeOptions())
    texts = [tiny_tokenizer.decode(samples.sample(i)[0].tolist()) for i in range(len(samples))]
    assert all(DEEP_THINKING_PROMPT in t for t, s in zip(texts, samples.sources) if s == "reasoning")
    assert all("You are terse." in t and "Be brief." not in t for t, s in zip(texts, samples.sources) if s == "plain")


def test_apply_source_rules():
    with_system = Conversation.parse([{"role": "system", "content": "old"}, {"role": "user", "content": "q"}])
    bare = Conversation.parse([{"role": "user", "content": "q"}])
    add = SourceSpec(path="x", system_prompt="new")
    assert apply_source_rules(bare, add).messages[0].content == "new"
    assert apply_source_rules(with_system, add).messages[0].content == "old"  # if_missing keeps the existing one
    replace = SourceSpec(path="x", system_prompt="new", system_prompt_mode="replace")
    assert [m.content for m in apply_source_rules(with_system, replace).messages] == ["new", "q"]
    remove = SourceSpec(path="x", system_prompt_mode="remove")
    assert [m.role for m in apply_source_rules(with_system, remove).messages] == ["user"]
    thinking = apply_source_rules(bare, SourceSpec(path="x", thinking=True, keep_cots=True))
    assert thinking.thinking is True and thinking.keep_cots is True and bare.thinking is None


def test_largest_remainder_and_draw():
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(largest_remainder(1000, [0.1, 0.7, 0.2])) == 1000
    rng = np.random.default_rng(0)
    # 10 from 4: every index twice, plus 2 distinct indices a third time.
    assert sorted(Counter(draw(4, 10, rng).tolist()).values()) == [2, 2, 3, 3]
    assert len(set(draw(100, 30, rng).tolist())) == 30


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"sources": [{"path": "a", "weight": 1}]}, "mix: total: required when a source has a weight"),
        ({"sources": [{"path": "a", "weight": 1, "count": 2}], "total": 3}, r"mix.sources\[0\]: give either weight or count"),
        ({"sources": [{"path": "a", "wieght": 1}]}, r"mix.sources\[0\].wieght: Extra inputs are not permitted"),
        ({"sources": [{"path": "a", "weight": -1}], "total": 3}, r"mix.sources\[0\].weight: Input should be greater than 0"),
        ({"sources": [{"path": "d/a.jsonl"}, {"path": "e/a.jsonl"}]}, "names must be unique, 'a' is used twice"),
        ({"sources": []}, "mix.sources: List should have at least 1 item"),
    ],
)
def test_bad_mix_specs_name_the_field(spec, message):
    with pytest.raises(MixError, match=message):
        MixSpec.parse(spec)


def test_missing_source_file_is_named(tmp_path, tiny_tokenizer):
    with pytest.raises(MixError, match=r"mix.sources\[0\].path: .*nope.jsonl: no such file"):
        build_mix([{"path": str(tmp_path / "nope.jsonl")}], tiny_tokenizer)
