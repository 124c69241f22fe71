"""Accounting of a sampling run: per-item ledger entries, per-env totals and rates (live counters: `hermes4.progress`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Outcome of one sample. `rollout_error`: the model call (or the env's rollout) raised, so nothing was judged.
OUTCOMES = ("pass", "fail", "error", "timeout", "overlong", "rollout_error")


@dataclass
class ItemCounts:
    """What happened to one item's samples; stored in its ledger entry."""

    samples: int = 0
    passed: int = 0
    accepted: int = 0
    duplicates: int = 0  # passed but repeated an accepted path
    surplus: int = 0  # passed and distinct, but `keep` was already reached within the wave
    failed: int = 0
    errors: int = 0  # verdict `error` plus rollout errors
    rollout_errors: int = 0
    timeouts: int = 0
    overlong: int = 0
    tokens: int = 0  # completion tokens of every sample drawn
    # 1 when every sample up to the item's decision (its `keep`-th accept, else the last) passed: the samples a wave
    # drew past that point do not count, so this does not depend on the wave size
    all_passed: int = 0

    def add(self, outcome: str, tokens: int) -> None:
        self.samples += 1
        self.tokens += tokens
        if outcome == "pass":
            self.passed += 1
        elif outcome == "fail":
            self.failed += 1
        elif outcome == "error":
            self.errors += 1
        elif outcome == "rollout_error":
            self.errors += 1
            self.rollout_errors += 1
        elif outcome == "timeout":
            self.timeouts += 1
        elif outcome == "overlong":
            self.overlong += 1

    def to_json(self) -> dict[str, int]:
        return asdict(self)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


@dataclass
class EnvTally:
    """Totals of one env over every finished item in the output folder (earlier runs included)."""

    items: int = 0
    solved: int = 0
    unsolved: int = 0
    all_passed: int = 0  # items whose every drawn sample passed (easy prompts; kept as data too)
    counts: ItemCounts = field(default_factory=ItemCounts)

    def add_item(self, status: str, counts: dict[str, Any]) -> None:
        self.items += 1
        if status == "solved":
            self.solved += 1
        else:
            self.unsolved += 1
        known = {f.name for f in fields(ItemCounts)}
        for name, value in counts.items():
            if name in known and isinstance(value, int):
                setattr(self.counts, name, getattr(self.counts, name) + value)
        if "all_passed" in counts:
            self.all_passed += int(counts["all_passed"])
        elif counts.get("samples") and counts.get("passed") == counts.get("samples"):  # a ledger from before
            self.all_passed += 1

    def to_json(self) -> dict[str, Any]:
        c = self.counts
        return {
            "items": self.items,
            "solved": self.solved,
            "unsolved": self.unsolved,
            "all_passed_items": self.all_passed,
            "samples": c.samples,
            "accepted": c.accepted,
            "accept_rate": _rate(c.accepted, c.samples),
            "pass_rate": _rate(c.passed, c.samples),
            "solve_rate": _rate(self.solved, self.items),
            "error_rate": _rate(c.errors, c.samples),
            "timeout_rate": _rate(c.timeouts, c.samples),
            "overlong_rate": _rate(c.overlong, c.samples),
            "duplicates": c.duplicates,
            "tokens": c.tokens,
        }
