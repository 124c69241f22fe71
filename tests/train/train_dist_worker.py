"""Run under `torchrun --nproc_per_node 2` (gloo): the multi-rank checks of the trainer, in one launch.

1. FSDP2 gradients of one step (2 ranks x 2 micro-batches, very uneven supervised-token counts, one
   micro-batch with none) equal a single-process reference: the token-mean loss over all four micro-batches.
2. The same with tensor parallel (dp 1 x tp 2) on the same data.
3. A 2-rank training run with checkpoints, then a resume from its middle checkpoint in a fresh directory:
   the resumed losses equal the uninterrupted ones.
Rank 0 writes the measurements as JSON to argv[2]; the pytest side asserts on them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from hermes4.train.batches import collate_rows
from hermes4.train.config import ParallelConfig, parse_train_config
from hermes4.train.data import TokenizedSamples
from hermes4.train.loss import CausalLMLoss
from hermes4.train.parallel import apply_parallelism, init_distributed
from hermes4.train.trainer import forward_backward, train


def make_micro_batches(vocab: int, seq_len: int = 48) -> list[list]:
    """[rank][micro] batches; supervised counts differ a lot, and rank 1's second micro-batch has none."""
    rng = np.random.default_rng(0)

    def doc(n: int, trained: float):
        ids = rng.integers(5, vocab - 1, n)
        mask = (rng.random(n) < trained).astype(np.int64)
        return ids, mask

    layout = [  # (documents per row: (length, trained fraction))
        [[(20, 0.9), (25, 0.8)], [(40, 0.1)]],
        [[(10, 1.0), (12, 1.0), (9, 0.5)], [(30, 0.0), (15, 0.0)]],
    ]
    return [[collate_rows([[doc(n, f) for n, f in row]], seq_len=seq_len, pad_token_id=0) for row in rank]
            for rank in layout]


def reference_grads(model_dir: str, batches: list[list]) -> tuple[float, dict[str, torch.Tensor]]:
    from transformers import AutoModelForCausalLM

    from hermes4.train.attention import document_attention_kwargs

    lm = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    total, count = 0.0, 0
    flat = [b for rank in batches for b in rank]
    losses = []
    for b in flat:
        out = lm(input_ids=b.input_ids, position_ids=b.position_ids, **document_attention_kwargs(b, lm))
        losses.append(F.cross_entropy(out.logits.float().view(-1, out.logits.shape[-1]), b.labels.view(-1),
                                      ignore_index=-100, reduction="sum"))
        count += b.num_supervised_tokens
    loss = torch.stack(losses).sum() / count
    loss.backward()
    total = float(loss.detach())
    return total, {n: p.grad.detach().clone() for n, p in lm.named_parameters() if p.grad is not None}


def sharded_grads(model_dir: str, batches_for_me: list, env, parallel: ParallelConfig):
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    model = apply_parallelism(CausalLMLoss(lm), env, parallel)
    loss_sum, count = forward_backward(model, batches_for_me, env)
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad
        if g is not None:
            g = g.full_tensor() if hasattr(g, "full_tensor") else g
            grads[name.removeprefix("lm.")] = g.detach().clone()
    return loss_sum / count, grads


def compare(ref: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> dict:
    worst = 0.0
    for name, g in ref.items():
        h = got[name]
        worst = max(worst, float((g - h).abs().max() / (g.abs().max() + 1e-12)))
    return {"max_rel_err": worst, "missing": sorted(set(ref) - set(got)), "extra": sorted(set(got) - set(ref))}


def main() -> None:
    model_dir, out_path, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    env = init_distributed(ParallelConfig())
    results: dict = {"world_size": env.world_size}
    from transformers import AutoConfig

    vocab = AutoConfig.from_pretrained(model_dir).vocab_size
    batches = make_micro_batches(vocab)
    results["counts"] = [[b.num_supervised_tokens for b in rank] for rank in batches]
    ref_loss, ref = reference_grads(model_dir, batches)

    # 1. FSDP2 over 2 data-parallel ranks.
    loss, got = sharded_grads(model_dir, batches[env.rank], env, ParallelConfig())
    results["fsdp"] = {"ref_loss": ref_loss, "loss": loss, **compare(ref, got)}

    # 1b. Meta-device build + rank-0 read + scatter gives the same model as every rank loading it.
    from hermes4.train.trainer import build_model, load_pretrained_shards

    cfg = parse_train_config({"model": {"path": model_dir, "attn_implementation": "sdpa"}})
    lm, pending = build_model(cfg, env)
    meta_model = apply_parallelism(CausalLMLoss(lm), env, ParallelConfig())
    load_pretrained_shards(meta_model, cfg, env)
    meta_loss, _ = forward_backward(meta_model, batches[env.rank], env)
    results["meta_init"] = {"pending": pending, "ref_loss": ref_loss, "loss": meta_loss / sum(map(sum, results["counts"]))}

    # 2. Tensor parallel over the same 2 ranks (dp 1): both ranks see all four micro-batches.
    from torch.distributed.device_mesh import init_device_mesh

    from hermes4.train.parallel import Distributed, sync_tp_replicated_grads

    mesh = init_device_mesh("cpu", (1, 2), mesh_dim_names=("dp", "tp"))
    tp_env = Distributed(rank=env.rank, world_size=2, local_rank=env.rank, device=env.device, backend="gloo",
                         mesh=mesh, dp_size=1, dp_rank=0, tp_size=2)
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    model = apply_parallelism(CausalLMLoss(lm), tp_env, ParallelConfig(tp=2))
    loss_sum, count = forward_backward(model, [b for rank in batches for b in rank], tp_env)
    sync_tp_replicated_grads(model, tp_env)
    tp_grads = {n.removeprefix("lm."): p.grad.full_tensor() for n, p in model.named_parameters()
                if p.grad is not None}
    results["tp"] = {"ref_loss": ref_loss, "loss": loss_sum / count, **compare(ref, tp_grads)}

    # 3. 2-rank training with checkpoints, and a resume from the middle in a fresh directory.
    rng = np.random.default_rng(1)
    samples = [(rng.integers(5, vocab - 1, n).tolist(), [0] * (n // 2) + [1] * (n - n // 2))
               for n in rng.integers(6, 40, 48)]
    if env.is_main:
        TokenizedSamples.from_lists(samples).save(work / "tok")
    dist.barrier()
    base = {"model": {"path": model_dir}, "data": {"tokenized": str(work / "tok"), "seq_len": 64},
            "global_batch_size": 4, "micro_batch_size": 1, "optim": {"lr": 3e-3},
            "schedule": {"steps": 4, "warmup_steps": 1}, "logging": {"progress": False},
            "checkpoint": {"every": 2, "keep": 5}, "export": {"enabled": True}}
    full = parse_train_config({**base, "output_dir": str(work / "full")})
    train(full, env=env)
    if env.is_main:
        shutil.copytree(work / "full" / "checkpoints" / "step_00000002", work / "resumed" / "checkpoints" / "step_00000002")
    dist.barrier()
    resumed = parse_train_config({**base, "output_dir": str(work / "resumed")})
    train(resumed, env=env)
    if env.is_main:
        read = lambda p: {r["step"]: r["loss"] for r in map(json.loads, p.read_text().splitlines())}
        results["resume"] = {"full": read(work / "full" / "metrics.jsonl"),
                             "resumed": read(work / "resumed" / "metrics.jsonl"),
                             "export_files": sorted(p.name for p in (work / "full" / "final").iterdir())}
        Path(out_path).write_text(json.dumps(results))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
