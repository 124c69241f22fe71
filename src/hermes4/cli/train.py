"""`hermes4 train CONFIG.yaml [--dry-run]` and `hermes4 length-control CONFIG.yaml [--dry-run]`."""

from __future__ import annotations

import json

import typer

from hermes4.cli._common import fail
from hermes4.train.entry import run_train


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
        from hermes4.train.entry import plan, print_plan

        try:
            lc = load_length_control_config(config)
            if dry_run:
                world = world_size or lc.train.parallel.planned_world_size or 1
                summary = {"control_budget": lc.control_budget, "generation_budget": lc.generation_budget,
                        "train": plan(lc.train, world)}
                if as_json:
                    print(json.dumps(summary))
                else:
                    print(f"length control: cut at {lc.control_budget:,} tokens of reasoning, "
                          f"generate up to {lc.generation_budget:,}")
                    print_plan(summary["train"], f"length-control train plan: {config}")
                return
            from hermes4.length_control import run_length_control

            report = run_length_control(lc, train_model=not generate_only)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        print(json.dumps(report) if as_json else json.dumps(report, indent=2))
