"""Composing instruction sets that are guaranteed satisfiable: a conflict table prunes impossible pairs,
and a constructive solver writes a witness response that every checker of the set accepts.

A set is only emitted together with its witness, verified by the same checkers the env uses, so
"satisfiable" is a fact checked per item, not a hope. Sets the solver cannot satisfy are redrawn.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hermes4.envs.ifeval.instructions import (
    IFEVAL_IDS,
    INSTRUCTIONS_BY_ID,
    Kwargs,
    follows,
    lexicon,
)
from hermes4.envs.ifeval.langid import STOPWORDS

BASE_PROMPTS = [
    "Write a short note to a friend about a walk in the park.",
    "Describe a quiet morning in a small town.",
    "Explain why people enjoy reading stories.",
    "Write a brief review of an imaginary cafe.",
    "Describe the view from the top of a hill.",
    "Write a message inviting neighbours to a garden party.",
    "Explain how to care for a house plant.",
    "Describe a train ride through the countryside.",
    "Write a short story about a lost umbrella.",
    "Explain what makes a good team.",
    "Write a letter to a teacher who helped you.",
    "Describe the sounds of a rainy afternoon.",
    "Write a pitch for a community library.",
    "Explain why sleep matters for students.",
    "Describe a festival in an imaginary city.",
]

_FILLER_EN = ["the", "a", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "as", "it", "at", "by", "from", "this", "be", "are", "or", "an", "not", "but", "they", "have", "we", "you", "their", "there", "which", "when", "all", "can", "will", "one", "so", "if", "about", "more", "also", "into", "than", "only", "some", "could", "them", "these", "then", "morning", "light", "quiet", "street", "small", "town", "people", "stories", "friends", "evening", "window", "table", "garden", "walk", "path", "water", "hill", "field", "sky", "cloud", "road", "house", "door", "music", "song", "tea", "bread", "apple", "warm", "cold", "soft", "slow", "bright", "calm", "old", "new", "long", "short", "good", "kind", "happy", "gentle", "open", "simple", "careful", "patient", "wide", "clear", "green", "blue", "red", "golden", "read", "write", "think", "hear", "see", "find", "keep", "make", "give", "share", "rest", "stay", "move", "turn", "carry", "hold", "watch", "learn", "enjoy"]

ALL_IFEVAL_AND_COMPOSED = list(INSTRUCTIONS_BY_ID)

# Pairs that can never (or, with our construction, not reliably) hold together.
_CONFLICT_PAIRS = {
    ("change_case:english_capital", "change_case:english_lowercase"),
    ("change_case:english_capital", "detectable_format:constrained_response"),
    ("change_case:english_lowercase", "detectable_format:constrained_response"),
    ("change_case:english_lowercase", "detectable_format:multiple_sections"),
    ("language:response_language", "change_case:english_capital"),
    ("language:response_language", "change_case:english_lowercase"),
    ("language:response_language", "combination:repeat_prompt"),
    ("language:response_language", "detectable_format:constrained_response"),
    ("language:response_language", "startend:end_checker"),
    ("language:response_language", "compose:start_phrase"),
    ("language:response_language", "compose:last_word"),
    ("language:response_language", "compose:nth_word_language"),
    ("length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"),
    ("length_constraints:number_paragraphs", "detectable_format:multiple_sections"),
    ("length_constraints:number_paragraphs", "combination:two_responses"),
    ("length_constraints:nth_paragraph_first_word", "detectable_format:multiple_sections"),
    ("length_constraints:nth_paragraph_first_word", "combination:two_responses"),
    ("combination:repeat_prompt", "compose:start_phrase"),
    ("combination:repeat_prompt", "startend:quotation"),
    ("combination:repeat_prompt", "combination:two_responses"),
    ("compose:start_phrase", "startend:quotation"),
    ("startend:end_checker", "compose:last_word"),
    ("compose:no_digits", "detectable_format:multiple_sections"),
    ("compose:letter_count", "keywords:letter_frequency"),
    ("compose:letter_count", "combination:two_responses"),
}
_CONFLICT_PAIRS |= {(a, b) for a in ["detectable_format:json_format"] for b in (
    "startend:quotation", "startend:end_checker", "combination:two_responses", "combination:repeat_prompt", "compose:start_phrase",
    "length_constraints:nth_paragraph_first_word", "length_constraints:number_paragraphs", "detectable_format:number_bullet_lists",
    "compose:nth_word_language", "compose:letter_count", "compose:last_word")}
_CONFLICT_PAIRS |= {("compose:nth_word_language", b) for b in (
    "combination:repeat_prompt", "startend:end_checker", "compose:start_phrase", "length_constraints:nth_paragraph_first_word",
    "detectable_format:constrained_response", "combination:two_responses", "compose:last_word", "compose:letter_count",
    "keywords:letter_frequency")}


def conflict(a: tuple[str, Kwargs], b: tuple[str, Kwargs]) -> bool:
    """True when two instructions (with their kwargs) cannot be combined."""
    (ida, ka), (idb, kb) = a, b
    if ida == idb:
        return True
    if (ida, idb) in _CONFLICT_PAIRS or (idb, ida) in _CONFLICT_PAIRS:
        return True
    pair = {ida: ka, idb: kb}
    if "change_case:english_capital" in pair and pair.get("change_case:capital_word_frequency", {}).get("capital_relation") == "less than":
        return True
    if "change_case:english_lowercase" in pair and pair.get("change_case:capital_word_frequency", {}).get("capital_relation") == "at least":
        return True
    if "change_case:english_capital" in pair and "detectable_format:multiple_sections" in pair:
        return pair["detectable_format:multiple_sections"]["section_spliter"] != pair["detectable_format:multiple_sections"]["section_spliter"].upper()
    nth = pair.get("length_constraints:nth_paragraph_first_word")
    if nth and nth["nth_paragraph"] == 1 and ({"detectable_format:title", "combination:repeat_prompt", "compose:start_phrase", "detectable_format:constrained_response"} & set(pair)):
        return True
    if "keywords:frequency" in pair and "keywords:existence" in pair:
        freq = pair["keywords:frequency"]
        if freq["relation"] == "less than" and freq["keyword"] in pair["keywords:existence"]["keywords"] and freq["frequency"] < 2:
            return True
    return False


@dataclass
class Layout:
    """Knobs of one witness attempt."""

    blocks: int
    sentences: int  # body sentences per block
    words: int  # words per body sentence
    seed: int


@dataclass
class Composed:
    prompt: str
    instruction_ids: list[str]
    kwargs: list[Kwargs]
    witness: str
    base_prompt: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class _Writer:
    """Renders a response for one instruction set and one layout."""

    def __init__(self, spec: dict[str, Kwargs], base_prompt: str, layout: Layout) -> None:
        self.spec, self.base, self.layout = spec, base_prompt, layout
        self.rng = random.Random(layout.seed)
        language = spec.get("language:response_language", {}).get("language", "en")
        self.language = language
        pool = _FILLER_EN if language == "en" else sorted(lexicon(language) | (STOPWORDS[language] & set()))
        banned_sub = [k.lower() for k in spec.get("keywords:existence", {}).get("keywords", [])]
        if "keywords:frequency" in spec:
            banned_sub.append(spec["keywords:frequency"]["keyword"].lower())
        forbidden = {w.lower() for w in spec.get("keywords:forbidden_words", {}).get("forbidden_words", [])}
        avoid_letters = set()
        letter_spec = spec.get("keywords:letter_frequency")
        if letter_spec and letter_spec["let_relation"] == "less than":
            avoid_letters.add(letter_spec["letter"].lower())
        if "compose:letter_count" in spec:
            avoid_letters.add(spec["compose:letter_count"]["letter"])
        last = spec.get("compose:last_word", {}).get("word")
        self.pool = [
            w for w in pool
            if w not in forbidden and not any(b in w for b in banned_sub) and not (avoid_letters & set(w)) and w != "i" and w != last
        ]

    def words(self, count: int) -> list[str]:
        return [self.rng.choice(self.pool) for _ in range(max(1, count))]

    def sentence(self, count: int, extra: list[str] | None = None) -> str:
        words = self.words(count)
        for token in extra or []:
            words.insert(self.rng.randint(1, len(words)), token)
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def render(self) -> str | None:
        spec, L = self.spec, self.layout
        if len(self.pool) < 8:
            return None
        blocks_n = L.blocks
        for key in ("length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"):
            if key in spec:
                blocks_n = spec[key]["num_paragraphs"]
        if "detectable_format:multiple_sections" in spec:
            blocks_n = max(blocks_n, spec["detectable_format:multiple_sections"]["num_sections"])
        # tokens that must appear somewhere in the body, spread over its sentences
        extras: list[str] = list(spec.get("keywords:existence", {}).get("keywords", []))
        freq = spec.get("keywords:frequency")
        if freq and freq["relation"] == "at least":
            have = sum(1 for e in extras if e.lower() == freq["keyword"].lower())
            extras += [freq["keyword"]] * max(0, freq["frequency"] - have)
        cap = spec.get("change_case:capital_word_frequency")
        if cap and cap["capital_relation"] == "at least":
            extras += ["NOTE"] * cap["capital_frequency"]
        for _ in range(spec.get("detectable_format:number_highlighted_sections", {}).get("num_highlights", 0)):
            extras.append("*" + " ".join(self.words(2)) + "*")
        for _ in range(spec.get("detectable_content:number_placeholders", {}).get("num_placeholders", 0)):
            extras.append("[" + self.words(1)[0] + "]")
        self.rng.shuffle(extras)
        sentences_total = blocks_n * L.sentences
        buckets: list[list[str]] = [[] for _ in range(sentences_total)]
        for i, token in enumerate(extras):
            buckets[i % sentences_total].append(token)
        blocks = []
        for b in range(blocks_n):
            sentences = [self.sentence(L.words, buckets[b * L.sentences + s]) for s in range(L.sentences)]
            blocks.append(sentences)
        nth = spec.get("length_constraints:nth_paragraph_first_word")
        if nth:
            first = nth["first_word"]
            target = blocks[nth["nth_paragraph"] - 1]
            target[0] = first.capitalize() + " " + target[0][0].lower() + target[0][1:]
        if "detectable_format:constrained_response" in spec:
            blocks[0].insert(0, "My answer is yes.")
        start = spec.get("compose:start_phrase")
        if start:
            blocks[0][0] = start["start_phrase"] + " " + blocks[0][0][0].lower() + blocks[0][0][1:]
        texts = [" ".join(s) for s in blocks]
        bullets = spec.get("detectable_format:number_bullet_lists")
        if bullets:
            texts[-1] += "\n" + "\n".join("* " + self.sentence(max(2, L.words // 2)) for _ in range(bullets["num_bullets"]))
        sections = spec.get("detectable_format:multiple_sections")
        if sections:
            texts = [f"{sections['section_spliter']} {i + 1}\n{t}" for i, t in enumerate(texts)]
        head: list[str] = []
        if "combination:repeat_prompt" in spec:
            head.append(spec["combination:repeat_prompt"]["prompt_to_repeat"])
        if "detectable_format:title" in spec:
            title = "<<" + " ".join(self.words(2)).title() + ">>"
            if start:
                texts[0] = texts[0].replace(". ", ".\n" + title + "\n", 1) if ". " in texts[0] else texts[0] + "\n" + title
            else:
                head.append(title)
        if head:
            texts[0] = "\n".join(head) + "\n" + texts[0]
        separator = "\n***\n" if "length_constraints:number_paragraphs" in spec else "\n\n"
        text = separator.join(texts)
        tail: list[str] = []
        post = spec.get("detectable_content:postscript")
        if post:
            marker = "P.P.S." if post["postscript_marker"] == "P.P.S" else post["postscript_marker"]
            tail.append(f"{marker} {self.sentence(4)}")
        end = spec.get("startend:end_checker")
        last_word = spec.get("compose:last_word")
        if end:
            if tail:
                tail[-1] += " " + end["end_phrase"]
            else:
                tail.append(end["end_phrase"])
        if last_word:
            tail.append(self.sentence(3)[:-1] + " " + last_word["word"] + ".")
        if tail:
            text += "\n" + "\n".join(tail)
        text = self._pad_letters(text)
        if text is None:
            return None
        if "combination:two_responses" in spec:
            other = _Writer(spec, self.base, Layout(L.blocks, L.sentences, L.words, L.seed + 7919)).render_single()
            if other is None:
                return None
            text = text + "\n******\n" + other
        return self._finish(text)

    def render_single(self) -> str | None:
        spec = dict(self.spec)
        spec.pop("combination:two_responses", None)
        saved, self.spec = self.spec, spec
        try:
            text = self.render()
        finally:
            self.spec = saved
        return None if text is None else text

    def _pad_letters(self, text: str) -> str | None:
        """Reach letter counts by appending words that contain the letter (once, for exact counts)."""
        exact = self.spec.get("compose:letter_count")
        at_least = self.spec.get("keywords:letter_frequency")
        target, letter = None, None
        if exact:
            letter, target = exact["letter"], exact["count"]
        elif at_least and at_least["let_relation"] == "at least":
            letter, target = at_least["letter"].lower(), at_least["let_frequency"]
        if letter is None:
            return text
        have = Counter(text.lower())[letter]
        if have > target and exact:
            return None
        if have >= target:
            return text
        vocabulary = _FILLER_EN + _LETTER_WORDS if self.language == "en" else sorted(STOPWORDS[self.language]) + _LETTER_WORDS
        donors = [w for w in vocabulary if w.count(letter) == 1 and w in self.pool + _LETTER_WORDS]
        if not donors:
            return None
        padding = [self.rng.choice(donors) for _ in range(target - have)]
        sentence = " ".join(padding)
        sentence = sentence[0].upper() + sentence[1:] + "."
        return _insert_before_tail(text, sentence, self.spec)

    def _finish(self, text: str) -> str:
        spec = self.spec
        nth_lang = spec.get("compose:nth_word_language")
        if nth_lang:
            text = _place_nth_words(text, nth_lang["n"], nth_lang["language"], self.rng, set(self.pool))
        if "change_case:english_capital" in spec:
            text = text.upper()
        if "change_case:english_lowercase" in spec:
            text = text.lower()
        if "startend:quotation" in spec:
            text = f'"{text}"'
        if "detectable_format:json_format" in spec:
            text = json.dumps({"response": text}, ensure_ascii=False)
        return text


# Words that each contain one of the rarer letters, for letter padding.
_LETTER_WORDS = ["big", "buy", "fog", "fun", "keep", "kind", "pay", "park", "vine", "very", "wide", "way", "yes", "joy", "quiz", "zoo", "ox"]


def _insert_before_tail(text: str, sentence: str, spec: dict[str, Kwargs]) -> str:
    """Put a padding sentence where it disturbs nothing fixed: before the postscript/end/last-word lines."""
    tail_markers = ("detectable_content:postscript", "startend:end_checker", "compose:last_word")
    lines = text.split("\n")
    tail_lines = sum(1 for m in tail_markers if m in spec and not (m == "startend:end_checker" and "detectable_content:postscript" in spec))
    body, tail = lines[: len(lines) - tail_lines], lines[len(lines) - tail_lines :]
    body[-1] = body[-1] + " " + sentence if body and not body[-1].lstrip().startswith(("* ", "- ")) else body[-1]
    if body and body[-1].lstrip().startswith(("* ", "- ")):
        body.append(sentence)
    return "\n".join(body + tail)


def _place_nth_words(text: str, n: int, language: str, rng: random.Random, replaceable: set[str]) -> str:
    """Make every n-th word a word of `language`: replace filler words there, insert before fixed ones."""
    words_of = sorted(lexicon(language))
    out, position, last = [], 0, 0
    for match in re.finditer(r"[^\W\d_]+", text):
        out.append(text[last : match.start()])
        word = match[0]
        position += 1
        if position % n == 0 and word.lower() not in words_of:
            if word.lower() in replaceable and word.islower():
                word = rng.choice(words_of)
            else:
                out.append(rng.choice(words_of) + " ")
                position += 1  # the original word moved one place on
        out.append(word)
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def solve(spec: list[tuple[str, Kwargs]], base_prompt: str, rng: random.Random, *, attempts: int = 60) -> str | None:
    """A response that follows every instruction of `spec` (checked strictly), or None if none was found."""
    as_dict = dict(spec)
    layouts = [Layout(b, s, w, rng.randrange(1 << 30)) for b, s, w in itertools.product((1, 2), (1, 2, 3, 5), (5, 8, 12, 18, 30))]
    rng.shuffle(layouts)
    layouts.sort(key=lambda layout: _layout_priority(layout, as_dict))
    for layout in layouts[:attempts]:
        text = _Writer(as_dict, base_prompt, layout).render()
        if text is not None and all(follows(i, text, k) for i, k in spec):
            return text
    return None


def _layout_priority(layout: Layout, spec: dict[str, Kwargs]) -> float:
    """Try layouts whose sentence and word counts sit inside the requested bounds first."""
    sentences = layout.blocks * layout.sentences
    words = sentences * layout.words
    score = 0.0
    s = spec.get("length_constraints:number_sentences")
    if s:
        want = s["num_sentences"] - 2 if s["relation"] == "less than" else s["num_sentences"] + 1
        score += abs(sentences - want)
    w = spec.get("length_constraints:number_words")
    if w:
        want = w["num_words"] * (0.5 if w["relation"] == "less than" else 1.3)
        score += abs(words - want) / 10
    r = spec.get("compose:word_range")
    if r:
        score += abs(words - (r["min_words"] + r["max_words"]) / 2) / 10
    return score


def compose(
    rng: random.Random, *, count: int = 3, pool: list[str] | None = None, max_tries: int = 200
) -> Composed:
    """A prompt with `count` compatible instructions and a witness response that passes all of them."""
    ids = pool or ALL_IFEVAL_AND_COMPOSED
    for _ in range(max_tries):
        base = rng.choice(BASE_PROMPTS)
        chosen: list[tuple[str, Kwargs]] = []
        for candidate in rng.sample(ids, len(ids)):
            kwargs = INSTRUCTIONS_BY_ID[candidate].draw(rng)
            if candidate == "combination:repeat_prompt":
                kwargs["prompt_to_repeat"] = base
            if any(conflict((candidate, kwargs), other) for other in chosen):
                continue
            chosen.append((candidate, kwargs))
            if len(chosen) == count:
                break
        if len(chosen) < count:
            continue
        witness = solve(chosen, base, rng)
        if witness is None:
            continue
        descriptions = " ".join(INSTRUCTIONS_BY_ID[i].describe(k) for i, k in chosen)
        return Composed(
            prompt=f"{base} {descriptions}",
            instruction_ids=[i for i, _ in chosen],
            kwargs=[k for _, k in chosen],
            witness=witness,
            base_prompt=base,
        )
    raise RuntimeError(f"could not compose {count} satisfiable instructions from {len(ids)} types in {max_tries} tries")


__all__ = ["BASE_PROMPTS", "IFEVAL_IDS", "Composed", "compose", "conflict", "solve"]
