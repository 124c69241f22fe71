"""Fidelity benchmark (issue 19): run a recipe (default recipes/tiny.yaml) for N seeds and print, per Hermes 4 effect,
how many seeds showed it, with each seed's figures and CIs.

Each seed is `hermes4 run RECIPE --seed S --out OUT/seed-S` in a subprocess: every random choice of the run (model
init, teacher mistakes, data, mix, packing, length control, eval sampling) derives from S
(`hermes4.recipe.seeding`). A seed whose run folder already has a finished report is read, not run again (the
recipe runner skips finished stages), so an interrupted benchmark resumes where it stopped. The effects come from
each run's typed report summary (`ReportSummary.effects`, judged by `hermes4.recipe.effects`), never recomputed here.

CIs: the share of seeds showing an effect with its 95% Wilson interval; the mean of each effect's main figure over
seeds with a seeded bootstrap 95% interval (`hermes4.eval.metrics.bootstrap`).

    .venv/bin/python benchmarks/bench_fidelity.py                      # 5 seeds of recipes/tiny.yaml
    .venv/bin/python benchmarks/bench_fidelity.py --seeds 0,3 --out runs/fidelity
    .venv/bin/python benchmarks/bench_fidelity.py --quick --seeds 2    # a shrunk recipe (smoke test)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Per effect: the main figure printed for each seed and averaged over seeds (from EffectSummary.values).
FIGURES: dict[int, tuple[str, Callable[[dict[str, float]], float]]] = {
    1: ("lift, points", lambda v: 100 * (v["reasoning"] - v["non_reasoning"])),
    2: ("measures improved, %", lambda v: 100 * v["improved"] / v["measures"] if v["measures"] else 0.0),
    3: ("overlong cut, %", lambda v: 100 * v["cut"]),
    4: ("adherence, %", lambda v: 100 * v["rate"]),
    5: ("accuracy, %", lambda v: 100 * v["rate"]),
    6: ("lowest of on/off/easy, %", lambda v: 100 * min(v.values())),
}


@dataclass
class SeedRun:
    seed: int
    out: Path
    effects: list[Any]  # hermes4.recipe.effects.EffectSummary
    seconds: float  # sum of the stage times the run's markers record
    ran_now: bool


def parse_seeds(text: str) -> list[int]:
    """`5` -> seeds 0..4; `0,3,7` -> those seeds."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()] if "," in text else list(range(int(text)))
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--seeds: expected a count of at least 1 (5) or a list of seeds (0,3,7), got {text!r}")
    return seeds


def quick_recipe(recipe: Path, out: Path) -> Path:
    """A shrunk copy of `recipe` (few items, steps and eval items) for a smoke test of the whole loop."""
    from hermes4.recipe.config import read_recipe_file

    data = read_recipe_file(recipe)

    def shrink(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shrink(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shrink(v) for v in value]
        if isinstance(value, str) and ":" in value and "n=" in value:
            return re.sub(r"\bn=(\d+)", lambda m: f"n={max(4, int(m[1]) // 50)}", value)
        return value

    data = shrink(data)
    for run in (data.get("data") or {}).get("forge") or []:
        run["walks"] = min(int(run.get("walks") or 24), 24)
    train = data["train"]
    train["schedule"] = {**train.get("schedule", {}), "steps": 20, "warmup_steps": 2}
    train["checkpoint"] = {"every": 0}
    if data.get("length_control"):
        lc_train = data["length_control"].setdefault("train", {})
        lc_train["schedule"] = {"steps": 2, "warmup_steps": 1}
    if data.get("eval"):
        data["eval"]["limit"] = 8
    path = out / "quick-recipe.yaml"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")  # JSON is YAML: the recipe loader reads it
    return path


def run_seed(recipe: Path, seed: int, out: Path, log_dir: Path) -> SeedRun:
    """Run (or resume, or just read) one seed and read its report's typed summary."""
    from hermes4.recipe import resolve_recipe
    from hermes4.recipe.runner import read_marker
    from hermes4.recipe.stages import STAGE_OBJECTS

    resolved = resolve_recipe(recipe, out=out, seed=seed)
    marker = read_marker(resolved, "report")
    fresh = marker is None or marker.get("fingerprint") != resolved.fingerprints()["report"]
    if fresh:
        log = log_dir / f"seed-{seed}.log"
        print(f"seed {seed}: hermes4 run {recipe} --seed {seed} --out {out}  (log: {log})", flush=True)
        started = time.perf_counter()
        with open(log, "w", encoding="utf-8") as handle:
            code = subprocess.call([sys.executable, "-m", "hermes4", "run", str(recipe), "--seed", str(seed),
                                    "--out", str(out)], stdout=handle, stderr=subprocess.STDOUT)
        print(f"seed {seed}: exit {code} after {time.perf_counter() - started:.0f}s", flush=True)
        if code != 0:
            raise SystemExit(f"seed {seed}: hermes4 run failed (exit {code}); see {log}; rerun to resume")
        marker = read_marker(resolved, "report")
    assert marker is not None
    summary = STAGE_OBJECTS["report"].read_summary(marker.get("summary"))
    if summary is None or not getattr(summary, "effects", None):
        raise SystemExit(f"seed {seed}: {out}/stages/report.json has no effects (a run of an older version?)")
    seconds = sum(float((read_marker(resolved, s) or {}).get("seconds") or 0.0) for s in resolved.recipe.stages())
    return SeedRun(seed, out, list(summary.effects), seconds, fresh)


def effect_table(runs: list[SeedRun]) -> tuple[str, list[dict[str, Any]]]:
    """The Markdown table (one row per effect) and its rows as JSON."""
    from hermes4.eval.metrics import bootstrap
    from hermes4.recipe.effects import wilson

    mark = {True: "yes", False: "no", None: "n/m"}
    lines = ["| effect | seeds showing it | share, 95% Wilson CI | figure: mean [95% bootstrap CI] | per seed |",
             "|---|---|---|---|---|"]
    rows = []
    for index, first in enumerate(runs[0].effects):
        per_seed = [run.effects[index] for run in runs]
        shown = sum(1 for e in per_seed if e.appeared)
        low, high = wilson(shown, len(runs))
        label, figure = FIGURES.get(first.number, ("", lambda v: 0.0))
        values = [figure(e.values) for e in per_seed if e.values]
        estimate = bootstrap(values, [1.0] * len(values), seed=first.number) if values else None
        mean = f"{label} {estimate.value:.1f} [{estimate.low:.1f}, {estimate.high:.1f}]" if estimate else "n/a"
        cells = "; ".join(f"s{run.seed} {mark[e.appeared]} ({figure(e.values):.1f})" if e.values else
                          f"s{run.seed} {mark[e.appeared]}" for run, e in zip(runs, per_seed))
        lines.append(f"| {first.number}. {first.name} | {shown}/{len(runs)} | {100 * low:.0f}-{100 * high:.0f}% | {mean} | {cells} |")
        rows.append({"effect": first.number, "name": first.name, "shown": shown, "seeds": len(runs),
                     "per_seed": [{"seed": run.seed, "appeared": e.appeared, "detail": e.detail, "values": e.values}
                                  for run, e in zip(runs, per_seed)]})
    return "\n".join(lines), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="5", help="a count (5 = seeds 0..4) or a list (0,3,7)")
    parser.add_argument("--recipe", type=Path, default=Path("recipes/tiny.yaml"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench_fidelity"), help="one seed-S folder per seed")
    parser.add_argument("--quick", action="store_true", help="a shrunk copy of the recipe (smoke test, not a measurement)")
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.recipe.is_file():
        print(f"--recipe: no such file {args.recipe}", file=sys.stderr)
        return 2
    recipe = quick_recipe(args.recipe, args.out) if args.quick else args.recipe
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [run_seed(recipe, seed, args.out / f"seed-{seed}", args.out) for seed in seeds]
    table, rows = effect_table(runs)
    print(f"\n{recipe}, seeds {', '.join(map(str, seeds))} (run times: "
          + ", ".join(f"s{r.seed} {r.seconds:.0f}s{'' if r.ran_now else ' (reused)'}" for r in runs) + ")\n")
    print(table)
    for run in runs:
        print(f"\nseed {run.seed} ({run.out}):")
        for effect in run.effects:
            print(f"  {effect.number}. {'appeared' if effect.appeared else 'NOT' if effect.appeared is False else 'not measured'}: "
                  f"{effect.detail}")
    (args.out / "fidelity.json").write_text(json.dumps({"recipe": str(recipe), "seeds": seeds, "effects": rows,
                                                        "seconds": {r.seed: r.seconds for r in runs}}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
