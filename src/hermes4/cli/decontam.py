"""`hermes4 decontam`: n-gram overlap of training records with the eval sets, a report, and optionally a clean copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from hermes4.cli._common import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def decontam(
        inputs: Annotated[list[str], typer.Option("--in", help="training records: a dataset folder, .jsonl or .parquet (repeatable)")],
        out: Annotated[Path, typer.Option("--out", help="folder for report.json and report.md (and clean.jsonl, removed.jsonl with --drop)")],
        tasks: Annotated[
            Optional[str], typer.Option("--tasks", help="eval sets, as `hermes4 eval --task` takes them (default: every benchmark on its data=sample)")
        ] = None,
        n: Annotated[int, typer.Option("--n", help="words per n-gram (13: the common standard)")] = 13,
        min_words: Annotated[int, typer.Option("--min-words", help="eval items shorter than n are indexed whole from this many words")] = 8,
        drop: Annotated[bool, typer.Option("--drop", help="also write clean.jsonl without the flagged records (and removed.jsonl with them)")] = False,
    ) -> None:
        """Flag training records that share a word n-gram with an eval item (the paper's decontamination step)."""
        from hermes4.curate.decontam import EvalIndex, EvalText, decontaminate
        from hermes4.eval.tasks import TaskError, load_task, split_task_list, task_names
        from hermes4.store import StoreError, read_records

        if n < 1 or not 1 <= min_words <= n:
            raise fail(f"--n {n} / --min-words {min_words}: need n >= 1 and 1 <= min-words <= n")
        specs = split_task_list(tasks) if tasks else task_names()
        evals: list[EvalText] = []
        for spec in specs:
            try:
                task = load_task(spec)
            except TaskError as exc:
                raise fail(f"--tasks: {exc}") from None
            for item in task.items:
                text = "\n".join(m.content or "" for m in item.prompt.messages if m.role in ("system", "user"))
                evals.append(EvalText(task.name, item.id, text))
        records = []
        for path in inputs:
            try:
                records.extend(read_records(path))
            except (StoreError, OSError, ValueError) as exc:
                raise fail(f"--in {path}: {exc}") from None
        index = EvalIndex(evals, n=n, min_words=min_words)
        try:
            report = decontaminate(records, index)
        except ValueError as exc:
            raise fail(f"--in: {exc}") from None
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        (out / "report.md").write_text(report.markdown(), encoding="utf-8")
        if drop:
            flagged = set(report.flagged)
            with (out / "clean.jsonl").open("w", encoding="utf-8") as clean, (out / "removed.jsonl").open("w", encoding="utf-8") as removed:
                for position, record in enumerate(records):
                    (removed if position in flagged else clean).write(json.dumps(record, ensure_ascii=False) + "\n")
        per_task = ", ".join(f"{task} {count}" for task, count in report.per_task.items()) or "none"
        print(f"{len(report.flagged)} of {report.records} records share a {n}-gram with {len(specs)} eval sets ({index.items} items); by benchmark: {per_task}")
        print(f"report: {out / 'report.md'}" + (f"; kept {report.records - len(report.flagged)} records in {out / 'clean.jsonl'}" if drop else ""))
