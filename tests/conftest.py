"""Shared fixtures: tiny real models and tokenizers made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ChatML Hermes model folder (Qwen3 random init + tokenizer + chat template), made once per session."""
    from hermes4.train.tiny import init_tiny

    return init_tiny(tmp_path_factory.mktemp("tiny-chatml"), format="chatml", seed=0)


@pytest.fixture(scope="session")
def tiny_llama3_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny model with the Llama-3 header format (eos `<|eot_id|>`, bos `<|begin_of_text|>`)."""
    from hermes4.train.tiny import init_tiny

    return init_tiny(tmp_path_factory.mktemp("tiny-llama3"), format="llama3", seed=0)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path):
    """The tiny ChatML tokenizer, loaded with AutoTokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_llama3_tokenizer(tiny_llama3_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama3_model_dir)
