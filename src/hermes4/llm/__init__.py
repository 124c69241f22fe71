"""Talking to models: an OpenAI-compatible client, in-process engines, and an OpenAI-compatible server."""

from typing import Any

from hermes4.llm.client import OpenAIClient
from hermes4.llm.connect import connect
from hermes4.llm.engine import Generation, GenerationJob, LocalEngine
from hermes4.llm.hf import TransformersEngine
from hermes4.llm.scripted import ScriptedEngine, load_script
from hermes4.llm.types import (
    LLM,
    Completion,
    FinishReason,
    LLMError,
    LLMInputError,
    LLMStallError,
    LLMStats,
    Sampling,
    ScriptRequest,
    prompt_opens_think,
)


def __getattr__(name: str) -> Any:
    # The server pulls in FastAPI and uvicorn; only load them for callers that serve.
    if name in ("start_server", "RunningServer", "create_app"):
        from hermes4.llm import server

        return getattr(server, name)
    raise AttributeError(f"module 'hermes4.llm' has no attribute {name!r}")


__all__ = [
    "LLM",
    "Completion",
    "FinishReason",
    "Generation",
    "GenerationJob",
    "LLMError",
    "LLMInputError",
    "LLMStallError",
    "LLMStats",
    "LocalEngine",
    "OpenAIClient",
    "RunningServer",
    "Sampling",
    "ScriptRequest",
    "ScriptedEngine",
    "TransformersEngine",
    "connect",
    "create_app",
    "load_script",
    "prompt_opens_think",
    "start_server",
]
