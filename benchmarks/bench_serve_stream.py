"""Streaming from `hermes4 serve --model`: time to the first token, live vs the whole answer, and a client that leaves.

    .venv/bin/python benchmarks/bench_serve_stream.py [--tokens 400] [--rounds 3]

A tiny model (`hermes4 tiny init`, random weights, greedy decoding so every run writes `--tokens` tokens) is
served in-process with the transformers engine. Three measures, each the best of `--rounds`:

- first / last chunk of a live stream (raw SSE over httpx, /v1/completions) against a non-streamed request of the same length,
  which is when a replayed stream (the old behaviour: generate everything, then send it) could start;
- a 5-token request alone, and the same request sent right after a client read one chunk of a `--tokens`
  stream (or waited 0.3 s for it) and disconnected: with cancellation the second costs about the first, without it the whole
  abandoned generation runs first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import httpx

from hermes4.llm.hf import TransformersEngine
from hermes4.llm.server import start_server
from hermes4.train.tiny import init_tiny


def _has_text(line: str) -> bool:
    if not line.startswith("data: {"):
        return False
    return any(choice.get("text") for choice in json.loads(line[6:])["choices"])


def stream_times(base_url: str, body: dict) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = None
    chunks = 0
    with httpx.stream("POST", f"{base_url}/completions", json={**body, "stream": True}, timeout=600) as response:
        for line in response.iter_lines():
            if _has_text(line):
                chunks += 1
                if first is None:
                    first = time.perf_counter() - started
    return first or float("nan"), time.perf_counter() - started, chunks


def whole_time(base_url: str, body: dict) -> float:
    started = time.perf_counter()
    httpx.post(f"{base_url}/completions", json=body, timeout=600).raise_for_status()
    return time.perf_counter() - started


def abandon_stream(base_url: str, body: dict) -> None:
    """Read one token, or wait 0.3 s for it, then hang up (a user closing the tab)."""
    try:
        with httpx.stream("POST", f"{base_url}/completions", json={**body, "stream": True}, timeout=httpx.Timeout(600, read=0.3)) as response:
            for line in response.iter_lines():
                if _has_text(line):
                    return
    except httpx.ReadTimeout:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model_dir = init_tiny(tempfile.mkdtemp(prefix="bench-stream-"), format="chatml", seed=0)
    engine = TransformersEngine(model_dir, max_batch=8, device="cpu")
    # A raw completion: the random model's text (mostly whitespace, then word pieces) is streamed as written.
    prompt = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    long = {"model": "tiny", "prompt": prompt, "max_tokens": args.tokens, "temperature": 0}
    short = {"model": "tiny", "prompt": prompt, "max_tokens": 5, "temperature": 0}
    with start_server(engine, model_name="tiny") as server:
        whole_time(server.base_url, short)  # warm up
        firsts, lasts, wholes, alone, after = [], [], [], [], []
        chunks = 0
        for _ in range(args.rounds):
            first, last, chunks = stream_times(server.base_url, long)
            firsts.append(first)
            lasts.append(last)
            wholes.append(whole_time(server.base_url, long))
            alone.append(whole_time(server.base_url, short))
            abandon_stream(server.base_url, long)
            after.append(whole_time(server.base_url, short))
    print(f"tiny model, {args.tokens} tokens, greedy, CPU; best of {args.rounds} rounds")
    print(f"live stream: first chunk {min(firsts):8.3f} s, last {min(lasts):8.3f} s, {chunks} text chunks")
    print(f"whole answer (replay could start here): {min(wholes):8.3f} s")
    print(f"ratio time-to-first-token replay/live: {min(wholes) / min(firsts):.1f}x")
    print(f"5-token request alone:                     {min(alone):8.3f} s")
    print(f"5-token request after an abandoned stream: {min(after):8.3f} s  (worst {max(after):.3f} s)")
    print(f"ratio after/alone: {min(after) / min(alone):.2f}")


if __name__ == "__main__":
    main()
