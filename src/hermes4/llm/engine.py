"""In-process engines: the `LLM` protocol over a local generate function, with a batching queue."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hermes4.chat.messages import Conversation
from hermes4.llm.accounting import Accounting
from hermes4.llm.outputs import off_loop_if_long
from hermes4.llm.types import (
    Completion,
    LLMError,
    LLMInputError,
    LLMStats,
    Sampling,
    prompt_opens_think,
)


@dataclass
class RequestOptions:
    """What a server adds to one call of a local engine: a forced start, live text, the context budget."""

    prefill: str = ""  # the assistant turn starts with this text (forced); the output includes it
    on_text: Callable[[int, str], None] | None = None  # (sample index, new text), called on the caller's loop
    context_budget: bool = False  # `sampling.max_tokens` is a cap: generate up to the end of the context window
    check_context: bool = True  # prompt + max_tokens must fit the context window (else LLMInputError)
    json_schema: dict[str, Any] | None = None  # constrain decoding to JSON following it (engines that can)
    close: str = ""  # appended when the constrained JSON ended the answer (e.g. `</tool_call>` after a forced call)


@dataclass
class GenerationJob:
    """One sample to generate: a rendered prompt and how to sample it (`sampling.n` is ignored here)."""

    prompt: str
    sampling: Sampling
    conversation: Conversation | None = None
    thinking: bool = False
    sample_index: int = 0
    request: int = 0  # which call the job belongs to (its n samples share it)
    prefill: str = ""  # already at the end of `prompt`; generated text continues it
    json_schema: dict[str, Any] | None = None  # decode only JSON that follows this schema
    close: str = ""  # appended to the output when the JSON ended it
    # Set when the caller went away: an engine stops this job's generation at the next token.
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    # Thread-safe: hands generated text to the caller as it comes (None: nobody is listening).
    on_text: Callable[[str], None] | None = field(default=None, repr=False)
    streamed: int = 0  # characters of the final text already handed to on_text

    def emit(self, text: str) -> None:
        if text and self.on_text is not None:
            self.streamed += len(text)
            self.on_text(text)


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
    def generate_batch(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        """Generate one output per job (blocking; runs in a worker thread); a job that failed alone gets its exception."""

    #: The most tokens a prompt and its generation may hold together (None: no limit known).
    context_window: int | None = None
    #: True when the engine can force the start of the answer (`RequestOptions.prefill`).
    supports_prefill: bool = False
    #: True when the engine can constrain decoding to a JSON schema (`RequestOptions.json_schema`).
    supports_json_schema: bool = False

    def count_tokens(self, text: str) -> int:
        counter = getattr(self, "counter", None)
        return counter.count(text) if counter is not None else len(text.split())

    @property
    def end_of_turn(self) -> str:
        from hermes4.chat import get_format

        return get_format(self.format).end_of_turn

    def render(self, conversation: Conversation, *, thinking: bool) -> str:
        """The prompt text for the next assistant turn, in this engine's chat format."""
        from hermes4.chat import render

        return render(conversation, format=self.format, thinking=thinking, add_generation_prompt=True).text

    # -- the LLM protocol --------------------------------------------------------------------
    async def chat(
        self, conversation: Conversation, *, sampling: Sampling, thinking: bool = False, options: RequestOptions | None = None
    ) -> list[Completion]:
        if conversation.thinking is not None and not thinking:
            thinking = conversation.thinking
        prompt = self.render(conversation, thinking=thinking)
        return await self._run(prompt, sampling, conversation=conversation, thinking=thinking, options=options)

    async def complete(self, prompt: str, *, sampling: Sampling, options: RequestOptions | None = None) -> list[Completion]:
        return await self._run(prompt, sampling, conversation=None, thinking=prompt_opens_think(prompt), options=options)

    def stats(self) -> LLMStats:
        return self._accounting.snapshot(in_flight=self._in_flight, concurrency_limit=float(self.max_batch))

    async def aclose(self) -> None:  # noqa: B027 (a no-op by default, not abstract)
        """Nothing to release between calls; subclasses holding resources override this."""

    # -- machinery ---------------------------------------------------------------------------
    def _budget(self, prompt: str, sampling: Sampling, options: RequestOptions) -> Sampling:
        """Input checks before batching (a bad request fails alone, as a client error) and the token budget."""
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise LLMInputError(f"the prompt holds text that is not valid Unicode at character {exc.start}: {exc.reason}") from None
        window = self.context_window
        if window is None or not (options.context_budget or options.check_context):
            return sampling
        used = self.count_tokens(prompt + options.prefill)
        left = window - used
        if left < 1:
            raise LLMInputError(f"this model's context window is {window} tokens; the prompt alone is {used} tokens")
        if options.context_budget:
            return sampling.model_copy(update={"max_tokens": min(sampling.max_tokens, left)})
        if sampling.max_tokens > left:
            raise LLMInputError(
                f"this model's context window is {window} tokens; you asked for {used + sampling.max_tokens} "
                f"({used} in the prompt, {sampling.max_tokens} in the completion)"
            )
        return sampling

    async def _run(
        self, prompt: str, sampling: Sampling, *, conversation: Conversation | None, thinking: bool, options: RequestOptions | None = None
    ) -> list[Completion]:
        from hermes4.parse import parse

        options = options or RequestOptions(check_context=False)
        sampling = self._budget(prompt, sampling, options)
        started = time.perf_counter()
        request = next(self._requests)
        loop = asyncio.get_running_loop()

        def listener(index: int) -> Callable[[str], None] | None:
            on_text = options.on_text
            if on_text is None:
                return None

            def deliver(text: str) -> None:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(on_text, index, text)

            return deliver

        jobs = [
            GenerationJob(
                prompt=prompt + options.prefill,
                sampling=sampling,
                conversation=conversation,
                thinking=thinking,
                sample_index=i,
                request=request,
                prefill=options.prefill,
                json_schema=options.json_schema,
                close=options.close,
                on_text=listener(i),
            )
            for i in range(sampling.n)
        ]
        for job in jobs:
            job.emit(options.prefill)
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
            text = generation.text
            parsed = await off_loop_if_long(len(text), lambda text=text: parse(text, reasoning_started=reasoning_started))
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
        except BaseException:
            # A caller that gave up (client disconnected, timeout) takes its jobs with it, queued or running.
            for p in pending:
                p.job.cancelled.set()
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
                outputs = await self._generate_each([p.job for p in batch])
                for p, output in zip(batch, outputs):
                    if isinstance(output, Exception):
                        self._accounting.errors[type(output).__name__] += 1
                        error = output if isinstance(output, LLMError) else LLMError(f"{self.name}: generation failed: {type(output).__name__}: {output}")
                        _resolve(p.future, error=error)
                    else:
                        p.job.emit(output.text[p.job.streamed :])  # what the engine did not stream itself
                        _resolve(p.future, result=output)
        finally:
            self._draining = False

    async def _generate_each(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        """One outcome per job. When the batch as a whole fails, each job is run alone, so one bad job fails alone."""
        try:
            outputs = await self._generate_async(jobs)
            if len(outputs) != len(jobs):
                raise LLMError(f"{self.name}: engine returned {len(outputs)} outputs for {len(jobs)} jobs")
            return outputs
        except Exception as exc:  # noqa: BLE001  (isolated below; a lone job gets the error itself)
            if len(jobs) == 1:
                return [exc]
        outcomes: list[Generation | Exception] = []
        for job in jobs:
            outcomes.extend(await self._generate_each([job]))
        return outcomes

    async def _generate_async(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
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
