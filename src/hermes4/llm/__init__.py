"""Talking to models: an OpenAI-compatible client, in-process engines, and an OpenAI-compatible server."""

from hermes4.llm.engine import Generation, GenerationJob, LocalEngine
from hermes4.llm.scripted import ScriptedEngine, load_script
from hermes4.llm.types import (
    LLM,
    Completion,
    FinishReason,
    LLMError,
    LLMStallError,
    LLMStats,
    Sampling,
    ScriptRequest,
    prompt_opens_think,
)

__all__ = [
    "LLM",
    "Completion",
    "FinishReason",
    "Generation",
    "GenerationJob",
    "LLMError",
    "LLMStallError",
    "LLMStats",
    "LocalEngine",
    "Sampling",
    "ScriptRequest",
    "ScriptedEngine",
    "load_script",
    "prompt_opens_think",
]
