"""Answer checkers for the benchmarks `hermes4.envs` does not cover: multiple choice, BBH exact match,
DROP F1, SimpleQA string match. Each is an `Env` over the benchmark's items, so verification is guarded
(a crashing checker is an `error` verdict, never a wrong answer) exactly as in rejection sampling."""

from __future__ import annotations

import re
import string
from typing import Any

from hermes4.envs import Env, Item, Trajectory, Verdict
from hermes4.envs.answer import final_answer

LETTERS = "ABCDEFGHIJKLMNOP"

# The phrase that introduces a letter: "Answer", "the answer is", "The correct option is", "best choice would be".
_LEAD = r"(?i:\banswer|\b(?:correct|right|best|final)\s+(?:option|choice|answer))(?i:\s+(?:is|would\s+be|will\s+be|should\s+be))?"
# What may stand between the phrase and the letter: ":", "-", "=", markdown, "$", "\\boxed{", "\\text{", "Option ".
_BETWEEN = r"[\s:=*_`$\-\u2013\u2014]*(?:\\(?:boxed|text|textbf|mathrm)\{\s*)*(?i:(?:option|choice)\s*)?"
# The letter: "(c)" / "[c]" in any case; a capital standing alone; a lowercase one only where nothing follows
# on its line but punctuation ("the answer is c."), so "the answer is a matter of taste" is no letter.
_LETTER = r"(?:\(([A-Pa-p])\)|\[([A-Pa-p])\]|([A-P])(?![A-Za-z0-9])|([a-p])(?=[.)\]*$`}]*\s*$))"
_ANSWER_LETTER = re.compile(_LEAD + _BETWEEN + _LETTER, re.MULTILINE)
_BOXED_LETTER = re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*\(?([A-P])\)?\s*\}?\s*\}")
# A last line that is a letter alone ("C", "(C)", "C.") or a letter introducing its option ("B) London", "C. Berlin").
_LAST_LINE_LETTER = re.compile(r"^\s*[*_]*[\(\[]?([A-P])(?:[\)\]][.:]?|[.:])?[*_]*(?:\s*$|(?<=[.):\]])\s+\S)")


def _found_letter(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group).upper()


class BenchmarkEnv(Env):
    """An env over a fixed list of benchmark items (loaded by the task); subclasses define `verify`."""

    def __init__(self, items: list[Item]) -> None:
        self._items = items

    def items(self, split: str = "test", seed: int = 0) -> list[Item]:
        return list(self._items)


# ----------------------------------------------------------------------------------------- multiple choice


def choice_prompt(question: str, options: list[str], *, context: str | None = None) -> str:
    """A zero-shot multiple-choice prompt whose last line asks for `Answer: LETTER`."""
    letters = LETTERS[: len(options)]
    listed = "\n".join(f"{letter}) {option}" for letter, option in zip(letters, options))
    head = f"{context.strip()}\n\n" if context else ""
    return (
        f"{head}{question.strip()}\n\n{listed}\n\n"
        f"Answer the multiple choice question above. The last line of your response must have the form "
        f"'Answer: LETTER' (without quotes), where LETTER is one of {', '.join(letters)}."
    )


def extract_choice(text: str, n_options: int) -> tuple[str | None, str]:
    """(letter, how it was found) from an answer; the last explicit answer phrase wins (`Answer: C`, `Answer: $C$`,
    `Answer - C`, `Answer: Option C`, `the answer is (c)`, `The correct option is C.`), then `\\boxed{X}`, then a last
    line that is a letter or a letter introducing its option (`B) London`, `C. Berlin`). Letters outside the
    options do not count."""
    allowed = LETTERS[:n_options]
    found = [_found_letter(m) for m in _ANSWER_LETTER.finditer(text)]
    found = [letter for letter in found if letter in allowed]
    if found:
        return found[-1], "answer_line"
    boxed = [m.group(1) for m in _BOXED_LETTER.finditer(text) if m.group(1) in allowed]
    if boxed:
        return boxed[-1], "boxed"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines:
        last = _LAST_LINE_LETTER.match(lines[-1])
        if last and last.group(1) in allowed:
            return last.group(1), "bare_letter" if last.end() == len(lines[-1]) else "option_line"
    return None, "none"


class MultipleChoiceEnv(BenchmarkEnv):
    """Multiple choice (GPQA, MMLU, MMLU-Pro, OBQA, MuSR): the letter after `Answer:` must be the reference letter."""

    name = "multiple_choice"
    check_timeout_s = 5.0

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        answer = final_answer(trajectory)
        letter, how = extract_choice(answer, len(item.reference["options"]))
        expected = item.reference["letter"]
        if letter is None:
            return Verdict("fail", 0.0, {"answer": None, "expected": expected, "reason": "no answer letter found"})
        return Verdict.judge(letter == expected, answer=letter, expected=expected, extraction=how)


# ----------------------------------------------------------------------------------------- BIG-Bench Hard

# BBH's chain-of-thought convention and lm-eval's strict-match variants: "the answer is", "The answer:", "The final answer:".
_ANSWER_IS = re.compile(r"(?i)\bthe\s+(?:final\s+)?answer(?:\s+is\b\s*:?|\s*:)\s*")
_OPTION = re.compile(r"^\(([A-Z])\)$")
# lm-eval's BBH exact match ignores these (its `regexes_to_ignore`), and case.
_BBH_IGNORED = re.compile(r'\.$|,|\\|\n|"')


def extract_short_answer(text: str) -> str:
    """What follows the last "the answer is" (to the end of its line), else the last non-empty line."""
    found = list(_ANSWER_IS.finditer(text))
    if found:
        answer = text[found[-1].end() :].split("\n", 1)[0]
    else:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        answer = lines[-1] if lines else ""
    return answer.strip().strip("*").strip().rstrip(".").strip().strip("*$`").strip()


def bbh_normalise(text: str) -> str:
    """lm-eval's BBH normalisation: a final period, commas, backslashes, newlines and double quotes removed,
    lowercased; whitespace runs count as one space."""
    return " ".join(_BBH_IGNORED.sub("", text.strip()).split()).lower()


def bbh_equal(predicted: str, target: str) -> bool:
    """BBH exact match after lm-eval's normalisation; an option target `(C)` also accepts `C` and `C)`."""
    norm_pred = bbh_normalise(predicted)
    norm_target = bbh_normalise(target)
    option = _OPTION.match(target.strip())
    if option:
        letter = option.group(1).lower()
        return norm_pred in (f"({letter})", letter, f"{letter})") or norm_pred.startswith(f"({letter}) ")
    return norm_pred == norm_target


class BBHEnv(BenchmarkEnv):
    """BIG-Bench Hard: exact match of the text after "the answer is" against the target."""

    name = "bbh"
    check_timeout_s = 5.0

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        answer = extract_short_answer(final_answer(trajectory))
        return Verdict.judge(bbh_equal(answer, item.reference["target"]), answer=answer, expected=item.reference["target"])


# ----------------------------------------------------------------------------------------------------- DROP

# The official DROP scorer (drop_eval.py), step for step: tokens split on spaces and hyphens; each lowercased,
# stripped of punctuation unless it is a number, numbers written as floats ("1e3", "1000" and "1,000" agree),
# articles dropped. Spans become bags of tokens; predicted and gold bags are aligned one to one by maximum
# total F1 (bipartite matching), a gold bag with numbers scoring 0 against a bag that has none of them.

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _normalise_token(token: str) -> str:
    token = token.lower()
    if not _is_number(token):
        token = "".join(ch for ch in token if ch not in _PUNCTUATION)
    if _is_number(token):
        token = str(float(token))
    return " ".join(_ARTICLES.sub(" ", token).split())


def _normalise_span(text: str) -> str:
    return " ".join(part for part in (_normalise_token(token) for token in re.split(" |-", text)) if part.strip()).strip()


def _bag_f1(predicted: set[str], gold: set[str]) -> float:
    common = len(gold & predicted)
    precision = common / len(predicted) if predicted else 1.0
    recall = common / len(gold) if gold else 1.0
    if precision == 0.0 and recall == 0.0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _numbers_agree(gold: set[str], predicted: set[str]) -> bool:
    gold_numbers = {t for t in gold if _is_number(t)}
    return not gold_numbers or bool(gold_numbers & {t for t in predicted if _is_number(t)})


def drop_scores(predicted: list[str], gold: list[str]) -> tuple[float, float]:
    """(exact match, F1) of predicted spans against one gold answer's spans, as DROP's official scorer computes
    them (F1 unrounded; the official report rounds each question's F1 to 2 places, see `DropEnv`)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    pred_spans = [_normalise_span(s) for s in predicted]
    gold_spans = [_normalise_span(s) for s in gold]
    em = float(set(pred_spans) == set(gold_spans) and len(pred_spans) == len(gold_spans))
    pred_bags = [set(s.split()) for s in pred_spans]
    gold_bags = [set(s.split()) for s in gold_spans]
    scores = np.zeros((len(gold_bags), len(pred_bags)))
    for g, gold_bag in enumerate(gold_bags):
        for p, pred_bag in enumerate(pred_bags):
            if _numbers_agree(gold_bag, pred_bag):
                scores[g, p] = _bag_f1(pred_bag, gold_bag)
    rows, columns = linear_sum_assignment(-scores)
    best = np.zeros(max(len(gold_bags), len(pred_bags)))
    for row, column in zip(rows, columns):
        best[row] = max(best[row], scores[row, column])
    return em, float(np.mean(best))


def official_round(f1: float) -> float:
    """A question's F1 rounded to 2 places as the official scorer rounds it: numpy's rounding of a float64 (which
    scales first, so 0.225 gives 0.22 where Python's `round` gives 0.23)."""
    import numpy as np

    return float(np.round(np.float64(f1), 2))


def split_spans(answer: str) -> list[str]:
    """The predicted spans: one, unless the model separated several with `|` (as the prompt asks). The gold's
    span count never decides the split (that would hand "Tom and Jerry" full marks against [Tom, Jerry])."""
    parts = [part.strip() for part in answer.split("|")]
    return [part for part in parts if part] or [answer]


def drop_answer_strings(answer: dict[str, Any]) -> list[str] | None:
    """An annotation in DROP's JSON shape (`number`, `date`, `spans`) as the official scorer reads it: the number,
    else the spans, else the date as "day month year"; None when it holds nothing."""
    number = answer.get("number")
    if number not in (None, ""):
        return [str(number)]
    spans = [str(s) for s in answer.get("spans") or [] if str(s).strip()]
    if spans:
        return spans
    date = answer.get("date") or {}
    text = " ".join(str(date.get(part) or "") for part in ("day", "month", "year")).strip()
    return [text] if text else None


class DropEnv(BenchmarkEnv):
    """DROP: the text after `Answer:` scored by F1 over normalised word bags (numbers must match); reward = F1."""

    name = "drop"
    check_timeout_s = 5.0

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        text = final_answer(trajectory)
        found = [m.group(1) for m in re.finditer(r"(?i)\banswer\s*:\s*(.+)", text)]
        answer = (found[-1] if found else (text.strip().splitlines() or [""])[-1]).strip().strip("*").strip().rstrip(".")
        spans = split_spans(answer)
        best_em, best_f1 = 0.0, 0.0
        for gold in item.reference["answers"]:  # every annotation (answer and validated answers): the best counts
            em, f1 = drop_scores(spans, gold)
            best_em, best_f1 = max(best_em, em), max(best_f1, official_round(f1))
        status = "pass" if best_em == 1.0 else "fail"
        return Verdict(status, best_f1, {"answer": answer, "spans": spans, "em": best_em, "f1": best_f1, "expected": item.reference["answers"]})


# -------------------------------------------------------------------------------------------------- SimpleQA


def _words(text: str) -> list[str]:
    return _normalise_span(text).split()


_NEGATIONS = {"not", "no", "never", "neither", "nor", "isnt", "wasnt", "arent", "werent", "isn't", "wasn't", "aren't", "weren't", "nt"}
_UNSURE = re.compile(r"(?i)\b(?:i (?:do not|don't|dont) know|not sure|cannot (?:answer|determine|say)|can't (?:answer|determine|say)|unable to (?:answer|determine|find))\b")


def phrase_positions(answer: str, gold: str) -> list[int]:
    """Word positions where the normalised gold answer starts as a run of words in the normalised answer."""
    need, have = _words(gold), _words(answer)
    if not need:
        return []
    return [i for i in range(len(have) - len(need) + 1) if have[i : i + len(need)] == need]


def contains_phrase(answer: str, gold: str) -> bool:
    """Whether the normalised gold answer appears as a run of words in the normalised answer."""
    return bool(phrase_positions(answer, gold))


def affirms_phrase(answer: str, gold: str) -> bool:
    """Whether the answer names the gold answer without negating it: an occurrence right after "not", "no",
    "never", "isn't"... ("Not Ada Lovelace, it was Charles Babbage.") does not count."""
    have = _words(answer)
    return any(not _NEGATIONS & set(have[max(0, i - 2) : i]) for i in phrase_positions(answer, gold))


class SimpleQAMatchEnv(BenchmarkEnv):
    """SimpleQA without a judge: CORRECT when the final answer names the gold answer (normalised) and does not
    negate it; NOT_ATTEMPTED when it is empty or says it does not know; else INCORRECT. The judge grader
    (`grader=judge`) is the benchmark's own protocol; this one is a cheap, conservative stand-in."""

    name = "simpleqa_match"
    check_timeout_s = 5.0

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        answer = final_answer(trajectory)
        expected = item.reference["answer"]
        ok = bool(answer) and affirms_phrase(answer, expected)
        if not ok and (not answer or _UNSURE.search(answer)):
            return Verdict("fail", 0.0, {"answer": answer[-300:], "grade": "NOT_ATTEMPTED", "expected": expected})
        return Verdict.judge(ok, answer=answer[-300:], grade="CORRECT" if ok else "INCORRECT", expected=expected)
