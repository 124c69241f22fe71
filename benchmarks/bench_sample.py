"""Rejection-sampling throughput: our engine vs a bare `openai` client loop, same server, same requests.

    .venv/bin/python benchmarks/bench_sample.py [--items 400] [--group-size 4] [--keep 2] [--concurrency 256]

A `hermes4 serve --scripted hermes4.teacher:teacher` server runs in another process. First our
engine samples the `procedural` env (waves, verification in a thread pool, journal writes, accounting);
then a bare `openai.AsyncOpenAI` loop sends exactly the requests our engine sent (same items, sample
indices, seeds and sampling settings, `asyncio.Semaphore(concurrency)`), and does nothing with the
answers (once with the client's defaults, once with a keep-alive pool as large as the concurrency). Both
print samples/s; the ratio is ours / bare (1.0 = the engine costs nothing over the wire). Verifier
throughput per env is measured by `benchmarks/bench_verify.py`.
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
        [sys.executable, "-m", "hermes4", "serve", "--scripted", "hermes4.teacher:teacher", "--port", "0", "--max-batch", str(max_batch)],
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


async def run_bare(url: str, config, requests: list[tuple[object, int]], concurrency: int, *, pooled: bool = False) -> float:
    import httpx
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    from hermes4.store import derive_seed

    spec = config.envs[0]
    # Default: the client as most scripts create it (httpx keeps at most 100 idle connections). Pooled: a
    # keep-alive pool as large as the concurrency, as a careful user would configure it.
    http_client = (
        DefaultAsyncHttpxClient(limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))
        if pooled
        else None
    )
    client = AsyncOpenAI(base_url=url, api_key="none", max_retries=2, http_client=http_client)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--keep", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--error-rate", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each runner is reported")
    args = parser.parse_args()

    from hermes4.envs import get_env
    from hermes4.sample import SampleConfig
    from hermes4.sample.engine import ITEMS_STREAM
    from hermes4.store import read_records

    walls: dict[str, list[float]] = {"ours": [], "bare": [], "pooled": []}
    server, url = start_server(args.error_rate, max_batch=args.concurrency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # Warm the server (imports, first batches) so neither runner pays for it.
            warm_items = get_env("procedural:n=64").items("train", 99)
            warm_config = SampleConfig(envs=["procedural:n=64"], llm=url, out=Path(tmp) / "warm", max_tokens=args.max_tokens)
            asyncio.run(run_bare(url, warm_config, [(item, 0) for item in warm_items], args.concurrency))
            for round_index in range(args.rounds):
                out = Path(tmp) / f"out{round_index}"
                config, result, ours_wall = asyncio.run(run_ours(url, out, args))
                drawn = {e["meta"]["item_id"]: e["meta"]["counts"]["samples"] for e in read_records(out, stream=ITEMS_STREAM)}
                items = get_env(config.envs[0]).items(config.split, config.seed)
                requests = [(item, index) for item in items for index in range(drawn.get(item.id, 0))]
                assert result.live.samples == len(requests), (result.live.samples, len(requests))
                walls["ours"].append(ours_wall)
                walls["bare"].append(asyncio.run(run_bare(url, config, requests, args.concurrency)))
                walls["pooled"].append(asyncio.run(run_bare(url, config, requests, args.concurrency, pooled=True)))
                n = len(requests)
                print(
                    f"round {round_index}: ours {n / walls['ours'][-1]:.1f}/s, bare {n / walls['bare'][-1]:.1f}/s, "
                    f"bare+pool {n / walls['pooled'][-1]:.1f}/s",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(10)

    n = len(requests)
    best = {name: n / min(values) for name, values in walls.items()}
    summary = result.summary[config.envs[0]]
    print(f"server: hermes4 serve --scripted procedural teacher (error rate {args.error_rate}), concurrency {args.concurrency}")
    print(f"work: {args.items} items, group {args.group_size}, keep {args.keep} -> {n} requests per round; accept rate {summary['accept_rate']:.3f}, pass rate {summary['pass_rate']:.3f}")
    print(f"{'runner (best of ' + str(args.rounds) + ')':<34}{'samples/s':>12}{'wall s':>10}")
    print(f"{'hermes4 sample engine':<34}{best['ours']:>12.1f}{min(walls['ours']):>10.2f}")
    print(f"{'bare openai AsyncOpenAI loop':<34}{best['bare']:>12.1f}{min(walls['bare']):>10.2f}")
    print(f"{'  same, keep-alive pool = conc.':<34}{best['pooled']:>12.1f}{min(walls['pooled']):>10.2f}")
    print(f"ratio ours / bare: {best['ours'] / best['bare']:.2f}; ours / bare with pool: {best['ours'] / best['pooled']:.2f}")


if __name__ == "__main__":
    main()
