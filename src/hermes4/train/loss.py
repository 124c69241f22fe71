"""The SFT loss: summed cross-entropy over supervised tokens, computed in chunks, normalised per step.

The step loss is (sum of token losses over every micro-batch on every rank) / (supervised tokens over
every micro-batch on every rank). Each micro-batch backpropagates `loss_sum / global_count`, and the
data-parallel gradient reduction is a plain sum (FSDP's own division switched off in `parallel.py`), so
the gradient is exactly the gradient of the step's token-mean loss however tokens fall across
micro-batches and ranks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100


def next_token_targets(labels: torch.Tensor) -> torch.Tensor:
    """HF-style labels (aligned with input_ids) -> the target each position predicts (shifted left)."""
    targets = torch.full_like(labels, IGNORE_INDEX)
    targets[:, :-1] = labels[:, 1:]
    return targets


def _chunk_loss_sum(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = F.linear(hidden, weight)
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 logits make a poor softmax
    return F.cross_entropy(logits, targets, reduction="sum")


def cross_entropy_sum(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
                      chunk_tokens: int | None = None) -> torch.Tensor:
    """Sum of token cross-entropies where `targets != -100`.

    Only supervised positions reach the vocabulary projection. With `chunk_tokens`, logits are made for at
    most that many positions at a time and recomputed in backward, so a 16k-token row never holds full fp32
    logits (151,936 x 16,384 x 4 bytes would be ~10 GB).
    """
    flat_targets = targets.reshape(-1)
    keep = flat_targets != IGNORE_INDEX
    h = hidden.reshape(-1, hidden.shape[-1])[keep]
    t = flat_targets[keep]
    if t.numel() == 0:
        return (hidden.sum() + weight.sum()) * 0.0  # keeps every parameter in the graph so all ranks run the same collectives
    if chunk_tokens is None or t.numel() <= chunk_tokens:
        return _chunk_loss_sum(h, weight, t)
    total = hidden.new_zeros((), dtype=torch.promote_types(hidden.dtype, torch.float32))
    for start in range(0, t.numel(), chunk_tokens):
        end = start + chunk_tokens
        total = total + checkpoint(_chunk_loss_sum, h[start:end], weight, t[start:end], use_reentrant=False)
    return total


class CausalLMLoss(nn.Module):
    """A Hugging Face causal LM whose forward returns the summed supervised-token loss of a micro-batch.

    It owns the final projection so the loss never needs the full logits, and it is the FSDP root: the
    embeddings, final norm and LM head (possibly tied) form the root parameter group.
    """

    def __init__(self, lm: nn.Module, *, chunk_tokens: int | None = None) -> None:
        super().__init__()
        self.lm = lm
        self.chunk_tokens = chunk_tokens

    def forward(self, input_ids: torch.Tensor, targets: torch.Tensor, position_ids: torch.Tensor | None = None,
                **attention_kwargs) -> torch.Tensor:
        attention_kwargs = {**attention_kwargs, "use_cache": False}  # a KV cache in training is waste
        out = self.lm.model(input_ids=input_ids, position_ids=position_ids, **attention_kwargs)
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        return cross_entropy_sum(hidden, self.lm.lm_head.weight, targets, chunk_tokens=self.chunk_tokens)
