"""The values every model source speaks: sampling settings, completions, the `LLM` protocol, stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hermes4.chat.messages import Conversation

if TYPE_CHECKING:
    from hermes4.parse import ParsedOutput

FinishReason = Literal["stop", "length", "tool_calls"]


class Sampling(BaseModel):
    """Sampling settings; the defaults are the Hermes 4 ones (temperature 0.6, top_p 0.95, top_k 20)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.6, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=20, ge=-1)  # -1 or 0 means "no top-k", as vLLM reads it
    max_tokens: int = Field(default=1024, ge=1)
    n: int = Field(default=1, ge=1)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**64 - 1)  # what torch.manual_seed (and vLLM) accept
    logprobs: bool = False

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, value: Any) -> Any:
        # The OpenAI API accepts a single string as well as a list.
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: list[str]) -> list[str]:
        if any(s == "" for s in value):
            raise ValueError("stop strings must be non-empty")
        return value


@dataclass
class Completion:
    """One sampled output: the raw text, what the parse layer read from it, and its accounting."""

    text: str
    parsed: ParsedOutput
    finish_reason: FinishReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    # Per generated token, when `Sampling.logprobs` was asked for and the source provides them.
    logprobs: list[float] | None = None
    tokens: list[str] | None = None
    # Token ids of the prompt and of the output, when the server returns them (vLLM's `return_token_ids`).
    prompt_token_ids: list[int] | None = None
    token_ids: list[int] | None = None
    # Set when a reasoning budget applied (`hermes4.llm.budget`): whether it cut the reasoning short.
    budget_fired: bool | None = None

    @property
    def content(self) -> str:
        return self.parsed.content

    @property
    def reasoning(self) -> str | None:
        return self.parsed.reasoning

    @property
    def tool_calls(self) -> list[Any]:
        return self.parsed.tool_calls


class LLMStats(BaseModel):
    """Accounting for one model source, as returned by `LLM.stats()`."""

    requests: int = 0  # calls to chat()/complete() that finished (either way)
    completions: int = 0
    attempts: int = 0  # HTTP attempts (or engine batches for in-process engines)
    retries: int = 0
    failures: int = 0  # calls that raised after exhausting retries (or on a non-retryable error)
    errors: dict[str, int] = Field(default_factory=dict)  # attempt errors by kind ("429", "500", "connect", "timeout", ...)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_p50_s: float = 0.0
    latency_p90_s: float = 0.0
    latency_p99_s: float = 0.0
    in_flight: int = 0
    concurrency_limit: float = 0.0
    endpoints: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def summary(self) -> str:
        """One line for logs and CLI summaries."""
        errors = ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{self.requests} requests, {self.completions} completions, {self.retries} retries, "
            f"{self.failures} failures (attempt errors: {errors}); tokens {self.prompt_tokens} prompt / "
            f"{self.completion_tokens} completion; latency p50 {self.latency_p50_s:.3f}s "
            f"p90 {self.latency_p90_s:.3f}s p99 {self.latency_p99_s:.3f}s"
        )


@runtime_checkable
class LLM(Protocol):
    """What every model source implements: the HTTP client, the transformers engine, the scripted engine."""

    async def chat(self, conversation: Conversation, *, sampling: Sampling, thinking: bool = False) -> list[Completion]:
        """`sampling.n` completions of the next assistant turn."""
        ...

    async def complete(self, prompt: str, *, sampling: Sampling) -> list[Completion]:
        """`sampling.n` raw continuations of a prompt already rendered by the chat layer."""
        ...

    def stats(self) -> LLMStats: ...

    async def aclose(self) -> None: ...


@dataclass
class ScriptRequest:
    """What a scripted model function receives: one sample to produce."""

    prompt: str  # the rendered prompt text, always present
    sampling: Sampling
    conversation: Conversation | None = None  # None for raw completions
    thinking: bool = False
    sample_index: int = 0  # 0..n-1 within one request, so a script can vary its samples
    meta: dict[str, Any] = field(default_factory=dict)


class LLMError(RuntimeError):
    """A model call that failed for good; the message says which endpoint and why."""


class LLMInputError(LLMError, ValueError):
    """The request itself cannot run (prompt longer than the context, text that cannot be encoded): a client error."""


class LLMStallError(LLMError):
    """Nothing progressed for the watchdog's time: the endpoints are not answering."""


def prompt_opens_think(prompt: str) -> bool:
    """True when the prompt ends inside an open `<think>` (the generation continues the reasoning)."""
    return prompt.rfind("<think>") > prompt.rfind("</think>")
