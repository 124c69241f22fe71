"""Scores from per-sample records: accuracy / pass@1 averaged over repeats, pass@k, seeded bootstrap 95% CIs over
items, overlong rate, IFEval's four numbers, DROP F1/EM, SimpleQA grades, refusal scores per category.

Conventions: a sample whose checker or judge failed (`error` / `timeout` verdict, score None) is left out of
every score and counted under `errors` (`judge_failures` for judges); an overlong sample scores 0 everywhere.
Scores are fractions in [0, 1].
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hermes4.store import derive_seed

BOOTSTRAP_RESAMPLES = 1000


@dataclass
class Estimate:
    """A score with its bootstrap 95% confidence interval (percentile method, items resampled)."""

    value: float
    low: float
    high: float
    n: int  # items

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Estimate:
        return cls(data["value"], data["low"], data["high"], data["n"])


def bootstrap(numerators: list[float], denominators: list[float], *, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> Estimate | None:
    """sum(num) / sum(den) over items, with a 95% CI from resampling items with replacement (seeded).

    Per-item means (den = 1) give accuracy averaged over repeats; instruction counts give IFEval's
    instruction-level numbers."""
    n = len(numerators)
    if n == 0:
        return None
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if den.sum() <= 0:
        return None
    value = float(num.sum() / den.sum())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    sums = den[picks].sum(axis=1)
    ratios = np.divide(num[picks].sum(axis=1), sums, out=np.full(resamples, value), where=sums > 0)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return Estimate(value, float(low), float(high), n)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one item with n samples of which c are correct (Chen et al. 2021)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _ks(max_n: int) -> list[int]:
    ks, k = [], 1
    while k <= max_n:
        ks.append(k)
        k *= 2
    if max_n not in ks:
        ks.append(max_n)
    return ks


@dataclass
class CellMetrics:
    """Everything measured for one task in one mode."""

    task: str
    mode: str
    metric: str
    expected: int  # samples the run asked for
    samples: int  # samples on disk (scored or not)
    items: int  # items with at least one scored sample
    errors: int  # error/timeout verdicts (checker or judge failed): left out of the scores
    judge_failures: int
    overlong: int
    truncated: int  # outputs cut by the token limit (overlong ones included)
    score: Estimate | None
    secondary: dict[str, Estimate] = field(default_factory=dict)
    pass_at: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    budget_fired: int | None = None  # samples whose reasoning the reasoning budget cut short (None: no budget)

    @property
    def missing(self) -> int:
        return max(self.expected - self.samples, 0)

    @property
    def overlong_rate(self) -> float | None:
        return self.overlong / self.samples if self.samples else None

    @property
    def budget_fired_rate(self) -> float | None:
        return self.budget_fired / self.samples if self.samples and self.budget_fired is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "mode": self.mode,
            "metric": self.metric,
            "expected": self.expected,
            "samples": self.samples,
            "missing": self.missing,
            "items": self.items,
            "errors": self.errors,
            "judge_failures": self.judge_failures,
            "overlong": self.overlong,
            "overlong_rate": self.overlong_rate,
            "truncated": self.truncated,
            "score": self.score.to_json() if self.score else None,
            "secondary": {k: v.to_json() for k, v in self.secondary.items()},
            "pass_at": dict(self.pass_at),
            "tokens": self.tokens,
            "categories": self.categories,
            **({"budget_fired": self.budget_fired, "budget_fired_rate": self.budget_fired_rate} if self.budget_fired is not None else {}),
        }


def _per_item(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r["item_id"], r["repeat"])):
        grouped[record["item_id"]].append(record)
    return grouped


def _scored(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("score") is not None]


def _mean_estimate(groups: dict[str, list[dict[str, Any]]], value, seed: int) -> Estimate | None:
    """Per-item mean of `value(record)` over its scored samples, then the mean over items, with a CI."""
    nums = []
    for records in groups.values():
        scored = _scored(records)
        if scored:
            nums.append(sum(value(r) for r in scored) / len(scored))
    return bootstrap(nums, [1.0] * len(nums), seed=seed)


def _ifeval_instructions(record: dict[str, Any]) -> tuple[list[bool], list[bool]]:
    """(strict, loose) per instruction; an overlong sample followed none of them."""
    count = len((record.get("reference") or {}).get("instruction_id_list") or [])
    details = (record.get("verdict") or {}).get("details") or {}
    results = details.get("instructions")
    if record["output"].get("overlong") or not isinstance(results, list):
        return [False] * count, [False] * count
    return [bool(r.get("strict")) for r in results], [bool(r.get("loose")) for r in results]


def cell_metrics(task: str, mode: str, metric: str, records: list[dict[str, Any]], *, expected: int) -> CellMetrics:
    """The metrics of one task in one mode from its per-sample records."""
    seed = derive_seed("bootstrap", task, mode)
    groups = _per_item(records)
    errors = sum(1 for r in records if r.get("score") is None)
    judge_failures = sum(1 for r in records if "judge_failure" in ((r.get("verdict") or {}).get("details") or {}))
    tokens = [int(r["output"].get("completion_tokens") or 0) for r in records]
    cell = CellMetrics(
        task=task,
        mode=mode,
        metric=metric,
        expected=expected,
        samples=len(records),
        items=sum(1 for rs in groups.values() if _scored(rs)),
        errors=errors,
        judge_failures=judge_failures,
        overlong=sum(1 for r in records if r["output"].get("overlong")),
        truncated=sum(1 for r in records if r["output"].get("finish_reason") == "length"),
        score=_mean_estimate(groups, lambda r: r["score"], seed),
    )
    flags = [r["output"]["budget_fired"] for r in records if "budget_fired" in r["output"]]
    if flags:
        cell.budget_fired = sum(1 for fired in flags if fired)
    if tokens:
        array = np.asarray(tokens, dtype=float)
        cell.tokens = {
            "mean": round(float(array.mean()), 2),
            "median": float(np.median(array)),
            "p90": float(np.percentile(array, 90)),
            "max": float(array.max()),
        }
    if metric in ("accuracy", "refusal", "simpleqa"):
        counts = [(len(_scored(rs)), sum(1 for r in _scored(rs) if r["score"] >= 1.0)) for rs in groups.values()]
        counts = [(n, c) for n, c in counts if n]
        if counts:
            for k in _ks(min(n for n, _ in counts)):
                cell.pass_at[str(k)] = sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
    if metric == "f1":
        cell.secondary["em"] = _mean_estimate(groups, lambda r: 0.0 if r["output"].get("overlong") else float(r["verdict"]["details"].get("em", 0.0)), seed + 1)  # type: ignore[assignment]
    if metric == "simpleqa":
        for grade in ("INCORRECT", "NOT_ATTEMPTED"):
            estimate = _mean_estimate(groups, lambda r, g=grade: float(r["verdict"]["details"].get("grade") == g), seed + 2)
            if estimate:
                cell.secondary[grade.lower()] = estimate
    if metric == "ifeval":
        _ifeval(cell, groups, seed)
    if metric == "refusal":
        _refusal(cell, records, seed)
    if metric == "rewardbench":
        _rewardbench(cell, records, seed)
    if metric == "winrate":
        _winrate(cell, groups, seed)
    cell.secondary = {k: v for k, v in cell.secondary.items() if v is not None}
    return cell


def _ifeval(cell: CellMetrics, groups: dict[str, list[dict[str, Any]]], seed: int) -> None:
    prompt_strict, prompt_loose, inst_num_s, inst_num_l, inst_den = [], [], [], [], []
    for records in groups.values():
        scored = _scored(records)
        if not scored:
            continue
        flags = [_ifeval_instructions(r) for r in scored]
        prompt_strict.append(sum(all(s) and bool(s) for s, _ in flags) / len(flags))
        prompt_loose.append(sum(all(lo) and bool(lo) for _, lo in flags) / len(flags))
        inst_num_s.append(sum(sum(s) for s, _ in flags) / len(flags))
        inst_num_l.append(sum(sum(lo) for _, lo in flags) / len(flags))
        inst_den.append(sum(len(s) for s, _ in flags) / len(flags))
    ones = [1.0] * len(prompt_strict)
    for name, nums, dens, offset in (
        ("prompt_strict", prompt_strict, ones, 0),
        ("prompt_loose", prompt_loose, ones, 1),
        ("instruction_strict", inst_num_s, inst_den, 2),
        ("instruction_loose", inst_num_l, inst_den, 3),
    ):
        estimate = bootstrap(nums, dens, seed=seed + 10 + offset)
        if estimate is not None:
            cell.secondary[name] = estimate
    if "prompt_strict" in cell.secondary:
        cell.score = cell.secondary["prompt_strict"]  # the headline IFEval number


def _refusal(cell: CellMetrics, records: list[dict[str, Any]], seed: int) -> None:
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_category[str((record.get("reference") or {}).get("category"))].append(record)
    for offset, (category, rows) in enumerate(sorted(by_category.items())):
        groups = _per_item(rows)
        estimate = _mean_estimate(groups, lambda r: r["score"], seed + 100 + offset)
        scored = _scored(rows)
        cell.categories[category] = {
            "score": estimate.to_json() if estimate else None,
            "inverted": bool((rows[0].get("reference") or {}).get("inverted")),
            "samples": len(rows),
            "refused": sum(1 for r in scored if (r["verdict"].get("details") or {}).get("refused")),
            "judge_failures": sum(1 for r in rows if "judge_failure" in ((r.get("verdict") or {}).get("details") or {})),
        }


def _winrate(cell: CellMetrics, groups: dict[str, list[dict[str, Any]]], seed: int) -> None:
    """Arena-Hard: the model's share of weighted games won against the baseline, pooled over every game (what a
    Bradley-Terry fit against one baseline gives); a scored sample without games (overlong) lost both."""
    wins, weights = [], []
    for records in groups.values():
        scored = _scored(records)
        if not scored:
            continue
        games = [((r.get("verdict") or {}).get("details") or {}).get("games") or [{"score": 0.0, "weight": 1}] * 2 for r in scored]
        wins.append(sum(g["score"] * g["weight"] for sample in games for g in sample) / len(scored))
        weights.append(sum(g["weight"] for sample in games for g in sample) / len(scored))
    estimate = bootstrap(wins, weights, seed=seed + 500)
    if estimate is not None:
        cell.score = estimate


def _rewardbench(cell: CellMetrics, records: list[dict[str, Any]], seed: int) -> None:
    """RewardBench: accuracy per subset (in `categories`), per section (in `secondary`), score = mean of the
    sections; the score's CI resamples items (percentile bootstrap, as every other score here)."""
    from hermes4.eval.benchmarks.rewardbench import SECTION_OF, section_scores

    by_subset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_subset[str((record.get("reference") or {}).get("subset"))].append(record)
    items: list[tuple[str, float]] = []  # (subset, the item's mean score)
    for offset, (subset, rows) in enumerate(sorted(by_subset.items())):
        groups = _per_item(rows)
        estimate = _mean_estimate(groups, lambda r: r["score"], seed + 200 + offset)
        cell.categories[subset] = {"score": estimate.to_json() if estimate else None, "samples": len(rows),
                                   "no_verdict": sum(1 for r in rows if ((r.get("verdict") or {}).get("details") or {}).get("no_verdict"))}
        items += [(subset, sum(r["score"] for r in _scored(g)) / len(_scored(g))) for g in groups.values() if _scored(g)]
    if not items:
        return

    def sections_of(chosen: list[tuple[str, float]]) -> dict[str, float]:
        per_subset: dict[str, list[float]] = defaultdict(list)
        for subset, value in chosen:
            per_subset[subset].append(value)
        return section_scores({s: (sum(v) / len(v), len(v)) for s, v in per_subset.items()})

    def estimate(chosen: list[tuple[str, float]], value_of, offset: int) -> Estimate:
        rng = np.random.default_rng(seed + 300 + offset)
        draws = [value_of(sections_of([chosen[i] for i in rng.integers(0, len(chosen), len(chosen))])) for _ in range(BOOTSTRAP_RESAMPLES)]
        low, high = np.percentile(draws, [2.5, 97.5])
        return Estimate(value=value_of(sections_of(chosen)), low=float(low), high=float(high), n=len(chosen))

    cell.score = estimate(items, lambda sections: sum(sections.values()) / len(sections), 0)
    for offset, name in enumerate(sections_of(items), 1):
        members = [item for item in items if SECTION_OF.get(item[0], item[0]) == name]
        cell.secondary[name] = estimate(members, lambda sections, n=name: sections[n], offset)
