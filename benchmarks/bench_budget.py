"""A reasoning budget at serving time, two ways on the same vLLM server: vLLM's own `thinking_token_budget` (hermes4's
`--budget-mode engine`: one request, the engine forces `</think>`) vs hermes4's client-side fallback (`client`: a
request to the budget, `</think>` appended, a second request for the rest), plus the same requests without a budget.

    .venv/bin/python benchmarks/bench_budget.py [--model DIR] [--requests 32] [--max-tokens 200] [--budget 100] [--rounds 3]

Without --model, a tiny Qwen3 with 2 heads of 64 is made with `hermes4 tiny init` (vLLM's CPU attention refuses
head_dim 16). Every prompt opens `<think>` and the server gets `ignore_eos`, so every output reasons past the budget
and runs to max_tokens: the budget fires on every request and each way generates the same number of tokens. All
requests of a way are sent at once through `hermes4.llm.OpenAIClient`; tokens are the server's own usage counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hermes4.llm import OpenAIClient, Sampling
from hermes4.llm.budget import BudgetedLLM
from hermes4.llm.spawn import serve

sys.path.insert(0, str(Path(__file__).parent))
from bench_engines import tiny_head64  # noqa: E402  (the same tiny model as the engines bench)


def prompt(i: int) -> str:
    return f"<|im_start|>user\nRequest {i}: what is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n<think>\n"


async def one_way(client: OpenAIClient, mode: str | None, requests: int, sampling: Sampling, budget: int) -> dict:
    llm = client if mode is None else BudgetedLLM(client, budget, mode=mode)
    if isinstance(llm, BudgetedLLM) and mode == "engine":
        await llm._marker_ids()  # the one-time /tokenize of <think> and </think>, not per request
    before = client.stats().requests
    started = time.perf_counter()
    outs = await asyncio.gather(*(llm.complete(prompt(i), sampling=sampling) for i in range(requests)))
    wall = time.perf_counter() - started
    calls = client.stats().requests - before
    completions = [c for out in outs for c in out]
    return {"wall": wall, "tokens": sum(c.completion_tokens for c in completions), "calls": calls,
            "fired": sum(1 for c in completions if c.budget_fired), "closed": sum(1 for c in completions if "</think>" in c.text),
            "n": len(completions)}


async def measure(url: str, requests: int, max_tokens: int, budget: int, rounds: int) -> None:
    sampling = Sampling(max_tokens=max_tokens, temperature=0)
    ways = (("no budget", None), ("engine (thinking_token_budget)", "engine"), ("client (two requests)", "client"))
    async with OpenAIClient(url, model="m", extra_body={"ignore_eos": True}) as client:
        await one_way(client, None, requests, sampling, budget)  # warm-up at the measured batch size
        runs: dict[str, list[dict]] = {label: [] for label, _ in ways}
        for _ in range(rounds):  # the ways interleaved, so load changes on the shared box hit each alike
            for label, mode in ways:
                runs[label].append(await one_way(client, mode, requests, sampling, budget))
    medians = {}
    for label, results in runs.items():
        wall = statistics.median(r["wall"] for r in results)
        last = results[-1]
        medians[label] = wall
        print(f"{label:<32} {last['tokens']:6d} tokens in {wall:6.2f} s (median of {rounds})  {last['tokens'] / wall:8.1f} tokens/s  "
              f"{last['calls']:3d} requests  budget fired {last['fired']}/{last['n']}  </think> in {last['closed']}", flush=True)
    print(f"ratio client / engine wall time: {medians['client (two requests)'] / medians['engine (thinking_token_budget)']:.2f}x; "
          f"engine / no budget: {medians['engine (thinking_token_budget)'] / medians['no budget']:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: a tiny Qwen3, 2 heads of 64)")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-budget-"))
    model = args.model or tiny_head64(work)
    print(f"model {model}; {args.requests} requests x {args.max_tokens} tokens, reasoning budget {args.budget}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    command = [sys.executable, "-m", "hermes4", "serve", "--model", model, "--name", "m", "--port", "0", "--engine", "vllm",
               "--max-model-len", "2048", "--log", str(work / "vllm-engine.log")]
    with serve(command, startup_timeout=1800, log=work / "vllm.log") as served:
        asyncio.run(measure(served.url, args.requests, args.max_tokens, args.budget, args.rounds))


if __name__ == "__main__":
    main()
