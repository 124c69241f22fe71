"""`connect(spec)`: one string names any model source (endpoints, a local model folder, a scripted function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hermes4.llm.types import LLM


def connect(spec: str, **options: Any) -> LLM:
    """An `LLM` for `spec`.

    - `http://host:port[/v1]`, comma-separated for several endpoints → `OpenAIClient` (options: model,
      api_key, max_concurrency, request_timeout, stall_timeout, max_retries, ...);
    - `scripted:module:function` → `ScriptedEngine` over that function (options: name, format, tokenizer, max_batch);
    - a local model folder → `TransformersEngine` (options: format, max_batch, device, dtype).
    """
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        from hermes4.llm.client import OpenAIClient

        return OpenAIClient(spec, **options)
    if spec.startswith("scripted:"):
        from hermes4.llm.scripted import ScriptedEngine, load_script

        return ScriptedEngine(load_script(spec.removeprefix("scripted:")), **options)
    path = Path(spec).expanduser()
    if path.is_dir():
        from hermes4.llm.hf import TransformersEngine

        return TransformersEngine(path, **options)
    raise ValueError(
        f"cannot connect to {spec!r}: expected http(s)://host:port[,http(s)://…], scripted:module:function, or a model folder"
    )
