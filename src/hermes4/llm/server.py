"""`hermes4 serve`: an OpenAI-compatible HTTP server (FastAPI) over any `LLM`, in-process or as a command."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator
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
from hermes4.llm.answer_rules import AnswerRules, RuleError, with_system_text
from hermes4.llm.cutoff import word_pieces
from hermes4.llm.outputs import off_loop_if_long
from hermes4.llm.streaming import ChoiceDeltas, fold
from hermes4.llm.types import LLM, Completion, LLMError, Sampling, prompt_opens_think


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
        # A body refused before it was all read leaves bytes on the connection: close it rather than reuse it.
        headers = {"Connection": "close"} if self.status in (408, 413) else None
        return JSONResponse(body, status_code=self.status, headers=headers)


@dataclass(frozen=True)
class ServerLimits:
    """What one request may ask of the server: bounded work, bounded waiting, bounded memory."""

    max_n: int = 128  # choices per request (OpenAI's own cap)
    max_stop: int = 4  # stop strings per request (OpenAI's cap)
    max_body_bytes: int = 32 * 2**20  # a request body larger than this is refused (413) before it is read
    body_timeout_s: float = 30.0  # the whole body must arrive within this (else 408)
    header_timeout_s: float = 10.0  # a connection must send its request headers within this (else closed)
    max_tokens: int | None = None  # cap on the budget; without it the budget is the model's remaining context


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
    top_logprobs: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None

    def check(self, limits: ServerLimits) -> None:
        """The checks vLLM (or OpenAI) makes before generating, as 400s naming the field."""
        if self.stream_options is not None and not self.stream:
            raise APIError(400, "Stream options can only be defined when `stream=True`.", param="stream_options")
        if self.n > limits.max_n:
            raise APIError(400, f"n: at most {limits.max_n} choices per request, got {self.n}", param="n")
        if isinstance(self.stop, list) and len(self.stop) > limits.max_stop:
            raise APIError(400, f"stop: at most {limits.max_stop} stop strings, got {len(self.stop)}", param="stop")
        if self.top_logprobs:
            raise APIError(400, "top_logprobs: not supported by hermes4 serve (logprobs of the chosen tokens are)", param="top_logprobs")
        asked = self.asked_max_tokens
        if asked is not None and limits.max_tokens is not None and asked > limits.max_tokens:
            raise APIError(400, f"max_tokens: this server allows at most {limits.max_tokens}, got {asked}", param="max_tokens")

    @property
    def asked_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def sampling(self, limits: ServerLimits, context_window: int | None) -> Sampling:
        values: dict[str, Any] = {"n": self.n, "stop": self.stop, "seed": self.seed, "logprobs": bool(self.logprobs)}
        for name in ("temperature", "top_p", "top_k"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        # Without max_tokens the budget is the rest of the context (the engine cuts it to fit), as vLLM does.
        budget = self.asked_max_tokens
        if budget is None:
            budget = limits.max_tokens or context_window
        if budget is not None:
            values["max_tokens"] = budget
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
    response_format: Any = None
    chat_template_kwargs: dict[str, Any] | None = None


class CompletionRequest(_SamplingFields):
    prompt: str | list[str]
    echo: bool = False


def _bad_request(exc: ValidationError) -> APIError:
    message = describe_validation_error(exc)
    first = exc.errors()[0]
    param = message.split(":", 1)[0] if ":" in message and first["loc"] else None
    return APIError(400, message, param=param)


def _invalid_text(data: Any) -> APIError | None:
    """A 400 for the first string holding a lone surrogate (JSON allows `\\ud800`; no tokenizer does)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                where = path or "body"
                return APIError(400, f"{where}: invalid Unicode (a lone surrogate) at character {exc.start}", param=path or None)
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append((f"{path}.{key}" if path else str(key), item))
                stack.append((path, key))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise APIError(400, f"the request body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise APIError(400, f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise APIError(400, "the request body is not valid JSON: nested too deeply") from None


def _usage(completions: list[Completion]) -> dict[str, int]:
    prompt = completions[0].prompt_tokens if completions else 0
    generated = sum(c.completion_tokens for c in completions)
    return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}


def _chat_logprobs(completion: Completion) -> dict[str, Any] | None:
    if completion.logprobs is None:
        return None
    tokens = completion.tokens or [""] * len(completion.logprobs)
    return {"content": [{"token": t, "logprob": lp, "top_logprobs": []} for t, lp in zip(tokens, completion.logprobs)]}


def _sse(data: Any) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _reasoning_started(completion: Completion) -> bool:
    # Reasoning without an opening tag in the text means the prompt opened the think block.
    return completion.parsed.reasoning is not None and not completion.text.lstrip().startswith("<think>")


def _finish_reason(completion: Completion, choice: ChoiceDeltas) -> str:
    if completion.finish_reason == "length":
        return "length"
    return "tool_calls" if choice.streamed_calls else "stop"


def _json_answer(completion: Completion, value: Any) -> Completion:
    """The completion with its content replaced by the JSON value alone (what `chat.completions.parse` reads)."""
    from hermes4.parse import parse

    body = json.dumps(value, ensure_ascii=False)
    reasoning = completion.parsed.reasoning
    text = f"<think>\n{reasoning}\n</think>\n{body}" if reasoning is not None else body
    return Completion(
        text=text,
        parsed=parse(text),
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        latency_s=completion.latency_s,
    )


class _Live:
    """One engine call run as a task, its text handed over as generated: `(choice index, new text)` pairs."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self.first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Future[Any] | None = None

    def listener(self, offset: int = 0) -> Any:
        def on_text(index: int, text: str) -> None:
            self.queue.put_nowait((offset + index, text))
            if not self.first.done():
                self.first.set_result(None)

        return on_text

    async def start(self, call: Any) -> None:
        """Start the call; return at its first text. An error before any text (a bad input) is raised here, as a status."""
        self.task = asyncio.ensure_future(call)
        await asyncio.wait({self.task, self.first}, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done() and self.task.exception() is not None:
            self.task.result()

    async def texts(self) -> AsyncIterator[tuple[int, str]]:
        assert self.task is not None
        while not self.task.done() or not self.queue.empty():
            if not self.queue.empty():
                yield self.queue.get_nowait()
                continue
            getter = asyncio.ensure_future(self.queue.get())
            await asyncio.wait({getter, self.task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            # Nobody awaits it any more: take its outcome so asyncio does not log it as never retrieved.
            self.task.add_done_callback(lambda task: task.cancelled() or task.exception())


def _error_event(exc: BaseException) -> str:
    error = exc if isinstance(exc, APIError) else APIError(500, f"{type(exc).__name__}: {exc}", type="server_error")
    return _sse({"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}})


def _status_type(status: int) -> str:
    return {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}.get(status, "invalid_request_error")


def create_app(llm: LLM, *, model_name: str, api_key: str | None = None, limits: ServerLimits | None = None) -> FastAPI:
    """The FastAPI app serving `llm` as `model_name`; `api_key` set → Bearer auth on /v1."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from hermes4.llm.engine import LocalEngine, RequestOptions

    limits = limits or ServerLimits()
    app = FastAPI(title="hermes4 serve", docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())
    local = llm if isinstance(llm, LocalEngine) else None
    context_window = local.context_window if local is not None else None
    key_bytes = api_key.encode("utf-8") if api_key is not None else None

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 404 / 405 from routing, in the OpenAI shape rather than FastAPI's {"detail": ...}.
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return APIError(exc.status_code, message, type=_status_type(exc.status_code)).response()

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
        # Checked before the body is read: a request without the key costs no body read and gets 401, not 400.
        if key_bytes is not None:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            # Header values arrive as latin-1 text; compare bytes, so a non-ASCII key is a 401, not a crash.
            if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode("latin-1", "replace"), key_bytes):
                raise APIError(401, "invalid or missing API key (send Authorization: Bearer KEY)", type="authentication_error", code="invalid_api_key")

    async def read_body(request: Request, model: type[BaseModel]) -> Any:
        """Auth, then the body under the size and time limits, decoded and validated: every failure a 4xx."""
        authorize(request)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise APIError(413, f"the request body is {declared} bytes; the limit is {limits.max_body_bytes}", code="request_too_large")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(limits.body_timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limits.max_body_bytes:
                        raise APIError(413, f"the request body exceeds the limit of {limits.max_body_bytes} bytes", code="request_too_large")
                    chunks.append(chunk)
        except TimeoutError:
            raise APIError(408, f"the request body did not arrive within {limits.body_timeout_s:g}s", code="request_timeout") from None
        raw = b"".join(chunks)
        data = await asyncio.to_thread(_decode_json, raw) if len(raw) > 1_000_000 else _decode_json(raw)
        if not isinstance(data, dict):
            raise APIError(400, f"the request body must be a JSON object, got {type(data).__name__}")
        # Only a \uD800-\uDFFF escape can put a lone surrogate in decoded JSON: skip the walk without one.
        bad_text = _invalid_text(data) if _SURROGATE_ESCAPE.search(raw) else None
        if bad_text is not None:
            raise bad_text
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise _bad_request(exc) from None
        except RecursionError:
            raise APIError(400, "the request body is nested too deeply") from None

    def check_model(model: str) -> None:
        if model != model_name:
            raise APIError(404, f"model {model!r} does not exist; this server serves {model_name!r}", param="model", code="model_not_found", type="not_found_error")

    async def run(coro: Any) -> list[Completion]:
        from hermes4.llm.types import LLMInputError

        try:
            return await coro
        except LLMInputError as exc:
            raise APIError(400, str(exc)) from None
        except LLMError as exc:
            raise APIError(500, str(exc), type="server_error") from None
        except Exception as exc:  # noqa: BLE001  (an engine bug still answers, with what went wrong)
            raise APIError(500, f"engine failed: {type(exc).__name__}: {exc}", type="server_error") from None

    async def unless_client_leaves(request: Request, call: Any) -> Any:
        """Await `call`; if the client disconnects first, cancel it (its queued and running jobs stop)."""
        me = asyncio.current_task()
        assert me is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await request.receive())["type"] != "http.disconnect":
                pass
            gone = True
            me.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            return await call
        except asyncio.CancelledError:
            if not gone or me.cancelling() > 1:
                raise  # the server is shutting down, not a client that left
            me.uncancel()
            raise APIError(499, "the client closed the request", code="client_closed_request") from None
        finally:
            watcher.cancel()

    def options(body: _SamplingFields, **extra: Any) -> RequestOptions:
        return RequestOptions(context_budget=body.asked_max_tokens is None, check_context=True, **extra)

    async def generate(conversation: Conversation, sampling: Sampling, thinking: bool, opts: RequestOptions) -> list[Completion]:
        if local is not None:
            return await run(local.chat(conversation, sampling=sampling, thinking=thinking, options=opts))
        return await run(llm.chat(conversation, sampling=sampling, thinking=thinking))

    def conversation_of(raw: dict[str, Any]) -> Conversation:
        try:
            conversation = Conversation.parse(raw)
        except ConversationError as exc:
            raise APIError(400, str(exc), param=str(exc).split(":", 1)[0]) from None
        if not conversation.messages:
            raise APIError(400, "messages: at least one message is required", param="messages")
        return conversation

    async def checked(raw: dict[str, Any], rules: AnswerRules, sampling: Sampling, thinking: bool, opts: RequestOptions) -> list[Completion]:
        """Generate, check each answer against the rules, retry a failing one once with an instruction saying what failed."""
        completions = await generate(conversation_of(raw), sampling, thinking, opts)
        for index, completion in enumerate(completions):
            problem = rules.problem(completion)
            if problem is not None:
                retry_raw = {**raw, "messages": with_system_text(raw["messages"], rules.retry_text(problem))}
                one = sampling.model_copy(update={"n": 1, "seed": None if sampling.seed is None else sampling.seed + index + 1})
                [completion] = await generate(conversation_of(retry_raw), one, thinking, opts)
                problem = rules.problem(completion)
                if problem is not None:
                    raise APIError(
                        500, f"the model's answer broke tool_choice/response_format after one retry: {problem}", type="server_error", code="unmet_format"
                    )
            if rules.json_mode:
                completion = _json_answer(completion, rules.json_value(completion))
            completions[index] = completion
        return completions

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models(request: Request) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "hermes4"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        body: ChatRequest = await read_body(request, ChatRequest)
        check_model(body.model)
        body.check(limits)
        try:
            rules = AnswerRules.read(body.tool_choice, body.tools, body.response_format)
        except RuleError as exc:
            raise APIError(400, str(exc), param=exc.param) from None
        sampling = body.sampling(limits, context_window)
        kwargs = body.chat_template_kwargs or {}
        thinking = bool(kwargs.get("thinking", kwargs.get("enable_thinking", False)))
        # `developer` is the newer name of the system role (OpenAI's o-series); it is read as system.
        messages = [{**m, "role": "system"} if isinstance(m, dict) and m.get("role") == "developer" else m for m in body.messages]
        system_text = rules.system_text()
        if system_text is not None:
            messages = with_system_text(messages, system_text)
        raw: dict[str, Any] = {"messages": messages, "tools": body.tools or []}
        if "keep_cots" in kwargs:
            raw["keep_cots"] = bool(kwargs["keep_cots"])
        conversation = conversation_of(raw)
        prefill = rules.prefill() if (local is not None and local.supports_prefill) else ""
        request_id = f"chatcmpl-{secrets.token_hex(12)}"
        now = int(time.time())

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
            return _sse({"id": request_id, "object": "chat.completion.chunk", "created": now, "model": model_name, "choices": [choice]})

        def usage_event(completions: list[Completion]) -> str:
            return _sse({"id": request_id, "object": "chat.completion.chunk", "created": now, "model": model_name, "choices": [], "usage": _usage(completions)})

        def choice_deltas(completion: Completion) -> ChoiceDeltas:
            return ChoiceDeltas(reasoning_started=_reasoning_started(completion), parse_tools=rules.parse_tools)

        if body.stream and local is not None and not rules.checked:
            # Live: each choice's text goes through its own streaming parser as the model writes it.
            live = _Live()
            opens_think = prompt_opens_think(local.render(conversation, thinking=thinking or bool(conversation.thinking)))
            try:
                await unless_client_leaves(request, live.start(generate(conversation, sampling, thinking, options(body, on_text=live.listener()))))
            except BaseException:
                live.cancel()  # a bad input, or the client left before the first token
                raise
            states = [ChoiceDeltas(reasoning_started=opens_think, parse_tools=rules.parse_tools) for _ in range(sampling.n)]

            async def live_events() -> AsyncIterator[str]:
                try:
                    for index in range(sampling.n):
                        yield chunk(index, {"role": "assistant", "content": ""})
                    async for index, text in live.texts():
                        for delta in states[index].feed(text):
                            yield chunk(index, delta)
                    try:
                        completions = live.task.result() if live.task is not None else []
                    except Exception as exc:  # noqa: BLE001  (after the headers: the error goes in the stream, as vLLM does)
                        yield _error_event(exc)
                        yield "data: [DONE]\n\n"
                        return
                    for index, completion in enumerate(completions):
                        for delta in states[index].finish():
                            yield chunk(index, delta)
                        yield chunk(index, {}, _finish_reason(completion, states[index]))
                    if body.include_usage:
                        yield usage_event(completions)
                    yield "data: [DONE]\n\n"
                finally:
                    live.cancel()  # the client left (or we are done): stop generating

            return StreamingResponse(live_events(), media_type="text/event-stream")

        # Constrained decoding where the engine has it (the answer is still checked, and retried once, below): a forced
        # call is `<tool_call>` then JSON following the call's schema; json mode is JSON following the response schema.
        constrained = local is not None and local.supports_json_schema
        call_schema = rules.call_schema(body.tools) if constrained else None
        if call_schema is not None:
            opts = options(body, prefill="<tool_call>\n", json_schema=call_schema, close="\n</tool_call>")
        elif constrained and rules.json_mode and not prefill:
            opts = options(body, json_schema=rules.schema or {"type": "object"})
        else:
            opts = options(body, prefill=prefill)
        call = checked(raw, rules, sampling, thinking, opts) if rules.checked else generate(conversation, sampling, thinking, opts)
        completions = await unless_client_leaves(request, call)
        if not body.stream:
            choices = []
            for i, completion in enumerate(completions):
                state = choice_deltas(completion)
                message = await off_loop_if_long(len(completion.text), lambda state=state, completion=completion: fold([*state.feed(completion.text), *state.finish()]))
                if state.rejected_issues:
                    # Unreadable calls stay in the content as text; this says so (clients may ignore it).
                    message["parse_issues"] = [{"kind": issue.kind, "message": issue.message} for issue in state.rejected_issues]
                choices.append({"index": i, "message": message, "finish_reason": _finish_reason(completion, state), "logprobs": _chat_logprobs(completion)})
            return {"id": request_id, "object": "chat.completion", "created": now, "model": model_name, "choices": choices, "usage": _usage(completions)}

        async def events() -> AsyncIterator[str]:
            for index, completion in enumerate(completions):
                yield chunk(index, {"role": "assistant", "content": ""})
                state = choice_deltas(completion)
                for piece in word_pieces(completion.text):
                    for delta in state.feed(piece):
                        yield chunk(index, delta)
                for delta in state.finish():
                    yield chunk(index, delta)
                yield chunk(index, {}, _finish_reason(completion, state))
            if body.include_usage:
                yield usage_event(completions)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body: CompletionRequest = await read_body(request, CompletionRequest)
        check_model(body.model)
        body.check(limits)
        sampling = body.sampling(limits, context_window)
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        if not prompts:
            raise APIError(400, "prompt: at least one prompt is required", param="prompt")
        if len(prompts) * sampling.n > limits.max_n:
            raise APIError(400, f"prompt: {len(prompts)} prompts x n={sampling.n} exceeds {limits.max_n} choices per request", param="prompt")
        if body.echo:
            raise APIError(400, "echo: not supported", param="echo")
        request_id = f"cmpl-{secrets.token_hex(12)}"
        now = int(time.time())
        live = _Live() if (body.stream and local is not None) else None

        def complete(index: int, prompt: str) -> Any:
            if local is None:
                return run(llm.complete(prompt, sampling=sampling))
            on_text = live.listener(index * sampling.n) if live is not None else None
            return run(local.complete(prompt, sampling=sampling, options=options(body, on_text=on_text)))

        # All prompts at once, so the engine can batch them together.
        call = asyncio.gather(*(complete(i, p) for i, p in enumerate(prompts)))

        def finish(c: Completion) -> str:
            return "length" if c.finish_reason == "length" else "stop"

        def logprobs(c: Completion) -> dict[str, Any] | None:
            if c.logprobs is None:
                return None
            return {"tokens": c.tokens or [], "token_logprobs": c.logprobs, "top_logprobs": None, "text_offset": []}

        def usage_of(batches: list[list[Completion]]) -> dict[str, int]:
            usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            for batch in batches:
                for key, value in _usage(batch).items():
                    usage[key] += value
            return usage

        def chunk(index: int, text: str, finish_reason: str | None = None) -> str:
            choice = {"index": index, "text": text, "finish_reason": finish_reason, "logprobs": None}
            return _sse({"id": request_id, "object": "text_completion", "created": now, "model": model_name, "choices": [choice]})

        def usage_event(usage: dict[str, int]) -> str:
            return _sse({"id": request_id, "object": "text_completion", "created": now, "model": model_name, "choices": [], "usage": usage})

        if live is not None:
            try:
                await unless_client_leaves(request, live.start(call))
            except BaseException:
                live.cancel()
                raise

            async def live_events() -> AsyncIterator[str]:
                try:
                    async for index, text in live.texts():
                        yield chunk(index, text)
                    try:
                        batches = live.task.result() if live.task is not None else []
                    except Exception as exc:  # noqa: BLE001  (after the headers: the error goes in the stream)
                        yield _error_event(exc)
                        yield "data: [DONE]\n\n"
                        return
                    results = [c for batch in batches for c in batch]
                    for index, completion in enumerate(results):
                        yield chunk(index, "", finish(completion))
                    if body.include_usage:
                        yield usage_event(usage_of(batches))
                    yield "data: [DONE]\n\n"
                finally:
                    live.cancel()

            return StreamingResponse(live_events(), media_type="text/event-stream")

        batches = await unless_client_leaves(request, call)
        results: list[Completion] = [c for batch in batches for c in batch]
        usage = usage_of(batches)
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
            for index, completion in enumerate(results):
                for piece in word_pieces(completion.text):
                    yield chunk(index, piece)
                yield chunk(index, "", finish(completion))
            if body.include_usage:
                yield usage_event(usage)
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


def _timed_h11(header_timeout_s: float) -> type:
    """uvicorn's h11 protocol with a deadline for the request headers (uvicorn has none: slow-header clients stay forever)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:  # still waiting for a request's headers
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.cycle is None or self.cycle.response_complete:
                self._arm()  # bytes of a new request: its headers must be complete in time
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return TimedH11Protocol


def server_config(app: FastAPI, *, log_level: str = "warning", header_timeout_s: float = 10.0) -> Any:
    import uvicorn

    # No uvloop/httptools in our dependencies: the plain asyncio loop and h11 parser, chosen explicitly.
    return uvicorn.Config(
        app, loop="asyncio", http=_timed_h11(header_timeout_s), lifespan="off", log_level=log_level, access_log=False, timeout_keep_alive=30
    )


def start_server(
    llm: LLM,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    model_name: str | None = None,
    api_key: str | None = None,
    log_level: str = "warning",
    startup_timeout: float = 30.0,
    limits: ServerLimits | None = None,
) -> RunningServer:
    """Serve `llm` from a background thread (port 0 picks a free port); returns once it accepts requests."""
    import uvicorn

    name = model_name or getattr(llm, "name", None) or "hermes4"
    limits = limits or ServerLimits()
    app = create_app(llm, model_name=name, api_key=api_key, limits=limits)
    sock = bind_socket(host, port)
    server = uvicorn.Server(server_config(app, log_level=log_level, header_timeout_s=limits.header_timeout_s))
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
