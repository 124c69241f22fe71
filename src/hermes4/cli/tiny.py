"""`hermes4 tiny init DIR`: write a tiny random-init Qwen3 model and Hermes tokenizer for tests and demos."""

from __future__ import annotations

from pathlib import Path

import typer

from hermes4.cli._common import fail


def register(app: typer.Typer) -> None:
    tiny = typer.Typer(help="Tiny real models for tests, demos and CI.", no_args_is_help=True)
    app.add_typer(tiny, name="tiny")

    @tiny.command("init")
    def init(
        out_dir: Path = typer.Argument(..., help="Folder to write (created if missing)."),
        format: str = typer.Option("chatml", "--format", help="chatml or llama3: which special tokens are eos/bos and which chat template is saved."),
        hidden_size: int = typer.Option(64, "--hidden-size"),
        layers: int = typer.Option(2, "--layers"),
        heads: int = typer.Option(4, "--heads"),
        kv_heads: int = typer.Option(2, "--kv-heads"),
        head_dim: int = typer.Option(0, "--head-dim", help="Width of one attention head; 0 = hidden size / heads."),
        intermediate_size: int = typer.Option(128, "--intermediate-size"),
        max_positions: int = typer.Option(8192, "--max-positions"),
        tie_embeddings: bool = typer.Option(True, "--tie-embeddings/--no-tie-embeddings"),
        vocab_size: int = typer.Option(2048, "--vocab-size", help="BPE vocabulary target (the corpus may give fewer)."),
        seed: int = typer.Option(0, "--seed", help="Same seed, same tokenizer and weights."),
    ) -> None:
        """Write a Hugging Face folder: Qwen3 random init + byte-level BPE tokenizer with the Hermes tokens."""
        from hermes4.chat.formats import FORMATS
        from hermes4.train.tiny import TinySize, init_tiny

        if format not in FORMATS:
            raise fail(f"--format: unknown format {format!r}; choose one of: {', '.join(FORMATS)}")
        for name, value in (("--hidden-size", hidden_size), ("--layers", layers), ("--heads", heads),
                            ("--kv-heads", kv_heads), ("--intermediate-size", intermediate_size),
                            ("--max-positions", max_positions), ("--vocab-size", vocab_size)):
            if value <= 0:
                raise fail(f"{name}: must be positive, got {value}")
        if head_dim < 0:
            raise fail(f"--head-dim: must be positive (or 0 for hidden size / heads), got {head_dim}")
        if (not head_dim and hidden_size % heads) or heads % kv_heads:
            raise fail(f"--hidden-size {hidden_size} must divide by --heads {heads} (or give --head-dim), "
                       f"and --heads by --kv-heads {kv_heads}")
        size = TinySize(hidden_size, layers, heads, kv_heads, intermediate_size, max_positions, tie_embeddings,
                        head_dim=head_dim or None)
        if out_dir.exists() and not out_dir.is_dir():
            raise fail(f"{out_dir}: exists and is not a folder")
        path = init_tiny(out_dir, format=format, size=size, vocab_size=vocab_size, seed=seed)
        print(path)
