"""The Hermes tokens in a base model's vocabulary: add the ones its tokenizer lacks, grow the embeddings to match.

A base tokenizer (Llama 3.1 base, most pretrained-only models) has no `<think>`, `<tool_call>`, ... tokens:
without them `<tool_call>` trains as several pieces and the export keeps it so, and a parser of the model's
output sees pieces. The tags become ordinary added tokens (kept by `skip_special_tokens`, which the parsers
rely on); the format's turn tokens become special tokens. New embedding rows (and output rows when untied) start
at the mean of the existing rows, the usual practice: a new token then starts with the average prediction instead
of a random direction that dominates the first steps.
"""

from __future__ import annotations

from typing import Any

import torch

from hermes4.chat.formats import TAG_TOKENS, get_format


def format_control_tokens(format: str) -> list[str]:
    """The special tokens the wire format writes (turn markers, the end of turn, the format's BOS)."""
    fmt = get_format(format)
    candidates = [fmt.bos_token, fmt.header_open, fmt.header_close, fmt.end_of_turn, fmt.eos_token]
    # Only what looks like a token (`<|...|>`); ChatML's header_close is a newline, not a token.
    tokens = []
    for text in candidates:
        if text and text.startswith("<|") and text.rstrip("\n").endswith("|>"):
            token = text.rstrip("\n")
            if token not in tokens:
                tokens.append(token)
    return tokens


def _is_single_token(tokenizer: Any, text: str) -> bool:
    return len(tokenizer.encode(text, add_special_tokens=False)) == 1


def add_hermes_tokens(tokenizer: Any, format: str) -> list[str]:
    """Add to `tokenizer` (in place) each Hermes tag and turn token it does not hold as one token; returns those
    added, in order (empty for a tokenizer that already has them all)."""
    from tokenizers import AddedToken

    control = [t for t in format_control_tokens(format) if not _is_single_token(tokenizer, t)]
    tags = [t for t in TAG_TOKENS if not _is_single_token(tokenizer, t)]
    if control:  # (`add_tokens(..., special_tokens=True)`: the one spelling transformers 4.x and 5 share)
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in control], special_tokens=True)
    if tags:
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in tags])
    return [*control, *tags]


@torch.no_grad()
def mean_rows(weight: torch.Tensor, rows: int) -> torch.Tensor:
    """`weight` grown to `rows` rows, the new ones the mean of the existing rows (a copy; `weight` is unchanged)."""
    if rows <= weight.shape[0]:
        return weight
    extra = weight.float().mean(dim=0, keepdim=True).to(weight.dtype).expand(rows - weight.shape[0], -1)
    return torch.cat([weight, extra], dim=0)


@torch.no_grad()
def grow_embeddings(lm: Any, vocab_size: int) -> bool:
    """Resize `lm`'s input (and untied output) embeddings to at least `vocab_size` rows, new rows at the mean of
    the old ones; True when it grew. A model on the meta device is only resized (its weights arrive later, and
    `grow_state_dict` grows those)."""
    old = lm.get_input_embeddings().weight
    if vocab_size <= old.shape[0]:
        return False
    old_in = None if old.is_meta else old.detach().clone()
    output = lm.get_output_embeddings()
    old_out = None if output is None or output.weight.is_meta or output.weight is old else output.weight.detach().clone()
    lm.resize_token_embeddings(vocab_size, mean_resizing=False)
    if old_in is not None:
        lm.get_input_embeddings().weight.copy_(mean_rows(old_in, vocab_size))
    if old_out is not None and lm.get_output_embeddings().weight is not lm.get_input_embeddings().weight:
        lm.get_output_embeddings().weight.copy_(mean_rows(old_out, vocab_size))
    return True


def grow_state_dict(state: dict[str, torch.Tensor], rows: int, names: tuple[str, ...]) -> None:
    """Grow the named vocabulary matrices of a full state dict (in place) to `rows` rows, new rows at the mean."""
    for name in names:
        if name in state:
            state[name] = mean_rows(state[name], rows)


def training_tokenizer(path: str, format: str) -> tuple[Any, list[str]]:
    """The tokenizer a run trains with: the folder's, plus the Hermes tokens it lacks (and the list of those)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    return tokenizer, add_hermes_tokens(tokenizer, format)
