"""Fixtures for the llm tests: a scripted model, servers over it, and a loopback fault server."""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from hermes4.llm import ScriptedEngine, ScriptRequest
from hermes4.llm.server import RunningServer, start_server


def script(request: ScriptRequest) -> str:
    """The test model: echoes the last user message; keywords ask for tool calls, long output, failure."""
    if request.conversation is not None:
        users = [m.content or "" for m in request.conversation.messages if m.role == "user"]
        text = users[-1] if users else ""
        last_role = request.conversation.messages[-1].role
    else:
        text = request.prompt.rsplit("\n", 1)[-1]
        last_role = "user"
    if "FAIL" in text:
        raise RuntimeError("the script failed on purpose")
    if "LONG" in text:
        return " ".join(f"w{i}" for i in range(100))
    if "TOOL" in text and last_role == "user":
        answer = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    elif last_role == "tool":
        answer = "It is sunny in Paris."
    else:
        answer = f"echo {request.sample_index}: {text}"
    if request.thinking:
        return f"<think>\nthinking about {text}\n</think>\n{answer}"
    return answer


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[RunningServer]:
    server = start_server(ScriptedEngine(script, name="scripted-test"), model_name="scripted-test")
    yield server
    server.close()


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[RunningServer]:
    server = start_server(ScriptedEngine(script, name="scripted-test"), model_name="scripted-test", api_key="sekrit")
    yield server
    server.close()


# ---------------------------------------------------------------------------------------------
# The fault server: plain asyncio streams, so it can misbehave in ways a framework would not let it.


@dataclass
class Faults:
    p429: float = 0.0
    retry_after: str = "0.05"
    p500: float = 0.0
    pdrop: float = 0.0  # answer 200 with a Content-Length, send half the body, close the connection
    stall: bool = False  # read the request, never answer
    trickle: float = 0.0  # streamed answers: seconds between events (a slow but live generation)
    seed: int = 0


@dataclass
class FaultServer:
    faults: Faults
    port: int = 0
    delivered: Counter = field(default_factory=Counter)  # request key -> complete 200 answers sent
    outcomes: Counter = field(default_factory=Counter)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultServer:
        ready = threading.Event()
        rng = random.Random(self.faults.seed)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.decode("latin-1").split("\r\n")[1:]:
                        name, _, value = line.partition(":")
                        if name.strip().lower() == "content-length":
                            length = int(value.strip())
                    body = json.loads(await reader.readexactly(length)) if length else {}
                    if self.faults.stall:
                        self.outcomes["stall"] += 1
                        await asyncio.sleep(3600)
                    roll = rng.random()
                    if roll < self.faults.p429:
                        self.outcomes["429"] += 1
                        await self._send(writer, 429, {"error": {"message": "slow down"}}, {"Retry-After": self.faults.retry_after})
                        continue
                    roll -= self.faults.p429
                    if roll < self.faults.p500:
                        self.outcomes["500"] += 1
                        await self._send(writer, 500, {"error": {"message": "boom"}})
                        continue
                    roll -= self.faults.p500
                    key = body["messages"][-1]["content"] if "messages" in body else body.get("prompt", "")
                    answer = _chat_answer(body, key)
                    if body.get("stream"):
                        events = _sse_events(answer)
                        if roll < self.faults.pdrop:  # some events, then the connection is gone
                            self.outcomes["drop"] += 1
                            writer.write(_chunked_head() + b"".join(_chunk(e) for e in events[: len(events) // 2]))
                            await writer.drain()
                            writer.close()
                            return
                        self.outcomes["ok"] += 1
                        self.delivered[key] += 1
                        writer.write(_chunked_head())
                        for event in events:
                            writer.write(_chunk(event))
                            if self.faults.trickle:
                                await writer.drain()
                                await asyncio.sleep(self.faults.trickle)
                        writer.write(b"0\r\n\r\n")
                        await writer.drain()
                        continue
                    if roll < self.faults.pdrop:
                        self.outcomes["drop"] += 1
                        data = json.dumps(answer).encode()
                        writer.write(_head(200, len(data)) + data[: len(data) // 2])
                        await writer.drain()
                        writer.close()
                        return
                    self.outcomes["ok"] += 1
                    self.delivered[key] += 1
                    await self._send(writer, 200, answer)
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        async def main() -> None:
            self._server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            async with self._server:
                await self._server.serve_forever()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(main())
            except (asyncio.CancelledError, RuntimeError):
                pass
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        writer.write(_head(status, len(data), headers) + data)
        await writer.drain()

    def close(self) -> None:
        if self._loop is not None and self._server is not None:
            loop = self._loop

            def stop() -> None:
                self._server.close()
                for task in asyncio.all_tasks(loop):
                    task.cancel()

            loop.call_soon_threadsafe(stop)
        if self._thread is not None:
            self._thread.join(5)


def _head(status: int, length: int, headers: dict | None = None) -> bytes:
    reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error"}[status]
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunked_head() -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _sse_events(answer: dict) -> list[bytes]:
    """The answer as OpenAI stream events, one word per content delta, usage last, then [DONE]."""
    events = []
    for choice in answer["choices"]:
        text = choice["message"]["content"] if "message" in choice else choice["text"]
        for i, word in enumerate(text.split(" ")):
            piece = word if i == 0 else " " + word
            delta = {"index": choice["index"], "finish_reason": None}
            delta.update({"delta": {"content": piece}} if "message" in choice else {"text": piece})
            events.append({"choices": [delta]})
        events.append({"choices": [{"index": choice["index"], "delta": {}, "finish_reason": "stop"}]})
    events.append({"choices": [], "usage": answer["usage"]})
    return [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]


def _chat_answer(body: dict, key: str) -> dict:
    n = int(body.get("n", 1))
    if "messages" in body:
        choices = [{"index": i, "message": {"role": "assistant", "content": f"answer to {key}"}, "finish_reason": "stop"} for i in range(n)]
    else:
        choices = [{"index": i, "text": f"answer to {key}", "finish_reason": "stop"} for i in range(n)]
    return {"id": "x", "object": "chat.completion", "choices": choices, "usage": {"prompt_tokens": 3, "completion_tokens": 4 * n}}


@pytest.fixture
def fault_server():
    servers: list[FaultServer] = []

    def make(**faults) -> FaultServer:
        server = FaultServer(Faults(**faults)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# `hermes4 serve` as a real subprocess.


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    base_url: str
    model: str

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def start_serve_process(*args: str, timeout: float = 60.0) -> ServeProcess:
    """Run `hermes4 serve ARGS --port 0` and wait for the line announcing its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hermes4", "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line or process.poll() is not None:
            break
    match = re.match(r"hermes4 serve: (\S+) on (http://\S+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"hermes4 serve did not start: {line!r} {process.stderr.read()[-2000:]}")
    return ServeProcess(process, match.group(2), match.group(1))



@pytest.fixture
def serve_process():
    """A starter for `hermes4 serve` subprocesses, all stopped after the test."""
    started: list[ServeProcess] = []

    def start(*args: str) -> ServeProcess:
        server = start_serve_process(*args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
