"""The `model` stage: make the tiny base model (tokenizer + random-init Qwen3) where `train.model.path` points.
It runs after the data stage: with `model.tiny.tokenizer_from_data` the tokenizer learns from the SFT data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hermes4.recipe.resolve import ResolvedRecipe
from hermes4.recipe.stages.base import Stage, StageContext, StageSummary


class ModelSummary(StageSummary):
    path: str
    params: int
    layers: int
    hidden: int
    vocab: int


class ModelStage(Stage):
    name = "model"
    inputs = ("data",)
    summary_type = ModelSummary

    def folder(self, run: ResolvedRecipe) -> Path:
        return Path(run.train.model.path)

    def sections(self, recipe: dict[str, Any]) -> list[Any]:
        return [recipe["model"], recipe["train"]["model"]]

    def run(self, context: StageContext) -> ModelSummary:
        from transformers import AutoConfig

        from hermes4.train.metrics import ModelShape
        from hermes4.train.tiny import TinySize, domain_texts, init_tiny

        run = context.run
        tiny = run.recipe.model.tiny
        assert tiny is not None
        target = self.folder(run)
        context.display.track(f"tiny model -> {target}")
        texts = ()
        if tiny.tokenizer_from_data:
            if run.train.data.mix is None:
                raise ValueError("model.tiny.tokenizer_from_data: train.data has no mix to learn from")
            texts = domain_texts(run.train.data.mix, format=run.train.model.format)
        init_tiny(target, format=run.train.model.format, size=TinySize(**tiny.size), vocab_size=tiny.vocab_size,
                  seed=tiny.seed, tokenizer_texts=texts)
        shape = ModelShape.from_hf_config(AutoConfig.from_pretrained(target))
        return ModelSummary(path=str(target), params=shape.params, layers=shape.layers, hidden=shape.hidden,
                            vocab=shape.vocab)
