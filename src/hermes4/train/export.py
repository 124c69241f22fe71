"""Export a trained (possibly sharded) model to a standard Hugging Face folder: safetensors weights, config,
generation config, and the tokenizer carrying our exported chat template. transformers 4.x and 5.x and vLLM
load it: the files are written by transformers 5 and then made readable by 4.x (`make_portable`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hermes4.train.parallel import Distributed


SAMPLING = (0.6, 0.95, 20)


def _rewrite_json(path: Path, update) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    update(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def make_portable(out: Path) -> None:
    """Make a folder written by transformers 5 load in 4.x too: a tokenizer class both know (5 writes
    `TokenizersBackend`, unknown to 4.x), RoPE in both spellings (5 writes only `rope_parameters`; 4.x reads
    `rope_theta` / `rope_scaling` and would silently fall back to theta 10000), and `torch_dtype` beside `dtype`."""

    def tokenizer_config(data: dict) -> None:
        if data.get("tokenizer_class") in (None, "TokenizersBackend"):
            data["tokenizer_class"] = "PreTrainedTokenizerFast"

    def model_config(data: dict) -> None:
        rope = data.get("rope_parameters")
        if isinstance(rope, dict) and "rope_theta" in rope:
            data.setdefault("rope_theta", rope["rope_theta"])
            if rope.get("rope_type", "default") != "default":
                data.setdefault("rope_scaling", {k: v for k, v in rope.items() if k != "rope_theta"})
        if "dtype" in data:
            data.setdefault("torch_dtype", data["dtype"])

    if (out / "tokenizer_config.json").is_file():
        _rewrite_json(out / "tokenizer_config.json", tokenizer_config)
    if (out / "config.json").is_file():
        _rewrite_json(out / "config.json", model_config)


def full_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every rank calls this; rank 0 gets the whole, unsharded state dict on CPU (others get {})."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
    )

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def export_hf(model: nn.Module, out_dir: str | Path, *, tokenizer: Any, chat_format: str, env: Distributed,
              dtype: str = "auto") -> Path | None:
    """Write `out_dir` from a `CausalLMLoss` (its `.lm` is the Hugging Face model). Collective: every rank
    calls it; rank 0 writes. `dtype` "auto" keeps the base model's declared dtype (bf16 for real models)."""
    from hermes4.chat.formats import get_format
    from hermes4.chat.template import export_template

    state = full_state_dict(model)
    out = Path(out_dir)
    if env.is_main:
        lm = model.lm
        config = lm.config
        weights = {k.removeprefix("lm."): v for k, v in state.items()}
        if dtype == "auto":
            declared = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
            target = declared if isinstance(declared, torch.dtype) else getattr(torch, str(declared or "float32"))
        else:
            target = getattr(torch, dtype)
        with torch.device("meta"):
            fresh = type(lm)._from_config(config)
        fresh.load_state_dict({k: v.to(target) for k, v in weights.items()}, strict=False, assign=True)
        missing = [k for k, v in fresh.state_dict().items() if v.is_meta]
        if getattr(config, "tie_word_embeddings", False):
            fresh.tie_weights()
            missing = [k for k, v in fresh.state_dict().items() if v.is_meta]
        if missing:
            raise RuntimeError(f"export: weights missing from the trained model: {missing[:5]}")
        fmt = get_format(chat_format)
        eos_id = tokenizer.convert_tokens_to_ids(fmt.end_of_turn)
        fresh.config.eos_token_id = eos_id
        fresh.config.dtype = target
        fresh.config.use_cache = True  # training turns the KV cache off; generation from the export needs it
        generation = getattr(lm, "generation_config", None)
        if generation is not None:
            generation.eos_token_id = eos_id
            generation.use_cache = True  # copied from the training config, where the cache is off
            # The model card's sampling defaults (Hermes 4: temperature 0.6, top_p 0.95, top_k 20).
            generation.do_sample, generation.temperature, generation.top_p, generation.top_k = True, *SAMPLING
            fresh.generation_config = generation
        out.mkdir(parents=True, exist_ok=True)
        fresh.save_pretrained(out, safe_serialization=True)
        tokenizer.chat_template = export_template(fmt)
        tokenizer.save_pretrained(out)
        make_portable(out)
    env.barrier()
    return out if env.is_main else None
