"""Answer checkers for the benchmarks `hermes4.envs` does not cover: multiple choice, BBH exact match,
DROP F1, SimpleQA string match. Each is an `Env` over the benchmark's items, so verification is guarded
(a crashing checker is an `error` verdict, never a wrong answer) exactly as in rejection sampling."""

from __future__ import annotations

import itertools
import re
import string

from hermes4.envs import Env, Item, Trajectory, Verdict
from hermes4.envs.answer import final_answer

LETTERS = "ABCDEFGHIJKLMNOP"

# "Answer: C", "the answer is (C)", "**Answer:** C" - the letter must stand alone, so "Answer: Because" is not B.
_ANSWER_LETTER = re.compile(r"(?i:answer)\s*(?:is|:)?\s*[:*\s]*[\(\[]?\s*([A-P])\s*[\)\]]?(?![A-Za-z0-9])")
_BOXED_LETTER = re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*\(?([A-P])\)?\s*\}?\s*\}")
_BARE_LETTER = re.compile(r"^\s*[\(\[]?([A-P])[\)\]]?[.:]?\s*$")


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
    """(letter, how it was found) from an answer; the last explicit `Answer: X` wins, then `\\boxed{X}`, then a
    reply that is only a letter. Letters outside the options do not count."""
    allowed = LETTERS[:n_options]
    for how, pattern in (("answer_line", _ANSWER_LETTER), ("boxed", _BOXED_LETTER)):
        found = [m.group(1) for m in pattern.finditer(text) if m.group(1) in allowed]
        if found:
            return found[-1], how
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines:
        bare = _BARE_LETTER.match(lines[-1])
        if bare and bare.group(1) in allowed:
            return bare.group(1), "bare_letter"
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

_ANSWER_IS = re.compile(r"(?i)\bthe answer is\b\s*:?\s*(.+)")
_OPTION = re.compile(r"^\(([A-Z])\)$")


def extract_short_answer(text: str) -> str:
    """What follows the last "the answer is" (BBH's chain-of-thought convention), else the last non-empty line."""
    found = [m.group(1) for line in text.splitlines() for m in [_ANSWER_IS.search(line)] if m]
    if found:
        answer = found[-1]
    else:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        answer = lines[-1] if lines else ""
    return answer.strip().strip("*").strip().rstrip(".").strip().strip("*$`").strip()


def bbh_equal(predicted: str, target: str) -> bool:
    """BBH exact match after trimming; an option target `(C)` also accepts `C` and `C)`."""
    norm_pred = " ".join(predicted.split()).lower()
    norm_target = " ".join(target.split()).lower()
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

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def _normalise_token(token: str) -> str:
    cleaned = token.replace(",", "") if re.fullmatch(r"-?[\d,]+(\.\d+)?", token) else token
    try:  # numbers compare by value: "24.0" == "24", "2,800" == "2800"
        return str(float(cleaned)) if re.fullmatch(r"-?\d+(\.\d+)?", cleaned) else token
    except ValueError:
        return token


def _normalise_span(text: str) -> str:
    tokens = []
    for token in re.split(r"[\s-]+", text.lower()):
        if not re.fullmatch(r"-?[\d,]+(\.\d+)?", token):
            token = "".join(ch for ch in token if ch not in _PUNCTUATION)
        token = _ARTICLES.sub("", token).strip()
        if token:
            tokens.append(_normalise_token(token))
    return " ".join(tokens)


def _bag(span: str) -> set[str]:
    return set(_normalise_span(span).split())


def _bag_f1(predicted: set[str], gold: set[str]) -> float:
    numbers_gold = {t for t in gold if _is_number(t)}
    if numbers_gold and not numbers_gold & predicted:
        return 0.0  # DROP: a wrong number is wrong, however many words overlap
    if not predicted and not gold:
        return 1.0
    common = len(predicted & gold)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def drop_scores(predicted: list[str], gold: list[str]) -> tuple[float, float]:
    """(exact match, F1) of predicted spans against the gold spans, DROP style: spans are aligned one to one
    to maximise the total F1 (small answers: every alignment is tried), then averaged over the longer list."""
    pred_bags = [_bag(s) for s in predicted if _normalise_span(s)] or [set()]
    gold_bags = [_bag(s) for s in gold if _normalise_span(s)] or [set()]
    em = float(sorted(_normalise_span(s) for s in predicted) == sorted(_normalise_span(s) for s in gold))
    small, large = (pred_bags, gold_bags) if len(pred_bags) <= len(gold_bags) else (gold_bags, pred_bags)
    best = 0.0
    if len(large) <= 7:
        for chosen in itertools.permutations(range(len(large)), len(small)):
            total = sum(_bag_f1(small[i], large[j]) if small is pred_bags else _bag_f1(large[j], small[i]) for i, j in enumerate(chosen))
            best = max(best, total)
    else:  # greedy for long lists, which DROP does not have in practice
        used: set[int] = set()
        for bag in small:
            scores = [(-1.0 if j in used else (_bag_f1(bag, g) if small is pred_bags else _bag_f1(g, bag)), j) for j, g in enumerate(large)]
            score, j = max(scores)
            used.add(j)
            best += max(score, 0.0)
    return em, round(best / len(large), 6)


def split_spans(answer: str, expected_spans: int) -> list[str]:
    """One span, unless the gold answer has several: then the prediction is split on commas and "and"."""
    if expected_spans <= 1:
        return [answer]
    return [part for part in re.split(r",|\band\b|;", answer) if part.strip()] or [answer]


class DropEnv(BenchmarkEnv):
    """DROP: the text after `Answer:` scored by F1 over normalised word bags (numbers must match); reward = F1."""

    name = "drop"
    check_timeout_s = 5.0

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        text = final_answer(trajectory)
        found = [m.group(1) for m in re.finditer(r"(?i)\banswer\s*:\s*(.+)", text)]
        answer = (found[-1] if found else (text.strip().splitlines() or [""])[-1]).strip().strip("*").strip().rstrip(".")
        best_em, best_f1 = 0.0, 0.0
        for gold in item.reference["answers"]:  # several annotated answers: the best one counts
            em, f1 = drop_scores(split_spans(answer, len(gold)), gold)
            best_em, best_f1 = max(best_em, em), max(best_f1, f1)
        status = "pass" if best_em == 1.0 else "fail"
        return Verdict(status, best_f1, {"answer": answer, "em": best_em, "f1": best_f1, "expected": item.reference["answers"]})


# -------------------------------------------------------------------------------------------------- SimpleQA


def _words(text: str) -> list[str]:
    return _normalise_span(text).split()


def contains_phrase(answer: str, gold: str) -> bool:
    """Whether the normalised gold answer appears as a run of words in the normalised answer."""
    need, have = _words(gold), _words(answer)
    if not need:
        return False
    return any(have[i : i + len(need)] == need for i in range(len(have) - len(need) + 1))


class SimpleQAMatchEnv(BenchmarkEnv):
    """SimpleQA without a judge: correct when the gold answer appears (normalised) in the final answer."""

    name = "simpleqa_match"
    check_timeout_s = 5.0

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        answer = final_answer(trajectory)
        if not answer:
            return Verdict("fail", 0.0, {"answer": "", "grade": "NOT_ATTEMPTED", "expected": item.reference["answer"]})
        ok = contains_phrase(answer, item.reference["answer"])
        return Verdict.judge(ok, answer=answer[-300:], grade="CORRECT" if ok else "INCORRECT", expected=item.reference["answer"])

