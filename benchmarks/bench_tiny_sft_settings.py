"""Training settings of the tiny recipe, side by side (issue 19's "faster CPU training" lever): the SFT stage's own
trainer (torchrun, 2 processes of 1 thread, gloo, FSDP2) on the same packed data for `--steps` steps under each
setting, the recipe's earlier settings first as the peer. Prints tokens/s per setting (steps after the first
`--skip`, so torch.compile's compile time is not counted; its total wall time is printed beside) and the ratio.

Needs a tiny-recipe run whose SFT stage has run (its `train-sft.json` and model folder):

    .venv/bin/python benchmarks/bench_tiny_sft_settings.py [--run runs/tiny] [--steps 80]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# name -> changes to the trainer config; each row keeps the rows above it. The first row is the settings before
# issue 19 (seq_len 1024, 4 rows per step of 2, FSDP resharding after forward, eager).
SETTINGS: list[tuple[str, dict]] = [
    ("before: seq 1024, reshard, eager", {"data.seq_len": 1024, "micro_batch_size": 2, "global_batch_size": 4,
                                           "parallel.reshard_after_forward": True, "parallel.compile": False}),
    ("+ no resharding after forward", {"parallel.reshard_after_forward": False}),
    ("+ seq 512 (8 rows of 512 per step)", {"data.seq_len": 512, "micro_batch_size": 4, "global_batch_size": 8}),
    ("+ torch.compile", {"parallel.compile": True}),
]


def _set(config: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        config = config.setdefault(key, {})
    config[leaf] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/tiny", help="a tiny-recipe run folder with train-sft.json")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--skip", type=int, default=20, help="steps left out of the rate (warm-up, compiling)")
    args = parser.parse_args()
    base = json.loads((Path(args.run) / "train-sft.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="bench-sft-settings-"))
    config = dict(base)
    rates = []
    try:
        for name, changes in SETTINGS:
            for key, value in changes.items():
                _set(config, key, value)
            out = work / f"run-{len(rates)}"
            config.update(output_dir=str(out), schedule={**base["schedule"], "steps": args.steps},
                          checkpoint={**base["checkpoint"], "every": 0})
            path = work / f"config-{len(rates)}.json"
            path.write_text(json.dumps(config))
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            "-m", "hermes4.train", str(path)], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
            wall = time.perf_counter() - started
            records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][args.skip:]
            rate = sum(r["tokens"] for r in records) / (records[-1]["elapsed_s"] - records[0]["elapsed_s"])
            rates.append(rate)
            print(f"{name:<38} {rate:>8,.0f} tokens/s  ({rate / rates[0]:.2f}x the first; {wall:.0f}s wall for "
                  f"{args.steps} steps)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
