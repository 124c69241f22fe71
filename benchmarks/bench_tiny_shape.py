"""The tiny recipe's model shape as a lever (issue 19): training-step throughput of recipes/tiny.yaml's model with
head_dim 16 (4 query / 2 KV heads, the recipe's) vs head_dim 64 (1 / 1 heads: the head size vLLM's CPU attention
serves), everything else equal (hidden 64, 2 layers, MLP 512, vocab 2048, untied).

Each shape is a fresh `hermes4.train.tiny.init_tiny` model; a step is forward + backward + AdamW on `--rows` rows of
`--seq-len` random token ids (the SFT stage's micro-batch), on one thread like each of the demo's two trainer
processes. The shapes alternate `--repeats` times so a shared machine's load falls on both; prints tokens/s per
run and the median ratio.

    .venv/bin/python benchmarks/bench_tiny_shape.py [--steps 20] [--rows 2] [--seq-len 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

SHAPES = {"head_dim 16 (4/2 heads)": (4, 2), "head_dim 64 (1/1 heads)": (1, 1)}


def tokens_per_s(heads: int, kv_heads: int, args: argparse.Namespace) -> float:
    import torch
    from transformers import AutoModelForCausalLM

    from hermes4.train.tiny import TinySize, init_tiny

    size = TinySize(hidden_size=64, num_layers=2, num_heads=heads, num_kv_heads=kv_heads, intermediate_size=512,
                    tie_embeddings=False)
    with tempfile.TemporaryDirectory(prefix="bench-shape-") as tmp:
        init_tiny(tmp, size=size, vocab_size=2048, seed=0)
        model = AutoModelForCausalLM.from_pretrained(tmp, attn_implementation="sdpa")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (args.rows, args.seq_len), generator=generator)
    timed = 0.0
    for step in range(args.steps + 2):
        started = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= 2:  # the first steps allocate
            timed += time.perf_counter() - started
    return args.steps * args.rows * args.seq_len / timed


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if min(args.steps, args.rows, args.seq_len, args.repeats, args.threads) < 1:
        print("--steps, --rows, --seq-len, --repeats and --threads must be at least 1", flush=True)
        return 2
    torch.set_num_threads(args.threads)
    results: dict[str, list[float]] = {name: [] for name in SHAPES}
    for repeat in range(args.repeats):
        for name, (heads, kv_heads) in SHAPES.items():
            rate = tokens_per_s(heads, kv_heads, args)
            results[name].append(rate)
            print(f"repeat {repeat}: {name}: {rate:,.0f} tokens/s", flush=True)
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    baseline, lever = medians.values()
    for name, value in medians.items():
        print(f"median {name}: {value:,.0f} tokens/s")
    print(f"ratio head_dim 64 / head_dim 16: {lever / baseline:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
