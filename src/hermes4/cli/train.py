"""`hermes4 train CONFIG.yaml [--dry-run]` and `hermes4 length-control CONFIG.yaml [--dry-run]`."""

from __future__ import annotations

import json
import os
import sys

import typer

from hermes4.cli._common import fail, one_line_fault


def _plan(cfg, world_size: int) -> dict:
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


def _print_plan(plan: dict, title: str) -> None:
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


def run_train(config_path: str, *, dry_run: bool = False, world_size: int | None = None,
              as_json: bool = False, length_control: bool = False) -> int:
    """Shared by `hermes4 train` and `python -m hermes4.train` (torchrun). `length_control`: run the
    length-control stage's training on its generated samples instead of the `train:` section."""
    from hermes4.train.config import (
        ConfigError,
        load_length_control_config,
        load_train_config,
    )

    try:
        if length_control:
            from hermes4.train.length_control import length_control_train_config

            cfg = length_control_train_config(load_length_control_config(config_path))
        else:
            cfg = load_train_config(config_path)
        if dry_run:
            world = world_size or int(os.environ.get("WORLD_SIZE", "0")) or cfg.parallel.planned_world_size or 1
            plan = _plan(cfg, world)
            if as_json:
                print(json.dumps(plan))
            else:
                _print_plan(plan, f"train plan: {config_path}")
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


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        config: str = typer.Argument(..., help="recipe YAML with a `train:` section"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print steps, tokens and a memory estimate"),
        world_size: int | None = typer.Option(None, "--world-size", help="GPUs to plan for (dry run)"),
        as_json: bool = typer.Option(False, "--json", help="dry run: print the plan as JSON"),
    ) -> None:
        """Supervised fine-tuning on packed conversations (one process; use torchrun for many)."""
        code = run_train(config, dry_run=dry_run, world_size=world_size, as_json=as_json)
        if code:
            raise typer.Exit(code)

    @app.command("length-control")
    def length_control(
        config: str = typer.Argument(..., help="recipe YAML with a `length_control:` section"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print the plan of the training part"),
        world_size: int | None = typer.Option(None, "--world-size", help="GPUs to plan for (dry run)"),
        as_json: bool = typer.Option(False, "--json", help="print the report (or plan) as JSON"),
        generate_only: bool = typer.Option(False, "--generate-only", help="stop after writing the samples "
                                           "(train them with: torchrun -m hermes4.train CONFIG --length-control)"),
    ) -> None:
        """Generate traces, cut those over the budget at </think>, train only on the closing tokens."""
        from hermes4.train.config import ConfigError, load_length_control_config

        try:
            lc = load_length_control_config(config)
            if dry_run:
                world = world_size or lc.train.parallel.planned_world_size or 1
                plan = {"control_budget": lc.control_budget, "generation_budget": lc.generation_budget,
                        "train": _plan(lc.train, world)}
                if as_json:
                    print(json.dumps(plan))
                else:
                    print(f"length control: cut at {lc.control_budget:,} tokens of reasoning, "
                          f"generate up to {lc.generation_budget:,}")
                    _print_plan(plan["train"], f"length-control train plan: {config}")
                return
            from hermes4.train.length_control import run_length_control

            report = run_length_control(lc, train_model=not generate_only)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        print(json.dumps(report) if as_json else json.dumps(report, indent=2))
