"""Generation engines side by side: vLLM (`hermes4 serve --engine vllm`, the engine venv) vs `hermes4 serve --model`
(transformers in process), same model folder, same chat requests, one after the other on the same machine.

    .venv/bin/python benchmarks/bench_engines.py [--model DIR] [--requests 64] [--max-tokens 200]

Without --model, a tiny Qwen3 with 2 heads of 64 (hidden 128; vLLM's CPU attention refuses head_dim 16) is made
with `hermes4 tiny init`. All requests are sent at once through the official async client; generated tokens are
the servers' own `usage.completion_tokens`. Start-up is the time from launching the command to its ready line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import openai

from hermes4.llm.spawn import serve


async def generate(url: str, model: str, requests: int, max_tokens: int) -> tuple[int, float]:
    client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=3600)
    prompts = [f"Request {i}: write a long story about the number {i}." for i in range(requests)]

    async def one(prompt: str) -> int:
        response = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0,
            extra_body={"ignore_eos": True, "min_tokens": max_tokens})
        return response.usage.completion_tokens

    started = time.perf_counter()
    tokens = await asyncio.gather(*(one(p) for p in prompts))
    wall = time.perf_counter() - started
    await client.close()
    return sum(tokens), wall


def measure(label: str, command: list[str], model: str, requests: int, max_tokens: int, log: Path) -> dict:
    started = time.perf_counter()
    with serve(command, startup_timeout=1800, log=log) as served:
        startup = time.perf_counter() - started
        asyncio.run(generate(served.url, model, 2, 8))  # warm-up: first-request costs are not throughput
        tokens, wall = asyncio.run(generate(served.url, model, requests, max_tokens))
    result = {"label": label, "startup_s": startup, "tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall}
    print(f"{label:<28} start-up {startup:6.1f} s   {tokens:6d} tokens in {wall:7.2f} s   {tokens / wall:8.1f} tokens/s",
          flush=True)
    return result


def tiny_head64(work: Path) -> str:
    """A tiny Qwen3 vLLM's CPU attention can run (hidden 128, 2 heads of 64; the default tiny model has head_dim 16)."""
    from hermes4.train.tiny import TinySize, init_tiny

    return str(init_tiny(work / "tiny64", size=TinySize(hidden_size=128, num_heads=2, num_kv_heads=1,
                                                        intermediate_size=256, max_position_embeddings=2048)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: a tiny Qwen3, 2 heads of 64)")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--max-batch", type=int, default=64, help="hermes4 serve --max-batch")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    model = args.model or tiny_head64(work)
    print(f"model {model}; {args.requests} chat requests x {args.max_tokens} tokens, all at once; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    base = [sys.executable, "-m", "hermes4", "serve", "--model", model, "--name", "m", "--port", "0"]
    vllm = measure("vLLM (hermes4 serve --engine vllm)",
                   base + ["--engine", "vllm", "--max-model-len", "2048", "--log", str(work / "vllm-engine.log")],
                   "m", args.requests, args.max_tokens, work / "vllm.log")
    hf = measure("hermes4 serve --model", base + ["--max-batch", str(args.max_batch)], "m", args.requests,
                 args.max_tokens, work / "transformers.log")
    print(f"ratio vLLM / hermes4 serve: {vllm['tokens_per_s'] / hf['tokens_per_s']:.1f}x tokens/s; "
          f"start-up {vllm['startup_s']:.0f} s vs {hf['startup_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
