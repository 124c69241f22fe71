"""Packing benchmark: our global BFD vs TRL's BFD as TRL applies it (per map batch of 1,000) vs order-preserving first-fit.

All three pack the same Hermes-like lengths into 16,384-token rows in one run. The lengths follow the Hermes 4
data as the technical report describes it: ~5.1M samples, ~19B tokens, 3.5M reasoning samples averaging
about 5x the tokens of the 1.6M non-reasoning ones, capped at 16,384. Each group is lognormal (sigma 1.0)
with its median solved so that the mean AFTER rounding to integers and capping at 16,384 hits the target
(reasoning ~4,975, non-reasoning ~995 tokens: 3.5M x 4,975 + 1.6M x 995 = 19.0B); the two groups are
shuffled together.

TRL is called through its public API, `trl.pack_dataset(Dataset, seq_length, strategy="bfd")`, on a
`datasets.Dataset` whose `input_ids` column has exactly these lengths. So that 19B token ids need not be
materialised, the column is a large_list of Arrow nulls (no value buffer): TRL only reads list lengths and
offsets, and its result (rows, `seq_lengths`) is read back and checked to contain every token.

    .venv/bin/python benchmarks/bench_pack.py                 # the full 5.1M (TRL takes minutes)
    .venv/bin/python benchmarks/bench_pack.py --trl-samples 500000   # TRL on a prefix only
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

CAPACITY = 16384


def capped_lognormal_mean(median: float, sigma: float, cap: float) -> float:
    """E[min(X, cap)] for X lognormal(log(median), sigma)."""
    mu = math.log(median)
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    z = (math.log(cap) - mu) / sigma
    return math.exp(mu + sigma**2 / 2) * phi(z - sigma) + cap * (1 - phi(z))


def median_for_mean(target: float, sigma: float, cap: float) -> float:
    low, high = 1.0, cap
    for _ in range(100):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if capped_lognormal_mean(mid, sigma, cap) < target else (low, mid)
    return mid


def hermes_like_lengths(reasoning: int, plain: int, *, seed: int = 0, sigma: float = 1.0, cap: int = CAPACITY,
                        plain_mean: float = 995.0, ratio: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Lengths and, per sample, whether it is a reasoning sample."""
    rng = np.random.default_rng(seed)
    groups = []
    for count, mean in ((reasoning, plain_mean * ratio), (plain, plain_mean)):
        median = median_for_mean(mean, sigma, cap)
        groups.append(np.clip(np.rint(rng.lognormal(math.log(median), sigma, count)), 1, cap).astype(np.int64))
    lengths = np.concatenate(groups)
    is_reasoning = np.arange(len(lengths)) < reasoning
    order = rng.permutation(len(lengths))
    return lengths[order], is_reasoning[order]


def run_ours(lengths: np.ndarray, algo: str) -> dict:
    from hermes4.train.packing import pack

    start = time.perf_counter()
    packing = pack(lengths, CAPACITY, algo=algo, seed=0)
    seconds = time.perf_counter() - start
    assert (np.bincount(packing.items, minlength=len(lengths)) == 1).all(), "a sample lost or duplicated"
    assert int(packing.bin_loads().max()) <= CAPACITY
    return packing.summary(seconds)


def run_trl(lengths: np.ndarray) -> dict:
    import datasets
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets.table import InMemoryTable
    from trl import pack_dataset

    datasets.disable_progress_bars()
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    column = pa.LargeListArray.from_arrays(pa.array(offsets), pa.nulls(int(offsets[-1])))
    dataset = datasets.Dataset(InMemoryTable(pa.table({"input_ids": column})))
    start = time.perf_counter()
    packed = pack_dataset(dataset, CAPACITY, strategy="bfd")
    seconds = time.perf_counter() - start
    seq_lengths = packed.with_format("arrow")["seq_lengths"]
    docs = pc.list_flatten(seq_lengths)
    rows = len(packed)
    total = int(lengths.sum())
    assert int(pc.sum(docs).as_py()) == total and len(docs) == len(lengths), "TRL lost or cut tokens"
    assert int(pc.max(pc.list_value_length(packed.with_format("arrow")["input_ids"])).as_py()) <= CAPACITY
    return {"samples": len(lengths), "bins": rows, "lower_bound": -(-total // CAPACITY),
            "efficiency": total / (rows * CAPACITY), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasoning", type=int, default=3_500_000)
    parser.add_argument("--plain", type=int, default=1_600_000)
    parser.add_argument("--trl-samples", type=int, default=None, help="run TRL on this many samples (a prefix) only")
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    lengths, is_reasoning = hermes_like_lengths(args.reasoning, args.plain, seed=args.seed)
    print(f"lengths: {len(lengths):,} samples, {int(lengths.sum()):,} tokens; reasoning mean "
          f"{lengths[is_reasoning].mean():.0f}, non-reasoning mean {lengths[~is_reasoning].mean():.0f}, "
          f"median {int(np.median(lengths))}, at the cap {(lengths == CAPACITY).mean():.2%}")

    results = {"ours bfd": run_ours(lengths, "bfd"), "ours first-fit": run_ours(lengths, "first-fit")}
    if not args.skip_trl:
        subset = lengths if args.trl_samples is None else lengths[: args.trl_samples]
        if args.trl_samples is not None:
            results["ours bfd (TRL subset)"] = run_ours(subset, "bfd")
        results["trl bfd (per 1,000)"] = run_trl(subset)

    print(f"{'packer':24} {'samples':>10} {'bins':>10} {'lower bound':>12} {'efficiency':>11} {'seconds':>9}")
    for name, r in results.items():
        print(f"{name:24} {r['samples']:>10,} {r['bins']:>10,} {r['lower_bound']:>12,} {r['efficiency']:>11.4%} {r['seconds']:>9.2f}")
    ours = results["ours bfd (TRL subset)"] if "ours bfd (TRL subset)" in results else results["ours bfd"]
    if "trl bfd (per 1,000)" in results:
        trl = results["trl bfd (per 1,000)"]
        print(f"TRL / ours: {trl['seconds'] / ours['seconds']:.1f}x the time, {trl['bins'] / ours['bins']:.4f}x the bins "
              f"(rows of padding: {trl['bins'] - ours['bins']:,})")
    ff = results["ours first-fit"]
    print(f"first-fit / ours bfd: {ff['seconds'] / results['ours bfd']['seconds']:.1f}x the time, "
          f"{ff['bins'] / results['ours bfd']['bins']:.4f}x the bins")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
