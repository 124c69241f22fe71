"""Seeded generators of verifiable tasks, each with a solver that writes its reasoning step by step.

Every task can (a) draw parameters from a seeded RNG, (b) render them as a question, (c) read them back
from the question text (so a scripted teacher can recognise a prompt), and (d) solve them, optionally
with one planted mistake that propagates to a wrong final answer.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ANSWER_INSTRUCTION = 'End your response with a line of the form "Answer: <answer>".'


@dataclass
class Solution:
    steps: list[str]
    answer: str
    mistaken: bool = False

    def trace(self) -> str:
        return "\n".join(self.steps)


class Task:
    """One family of procedural problems. `answer_type` says how answers are compared (see `answers_match`)."""

    name = "task"
    answer_type = "int"  # int | decimal | int_list | token
    easiest = 1  # the lowest difficulty; 0 is a tiny-model level that few tasks have

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} must define generate()")

    def question(self, params: dict[str, Any]) -> str:
        raise TypeError(f"{type(self).__name__} must define question()")

    def parse(self, text: str) -> dict[str, Any] | None:
        raise TypeError(f"{type(self).__name__} must define parse()")

    def solve(self, params: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        raise TypeError(f"{type(self).__name__} must define solve()")


def _fmt(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 3250, 0.125, -4."""
    text = format(d.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nudge(value: int, rng: random.Random, *, scale: int = 1) -> int:
    """A plausible wrong value near `value` (never equal to it)."""
    delta = rng.choice([-1, 1]) * scale * rng.randint(1, 3)
    return value + delta


# ---------------------------------------------------------------------------------------------- arithmetic


class Arithmetic(Task):
    name = "arithmetic"
    easiest = 0
    answer_type = "int"
    _pattern = re.compile(r"Compute (\d+) ([+\-×]) (\d+)\.")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        op = rng.choice(["+", "-"] if difficulty == 0 else ["+", "-", "×"])
        if difficulty == 0:  # the easiest level (tiny-model demos): + and - of two 3-digit numbers
            a, b = rng.randint(100, 999), rng.randint(100, 999)
        elif op == "×":
            a = rng.randint(10 ** (difficulty + 1), 10 ** (difficulty + 2) - 1)
            b = rng.randint(10 ** difficulty, 10 ** (difficulty + 1) - 1)
        else:
            a = rng.randint(10 ** (difficulty + 2), 10 ** (difficulty + 4) - 1)
            b = rng.randint(10 ** (difficulty + 1), 10 ** (difficulty + 3) - 1)
        if op == "-" and b > a:
            a, b = b, a
        return {"a": a, "op": op, "b": b}

    def question(self, p: dict[str, Any]) -> str:
        return f"Compute {p['a']} {p['op']} {p['b']}."

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        return {"a": int(m[1]), "op": m[2], "b": int(m[3])} if m else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        a, op, b = p["a"], p["op"], p["b"]
        if op == "×":
            return self._multiply(a, b, mistake)
        return self._column(a, b, op, mistake)

    def _column(self, a: int, b: int, op: str, mistake: random.Random | None) -> Solution:
        da, db = str(a)[::-1], str(b)[::-1].ljust(len(str(a)), "0")
        width = max(len(da), len(db))
        da = da.ljust(width, "0")
        bad_column = mistake.randrange(width) if mistake else -1
        steps = [f"I work column by column from the right, {'adding' if op == '+' else 'subtracting'} {b} {'to' if op == '+' else 'from'} {a}."]
        carry, digits = 0, []
        for i in range(width):
            x, y = int(da[i]), int(db[i])
            if op == "+":
                total = x + y + carry
                if i == bad_column:
                    total += 1 if total % 10 != 9 else -1
                digit, new_carry = total % 10, total // 10
                steps.append(f"Column {i + 1}: {x} + {y} + carry {carry} = {total}, write {digit}, carry {new_carry}.")
            else:
                total = x - y - carry
                new_carry = 1 if total < 0 else 0
                digit = total + 10 * new_carry
                if i == bad_column:
                    digit = (digit + 1) % 10
                steps.append(
                    f"Column {i + 1}: {x} - {y} - borrow {carry}"
                    + (f" is negative, so borrow: {x + 10} - {y} - {carry} = {digit}" if new_carry else f" = {digit}")
                    + f", next borrow {new_carry}."
                )
            digits.append(digit)
            carry = new_carry
        if op == "+" and carry:
            digits.append(carry)
            steps.append(f"The final carry {carry} becomes the leading digit.")
        result = int("".join(str(d) for d in reversed(digits)))
        steps.append(f"Reading the digits from the left: {a} {op} {b} = {result}.")
        return Solution(steps, str(result), mistaken=mistake is not None)

    def _multiply(self, a: int, b: int, mistake: random.Random | None) -> Solution:
        digits = [int(d) for d in str(b)[::-1]]
        bad = mistake.randrange(len(digits)) if mistake else -1
        steps = [f"I multiply {a} by each digit of {b} and add the shifted partial products."]
        partials = []
        for i, d in enumerate(digits):
            partial = a * d * 10**i
            if i == bad:
                partial += 10**i * mistake.choice([1, 2, 3, -1, -2])  # type: ignore[union-attr]
            partials.append(partial)
            steps.append(f"{a} × {d} × {10**i} = {partial}.")
        running = 0
        for partial in partials:
            running += partial
            steps.append(f"Running total: {running}.")
        steps.append(f"So {a} × {b} = {running}.")
        return Solution(steps, str(running), mistaken=mistake is not None)


# ------------------------------------------------------------------------------------------------- sorting


class Sorting(Task):
    name = "sorting"
    easiest = 0
    answer_type = "int_list"
    _pattern = re.compile(r"Sort these numbers in (ascending|descending) order: (-?\d+(?:, -?\d+)*)\.")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        order = rng.choice(["ascending", "descending"])
        if difficulty == 0:
            # The easiest level (tiny-model demos): 4 to 10 distinct digits, short and long traces. Distinct, because
            # the trace rewrites the remaining list on every line, and a tiny model copies a list by following the
            # word after the one it just wrote: among repeated digits that word is ambiguous (after 4 epochs alone,
            # 15% of held-out lists of 4-16 digits with repeats sorted, 97.5% of these; RESULTS.md, session 9).
            return {"numbers": rng.sample(range(10), rng.randint(4, 10)), "order": order}
        size = rng.randint(4 + 2 * difficulty, 6 + 3 * difficulty)
        return {"numbers": [rng.randint(-50 * difficulty, 99 * difficulty) for _ in range(size)], "order": order}

    def question(self, p: dict[str, Any]) -> str:
        return f"Sort these numbers in {p['order']} order: {', '.join(map(str, p['numbers']))}. Give the answer as a comma-separated list."

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        return {"order": m[1], "numbers": [int(x) for x in m[2].split(", ")]} if m else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        remaining = list(p["numbers"])
        descending = p["order"] == "descending"
        steps = [f"I repeatedly take the {'largest' if descending else 'smallest'} remaining number."]
        out: list[int] = []
        while remaining:
            pick = max(remaining) if descending else min(remaining)
            remaining.remove(pick)
            out.append(pick)
            steps.append(f"Next: {pick} (left: {', '.join(map(str, remaining)) or 'none'}).")
        if mistake is not None:
            candidates = [i for i in range(len(out) - 1) if out[i] != out[i + 1]]
            if candidates:
                i = mistake.choice(candidates)
                out[i], out[i + 1] = out[i + 1], out[i]
            else:  # all equal: a dropped element is the mistake
                out = out[:-1]
        steps.append(f"Sorted: {', '.join(map(str, out))}.")
        return Solution(steps, ", ".join(map(str, out)), mistaken=mistake is not None)


# ------------------------------------------------------------------------------------------------- compare


class Compare(Task):
    """Which of two numbers is larger: a one-step question a tiny model answers without reasoning (the easy task
    of the hybrid-mode effect; the digits are compared from the left)."""

    name = "compare"
    answer_type = "int"
    easiest = 0
    _pattern = re.compile(r"Which number is larger, (-?\d+) or (-?\d+)\?")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        low, high = 10 ** (difficulty + 2), 10 ** (difficulty + 3) - 1  # difficulty 0: 3-digit numbers
        a, b = rng.randint(low, high), rng.randint(low, high)
        while b == a:
            b = rng.randint(low, high)
        return {"a": a, "b": b}

    def question(self, p: dict[str, Any]) -> str:
        return f"Which number is larger, {p['a']} or {p['b']}?"

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        return {"a": int(m[1]), "b": int(m[2])} if m else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        a, b = str(p["a"]), str(p["b"])
        larger, smaller = (p["a"], p["b"]) if p["a"] > p["b"] else (p["b"], p["a"])
        if len(a) != len(b):
            steps = [f"{larger} has more digits than {smaller}."]
        else:
            column = next(i for i in range(len(a)) if a[i] != b[i])
            steps = [f"I compare the digits from the left: they first differ at digit {column + 1}, "
                     f"{a[column]} vs {b[column]}."]
        answer = smaller if mistake is not None else larger  # the planted mistake: the smaller one
        steps.append(f"So {answer} is larger.")
        return Solution(steps, str(answer), mistaken=mistake is not None)


# ------------------------------------------------------------------------------------------------ counting

_WORDS = ["strawberry", "bookkeeper", "mississippi", "banana", "committee", "balloon", "parallel", "successful", "accommodation", "occurrence", "embarrassment", "possession", "assessment", "programming", "referee", "sleeveless", "tattletale", "independence", "abracadabra", "unbelievable"]
# More words, so that one-word questions (difficulty 1) are many enough for a thousand distinct items across tasks
# (with the 20 above alone there were ~115, and `procedural:n=1000` repeated 10 of them).
_WORDS += ["coffee", "address", "millennium", "necessary", "occasionally", "recommend", "tomorrow", "beginning",
           "disappear", "happiness", "cinnamon", "pepperoni", "assassination", "bubblegum", "giraffe", "hippopotamus",
           "kangaroo", "lollipop", "maneuver", "noodles", "peppermint", "quizzical", "raccoon", "sassafras",
           "tennessee", "umbrella", "vacuum", "woodpecker", "zucchini", "bookshelf", "cheerleader", "dumbbell",
           "excellence", "fluffiness", "grasshopper", "hullabaloo", "inning", "jazziness", "keepsake", "lullaby",
           "mammoth", "nonsense", "oppression", "puppeteer", "rhythm", "scissors", "teepee", "volleyball",
           "whippoorwill", "yellowness", "antelope", "butterfly", "calendar", "dilemma", "entrepreneur",
           "fulfillment", "guarantee", "harass", "irresistible", "jewellery", "kinetic", "liaison", "mosquito",
           "narrative", "official", "pharaoh", "questionnaire", "restaurant", "separate", "threshold",
           "unnecessary", "vegetable", "weird", "xylophone", "yesterday", "zigzag"]


class Counting(Task):
    name = "counting"
    answer_type = "int"
    _pattern = re.compile(r"How many times does the letter '([a-z])' appear in \"([a-z ]+)\"\?")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        text = " ".join(rng.choice(_WORDS) for _ in range(difficulty))
        letters = sorted(set(text.replace(" ", "")))
        weights = [text.count(c) for c in letters]
        return {"letter": rng.choices(letters, weights=weights)[0], "text": text}

    def question(self, p: dict[str, Any]) -> str:
        return f"How many times does the letter '{p['letter']}' appear in \"{p['text']}\"?"

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        return {"letter": m[1], "text": m[2]} if m else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        letter, text = p["letter"], p["text"]
        positions = [i for i, c in enumerate(text) if c == letter]
        skipped = mistake.choice(positions) if mistake and positions else -1
        steps = [f"I scan \"{text}\" one character at a time and count '{letter}'."]
        count = 0
        for i, c in enumerate(text):
            if c == letter and i != skipped:
                count += 1
                steps.append(f"Position {i + 1} is '{c}': count {count}.")
        if mistake and not positions:
            count += 1
        steps.append(f"Total: {count}.")
        return Solution(steps, str(count), mistaken=mistake is not None)


# --------------------------------------------------------------------------------------- unit conversion

# unit -> (dimension, factor to the base unit of its dimension), all exact.
_UNITS: dict[str, tuple[str, Decimal]] = {
    "millimeters": ("length", Decimal("0.001")),
    "centimeters": ("length", Decimal("0.01")),
    "meters": ("length", Decimal(1)),
    "kilometers": ("length", Decimal(1000)),
    "inches": ("length", Decimal("0.0254")),
    "feet": ("length", Decimal("0.3048")),
    "grams": ("mass", Decimal(1)),
    "milligrams": ("mass", Decimal("0.001")),
    "kilograms": ("mass", Decimal(1000)),
    "seconds": ("time", Decimal(1)),
    "minutes": ("time", Decimal(60)),
    "hours": ("time", Decimal(3600)),
    "days": ("time", Decimal(86400)),
    "milliliters": ("volume", Decimal("0.001")),
    "liters": ("volume", Decimal(1)),
    "bytes": ("data", Decimal(1)),
    "kibibytes": ("data", Decimal(1024)),
    "mebibytes": ("data", Decimal(1048576)),
}


class UnitConversion(Task):
    name = "unit_conversion"
    answer_type = "decimal"
    _pattern = re.compile(r"Convert (-?[\d.]+) ([a-z]+) to ([a-z]+)\.")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        source = rng.choice(sorted(_UNITS))
        dimension = _UNITS[source][0]
        target = rng.choice([u for u in sorted(_UNITS) if _UNITS[u][0] == dimension and u != source])
        value = Decimal(rng.randint(1, 10 ** (difficulty + 1))) / Decimal(rng.choice([1, 2, 4, 10, 100]))
        return {"value": _fmt(value), "source": source, "target": target}

    def question(self, p: dict[str, Any]) -> str:
        return f"Convert {p['value']} {p['source']} to {p['target']}. Give the exact decimal value."

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        if not m or m[2] not in _UNITS or m[3] not in _UNITS:
            return None
        return {"value": m[1], "source": m[2], "target": m[3]}

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        value, source, target = Decimal(p["value"]), p["source"], p["target"]
        f_source, f_target = _UNITS[source][1], _UNITS[target][1]
        if mistake is not None:  # a wrong conversion factor, the classic slip
            f_source = f_source * mistake.choice([Decimal(10), Decimal("0.1"), Decimal(100)])
        base_name = {"length": "meters", "mass": "grams", "time": "seconds", "volume": "liters", "data": "bytes"}[_UNITS[source][0]]
        in_base = value * f_source
        result = in_base / f_target
        steps = [
            f"1 {source.removesuffix('s')} = {_fmt(f_source)} {base_name}, so {p['value']} {source} = {_fmt(in_base)} {base_name}.",
            f"1 {target.removesuffix('s')} = {_fmt(f_target)} {base_name}, so I divide: {_fmt(in_base)} / {_fmt(f_target)} = {_fmt(result)}.",
        ]
        return Solution(steps, _fmt(result), mistaken=mistake is not None)


# ---------------------------------------------------------------------------------------- word problems

_THINGS = ["apples", "books", "marbles", "stamps", "coins", "shells", "pencils", "tickets"]
_OPS = {
    "sells": ("sells {n}", lambda x, n: x - n),
    "buys": ("buys {n} more", lambda x, n: x + n),
    "crates": ("receives {k} boxes of {n} each", None),
    "gives": ("gives away {n}", lambda x, n: x - n),
    "doubles": ("doubles the collection", None),
}


class WordProblem(Task):
    name = "word_problem"
    answer_type = "int"
    _pattern = re.compile(r"^(?P<who>[A-Z][a-z]+) has (?P<start>\d+) (?P<thing>[a-z]+)\. (?P<events>.*?) How many (?P=thing) does (?P=who) have now\?", re.DOTALL | re.MULTILINE)
    _event = re.compile(r"(sells (\d+)|buys (\d+) more|receives (\d+) boxes of (\d+) each|gives away (\d+)|doubles the collection)")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        value = rng.randint(20, 200)
        start = value
        events: list[list[Any]] = []
        for _ in range(2 + difficulty):
            kind = rng.choice(["sells", "buys", "crates", "gives", "doubles"])
            if kind in ("sells", "gives"):
                if value < 2:
                    kind = "buys"
                else:
                    n = rng.randint(1, max(1, value // 2))
                    events.append([kind, n])
                    value -= n
                    continue
            if kind == "buys":
                n = rng.randint(1, 60)
                events.append([kind, n])
                value += n
            elif kind == "crates":
                k, n = rng.randint(2, 6), rng.randint(3, 25)
                events.append([kind, k, n])
                value += k * n
            else:
                events.append(["doubles"])
                value *= 2
        return {"who": rng.choice(["Ada", "Bruno", "Chen", "Dana", "Emil", "Farah"]), "thing": rng.choice(_THINGS), "start": start, "events": events}

    def question(self, p: dict[str, Any]) -> str:
        parts = []
        for i, event in enumerate(p["events"]):
            lead = "Then" if i else "First"
            kind = event[0]
            if kind == "crates":
                text = f"receives {event[1]} boxes of {event[2]} each"
            elif kind == "doubles":
                text = "doubles the collection"
            else:
                text = _OPS[kind][0].format(n=event[1])
            parts.append(f"{lead} {p['who']} {text}.")
        return f"{p['who']} has {p['start']} {p['thing']}. {' '.join(parts)} How many {p['thing']} does {p['who']} have now?"

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        if not m:
            return None
        events: list[list[Any]] = []
        for e in self._event.finditer(m["events"]):
            if e[2]:
                events.append(["sells", int(e[2])])
            elif e[3]:
                events.append(["buys", int(e[3])])
            elif e[4]:
                events.append(["crates", int(e[4]), int(e[5])])
            elif e[6]:
                events.append(["gives", int(e[6])])
            else:
                events.append(["doubles"])
        return {"who": m["who"], "thing": m["thing"], "start": int(m["start"]), "events": events} if events else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        value = p["start"]
        bad = mistake.randrange(len(p["events"])) if mistake else -1
        steps = [f"{p['who']} starts with {value} {p['thing']}."]
        for i, event in enumerate(p["events"]):
            kind = event[0]
            if kind in ("sells", "gives"):
                new = value - event[1]
                text = f"{kind} {event[1]}: {value} - {event[1]} = {{new}}"
            elif kind == "buys":
                new = value + event[1]
                text = f"buys {event[1]}: {value} + {event[1]} = {{new}}"
            elif kind == "crates":
                new = value + event[1] * event[2]
                text = f"receives {event[1]} × {event[2]} = {event[1] * event[2]}: {value} + {event[1] * event[2]} = {{new}}"
            else:
                new = value * 2
                text = f"doubles: {value} × 2 = {{new}}"
            if i == bad:
                new = _nudge(new, mistake)  # type: ignore[arg-type]
            steps.append(f"Step {i + 1}, {p['who']} " + text.format(new=new) + ".")
            value = new
        steps.append(f"{p['who']} has {value} {p['thing']} now.")
        return Solution(steps, str(value), mistaken=mistake is not None)


# ------------------------------------------------------------------------------------- base conversion

_DIGITS = "0123456789ABCDEF"


class BaseConversion(Task):
    name = "base_conversion"
    answer_type = "token"
    _pattern = re.compile(r"Convert the decimal number (\d+) to base (\d+)\.")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        return {"n": rng.randint(10 ** difficulty, 10 ** (difficulty + 2)), "base": rng.choice([2, 3, 5, 7, 8, 16])}

    def question(self, p: dict[str, Any]) -> str:
        return f"Convert the decimal number {p['n']} to base {p['base']}. Write the digits without a prefix (use A-F for 10-15)."

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        return {"n": int(m[1]), "base": int(m[2])} if m and 2 <= int(m[2]) <= 16 else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        n, base = p["n"], p["base"]
        steps = [f"I divide by {base} repeatedly and read the remainders from last to first."]
        remainders = []
        value = n
        while value:
            q, r = divmod(value, base)
            remainders.append(r)
            steps.append(f"{value} ÷ {base} = {q} remainder {r}.")
            value = q
        if mistake is not None:
            i = mistake.randrange(len(remainders))
            remainders[i] = (remainders[i] + mistake.randint(1, base - 1)) % base
        digits = "".join(_DIGITS[r] for r in reversed(remainders)).lstrip("0") or "0"
        steps.append(f"Reading the remainders upwards: {digits}.")
        return Solution(steps, digits, mistaken=mistake is not None)


# ------------------------------------------------------------------------------------------------- dates


class DateDifference(Task):
    name = "date_difference"
    answer_type = "int"
    _pattern = re.compile(r"How many days are there from (\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})\?")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        start = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 15000))
        end = start + dt.timedelta(days=rng.randint(1, 120 * difficulty))
        return {"start": start.isoformat(), "end": end.isoformat()}

    def question(self, p: dict[str, Any]) -> str:
        return f"How many days are there from {p['start']} to {p['end']}? Count the end date but not the start date."

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        if not m:
            return None
        try:
            start, end = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
        except ValueError:
            return None
        return {"start": m[1], "end": m[2]} if end > start else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        start, end = dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"])
        steps = [f"I count month by month from {start.isoformat()} to {end.isoformat()}."]
        segments = self._segments(start, end)
        bad = mistake.randrange(len(segments)) if mistake else -1
        total = 0
        for i, (label, days) in enumerate(segments):
            if i == bad:
                days += mistake.choice([-1, 1])  # type: ignore[union-attr]
            total += days
            steps.append(f"{label}: {days} days, running total {total}.")
        steps.append(f"Total: {total} days.")
        return Solution(steps, str(total), mistaken=mistake is not None)

    @staticmethod
    def _segments(start: dt.date, end: dt.date) -> list[tuple[str, int]]:
        if (start.year, start.month) == (end.year, end.month):
            return [(f"From day {start.day} to day {end.day} of {end.strftime('%B %Y')}", end.day - start.day)]
        out = []
        first_next = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        out.append((f"Rest of {start.strftime('%B %Y')} after day {start.day}", (first_next - start).days - 1))
        cursor = first_next
        while (cursor.year, cursor.month) != (end.year, end.month):
            following = (cursor + dt.timedelta(days=32)).replace(day=1)
            out.append((f"All of {cursor.strftime('%B %Y')}", (following - cursor).days))
            cursor = following
        out.append((f"Days 1 to {end.day} of {end.strftime('%B %Y')}", end.day))
        return out


# --------------------------------------------------------------------------------------------------- gcd


class Gcd(Task):
    name = "gcd"
    answer_type = "int"
    _pattern = re.compile(r"What is the greatest common divisor of (\d+) and (\d+)\?")

    def generate(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        g = rng.randint(2, 30 * difficulty)
        return {"a": g * rng.randint(2, 40 * difficulty), "b": g * rng.randint(2, 40 * difficulty)}

    def question(self, p: dict[str, Any]) -> str:
        return f"What is the greatest common divisor of {p['a']} and {p['b']}?"

    def parse(self, text: str) -> dict[str, Any] | None:
        m = self._pattern.search(text)
        return {"a": int(m[1]), "b": int(m[2])} if m and int(m[1]) > 0 and int(m[2]) > 0 else None

    def solve(self, p: dict[str, Any], mistake: random.Random | None = None) -> Solution:
        a, b = max(p["a"], p["b"]), min(p["a"], p["b"])
        steps = [f"Euclid's algorithm on {a} and {b}."]
        while b:
            steps.append(f"{a} mod {b} = {a % b}.")
            a, b = b, a % b
        if mistake is not None:
            a = a * mistake.choice([2, 3]) if mistake.random() < 0.5 else max(1, a // 2) if a > 1 else a + 1
        steps.append(f"The last non-zero remainder is {a}.")
        return Solution(steps, str(a), mistaken=mistake is not None)


TASKS: dict[str, Task] = {t.name: t for t in (Arithmetic(), Sorting(), Compare(), Counting(), UnitConversion(), WordProblem(), BaseConversion(), DateDifference(), Gcd())}


def recognise(text: str) -> tuple[Task, dict[str, Any]] | None:
    """The procedural task whose question appears in `text`, with its parameters; None when none does."""
    for task in TASKS.values():
        try:
            params = task.parse(text)
        except (ValueError, KeyError, IndexError):
            params = None
        if params is not None:
            return task, params
    return None


# ---------------------------------------------------------------------------------------------- answers

_ANSWER_LINE = re.compile(r"(?im)^\W*answer\W*:\s*(.+?)\s*$")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def extract_answer(text: str) -> str | None:
    """The value on the last `Answer: …` line (or, failing that, in the last `\\boxed{…}`)."""
    lines = _ANSWER_LINE.findall(text)
    if lines:
        return lines[-1].strip().strip("*`").rstrip(".").strip()
    boxed = _BOXED.findall(text)
    return boxed[-1].strip() if boxed else None


def _normalise_int(text: str) -> int:
    return int(text.replace(",", "").replace("_", "").replace(" ", ""))


def answers_match(answer_type: str, given: str, reference: str) -> bool:
    """Compare a model's answer to the reference under the task's answer type."""
    given = given.strip()
    try:
        if answer_type == "int":
            return _normalise_int(given) == _normalise_int(reference)
        if answer_type == "decimal":
            return Decimal(given.replace(",", "")) == Decimal(reference)
        if answer_type == "int_list":
            parts = [x for x in re.split(r"[,\s]+", given.strip("[]() ")) if x]
            return [int(x) for x in parts] == [int(x) for x in reference.split(", ")]
        if answer_type == "token":
            return given.upper().lstrip("0") == reference.upper().lstrip("0") and given != ""
    except (ValueError, InvalidOperation):
        return False
    raise ValueError(f"unknown answer type {answer_type!r}")


SOLVERS: dict[str, Callable[..., Solution]] = {name: task.solve for name, task in TASKS.items()}
