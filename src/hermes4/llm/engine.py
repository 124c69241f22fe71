"""In-process engines: the `LLM` protocol over a local generate function, with a batching queue."""

from __future__ import annotations

import asyncio
import itertools
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

from hermes4.chat.messages import Conversation
from hermes4.llm.accounting import Accounting
from hermes4.llm.types import (
    Completion,
    LLMError,
    LLMStats,
    Sampling,
    prompt_opens_think,
)


@dataclass
class GenerationJob:
    """One sample to generate: a rendered prompt and how to sample it (`sampling.n` is ignored here)."""

    prompt: str
    sampling: Sampling
    conversation: Conversation | None = None
    thinking: bool = False
    sample_index: int = 0
    request: int = 0  # which call the job belongs to (its n samples share it)


@dataclass
class Generation:
    """What an engine produced for one job, already cut at stop strings / max_tokens."""

    text: str
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[float] | None = None
    tokens: list[str] | None = None


@dataclass
class _Pending:
    job: GenerationJob
    future: asyncio.Future[Generation] = field(repr=False)


class LocalEngine(ABC):
    """Base of the in-process engines: renders with our chat layer, batches jobs, parses every output.

    Calls from many coroutines queue up; one drain task at a time takes up to `max_batch` jobs and
    hands them to `generate_batch` in a worker thread, so the event loop (and a server on it) stays
    responsive while the model runs.
    """

    def __init__(self, *, name: str, format: str = "chatml", max_batch: int = 8) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.name = name
        self.format = format
        self.max_batch = max_batch
        self._pending: list[_Pending] = []
        self._draining = False
        self._accounting = Accounting()
        self._in_flight = 0
        self._requests = itertools.count()
        self._drain_task: asyncio.Task[None] | None = None

    # -- what a subclass provides -------------------------------------------------------------
    @abstractmethod
    def generate_batch(self, jobs: list[GenerationJob]) -> list[Generation]:
        """Generate one output per job (blocking; runs in a worker thread)."""

    @property
    def end_of_turn(self) -> str:
        from hermes4.chat import get_format

        return get_format(self.format).end_of_turn

    def render(self, conversation: Conversation, *, thinking: bool) -> str:
        """The prompt text for the next assistant turn, in this engine's chat format."""
        from hermes4.chat import render

        return render(conversation, format=self.format, thinking=thinking, add_generation_prompt=True).text

    # -- the LLM protocol --------------------------------------------------------------------
    async def chat(self, conversation: Conversation, *, sampling: Sampling, thinking: bool = False) -> list[Completion]:
        if conversation.thinking is not None and not thinking:
            thinking = conversation.thinking
        prompt = self.render(conversation, thinking=thinking)
        return await self._run(prompt, sampling, conversation=conversation, thinking=thinking)

    async def complete(self, prompt: str, *, sampling: Sampling) -> list[Completion]:
        return await self._run(prompt, sampling, conversation=None, thinking=prompt_opens_think(prompt))

    def stats(self) -> LLMStats:
        return self._accounting.snapshot(in_flight=self._in_flight, concurrency_limit=float(self.max_batch))

    async def aclose(self) -> None:  # noqa: B027 (a no-op by default, not abstract)
        """Nothing to release between calls; subclasses holding resources override this."""

    # -- machinery ---------------------------------------------------------------------------
    async def _run(self, prompt: str, sampling: Sampling, *, conversation: Conversation | None, thinking: bool) -> list[Completion]:
        from hermes4.parse import parse

        started = time.perf_counter()
        request = next(self._requests)
        jobs = [
            GenerationJob(prompt=prompt, sampling=sampling, conversation=conversation, thinking=thinking, sample_index=i, request=request)
            for i in range(sampling.n)
        ]
        self._in_flight += 1
        try:
            generations = await self._submit(jobs)
        except BaseException:
            self._accounting.record_failure(time.perf_counter() - started)
            raise
        finally:
            self._in_flight -= 1
        latency = time.perf_counter() - started
        reasoning_started = prompt_opens_think(prompt)
        completions = []
        for generation in generations:
            parsed = parse(generation.text, reasoning_started=reasoning_started)
            finish = generation.finish_reason
            if finish == "stop" and parsed.tool_calls:
                finish = "tool_calls"
            completions.append(
                Completion(
                    text=generation.text,
                    parsed=parsed,
                    finish_reason=finish,
                    prompt_tokens=generation.prompt_tokens,
                    completion_tokens=generation.completion_tokens,
                    latency_s=latency,
                    logprobs=generation.logprobs,
                    tokens=generation.tokens,
                )
            )
        self._accounting.record_success(
            completions=len(completions),
            prompt_tokens=generations[0].prompt_tokens if generations else 0,
            completion_tokens=sum(g.completion_tokens for g in generations),
            latency_s=latency,
        )
        return completions

    async def _submit(self, jobs: list[GenerationJob]) -> list[Generation]:
        loop = asyncio.get_running_loop()
        pending = [_Pending(job, loop.create_future()) for job in jobs]
        self._pending.extend(pending)
        if not self._draining:
            self._draining = True
            self._drain_task = loop.create_task(self._drain())  # held, so it is not collected mid-run
        try:
            return list(await asyncio.gather(*(p.future for p in pending)))
        except asyncio.CancelledError:
            # A caller that gave up (client disconnected, timeout) takes its queued jobs with it.
            for p in pending:
                p.future.cancel()
            raise

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = [p for p in self._pending[: self.max_batch] if not p.future.done()]
                del self._pending[: self.max_batch]
                if not batch:
                    continue
                self._accounting.attempts += 1
                try:
                    outputs = await self._generate_async([p.job for p in batch])
                    if len(outputs) != len(batch):
                        raise LLMError(f"{self.name}: engine returned {len(outputs)} outputs for {len(batch)} jobs")
                except Exception as exc:  # noqa: BLE001  (the engine failed: every job of the batch gets the error, none hangs)
                    self._accounting.errors[type(exc).__name__] += 1
                    error = exc if isinstance(exc, LLMError) else LLMError(f"{self.name}: generation failed: {type(exc).__name__}: {exc}")
                    for p in batch:
                        _resolve(p.future, error=error)
                    continue
                for p, output in zip(batch, outputs):
                    _resolve(p.future, result=output)
        finally:
            self._draining = False

    async def _generate_async(self, jobs: list[GenerationJob]) -> list[Generation]:
        return await asyncio.to_thread(self.generate_batch, jobs)


def _resolve(future: asyncio.Future[Generation], *, result: Generation | None = None, error: BaseException | None = None) -> None:
    """Settle a caller's future, from its own loop's thread (an engine may serve callers on several loops)."""

    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    loop = future.get_loop()
    try:
        same_loop = asyncio.get_running_loop() is loop
    except RuntimeError:
        same_loop = False
    if same_loop:
        settle()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(settle)
