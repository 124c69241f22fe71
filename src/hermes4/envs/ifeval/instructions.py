"""The 25 IFEval instruction types (Zhou et al. 2023), checked as IFEval defines them, plus composed types.

Each instruction has an id (`group:name`, as in IFEval's `instruction_id_list`), a checker
`check(response, kwargs) -> bool`, a description for prompts, and a sampler of kwargs. `follows` applies
IFEval's strict rule (the response as given) or loose rule (also the response with its first line, its
last line, or both removed, each with and without `*` characters).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hermes4.envs.ifeval.langid import LANGUAGE_NAMES, STOPWORDS, identify
from hermes4.envs.ifeval.text import count_sentences, count_words, word_tokens

Kwargs = dict[str, Any]
RELATIONS = ("less than", "at least")
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@dataclass(frozen=True)
class Instruction:
    id: str
    check: Callable[[str, Kwargs], bool]
    describe: Callable[[Kwargs], str]
    draw: Callable[[random.Random], Kwargs]


def _compare(actual: int, relation: str, target: int) -> bool:
    if relation == "less than":
        return actual < target
    if relation == "at least":
        return actual >= target
    if relation == "exactly":
        return actual == target
    raise ValueError(f"unknown relation {relation!r}; expected one of: less than, at least, exactly")


# ------------------------------------------------------------------------------------------- checkers


def _pattern(text: str) -> str:
    """IFEval puts keywords into its regular expressions unescaped (so `U.S` also matches `USS`); a keyword that is
    not a valid expression (where IFEval would crash) is matched literally."""
    try:
        re.compile(text)
    except re.error:
        return re.escape(text)
    return text


def _keywords_existence(r: str, k: Kwargs) -> bool:
    return all(re.search(_pattern(word), r, flags=re.IGNORECASE) for word in k["keywords"])


def _keyword_frequency(r: str, k: Kwargs) -> bool:
    return _compare(len(re.findall(_pattern(k["keyword"].strip()), r, flags=re.IGNORECASE)), k["relation"], k["frequency"])


def _forbidden_words(r: str, k: Kwargs) -> bool:
    return not any(re.search(r"\b" + _pattern(word) + r"\b", r, flags=re.IGNORECASE) for word in k["forbidden_words"])


def _letter_frequency(r: str, k: Kwargs) -> bool:
    return _compare(Counter(r.lower())[k["letter"].strip().lower()], k["let_relation"], k["let_frequency"])


def _response_language(r: str, k: Kwargs) -> bool:
    found = identify(r)
    return True if found is None else found == k["language"]  # langdetect raised: IFEval counts it as followed


def _number_sentences(r: str, k: Kwargs) -> bool:
    return _compare(count_sentences(r), k["relation"], k["num_sentences"])


def _number_paragraphs(r: str, k: Kwargs) -> bool:
    parts = re.split(r"\s?\*\*\*\s?", r)
    count = len(parts)
    for index, part in enumerate(parts):
        if not part.strip():
            if index in (0, len(parts) - 1):
                count -= 1
            else:
                return False  # an empty paragraph between two dividers
    return count == k["num_paragraphs"]


def _number_words(r: str, k: Kwargs) -> bool:
    return _compare(count_words(r), k["relation"], k["num_words"])


_FIRST_WORD_STOP = set(".,?!'\"")


def _nth_paragraph_first_word(r: str, k: Kwargs) -> bool:
    paragraphs = re.split(r"\n\n", r)
    count = sum(1 for p in paragraphs if p.strip())
    nth = k["nth_paragraph"]
    if nth > count:
        return False
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for letter in word:
        if letter in _FIRST_WORD_STOP:
            break
        first += letter.lower()
    return count == k["num_paragraphs"] and first == k["first_word"].lower()


def _placeholders(r: str, k: Kwargs) -> bool:
    return len(re.findall(r"\[.*?\]", r)) >= k["num_placeholders"]


def _postscript(r: str, k: Kwargs) -> bool:
    marker = k["postscript_marker"].strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + _pattern(marker.lower()) + r".*$"
    return bool(re.findall(pattern, r.lower(), flags=re.MULTILINE))


def _bullet_lists(r: str, k: Kwargs) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", r, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", r, flags=re.MULTILINE)
    return len(stars) + len(dashes) == k["num_bullets"]


def _constrained_response(r: str, k: Kwargs) -> bool:
    stripped = r.strip()
    return any(option in stripped for option in CONSTRAINED_OPTIONS)


def _highlighted_sections(r: str, k: Kwargs) -> bool:
    count = sum(1 for h in re.findall(r"\*[^\n\*]*\*", r) if h.strip("*").strip())
    count += sum(1 for h in re.findall(r"\*\*[^\n\*]*\*\*", r) if h.removeprefix("**").removesuffix("**").strip())
    return count >= k["num_highlights"]


def _multiple_sections(r: str, k: Kwargs) -> bool:
    sections = re.split(r"\s?" + _pattern(k["section_spliter"].strip()) + r"\s?\d+\s?", r)
    return len(sections) - 1 >= k["num_sections"]


def _json_format(r: str, k: Kwargs) -> bool:
    body = r.strip()
    for prefix in ("```json", "```Json", "```JSON", "```"):
        body = body.removeprefix(prefix)
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _title(r: str, k: Kwargs) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", r))


def _two_responses(r: str, k: Kwargs) -> bool:
    parts = r.split("******")
    valid = []
    for index, part in enumerate(parts):
        if not part.strip():
            if index not in (0, len(parts) - 1):
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


def _repeat_prompt(r: str, k: Kwargs) -> bool:
    return r.strip().lower().startswith(k["prompt_to_repeat"].strip().lower())


def _end_checker(r: str, k: Kwargs) -> bool:
    return r.strip().strip('"').lower().endswith(k["end_phrase"].strip().lower())


def _capital_word_frequency(r: str, k: Kwargs) -> bool:
    return _compare(sum(1 for w in word_tokens(r) if w.isupper()), k["capital_relation"], k["capital_frequency"])


def _english_capital(r: str, k: Kwargs) -> bool:
    return r.isupper() and identify(r) in ("en", None)


def _english_lowercase(r: str, k: Kwargs) -> bool:
    return r.islower() and identify(r) in ("en", None)


def _no_comma(r: str, k: Kwargs) -> bool:
    return "," not in r


def _quotation(r: str, k: Kwargs) -> bool:
    stripped = r.strip()
    return len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'


# --------------------------------------------------------------------------- composed (non-IFEval) types

_LEXICON_WORD = re.compile(r"[^\W\d_]+")


def lexicon(language: str) -> set[str]:
    """Words that count as belonging to `language` for `compose:nth_word_language`."""
    return STOPWORDS[language] - (STOPWORDS["en"] if language != "en" else set())


def _nth_word_language(r: str, k: Kwargs) -> bool:
    words = [w.lower() for w in _LEXICON_WORD.findall(r)]
    n, allowed = k["n"], lexicon(k["language"])
    chosen = words[n - 1 :: n]
    return bool(chosen) and all(w in allowed for w in chosen)


def _letter_count(r: str, k: Kwargs) -> bool:
    return Counter(r.lower())[k["letter"]] == k["count"]


def _start_phrase(r: str, k: Kwargs) -> bool:
    return r.strip().lower().startswith(k["start_phrase"].lower())


def _word_range(r: str, k: Kwargs) -> bool:
    return k["min_words"] <= count_words(r) <= k["max_words"]


def _no_digits(r: str, k: Kwargs) -> bool:
    return not re.search(r"\d", r)


def _last_word(r: str, k: Kwargs) -> bool:
    words = re.findall(r"\w+", r)
    return bool(words) and words[-1].lower() == k["word"].lower()


# --------------------------------------------------------------------------------------- descriptions

_KEYWORDS = ["planet", "river", "harvest", "lantern", "journey", "signal", "garden", "archive", "compass", "meadow", "engine", "bridge"]
_FORBIDDEN = ["very", "really", "basically", "actually", "simply", "just", "literally", "totally"]
_END_PHRASES = ("Is there anything else I can help with?", "Any other questions?", "Let me know if you have additional questions.")
_TITLE_HINT = "<<poem of joy>>"
_FIRST_WORDS = ["today", "summer", "rivers", "history", "markets", "music"]
_LATIN_LANGS = ["es", "fr", "de", "it", "pt", "nl", "sv", "pl", "tr", "fi", "sw"]


def _rel(rng: random.Random) -> str:
    return rng.choice(RELATIONS)


def _draw_nth_paragraph(rng: random.Random) -> Kwargs:
    count = rng.randint(2, 4)
    return {"num_paragraphs": count, "nth_paragraph": rng.randint(1, count), "first_word": rng.choice(_FIRST_WORDS)}


def _draw_word_range(rng: random.Random) -> Kwargs:
    low = rng.choice([20, 40, 60])
    return {"min_words": low, "max_words": low + rng.choice([30, 60, 100])}


INSTRUCTIONS: list[Instruction] = [
    Instruction("keywords:existence", _keywords_existence,
                lambda k: f"Include the keywords {', '.join(k['keywords'])} in the response.",
                lambda rng: {"keywords": rng.sample(_KEYWORDS, 2)}),
    Instruction("keywords:frequency", _keyword_frequency,
                lambda k: f"In your response, the word {k['keyword']} should appear {k['relation']} {k['frequency']} times.",
                lambda rng: {"keyword": rng.choice(_KEYWORDS), "relation": _rel(rng), "frequency": rng.randint(2, 4)}),
    Instruction("keywords:forbidden_words", _forbidden_words,
                lambda k: f"Do not include the keywords {', '.join(k['forbidden_words'])} in the response.",
                lambda rng: {"forbidden_words": rng.sample(_FORBIDDEN, 2)}),
    Instruction("keywords:letter_frequency", _letter_frequency,
                lambda k: f"In your response, the letter {k['letter']} should appear {k['let_relation']} {k['let_frequency']} times.",
                lambda rng: {"letter": rng.choice("bcdfgkmpwy"), "let_relation": _rel(rng), "let_frequency": rng.randint(3, 10)}),
    Instruction("language:response_language", _response_language,
                lambda k: f"Your ENTIRE response should be in {LANGUAGE_NAMES[k['language']]} language, no other language is allowed.",
                lambda rng: {"language": rng.choice(_LATIN_LANGS)}),
    Instruction("length_constraints:number_sentences", _number_sentences,
                lambda k: f"Your response should contain {k['relation']} {k['num_sentences']} sentences.",
                lambda rng: {"relation": _rel(rng), "num_sentences": rng.randint(3, 8)}),
    Instruction("length_constraints:number_paragraphs", _number_paragraphs,
                lambda k: f"There should be {k['num_paragraphs']} paragraphs. Paragraphs are separated with the markdown divider: ***",
                lambda rng: {"num_paragraphs": rng.randint(2, 4)}),
    Instruction("length_constraints:number_words", _number_words,
                lambda k: f"Answer with {k['relation']} {k['num_words']} words.",
                lambda rng: {"relation": _rel(rng), "num_words": rng.choice([40, 60, 80, 120, 200])}),
    Instruction("length_constraints:nth_paragraph_first_word", _nth_paragraph_first_word,
                lambda k: (f"There should be {k['num_paragraphs']} paragraphs. Paragraphs and only paragraphs are separated with each other "
                           f"by two new lines as if it was '\\n\\n' in python. Paragraph {k['nth_paragraph']} must start with word {k['first_word']}."),
                lambda rng: _draw_nth_paragraph(rng)),
    Instruction("detectable_content:number_placeholders", _placeholders,
                lambda k: f"The response must contain at least {k['num_placeholders']} placeholders represented by square brackets, such as [address].",
                lambda rng: {"num_placeholders": rng.randint(1, 3)}),
    Instruction("detectable_content:postscript", _postscript,
                lambda k: f"At the end of your response, please explicitly add a postscript starting with {k['postscript_marker']}",
                lambda rng: {"postscript_marker": rng.choice(["P.S.", "P.P.S"])}),
    Instruction("detectable_format:number_bullet_lists", _bullet_lists,
                lambda k: (f"Your answer must contain exactly {k['num_bullets']} bullet points. Use the markdown bullet points such as:\n"
                           "* This is point 1.\n* This is point 2"),
                lambda rng: {"num_bullets": rng.randint(2, 5)}),
    Instruction("detectable_format:constrained_response", _constrained_response,
                lambda k: "Answer with one of the following options: (\"My answer is yes.\", \"My answer is no.\", \"My answer is maybe.\")",
                lambda rng: {}),
    Instruction("detectable_format:number_highlighted_sections", _highlighted_sections,
                lambda k: f"Highlight at least {k['num_highlights']} sections in your answer with markdown, i.e. *highlighted section*.",
                lambda rng: {"num_highlights": rng.randint(1, 3)}),
    Instruction("detectable_format:multiple_sections", _multiple_sections,
                lambda k: (f"Your response must have {k['num_sections']} sections. Mark the beginning of each section with "
                           f"{k['section_spliter']} X, such as: {k['section_spliter']} 1"),
                lambda rng: {"section_spliter": rng.choice(["SECTION", "Section", "PARAGRAPH"]), "num_sections": rng.randint(2, 4)}),
    Instruction("detectable_format:json_format", _json_format,
                lambda k: "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.",
                lambda rng: {}),
    Instruction("detectable_format:title", _title,
                lambda k: f"Your answer must contain a title, wrapped in double angular brackets, such as {_TITLE_HINT}.",
                lambda rng: {}),
    Instruction("combination:two_responses", _two_responses,
                lambda k: "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******.",
                lambda rng: {}),
    Instruction("combination:repeat_prompt", _repeat_prompt,
                lambda k: (f"First repeat the request \"{k['prompt_to_repeat']}\" word for word without change, then give your answer "
                           "(1. do not say any words or characters before repeating the request; 2. the request you need to repeat "
                           "does not include this sentence)"),
                lambda rng: {"prompt_to_repeat": ""}),
    Instruction("startend:end_checker", _end_checker,
                lambda k: f"Finish your response with this exact phrase {k['end_phrase']}. No other words should follow this phrase.",
                lambda rng: {"end_phrase": rng.choice(_END_PHRASES)}),
    Instruction("change_case:capital_word_frequency", _capital_word_frequency,
                lambda k: f"In your response, words with all capital letters should appear {k['capital_relation']} {k['capital_frequency']} times.",
                lambda rng: {"capital_relation": _rel(rng), "capital_frequency": rng.randint(2, 6)}),
    Instruction("change_case:english_capital", _english_capital,
                lambda k: "Your entire response should be in English, and in all capital letters.",
                lambda rng: {}),
    Instruction("change_case:english_lowercase", _english_lowercase,
                lambda k: "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.",
                lambda rng: {}),
    Instruction("punctuation:no_comma", _no_comma,
                lambda k: "In your entire response, refrain from the use of any commas.",
                lambda rng: {}),
    Instruction("startend:quotation", _quotation,
                lambda k: "Wrap your entire response with double quotation marks.",
                lambda rng: {}),
    # --- composed types (not in IFEval): new constraints for the generator
    Instruction("compose:nth_word_language", _nth_word_language,
                lambda k: f"Every {_ordinal(k['n'])} word of your response must be a {LANGUAGE_NAMES[k['language']]} word.",
                lambda rng: {"n": rng.randint(3, 6), "language": rng.choice(["es", "fr", "de", "it"])}),
    Instruction("compose:letter_count", _letter_count,
                lambda k: f"Use the letter {k['letter']} exactly {k['count']} times in your response (any case).",
                lambda rng: {"letter": rng.choice("bfkpvwy"), "count": rng.randint(4, 12)}),
    Instruction("compose:start_phrase", _start_phrase,
                lambda k: f"Start your response with the exact phrase '{k['start_phrase']}'.",
                lambda rng: {"start_phrase": rng.choice(["Here is my answer", "To begin", "In short"])}),
    Instruction("compose:word_range", _word_range,
                lambda k: f"Your response must have between {k['min_words']} and {k['max_words']} words.",
                lambda rng: _draw_word_range(rng)),
    Instruction("compose:no_digits", _no_digits,
                lambda k: "Do not use any digits (0-9) in your response; spell numbers out.",
                lambda rng: {}),
    Instruction("compose:last_word", _last_word,
                lambda k: f"The last word of your response must be '{k['word']}'.",
                lambda rng: {"word": rng.choice(["tomorrow", "together", "forever", "indeed"])}),
]
INSTRUCTIONS_BY_ID = {i.id: i for i in INSTRUCTIONS}
IFEVAL_IDS = [i.id for i in INSTRUCTIONS if not i.id.startswith("compose:")]


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def loose_variants(response: str) -> list[str]:
    """IFEval's loose transformations: first line / last line / both removed, each with and without `*`."""
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    variants = [response, without_first, without_last, without_both]
    return variants + [v.replace("*", "") for v in variants]


def follows(instruction_id: str, response: str, kwargs: Kwargs, *, loose: bool = False) -> bool:
    """Whether `response` follows one instruction under IFEval's strict (default) or loose rule."""
    instruction = INSTRUCTIONS_BY_ID.get(instruction_id)
    if instruction is None:
        raise KeyError(f"unknown instruction id {instruction_id!r}")
    kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}
    candidates = loose_variants(response) if loose else [response]
    return any(c.strip() and instruction.check(c, kwargs) for c in candidates)
