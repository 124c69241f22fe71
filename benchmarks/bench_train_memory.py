"""Peak memory of one training rank's data path, old (in-memory lists) vs new (memory-mapped shard stores), at three
token counts in one run.

Each measurement is a fresh process that does what a rank does before its first step, then draws 32 micro-batches:
build the mix with the tiny tokenizer, pack globally, make the loader. After the imports and the tokenizer the
process resets its peak (`/proc/self/clear_refs` 5, Linux) and reads `VmHWM` at the end: "peak" is the process's
peak RSS during the data path, "delta" that peak minus its RSS before it (what the data costs). Pages of the
mapped shard files count in RSS once touched, but they are the page cache, shared by the ranks of a node and
dropped under pressure: "file" is that part at the end (RssFile growth), "private" = delta - file.

- old, cache miss: `build_mix` tokenizes into Python lists and an in-memory `TokenizedSamples` (what rank 0 did
  while the others waited at a barrier);
- old, cache hit: the cached arrays are loaded, then `select`/`concat` copy every token (what every rank did);
- new, first run: `build_mix(shared=...)` streams the source into shards (here one writer; with N ranks each
  writes 1/N of them), then maps them;
- new, mapped: the store exists (made by `hermes4 tokenize` or an earlier run): map, pack lengths, read batches.

    .venv/bin/python benchmarks/bench_train_memory.py                     # 1M, 2M, 4M tokens
    .venv/bin/python benchmarks/bench_train_memory.py --tokens 2e6 8e6 32e6
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("old-miss", "old-hit", "new-first", "new-mapped")
WORDS = "the of and to in is that for it as with was on be by this are from at or an have not which one".split()


def write_data(path: Path, tokens: int, tokenizer) -> int:
    """Conversations of ~400-token answers until `tokens` tokens; returns how many were written."""
    import random

    rng = random.Random(0)
    per = len(tokenizer.encode(" ".join(WORDS * 20))) / (len(WORDS) * 20)  # tokens per word, roughly
    written, total = 0, 0
    with path.open("w") as f:
        while total < tokens:
            answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(200, 600)))
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 40)))
            f.write(json.dumps({"messages": [{"role": "user", "content": question},
                                             {"role": "assistant", "content": answer}]}) + "\n")
            total += int((len(answer.split()) + len(question.split())) * per) + 30
            written += 1
    return written


def child(mode: str, data: str, cache: str, model: str) -> None:
    """One rank's data path; prints its peak RSS and what it built."""
    import numpy as np

    from hermes4.train.batches import PackedLoader
    from hermes4.train.data import TokenizeOptions
    from hermes4.train.mix import SharedTokenization, build_mix
    from hermes4.train.packing import pack
    from hermes4.train.vocab import training_tokenizer

    tokenizer, _ = training_tokenizer(model, "chatml")
    options = TokenizeOptions(max_length=4096)
    spec = {"sources": [{"path": data}]}
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    before, file_before = status_bytes("VmRSS"), status_bytes("RssFile")
    started = time.perf_counter()
    shared = SharedTokenization() if mode.startswith("new") else None
    samples, _ = build_mix(spec, tokenizer, options, cache_dir=cache, shared=shared)
    packing = pack(np.asarray(samples.lengths), 4096, seed=0)
    loader = PackedLoader(samples, packing, seq_len=4096, micro_batch_size=1, pad_token_id=0)
    for _ in range(32):
        next(loader)
    peak, file = status_bytes("VmHWM"), status_bytes("RssFile") - file_before
    print(json.dumps({"mode": mode, "peak_rss": peak, "delta": peak - before, "file": file,
                      "private": peak - before - file, "tokens": int(samples.num_tokens),
                      "seconds": time.perf_counter() - started}))


def status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def run_child(mode: str, data: Path, cache: Path, model: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(data), str(cache), str(model)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{mode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=float, nargs=3, default=[1e6, 2e6, 4e6], help="three dataset sizes")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "DATA", "CACHE", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from transformers import AutoTokenizer

    from hermes4.train.tiny import init_tiny

    work = Path(tempfile.mkdtemp(prefix="bench-train-memory-"))
    model = init_tiny(work / "model")
    tokenizer = AutoTokenizer.from_pretrained(model)
    rows = []
    for target in args.tokens:
        data = work / f"data-{int(target)}.jsonl"
        conversations = write_data(data, int(target), tokenizer)
        row = {"target": int(target), "conversations": conversations}
        for mode in MODES:
            cache = work / f"cache-{int(target)}-{mode.split('-')[0]}"  # miss then hit share a cache
            result = run_child(mode, data, cache, model)
            row[mode] = result["private"]
            row[f"{mode}-delta"] = result["delta"]
            row[f"{mode}-file"] = result["file"]
            row[f"{mode}-peak"] = result["peak_rss"]
            row["tokens"] = result["tokens"]
            row[f"{mode}-s"] = result["seconds"]
        rows.append(row)

    mib = 2**20
    print("private peak memory of the rank's data path: peak RSS - RSS before - mapped file pages (MiB, bytes/token)")
    print(f"{'tokens':>11} {'convs':>7} | " + " | ".join(f"{m:>20}" for m in MODES))
    for row in rows:
        cells = [f"{row[m] / mib:7.1f} MiB {row[m] / row['tokens']:5.1f} B/t" for m in MODES]
        print(f"{row['tokens']:>11,} {row['conversations']:>7,} | " + " | ".join(f"{c:>20}" for c in cells))
    first, last = rows[0], rows[-1]
    for mode in MODES:
        growth = (last[mode] - first[mode]) / (last["tokens"] - first["tokens"])
        print(f"{mode:>11}: {growth:6.2f} bytes per extra token ({last[mode] / max(first[mode], 1):.2f}x for "
              f"{last['tokens'] / first['tokens']:.1f}x tokens)")
    new, old = last["new-mapped"], last["old-hit"]
    print(f"at {last['tokens']:,} tokens: new-mapped / old-hit = {new / old:.3f}, "
          f"new-first / old-miss = {last['new-first'] / last['old-miss']:.3f}")
    print("mapped file pages at the end (page cache, shared): " + ", ".join(
        f"{m} {last[m + '-file'] / mib:.1f} MiB" for m in MODES))
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
