"""Fault tests: our client against a loopback server that answers 429, fails at random, drops and stalls."""

from __future__ import annotations

import asyncio
import time

import pytest

from hermes4.chat.messages import Conversation
from hermes4.llm import LLMError, LLMStallError, Sampling
from hermes4.llm.client import OpenAIClient


def _conversation(key: str) -> Conversation:
    return Conversation.parse([{"role": "user", "content": key}])


async def _run_all(client: OpenAIClient, count: int) -> list[str]:
    keys = [f"req-{i}" for i in range(count)]
    results = await asyncio.gather(*(client.chat(_conversation(k), sampling=Sampling()) for k in keys))
    for key, completions in zip(keys, results):
        assert [c.parsed.content for c in completions] == [f"answer to {key}"]
    return keys


async def test_retries_429_500_and_dropped_connections_return_each_result_once(fault_server) -> None:
    server = fault_server(p429=0.2, retry_after="0.05", p500=0.15, pdrop=0.15, seed=1)
    client = OpenAIClient(server.url, model="m", max_concurrency=32, backoff_base=0.01, backoff_cap=0.1, max_retries=30)
    try:
        keys = await _run_all(client, 300)
        stats = client.stats()
    finally:
        await client.aclose()
    # Every request answered once and only once (the server saw each complete 200 exactly once).
    assert sorted(server.delivered) == sorted(keys) and set(server.delivered.values()) == {1}
    assert server.outcomes["429"] > 0 and server.outcomes["500"] > 0 and server.outcomes["drop"] > 0
    assert stats.requests == 300 and stats.completions == 300 and stats.failures == 0
    assert stats.retries == server.outcomes["429"] + server.outcomes["500"] + server.outcomes["drop"]
    assert stats.errors["429"] == server.outcomes["429"] and stats.errors["500"] == server.outcomes["500"]
    assert stats.errors["connection"] == server.outcomes["drop"]
    assert stats.prompt_tokens == 300 * 3 and stats.completion_tokens == 300 * 4
    assert stats.latency_p50_s <= stats.latency_p90_s <= stats.latency_p99_s
    assert stats.concurrency_limit < 32  # 429s shrank the window


async def test_streamed_answers_dropped_mid_stream_are_retried_once(fault_server) -> None:
    server = fault_server(p429=0.1, p500=0.1, pdrop=0.3, seed=2)
    client = OpenAIClient(server.url, model="m", max_concurrency=16, backoff_base=0.01, backoff_cap=0.05, max_retries=30, stream=True)
    try:
        keys = await _run_all(client, 120)
        stats = client.stats()
    finally:
        await client.aclose()
    assert sorted(server.delivered) == sorted(keys) and set(server.delivered.values()) == {1}
    assert server.outcomes["drop"] > 0 and stats.errors["connection"] == server.outcomes["drop"]
    assert stats.failures == 0 and stats.completions == 120 and stats.completion_tokens == 120 * 4


async def test_streaming_progress_keeps_the_watchdog_quiet(fault_server) -> None:
    # A slow but live stream (an event every 0.15 s, ~1 s in all) is progress: no stall at 0.5 s.
    server = fault_server(trickle=0.15)
    client = OpenAIClient(server.url, model="m", stall_timeout=0.5, stream=True)
    try:
        [completion] = await client.chat(_conversation("one two three four five"), sampling=Sampling())
        assert completion.parsed.content == "answer to one two three four five"
        assert completion.latency_s > 0.5
    finally:
        await client.aclose()
    # A server that sends nothing at all still trips it.
    server = fault_server(stall=True)
    client = OpenAIClient(server.url, model="m", stall_timeout=0.5, stream=True)
    try:
        with pytest.raises(LLMStallError, match="stalled"):
            await client.chat(_conversation("quiet"), sampling=Sampling())
    finally:
        await client.aclose()


async def test_retry_after_is_honoured(fault_server) -> None:
    server = fault_server(p429=1.0, retry_after="0.4")
    client = OpenAIClient(server.url, model="m", backoff_base=0.001, backoff_cap=0.001, max_retries=2)
    started = time.monotonic()
    try:
        with pytest.raises(LLMError, match="gave up after 3 attempts; last error: HTTP 429: slow down"):
            await client.chat(_conversation("x"), sampling=Sampling())
    finally:
        await client.aclose()
    assert time.monotonic() - started >= 0.8  # two waits of at least Retry-After, despite a 1 ms backoff
    assert client.stats().failures == 1 and client.stats().retries == 2


async def test_stall_raises_a_clear_error(fault_server) -> None:
    server = fault_server(stall=True)
    client = OpenAIClient(server.url, model="m", stall_timeout=0.6, request_timeout=60)
    try:
        with pytest.raises(LLMStallError, match=r"stalled: no response from .* for \d+\.\ds with 3 requests in flight"):
            await asyncio.gather(*(client.chat(_conversation(f"s{i}"), sampling=Sampling()) for i in range(3)))
        stats = client.stats()
    finally:
        await client.aclose()
    assert stats.failures >= 1


async def test_per_request_timeout_retries_then_fails(fault_server) -> None:
    server = fault_server(stall=True)
    client = OpenAIClient(server.url, model="m", request_timeout=0.2, stall_timeout=60, max_retries=1, backoff_base=0.01)
    try:
        with pytest.raises(LLMError, match="gave up after 2 attempts; last error: no answer within 0.2s"):
            await client.chat(_conversation("t"), sampling=Sampling())
    finally:
        await client.aclose()
    assert client.stats().errors == {"timeout": 2}


async def test_failover_and_least_outstanding_balancing(fault_server) -> None:
    live_a = fault_server()
    live_b = fault_server()
    dead = "http://127.0.0.1:9/v1"  # discard port: connection refused
    client = OpenAIClient([dead, live_a.url, live_b.url], model="m", backoff_base=0.01, max_retries=5)
    try:
        await _run_all(client, 200)
        stats = client.stats()
    finally:
        await client.aclose()
    assert stats.failures == 0 and stats.errors.get("connection", 0) >= 1
    assert sum(live_a.delivered.values()) + sum(live_b.delivered.values()) == 200
    assert sum(live_a.delivered.values()) > 40 and sum(live_b.delivered.values()) > 40  # both live endpoints share the load
    # Only the first wave (sent before any refusal came back) reaches the dead one; then it is cooled down.
    assert stats.endpoints[dead]["requests"] <= 32


async def test_non_retryable_error_is_raised_at_once(fault_server) -> None:
    client = OpenAIClient("http://127.0.0.1:9", model="m", max_retries=0)
    try:
        with pytest.raises(LLMError, match="gave up after 1 attempts; last error: ConnectError"):
            await client.chat(_conversation("x"), sampling=Sampling())
    finally:
        await client.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_one_stalled_and_one_healthy_endpoint_finish_every_call(fault_server, stream: bool) -> None:
    stalled = fault_server(stall=True)
    healthy = fault_server()
    client = OpenAIClient([stalled.url, healthy.url], model="m", stall_timeout=0.3, backoff_base=0.01, stream=stream)
    try:
        for i in range(6):  # sequential: each one may meet the stalled endpoint first
            [completion] = await client.chat(_conversation(f"seq-{i}"), sampling=Sampling())
            assert completion.parsed.content == f"answer to seq-{i}"
        await _run_all(client, 20)  # and concurrent
        stats = client.stats()
    finally:
        await client.aclose()
    assert stats.failures == 0 and stats.errors["stall"] >= 1
    assert sum(healthy.delivered.values()) == 26
    # The stalled endpoint was cooled down like a dead one: it did not get a share of the 26 calls.
    assert stats.endpoints[stalled.url]["errors"] == stats.errors["stall"] and stats.endpoints[stalled.url]["requests"] < 13
    assert "stalled" in stats.endpoints[stalled.url]["last_error"]


async def test_every_endpoint_stalled_names_them(fault_server) -> None:
    first, second = fault_server(stall=True), fault_server(stall=True)
    client = OpenAIClient([first.url, second.url], model="m", stall_timeout=0.3, backoff_base=0.01)
    try:
        with pytest.raises(LLMStallError) as info:
            await client.chat(_conversation("x"), sampling=Sampling())
    finally:
        await client.aclose()
    assert first.url in str(info.value) and second.url in str(info.value)


async def test_model_discovery_runs_under_the_stall_limit(fault_server, scripted_server) -> None:
    stalled = fault_server(stall=True)
    client = OpenAIClient(stalled.url, stall_timeout=0.3)  # no model=: read from /v1/models
    try:
        with pytest.raises(LLMError, match=rf"cannot list models: {stalled.url}: stalled"):
            await client.chat(_conversation("x"), sampling=Sampling())
    finally:
        await client.aclose()
    client = OpenAIClient([stalled.url, scripted_server.base_url], stall_timeout=0.3)
    try:
        [completion] = await client.chat(_conversation("found"), sampling=Sampling())
        assert completion.parsed.content == "echo 0: found" and client.model == "scripted-test"
    finally:
        await client.aclose()


async def test_waiting_out_retry_after_is_not_a_stall(fault_server) -> None:
    # The first answer is a 429 asking for 0.8 s, longer than the 0.3 s stall limit; the second attempt succeeds.
    server = fault_server(p429=0.5, retry_after="0.8", seed=1)
    client = OpenAIClient(server.url, model="m", stall_timeout=0.3, backoff_base=0.001)
    try:
        [completion] = await client.chat(_conversation("patient"), sampling=Sampling())
    finally:
        await client.aclose()
    assert completion.parsed.content == "answer to patient"
    assert server.outcomes["429"] == 1 and client.stats().errors == {"429": 1}
