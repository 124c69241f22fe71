"""Load: 2,000 requests at concurrency 256 through our client against `hermes4 serve` (scripted), no errors, flat memory."""

from __future__ import annotations

import gc

import psutil
import pytest

from hermes4.chat.messages import Conversation
from hermes4.llm import Sampling
from hermes4.llm.client import OpenAIClient

pytestmark = pytest.mark.slow


async def test_two_thousand_requests_at_concurrency_256_flat_memory(serve_process) -> None:
    server = serve_process("--scripted", "hermes4.llm.scripts:echo", "--max-batch", "64")
    me = psutil.Process()
    served = psutil.Process(server.process.pid)
    client = OpenAIClient(server.base_url, model=server.model, max_concurrency=256, initial_concurrency=256)
    try:
        sampling = Sampling(max_tokens=32)

        async def run(start: int, count: int) -> None:
            import asyncio

            conversations = [Conversation.parse([{"role": "user", "content": f"request {i}"}]) for i in range(start, start + count)]
            results = await asyncio.gather(*(client.chat(c, sampling=sampling) for c in conversations))
            for i, completions in zip(range(start, start + count), results):
                assert len(completions) == 1
                assert completions[0].parsed.content == f"You said: request {i}"

        await run(0, 500)  # warm up: connection pool, caches, reservoir
        gc.collect()
        client_before, server_before = me.memory_info().rss, served.memory_info().rss
        await run(500, 2000)
        gc.collect()
        client_growth = me.memory_info().rss - client_before
        server_growth = served.memory_info().rss - server_before
        stats = client.stats()
    finally:
        await client.aclose()
    assert stats.requests == 2500 and stats.failures == 0 and stats.retries == 0 and not stats.errors
    assert stats.completions == 2500 and stats.completion_tokens > 0
    # Flat: 2,000 requests must not leave tens of megabytes behind in either process.
    assert client_growth < 48 * 2**20, f"client RSS grew by {client_growth / 2**20:.1f} MiB"
    assert server_growth < 48 * 2**20, f"server RSS grew by {server_growth / 2**20:.1f} MiB"
