"""`hermes4 eval` (benchmarks over a model, resumable, per-sample logs) and `hermes4 report` (Markdown + HTML + plots)."""

# ruff: noqa: B008 (typer reads each parameter from a typer.Option/Argument default)
from __future__ import annotations

from pathlib import Path

import typer

from hermes4.cli._common import RETRIES_HELP, fail, retry_options, stderr_console


def _list_tasks() -> None:
    from hermes4.eval.tasks import BENCHMARKS, benchmark_options, task_names

    for name in task_names():
        bench = BENCHMARKS[name]
        options = ", ".join(f"{key}={default!r}" for key, (_, default, _) in benchmark_options(name).items())
        print(f"{name:14} {bench.label:14} {bench.metric:9} options: {options}")


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_(
        task: list[str] | None = typer.Option(None, "--task", help="Benchmarks, comma-separated or repeated: NAME or NAME:key=value (see --list-tasks)."),
        llm: str | None = typer.Option(None, "--llm", help="http://host:port or http://host:port/v1 (comma-separated for several), a model folder, or scripted:module:function."),
        retries: int | None = typer.Option(None, "--retries", help=RETRIES_HELP),
        out: Path | None = typer.Option(None, "--out", help="Run folder; rerunning the same command resumes it."),
        thinking: str = typer.Option("both", "--thinking", help="on (reasoning), off (non-reasoning) or both."),
        repeats: int = typer.Option(1, "--repeats", help="Samples per item and mode (accuracy is averaged over them; pass@k where k <= repeats)."),
        max_tokens: int = typer.Option(40960, "--max-tokens", help="Token budget of one generation (the paper: 40,960)."),
        direct_max_tokens: int | None = typer.Option(None, "--direct-max-tokens", help="Budget in non-reasoning mode (default: --max-tokens)."),
        limit: int | None = typer.Option(None, "--limit", help="Only the first M items of each task."),
        concurrency: int = typer.Option(64, "--concurrency", help="Model requests in flight."),
        score_concurrency: int = typer.Option(8, "--score-concurrency", help="Samples scored at once (checker threads, judge calls)."),
        model_id: str | None = typer.Option(None, "--model", help="Model id at the --llm endpoint (default: the first it serves)."),
        api_key_env: str = typer.Option("HERMES4_API_KEY", "--api-key-env", help="Environment variable holding the --llm API key (never written to disk)."),
        judge: str | None = typer.Option(None, "--judge", help="Judge model for judge-graded tasks (refusalbench, simpleqa:grader=judge): URL or scripted:module:function."),
        judge_model: str | None = typer.Option(None, "--judge-model", help="Model id at the judge endpoint (default: the first it serves)."),
        judge_api_key_env: str = typer.Option("HERMES4_JUDGE_API_KEY", "--judge-api-key-env", help="Environment variable holding the judge's API key."),
        seed: int = typer.Option(0, "--seed", help="Base seed of every request (derived per task, item, repeat and mode)."),
        temperature: float = typer.Option(0.6, "--temperature"),
        top_p: float = typer.Option(0.95, "--top-p"),
        top_k: int = typer.Option(20, "--top-k"),
        name: str | None = typer.Option(None, "--name", help="Column title of this run in reports (default: the model id)."),
        reasoning_budget: int | None = typer.Option(None, "--reasoning-budget", help="Reasoning budget in tokens: at N tokens of reasoning </think> is forced and the model answers; each sample records whether it fired."),
        budget_mode: str = typer.Option("client", "--budget-mode", help="client (any endpoint: generate to the budget, append </think>, continue) or engine (vLLM's thinking_token_budget)."),
        chat_format: str = typer.Option("chatml", "--chat-format", help="The model's chat format (chatml or llama3): budgeted calls render their prompts in it."),
        list_tasks: bool = typer.Option(False, "--list-tasks", help="List the benchmarks and their options, then exit."),
    ) -> None:
        """Evaluate a model on benchmarks in reasoning and/or non-reasoning mode; scoring overlaps generation."""
        import asyncio

        from pydantic import ValidationError

        from hermes4.chat.messages import describe_validation_error
        from hermes4.eval.judge import JudgeConfig
        from hermes4.eval.progress import summary_table
        from hermes4.eval.runner import EvalConfig, run_eval
        from hermes4.eval.tasks import TaskError, load_task, split_task_list
        from hermes4.llm import LLMError
        from hermes4.progress import EvalCounters, show_progress
        from hermes4.sample.rollouts import EndpointError
        from hermes4.store import StoreError

        if list_tasks:
            _list_tasks()
            return
        if not task:
            raise fail("eval: --task is required (see --list-tasks)")
        if llm is None or out is None:
            raise fail(f"eval: {'--llm' if llm is None else '--out'} is required")
        try:
            specs = [spec for value in task for spec in split_task_list(value)]
            tasks = [load_task(spec) for spec in specs]
        except TaskError as exc:
            raise fail(f"--task: {exc}") from None
        if not tasks:
            raise fail("--task: no task named")
        judged = [t.spec for t in tasks if t.judged]
        if judged and judge is None:
            raise fail(f"--judge: {', '.join(judged)} is graded by a judge model; pass --judge URL (or scripted:module:function)")
        try:
            config = EvalConfig(
                tasks=[t.spec for t in tasks],
                out=out,
                llm=llm,
                thinking=thinking,
                repeats=repeats,
                max_tokens=max_tokens,
                direct_max_tokens=direct_max_tokens,
                limit=limit,
                concurrency=concurrency,
                score_concurrency=score_concurrency,
                seed=seed,
                temperature=temperature,
                top_p=top_p,
                top_k=top_k,
                judge=JudgeConfig(llm=judge, model=judge_model) if judge else None,
                name=name,
                reasoning_budget=reasoning_budget,
                budget_mode=budget_mode,
                chat_format=chat_format,
            )
        except ValidationError as exc:
            raise fail(f"eval: {describe_validation_error(exc)}") from None
        console = stderr_console()
        for t in tasks:
            if t.source.startswith("hermes4 sample"):
                console.print(f"[yellow]{t.spec}: using the {t.source}, {len(t.items)} items; pass {t.name}:data=PATH for the benchmark itself[/yellow]", highlight=False)

        async def main() -> int:
            import os

            options = retry_options(llm, retries)
            if llm.startswith(("http://", "https://")):
                options |= {"model": model_id, "api_key": os.environ.get(api_key_env) or None}
            elif model_id:
                raise fail("--model: only for http(s) endpoints")
            live = EvalCounters()
            try:
                async with show_progress(live, console, label="eval", unit="samples"):
                    result = await run_eval(config, loaded=tasks, live=live, llm_options=options,
                                            judge_api_key=os.environ.get(judge_api_key_env) or None)
            except TaskError as exc:
                raise fail(f"--task: {exc}") from None
            except EndpointError as exc:
                raise fail(f"--{exc.field}: {exc}") from None
            except StoreError as exc:
                raise fail(f"--out: {exc}") from None
            except LLMError as exc:
                console.print(f"[red]hermes4: the model is not answering: {exc}[/red]", highlight=False)
                return 1
            console.print(summary_table(result.cells))
            budgeted = [c for c in result.cells if c.get("budget_fired") is not None]
            if budgeted:
                console.print(f"reasoning budget {reasoning_budget:,} ({budget_mode}): fired in {sum(c['budget_fired'] for c in budgeted)} "
                              f"of {sum(c['samples'] for c in budgeted)} reasoning samples", highlight=False)
            console.print(
                f"this run: {result.written} samples written ({result.skipped} already done), {result.missing} missing; "
                f"{result.wall_s:.1f}s; per-sample log and run.json in {config.out}; report: hermes4 report {config.out}",
                highlight=False,
            )
            for line in result.repairs:
                console.print(f"[yellow]{line}[/yellow]", highlight=False)
            if result.llm_stats:
                console.print(f"llm: {result.llm_stats}", highlight=False)
            if result.aborted:
                console.print(f"[red]stopped early: {result.aborted}; rerun the same command to continue[/red]", highlight=False)
                return 1
            if result.missing:
                console.print(f"[red]{result.missing} samples could not be generated (model calls failed); rerun the same command to finish them[/red]", highlight=False)
                return 1
            return 0

        code = asyncio.run(main())
        if code:
            raise typer.Exit(code)

    @app.command()
    def report(
        run_dirs: list[Path] = typer.Argument(..., help="Run folders written by `hermes4 eval`; the first is the baseline of the deltas."),
        out: Path | None = typer.Option(None, "--out", help="Markdown file to write (the HTML goes next to it); default RUN_DIR/report.md."),
    ) -> None:
        """Write a Markdown and an HTML report (paper-shaped table with CIs, deltas, plots) of eval runs."""
        from hermes4.eval.report import write_report
        from hermes4.store import StoreError

        try:
            paths = write_report(run_dirs, out)
        except StoreError as exc:
            raise fail(f"report: {exc}") from None
        print(f"markdown: {paths.markdown}")
        print(f"html: {paths.html}")
        for plot in paths.plots:
            print(f"plot: {plot}")
