"""`hermes4 sample`: rejection sampling of envs with a model into a dataset folder (resumable)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hermes4.cli._common import RETRIES_HELP, fail, retry_options, stderr_console


def register(app: typer.Typer) -> None:
    @app.command()
    def sample(
        env: list[str] = typer.Option(..., "--env", help="Env spec, e.g. procedural:n=200 (repeat for several envs)."),
        llm: str = typer.Option(..., "--llm", help="http://host:port/v1 (comma-separated for several), a model folder, or scripted:module:function."),
        out: Path = typer.Option(..., "--out", help="Output folder; rerunning the same command resumes it."),
        group_size: int = typer.Option(8, "--group-size", help="Most samples drawn per item."),
        keep: int = typer.Option(2, "--keep", help="Distinct correct samples kept per item (sampling stops there)."),
        max_tokens: int = typer.Option(4096, "--max-tokens", help="Token budget of one trajectory; longer ones are rejected."),
        thinking: str = typer.Option("on", "--thinking", help="on|off: sample in reasoning mode."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first M items of each env."),
        concurrency: int = typer.Option(64, "--concurrency", help="Model requests in flight, across items."),
        seed: int = typer.Option(0, "--seed", help="Seed of the items and of every request (derived per item and sample)."),
        split: str = typer.Option("train", "--split", help="Which items of the env."),
        temperature: float = typer.Option(0.6, "--temperature"),
        top_p: float = typer.Option(0.95, "--top-p"),
        top_k: int = typer.Option(20, "--top-k"),
        retries: Optional[int] = typer.Option(None, "--retries", help=RETRIES_HELP),
    ) -> None:
        """Sample groups per item, verify, keep up to --keep distinct correct paths; exactly once across crashes."""
        import asyncio

        from pydantic import ValidationError

        from hermes4.chat.messages import describe_validation_error
        from hermes4.envs import EnvSpecError
        from hermes4.progress import LiveCounters, show_progress
        from hermes4.sample import SampleConfig, run_sample
        from hermes4.sample.progress import summary_table
        from hermes4.sample.rollouts import EndpointError
        from hermes4.store import StoreError

        if thinking not in ("on", "off"):
            raise fail(f"--thinking: expected on or off, got {thinking!r}")
        try:
            config = SampleConfig(
                envs=env,
                llm=llm,
                out=out,
                split=split,
                group_size=group_size,
                keep=keep,
                max_tokens=max_tokens,
                thinking=thinking == "on",
                limit=limit,
                concurrency=concurrency,
                seed=seed,
                temperature=temperature,
                top_p=top_p,
                top_k=top_k,
            )
        except ValidationError as exc:
            raise fail(f"sample: {describe_validation_error(exc)}") from None
        console = stderr_console()

        async def main() -> int:
            live = LiveCounters()
            try:
                async with show_progress(live, console, label="sample", unit="items"):
                    result = await run_sample(config, live=live, llm_options=retry_options(config.llm, retries))
            except EnvSpecError as exc:
                raise fail(f"--env: {exc}") from None
            except EndpointError as exc:
                raise fail(f"--llm: {exc}") from None
            except StoreError as exc:
                raise fail(f"--out: {exc}") from None
            for line in result.repairs:
                console.print(f"[yellow]{line}[/yellow]", highlight=False)
            console.print(summary_table(result.summary))
            live = result.live
            console.print(
                f"this run: {live.records_written} records written, {live.items_done - live.items_skipped} items finished "
                f"({live.items_skipped} already done), {live.items_incomplete} left for a rerun; "
                f"{live.samples} samples in {live.elapsed:.1f}s; output {config.out}",
                highlight=False,
            )
            if result.llm_stats:
                console.print(f"llm: {result.llm_stats}", highlight=False)
            if result.aborted:
                console.print(f"[red]stopped early: {result.aborted}; rerun the same command to continue[/red]", highlight=False)
                return 1
            if live.items_incomplete:
                console.print(
                    f"[red]{live.items_incomplete} items could not be sampled (model calls failed); rerun the same command to finish them[/red]",
                    highlight=False,
                )
                return 1
            return 0

        try:
            code = asyncio.run(main())
        except KeyboardInterrupt:  # everything finished is on disk; the manifest was written on the way out
            console.print(f"interrupted; rerun the same command to continue into {config.out}", highlight=False)
            raise typer.Exit(130) from None
        if code:
            raise typer.Exit(code)
