"""`hermes4 curate`: clean a seed corpus for DataForge."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hermes4.cli._common import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def curate(
        input_path: Annotated[str, typer.Option("--in", help="JSONL, Parquet, a datasets folder or a folder of .txt files")],
        out: Annotated[str, typer.Option("--out", help="output folder")],
        threshold: Annotated[float, typer.Option(help="cosine at or above which two passages are duplicates")] = 0.7,
        embedder: Annotated[str, typer.Option(help="'hashed' (built in) or a local sentence-transformers folder")] = "hashed",
        index: Annotated[str, typer.Option(help="'exact' (blocked all-pairs) or 'ivf' (k-means cells, for millions)")] = "exact",
        judge: Annotated[Optional[str], typer.Option(help="LLM for the quality filter: URL, model folder or scripted:mod:fn")] = None,
        text_field: Annotated[str, typer.Option(help="field holding the passage text")] = "text",
        date_field: Annotated[str, typer.Option(help="field holding the passage date (newer is preferred)")] = "date",
    ) -> None:
        """Exact + semantic dedup (newest kept) and an optional LLM quality filter, with a removal report."""
        from hermes4.curate.embed import make_embedder
        from hermes4.curate.passages import load_passages
        from hermes4.curate.pipeline import curate as run_curate
        from hermes4.store.journal import StoreError

        if not 0.0 < threshold <= 1.0:
            raise fail(f"--threshold {threshold}: must be in (0, 1]")
        if index not in ("exact", "ivf"):
            raise fail(f"--index {index!r}: expected 'exact' or 'ivf'")
        try:
            passages = load_passages(input_path, text_field=text_field, date_field=date_field)
            emb = make_embedder(embedder)
        except (ValueError, StoreError, RuntimeError, OSError) as exc:
            raise fail(str(exc)) from None
        llm = None
        if judge:
            from hermes4.llm import connect

            llm = connect(judge)
        report = run_curate(passages, out, embedder=emb, threshold=threshold, index=index, judge=llm)
        print(report.markdown().split("\n## ")[0])
        print(f"kept {report.kept} of {report.input} passages -> {out}/passages.jsonl (report: {out}/report.md)")
