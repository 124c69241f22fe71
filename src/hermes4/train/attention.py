"""Attention that stays inside each packed document, for Hugging Face decoder models (Qwen3, Llama, …).

`model(input_ids=b.input_ids, position_ids=b.position_ids, **document_attention_kwargs(b, model))`
runs each document as if it were alone in its row, whatever `model.config._attn_implementation` is:

- "sdpa": a 4-D boolean block-diagonal causal mask [B, 1, T, T] (True = may attend). transformers passes
  a 4-D mask through untouched. This is the CPU path (flex-attention backward does not run on CPU).
- "eager": the same mask as an additive float mask (0 / dtype min) in the model's dtype.
- "flex_attention": a `BlockMask` built from the document ids, so fully masked blocks are skipped.
- "flash_attention_2/3/4": the varlen kwargs `cu_seq_lens_q/k`, `max_length_q/k` over the flattened rows.

Why explicit and not transformers' own detection of packed rows from `position_ids`: that detection only
runs when `past_key_values` is None, and a model whose config has `use_cache=True` (the default) builds a
cache in forward even in training, which silently turns it off. We also always pass `use_cache=False`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from hermes4.train.batches import PackedBatch

SUPPORTED = ("sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3", "flash_attention_4")


def block_causal_mask(document_ids: torch.Tensor) -> torch.Tensor:
    """[B, 1, T, T] bool: query t may attend key s iff s <= t and both are in the same document."""
    same_document = document_ids[:, :, None] == document_ids[:, None, :]
    length = document_ids.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=document_ids.device).tril()
    return (same_document & causal)[:, None, :, :]


def flex_block_mask(document_ids: torch.Tensor) -> Any:
    """A flex-attention BlockMask for block-diagonal causal attention over `document_ids` [B, T]."""
    from torch.nn.attention.flex_attention import create_block_mask

    def document_causal(batch, head, q_idx, kv_idx):
        return (document_ids[batch, q_idx] == document_ids[batch, kv_idx]) & (kv_idx <= q_idx)

    batch, length = document_ids.shape
    # On GPU the mask is built by a compiled kernel (as transformers does), not by materialising T x T per row.
    return create_block_mask(document_causal, B=batch, H=None, Q_LEN=length, KV_LEN=length,
                             device=document_ids.device, _compile=document_ids.is_cuda)


def document_attention_kwargs(batch: PackedBatch, model: Any) -> dict[str, Any]:
    """Extra forward kwargs that keep attention inside documents for `model`'s attention implementation."""
    config = getattr(model, "config", model)
    implementation = getattr(config, "_attn_implementation", None) or "eager"
    document_ids = batch.document_ids
    kwargs: dict[str, Any] = {"use_cache": False}
    if implementation == "sdpa":
        kwargs["attention_mask"] = block_causal_mask(document_ids)
    elif implementation == "eager":
        dtype = next(model.parameters()).dtype if hasattr(model, "parameters") else torch.float32
        allowed = block_causal_mask(document_ids)
        additive = torch.zeros(allowed.shape, dtype=dtype, device=document_ids.device)
        kwargs["attention_mask"] = additive.masked_fill_(~allowed, torch.finfo(dtype).min)
    elif implementation == "flex_attention":
        kwargs["attention_mask"] = flex_block_mask(document_ids)
    elif implementation.startswith("flash_attention"):
        cu_seqlens = batch.cu_seqlens()
        max_length = batch.max_seqlen()
        kwargs.update(cu_seq_lens_q=cu_seqlens, cu_seq_lens_k=cu_seqlens, max_length_q=max_length, max_length_k=max_length)
    else:
        raise ValueError(
            f"attn_implementation: {implementation!r} has no document masking here; allowed: {', '.join(SUPPORTED)}"
        )
    return kwargs
