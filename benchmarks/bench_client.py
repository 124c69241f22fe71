"""Client throughput: our `OpenAIClient` vs a bare `openai.AsyncOpenAI` + semaphore loop, same server, same requests.

    .venv/bin/python benchmarks/bench_client.py [--requests 5000] [--concurrency 256] [--rounds 2]

The server is `hermes4 serve --scripted hermes4.llm.scripts:echo` in its own process, so what differs
between the two runs is the client's CPU. Ours runs with everything on: retries, balancing,
accounting, adaptive concurrency, the stall watchdog, and every result through the parse layer.
Both clients send identical chat requests; rounds alternate (ours, bare, ours, bare, ...) and the
best round of each is reported, with client CPU seconds per 1,000 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time

import openai

from hermes4.chat.messages import Conversation
from hermes4.llm import OpenAIClient, Sampling


def start_server() -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hermes4", "serve", "--scripted", "hermes4.llm.scripts:echo", "--port", "0", "--max-batch", "64"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.match(r"hermes4 serve: (\S+) on (http://\S+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return process, match.group(2), match.group(1)


async def run_ours(base_url: str, model: str, prompts: list[str], concurrency: int) -> tuple[float, float, str]:
    client = OpenAIClient(base_url, model=model, max_concurrency=concurrency)
    sampling = Sampling(max_tokens=64)
    conversations = [Conversation.parse([{"role": "user", "content": p}]) for p in prompts]
    started, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(client.chat(c, sampling=sampling) for c in conversations))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert all(r[0].parsed.content == f"You said: {p}" for r, p in zip(results, prompts))
    summary = client.stats().summary()
    await client.aclose()
    return wall, cpu, summary


async def run_bare(base_url: str, model: str, prompts: list[str], concurrency: int) -> tuple[float, float, str]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused")
    semaphore = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> str:
        async with semaphore:
            response = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=64,
                temperature=0.6,
                top_p=0.95,
                extra_body={"top_k": 20, "chat_template_kwargs": {"thinking": False}},
            )
            return response.choices[0].message.content

    started, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(one(p) for p in prompts))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert all(r == f"You said: {p}" for r, p in zip(results, prompts))
    await client.close()
    return wall, cpu, ""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    process, base_url, model = start_server()
    try:
        warm = [f"warm {i}" for i in range(300)]
        await run_ours(base_url, model, warm, args.concurrency)
        await run_bare(base_url, model, warm, args.concurrency)
        best: dict[str, tuple[float, float, str]] = {}
        for round_index in range(args.rounds):
            prompts = [f"round {round_index} request {i}: what is {i} + {i}?" for i in range(args.requests)]
            for name, run in (("ours", run_ours), ("bare", run_bare)):
                wall, cpu, summary = await run(base_url, model, prompts, args.concurrency)
                print(f"round {round_index} {name}: {args.requests / wall:8.1f} req/s, client CPU {1000 * cpu / args.requests:.3f} s per 1k requests")
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu, summary)
    finally:
        process.terminate()
        process.wait(10)
    ours_rate = args.requests / best["ours"][0]
    bare_rate = args.requests / best["bare"][0]
    print(f"\n{args.requests} requests, concurrency {args.concurrency}, best of {args.rounds} rounds")
    print(f"hermes4 OpenAIClient       : {ours_rate:8.1f} req/s  (client CPU {1000 * best['ours'][1] / args.requests:.3f} s / 1k requests)")
    print(f"openai.AsyncOpenAI + sem.  : {bare_rate:8.1f} req/s  (client CPU {1000 * best['bare'][1] / args.requests:.3f} s / 1k requests)")
    print(f"throughput ratio ours/bare : {ours_rate / bare_rate:.2f}")
    print(f"our accounting             : {best['ours'][2]}")


if __name__ == "__main__":
    asyncio.run(main())
