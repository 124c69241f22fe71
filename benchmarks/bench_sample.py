"""Rejection-sampling throughput: our engine vs a bare `openai` client loop, same server, same requests.

    .venv/bin/python benchmarks/bench_sample.py [--items 400] [--group-size 4] [--keep 2] [--concurrency 256]

A `hermes4 serve --scripted hermes4.envs.procedural:teacher` server runs in another process. First our
engine samples the `procedural` env (waves, verification in a thread pool, journal writes, accounting);
then a bare `openai.AsyncOpenAI` loop sends exactly the requests our engine sent (same items, sample
indices, seeds and sampling settings, `asyncio.Semaphore(concurrency)`), and does nothing with the
answers. Both print samples/s; the ratio is ours / bare (1.0 = the engine costs nothing over the wire).
Last, verifier throughput per env: verifications/s of `Env.verify` on teacher answers, single thread.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_server(error_rate: float, max_batch: int) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, HERMES4_TEACHER_ERROR_RATE=str(error_rate))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes4", "serve", "--scripted", "hermes4.envs.procedural:teacher", "--port", "0", "--max-batch", str(max_batch)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, match.group(1)


async def run_ours(url: str, out: Path, args: argparse.Namespace):
    from hermes4.llm import connect
    from hermes4.sample import SampleConfig, Sampler
    from hermes4.sample.config import MUST_MATCH
    from hermes4.store import Store

    config = SampleConfig(
        envs=[f"procedural:n={args.items}"], llm=url, out=out, group_size=args.group_size, keep=args.keep,
        max_tokens=args.max_tokens, concurrency=args.concurrency, seed=1,
    )  # fmt: skip
    sampler = Sampler(config)
    llm = connect(url)
    with Store(out, config=config.fingerprint(), must_match=MUST_MATCH) as store:
        sampler.open(store)
        started = time.perf_counter()
        result = await sampler.run(llm)
        wall = time.perf_counter() - started
    await llm.aclose()
    return config, result, wall


async def run_bare(url: str, config, requests: list[tuple[object, int]], concurrency: int) -> float:
    from openai import AsyncOpenAI

    from hermes4.store import derive_seed

    spec = config.envs[0]
    client = AsyncOpenAI(base_url=url, api_key="none", max_retries=2)
    model = (await client.models.list()).data[0].id
    gate = asyncio.Semaphore(concurrency)

    async def one(item, index: int) -> None:
        async with gate:
            await client.chat.completions.create(
                model=model,
                messages=[m.to_openai() for m in item.prompt.messages],
                temperature=config.temperature,
                top_p=config.top_p,
                max_tokens=config.max_tokens,
                seed=derive_seed(config.seed, spec, item.id, index),
                extra_body={"top_k": config.top_k, "chat_template_kwargs": {"thinking": config.thinking}},
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(item, index) for item, index in requests))
    wall = time.perf_counter() - started
    await client.close()
    return wall


def verifier_throughput(n: int) -> list[tuple[str, float, str]]:
    """verifications/s of each env's checker on answers from the perfect teacher (single thread)."""
    from hermes4.envs import env_names, get_env
    from hermes4.envs.procedural import perfect_teacher
    from hermes4.llm import ScriptedEngine, Sampling

    rows = []
    for name in env_names():
        try:
            env = get_env(name)
            items = env.items("train", 0)[:n]
        except Exception as exc:  # an env that needs a dataset path or is unfinished: say so, go on
            rows.append((name, 0.0, f"skipped: {type(exc).__name__}: {str(exc)[:60]}"))
            continue
        engine = ScriptedEngine(perfect_teacher)

        async def rollouts():
            return await asyncio.gather(*(env.rollout(item, engine, Sampling(seed=i), thinking=True) for i, item in enumerate(items)))

        try:
            trajectories = asyncio.run(rollouts())
        except Exception as exc:
            rows.append((name, 0.0, f"skipped: rollout failed: {type(exc).__name__}: {str(exc)[:60]}"))
            continue
        started = time.perf_counter()
        verdicts = [env.verify(item, t) for item, t in zip(items, trajectories)]
        wall = time.perf_counter() - started
        passed = sum(v.status == "pass" for v in verdicts)
        rows.append((name, len(items) / wall, f"{len(items)} checks, {passed} passed"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--keep", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--error-rate", type=float, default=0.2)
    parser.add_argument("--verify-items", type=int, default=200)
    args = parser.parse_args()

    from hermes4.sample.engine import ITEMS_STREAM
    from hermes4.store import read_records

    server, url = start_server(args.error_rate, max_batch=args.concurrency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # Warm the server (imports, first batches) so neither runner pays for it.
            from hermes4.envs import get_env as _get_env
            from hermes4.sample import SampleConfig

            warm_items = _get_env("procedural:n=64").items("train", 99)
            warm_config = SampleConfig(envs=["procedural:n=64"], llm=url, out=Path(tmp) / "warm", max_tokens=args.max_tokens)
            asyncio.run(run_bare(url, warm_config, [(item, 0) for item in warm_items], args.concurrency))
            config, result, ours_wall = asyncio.run(run_ours(url, Path(tmp) / "out", args))
            drawn = {e["meta"]["item_id"]: e["meta"]["counts"]["samples"] for e in read_records(Path(tmp) / "out", stream=ITEMS_STREAM)}
        from hermes4.envs import get_env

        items = get_env(config.envs[0]).items(config.split, config.seed)
        requests = [(item, index) for item in items for index in range(drawn.get(item.id, 0))]
        bare_wall = asyncio.run(run_bare(url, config, requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(10)

    samples = result.live.samples
    assert samples == len(requests), (samples, len(requests))
    ours_rate, bare_rate = samples / ours_wall, len(requests) / bare_wall
    summary = result.summary[config.envs[0]]
    print(f"server: hermes4 serve --scripted procedural teacher (error rate {args.error_rate}), concurrency {args.concurrency}")
    print(f"work: {args.items} items, group {args.group_size}, keep {args.keep} -> {samples} requests; accept rate {summary['accept_rate']:.3f}, pass rate {summary['pass_rate']:.3f}")
    print(f"{'runner':<34}{'samples/s':>12}{'wall s':>10}")
    print(f"{'hermes4 sample engine':<34}{ours_rate:>12.1f}{ours_wall:>10.2f}")
    print(f"{'bare openai AsyncOpenAI loop':<34}{bare_rate:>12.1f}{bare_wall:>10.2f}")
    print(f"ratio ours / bare: {ours_rate / bare_rate:.2f}")
    print()
    print(f"{'env verifier':<20}{'checks/s':>12}  note")
    for name, rate, note in verifier_throughput(args.verify_items):
        print(f"{name:<20}{rate:>12.1f}  {note}")


if __name__ == "__main__":
    main()
