"""Which engine serves the checkpoints a recipe generates with (eval-*, length-control traces): vLLM (the engine
venv, the choice at 14B/70B), `hermes4 serve --model` (transformers, in process), or an endpoint the user runs.

One typed section, `engine:`, read by the stages through `model_endpoint`, the one place they start a model server:

    engine: vllm                        # or: transformers, or http://host:8000/v1
    engine:
      use: vllm
      vllm: {tensor_parallel_size: 1, data_parallel_size: 8, max_model_len: 45056}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hermes4.llm.vllm_engine import VllmSettings


class EngineSection(BaseModel):
    """`use`: vllm, transformers, or an http(s) URL of an OpenAI-compatible endpoint serving the checkpoint."""

    model_config = ConfigDict(extra="forbid")

    use: str = Field(default="transformers", description="vllm | transformers | http(s)://host:port/v1")
    vllm: VllmSettings = Field(default_factory=VllmSettings, description="vLLM's settings when use is vllm")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"use": value} if isinstance(value, str) else value

    @field_validator("use")
    @classmethod
    def _known(cls, value: str) -> str:
        if value in ("vllm", "transformers") or value.startswith(("http://", "https://")):
            return value
        raise ValueError(f"must be vllm, transformers or an http(s):// endpoint URL, got {value!r}")

    def describe(self) -> str:
        """For the plan (`--dry-run`): what serves the checkpoints, with vLLM's parallel sizes."""
        if self.use == "vllm":
            v = self.vllm
            length = f", max_model_len {v.max_model_len:,}" if v.max_model_len else ""
            return f"vLLM (tp {v.tensor_parallel_size} x dp {v.data_parallel_size}{length})"
        if self.use == "transformers":
            return "hermes4 serve (transformers)"
        return f"the endpoint {self.use}"


@dataclass
class ModelEndpoint:
    url: str  # the OpenAI base URL serving the checkpoint
    engine: str


@contextlib.contextmanager
def model_endpoint(section: EngineSection, model_dir: Path, *, name: str, log: Path, env: dict[str, str],
                   max_batch: int) -> Iterator[ModelEndpoint]:
    """Serve `model_dir` with the recipe's engine for the length of the block (an external URL is used as is)."""
    if section.use == "vllm":
        from hermes4.llm.vllm_engine import vllm_served

        with vllm_served(model_dir, section.vllm, log=log.with_name(log.stem + "-vllm.log"), name=name, env=env) as server:
            yield ModelEndpoint(server.url, "vllm")
    elif section.use == "transformers":
        from hermes4.llm.spawn import serve, serve_command

        with serve(serve_command(model=model_dir, max_batch=max_batch, name=name), env=env, log=log) as served:
            yield ModelEndpoint(served.url, "transformers")
    else:
        yield ModelEndpoint(section.use, "endpoint")
