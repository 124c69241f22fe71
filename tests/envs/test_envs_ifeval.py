"""ifeval: checkers against input/verdict pairs written from IFEval's definitions (strict and loose),
the text measures (punkt, as IFEval), the language identifier (langdetect, seeded), and the composer's satisfiability guarantee."""

from __future__ import annotations

import json
import random

import pytest

from hermes4.envs import Trajectory, get_env
from hermes4.envs.ifeval import (
    IFEVAL_IDS,
    INSTRUCTIONS_BY_ID,
    compose,
    conflict,
    follows,
)
from hermes4.envs.ifeval.langid import identify
from hermes4.envs.ifeval.text import count_sentences, count_words, split_sentences

# (instruction id, kwargs, response, strict, loose)
CASES = [
    ("keywords:existence", {"keywords": ["river", "lantern"]}, "A Lantern by the river.", True, True),
    ("keywords:existence", {"keywords": ["river", "lantern"]}, "A lamp by the river.", False, False),
    ("keywords:frequency", {"keyword": "sun", "relation": "at least", "frequency": 3}, "Sun, sunny, SUN.", True, True),  # substrings count
    ("keywords:frequency", {"keyword": "sun", "relation": "less than", "frequency": 2}, "sun and sun", False, False),
    ("keywords:forbidden_words", {"forbidden_words": ["very"]}, "Every day is everything.", True, True),  # word boundaries
    ("keywords:forbidden_words", {"forbidden_words": ["very"]}, "It is Very good.", False, False),
    ("keywords:letter_frequency", {"letter": "z", "let_relation": "at least", "let_frequency": 3}, "Zebra pizza", True, True),
    ("keywords:letter_frequency", {"letter": "z", "let_relation": "less than", "let_frequency": 3}, "Zebra pizza", False, False),
    ("language:response_language", {"language": "fr"}, "Le chat est sur la table et il dort dans la maison.", True, True),
    ("language:response_language", {"language": "fr"}, "The cat is on the table and it sleeps in the house.", False, False),
    ("language:response_language", {"language": "de"}, "12345 !!!", True, True),  # no letters: IFEval counts it followed
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 3}, "One. Two.", True, True),
    ("length_constraints:number_sentences", {"relation": "at least", "num_sentences": 3}, "Dr. Smith came. He left.", False, False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.", True, True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nFirst.\n***\nSecond.\n***", True, True),  # empty ends allowed
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "One.\n***\n***\nThree.", False, False),  # empty middle
    ("length_constraints:number_words", {"relation": "less than", "num_words": 5}, "one two three four", True, True),
    ("length_constraints:number_words", {"relation": "at least", "num_words": 5}, "one two-three four", False, False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "summer"},
     "Intro here.\n\n\"Summer, it begins.", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "summer"},
     "Intro here.\n\nWinter begins.", False, False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "summer"},
     "Title line\nSummer is here.\n\nMore.", False, True),  # loose drops the title line
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", True, True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name].", False, False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\nP.S. see you", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hello.\np. p. s. later", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello. PS see you", False, False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "Items:\n* one\n- two", True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two\n* three", False, True),  # loose drops a line
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n** not a bullet\n* two", True, True),
    ("detectable_format:constrained_response", {}, "My answer is maybe.", True, True),
    ("detectable_format:constrained_response", {}, "My answer is yes", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **two**", True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and * *", False, False),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2}, "SECTION 1\na\nSECTION 2\nb", True, True),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2}, "Section 1\na\nSection 2\nb", False, False),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True, True),
    ("detectable_format:json_format", {}, 'Here: {"a": 1}', False, False),  # one line: nothing for loose to drop
    ("detectable_format:title", {}, "<<My Title>>\nText", True, True),
    ("detectable_format:title", {}, "<< >>\nText", False, False),
    ("combination:two_responses", {}, "First answer.\n******\nSecond answer.", True, True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False, False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a poem. Roses are red.", True, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure! Write a poem. Roses.", False, False),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, '"Done. any other questions?"', True, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Bye.", False, False),
    ("change_case:capital_word_frequency", {"capital_relation": "at least", "capital_frequency": 2}, "NASA and ESA agree", True, True),
    ("change_case:capital_word_frequency", {"capital_relation": "less than", "capital_frequency": 2}, "NASA and ESA agree", False, False),
    ("change_case:english_capital", {}, "THE CAT IS ON THE TABLE.", True, True),
    ("change_case:english_capital", {}, "THE CAT is on the table.", False, False),
    ("change_case:english_lowercase", {}, "the cat is on the table.", True, True),
    ("change_case:english_lowercase", {}, "le chat est sur la table et il dort.", False, False),  # not English
    ("punctuation:no_comma", {}, "No commas here.", True, True),
    ("punctuation:no_comma", {}, "Well, no.", False, False),
    ("startend:quotation", {}, '  "Quoted whole."  ', True, True),
    ("startend:quotation", {}, '"Quoted" then not', False, False),
]

# Loose-only cases: the strict rule fails; a loose transformation (first/last line dropped, `*` removed) passes.
LOOSE_ONLY = [
    ("detectable_format:json_format", {}, 'Here is the JSON:\n{"a": 1}', False, True),  # first line removed
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?\nThanks for reading", False, True),
    ("punctuation:no_comma", {}, "Sure, here it is:\nNo commas in this part", False, True),
    ("detectable_format:title", {}, "Intro\n<<Title>>\nBody", True, True),
    ("change_case:english_lowercase", {}, "**the answer is here**", True, True),
    ("startend:quotation", {}, 'Answer:\n"all quoted"', False, True),
    ("detectable_format:constrained_response", {}, "*My answer is yes.*", True, True),
    ("keywords:forbidden_words", {"forbidden_words": ["sure"]}, "Sure thing\nThe rest is fine", False, True),
    ("length_constraints:number_words", {"relation": "less than", "num_words": 4}, "Okay here we go now\none two three", False, True),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "strict", "loose"), CASES + LOOSE_ONLY)
def test_checker_pairs(instruction_id: str, kwargs: dict, response: str, strict: bool, loose: bool) -> None:
    assert follows(instruction_id, response, kwargs) is strict
    assert follows(instruction_id, response, kwargs, loose=True) is loose


def test_all_25_ifeval_types_are_covered_by_pairs() -> None:
    assert len(IFEVAL_IDS) == 25
    assert {case[0] for case in CASES} == set(IFEVAL_IDS)


def test_empty_response_never_follows() -> None:
    for instruction_id in INSTRUCTIONS_BY_ID:
        kwargs = INSTRUCTIONS_BY_ID[instruction_id].draw(random.Random(0))
        assert not follows(instruction_id, "", kwargs)
        assert not follows(instruction_id, "   ", kwargs, loose=True)


def test_text_measures() -> None:
    assert count_words("Hello, world! It's 3 o'clock.") == 7
    # punkt (IFEval's splitter) ends a sentence after "e.g." before a lowercase word it has seen start sentences
    assert split_sentences("Dr. Smith paid $3.50 today. Did he? Yes! J. Doe agreed, e.g. later.") == [
        "Dr. Smith paid $3.50 today.", "Did he?", "Yes!", "J. Doe agreed, e.g.", "later."]
    assert count_sentences("it rained all day. we stayed inside. we read books by the fire.") == 3
    assert count_sentences("No end punctuation") == 1
    assert count_sentences("") == 0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The weather is nice and we are going to the beach.", "en"),
        ("El tiempo es bueno y vamos a la playa con los amigos.", "es"),
        ("Le temps est beau et nous allons à la plage avec les amis.", "fr"),
        ("Das Wetter ist schön und wir gehen mit den Freunden an den Strand.", "de"),
        ("Il tempo è bello e andiamo al mare con gli amici.", "it"),
        ("O tempo está bom e vamos para a praia com os amigos.", "pt"),
        ("Het weer is mooi en we gaan met de vrienden naar het strand.", "nl"),
        ("Погода хорошая, и мы идём на пляж.", "ru"),
        ("Η ημέρα είναι όμορφη.", "el"),
        ("今日はいい天気です。", "ja"),
        ("今天天气很好。", "zh-cn"),  # langdetect's code, as IFEval compares it
        ("오늘은 날씨가 좋습니다.", "ko"),
        ("الطقس جميل اليوم", "ar"),
        ("आज मौसम अच्छा है और हम बाहर जा रहे हैं", "hi"),
        ("Tôi là người Việt Nam và tôi rất thích đọc sách.", "vi"),
        ("یہ ایک کتاب ہے اور میں اسے پڑھتا ہوں", "ur"),
        ("این یک کتاب است و من آن را می‌خوانم", "fa"),
        ("Привіт, як справи? Це їхня книга.", "uk"),
        # the cases, which a stopword guesser got wrong
        ("Hyvää huomenta! Tänään on kaunis päivä ja menemme rannalle ystävien kanssa.", "fi"),
        ("Днес времето е хубаво и отиваме на плаж с приятели.", "bg"),
        ("आज हवामान छान आहे आणि आम्ही मित्रांसोबत समुद्रकिनारी जात आहोत.", "mr"),
        ("आज मौसम राम्रो छ र हामी साथीहरूसँग समुद्र किनारमा जाँदैछौं।", "ne"),
        ("Gracias, amigo.", "es"),
        ("Guten Morgen", "de"),
        ("THE GREAT GATSBY", "en"),
    ],
)
def test_language_identifier(text: str, code: str) -> None:
    assert identify(text) == code
    assert identify(text) == code  # seeded: the same answer every time


def test_language_identifier_without_letters_is_none() -> None:
    assert identify("12345 !!!") is None


def test_conflict_table() -> None:
    capital, lower = ("change_case:english_capital", {}), ("change_case:english_lowercase", {})
    assert conflict(capital, lower)
    assert conflict(capital, ("change_case:capital_word_frequency", {"capital_relation": "less than", "capital_frequency": 3}))
    assert not conflict(capital, ("change_case:capital_word_frequency", {"capital_relation": "at least", "capital_frequency": 3}))
    assert conflict(("detectable_format:json_format", {}), ("startend:quotation", {}))
    assert not conflict(("punctuation:no_comma", {}), ("detectable_format:title", {}))


def test_composer_witness_passes_every_checker_for_many_seeds() -> None:
    used = set()
    for seed in range(400):
        composed = compose(random.Random(seed), count=1 + seed % 4)
        assert len(composed.instruction_ids) == 1 + seed % 4
        used.update(composed.instruction_ids)
        pairs = list(zip(composed.instruction_ids, composed.kwargs))
        for i, a in enumerate(pairs):
            for b in pairs[i + 1 :]:
                assert not conflict(a, b)
        for instruction_id, kwargs in pairs:
            assert follows(instruction_id, composed.witness, kwargs), (seed, instruction_id, kwargs, composed.witness)
    assert used == set(INSTRUCTIONS_BY_ID)  # every type, IFEval's 25 and the composed ones, gets composed


def test_env_verdicts_and_details() -> None:
    env = get_env("ifeval:n=30,max_instructions=4")
    for item in env.items():
        verdict = env.verify(item, Trajectory.from_text(item.meta["witness"], reasoning="plan"))
        assert verdict.status == "pass" and verdict.details["prompt_loose"]
        assert env.verify(item, Trajectory.from_text("")).status == "fail"
        # the witness written only inside the reasoning counts for nothing: same verdict as without it
        hidden = env.verify(item, Trajectory.from_text("ok", reasoning=item.meta["witness"]))
        plain = env.verify(item, Trajectory.from_text("ok"))
        assert (hidden.status, hidden.details["instructions"]) == (plain.status, plain.details["instructions"])
        assert env.verify(item, Trajectory.from_text(f"<think>{item.meta['witness']}")).status == "fail"
    ids = [r["id"] for r in env.verify(env.items()[0], Trajectory.from_text("x")).details["instructions"]]
    assert ids == env.items()[0].reference["instruction_id_list"]


def test_loose_mode_and_ifeval_input_file(tmp_path) -> None:
    rows = [
        {"key": 1, "prompt": "Write a haiku. Wrap your entire response with double quotation marks.",
         "instruction_id_list": ["startend:quotation"], "kwargs": [{}]},
        {"key": 2, "prompt": "Repeat me.", "instruction_id_list": ["combination:repeat_prompt", "punctuation:no_comma"],
         "kwargs": [{"prompt_to_repeat": "Repeat me."}, {}]},
    ]
    path = tmp_path / "input_data.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    strict, loose = get_env(f"ifeval:dataset={path}"), get_env(f"ifeval:dataset={path},mode=loose")
    item = strict.items()[0]
    response = Trajectory.from_text('Here you go:\n"an old pond"')
    assert strict.verify(item, response).status == "fail"
    assert loose.verify(item, response).status == "pass"
    second = strict.items()[1]
    assert strict.verify(second, Trajectory.from_text("Repeat me. Done")).status == "pass"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "x", "instruction_id_list": ["nope:nope"], "kwargs": [{}]}))
    with pytest.raises(ValueError, match="unknown instruction id 'nope:nope'"):
        get_env(f"ifeval:dataset={bad}")


def test_composed_prompts_read_back_exactly() -> None:
    from hermes4.envs.ifeval.reader import read_prompt

    for seed in range(300):
        composed = compose(random.Random(seed), count=1 + seed % 4)
        base, spec = read_prompt(composed.prompt)
        assert base == composed.base_prompt
        assert sorted(spec, key=lambda p: p[0]) == sorted(zip(composed.instruction_ids, composed.kwargs), key=lambda p: p[0])
    assert read_prompt("Write a poem about the sea.") is None


def test_teacher_follows_composed_prompts_and_plants_violations() -> None:
    from hermes4.teacher import make_teacher
    from hermes4.llm import Sampling, ScriptRequest

    env = get_env("ifeval:n=60,max_instructions=4")
    right, wrong = make_teacher(error_rate=0.0), make_teacher(error_rate=1.0)
    for item in env.items():
        for thinking in (True, False):
            request = ScriptRequest(prompt="", sampling=Sampling(), conversation=item.prompt, thinking=thinking)
            answer = right(request)
            assert answer.startswith("<think>") is thinking
            assert env.verify(item, Trajectory.from_text(answer)).status == "pass"
            assert env.verify(item, Trajectory.from_text(wrong(request))).status == "fail"
