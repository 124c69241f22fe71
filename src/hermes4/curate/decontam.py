"""Decontamination: word n-gram overlap (13-grams by default) between training records and evaluation items.

The check the field uses (GPT-3's contamination study, lm-eval-harness' decontamination janitor): normalise
both sides (Unicode NFKC, lower case, every run of non-alphanumeric characters becomes one space, split on
spaces), index every n-gram of every eval item, and flag a training record that contains any of them. Two
refinements keep it honest:

- An eval item shorter than `n` words is indexed whole (as one shorter gram) when it has at least `min_words`
  words; shorter items are too generic to be evidence and are counted as unchecked.
- Template text is not evidence: within one benchmark of at least two items, an n-gram found in more than half
  of its items (the multiple-choice frame, a fixed instruction line) is dropped from the index.

Every text of a record is checked: user prompts, assistant answers and reasoning, tool turns. The eval side is
given as `EvalText`s (the caller loads the benchmarks; this layer does not import `eval`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hermes4.chat.messages import Conversation

DEFAULT_N = 13
DEFAULT_MIN_WORDS = 8
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_MAX_OVERLAPS_PER_RECORD = 20


def normalise(text: str) -> list[str]:
    """The words compared: NFKC, lower case, punctuation and symbols removed."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).split()


@dataclass(frozen=True)
class EvalText:
    """One evaluation item's text (what the model is asked), with the benchmark and item it came from."""

    task: str
    item_id: str
    text: str


@dataclass(frozen=True)
class Overlap:
    """A training record sharing an n-gram with an eval item."""

    record: int  # position of the record in the input
    record_id: str | None
    where: str  # e.g. messages[0].content
    task: str
    item_id: str
    ngram: str

    def to_json(self) -> dict[str, Any]:
        return {"record": self.record, "record_id": self.record_id, "where": self.where, "task": self.task, "item_id": self.item_id, "ngram": self.ngram}


class EvalIndex:
    """The n-grams of a set of eval items, for looking up training text."""

    def __init__(self, evals: Iterable[EvalText], n: int = DEFAULT_N, min_words: int = DEFAULT_MIN_WORDS) -> None:
        if n < 1 or not 1 <= min_words <= n:
            raise ValueError(f"need n >= 1 and 1 <= min_words <= n (got n={n}, min_words={min_words})")
        self.n, self.min_words = n, min_words
        self._grams: dict[int, dict[int, tuple[str, str]]] = defaultdict(dict)  # length -> gram hash -> (task, item)
        self.items = 0
        self.unchecked: Counter[str] = Counter()  # per task: items too short to be evidence
        self.template_grams: Counter[str] = Counter()  # per task: grams dropped as template text
        by_task: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        for text in evals:
            by_task[text.task].append((text.item_id, normalise(text.text)))
        for task, items in by_task.items():
            per_item = [(item_id, self._item_grams(words)) for item_id, words in items]
            counts = Counter(g for _, grams in per_item for g in set(grams))
            template = {g for g, c in counts.items() if len(per_item) >= 2 and c * 2 > len(per_item) and g[0] == self.n}
            self.template_grams[task] = len(template)
            for item_id, grams in per_item:
                self.items += 1
                if not grams:
                    self.unchecked[task] += 1
                for gram in grams:
                    if gram not in template:
                        self._grams[gram[0]].setdefault(gram[1], (task, item_id))

    def _item_grams(self, words: list[str]) -> list[tuple[int, int]]:
        """(length, hash) of each gram of an item: its n-grams, or the whole item when shorter than n."""
        if len(words) >= self.n:
            return [(self.n, hash(tuple(words[i : i + self.n]))) for i in range(len(words) - self.n + 1)]
        if len(words) >= self.min_words:
            return [(len(words), hash(tuple(words)))]
        return []

    @property
    def size(self) -> int:
        return sum(len(grams) for grams in self._grams.values())

    def find(self, words: list[str]) -> Iterable[tuple[str, str, str]]:
        """(task, item_id, matched words) for every eval item whose gram occurs in `words` (first match per item)."""
        seen: set[tuple[str, str]] = set()
        for length, grams in self._grams.items():
            for i in range(len(words) - length + 1):
                hit = grams.get(hash(tuple(words[i : i + length])))
                if hit is not None and hit not in seen:
                    seen.add(hit)
                    yield hit[0], hit[1], " ".join(words[i : i + length])


@dataclass
class DecontamReport:
    """What the check found: flagged records, the overlaps (a few per record), and the eval items they touch."""

    n: int
    min_words: int
    records: int = 0
    index_grams: int = 0
    eval_items: int = 0
    unchecked_eval_items: dict[str, int] = field(default_factory=dict)
    template_grams: dict[str, int] = field(default_factory=dict)
    flagged: list[int] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def per_task(self) -> dict[str, int]:
        """Flagged records per benchmark (a record touching two benchmarks counts for both)."""
        pairs = {(o.record, o.task) for o in self.overlaps}
        return dict(sorted(Counter(task for _, task in pairs).items()))

    @property
    def contaminated_eval_items(self) -> dict[str, int]:
        pairs = {(o.task, o.item_id) for o in self.overlaps}
        return dict(sorted(Counter(task for task, _ in pairs).items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "method": {"n": self.n, "min_words": self.min_words, "normalisation": "NFKC, lower case, non-alphanumeric runs -> space, split on spaces"},
            "records": self.records,
            "flagged": len(self.flagged),
            "flagged_records": self.flagged,
            "per_task": self.per_task,
            "contaminated_eval_items": self.contaminated_eval_items,
            "eval_items": self.eval_items,
            "index_grams": self.index_grams,
            "unchecked_eval_items": self.unchecked_eval_items,
            "template_grams_dropped": self.template_grams,
            "overlaps": [o.to_json() for o in self.overlaps],
        }

    def markdown(self) -> str:
        lines = [
            "# Decontamination report",
            "",
            f"{self.n}-gram overlap (NFKC, lower case, punctuation removed); eval items under {self.n} words indexed whole "
            f"from {self.min_words} words. {self.eval_items} eval items, {self.index_grams} grams indexed.",
            "",
            f"**{len(self.flagged)} of {self.records} records overlap an eval item.**",
            "",
            "| benchmark | flagged records | eval items hit | eval items too short to check |",
            "|---|---:|---:|---:|",
        ]
        tasks = sorted(set(self.per_task) | set(self.unchecked_eval_items) | set(self.template_grams))
        for task in tasks:
            lines.append(f"| {task} | {self.per_task.get(task, 0)} | {self.contaminated_eval_items.get(task, 0)} | {self.unchecked_eval_items.get(task, 0)} |")
        if self.overlaps:
            lines += ["", "## Overlaps", "", "| record | where | benchmark | item | shared words |", "|---:|---|---|---|---|"]
            for o in self.overlaps[:200]:
                lines.append(f"| {o.record} | {o.where} | {o.task} | {o.item_id} | {o.ngram[:120]} |")
        return "\n".join(lines) + "\n"


def record_texts(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, text) of every text in a conversation record: message contents, reasoning, tool-call arguments."""
    conversation = Conversation.parse(record)
    out: list[tuple[str, str]] = []
    for i, message in enumerate(conversation.messages):
        if message.content:
            out.append((f"messages[{i}].content", message.content))
        if message.reasoning_content:
            out.append((f"messages[{i}].reasoning_content", message.reasoning_content))
        for j, call in enumerate(message.tool_calls or []):
            out.append((f"messages[{i}].tool_calls[{j}]", str(call.function.arguments)))
    return out


def decontaminate(records: Iterable[dict[str, Any]], index: EvalIndex) -> DecontamReport:
    """Check every record against the index. Raises ValueError naming the record that is not a conversation."""
    report = DecontamReport(
        index.n, index.min_words, index_grams=index.size, eval_items=index.items,
        unchecked_eval_items=dict(index.unchecked), template_grams=dict(index.template_grams),
    )
    for position, record in enumerate(records):
        report.records += 1
        try:
            texts = record_texts(record)
        except ValueError as exc:
            raise ValueError(f"record {position}: {exc}") from None
        record_id = (record.get("meta") or {}).get("id")
        found: list[Overlap] = []
        hit: set[tuple[str, str]] = set()
        for where, text in texts:
            for task, item_id, words in index.find(normalise(text)):
                if (task, item_id) not in hit and len(found) < _MAX_OVERLAPS_PER_RECORD:
                    hit.add((task, item_id))
                    found.append(Overlap(position, record_id, where, task, item_id, words))
        if found:
            report.flagged.append(position)
            report.overlaps.extend(found)
    return report
