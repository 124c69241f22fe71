"""`reasoning_gym`: every reasoning-gym dataset as a hermes4 env, alone or mixed with weights, scored by the library."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import random
import subprocess
import sys
import tempfile
from typing import Any

import yaml

from hermes4.chat.messages import Conversation, Message
from hermes4.envs.answer import final_answer
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.registry import register_env
from hermes4.envs.rgym.catalog import (
    ANSWER_INSTRUCTION,
    EXCLUDED,
    CORE_CATEGORY,
    all_datasets,
    as_json,
    core_tasks,
    ensure_registered,
    extract_tagged_answer,
    library,
    library_version,
    presets,
    seeded_global_rng,
    source_of,
    usable_datasets,
)
from hermes4.envs.rgym.scorer import shared_pool

_SHOWN = 500  # characters of given/expected answers kept in verdict details
_log = logging.getLogger(__name__)


class _GenerationFailed(Exception):
    """A dataset produced no item (its generator crashed on every index tried); the message names it."""


@dataclasses.dataclass(frozen=True)
class MixPart:
    dataset: str
    weight: float


def parse_mix(names: list[str]) -> list[MixPart]:
    """`["countdown:3", "gcd"]` -> parts with weights (default 1); unknown or excluded names are errors."""
    known = all_datasets()
    parts: list[MixPart] = []
    for raw in names:
        name, _, weight_text = raw.partition(":")
        name = name.strip()
        if name in EXCLUDED:
            raise ValueError(f"dataset {name!r} is excluded: {EXCLUDED[name]}")
        if name not in known:
            raise ValueError(f"unknown reasoning-gym dataset {name!r}; `hermes4 envs list` shows the {len(known) - len(EXCLUDED)} usable ones")
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise ValueError(f"dataset {name!r}: weight {weight_text!r} is not a number") from None
        if not weight > 0:
            raise ValueError(f"dataset {name!r}: weight must be positive, got {weight_text}")
        if any(p.dataset == name for p in parts):
            raise ValueError(f"dataset {name!r} given twice")
        parts.append(MixPart(name, weight))
    return parts


def allocate(parts: list[MixPart], n: int, seed: int = 0) -> dict[str, int]:
    """Split `n` items over the parts in proportion to their weights (largest remainder). Ties, e.g. fewer items than
    equally weighted datasets, go to a seeded random choice, not to the first names in the mix."""
    total = sum(p.weight for p in parts)
    exact = [n * p.weight / total for p in parts]
    counts = [int(x) for x in exact]
    rng = random.Random(seed)
    tie_break = [rng.random() for _ in parts]
    order = sorted(range(len(parts)), key=lambda i: (-round(exact[i] - counts[i], 9), tie_break[i]))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return {p.dataset: c for p, c in zip(parts, counts) if c}


def parse_config(text: str) -> dict[str, Any]:
    """`min_numbers:3;max_numbers:4` -> {"min_numbers": 3, "max_numbers": 4} (values read as YAML scalars)."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, colon, value = part.partition(":")
        if not colon or not key.strip():
            raise ValueError(f"option config: {part!r} is not key:value (separate several with ';')")
        out[key.strip()] = yaml.safe_load(value.strip())
    return out


def derived_seed(*parts: object) -> int:
    """A 32-bit seed from the parts: stable across runs and machines, independent per dataset and split."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big")


@register_env("reasoning_gym")
class ReasoningGymEnv(Env):
    """reasoning-gym's procedural datasets (one, a weighted mix, or a preset such as `broad`), scored by the library's own scorer."""

    # The library's scorers run in worker processes with their own wall-clock limit (`timeout_s`), not the guard thread.
    check_timeout_s = None

    def __init__(
        self,
        dataset: str | None = None,
        datasets: list[str] | None = None,
        preset: str | None = None,
        n: int = 200,
        seed: int = 0,
        config: str | None = None,
        pass_threshold: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        self._options = {"dataset": dataset, "datasets": datasets, "preset": preset, "n": n, "seed": seed, "config": config}
        chosen = [o for o, v in (("dataset", dataset), ("datasets", datasets), ("preset", preset)) if v]
        if len(chosen) > 1:
            raise ValueError(f"give one of dataset, datasets, preset (got {' and '.join(chosen)})")
        library()
        if dataset:
            names = [dataset]
        elif datasets:
            names = list(datasets)
        else:
            known = presets()
            preset = preset or "broad"
            if preset not in known:
                raise ValueError(f"option preset: unknown preset {preset!r}; known: {', '.join(known)}")
            names = known[preset]
        self.parts = parse_mix(names)
        self.preset = preset
        if n < 1:
            raise ValueError(f"option n: must be at least 1, got {n}")
        if not 0 < pass_threshold <= 1:
            raise ValueError(f"option pass_threshold: must be in (0, 1], got {pass_threshold}")
        if not timeout_s > 0:
            raise ValueError(f"option timeout_s: must be positive, got {timeout_s}")
        self.overrides = parse_config(config) if config else {}
        if self.overrides and len(self.parts) > 1:
            raise ValueError("option config: applies to a single dataset (its keys differ between datasets)")
        self.n, self.seed, self.pass_threshold, self.timeout_s = n, seed, pass_threshold, timeout_s
        self._items: dict[tuple[str, int], list[Item]] = {}
        self.skipped: dict[str, str] = {}  # datasets a mix went on without, and why
        if self.overrides:  # a bad key or value is a spec error now, not a crash when items are drawn
            self._make_dataset(self.parts[0].dataset, "train", 0, size=1)

    @classmethod
    def catalog_lines(cls) -> list[str]:
        """For `hermes4 envs list`: the exposed datasets by category, the presets, and the exclusions with reasons."""
        every = all_datasets()
        usable = usable_datasets()
        native = sum(c != CORE_CATEGORY for c in usable.values())
        core = "not installed (pip install 'hermes4[envs]')" if not core_tasks() else f"{len(usable) - native} tasks"
        lines = [
            f"{len(usable)} datasets ({len(every)} found, {len(every) - len(usable)} excluded): {library_version()}: {native}; "
            f"{library_version('reasoning-core') if core_tasks() else 'reasoning-core'}: {core}"
        ]
        for category in sorted(set(usable.values())):
            names = sorted(n for n, c in usable.items() if c == category)
            shown = ", ".join(names) if len(names) <= 40 else ", ".join(names[:40]) + f", ... (`envs show reasoning_gym:preset={category}`)"
            lines.append(f"  {category} ({len(names)}): {shown}")
        lines.append(f"  presets: {', '.join(presets())} (broad = all {len(usable)}, equal weights)")
        lines.extend(f"  excluded {name}: {why}" for name, why in EXCLUDED.items() if name in every)
        return lines

    def _make_dataset(self, name: str, split: str, seed: int, size: int) -> Any:
        rg = library()
        dataset_seed = derived_seed("reasoning_gym", name, split, self.seed + seed)
        ensure_registered(name)
        try:
            with seeded_global_rng(dataset_seed):  # generators that draw state when built (reasoning-core's do)
                return rg.create_dataset(name, seed=dataset_seed, size=size, **self.overrides)
        except (TypeError, AssertionError) as exc:  # unknown config key / the config's own validation
            raise ValueError(f"dataset {name!r}: bad config {self.overrides}: {exc}") from None

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        # Cached per instance: generating is slow (seconds to minutes for broad). Some reasoning-core generators keep
        # module-level state (words already used) or print sets (order follows the process's hash seed), so a mix
        # with any of them is generated in a fresh interpreter with PYTHONHASHSEED=0: the same items in every
        # process, which is what resuming a run and a separate teacher rely on.
        key = (split, seed)
        if key not in self._items:
            core = any(all_datasets()[p.dataset] == CORE_CATEGORY for p in self.parts)
            items, self.skipped = self._generate_in_child(split, seed) if core else self._generate_all(split, seed)
            self._items[key] = items
        return list(self._items[key])

    def _generate_in_child(self, split: str, seed: int) -> tuple[list[Item], dict[str, str]]:
        with tempfile.TemporaryDirectory() as tmp:
            request, result = os.path.join(tmp, "request.pkl"), os.path.join(tmp, "items.pkl")
            with open(request, "wb") as handle:
                pickle.dump((self._options, split, seed), handle)
            code = f"from hermes4.envs.rgym.env import generate_for_parent; generate_for_parent({request!r}, {result!r})"
            run = subprocess.run(
                [sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True, check=False
            )
            if run.returncode != 0:
                tail = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise ValueError(f"generating the items failed in the generator process: {tail}")
            with open(result, "rb") as handle:  # written by our own child, from the same code: trusted
                return pickle.load(handle)

    def _generate_all(self, split: str, seed: int) -> tuple[list[Item], dict[str, str]]:
        category = all_datasets()
        skipped: dict[str, str] = {}
        counts = allocate(self.parts, self.n, derived_seed("reasoning_gym-allocate", split, self.seed + seed))
        out: list[Item] = []
        for name, count in counts.items():
            try:
                out.extend(self._generate(name, count, split, seed, category[name]))
            except _GenerationFailed as exc:
                # One broken generator must not sink a mix of hundreds; alone, it is the user's error to see.
                if len(counts) == 1:
                    raise ValueError(str(exc)) from None
                skipped[name] = str(exc)
                _log.warning("reasoning_gym: %s; the mix goes on without it", exc)
        # Interleave the datasets, so `--limit M` and a partial run still see the whole mix.
        random.Random(derived_seed("reasoning_gym-order", split, self.seed + seed)).shuffle(out)
        return out, skipped

    def _generate(self, name: str, count: int, split: str, seed: int, category: str) -> list[Item]:
        # Room to skip a repeated question (ids are content hashes: the sampler's journal keys) or an index whose
        # generation fails (some generators give up on some seeds).
        try:
            dataset = self._make_dataset(name, split, seed, size=count * 2 + 8)
        except Exception as exc:  # noqa: BLE001 (a generator that cannot start: reported by name)
            raise _GenerationFailed(f"dataset {name!r}: cannot create it: {type(exc).__name__}: {exc}") from None
        # The scorers compare against the entry's native values (tuples, int keys) and read their config object
        # (nested dataclasses included), so items keep both as generated; the provenance is their JSON form.
        config_json = as_json(dataclasses.asdict(dataset.config))
        library_name = library_version(source_of(name))
        items: dict[str, Item] = {}
        failure = ""
        for index in range(dataset.size):
            if len(items) == count:
                break
            try:
                with seeded_global_rng(derived_seed("reasoning_gym-entry", name, dataset.config.seed, index)):
                    entry = dataset[index]
            except Exception as exc:  # noqa: BLE001
                failure = failure or f"{type(exc).__name__}: {exc}"
                continue
            text = f"{entry['question'].rstrip()}\n\n{ANSWER_INSTRUCTION}"
            item_id = f"reasoning_gym-{name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
            if item_id in items:
                continue
            provenance = {"library": library_name, "dataset": name, "config": config_json, "seed": dataset.config.seed, "index": index}
            items[item_id] = Item(
                id=item_id,
                prompt=Conversation(messages=[Message(role="user", content=text)]),
                reference={"dataset": name, "config": dataset.config, "entry": entry},
                meta={"provenance": provenance, "category": category, "split": split},
            )
        if not items:
            raise _GenerationFailed(f"dataset {name!r}: no item could be generated ({failure or 'every item repeated'})")
        return list(items.values())

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        reference = item.reference
        details: dict[str, Any] = {"provenance": item.meta.get("provenance")}
        expected = reference["entry"].get("answer")
        if expected is not None:
            details["expected"] = str(expected)[:_SHOWN]
        answer = extract_tagged_answer(final_answer(trajectory))
        if answer is None:
            return Verdict("fail", 0.0, {**details, "reason": "no <answer>…</answer> after the reasoning"})
        details["given"] = answer[:_SHOWN]
        result = shared_pool().score(reference["dataset"], reference["config"], reference["entry"], answer, self.timeout_s)
        if result.status == "timeout":
            return Verdict("timeout", 0.0, {**details, "reason": result.reason})
        if result.status == "error":  # a crashing scorer is never evidence against the answer
            return Verdict("error", 0.0, {**details, "error": result.reason})
        details["score"] = result.score
        if result.score >= self.pass_threshold:
            return Verdict("pass", result.score, details)
        return Verdict("fail", result.score, details)


def generate_for_parent(request_path: str, result_path: str) -> None:
    """The generator process's side of `ReasoningGymEnv._generate_in_child`."""
    with open(request_path, "rb") as handle:
        options, split, seed = pickle.load(handle)
    env = ReasoningGymEnv(**options)
    with open(result_path, "wb") as handle:
        pickle.dump(env._generate_all(split, seed), handle)
