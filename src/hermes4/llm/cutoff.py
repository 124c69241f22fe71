"""Where generation ends: max_tokens and stop strings applied to finished text, the way a real engine does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

# Without a tokenizer a "token" is a word piece: leading whitespace plus one word, one tag like
# `<think>` / `<|im_end|>`, or one punctuation character. Every character belongs to exactly one
# piece, so the first k pieces joined are always a prefix of the text.
_PIECE = re.compile(r"\s*(?:<\|?/?[A-Za-z_][A-Za-z0-9_]*\|?>|\w+|[^\w\s])|\s+")


def word_pieces(text: str) -> list[str]:
    """The text split into word pieces (see `_PIECE`); `"".join(word_pieces(t)) == t`."""
    return _PIECE.findall(text)


class TokenCounter:
    """Counts and cuts text in tokens: a real tokenizer's when given, else word pieces."""

    def __init__(self, tokenizer: Any | None = None) -> None:
        self.tokenizer = tokenizer

    def count(self, text: str) -> int:
        if self.tokenizer is not None:
            return len(self.tokenizer.encode(text, add_special_tokens=False))
        return len(word_pieces(text))

    def pieces(self, text: str) -> list[str]:
        """The text as a list of token strings whose concatenation is the text (up to tokenizer round-trip)."""
        if self.tokenizer is not None:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            out: list[str] = []
            previous = ""
            # Decode growing prefixes so multi-byte characters split across tokens come out whole.
            for end in range(1, len(ids) + 1):
                decoded = self.tokenizer.decode(ids[:end], skip_special_tokens=False)
                out.append(decoded[len(previous):])
                previous = decoded
            return out
        return word_pieces(text)


@dataclass(frozen=True)
class Cut:
    text: str
    finish_reason: Literal["stop", "length"]
    completion_tokens: int


def apply_limits(text: str, *, max_tokens: int, stop: list[str], counter: TokenCounter, end_of_turn: str | None = None) -> Cut:
    """Cut `text` as an engine generating it token by token would have stopped.

    The engine stops at the first of: the end-of-turn marker (an EOS; removed, like vLLM removes
    EOS), a stop string (removed, vLLM's default), or `max_tokens` tokens (finish_reason
    "length"). A stop string that would only complete after the token limit is never seen.
    """
    pieces = counter.pieces(text)
    truncated = len(pieces) > max_tokens
    visible = "".join(pieces[:max_tokens]) if truncated else text
    markers = list(stop) + ([end_of_turn] if end_of_turn else [])
    first = -1
    for marker in markers:
        at = visible.find(marker)
        if at != -1 and (first == -1 or at < first):
            first = at
    if first != -1:
        kept = visible[:first]
        return Cut(text=kept, finish_reason="stop", completion_tokens=counter.count(kept))
    if truncated:
        return Cut(text=visible, finish_reason="length", completion_tokens=max_tokens)
    return Cut(text=visible, finish_reason="stop", completion_tokens=counter.count(visible))
