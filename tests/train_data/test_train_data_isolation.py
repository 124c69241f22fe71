"""Documents packed in one row train exactly as if each ran alone: per-token loss equal to 1e-5 (fp32)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hermes4.train.attention import block_causal_mask, document_attention_kwargs
from hermes4.train.batches import IGNORE_INDEX, collate_rows


def tiny_qwen3(implementation: str):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=101,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=128,
    )
    config._attn_implementation = implementation
    return Qwen3ForCausalLM(config).eval().float()


def per_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none").view(labels.shape)


def documents(seed: int) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    rows = []
    for lengths in ([7, 1, 12, 5], [20, 9], [3]):  # a one-token document, a padded row, a mostly-padding row
        row = []
        for length in lengths:
            ids = rng.integers(1, 101, size=length)
            mask = (rng.random(length) < 0.7).astype(np.uint8)
            row.append((ids, mask))
        rows.append(row)
    return rows


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_packed_loss_equals_loss_of_each_document_alone(implementation):
    model = tiny_qwen3(implementation)
    rows = documents(seed=1)
    batch = collate_rows(rows, seq_len=40, pad_token_id=0)
    with torch.no_grad():
        packed = model(input_ids=batch.input_ids, position_ids=batch.position_ids, **document_attention_kwargs(batch, model)).logits
    packed_loss = per_token_loss(packed, batch.labels)
    checked = 0
    for b, row in enumerate(rows):
        start = 0
        for ids, mask in row:
            alone = collate_rows([[(ids, mask)]], seq_len=len(ids), pad_token_id=0)
            with torch.no_grad():
                logits = model(input_ids=alone.input_ids, use_cache=False).logits
            alone_loss = per_token_loss(logits, alone.labels)[0]
            end = start + len(ids)
            assert torch.equal(batch.labels[b, start:end], alone.labels[0])
            supervised = alone.labels[0] != IGNORE_INDEX
            torch.testing.assert_close(packed_loss[b, start:end][supervised], alone_loss[supervised], rtol=0, atol=1e-5)
            # Logits of every token, supervised or not, match too: nothing leaks across documents.
            torch.testing.assert_close(packed[b, start:end], logits[0], rtol=0, atol=1e-5)
            checked += int(supervised.sum())
            start = end
    assert checked == batch.num_supervised_tokens > 0


def test_without_document_mask_the_documents_do_leak():
    # The control: the same packed row with a plain causal mask gives different logits for later documents,
    # so the isolation test above is able to fail.
    model = tiny_qwen3("sdpa")
    rows = documents(seed=2)
    batch = collate_rows(rows, seq_len=40, pad_token_id=0)
    with torch.no_grad():
        masked = model(input_ids=batch.input_ids, position_ids=batch.position_ids, **document_attention_kwargs(batch, model)).logits
        causal_only = model(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=True).logits
    second_doc = slice(7, 8)
    assert not torch.allclose(masked[0, second_doc], causal_only[0, second_doc], atol=1e-4)


def test_block_causal_mask_shape_and_pattern():
    ids = torch.tensor([[0, 0, 1, 1, 1, 2]])
    mask = block_causal_mask(ids)[0, 0]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [0, 0, 1, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 0],
            [0, 0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


def test_unknown_attention_implementation_is_named():
    model = tiny_qwen3("sdpa")
    model.config._attn_implementation = "paged|mystery"
    batch = collate_rows([[(np.array([1, 2]), np.array([1, 1]))]], seq_len=4, pad_token_id=0)
    with pytest.raises(ValueError, match=re.escape("attn_implementation: 'paged|mystery'")):
        document_attention_kwargs(batch, model)
