"""The tiny model's tokenizer trained on its own domain (`model.tiny.tokenizer_from_data`): shorter sequences of
that domain, the same chat tokens, the same ids the chat layer computes, and deterministic."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hermes4.chat import Conversation
from hermes4.chat.formats import CONTROL_TOKENS, TAG_TOKENS
from hermes4.chat.render import render
from hermes4.envs.procedural import TASKS
from hermes4.train.tiny import build_tokenizer, domain_texts


def _traces(path: Path, count: int, seed: int) -> Path:
    """`count` reasoning conversations of the tiny recipe's multi-step task, as a JSONL training source."""
    task, rng = TASKS["arithmetic"], random.Random(seed)
    with path.open("w") as f:
        for _ in range(count):
            params = task.generate(rng, 0)
            solution = task.solve(params)
            f.write(json.dumps({"messages": [
                {"role": "user", "content": task.question(params)},
                {"role": "assistant", "content": f"Answer: {solution.answer}", "reasoning_content": solution.trace()},
            ], "thinking": True}) + "\n")
    return path


def test_a_tokenizer_trained_on_the_domain_shortens_held_out_domain_text(tmp_path: Path) -> None:
    train = _traces(tmp_path / "train.jsonl", 300, seed=0)
    held_out = [render(Conversation.parse(json.loads(line))).text
                for line in _traces(tmp_path / "held-out.jsonl", 50, seed=1).read_text().splitlines()]
    general = build_tokenizer(vocab_size=2048)
    domain = build_tokenizer(vocab_size=2048, extra_texts=domain_texts([{"path": str(train)}]))
    general_tokens = sum(len(general(text)["input_ids"]) for text in held_out)
    domain_tokens = sum(len(domain(text)["input_ids"]) for text in held_out)
    assert domain_tokens < 0.85 * general_tokens, (domain_tokens, general_tokens)
    assert "Column" in domain.get_vocab() and "Column" not in general.get_vocab()
    # The chat tokens stay single added tokens (cut out of the domain text, never learned as merges).
    for token in (*CONTROL_TOKENS, *TAG_TOKENS):
        assert domain.convert_tokens_to_ids(token) != domain.unk_token_id
        assert domain.tokenize(f"x{token}y") == ["x", token, "y"]
    assert domain.decode(domain(held_out[0])["input_ids"]) == held_out[0]
    # No random choice: the same corpus gives the same tokenizer.
    again = build_tokenizer(vocab_size=2048, extra_texts=domain_texts([{"path": str(train)}]))
    assert again.get_vocab() == domain.get_vocab()


def test_domain_texts_render_each_source_with_its_rules(tmp_path: Path) -> None:
    train = _traces(tmp_path / "train.jsonl", 2, seed=0)
    with_thinking, without = (list(domain_texts({"sources": [{"path": str(train), "thinking": value}]}))
                              for value in (True, False))
    assert all("<think>\nI work column by column" in text for text in with_thinking)
    assert not any("<think>" in text for text in without)
