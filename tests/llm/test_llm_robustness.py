"""Issue 16 in the server and engines: nothing poisons a batch, work per request is bounded, client errors are 4xx
in the OpenAI shape, and a client that leaves takes its generation with it. Token-by-token streaming is checked here
too, with an engine that holds its generation open until the test lets it go (no timing involved)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import httpx
import pytest

from hermes4.chat.messages import Conversation
from hermes4.llm import LLMError, Sampling, ScriptedEngine
from hermes4.llm.engine import Generation, GenerationJob, LocalEngine, RequestOptions
from hermes4.llm.server import ServerLimits, start_server

from .conftest import script

MODEL = "scripted-test"


def _body(text: str, **extra) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


# ---- 1. one bad request does not fail its batch ----------------------------------------------------------------


async def test_poison_requests_fail_alone_among_16_concurrent(scripted_server) -> None:
    lone_surrogate = b'{"model": "scripted-test", "messages": [{"role": "user", "content": "bad \\ud800 text"}]}'
    async with httpx.AsyncClient(base_url=scripted_server.base_url, timeout=60) as http:
        valid = [http.post("/chat/completions", json=_body(f"ok {i}")) for i in range(13)]
        bad = [
            http.post("/chat/completions", content=lone_surrogate, headers={"content-type": "application/json"}),
            http.post("/chat/completions", json=_body("seeded", seed=2**80)),
            http.post("/chat/completions", json=_body("FAIL")),  # the script raises for this one only
        ]
        answers = await asyncio.gather(*valid, *bad)
    assert [r.status_code for r in answers[:13]] == [200] * 13
    assert [r.json()["choices"][0]["message"]["content"] for r in answers[:13]] == [f"echo 0: ok {i}" for i in range(13)]
    surrogate, seed, failing = answers[13:]
    assert surrogate.status_code == 400 and surrogate.json()["error"]["param"] == "messages[0].content"
    assert seed.status_code == 400 and seed.json()["error"]["param"] == "seed"
    assert failing.status_code == 500 and "failed on purpose" in failing.json()["error"]["message"]


class _BatchFailsOnPoison(LocalEngine):
    """An engine whose batched call fails as a whole when one job is bad, as a batched `generate` does."""

    def __init__(self) -> None:
        super().__init__(name="poisonable", max_batch=16)
        self.batch_sizes: list[int] = []

    def generate_batch(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        self.batch_sizes.append(len(jobs))
        if any("POISON" in job.prompt for job in jobs):
            raise ValueError("the batch met a poisoned job")
        return [Generation(text=f"fine {job.request}", finish_reason="stop", prompt_tokens=1, completion_tokens=1) for job in jobs]


async def test_a_failing_batch_is_split_so_only_the_bad_job_fails() -> None:
    engine = _BatchFailsOnPoison()
    conversations = [Conversation.parse([{"role": "user", "content": "POISON" if i == 7 else f"ok {i}"}]) for i in range(16)]
    outcomes = await asyncio.gather(*(engine.chat(c, sampling=Sampling()) for c in conversations), return_exceptions=True)
    assert engine.batch_sizes[0] == 16  # they really were one batch
    assert [isinstance(o, LLMError) for o in outcomes] == [i == 7 for i in range(16)]
    assert "poisoned job" in str(outcomes[7])


async def test_transformers_batch_with_a_failing_job(tiny_model_dir, monkeypatch) -> None:
    from hermes4.llm.hf import TransformersEngine

    engine = TransformersEngine(tiny_model_dir, max_batch=8, device="cpu")
    real = engine._generate_group

    def group(jobs: list[GenerationJob]) -> list[Generation]:
        if any("POISON" in job.prompt for job in jobs):
            raise RuntimeError("CUDA error: device-side assert (simulated)")
        return real(jobs)

    monkeypatch.setattr(engine, "_generate_group", group)
    greedy = Sampling(temperature=0, max_tokens=4)
    prompts = ["<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"] * 3 + ["POISON"]
    outcomes = await asyncio.gather(*(engine.complete(p, sampling=greedy) for p in prompts), return_exceptions=True)
    assert [isinstance(o, LLMError) for o in outcomes] == [False, False, False, True]
    assert len({o[0].text for o in outcomes[:3]}) == 1  # greedy: the three good ones agree


# ---- 6. bounded work per request -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_server():
    engine = ScriptedEngine(script, name=MODEL)
    limits = ServerLimits(max_body_bytes=50_000, body_timeout_s=0.3, header_timeout_s=0.3, max_n=8)
    with start_server(engine, model_name=MODEL, api_key="sekrit", limits=limits) as server:
        yield server


def _key() -> dict:
    return {"Authorization": "Bearer sekrit"}


def test_body_size_cap_and_auth_before_the_body(small_server) -> None:
    big = _body("x" * 100_000)
    r = httpx.post(f"{small_server.base_url}/chat/completions", json=big, headers=_key())
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    # Without the key the same body is a 401: the key is checked before the body is read.
    r = httpx.post(f"{small_server.base_url}/chat/completions", json=big)
    assert r.status_code == 401
    r = httpx.post(f"{small_server.base_url}/chat/completions", content=b"{not json", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = httpx.post(f"{small_server.base_url}/chat/completions", json=_body("x", n=9), headers=_key())
    assert r.status_code == 400 and r.json()["error"]["param"] == "n"
    assert httpx.post(f"{small_server.base_url}/chat/completions", json=_body("x"), headers=_key()).status_code == 200


def _raw_exchange(url: str, data: bytes) -> bytes:
    """Send `data` on a fresh connection, then read until the server closes it (at most 30 s)."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_a_body_shorter_than_its_content_length_is_408(small_server) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit\r\nContent-Type: application/json\r\n"
    answer = _raw_exchange(small_server.url, head + b"Content-Length: 1000\r\n\r\n" + b'{"model": "scri')
    assert answer.startswith(b"HTTP/1.1 408")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"


def test_a_connection_that_never_finishes_its_headers_is_closed(small_server) -> None:
    assert _raw_exchange(small_server.url, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n") == b""
    # A proper request on a fresh connection is still served.
    assert httpx.get(f"{small_server.url}/health").status_code == 200


class _HeldEngine(LocalEngine):
    """Emits a token, then holds its generation open until the job is cancelled (or `release` is set)."""

    def __init__(self) -> None:
        super().__init__(name="held", max_batch=4)
        self.cancelled = threading.Event()
        self.release = threading.Event()

    def generate_batch(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        for job in jobs:
            job.emit("first ")
        while not any(job.cancelled.is_set() for job in jobs) and not self.release.is_set():
            self.release.wait(0.01)
        if any(job.cancelled.is_set() for job in jobs):
            self.cancelled.set()
        return [Generation(text="first second", finish_reason="stop", prompt_tokens=1, completion_tokens=2) for _ in jobs]


def test_streaming_is_live_and_a_client_that_leaves_cancels_its_generation() -> None:
    engine = _HeldEngine()
    with start_server(engine, model_name="held") as server:
        body = {"model": "held", "messages": [{"role": "user", "content": "go"}], "stream": True}
        with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body, timeout=30) as response:
            contents = []
            for line in response.iter_lines():
                if line.startswith("data: ") and '"content": "first' in line:
                    contents.append(line)
                    break  # the first token arrived while the engine still holds the generation open: live
        assert contents and not engine.release.is_set()
        assert engine.cancelled.wait(10)  # the client went away: the engine was told to stop
        # A client that leaves a non-streamed request cancels it too.
        engine.cancelled.clear()
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.base_url}/chat/completions", json={**body, "stream": False}, timeout=httpx.Timeout(30, read=0.5))
        assert engine.cancelled.wait(10)
        engine.release.set()
        answer = httpx.post(f"{server.base_url}/chat/completions", json={**body, "stream": False}, timeout=30).json()
        assert answer["choices"][0]["message"]["content"] == "first second"


async def test_transformers_engine_streams_token_by_token(tiny_model_dir) -> None:
    from hermes4.llm.hf import TransformersEngine

    engine = TransformersEngine(tiny_model_dir, max_batch=4, device="cpu")
    pieces: dict[int, list[str]] = {0: [], 1: []}
    options = RequestOptions(on_text=lambda index, text: pieces[index].append(text))
    prompt = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    completions = await engine.complete(prompt, sampling=Sampling(n=2, temperature=0, max_tokens=20), options=options)
    for index, completion in enumerate(completions):
        assert "".join(pieces[index]) == completion.text
        assert len(pieces[index]) >= completion.completion_tokens // 2 > 1  # many pieces, not one at the end
    # A prefilled start (how a named tool_choice is forced) is part of the answer and streamed first.
    pieces = {0: []}
    prefill = '<tool_call>\n{"name": "get_weather", "arguments": '
    [forced] = await engine.complete(prompt, sampling=Sampling(temperature=0, max_tokens=5), options=RequestOptions(prefill=prefill, on_text=lambda i, t: pieces[i].append(t)))
    assert forced.text.startswith(prefill) and pieces[0][0] == prefill and "".join(pieces[0]) == forced.text
    # The context window bounds the budget: the default fills it, an explicit budget beyond it is refused.
    assert engine.context_window == 8192
    from hermes4.llm import LLMInputError

    with pytest.raises(LLMInputError, match="context window is 8192"):
        await engine.complete(prompt, sampling=Sampling(max_tokens=9000), options=RequestOptions())


# ---- 7 and 9: client errors are 4xx, every error body in the OpenAI shape ---------------------------------------


def _openai_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    data = r.json()
    assert set(data) == {"error"} and set(data["error"]) == {"message", "type", "param", "code"}, data
    return data["error"]


def test_client_errors_are_4xx_in_the_openai_shape(scripted_server, keyed_server) -> None:
    base = scripted_server.base_url
    _openai_error(httpx.post(f"{base}/chat/completions", content=b"{not json", headers={"content-type": "application/json"}), 400)
    nested = _openai_error(httpx.post(f"{base}/chat/completions", content=b"[" * 100_000 + b"]" * 100_000), 400)
    assert "nested too deeply" in nested["message"]
    _openai_error(httpx.post(f"{base}/chat/completions", json=[1, 2]), 400)
    _openai_error(httpx.post(f"{base}/chat/completions", content=b"\xff\xfe"), 400)
    assert "/v1/nope" in _openai_error(httpx.get(f"{base}/nope"), 404)["message"]
    _openai_error(httpx.get(f"{base}/chat/completions"), 405)
    _openai_error(httpx.post(f"{base}/chat/completions", json=_body("x", seed=2**80)), 400)
    # A non-ASCII key is a 401, not a 500 from comparing it.
    key = "Bearer ключ".encode()
    error = _openai_error(httpx.post(f"{keyed_server.base_url}/chat/completions", json=_body("x"), headers={"Authorization": key}), 401)
    assert error["code"] == "invalid_api_key"
