"""The tiny model's shape (`hermes4.train.tiny.TinySize`): heads may be wider than hidden_size / num_heads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM


def test_head_dim_may_exceed_hidden_over_heads(tmp_path: Path) -> None:
    from hermes4.train.tiny import TinySize, init_tiny

    size = TinySize(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64, head_dim=48)
    model = AutoModelForCausalLM.from_pretrained(init_tiny(tmp_path / "m", size=size, vocab_size=400, seed=0))
    attention = model.model.layers[0].self_attn
    assert model.config.head_dim == 48
    assert tuple(attention.q_proj.weight.shape) == (2 * 48, 32)  # num_heads x head_dim from hidden_size
    assert tuple(attention.k_proj.weight.shape) == (1 * 48, 32)
    assert tuple(attention.o_proj.weight.shape) == (32, 2 * 48)
    logits = model(torch.tensor([[1, 2, 3]])).logits
    assert logits.shape == (1, 3, model.config.vocab_size) and torch.isfinite(logits).all()


def test_head_dim_defaults_to_hidden_over_heads(tmp_path: Path) -> None:
    from hermes4.train.tiny import TinySize, init_tiny

    size = TinySize(hidden_size=32, num_layers=1, num_heads=4, num_kv_heads=2, intermediate_size=64)
    model = AutoModelForCausalLM.from_pretrained(init_tiny(tmp_path / "m", size=size, vocab_size=400, seed=0))
    assert model.config.head_dim == 8


def test_a_head_dim_below_one_is_refused(tmp_path: Path) -> None:
    from hermes4.train.tiny import TinySize, init_tiny

    with pytest.raises(ValueError, match="head_dim must be positive"):
        init_tiny(tmp_path / "m", size=TinySize(head_dim=0), vocab_size=400)
    assert not (tmp_path / "m").exists()
