"""`hermes4 serve`: an OpenAI-compatible HTTP server (FastAPI) over any `LLM`, in-process or as a command."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from hermes4.chat.messages import (
    Conversation,
    ConversationError,
    describe_validation_error,
)
from hermes4.llm.cutoff import word_pieces
from hermes4.llm.types import LLM, Completion, LLMError, Sampling


class APIError(Exception):
    """An error answered in the OpenAI shape: `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status)


class _SamplingFields(BaseModel):
    model_config = ConfigDict(extra="allow")  # unknown OpenAI parameters (presence_penalty, user, ...) are ignored

    model: str
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: bool | int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None

    def sampling(self) -> Sampling:
        values: dict[str, Any] = {"n": self.n, "stop": self.stop, "seed": self.seed, "logprobs": bool(self.logprobs)}
        for name in ("temperature", "top_p", "top_k"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        max_tokens = self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens
        if max_tokens is not None:
            values["max_tokens"] = max_tokens
        try:
            return Sampling(**values)
        except ValidationError as exc:
            raise _bad_request(exc) from None

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class ChatRequest(_SamplingFields):
    messages: list[Any]
    tools: list[Any] | None = None
    tool_choice: Any = None
    chat_template_kwargs: dict[str, Any] | None = None


class CompletionRequest(_SamplingFields):
    prompt: str | list[str]
    echo: bool = False


def _bad_request(exc: ValidationError) -> APIError:
    message = describe_validation_error(exc)
    first = exc.errors()[0]
    param = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-")) or None
    return APIError(400, message, param=param)


def _usage(completions: list[Completion]) -> dict[str, int]:
    prompt = completions[0].prompt_tokens if completions else 0
    generated = sum(c.completion_tokens for c in completions)
    return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}


def _tool_calls_json(completion: Completion) -> list[dict[str, Any]]:
    return [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)}}
        for call in completion.parsed.tool_calls
    ]


def _chat_message(completion: Completion) -> dict[str, Any]:
    calls = _tool_calls_json(completion)
    content = completion.parsed.content
    message: dict[str, Any] = {"role": "assistant", "content": content if (content or not calls) else None}
    if completion.parsed.reasoning is not None:
        message["reasoning_content"] = completion.parsed.reasoning
    if calls:
        message["tool_calls"] = calls
    return message


def _chat_logprobs(completion: Completion) -> dict[str, Any] | None:
    if completion.logprobs is None:
        return None
    tokens = completion.tokens or [""] * len(completion.logprobs)
    return {"content": [{"token": t, "logprob": lp, "top_logprobs": []} for t, lp in zip(tokens, completion.logprobs)]}


def _sse(data: Any) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def chat_stream_deltas(completion: Completion) -> Iterator[dict[str, Any]]:
    """The deltas of one choice, produced by feeding the raw text to the streaming parser piece by piece."""
    from hermes4.llm.streaming import chat_deltas

    # Reasoning without an opening tag in the text means the prompt opened the think block.
    reasoning_started = completion.parsed.reasoning is not None and not completion.text.lstrip().startswith("<think>")
    yield from chat_deltas(completion.text, reasoning_started=reasoning_started)


def create_app(llm: LLM, *, model_name: str, api_key: str | None = None) -> FastAPI:
    """The FastAPI app serving `llm` as `model_name`; `api_key` set → Bearer auth on /v1."""
    app = FastAPI(title="hermes4 serve", docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
        return APIError(400, message, param=param).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return APIError(500, f"internal error: {type(exc).__name__}: {exc}", type="server_error").response()

    def authorize(request: Request) -> None:
        # A dependency, so it runs before the body is read: a request without the key gets 401, not 400.
        if api_key is not None:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), api_key):
                raise APIError(401, "invalid or missing API key (send Authorization: Bearer KEY)", code="invalid_api_key")

    def check_model(model: str) -> None:
        if model != model_name:
            raise APIError(404, f"model {model!r} does not exist; this server serves {model_name!r}", param="model", code="model_not_found")

    async def run(coro: Any) -> list[Completion]:
        try:
            return await coro
        except LLMError as exc:
            raise APIError(500, str(exc), type="server_error") from None
        except Exception as exc:  # noqa: BLE001  (an engine bug still answers, with what went wrong)
            raise APIError(500, f"engine failed: {type(exc).__name__}: {exc}", type="server_error") from None

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models(request: Request) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "hermes4"}]}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)])
    async def chat_completions(body: ChatRequest, request: Request) -> Any:
        check_model(body.model)
        sampling = body.sampling()
        kwargs = body.chat_template_kwargs or {}
        thinking = bool(kwargs.get("thinking", kwargs.get("enable_thinking", False)))
        raw = {"messages": body.messages, "tools": body.tools or []}
        if "keep_cots" in kwargs:
            raw["keep_cots"] = bool(kwargs["keep_cots"])
        try:
            conversation = Conversation.parse(raw)
        except ConversationError as exc:
            raise APIError(400, str(exc), param=str(exc).split(":", 1)[0]) from None
        if not conversation.messages:
            raise APIError(400, "messages: at least one message is required", param="messages")
        completions = await run(llm.chat(conversation, sampling=sampling, thinking=thinking))
        request_id = f"chatcmpl-{secrets.token_hex(12)}"
        now = int(time.time())
        if not body.stream:
            return {
                "id": request_id,
                "object": "chat.completion",
                "created": now,
                "model": model_name,
                "choices": [
                    {"index": i, "message": _chat_message(c), "finish_reason": c.finish_reason, "logprobs": _chat_logprobs(c)}
                    for i, c in enumerate(completions)
                ],
                "usage": _usage(completions),
            }

        async def events() -> AsyncIterator[str]:
            def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> str:
                return _sse(
                    {
                        "id": request_id,
                        "object": "chat.completion.chunk",
                        "created": now,
                        "model": model_name,
                        "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
                    }
                )

            for index, completion in enumerate(completions):
                yield chunk(index, {"role": "assistant", "content": ""})
                for delta in chat_stream_deltas(completion):
                    yield chunk(index, delta)
                yield chunk(index, {}, completion.finish_reason)
            if body.include_usage:
                yield _sse({"id": request_id, "object": "chat.completion.chunk", "created": now, "model": model_name, "choices": [], "usage": _usage(completions)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions", dependencies=[Depends(authorize)])
    async def completions(body: CompletionRequest, request: Request) -> Any:
        check_model(body.model)
        sampling = body.sampling()
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        if not prompts:
            raise APIError(400, "prompt: at least one prompt is required", param="prompt")
        if body.echo:
            raise APIError(400, "echo: not supported", param="echo")
        # All prompts at once, so the engine can batch them together.
        batches = await asyncio.gather(*(run(llm.complete(prompt, sampling=sampling)) for prompt in prompts))
        results: list[Completion] = [c for batch in batches for c in batch]
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for batch in batches:
            for key, value in _usage(batch).items():
                usage[key] += value
        request_id = f"cmpl-{secrets.token_hex(12)}"
        now = int(time.time())

        def finish(c: Completion) -> str:
            return "length" if c.finish_reason == "length" else "stop"

        def logprobs(c: Completion) -> dict[str, Any] | None:
            if c.logprobs is None:
                return None
            return {"tokens": c.tokens or [], "token_logprobs": c.logprobs, "top_logprobs": None, "text_offset": []}

        if not body.stream:
            return {
                "id": request_id,
                "object": "text_completion",
                "created": now,
                "model": model_name,
                "choices": [{"index": i, "text": c.text, "finish_reason": finish(c), "logprobs": logprobs(c)} for i, c in enumerate(results)],
                "usage": usage,
            }

        async def events() -> AsyncIterator[str]:
            def chunk(index: int, text: str, finish_reason: str | None = None) -> str:
                choice = {"index": index, "text": text, "finish_reason": finish_reason, "logprobs": None}
                return _sse({"id": request_id, "object": "text_completion", "created": now, "model": model_name, "choices": [choice]})

            for index, completion in enumerate(results):
                for piece in word_pieces(completion.text):
                    yield chunk(index, piece)
                yield chunk(index, "", finish(completion))
            if body.include_usage:
                yield _sse({"id": request_id, "object": "text_completion", "created": now, "model": model_name, "choices": [], "usage": usage})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@dataclass
class RunningServer:
    """A server running in a background thread; `url` is the root, `base_url` the OpenAI base (`…/v1`)."""

    url: str
    model: str
    _server: Any
    _thread: threading.Thread
    _socket: socket.socket

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def close(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def server_config(app: FastAPI, *, log_level: str = "warning") -> Any:
    import uvicorn

    # No uvloop/httptools in our dependencies: the plain asyncio loop and h11 parser, chosen explicitly.
    return uvicorn.Config(app, loop="asyncio", http="h11", lifespan="off", log_level=log_level, access_log=False, timeout_keep_alive=30)


def start_server(
    llm: LLM,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    model_name: str | None = None,
    api_key: str | None = None,
    log_level: str = "warning",
    startup_timeout: float = 30.0,
) -> RunningServer:
    """Serve `llm` from a background thread (port 0 picks a free port); returns once it accepts requests."""
    import uvicorn

    name = model_name or getattr(llm, "name", None) or "hermes4"
    app = create_app(llm, model_name=name, api_key=api_key)
    sock = bind_socket(host, port)
    server = uvicorn.Server(server_config(app, log_level=log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"hermes4-serve-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"server for {name!r} did not start on {host}:{port}")
        time.sleep(0.01)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningServer(url=f"http://{shown}:{bound_port}", model=name, _server=server, _thread=thread, _socket=sock)
