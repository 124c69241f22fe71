"""Eval wall time with a slow scorer: scoring overlapped with generation (ours) vs generate-then-score (peer).

    .venv/bin/python benchmarks/bench_eval.py [--scorer code|sleep] [--repeats 12] [--latency 1.0] [--concurrency 8]

The same `run_eval` runs twice on the same items, model and settings; only `overlap` differs. The model is
the scripted student behind the OpenAI API (`hermes4 serve` app on loopback, requests through our client)
with a fixed per-request latency, so generation time is known. The scorer is either the real LiveCodeBench
checker (every test of every sample in the sandbox, ~tens of ms per run) or MATH-500's math-verify check plus
a fixed sleep. Generate-then-score is what a harness does when it first collects all completions, then
grades them (lighteval's default flow); overlapping hides the scoring behind the generation still in
flight. Both runs must produce identical metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "eval"))


def slow_task(score_ms: float):
    """MATH-500 items whose checker is math-verify plus `score_ms` of extra work."""
    from hermes4.envs import Env
    from hermes4.eval import load_task

    task = load_task("math500")
    inner = task.env

    class SlowMath(Env):
        name = "slow_math"
        check_timeout_s = 30.0

        def items(self, split: str = "test", seed: int = 0):
            return task.items

        def verify(self, item, trajectory):
            time.sleep(score_ms / 1000)
            return inner.verify(item, trajectory)

    task.env = SlowMath()
    return task


async def one(tasks, url: str, out: Path, args, *, overlap: bool) -> tuple[float, list, int, float]:
    from hermes4.eval import read_samples, run_eval
    from hermes4.llm import OpenAIClient

    client = OpenAIClient(url, max_concurrency=args.concurrency)
    try:
        started = time.perf_counter()
        run = await run_eval(
            tasks, client, out, thinking=args.thinking, repeats=args.repeats, max_tokens=512, concurrency=args.concurrency,
            score_concurrency=args.score_concurrency, overlap=overlap,
        )  # fmt: skip
        wall = time.perf_counter() - started
    finally:
        await client.aclose()
    records = read_samples(out)
    first_sent = min(r["timing"]["generated_at"] - r["timing"]["generate_s"] for r in records)
    generation_s = max(r["timing"]["generated_at"] for r in records) - first_sent
    return wall, run.cells, len(records), generation_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scorer", choices=("code", "sleep"), default="code")
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model request")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--score-concurrency", type=int, default=2, help="checker threads (the machine has 2 cores)")
    parser.add_argument("--score-ms", type=float, default=40.0, help="extra checker time per sample (--scorer sleep)")
    parser.add_argument("--thinking", default="both")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best wall of each side counts")
    args = parser.parse_args()

    import eval_scripts

    from hermes4.eval import load_task
    from hermes4.llm import ScriptedEngine
    from hermes4.llm.server import start_server

    async def paced(request):
        await asyncio.sleep(args.latency)
        return eval_scripts.respond(request)

    tasks = [load_task("livecodebench")] if args.scorer == "code" else [slow_task(args.score_ms)]
    with start_server(ScriptedEngine(paced, name="student", max_batch=256), model_name="student") as server, tempfile.TemporaryDirectory() as tmp:
        walls: dict[str, list[float]] = {"overlapped": [], "generate-then-score": []}
        cells: dict[str, list] = {}
        spans: dict[str, list[float]] = {}
        for round_ in range(args.rounds):
            for name, overlap in (("overlapped", True), ("generate-then-score", False)):
                wall, cell, samples, generation_s = asyncio.run(one(tasks, server.base_url, Path(tmp) / f"{name}-{round_}", args, overlap=overlap))
                walls[name].append(wall)
                spans.setdefault(name, []).append(generation_s)
                cells.setdefault(name, cell)
                print(f"round {round_ + 1} {name:20} {wall:7.2f} s  ({samples} samples; first request to last completion {generation_s:.2f} s)", flush=True)
    if cells["overlapped"] != cells["generate-then-score"]:
        raise SystemExit("the two runs disagree on the metrics")
    best = {k: min(v) for k, v in walls.items()}
    generation = min(spans["generate-then-score"])  # nothing else runs while it generates
    print(f"\n{tasks[0].name} ({args.scorer} scorer), {samples} samples, {args.concurrency} requests in flight at {args.latency:.2f} s each "
          f"(generation alone {generation:.1f} s, scoring alone ~{best['generate-then-score'] - generation:.1f} s), {args.score_concurrency} checker threads")
    print(f"overlapped:          {best['overlapped']:.2f} s")
    print(f"generate-then-score: {best['generate-then-score']:.2f} s")
    print(f"ratio (generate-then-score / overlapped): {best['generate-then-score'] / best['overlapped']:.2f}x; identical metrics")


if __name__ == "__main__":
    main()
