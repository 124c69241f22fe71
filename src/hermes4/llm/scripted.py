"""The scripted engine: a plain Python function standing in for a model, behind the same `LLM` protocol."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from hermes4.llm.cutoff import TokenCounter, apply_limits
from hermes4.llm.engine import Generation, GenerationJob, LocalEngine
from hermes4.llm.types import ScriptRequest

ScriptFunction = Callable[[ScriptRequest], "str | Awaitable[str]"]


class ScriptedEngine(LocalEngine):
    """`fn(ScriptRequest) -> str` (or an async function) exposed as a model.

    The function writes the whole output as the model would (e.g. `<think>…</think>` then the
    answer, or `<tool_call>{…}</tool_call>`); the engine then applies the end-of-turn marker, stop
    strings and `max_tokens` like an engine generating token by token, counting tokens with
    `tokenizer` when given, else as word pieces (see `hermes4.llm.cutoff`).
    """

    def __init__(
        self,
        fn: ScriptFunction,
        *,
        name: str | None = None,
        format: str = "chatml",
        tokenizer: Any | None = None,
        max_batch: int = 64,
        context_window: int | None = 40960,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"ScriptedEngine needs a callable, got {type(fn).__name__}")
        super().__init__(name=name or getattr(fn, "__name__", "scripted"), format=format, max_batch=max_batch)
        self.fn = fn
        self.context_window = context_window  # a script has no real limit; the default is Hermes 4's budget
        self.counter = TokenCounter(tokenizer)
        self._is_async = inspect.iscoroutinefunction(fn)

    def _request(self, job: GenerationJob) -> ScriptRequest:
        return ScriptRequest(
            prompt=job.prompt,
            sampling=job.sampling,
            conversation=job.conversation,
            thinking=job.thinking,
            sample_index=job.sample_index,
        )

    def _finish(self, job: GenerationJob, text: Any) -> Generation:
        if not isinstance(text, str):
            raise TypeError(f"scripted function {self.name} returned {type(text).__name__}, expected str")
        cut = apply_limits(
            text,
            max_tokens=job.sampling.max_tokens,
            stop=job.sampling.stop,
            counter=self.counter,
            end_of_turn=self.end_of_turn,
        )
        return Generation(
            text=cut.text,
            finish_reason=cut.finish_reason,
            prompt_tokens=self.counter.count(job.prompt),
            completion_tokens=cut.completion_tokens,
        )

    def _finish_or_error(self, job: GenerationJob, text: Any) -> Generation | Exception:
        if isinstance(text, Exception):
            return text
        try:
            return self._finish(job, text)
        except Exception as exc:  # noqa: BLE001  (this job's failure is its own)
            return exc

    def generate_batch(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        outcomes: list[Generation | Exception] = []
        for job in jobs:
            try:
                text = self.fn(self._request(job))
            except Exception as exc:  # noqa: BLE001  (one failing call fails alone; the batch goes on)
                text = exc
            outcomes.append(self._finish_or_error(job, text))
        return outcomes

    async def _generate_async(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        if self._is_async:
            texts = await asyncio.gather(*(self.fn(self._request(job)) for job in jobs), return_exceptions=True)  # type: ignore[misc]
            return [self._finish_or_error(job, text) for job, text in zip(jobs, texts)]
        return await super()._generate_async(jobs)


def load_script(spec: str) -> ScriptFunction:
    """`package.module:function` → the function; errors name what is missing."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"scripted function {spec!r}: expected module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"scripted function {spec!r}: cannot import {module_name}: {exc}") from None
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)  # type: ignore[assignment]
        if fn is None:
            raise ValueError(f"scripted function {spec!r}: {module_name} has no attribute {attr}")
    if not callable(fn):
        raise ValueError(f"scripted function {spec!r}: {attr} is not callable")  # noqa: TRY004  (bad user input, like the others)
    return fn  # type: ignore[return-value]
