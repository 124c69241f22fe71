"""Training throughput and peak memory: `hermes4 train` vs TRL's SFTTrainer (BFD packing, padding-free), same
tiny Qwen3 model, same pre-tokenized loss-masked samples, same optimizer and batch, on CPU.

    .venv/bin/python benchmarks/bench_train.py [--steps 12] [--seq-len 1024] [--rows 8] [--hidden 256] [--layers 4]
                                               [--repeats 1]

Each trainer runs in its own process (so peak RSS is its own); tokens/s (wall clock) and tokens per CPU-second
of the process are measured over the steps after the first two (startup, data preparation and the first-step
allocations excluded) from each trainer's own step times: ours from metrics.jsonl, TRL's from a
TrainerCallback. The trainers alternate `--repeats` times; prints one JSON line per run and the median ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARMUP_STEPS = 2


def make_inputs(work: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    import numpy as np

    from hermes4.train.data import TokenizedSamples
    from hermes4.train.tiny import TinySize, init_tiny

    size = TinySize(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.hidden // 64,
                    num_kv_heads=max(1, args.hidden // 128), intermediate_size=args.hidden * 3,
                    max_position_embeddings=max(8192, args.seq_len), tie_embeddings=True)
    model_dir = init_tiny(work / "model", size=size, seed=0)
    rng = np.random.default_rng(0)
    # Hermes-like mix: many short non-reasoning samples, fewer long reasoning ones; prompt ~30% untrained.
    lengths = np.concatenate([rng.integers(32, args.seq_len // 8, 300), rng.integers(args.seq_len // 4,
                                                                                     args.seq_len, 60)])
    rng.shuffle(lengths)
    samples = []
    for n in lengths.tolist():
        ids = rng.integers(5, 2000, n).tolist()
        prompt = int(n * 0.3)
        samples.append((ids, [0] * prompt + [1] * (n - prompt)))
    TokenizedSamples.from_lists(samples).save(work / "tokenized")
    return model_dir, work / "tokenized"


def run_ours(work: Path, model_dir: Path, tokenized: Path, args: argparse.Namespace) -> dict:
    import yaml

    train = {"model": {"path": str(model_dir), "attn_implementation": "sdpa"}, "output_dir": str(work / "ours"),
             "data": {"tokenized": str(tokenized), "seq_len": args.seq_len},
             "global_batch_size": args.rows, "micro_batch_size": args.micro,
             "optim": {"lr": 1e-4, "weight_decay": 0.0, "grad_clip": 1.0},
             "schedule": {"steps": args.steps, "warmup_steps": 1}, "parallel": {"mixed_precision": "fp32"},
             "checkpoint": {"every": 0, "keep": 1}, "export": {"enabled": False}, "logging": {"progress": False}}
    config = work / "ours.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    started = time.perf_counter()
    rss_kib, code = _run([sys.executable, "-m", "hermes4", "train", str(config)])
    wall = time.perf_counter() - started
    if code:
        raise SystemExit(f"hermes4 train failed with exit code {code}")
    records = [json.loads(line) for line in (work / "ours" / "metrics.jsonl").read_text().splitlines()]
    timed = records[WARMUP_STEPS:]
    seconds = timed[-1]["elapsed_s"] - records[WARMUP_STEPS - 1]["elapsed_s"]
    cpu_seconds = timed[-1]["process_cpu_s"] - records[WARMUP_STEPS - 1]["process_cpu_s"]
    tokens = sum(r["tokens"] for r in timed)
    return {"trainer": "hermes4", "steps": len(records), "tokens_per_s": tokens / seconds,
            "tokens_per_cpu_s": tokens / cpu_seconds,
            "supervised_tokens_per_step": sum(r["supervised_tokens"] for r in records) / len(records),
            "tokens_per_step": sum(r["tokens"] for r in records) / len(records),
            "peak_rss_gib": rss_kib / 2**20, "wall_s": wall, "final_loss": records[-1]["loss"]}


def trl_worker(work: Path, model_dir: Path, tokenized: Path, args: argparse.Namespace) -> None:
    """Runs inside its own process: TRL SFTTrainer on the same samples, writes its timings as JSON."""
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from hermes4.train.data import TokenizedSamples

    samples = TokenizedSamples.load(tokenized, mmap=False)
    input_ids, labels = [], []
    for i in range(len(samples)):
        ids, mask = samples.sample(i)
        input_ids.append(ids.astype(np.int64).tolist())
        labels.append(np.where(mask.astype(bool), ids, -100).astype(np.int64).tolist())
    dataset = Dataset.from_dict({"input_ids": input_ids, "labels": labels})
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")

    class StepTimes(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []
            self.cpu: list[float] = []
            self.tokens: list[int] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())
            self.cpu.append(time.process_time())
            self.tokens.append(int(state.num_input_tokens_seen))

    times = StepTimes()
    config = SFTConfig(
        output_dir=str(work / "trl"), max_length=args.seq_len, packing=True, packing_strategy="bfd",
        padding_free=True, per_device_train_batch_size=args.micro, gradient_accumulation_steps=args.rows // args.micro,
        max_steps=args.steps, learning_rate=1e-4, weight_decay=0.0, max_grad_norm=1.0, warmup_steps=1,
        lr_scheduler_type="cosine", logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, bf16=False,
        dataloader_num_workers=0, include_num_input_tokens_seen="non_padding", disable_tqdm=True, seed=0,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         callbacks=[times])
    trainer.train()
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    seconds = times.ends[-1] - times.ends[WARMUP_STEPS - 1]
    tokens = times.tokens[-1] - times.tokens[WARMUP_STEPS - 1]
    (work / "trl.json").write_text(json.dumps({
        "steps": len(times.ends), "tokens_per_s": tokens / seconds,
        "tokens_per_cpu_s": tokens / (times.cpu[-1] - times.cpu[WARMUP_STEPS - 1]), "tokens_per_step": times.tokens[-1] / len(times.ends),
        "final_loss": losses[-1] if losses else None}))


def run_trl(work: Path, model_dir: Path, tokenized: Path, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    rss_kib, code = _run([sys.executable, __file__, "--trl-worker", str(work), "--model", str(model_dir),
                          "--tokenized", str(tokenized), *_shared_flags(args)])
    wall = time.perf_counter() - started
    if code:
        raise SystemExit(f"TRL worker failed with exit code {code}")
    return {"trainer": "trl-sft", **json.loads((work / "trl.json").read_text()), "peak_rss_gib": rss_kib / 2**20,
            "wall_s": wall}


def _shared_flags(args: argparse.Namespace) -> list[str]:
    return ["--steps", str(args.steps), "--seq-len", str(args.seq_len), "--rows", str(args.rows),
            "--micro", str(args.micro), "--hidden", str(args.hidden), "--layers", str(args.layers)]


def _run(command: list[str]) -> tuple[int, int]:
    """Run to completion; returns (peak RSS of that process in KiB, exit code)."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=8, help="packed rows per optimizer step")
    parser.add_argument("--micro", type=int, default=2, help="rows per forward pass")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each trainer")
    parser.add_argument("--trl-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tokenized", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trl_worker:
        trl_worker(Path(args.trl_worker), Path(args.model), Path(args.tokenized), args)
        return
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        work = Path(tmp)
        model_dir, tokenized = make_inputs(work, args)
        # Alternate the two trainers, so load from other work on a shared machine hits both alike.
        for repeat in range(args.repeats):
            run_dir = work / f"repeat{repeat}"
            run_dir.mkdir()
            ours = run_ours(run_dir, model_dir, tokenized, args)
            trl = run_trl(run_dir, model_dir, tokenized, args)
            print(json.dumps({"repeat": repeat, **ours}))
            print(json.dumps({"repeat": repeat, **trl}))
            ratios.append((ours["tokens_per_s"] / trl["tokens_per_s"],
                           ours["tokens_per_cpu_s"] / trl["tokens_per_cpu_s"],
                           ours["peak_rss_gib"] / trl["peak_rss_gib"]))

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    print(json.dumps({
        "tokens_per_s_ratio_hermes4_over_trl_median": median([r[0] for r in ratios]),
        "tokens_per_s_ratios": [r[0] for r in ratios],
        # CPU time per token is far less sensitive than wall time to other work on a shared machine
        "tokens_per_cpu_s_ratio_hermes4_over_trl_median": median([r[1] for r in ratios]),
        "tokens_per_cpu_s_ratios": [r[1] for r in ratios],
        "peak_rss_ratio_hermes4_over_trl_median": median([r[2] for r in ratios])}))


if __name__ == "__main__":
    main()
