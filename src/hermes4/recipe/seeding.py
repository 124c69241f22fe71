"""The recipe's one seed: every random choice of a run (model init, the teacher's planted mistakes, forge walks,
sampling draws, prompt sets, the training mix, packing order and batch order, length-control generation, eval
sampling) gets a seed derived from it, so `hermes4 run RECIPE --seed N` is a different, reproducible run.

Each derived seed is `derive_seed(recipe seed, where)`, `where` naming the field (`data.sample[reasoning].seed`),
so two recipe seeds differ in every derived seed and one seed always gives the same ones. The tokenizer makes no
random choice of its own (it is trained deterministically on the shipped corpus, plus the run's SFT data with
`model.tiny.tokenizer_from_data`) and the eval tasks' item sets stay fixed: the held-out
measuring stick is the same for every seed, which is what makes seeds comparable (their items come from the
`test` split, drawn from other RNG streams than the `train` items the data stages use).
"""

from __future__ import annotations

import copy
from typing import Any

from hermes4.store import derive_seed

TEACHER_SEED_ENV = "HERMES4_TEACHER_SEED"


def derived_seed(seed: int, where: str) -> int:
    """The seed of one field of the recipe (`where`) under the recipe seed `seed`."""
    return derive_seed("hermes4-recipe", seed, where)


def _named(runs: list[Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{kind}[{run.get('name', i)}]", run) for i, run in enumerate(runs) if isinstance(run, dict)]


def apply_seed(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """A copy of the recipe mapping `data` with every seed field set from `seed` (and `seed: seed` recorded).

    Works on the mapping before validation so the typed recipe, the stage fingerprints and `recipe.resolved.json`
    all see the derived values."""
    out = copy.deepcopy(data)
    out["seed"] = seed

    def put(section: dict[str, Any], key: str, where: str) -> None:
        section[key] = derived_seed(seed, where)

    tiny = (out.get("model") or {}).get("tiny")
    if isinstance(tiny, dict):
        put(tiny, "seed", "model.tiny.seed")
    for name, endpoint in (out.get("endpoints") or {}).items():
        serve = endpoint.get("serve") if isinstance(endpoint, dict) else None
        if isinstance(serve, dict) and serve.get("scripted"):
            env = dict(serve.get("env") or {})
            env[TEACHER_SEED_ENV] = str(derived_seed(seed, f"endpoints.{name}.serve.env.{TEACHER_SEED_ENV}"))
            serve["env"] = env
    section = out.get("data") or {}
    for kind in ("forge", "sample", "prompts"):
        for where, run in _named(section.get(kind) or [], f"data.{kind}"):
            put(run, "seed", f"{where}.seed")
    train = out.get("train")
    if isinstance(train, dict):
        put(train, "seed", "train.seed")
        mix = (train.get("data") or {}).get("mix")
        if isinstance(mix, dict):
            put(mix, "seed", "train.data.mix.seed")
    control = out.get("length_control")
    if isinstance(control, dict):
        put(control, "seed", "length_control.seed")
        control_train = control.setdefault("train", {})
        if isinstance(control_train, dict):
            put(control_train, "seed", "length_control.train.seed")
    evaluation = out.get("eval")
    if isinstance(evaluation, dict):
        put(evaluation, "seed", "eval.seed")
    return out


def seed_fields(data: dict[str, Any]) -> dict[str, int | str]:
    """Every seed field of a (resolved) recipe mapping, by where it lives: what `--dry-run` shows and tests compare."""
    found: dict[str, int | str] = {}
    tiny = (data.get("model") or {}).get("tiny")
    if isinstance(tiny, dict) and "seed" in tiny:
        found["model.tiny.seed"] = tiny["seed"]
    for name, endpoint in (data.get("endpoints") or {}).items():
        serve = endpoint.get("serve") if isinstance(endpoint, dict) else None
        if isinstance(serve, dict) and TEACHER_SEED_ENV in (serve.get("env") or {}):
            found[f"endpoints.{name}.serve.env.{TEACHER_SEED_ENV}"] = serve["env"][TEACHER_SEED_ENV]
    section = data.get("data") or {}
    for kind in ("forge", "sample", "prompts"):
        for where, run in _named(section.get(kind) or [], f"data.{kind}"):
            if "seed" in run:
                found[f"{where}.seed"] = run["seed"]
    train = data.get("train") or {}
    if "seed" in train:
        found["train.seed"] = train["seed"]
    mix = (train.get("data") or {}).get("mix")
    if isinstance(mix, dict) and "seed" in mix:
        found["train.data.mix.seed"] = mix["seed"]
    control = data.get("length_control") or {}
    if "seed" in control:
        found["length_control.seed"] = control["seed"]
    if "seed" in (control.get("train") or {}):
        found["length_control.train.seed"] = control["train"]["seed"]
    if "seed" in (data.get("eval") or {}):
        found["eval.seed"] = data["eval"]["seed"]
    return found
