"""Rendered text to token ids and a per-token loss mask, from the fast tokenizer's character offsets.

All texts go through the Rust tokenizer in one batched call with `add_special_tokens=False`, so the ids equal
`tokenizer(text)` exactly (the project's tokenizers never add BOS/EOS on their own; the rendered text carries
them). A token is trained iff its character range `[start, end)` overlaps a trained span. Special tokens are
single tokens, so every span ends exactly on one; a token straddling a span's start (e.g. a newline merged
across the header/body boundary) is trained, which is also what Hugging Face's
`return_assistant_tokens_mask` does (it maps the span's first and last characters to tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hermes4.chat.render import Rendered


@dataclass(frozen=True, slots=True)
class TokenizedSample:
    input_ids: list[int]
    loss_mask: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def backend_of(tokenizer: Any) -> Any:
    """The `tokenizers.Tokenizer` behind a Hugging Face fast tokenizer (or the object itself if it is one)."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        if hasattr(tokenizer, "encode_batch"):
            return tokenizer
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer; offsets need the Rust tokenizers backend")
    return backend


def mask_from_offsets(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """1 for every token whose `[start, end)` overlaps one of the sorted, disjoint `spans`, else 0."""
    mask = [0] * len(offsets)
    if not spans:
        return mask
    span_index, n_spans = 0, len(spans)
    span_start, span_end = spans[0]
    for token_index, (start, end) in enumerate(offsets):
        # token starts are non-decreasing, so a span that ends at or before this token's start is done for good
        while span_end <= start:
            span_index += 1
            if span_index == n_spans:
                return mask
            span_start, span_end = spans[span_index]
        if end > span_start:
            mask[token_index] = 1
    return mask


def mask_of(encoding: Any, spans: list[tuple[int, int]]) -> list[int]:
    """The loss mask of one `tokenizers.Encoding` for `spans`.

    Tokens of a byte-level tokenizer without offset trimming cover the text contiguously, so the tokens overlapping
    `[start, end)` are exactly those from the one holding character `start` to the one holding `end - 1`; two
    offset look-ups per span instead of converting every offset. Any gap falls back to the full offsets sweep.
    """
    mask = [0] * len(encoding.ids)
    for start, end in spans:
        first, last = encoding.char_to_token(start), encoding.char_to_token(end - 1)
        if first is None or last is None:
            return mask_from_offsets(encoding.offsets, spans)
        mask[first : last + 1] = [1] * (last + 1 - first)
    return mask


def tokenize(rendered: list[Rendered], tokenizer: Any) -> list[TokenizedSample]:
    """Token ids and loss masks for each rendered conversation, one batched tokenizer call for all of them."""
    encodings = backend_of(tokenizer).encode_batch([r.text for r in rendered], add_special_tokens=False)
    return [TokenizedSample(encoding.ids, mask_of(encoding, r.spans)) for r, encoding in zip(rendered, encodings)]
