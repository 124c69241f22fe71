"""`hermes4 tokenize CONFIG.yaml`: tokenize a run's data mix offline into memory-mapped shard stores."""

from __future__ import annotations

import json

import typer

from hermes4.cli._common import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def tokenize(
        config: str = typer.Argument(..., help="recipe YAML with a `train:` section whose data is a mix"),
        workers: int | None = typer.Option(None, "--workers", min=1, help="tokenizing processes (default: "
                                           "train.data.workers)"),
        shard_size: int | None = typer.Option(None, "--shard-size", min=1, help="conversations per shard"),
        as_json: bool = typer.Option(False, "--json", help="print the report as one JSON line"),
    ) -> None:
        """Render and tokenize every source of `train.data.mix` into shards under the data cache folder, in
        parallel and resumably (a killed run keeps its finished shards). The trainer then only maps them."""
        from hermes4.chat import ConversationError
        from hermes4.train.config import ConfigError, load_train_config
        from hermes4.train.mix import MixError, SharedTokenization, build_mix
        from hermes4.train.trainer import data_cache_dir, tokenize_options
        from hermes4.train.vocab import training_tokenizer

        try:
            cfg = load_train_config(config)
            if cfg.data.mix is None:
                raise ConfigError(f"{config}: train.data.mix: nothing to tokenize (the data is already tokenized)")
            tokenizer, _ = training_tokenizer(cfg.model.tokenizer or cfg.model.path, cfg.model.format)
            _, report = build_mix(cfg.data.mix, tokenizer, tokenize_options(cfg), cache_dir=data_cache_dir(cfg),
                                  workers=workers or cfg.data.workers,
                                  shared=SharedTokenization(shard_size=shard_size))
        except (ConfigError, MixError, ConversationError) as exc:
            raise fail(str(exc)) from None
        result = {"cache_dir": data_cache_dir(cfg), **report.to_json()}
        print(json.dumps(result) if as_json else json.dumps(result, indent=2))
