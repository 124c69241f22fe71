"""`hermes4 run RECIPE.yaml [--out DIR] [--from STAGE] [--dry-run]`: the whole recipe, stage by stage."""

from __future__ import annotations

from typing import Optional

import typer

from hermes4.cli._common import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        recipe: str = typer.Argument(..., help="recipe YAML, e.g. recipes/tiny.yaml"),
        out: Optional[str] = typer.Option(None, "--out", help="run folder (default: the recipe's `out:`)"),
        seed: Optional[int] = typer.Option(None, "--seed", help="the run's one seed; every random choice derives from it "
                                           "(default: the recipe's `seed:`)"),
        from_stage: Optional[str] = typer.Option(None, "--from", help="rerun this stage and every later one"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print the plan (stages, counts, steps, GPU-hours)"),
        as_json: bool = typer.Option(False, "--json", help="dry run: print the plan as JSON"),
    ) -> None:
        """Run a recipe: make data, train, control length, evaluate, report; a rerun skips finished stages."""
        import json

        from rich.console import Console

        from hermes4.recipe import RecipeError, resolve_recipe

        console = Console(stderr=True)
        if not console.is_terminal:
            console = Console(stderr=True, width=160)
        try:
            resolved = resolve_recipe(recipe, out=out, seed=seed)
            if dry_run:
                from hermes4.recipe.plan import plan_recipe, print_plan

                plan = plan_recipe(resolved)
                if as_json:
                    print(json.dumps(plan.to_json(), indent=2))
                else:
                    print_plan(plan, Console(width=max(Console().width, 150)))
                return
            from hermes4.recipe.runner import run_recipe, summary_table

            result = run_recipe(resolved, from_stage=from_stage, console=console)
        except RecipeError as exc:
            raise fail(str(exc)) from None
        console.print(summary_table(result, resolved))
        for outcome in result.outcomes:
            if outcome.error:
                console.print(f"[red]stage {outcome.stage} failed:[/red] {outcome.error}", highlight=False)
                console.print("rerun the same command to resume from that stage", highlight=False)
        if not result.ok:
            raise typer.Exit(1)
