"""DataForge throughput and semantic-dedup time, each beside its peer in the same run.

    .venv/bin/python benchmarks/bench_forge.py [--walks 400] [--concurrency 256] [--dedup 100000,1000000]

1. Forge: the default graph (transform -> instruction -> answer -> judge, with revisions) over a scripted
   teacher served by `hermes4 serve` in another process, at `--concurrency`. Our engine runs the walks
   (graph checks, seeded choices, validation, journal writes); every chat request it makes is recorded.
   The peer is a bare `openai.AsyncOpenAI` loop that sends exactly those requests with the same
   concurrency and does nothing else. Prints records/s, walks/s and requests/s of both and the ratio
   (1.0 = the engine costs nothing beyond the model calls).
2. Semantic dedup with the built-in hashed embeddings: `exact` (blocked all-pairs) vs `ivf` (k-means cells)
   on N synthetic passages with 10% planted near-duplicates: seconds, removal rate, and the IVF's recall
   of exact's removals. Exact is skipped above --exact-max (it is quadratic: ~40 min at 1M on 2 cores).
3. Dedup of a near-duplicate cluster (web seeds have boilerplate clusters): --cluster near-copies of one
   passage among as many distinct ones, ivf vs exact: seconds and peak memory (tracemalloc, numpy included).
   IVF's memory must stay linear in the passages, not grow with the square of the cluster.

    .venv/bin/python benchmarks/bench_forge.py --walks 0 --dedup '' --cluster 12000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
TEACHER_DIR = HERE.parent / "tests" / "forge"


def start_server() -> tuple[subprocess.Popen, str]:
    import os

    env = {**os.environ, "PYTHONPATH": f"{TEACHER_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes4", "serve", "--scripted", "forge_teacher:teacher", "--port", "0", "--max-batch", "256"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, match.group(1)


class Recording:
    """An LLM wrapper that remembers every chat request, so the peer can replay exactly the same ones."""

    def __init__(self, llm):
        self.llm, self.requests = llm, []

    async def chat(self, conversation, *, sampling, thinking=False):
        self.requests.append((conversation, sampling))
        return await self.llm.chat(conversation, sampling=sampling, thinking=thinking)


async def bench_forge(url: str, walks: int, concurrency: int) -> None:
    import openai

    from hermes4.curate.passages import Passage
    from hermes4.forge.loader import load_graph
    from hermes4.forge.run import forge
    from hermes4.llm import connect

    passages = [Passage(id=f"p{i}", text=f"Passage {i}: the harbour of Vell keeps {i} boats and a lighthouse.") for i in range(walks)]
    llm = connect(url, max_concurrency=concurrency)
    recorder = Recording(llm)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        summary = await forge(load_graph("default"), passages, out, llms={"default": recorder, "judge": recorder}, concurrency=concurrency)
        ours = time.perf_counter() - started
    await llm.aclose()
    n = len(recorder.requests)

    client = openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(conversation, sampling):
        async with gate:
            await client.chat.completions.create(
                model="teacher", messages=[m.to_openai() for m in conversation.messages],
                temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens,
                seed=sampling.seed, extra_body={"top_k": sampling.top_k},
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(c, s) for c, s in recorder.requests))
    bare = time.perf_counter() - started
    await client.close()
    print(f"forge default graph: {walks} walks, {summary.accepted} accepted, {summary.discarded} discarded, {summary.records} records, {n} requests, concurrency {concurrency}")
    print(f"  ours : {ours:7.2f} s  {summary.records / ours:8.1f} records/s  {walks / ours:7.1f} walks/s  {n / ours:8.1f} requests/s")
    print(f"  bare : {bare:7.2f} s  {n / bare:8.1f} requests/s (the same {n} requests, nothing else)")
    print(f"  ratio ours/bare (requests/s): {bare / ours:.2f}")


def planted_corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20000)]
    originals = n - n // 10
    texts = [" ".join(rng.choices(vocab, k=60)) for _ in range(originals)]
    for _ in range(n - originals):
        words = texts[rng.randrange(originals)].split()
        for _ in range(4):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        texts.append(" ".join(words))
    return texts


def bench_dedup(sizes: list[int], exact_max: int) -> None:
    import numpy as np

    from hermes4.curate.dedup import semantic_dedup
    from hermes4.curate.embed import HashedEmbedder

    for n in sizes:
        texts = planted_corpus(n)
        t0 = time.perf_counter()
        emb = HashedEmbedder(256).embed(texts)
        embed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ivf = semantic_dedup(emb, 0.7, index="ivf")
        ivf_s = time.perf_counter() - t0
        line = f"dedup {n:>9,} passages (10% planted): embed {embed_s:6.1f} s | ivf {ivf_s:7.1f} s, removed {ivf.removed / n:.2%}"
        if n <= exact_max:
            t0 = time.perf_counter()
            exact = semantic_dedup(emb, 0.7, index="exact")
            exact_s = time.perf_counter() - t0
            both = int(np.sum(~exact.keep & ~ivf.keep))
            recall = both / max(exact.removed, 1)
            line += f" | exact {exact_s:7.1f} s, removed {exact.removed / n:.2%} | ivf recall {recall:.4f}, speed-up {exact_s / ivf_s:.1f}x"
        else:
            line += " | exact skipped (quadratic)"
        print(line, flush=True)


def cluster_corpus(cluster: int, seed: int = 0) -> list[str]:
    """`cluster` near-copies of one passage (a word or two changed), then as many distinct passages."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20000)]
    base = [rng.choice(vocab) for _ in range(60)]
    texts = []
    for _ in range(cluster):
        words = base[:]
        words[rng.randrange(len(words))] = rng.choice(vocab)
        texts.append(" ".join(words))
    texts += [" ".join(rng.choice(vocab) for _ in range(60)) for _ in range(cluster)]
    rng.shuffle(texts)
    return texts


def bench_cluster(cluster: int) -> None:
    import tracemalloc

    import numpy as np

    from hermes4.curate.dedup import semantic_dedup
    from hermes4.curate.embed import HashedEmbedder

    emb = HashedEmbedder(256).embed(cluster_corpus(cluster))
    results = {}
    for index in ("ivf", "exact"):
        tracemalloc.start()
        t0 = time.perf_counter()
        result = semantic_dedup(emb, 0.7, index=index)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        results[index] = (result, seconds, peak)
        print(f"dedup cluster of {cluster:,} + {cluster:,} distinct: {index:<5} {seconds:7.2f} s, peak {peak:8.1f} MiB, "
              f"removed {result.removed:,}", flush=True)
    (ivf, ivf_s, ivf_mb), (exact, exact_s, exact_mb) = results["ivf"], results["exact"]
    agree = int(np.sum(ivf.keep == exact.keep))
    print(f"  ivf/exact: time {ivf_s / exact_s:.2f}x, peak memory {ivf_mb / exact_mb:.2f}x; same decision for "
          f"{agree:,} of {len(emb):,} passages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--walks", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--dedup", default="100000,1000000", help="comma-separated corpus sizes ('' to skip)")
    parser.add_argument("--exact-max", type=int, default=200_000)
    parser.add_argument("--cluster", type=int, default=12_000, help="near-duplicate cluster size (0 to skip)")
    args = parser.parse_args()
    if args.walks:
        proc, url = start_server()
        try:
            asyncio.run(bench_forge(url, args.walks, args.concurrency))
        finally:
            proc.kill()
    if args.dedup:
        bench_dedup([int(x) for x in args.dedup.split(",")], args.exact_max)
    if args.cluster:
        bench_cluster(args.cluster)


if __name__ == "__main__":
    main()
