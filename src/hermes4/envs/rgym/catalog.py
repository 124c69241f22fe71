"""Which reasoning-gym datasets hermes4 exposes: the library's registry, the exclusions (with reasons), categories, presets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

# Datasets the adapter does not expose, and why. `probe_dataset` re-derives the checkable reasons (tests run it
# over every dataset), so a library release that fixes or breaks one shows up as a failing test, not silently.
EXCLUDED: dict[str, str] = {
    "composite": "the library's own mixer of other datasets (the adapter mixes with datasets=NAME:WEIGHT+... instead)",
    "game_of_life_halting": "its scorer passes any non-empty answer (bool('False') is True), so it cannot reject a wrong one",
}

# Where a dataset has no single oracle answer (`answer` is None: any valid solution scores), the item's metadata
# often carries one valid solution; the scripted teacher and the oracle probe use it.
EXAMPLE_ANSWER_KEYS = ("possible_answer", "example_answer", "example_correct_answer")

ANSWER_INSTRUCTION = "After your reasoning, give only the final answer between <answer> and </answer>."
_ANSWER_TAG = re.compile(r"<answer>\s?(.*?)\s?</answer>", re.DOTALL)


class ReasoningGymMissing(ImportError):
    """reasoning-gym is not installed; the message says how to get it."""


def library():
    """The `reasoning_gym` module (imported on first use: it takes a second or two)."""
    try:
        import reasoning_gym
    except ImportError as exc:
        raise ReasoningGymMissing(f"the reasoning_gym env needs the reasoning-gym package: pip install 'hermes4[envs]' ({exc})") from None
    return reasoning_gym


@lru_cache(maxsize=1)
def library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reasoning-gym")
    except PackageNotFoundError:
        return "unknown"


def all_datasets() -> dict[str, str]:
    """Every dataset the library registers -> its category (the package it lives in: arithmetic, games, ...)."""
    from reasoning_gym.factory import DATASETS

    library()
    return {name: _category(cls.__module__) for name, (cls, _config) in sorted(DATASETS.items())}


def _category(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) >= 3 else "other"


def usable_datasets() -> dict[str, str]:
    """The datasets the adapter exposes (all minus `EXCLUDED`) -> category."""
    return {name: category for name, category in all_datasets().items() if name not in EXCLUDED}


def presets() -> dict[str, list[str]]:
    """`broad`: every usable dataset, equally weighted (the paper's mix of many task families); one preset per category."""
    usable = usable_datasets()
    out: dict[str, list[str]] = {"broad": sorted(usable)}
    for category in sorted(set(usable.values())):
        out[category] = sorted(name for name, cat in usable.items() if cat == category)
    return out


def extract_tagged_answer(text: str) -> str | None:
    """The last `<answer>…</answer>` in `text` (one space of padding trimmed, like the library's own extractor)."""
    matches = _ANSWER_TAG.findall(text)
    return matches[-1].strip() if matches else None


def as_json(value):
    """`value` as it comes back from JSON (tuples become lists, keys strings, other objects their str): for provenance."""
    return json.loads(json.dumps(value, default=str))


def oracle_answer(entry: dict) -> str | None:
    """A correct answer for a generated entry: its `answer`, else a valid solution from its metadata, else None."""
    if entry.get("answer") is not None:
        return str(entry["answer"])
    metadata = entry.get("metadata") or {}
    for key in EXAMPLE_ANSWER_KEYS:
        value = metadata.get(key)
        if value is not None:
            return value if isinstance(value, str) else json.dumps(value)
    return None


@dataclass
class ProbeResult:
    """What `probe_dataset` found: None problem means the dataset generates offline and its scorer discriminates."""

    dataset: str
    problem: str | None
    items: int = 0
    oracle_checked: int = 0


NONSENSE_ANSWER = "qqq-not-an-answer"


def probe_dataset(name: str, count: int = 2, seed: int = 1) -> ProbeResult:
    """Generate `count` items and score them in-process: a known-correct answer must score 1, a nonsense one below 1.
    Network use is not blocked here; callers that need to prove offline generation block sockets first (see tests)."""
    rg = library()
    try:
        dataset = rg.create_dataset(name, seed=seed, size=count)
        entries = [dataset[i] for i in range(count)]
    except Exception as exc:  # noqa: BLE001 (a dataset that cannot generate is the finding)
        return ProbeResult(name, f"cannot generate with its default config: {type(exc).__name__}: {exc}")
    checked = 0
    for entry in entries:
        answer = oracle_answer(entry)
        if answer is not None:
            score = dataset.score_answer(answer, entry)
            if score != 1.0:
                return ProbeResult(name, f"its own answer {answer[:60]!r} scores {score}", len(entries), checked)
            checked += 1
        try:
            wrong = dataset.score_answer(NONSENSE_ANSWER, entry)
        except Exception:  # noqa: BLE001 (a scorer that crashes on junk rejects it: an error verdict, never a pass)
            continue
        if wrong >= 1.0:
            return ProbeResult(name, f"its scorer gives {NONSENSE_ANSWER!r} full marks", len(entries), checked)
    return ProbeResult(name, None, len(entries), checked)
