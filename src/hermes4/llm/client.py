"""The async client for OpenAI-compatible endpoints (vLLM, SGLang, llama.cpp, hosted APIs, `hermes4 serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from typing_extensions import Self

from hermes4.chat.messages import Conversation
from hermes4.llm.accounting import Accounting
from hermes4.llm.balance import Balancer, Endpoint
from hermes4.llm.limits import AdaptiveLimiter, Backoff, parse_retry_after
from hermes4.llm.outputs import (
    completion_from_chat_choice,
    completion_from_text_choice,
    off_loop_if_long,
    split_tokens,
)
from hermes4.llm.types import Completion, LLMError, LLMStallError, LLMStats, Sampling

_RETRY_STATUS = frozenset({408, 409, 425, 429})


class ShardedHTTP:
    """Several small httpx connection pools used as one, each request on the least busy.

    httpcore's pool scans all of its connections for every request it places, which costs
    O(connections x waiting requests) per event: at a few hundred connections the client spends
    most of its CPU there (measured; see benchmarks/bench_client.py). Pools of `per_shard`
    connections keep that scan short.
    """

    def __init__(self, *, connections: int, headers: dict[str, str], timeout: httpx.Timeout, trust_env: bool, per_shard: int = 8) -> None:
        count = max(1, -(-connections // per_shard))
        size = -(-connections // count)
        ssl_context = httpx.create_ssl_context(trust_env=trust_env)
        self.shards = [
            httpx.AsyncClient(
                headers=headers,
                timeout=timeout,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                trust_env=trust_env,
                verify=ssl_context,
            )
            for _ in range(count)
        ]
        self.busy = [0] * count

    async def post(self, url: str, *, json: Any) -> httpx.Response:
        index = min(range(len(self.shards)), key=self.busy.__getitem__)
        self.busy[index] += 1
        try:
            return await self.shards[index].post(url, json=json)
        finally:
            self.busy[index] -= 1

    @contextlib.asynccontextmanager
    async def stream(self, url: str, *, json: Any) -> AsyncIterator[httpx.Response]:
        index = min(range(len(self.shards)), key=self.busy.__getitem__)
        self.busy[index] += 1
        try:
            async with self.shards[index].stream("POST", url, json=json) as response:
                yield response
        finally:
            self.busy[index] -= 1

    async def get(self, url: str) -> httpx.Response:
        return await self.shards[0].get(url)

    async def aclose(self) -> None:
        for shard in self.shards:
            await shard.aclose()


@dataclass(eq=False)
class _Watched:
    """An attempt in flight, as the stall watchdog sees it."""

    endpoint: Endpoint
    started: float
    task: asyncio.Task[Any]
    stalled_for: float | None = None  # set by the watchdog when it gives the attempt up


class _Retryable(Exception):
    """One attempt failed in a way worth retrying (possibly elsewhere)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry_after: float | None = None,
        overload: bool = False,
        endpoint_fault: bool = False,
        stalled: float | None = None,
    ) -> None:
        super().__init__(message)
        self.stalled = stalled  # seconds without progress, when the attempt was given up as a stall
        self.kind = kind
        self.retry_after = retry_after
        self.overload = overload  # shrink the concurrency limit
        self.endpoint_fault = endpoint_fault  # cool this endpoint down and prefer the others


class OpenAIClient:
    """`LLM` over one or more OpenAI-compatible endpoints.

    Each call takes a slot from an adaptive concurrency limiter (hard cap `max_concurrency`), goes
    to the endpoint with the fewest requests in flight, and is retried with exponential backoff and
    jitter on 429 / 5xx / connection errors / timeouts (honouring `Retry-After`), on another
    endpoint when there is one. A watchdog per attempt gives up on an endpoint that has answered
    nothing (no response, no stream event, to any call) for `stall_timeout` seconds while the attempt
    waited: the attempt is retried on another endpoint and the stalled one cools down like a dead one;
    a call every endpoint stalled on fails with `LLMStallError`. Waiting out a `Retry-After` between
    attempts is not a stall. Model discovery (`model=None`) runs under the same time limit.

    `extensions` sends the parameters vLLM and SGLang understand beyond the OpenAI API (`top_k`,
    `chat_template_kwargs`, `skip_special_tokens`); turn it off for hosted APIs that reject them.

    `stream=True` asks the server for SSE and assembles the chunks into the same result. It costs
    some client CPU per token, and buys progress the watchdog can see: without it an answer is one
    event at the end, so with few long generations in flight (tens of thousands of reasoning
    tokens) `stall_timeout` must exceed the longest generation; with it, every token counts.
    """

    def __init__(
        self,
        endpoints: str | list[str],
        *,
        model: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 256,
        initial_concurrency: int | None = None,
        request_timeout: float = 600.0,
        stall_timeout: float = 300.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        extensions: bool = True,
        extra_body: dict[str, Any] | None = None,
        trust_env: bool = False,
        stream: bool = False,
    ) -> None:
        urls = [u for u in endpoints.split(",")] if isinstance(endpoints, str) else list(endpoints)
        self.balancer = Balancer.from_urls([u for u in urls if u.strip()])
        self.model = model
        self.api_key = api_key
        self.request_timeout = request_timeout
        self.stall_timeout = stall_timeout
        self.max_retries = max_retries
        self.extensions = extensions
        self.stream = stream
        self.extra_body = dict(extra_body or {})
        self.limiter = AdaptiveLimiter(max_concurrency, initial=initial_concurrency if initial_concurrency is not None else min(max_concurrency, 32))
        self.backoff = Backoff(backoff_base, backoff_cap)
        self._accounting = Accounting()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = ShardedHTTP(
            connections=max_concurrency,
            headers=headers,
            timeout=httpx.Timeout(request_timeout, connect=min(10.0, request_timeout)),
            trust_env=trust_env,
        )
        self._in_flight = 0
        self._attempts: set[_Watched] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._model_lock: asyncio.Lock | None = None

    # -- the LLM protocol --------------------------------------------------------------------
    async def chat(self, conversation: Conversation, *, sampling: Sampling, thinking: bool = False) -> list[Completion]:
        thinking = thinking or bool(conversation.thinking)
        body: dict[str, Any] = {
            "model": await self._model_name(),
            "messages": [m.to_openai() for m in conversation.messages],
            **self._sampling_body(sampling),
        }
        if conversation.tools:
            body["tools"] = [t.model_dump(exclude_none=True) for t in conversation.tools]
        if sampling.logprobs:
            body["logprobs"] = True
        if self.extensions:
            template_kwargs: dict[str, Any] = {"thinking": thinking}
            if conversation.keep_cots is not None:
                template_kwargs["keep_cots"] = conversation.keep_cots
            body["chat_template_kwargs"] = template_kwargs
        body.update(self.extra_body)
        data, latency = await self._call("/chat/completions", body)
        choices = _choices(data, sampling.n)
        usage = data.get("usage") or {}
        lengths = [_chat_text_length(c) for c in choices]
        tokens = split_tokens(usage.get("completion_tokens"), lengths)
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        return await off_loop_if_long(
            sum(lengths),
            lambda: [
                completion_from_chat_choice(c, prompt_tokens=prompt_tokens, completion_tokens=t, latency_s=latency)
                for c, t in zip(choices, tokens)
            ],
        )

    async def complete(self, prompt: str, *, sampling: Sampling, extra_body: dict[str, Any] | None = None) -> list[Completion]:
        """`extra_body`: request fields of this call only, after the client's own (vLLM's `thinking_token_budget`)."""
        body: dict[str, Any] = {"model": await self._model_name(), "prompt": prompt, **self._sampling_body(sampling)}
        if sampling.logprobs:
            body["logprobs"] = 1
        if self.extensions:
            # Hermes markers (<think>, <tool_call>) may be special tokens; raw text must keep them.
            body["skip_special_tokens"] = False
        body.update(self.extra_body)
        body.update(extra_body or {})
        data, latency = await self._call("/completions", body)
        choices = _choices(data, sampling.n)
        usage = data.get("usage") or {}
        tokens = split_tokens(usage.get("completion_tokens"), [len(c.get("text") or "") for c in choices])
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        return await off_loop_if_long(
            sum(len(c.get("text") or "") for c in choices),
            lambda: [
                completion_from_text_choice(c, prompt=prompt, prompt_tokens=prompt_tokens, completion_tokens=t, latency_s=latency)
                for c, t in zip(choices, tokens)
            ],
        )

    def stats(self) -> LLMStats:
        return self._accounting.snapshot(
            in_flight=self._in_flight,
            concurrency_limit=self.limiter.limit,
            endpoints={e.url: e.as_dict() for e in self.balancer.endpoints},
        )

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def models(self) -> list[str]:
        """Model ids served by the first endpoint that answers."""
        errors = []
        limit = min(self.stall_timeout, self.request_timeout)
        for endpoint in self.balancer.endpoints:
            try:
                async with asyncio.timeout(limit):  # a hung endpoint must not hang discovery
                    response = await self._http.get(f"{endpoint.url}/models")
                response.raise_for_status()
                return [m["id"] for m in response.json().get("data", [])]
            except TimeoutError:
                self.balancer.mark_failure(endpoint, f"no answer to /models within {limit:g}s")
                errors.append(f"{endpoint.url}: stalled: no answer to /models within {limit:g}s")
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                errors.append(f"{endpoint.url}: {type(exc).__name__}: {exc}")
        raise LLMError("cannot list models: " + "; ".join(errors))

    # -- requests ----------------------------------------------------------------------------
    def _sampling_body(self, sampling: Sampling) -> dict[str, Any]:
        body: dict[str, Any] = {
            "n": sampling.n,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if self.extensions and sampling.top_k > 0:
            body["top_k"] = sampling.top_k
        return body

    async def _model_name(self) -> str:
        if self.model is None:
            if self._model_lock is None:
                self._model_lock = asyncio.Lock()
            async with self._model_lock:
                if self.model is None:
                    names = await self.models()
                    if not names:
                        raise LLMError(f"{self.balancer.endpoints[0].url}/models lists no model; pass model=")
                    self.model = names[0]
        return self.model

    async def _call(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST with retries, under the limiter and the per-attempt stall watchdog; returns (json, latency).

        Latency runs from the first attempt's send (after waiting for a concurrency slot) to the
        answer, retries included: the service time, not the time spent queued behind the cap.
        """
        queued = time.perf_counter()
        self._in_flight += 1
        sent: list[float] = []
        try:
            data = await self._call_with_retries(path, body, sent)
        except BaseException:
            self._accounting.record_failure(time.perf_counter() - (sent[0] if sent else queued))
            raise
        finally:
            self._in_flight -= 1
        latency = time.perf_counter() - (sent[0] if sent else queued)
        usage = data.get("usage") or {}
        self._accounting.record_success(
            completions=len(data.get("choices") or []),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            latency_s=latency,
        )
        return data, latency

    async def _call_with_retries(self, path: str, body: dict[str, Any], sent: list[float]) -> dict[str, Any]:
        attempt = 0
        previous: Endpoint | None = None
        stalled: dict[str, float] = {}  # endpoints this call stalled on, and for how long
        while True:
            await self.limiter.acquire()
            if not sent:
                sent.append(time.perf_counter())
            try:
                endpoint = self.balancer.pick(avoid=previous)
                try:
                    return await self._attempt(endpoint, path, body)
                except _Retryable as exc:
                    failure = exc
            finally:
                self.limiter.release()
            attempt += 1
            self._accounting.errors[failure.kind] += 1
            if failure.stalled is not None:
                stalled[endpoint.url] = failure.stalled
            if failure.overload:
                self.limiter.on_overload()
            if failure.endpoint_fault:
                self.balancer.mark_failure(endpoint, str(failure))
            else:
                self.balancer.mark_busy(endpoint, failure.retry_after, str(failure))
            if len(stalled) == len(self.balancer.endpoints):
                # Every endpoint stalled on this call: nowhere left to go. Name those that stalled.
                urls = ", ".join(stalled)
                raise LLMStallError(
                    f"stalled: no response from {urls} for {max(stalled.values()):.1f}s with {self._in_flight} requests in flight "
                    f"(stall_timeout={self.stall_timeout:g}s)"
                )
            if attempt > self.max_retries:
                raise LLMError(f"{endpoint.url}{path}: gave up after {attempt} attempts; last error: {failure}")
            self._accounting.retries += 1
            previous = endpoint if len(self.balancer.endpoints) > 1 else None
            await asyncio.sleep(self.backoff.delay(attempt, failure.retry_after))

    async def _attempt(self, endpoint: Endpoint, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One attempt, given up as a stall when its endpoint shows no progress for `stall_timeout` (see `_watch`)."""
        task = asyncio.current_task()
        assert task is not None
        watched = _Watched(endpoint, time.monotonic(), task)
        self._attempts.add(watched)
        self._ensure_watchdog()
        try:
            return await self._attempt_once(endpoint, path, body)
        except asyncio.CancelledError:
            if watched.stalled_for is None or task.cancelling() > 1:
                raise  # cancelled from outside: the caller gave up
            task.uncancel()
            raise _Retryable(
                "stall", f"stalled: no response for {watched.stalled_for:.1f}s (stall_timeout={self.stall_timeout:g}s)",
                endpoint_fault=True, stalled=watched.stalled_for,
            ) from None
        finally:
            self._attempts.discard(watched)

    def _ensure_watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        if self._watchdog is None or self._watchdog.done() or self._watchdog.get_loop() is not loop:
            self._watchdog = loop.create_task(self._watch())

    async def _watch(self) -> None:
        """One task for all attempts: cancels each attempt whose endpoint has sent nothing for `stall_timeout`."""
        period = max(0.02, min(1.0, self.stall_timeout / 8))
        while self._attempts:
            await asyncio.sleep(period)
            now = time.monotonic()
            for watched in list(self._attempts):
                idle = now - max(watched.started, watched.endpoint.last_progress)
                if watched.stalled_for is None and idle >= self.stall_timeout:
                    watched.stalled_for = idle
                    watched.task.cancel()

    async def _attempt_once(self, endpoint: Endpoint, path: str, body: dict[str, Any]) -> dict[str, Any]:
        endpoint.outstanding += 1
        endpoint.requests += 1
        self._accounting.attempts += 1
        try:
            async with asyncio.timeout(self.request_timeout):
                if body.get("stream"):
                    async with self._http.stream(endpoint.url + path, json=body) as streamed:
                        if streamed.status_code == 200:
                            data = await self._read_stream(streamed, endpoint)
                            self.limiter.on_success()
                            self.balancer.mark_success(endpoint)
                            return data
                        await streamed.aread()
                        response = streamed
                else:
                    response = await self._http.post(endpoint.url + path, json=body)
        except TimeoutError:
            raise _Retryable("timeout", f"no answer within {self.request_timeout:g}s", overload=True, endpoint_fault=True) from None
        except httpx.TimeoutException as exc:
            raise _Retryable("timeout", f"{type(exc).__name__}: {exc}", overload=True, endpoint_fault=True) from None
        except httpx.TransportError as exc:
            # Refused, reset, or dropped mid-body: the request may not have run; retry it.
            raise _Retryable("connection", f"{type(exc).__name__}: {exc or 'connection failed'}", endpoint_fault=True) from None
        finally:
            endpoint.outstanding -= 1
        endpoint.last_progress = time.monotonic()
        status = response.status_code
        if status == 200:
            try:
                data = response.json()
            except ValueError:
                raise _Retryable("bad_json", f"HTTP 200 with a body that is not JSON: {response.text[:200]!r}", endpoint_fault=True) from None
            if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
                raise _Retryable("bad_json", f"HTTP 200 without choices: {response.text[:200]!r}", endpoint_fault=True)
            self.limiter.on_success()
            self.balancer.mark_success(endpoint)
            return data
        message = _error_message(response)
        if status == 429:
            raise _Retryable("429", f"HTTP 429: {message}", retry_after=parse_retry_after(response.headers.get("retry-after")), overload=True)
        if status >= 500 or status in _RETRY_STATUS:
            raise _Retryable(
                str(status),
                f"HTTP {status}: {message}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                overload=status in (503, 504),
                endpoint_fault=True,
            )
        raise LLMError(f"{endpoint.url}{path}: HTTP {status}: {message}")

    async def _read_stream(self, response: httpx.Response, endpoint: Endpoint) -> dict[str, Any]:
        """Assemble an SSE answer into the non-streaming shape; every event counts as progress."""
        choices: dict[int, dict[str, Any]] = {}
        usage: dict[str, Any] | None = None
        async for line in response.aiter_lines():
            endpoint.last_progress = time.monotonic()
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                return {"choices": [choices[i] for i in sorted(choices)], "usage": usage or {}}
            try:
                chunk = json.loads(payload)
            except ValueError:
                raise _Retryable("bad_json", f"stream event is not JSON: {payload[:200]!r}", endpoint_fault=True) from None
            if "error" in chunk:
                error = chunk["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise _Retryable("stream_error", f"error event in the stream: {message}", endpoint_fault=True)
            if chunk.get("usage"):
                usage = chunk["usage"]
            for part in chunk.get("choices") or []:
                _merge_chunk(choices, part)
        raise _Retryable("connection", "the stream ended before [DONE]", endpoint_fault=True)


def _merge_chunk(choices: dict[int, dict[str, Any]], part: dict[str, Any]) -> None:
    """Fold one streamed choice delta into the message (chat) or text (completions) being built."""
    index = int(part.get("index", 0))
    choice = choices.setdefault(index, {"index": index, "finish_reason": None})
    if part.get("finish_reason"):
        choice["finish_reason"] = part["finish_reason"]
    if part.get("prompt_token_ids") is not None:  # vLLM's return_token_ids: the prompt's in the first chunk
        choice["prompt_token_ids"] = part["prompt_token_ids"]
    if part.get("token_ids") is not None:  # ... and each chunk's generated ids
        choice["token_ids"] = choice.get("token_ids", []) + part["token_ids"]
    if "text" in part:
        choice["text"] = choice.get("text", "") + (part.get("text") or "")
        return
    delta = part.get("delta") or {}
    message = choice.setdefault("message", {"role": "assistant", "content": ""})
    if delta.get("content"):
        message["content"] += delta["content"]
    for key in ("reasoning_content", "reasoning"):
        if delta.get(key) is not None:
            message[key] = (message.get(key) or "") + delta[key]
    for call in delta.get("tool_calls") or []:
        calls = message.setdefault("tool_calls", [])
        position = int(call.get("index", len(calls)))
        while len(calls) <= position:
            calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        slot = calls[position]
        if call.get("id"):
            slot["id"] = call["id"]
        function = call.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""


def _choices(data: dict[str, Any], expected: int) -> list[dict[str, Any]]:
    choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
    if len(choices) != expected:
        raise LLMError(f"asked for n={expected} completions, the server returned {len(choices)}")
    return choices


def _chat_text_length(choice: dict[str, Any]) -> int:
    message = choice.get("message") or {}
    total = len(message.get("content") or "") + len(message.get("reasoning_content") or message.get("reasoning") or "")
    for call in message.get("tool_calls") or []:
        total += len(json.dumps(call.get("function") or {}))
    return total


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
        if isinstance(data.get("detail"), str):
            return data["detail"][:500]
    return json.dumps(data)[:300]
