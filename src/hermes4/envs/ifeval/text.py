"""Text measures IFEval needs, written without nltk data: words, word tokens, sentences.

Words are exactly IFEval's (`\\w+` runs). IFEval counts sentences with nltk's punkt model and capital words
with nltk's word tokenizer; ours are small rule-based stand-ins (abbreviations, initials, decimals, closing
quotes) that agree on ordinary prose and may differ on unusual punctuation.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")
# Word tokens in the Treebank spirit: words (with inner apostrophes/hyphens), numbers, single punctuation marks.
_TOKEN = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")

# Abbreviations whose period does not end a sentence (lowercased, without the final period).
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "al", "inc", "ltd", "co",
    "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "fig", "approx",
    "dept", "est", "gen", "gov", "lt", "mt", "p.m", "a.m", "u.s", "u.k", "ph.d",
}
_CANDIDATE = re.compile(r"([.!?]+)([\"')\]]*)(\s+|$)")


def count_words(text: str) -> int:
    """Words as IFEval counts them: maximal runs of word characters (`\\w+`)."""
    return len(_WORD.findall(text))


def word_tokens(text: str) -> list[str]:
    """Word-level tokens (words and punctuation marks), for counting all-capital words."""
    return _TOKEN.findall(text)


def split_sentences(text: str) -> list[str]:
    """Sentences: a run of `.`, `!` or `?` (with closing quotes/brackets) followed by space or the end,
    except after known abbreviations, single-letter initials, and inside numbers like 3.14."""
    sentences: list[str] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        end = match.end(2)
        before = text[start : match.start(1)]
        last_word = before.split()[-1].lower() if before.split() else ""
        last_word = last_word.lstrip("(\"'[")
        following = text[match.end() : match.end() + 1]
        if match[1] == "." and match[3] and (last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word)):
            continue  # "Dr. Smith", "J. Doe"
        if match[1] == "." and following and following.islower():
            continue  # a lowercase continuation is rarely a new sentence
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def count_sentences(text: str) -> int:
    return len(split_sentences(text))
