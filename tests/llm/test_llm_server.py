"""`hermes4 serve` over a scripted model, driven by the official openai client (and by ours) on loopback."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from hermes4.chat.messages import Conversation
from hermes4.llm import Sampling
from hermes4.llm.client import OpenAIClient

MODEL = "scripted-test"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def client(scripted_server) -> openai.OpenAI:
    with openai.OpenAI(base_url=scripted_server.base_url, api_key="unused", max_retries=0) as c:
        yield c


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_models_and_health(client, scripted_server) -> None:
    assert [m.id for m in client.models.list().data] == [MODEL]
    assert httpx.get(f"{scripted_server.url}/health").json() == {"status": "ok"}


def test_plain_chat_with_usage(client) -> None:
    r = client.chat.completions.create(model=MODEL, messages=_user("hello there"))
    choice = r.choices[0]
    assert choice.message.content == "echo 0: hello there"
    assert choice.message.tool_calls is None and choice.finish_reason == "stop"
    assert getattr(choice.message, "reasoning_content", None) is None
    assert r.usage.completion_tokens == 5  # word pieces, without a tokenizer: "echo", " 0", ":", " hello", " there"
    assert r.usage.prompt_tokens > 10 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_thinking_on_and_off(client) -> None:
    on = client.chat.completions.create(model=MODEL, messages=_user("hi"), extra_body={"chat_template_kwargs": {"thinking": True}})
    assert on.choices[0].message.reasoning_content == "thinking about hi"
    assert on.choices[0].message.content == "echo 0: hi"
    off = client.chat.completions.create(model=MODEL, messages=_user("hi"), extra_body={"chat_template_kwargs": {"thinking": False}})
    assert getattr(off.choices[0].message, "reasoning_content", None) is None
    # The deep-thinking system prompt makes the thinking prompt longer.
    assert on.usage.prompt_tokens > off.usage.prompt_tokens
    # keep_cots is accepted with earlier reasoning in the history.
    history = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b", "reasoning_content": "why b"},
        {"role": "user", "content": "c"},
    ]
    kept = client.chat.completions.create(model=MODEL, messages=history, extra_body={"chat_template_kwargs": {"thinking": True, "keep_cots": True}})
    dropped = client.chat.completions.create(model=MODEL, messages=history, extra_body={"chat_template_kwargs": {"thinking": True, "keep_cots": False}})
    assert kept.choices[0].message.content == dropped.choices[0].message.content == "echo 0: c"
    assert kept.usage.prompt_tokens > dropped.usage.prompt_tokens


def test_n_samples_stop_and_length(client) -> None:
    r = client.chat.completions.create(model=MODEL, messages=_user("x"), n=3)
    assert [c.message.content for c in r.choices] == ["echo 0: x", "echo 1: x", "echo 2: x"]
    assert [c.index for c in r.choices] == [0, 1, 2]
    r = client.chat.completions.create(model=MODEL, messages=_user("LONG"), max_tokens=4)
    assert r.choices[0].message.content == "w0 w1 w2 w3" and r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 4
    r = client.chat.completions.create(model=MODEL, messages=_user("LONG"), stop=[" w3", "w9"])
    assert r.choices[0].message.content == "w0 w1 w2" and r.choices[0].finish_reason == "stop"


def test_tool_calls_not_streamed(client) -> None:
    r = client.chat.completions.create(model=MODEL, messages=_user("TOOL please"), tools=[WEATHER_TOOL])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id and call.type == "function"
    # The tool result goes back in; the model answers.
    follow = [
        *_user("TOOL please"),
        {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'},
    ]
    r = client.chat.completions.create(model=MODEL, messages=follow, tools=[WEATHER_TOOL])
    assert r.choices[0].message.content == "It is sunny in Paris." and r.choices[0].finish_reason == "stop"


def _collect(stream) -> dict:
    out = {"content": "", "reasoning": "", "calls": {}, "finish": None, "usage": None, "role": None}
    for chunk in stream:
        if chunk.usage is not None:
            out["usage"] = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            out["role"] = out["role"] or delta.role
            out["content"] += delta.content or ""
            out["reasoning"] += getattr(delta, "reasoning_content", None) or ""
            for call in delta.tool_calls or []:
                slot = out["calls"].setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                slot["id"] = slot["id"] or call.id
                slot["name"] += (call.function.name or "") if call.function else ""
                slot["arguments"] += (call.function.arguments or "") if call.function else ""
            if choice.finish_reason:
                out["finish"] = choice.finish_reason
    return out


def test_streaming_equals_non_streaming(client) -> None:
    kwargs = {"model": MODEL, "messages": _user("stream me please"), "extra_body": {"chat_template_kwargs": {"thinking": True}}}
    whole = client.chat.completions.create(**kwargs)
    streamed = _collect(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs))
    assert streamed["role"] == "assistant"
    assert streamed["content"] == whole.choices[0].message.content
    assert streamed["reasoning"] == whole.choices[0].message.reasoning_content
    assert streamed["finish"] == "stop" and streamed["calls"] == {}
    assert streamed["usage"].completion_tokens == whole.usage.completion_tokens


def test_tool_calls_streamed(client) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=_user("TOOL now"), tools=[WEATHER_TOOL])
    streamed = _collect(client.chat.completions.create(model=MODEL, messages=_user("TOOL now"), tools=[WEATHER_TOOL], stream=True))
    [call] = whole.choices[0].message.tool_calls
    # Call ids are random per call (issue 14: equal calls in two answers must not share an id), as vLLM's are.
    assert streamed["calls"][0]["id"].startswith("chatcmpl-tool-") and streamed["calls"][0]["id"] != call.id
    assert {k: v for k, v in streamed["calls"][0].items() if k != "id"} == {"name": "get_weather", "arguments": call.function.arguments}
    assert streamed["content"] == "Let me check." and streamed["finish"] == "tool_calls"


def test_raw_completions(client) -> None:
    r = client.completions.create(model=MODEL, prompt="line one\nLONG", max_tokens=3)
    assert r.choices[0].text == "w0 w1 w2" and r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 3 and r.usage.prompt_tokens == 3  # "line", " one", "\nLONG"
    pieces = [c.choices[0].text for c in client.completions.create(model=MODEL, prompt="hello", max_tokens=50, stream=True) if c.choices]
    assert "".join(pieces) == "echo 0: hello"
    r = client.completions.create(model=MODEL, prompt=["a", "b"], n=2)
    assert [c.text for c in r.choices] == ["echo 0: a", "echo 1: a", "echo 0: b", "echo 1: b"]


def test_auth(keyed_server) -> None:
    for key in ("wrong",):
        with openai.OpenAI(base_url=keyed_server.base_url, api_key=key, max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError) as info:
                bad.chat.completions.create(model=MODEL, messages=_user("x"))
            assert info.value.status_code == 401 and "API key" in info.value.message
    anonymous = httpx.post(f"{keyed_server.base_url}/chat/completions", json={"model": MODEL, "messages": _user("x")})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(f"{keyed_server.base_url}/models").status_code == 401
    # The key is checked before the body: a bad body without the key is still a 401.
    assert httpx.post(f"{keyed_server.base_url}/chat/completions", json={"nonsense": 1}).status_code == 401
    with openai.OpenAI(base_url=keyed_server.base_url, api_key="sekrit", max_retries=0) as good:
        assert good.chat.completions.create(model=MODEL, messages=_user("x")).choices[0].message.content == "echo 0: x"
    assert httpx.get(f"{keyed_server.url}/health").status_code == 200  # health needs no key


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"model": MODEL}, "messages", "messages: Field required"),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "messages[0].role: Input should be"),
        ({"model": MODEL, "messages": [{"role": "tool", "content": "x"}]}, "messages[0]", "a tool message must follow"),
        ({"model": MODEL, "messages": _user("x"), "temperature": -1}, "temperature", "greater than or equal to 0"),
        ({"model": MODEL, "messages": _user("x"), "n": 0}, "n", "greater than or equal to 1"),
        ({"model": MODEL, "messages": _user("x"), "max_tokens": "lots"}, "max_tokens", "valid integer"),
        ({"messages": _user("x")}, "model", "model: Field required"),
    ],
)
def test_bad_requests_name_the_field(scripted_server, body, param, message) -> None:
    r = httpx.post(f"{scripted_server.base_url}/chat/completions", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == param and message in error["message"] and error["type"] == "invalid_request_error"


def test_unknown_model_and_engine_failure(client, scripted_server) -> None:
    with pytest.raises(openai.NotFoundError, match="model 'nope' does not exist"):
        client.chat.completions.create(model="nope", messages=_user("x"))
    with pytest.raises(openai.InternalServerError, match="the script failed on purpose"):
        client.chat.completions.create(model=MODEL, messages=_user("FAIL"))
    r = httpx.post(f"{scripted_server.base_url}/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    # The server is still fine afterwards.
    assert client.chat.completions.create(model=MODEL, messages=_user("ok")).choices[0].message.content == "echo 0: ok"


async def test_a_slow_reader_does_not_block_others(scripted_server) -> None:
    async with httpx.AsyncClient(base_url=scripted_server.base_url, timeout=10) as http:
        body = {"model": MODEL, "messages": _user("LONG"), "stream": True, "max_tokens": 100}
        async with http.stream("POST", "/chat/completions", json=body) as slow:
            first = await slow.aiter_lines().__anext__()  # read one event, then stop reading
            assert first.startswith("data: ")
            fast = await asyncio.wait_for(http.post("/chat/completions", json={"model": MODEL, "messages": _user("quick")}), 10)
            assert fast.json()["choices"][0]["message"]["content"] == "echo 0: quick"


@pytest.mark.parametrize("stream", [False, True])
async def test_our_client_round_trip(scripted_server, stream: bool) -> None:
    client = OpenAIClient(scripted_server.base_url, stream=stream)  # model name read from /v1/models
    try:
        conversation = Conversation.parse({"messages": _user("TOOL go"), "tools": [WEATHER_TOOL]})
        [completion] = await client.chat(conversation, sampling=Sampling(), thinking=True)
        # The server split reasoning and calls; the client keeps the split and rebuilds the raw text.
        assert completion.parsed.reasoning == "thinking about TOOL go"
        assert [(c.name, c.arguments) for c in completion.parsed.tool_calls] == [("get_weather", {"city": "Paris"})]
        assert completion.finish_reason == "tool_calls"
        assert completion.text.startswith("<think>\nthinking about TOOL go\n</think>\nLet me check.\n<tool_call>")
        # Raw completion of a prompt that opened <think>: the parser is told reasoning started.
        [raw] = await client.complete("<|im_start|>assistant\n<think>\nLONG", sampling=Sampling(max_tokens=3))
        assert raw.text == "w0 w1 w2" and raw.parsed.reasoning == "w0 w1 w2" and raw.parsed.truncated
        assert raw.finish_reason == "length"
        stats = client.stats()
        assert stats.requests == 2 and stats.completions == 2 and stats.prompt_tokens > 0 and stats.completion_tokens > 0
        assert "2 requests" in stats.summary()
    finally:
        await client.aclose()
