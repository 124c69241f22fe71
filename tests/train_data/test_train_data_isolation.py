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


def test_flex_block_mask_allows_exactly_the_block_causal_pattern():
    # The GPU path: the BlockMask's mask_mod, evaluated at every (query, key), is the same pattern as the
    # SDPA mask. (The flex kernel itself needs a compile; its forward matched SDPA to 1e-7 on this model.)
    from hermes4.train.attention import flex_block_mask

    batch = collate_rows(documents(seed=3), seq_len=40, pad_token_id=0)
    block_mask = flex_block_mask(batch.document_ids)
    rows, length = batch.document_ids.shape
    b, q, kv = torch.meshgrid(torch.arange(rows), torch.arange(length), torch.arange(length), indexing="ij")
    allowed = block_mask.mask_mod(b, torch.zeros_like(b), q, kv)
    assert torch.equal(allowed, block_causal_mask(batch.document_ids)[:, 0])


def test_end_to_end_conversations_to_isolated_loss_on_the_tiny_model(tiny_model_dir, tiny_tokenizer):
    # Conversations -> chat-layer ids -> global packing -> loader rows -> the tiny Qwen3 with document masks:
    # every supervised token's loss equals its loss with its conversation run alone.
    from transformers import AutoModelForCausalLM

    from hermes4.chat import Conversation
    from hermes4.train.batches import PackedLoader
    from hermes4.train.data import tokenize_conversations
    from hermes4.train.packing import pack

    conversations = [
        Conversation.parse(
            {
                "messages": [
                    {"role": "user", "content": f"Question {i}: " + "why? " * (i % 4)},
                    {"role": "assistant", "content": f"Answer {i}.", "reasoning_content": "think " * (1 + i % 3)},
                ],
                "thinking": i % 2 == 1,
            }
        )
        for i in range(8)
    ]
    samples, _ = tokenize_conversations(conversations, tiny_tokenizer)
    capacity = int(samples.lengths.max()) * 2
    packing = pack(samples.lengths, capacity, seed=0)
    loader = PackedLoader(samples, packing, seq_len=capacity, micro_batch_size=2, pad_token_id=tiny_tokenizer.pad_token_id)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="sdpa", dtype=torch.float32).eval()
    compared = 0
    for _ in range(loader.micro_batches_per_epoch):
        batch = next(loader)
        with torch.no_grad():
            logits = model(input_ids=batch.input_ids, position_ids=batch.position_ids, **document_attention_kwargs(batch, model)).logits
        loss = per_token_loss(logits, batch.labels)
        for row, indices in enumerate(batch.sample_indices):
            start = 0
            for index in indices:
                ids, mask = samples.sample(index)
                alone = collate_rows([[(ids, mask)]], seq_len=len(ids), pad_token_id=0)
                with torch.no_grad():
                    alone_loss = per_token_loss(model(input_ids=alone.input_ids, use_cache=False).logits, alone.labels)[0]
                supervised = alone.labels[0] != IGNORE_INDEX
                end = start + len(ids)
                torch.testing.assert_close(loss[row, start:end][supervised], alone_loss[supervised], rtol=0, atol=1e-5)
                compared += int(supervised.sum())
                start = end
    assert compared == sum(int(samples.sample(i)[1][1:].sum()) for i in range(len(samples))) > 0
