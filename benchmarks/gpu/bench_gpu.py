"""GPU benchmark of the trainer, prepared to run offline on one GPU in at most 8 minutes.

Parts, each in its own process (a clean CUDA context and peak-memory counter each), on the same packed data
(random token ids in documents whose lengths follow the Hermes 4 mixture: lognormal, mean ~3,800 tokens, capped
at the row), rows of 16,384 tokens, bf16 compute over fp32 master weights, activation checkpointing on:

- ours: hermes4's step (`hermes4.train.trainer.forward_backward`, FSDP2 on one rank, flex attention with a
  document block mask, chunked cross-entropy, AdamW): tokens/s and document-aware MFU (attention FLOPs from the
  real documents' sum of squared lengths, `hermes4.train.metrics.training_flops`);
- trl: TRL's `SFTTrainer` on the same documents (packing, padding-free, the same attention implementation and
  settings), tokens/s and MFU on the same FLOPs count; printed as the ratio ours / TRL;
- numerics: one packed batch through the same weights with flex attention and with SDPA + a 4-D block mask:
  max |logit difference|, loss difference, gradient cosine.

Shapes: Qwen3-1.7B in full; Qwen3-8B with its width and head layout but `--layers-8b` layers (default 8) so that
fp32 weights + AdamW states fit one 80 GB GPU without sharding (the per-layer work, which MFU measures, is the
8B's; the embedding and head are a larger share than in the full model).

    bash benchmarks/gpu/run.sh                          # on the GPU box: installs the carried wheels, runs all
    python benchmarks/gpu/bench_gpu.py --smoke          # CPU check of every part on a tiny shape
    python benchmarks/gpu/bench_gpu.py --shapes qwen3-1.7b --no-trl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

SHAPES = ("qwen3-1.7b", "qwen3-8b")
PARTS = ("ours", "trl", "numerics")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--no-trl", action="store_true", help="skip TRL (same as leaving it out of --parts)")
    parser.add_argument("--seq-len", type=int, default=16384, help="packed row length")
    parser.add_argument("--steps", type=int, default=6, help="measured optimizer steps per part")
    parser.add_argument("--warmup", type=int, default=3, help="steps before timing (compilation, allocator)")
    parser.add_argument("--layers-8b", type=int, default=8, help="layers of the Qwen3-8B shape (fits one GPU)")
    parser.add_argument("--mean-doc", type=int, default=3800, help="mean document length (Hermes 4: ~3,800)")
    parser.add_argument("--attn", default="flex_attention", help="our attention (and TRL's)")
    parser.add_argument("--budget-s", type=float, default=450, help="stop starting parts after this many seconds")
    parser.add_argument("--part-timeout-s", type=float, default=240)
    parser.add_argument("--out", default=None, help="write the results JSON here")
    parser.add_argument("--smoke", action="store_true", help="tiny shape on CPU, every part, fp32, SDPA vs eager")
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)  # internal: run one part, print JSON
    parser.add_argument("--shape", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.no_trl:
        args.parts = [p for p in args.parts if p != "trl"]
    if args.smoke:
        args.seq_len, args.steps, args.warmup, args.mean_doc = 256, 2, 1, 60
        args.attn = "sdpa"
    return args


# ------------------------------------------------------------------------------------------------ shared setup

def model_config(shape: str, args: argparse.Namespace):
    from transformers import AutoConfig

    from hermes4.train.config import ARCHITECTURES

    fields = dict(ARCHITECTURES[shape])
    if args.smoke:
        fields.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=16, vocab_size=4096)
    elif shape == "qwen3-8b":
        fields["num_hidden_layers"] = args.layers_8b
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


def make_documents(vocab: int, args: argparse.Namespace, rows: int, seed: int = 0) -> list[list[int]]:
    """Random-id documents, lognormal lengths (sigma 1) with mean `mean_doc`, capped at the row, ~`rows` rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mu = np.log(args.mean_doc) - 0.5
    documents, total = [], 0
    while total < rows * args.seq_len:
        length = int(min(max(rng.lognormal(mu, 1.0), 16), args.seq_len))
        documents.append(rng.integers(10, vocab - 10, length).tolist())
        total += length
    return documents


def samples_of(documents: list[list[int]]):
    from hermes4.train.data import TokenizedSamples

    # the first tenth of each document is its "prompt" (no loss), the rest is trained
    return TokenizedSamples.from_lists([(d, [0] * (len(d) // 10) + [1] * (len(d) - len(d) // 10)) for d in documents])


def device_info() -> tuple[str, float | None]:
    import torch

    from hermes4.train.metrics import peak_flops_for

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return name, peak_flops_for(name)
    return "cpu", None


def synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------------------- parts

def part_ours(shape: str, args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from hermes4.train.batches import PackedLoader
    from hermes4.train.config import parse_train_config
    from hermes4.train.loss import CausalLMLoss
    from hermes4.train.metrics import ModelShape, training_flops
    from hermes4.train.packing import pack
    from hermes4.train.parallel import apply_parallelism, clip_grad_norm, init_distributed
    from hermes4.train.trainer import build_optimizer, forward_backward

    config = model_config(shape, args)
    cfg = parse_train_config({
        "model": {"path": "benchmark", "attn_implementation": args.attn}, "global_batch_size": 1,
        "micro_batch_size": 1, "data": {"seq_len": args.seq_len},
        "parallel": {"mixed_precision": "fp32" if args.smoke else "bf16", "activation_checkpointing": True},
        "optim": {"lr": 1e-5}})
    env = init_distributed(cfg.parallel)
    lm = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation=args.attn)
    lm.config.use_cache = False
    chunked = env.device.type == "cuda"
    model = apply_parallelism(CausalLMLoss(lm, chunk_tokens=cfg.loss.chunk_tokens if chunked else None), env,
                              cfg.parallel)
    model.to(env.device)
    model.train()
    samples = samples_of(make_documents(config.vocab_size, args, args.warmup + args.steps + 1))
    packing = pack(samples.lengths, args.seq_len, seed=0)
    loader = PackedLoader(samples, packing, seq_len=args.seq_len, micro_batch_size=1, pad_token_id=0)
    optimizer = build_optimizer(model, cfg, env.device)
    shape_info = ModelShape.from_hf_config(lm.config)
    tokens, flops, losses = 0, 0.0, []
    started = None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            synchronize()
            started = time.perf_counter()
            if env.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
        batch = next(loader).to(env.device)
        loss_sum, count = forward_backward(model, [batch], env)
        clip_grad_norm(model, cfg.optim.grad_clip, env)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss_sum / max(count, 1.0))
        if step >= args.warmup:
            tokens += batch.num_tokens
            flops += training_flops(shape_info, batch.num_tokens, batch.attention_flops_terms())
    synchronize()
    seconds = time.perf_counter() - started
    _, peak = device_info()
    out = {"tokens_per_s": tokens / seconds, "seconds": seconds, "tokens": tokens, "flops": flops,
           "loss_first": losses[0], "loss_last": losses[-1], "params": shape_info.params}
    if peak:
        out["mfu"] = flops / seconds / peak
    if env.device.type == "cuda":
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def part_trl(shape: str, args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, TrainerCallback

    try:
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer
    except ImportError as exc:
        return {"skipped": f"TRL not installed here ({exc.name}); benchmarks/gpu/prepare_wheels.sh carries it"}
    from hermes4.train.metrics import ModelShape, training_flops
    from hermes4.train.tiny import build_tokenizer

    config = model_config(shape, args)
    documents = make_documents(config.vocab_size, args, args.warmup + args.steps + 1)
    lm = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation=args.attn)
    wanted = {"output_dir": tempfile.mkdtemp(prefix="trl-bench-"), "max_steps": args.warmup + args.steps,
              "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1, "packing": True,
              "packing_strategy": "bfd", "padding_free": True, "max_length": args.seq_len,
              "max_seq_length": args.seq_len, "bf16": not args.smoke and torch.cuda.is_available(),
              "learning_rate": 1e-5, "lr_scheduler_type": "constant", "warmup_steps": 0, "logging_steps": 1,
              "report_to": [], "save_strategy": "no", "gradient_checkpointing": True, "max_grad_norm": 1.0,
              "optim": "adamw_torch_fused" if torch.cuda.is_available() else "adamw_torch",
              "dataloader_num_workers": 0, "use_cpu": not torch.cuda.is_available(), "seed": 0,
              "completion_only_loss": False}
    known = {f.name for f in dataclasses.fields(SFTConfig)}
    sft_args = SFTConfig(**{k: v for k, v in wanted.items() if k in known})
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            synchronize()
            times.append(-time.perf_counter())

        def on_step_end(self, *_, **__):
            synchronize()
            times[-1] += time.perf_counter()

    trainer = SFTTrainer(model=lm, args=sft_args, train_dataset=Dataset.from_dict({"input_ids": documents}),
                         processing_class=build_tokenizer("chatml"), callbacks=[StepTimer()])
    packed = trainer.train_dataset
    row_tokens = [len(ids) for ids in packed["input_ids"]]
    # FLOPs per row from its own documents (TRL records them as `seq_lengths` / position restarts)
    if "seq_lengths" in packed.column_names:
        doc_sq = [sum(n * n for n in lengths) for lengths in packed["seq_lengths"]]
    else:
        doc_sq = [float(n) ** 2 for n in row_tokens]
    trainer.train()
    measured = times[args.warmup:]
    seconds = sum(measured)
    mean_tokens = sum(row_tokens) / len(row_tokens)
    shape_info = ModelShape.from_hf_config(lm.config)
    flops = len(measured) * training_flops(shape_info, mean_tokens, sum(doc_sq) / len(doc_sq))
    _, peak = device_info()
    import trl

    out = {"tokens_per_s": len(measured) * mean_tokens / seconds, "seconds": seconds, "trl": trl.__version__,
           "rows": len(row_tokens), "mean_row_tokens": mean_tokens}
    if peak:
        out["mfu"] = flops / seconds / peak
    if torch.cuda.is_available():
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def part_numerics(shape: str, args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from hermes4.train.attention import document_attention_kwargs
    from hermes4.train.batches import collate_rows
    from hermes4.train.packing import pack

    config = model_config(shape, args)
    config.num_hidden_layers = min(config.num_hidden_layers, 2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float32 if args.smoke else torch.bfloat16
    other = "eager" if args.smoke else "sdpa"
    torch.manual_seed(0)
    models = {}
    for name in (args.attn, other):
        lm = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=name).to(device)
        if models:
            lm.load_state_dict(next(iter(models.values())).state_dict())
        models[name] = lm
    samples = samples_of(make_documents(config.vocab_size, args, 1, seed=5))
    packing = pack(samples.lengths, args.seq_len, seed=0)
    batch = collate_rows([[samples.sample(i) for i in packing.bin(0).tolist()]], seq_len=args.seq_len,
                         pad_token_id=0).to(device)
    results = {}
    for name, lm in models.items():
        logits = lm(input_ids=batch.input_ids, position_ids=batch.position_ids,
                    **document_attention_kwargs(batch, lm)).logits.float()
        keep = batch.labels != -100
        loss = torch.nn.functional.cross_entropy(logits[0][keep[0]], batch.labels[0][keep[0]])
        loss.backward()
        grads = torch.cat([p.grad.float().flatten() for p in lm.parameters() if p.grad is not None])
        results[name] = (logits.detach(), loss.item(), grads)
    (la, lossa, ga), (lb, lossb, gb) = results[args.attn], results[other]
    return {"compared": [args.attn, other], "dtype": str(dtype), "documents": int(batch.document_ids.max()) + 1,
            "max_abs_logit_diff": (la - lb).abs().max().item(), "loss": [lossa, lossb],
            "loss_abs_diff": abs(lossa - lossb),
            "grad_cosine": torch.nn.functional.cosine_similarity(ga, gb, dim=0).item()}


# ------------------------------------------------------------------------------------------------- driver

def run_part(part: str, shape: str, argv: list[str], timeout: float) -> dict:
    command = [sys.executable, __file__, *argv, "--part", part, "--shape", shape]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}",
                "stderr_tail": proc.stderr[-1500:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.part:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        result = {"ours": part_ours, "trl": part_trl, "numerics": part_numerics}[args.part](args.shape, args)
        print(json.dumps(result))
        return 0
    started = time.perf_counter()
    device, peak = device_info()
    import torch
    import transformers

    report: dict = {"device": device, "peak_flops": peak, "torch": torch.__version__,
                    "transformers": transformers.__version__, "seq_len": args.seq_len, "attn": args.attn,
                    "steps": args.steps, "warmup": args.warmup, "results": {}}
    for shape in args.shapes:
        for part in args.parts:
            if part == "numerics" and shape != args.shapes[0]:
                continue  # the attention kernels' numerics do not depend on the width: once is enough
            if time.perf_counter() - started > args.budget_s:
                report["results"][f"{shape}/{part}"] = {"skipped": "time budget spent"}
                continue
            result = run_part(part, shape, argv, args.part_timeout_s)
            report["results"][f"{shape}/{part}"] = result
            print(f"{shape:>11} {part:>8}: {json.dumps(result)[:300]}", flush=True)
        ours, trl = report["results"].get(f"{shape}/ours", {}), report["results"].get(f"{shape}/trl", {})
        if "tokens_per_s" in ours and "tokens_per_s" in trl:
            ratio = ours["tokens_per_s"] / trl["tokens_per_s"]
            report["results"][f"{shape}/ratio"] = ratio
            print(f"{shape:>11}    ratio: ours / TRL tokens/s = {ratio:.2f}x", flush=True)
    report["wall_s"] = time.perf_counter() - started
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)
    failed = [k for k, v in report["results"].items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
