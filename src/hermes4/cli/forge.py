"""`hermes4 forge`, `hermes4 taxonomy`, `hermes4 personas`: DataForge from the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hermes4.cli._common import RETRIES_HELP, connect_model, fail


def _connect(spec: str, retries: int | None = None):
    try:
        return connect_model(spec, retries=retries)
    except (ValueError, OSError) as exc:
        raise fail(f"--llm {spec}: {exc}") from None


def _write_prompts(out: str, result) -> None:
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "prompts.jsonl", "w", encoding="utf-8") as handle:
        for record in result.prompts:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(
        f"{len(result.prompts)} prompts ({result.generated} generated, {result.duplicates_removed} near-duplicates removed, "
        f"{len(result.failures)} failures) -> {path / 'prompts.jsonl'}"
    )
    for failure in result.failures[:5]:
        print(f"  failed: {failure}")


def register(app: typer.Typer) -> None:
    @app.command()
    def forge(
        graph: Annotated[str, typer.Option(help="a graph YAML file, or built in: default, procedural, nested_example")],
        out: Annotated[str, typer.Option(help="output dataset folder (resumable)")],
        seeds: Annotated[Optional[str], typer.Option(help="seed passages (JSONL/Parquet/datasets/.txt folder)")] = None,
        llm: Annotated[Optional[str], typer.Option(help="model for the nodes: URL(s), model folder or scripted:mod:fn")] = None,
        judge: Annotated[Optional[str], typer.Option(help="model for the judge (default: --llm)")] = None,
        n: Annotated[Optional[int], typer.Option(help="walks to run, cycling the seeds when fewer (default: one per seed)", min=1)] = None,
        seed: Annotated[int, typer.Option(help="walk seed: the same seed replays the same paths")] = 0,
        concurrency: Annotated[int, typer.Option(help="walks in flight")] = 64,
        retries: Annotated[Optional[int], typer.Option(help=RETRIES_HELP)] = None,
    ) -> None:
        """Walk a DataForge graph once per seed passage; final pairs and intermediate steps, exactly once."""
        from hermes4.curate.passages import load_passages
        from hermes4.forge.graph import GraphError
        from hermes4.forge.loader import load_graph
        from hermes4.forge.run import forge as run_forge
        from hermes4.forge.run import synthetic_seeds
        from hermes4.store import StoreError

        try:
            built = load_graph(graph)
            if seeds:
                passages = load_passages(seeds)
            elif n is not None:
                passages = synthetic_seeds(n)
            else:
                raise fail("give --seeds PATH, or --n N for a graph that does not read passages")
        except (GraphError, StoreError, ValueError) as exc:
            raise fail(str(exc)) from None
        llms = {}
        if llm:
            llms["default"] = _connect(llm, retries)
            llms["judge"] = _connect(judge, retries) if judge else llms["default"]
        try:
            summary = asyncio.run(run_forge(built, passages, out, llms=llms, seed=seed, concurrency=concurrency, walks=n))
        except (StoreError, ValueError) as exc:
            raise fail(str(exc)) from None
        s = summary
        print(
            f"forge {built.name}: {s.accepted} accepted, {s.discarded} discarded, {s.failed} failed, "
            f"{s.skipped} already done; {s.records} records ({dict(s.stages)}); judge errors {s.judge_errors}, "
            f"revisions {s.revisions} -> {out}"
        )
        for failure in s.failures[:5]:
            print(f"  failed: {failure}")
        if s.all_failed:  # nothing came of this run: a broken teacher or graph must not look like success
            print(f"hermes4: {s.failure(built.name)}", file=sys.stderr)
            raise typer.Exit(code=1)

    @app.command()
    def taxonomy(
        domain: Annotated[str, typer.Option(help="the domain to split, e.g. 'organic chemistry'")],
        llm: Annotated[str, typer.Option(help="model: URL(s), model folder or scripted:mod:fn")],
        out: Annotated[str, typer.Option(help="output folder (prompts.jsonl)")],
        depth: Annotated[int, typer.Option(help="levels of subcategories")] = 2,
        breadth: Annotated[int, typer.Option(help="subcategories per node")] = 4,
        prompts_per_leaf: Annotated[int, typer.Option(help="prompts written per leaf")] = 3,
        seed: Annotated[int, typer.Option()] = 0,
    ) -> None:
        """Expand a domain into a taxonomy and write leaf prompts (near-duplicates removed)."""
        from hermes4.forge.generators import expand_taxonomy

        if depth < 1 or breadth < 1:
            raise fail("--depth and --breadth must be at least 1")
        result = asyncio.run(
            expand_taxonomy(_connect(llm), domain, depth=depth, breadth=breadth, prompts_per_leaf=prompts_per_leaf, seed=seed)
        )
        _write_prompts(out, result)

    @app.command()
    def personas(
        llm: Annotated[str, typer.Option(help="model: URL(s), model folder or scripted:mod:fn")],
        n: Annotated[int, typer.Option(help="personas to invent")],
        out: Annotated[str, typer.Option(help="output folder (prompts.jsonl)")],
        tasks_per_persona: Annotated[int, typer.Option(help="tasks written per persona")] = 3,
        seed: Annotated[int, typer.Option()] = 0,
    ) -> None:
        """Invent personas and write the tasks each would ask, in their voice (near-duplicates removed)."""
        from hermes4.forge.generators import simulate_personas

        if n < 1:
            raise fail("--n must be at least 1")
        result = asyncio.run(simulate_personas(_connect(llm), n, tasks_per_persona=tasks_per_persona, seed=seed))
        _write_prompts(out, result)
