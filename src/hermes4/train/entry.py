"""The trainer's entry point, shared by `hermes4 train` and `python -m hermes4.train` (torchrun): read what to train,
print a plan (steps, tokens, memory per GPU) or train, and print the result line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from hermes4.store import one_line_fault
from hermes4.train.config import (
    ConfigError,
    TrainConfig,
    load_length_control_config,
    load_train_config,
    parse_train_config,
)


def plan(cfg: TrainConfig, world_size: int) -> dict:
    """Steps, tokens and a per-GPU memory estimate for `cfg` on `world_size` GPUs (no model weights loaded)."""
    from hermes4.train.metrics import ModelShape, memory_plan, plan_record
    from hermes4.train.trainer import hf_config

    shape = ModelShape.from_hf_config(hf_config(cfg))
    plan = memory_plan(cfg, shape, world_size)
    tokens_per_step = cfg.global_batch_size * cfg.data.seq_len
    return {
        "model": cfg.model.path, "architecture": cfg.model.architecture, "params": shape.params,
        "world_size": world_size, "dp": plan.dp, "tp": plan.tp, "fsdp": cfg.parallel.fsdp,
        "micro_batch_size": cfg.micro_batch_size, "grad_accum": plan.grad_accum,
        "global_batch_size": cfg.global_batch_size, "seq_len": cfg.data.seq_len,
        "tokens_per_step": tokens_per_step, "steps": cfg.schedule.steps, "warmup_steps": cfg.schedule.warmup_steps,
        "decay": cfg.schedule.decay, "lr": cfg.optim.lr, "total_tokens": tokens_per_step * cfg.schedule.steps,
        "activation_checkpointing": cfg.parallel.activation_checkpointing,
        "memory_per_gpu_bytes": plan_record(plan),
    }


def print_plan(plan: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from hermes4.train.metrics import gib

    mem = plan["memory_per_gpu_bytes"]
    console = Console()
    console.print(f"[bold]{title}[/bold]")
    console.print(f"model      {plan['model']} ({plan['params'] / 1e9:.2f}B parameters)")
    console.print(f"parallel   {plan['world_size']} GPUs = dp {plan['dp']} x tp {plan['tp']}"
                  f"{', FSDP2' if plan['fsdp'] else ''}"
                  f"{', activation checkpointing' if plan['activation_checkpointing'] else ''}")
    console.print(f"batch      {plan['global_batch_size']} rows x {plan['seq_len']:,} tokens = "
                  f"{plan['tokens_per_step']:,} tokens/step (micro {plan['micro_batch_size']} x accum "
                  f"{plan['grad_accum']} per rank)")
    console.print(f"schedule   {plan['steps']:,} steps, {plan['warmup_steps']} warmup, {plan['decay']}, "
                  f"peak lr {plan['lr']:g} -> {plan['total_tokens'] / 1e9:.1f}B tokens")
    table = Table(title="memory per GPU (estimate)")
    table.add_column("part")
    table.add_column("size", justify="right")
    for key in ("params", "grads", "optimizer", "unsharded_compute_params", "activations", "logits", "total"):
        table.add_row(key.replace("_", " "), gib(mem[key]))
    console.print(table)


def load_training(config_path: str | Path, *, length_control: bool = False) -> TrainConfig:
    """What to train: a resolved `TrainConfig` as JSON (what `hermes4 run` hands the trainer: the config by value,
    nothing left to parse), or a recipe YAML's `train:` section (`length_control`: the length-control stage's
    training on its generated samples instead)."""
    if str(config_path).endswith(".json"):
        path = Path(config_path)
        try:
            return parse_train_config(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not a resolved training config ({exc})") from None
    if length_control:
        from hermes4.train.length_control import length_control_train_config

        return length_control_train_config(load_length_control_config(config_path))
    return load_train_config(config_path)


def run_train(config_path: str | Path, *, dry_run: bool = False, world_size: int | None = None,
              as_json: bool = False, length_control: bool = False) -> int:
    """Shared by `hermes4 train` and `python -m hermes4.train` (torchrun): the exit code."""
    try:
        cfg = load_training(config_path, length_control=length_control)
        if dry_run:
            world = world_size or int(os.environ.get("WORLD_SIZE", "0")) or cfg.parallel.planned_world_size or 1
            summary = plan(cfg, world)
            if as_json:
                print(json.dumps(summary))
            else:
                print_plan(summary, f"train plan: {config_path}")
            return 0
        from hermes4.train.parallel import shutdown_distributed
        from hermes4.train.trainer import train

        try:
            result = train(cfg)
        finally:
            shutdown_distributed()
    except ConfigError as exc:
        print(f"hermes4: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        fault = one_line_fault(exc)  # in a torchrun rank nothing above us turns a full disk into one line
        if fault is None:
            raise
        print(f"hermes4: {fault}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"steps": result.steps, "final_loss": result.final_loss,
                          "export_dir": str(result.export_dir) if result.export_dir else None}))
    return 0
