"""Reading composed IFEval prompts back into instruction ids and kwargs (what the scripted teacher needs).

Each pattern inverts the description an instruction writes into the prompt (see `instructions.py`), so any
prompt the composer makes can be recovered exactly; prompts worded differently (IFEval's own) are not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hermes4.envs.ifeval.composer import BASE_PROMPTS
from hermes4.envs.ifeval.instructions import Kwargs
from hermes4.envs.ifeval.langid import LANGUAGE_NAMES

_CODE_OF = {name: code for code, name in LANGUAGE_NAMES.items()}
_Read = Callable[[re.Match[str]], Kwargs]

_PATTERNS: list[tuple[str, str, _Read]] = [
    ("keywords:existence", r"Include the keywords (.+?) in the response\.", lambda m: {"keywords": m[1].split(", ")}),
    ("keywords:frequency", r"the word (\S+) should appear (less than|at least) (\d+) times\.",
     lambda m: {"keyword": m[1], "relation": m[2], "frequency": int(m[3])}),
    ("keywords:forbidden_words", r"Do not include the keywords (.+?) in the response\.", lambda m: {"forbidden_words": m[1].split(", ")}),
    ("keywords:letter_frequency", r"the letter (\w) should appear (less than|at least) (\d+) times\.",
     lambda m: {"letter": m[1], "let_relation": m[2], "let_frequency": int(m[3])}),
    ("language:response_language", r"Your ENTIRE response should be in (\w+) language", lambda m: {"language": _CODE_OF[m[1]]}),
    ("length_constraints:number_sentences", r"Your response should contain (less than|at least) (\d+) sentences\.",
     lambda m: {"relation": m[1], "num_sentences": int(m[2])}),
    ("length_constraints:number_paragraphs", r"There should be (\d+) paragraphs\. Paragraphs are separated with the markdown divider",
     lambda m: {"num_paragraphs": int(m[1])}),
    ("length_constraints:number_words", r"Answer with (less than|at least) (\d+) words\.", lambda m: {"relation": m[1], "num_words": int(m[2])}),
    ("length_constraints:nth_paragraph_first_word",
     r"There should be (\d+) paragraphs\. Paragraphs and only paragraphs .*? Paragraph (\d+) must start with word (\w+)\.",
     lambda m: {"num_paragraphs": int(m[1]), "nth_paragraph": int(m[2]), "first_word": m[3]}),
    ("detectable_content:number_placeholders", r"at least (\d+) placeholders represented by square brackets",
     lambda m: {"num_placeholders": int(m[1])}),
    ("detectable_content:postscript", r"add a postscript starting with (P\.P\.S|P\.S\.)", lambda m: {"postscript_marker": m[1]}),
    ("detectable_format:number_bullet_lists", r"must contain exactly (\d+) bullet points", lambda m: {"num_bullets": int(m[1])}),
    ("detectable_format:constrained_response", r"Answer with one of the following options", lambda m: {}),
    ("detectable_format:number_highlighted_sections", r"Highlight at least (\d+) sections", lambda m: {"num_highlights": int(m[1])}),
    ("detectable_format:multiple_sections", r"Your response must have (\d+) sections\. Mark the beginning of each section with (\w+) X",
     lambda m: {"num_sections": int(m[1]), "section_spliter": m[2]}),
    ("detectable_format:json_format", r"Entire output should be wrapped in JSON format", lambda m: {}),
    ("detectable_format:title", r"must contain a title, wrapped in double angular brackets", lambda m: {}),
    ("combination:two_responses", r"Give two different responses\.", lambda m: {}),
    ("combination:repeat_prompt", r'First repeat the request "(.*?)" word for word', lambda m: {"prompt_to_repeat": m[1]}),
    ("startend:end_checker", r"Finish your response with this exact phrase (.+?)\.? No other words should follow",
     lambda m: {"end_phrase": m[1]}),
    ("change_case:capital_word_frequency", r"words with all capital letters should appear (less than|at least) (\d+) times",
     lambda m: {"capital_relation": m[1], "capital_frequency": int(m[2])}),
    ("change_case:english_capital", r"in English, and in all capital letters", lambda m: {}),
    ("change_case:english_lowercase", r"in English, and in all lowercase letters", lambda m: {}),
    ("punctuation:no_comma", r"refrain from the use of any commas", lambda m: {}),
    ("startend:quotation", r"Wrap your entire response with double quotation marks", lambda m: {}),
    ("compose:nth_word_language", r"Every (\d+)(?:st|nd|rd|th) word of your response must be a (\w+) word\.",
     lambda m: {"n": int(m[1]), "language": _CODE_OF[m[2]]}),
    ("compose:letter_count", r"Use the letter (\w) exactly (\d+) times", lambda m: {"letter": m[1], "count": int(m[2])}),
    ("compose:start_phrase", r"Start your response with the exact phrase '(.+?)'\.", lambda m: {"start_phrase": m[1]}),
    ("compose:word_range", r"Your response must have between (\d+) and (\d+) words\.", lambda m: {"min_words": int(m[1]), "max_words": int(m[2])}),
    ("compose:no_digits", r"Do not use any digits \(0-9\)", lambda m: {}),
    ("compose:last_word", r"The last word of your response must be '(\w+)'\.", lambda m: {"word": m[1]}),
]
_COMPILED = [(i, re.compile(p, re.DOTALL), read) for i, p, read in _PATTERNS]


def read_prompt(prompt: str) -> tuple[str, list[tuple[str, Kwargs]]] | None:
    """(base request, [(instruction id, kwargs), ...]) of a composed prompt, in prompt order; None otherwise."""
    base = next((b for b in BASE_PROMPTS if prompt.startswith(b)), None)
    if base is None:
        return None
    rest = prompt[len(base) :]
    found: list[tuple[int, str, Any]] = []
    for instruction_id, pattern, read in _COMPILED:
        match = pattern.search(rest)
        if match:
            found.append((match.start(), instruction_id, read(match)))
    if not found:
        return None
    found.sort()
    return base, [(i, k) for _, i, k in found]
