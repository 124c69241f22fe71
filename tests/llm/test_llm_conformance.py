"""Conformance: what OpenAI / vLLM clients expect of `hermes4 serve`, row by row, with the official SDK and raw SSE.

Each row of issue 14 is a test. The model is a scripted function whose answers exercise the row (a
prose answer where a call is required, JSON that misses a field, an unreadable call, ...). The rows that
do not depend on the script (the 400s and their `param`, the wire shape) also run against a vLLM server
when HERMES4_VLLM_URL is set (its model from HERMES4_VLLM_MODEL or /v1/models), so the two are compared.
"""

from __future__ import annotations

import json
import os
import re

import httpx
import openai
import pydantic
import pytest

from hermes4.chat.messages import Conversation
from hermes4.llm import Sampling, ScriptedEngine, ScriptRequest
from hermes4.llm.client import OpenAIClient
from hermes4.llm.server import ServerLimits, start_server

MODEL = "conformance"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "description": "The time now.", "parameters": {"type": "object", "properties": {}}}}
CALL = '<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'


def conformance_script(request: ScriptRequest) -> str:
    """Answers chosen by keywords of the last user message; obeys the server's retry instructions."""
    assert request.conversation is not None
    messages = request.conversation.messages
    system = messages[0].content or "" if messages[0].role == "system" else ""
    user = next(m.content or "" for m in reversed(messages) if m.role == "user")
    forced = re.search(r"you must call the function (\w+)", system)
    if forced:
        return CALL.format(name=forced.group(1), arguments="{}")
    if "you must call one of the tools" in system:
        return CALL.format(name="get_weather", arguments='{"city": "Paris"}')
    if "<schema>" in system:
        if "did not follow" in system:
            return 'Here it is:\n```json\n{"city": "Paris", "temperature": 21}\n```'
        if "OBJECT" in user:
            return 'Sure, here you go: {"answer": 42} and nothing else.'
        return '{"city": "Paris"}'  # misses "temperature": the server must retry
    if "CALL" in user:
        return "Checking.\n" + CALL.format(name="get_weather", arguments='{"city": "Paris"}')
    if "OTHER" in user:
        return CALL.format(name="get_time", arguments="{}")
    if "BROKEN" in user:
        return "Checking.\n<tool_call>\nthis is not json at all\n</tool_call>"
    if "HUGE" in user:
        return "<think>\n" + " ".join(f"r{i}" for i in range(3000)) + "\n</think>\nthe answer"
    if "THINK" in user:
        return "<think>\nsome reasoning\n</think>\nthe answer"
    if "DEVELOPER" in user:
        return f"system says: {system}"
    return "plain answer"


VLLM_URL = os.environ.get("HERMES4_VLLM_URL")


@pytest.fixture(scope="module", params=["hermes4"] + (["vllm"] if VLLM_URL else []))
def endpoint(request):
    """(base_url, model, kind): our server over the script, or the vLLM server the environment names."""
    if request.param == "vllm":
        base = VLLM_URL.rstrip("/") + ("" if VLLM_URL.rstrip("/").endswith("/v1") else "/v1")
        model = os.environ.get("HERMES4_VLLM_MODEL") or httpx.get(f"{base}/models", timeout=30).json()["data"][0]["id"]
        yield base, model, "vllm"
        return
    server = start_server(ScriptedEngine(conformance_script, name=MODEL), model_name=MODEL)
    yield server.base_url, MODEL, "hermes4"
    server.close()


@pytest.fixture(scope="module")
def sdk(endpoint) -> openai.OpenAI:
    with openai.OpenAI(base_url=endpoint[0], api_key="unused", max_retries=0) as client:
        yield client


def ours(endpoint) -> None:
    if endpoint[2] != "hermes4":
        pytest.skip("the row needs the scripted model")


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _sse(base_url: str, body: dict) -> list[dict]:
    """Raw SSE: every `data:` event up to [DONE], decoded; asserts the stream ends with [DONE]."""
    events = []
    with httpx.stream("POST", f"{base_url}/chat/completions", json={**body, "stream": True}, timeout=60) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                if line == "data: [DONE]":
                    return events
                events.append(json.loads(line[6:]))
    raise AssertionError("the stream ended without [DONE]")


# ---- tool_choice -----------------------------------------------------------------------------------------------


def test_tool_choice_none_leaves_calls_as_text(sdk, endpoint) -> None:
    ours(endpoint)
    r = sdk.chat.completions.create(model=endpoint[1], messages=_user("CALL"), tools=[WEATHER], tool_choice="none")
    choice = r.choices[0]
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert '<tool_call>\n{"name": "get_weather"' in choice.message.content and choice.message.content.startswith("Checking.")
    streamed = _sse(endpoint[0], {"model": endpoint[1], "messages": _user("CALL"), "tools": [WEATHER], "tool_choice": "none"})
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in streamed if e["choices"])
    assert content == choice.message.content
    assert not any(e["choices"][0]["delta"].get("tool_calls") for e in streamed if e["choices"])


def test_tool_choice_auto_parses_calls(sdk, endpoint) -> None:
    ours(endpoint)
    r = sdk.chat.completions.create(model=endpoint[1], messages=_user("CALL"), tools=[WEATHER], tool_choice="auto")
    [call] = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_tool_choice_required_is_enforced(sdk, endpoint) -> None:
    ours(endpoint)
    # The script answers prose at first; the server checks, retries once with an instruction, and returns the call.
    r = sdk.chat.completions.create(model=endpoint[1], messages=_user("hello"), tools=[WEATHER], tool_choice="required")
    assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_named_tool_choice_is_enforced(sdk, endpoint) -> None:
    ours(endpoint)
    named = {"type": "function", "function": {"name": "get_time"}}
    r = sdk.chat.completions.create(model=endpoint[1], messages=_user("CALL"), tools=[WEATHER, TIME], tool_choice=named)
    assert [c.function.name for c in r.choices[0].message.tool_calls] == ["get_time"]
    # Streamed too (the checked answer is sent once it passed).
    events = _sse(endpoint[0], {"model": endpoint[1], "messages": _user("CALL"), "tools": [WEATHER, TIME], "tool_choice": named})
    names = [tc["function"].get("name") for e in events if e["choices"] for tc in e["choices"][0]["delta"].get("tool_calls") or []]
    assert "get_time" in names and events[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"tool_choice": "required"}, "`tools` must be set"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "Tool 'nope' has not been passed"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function"}}, "tool_choice"),
    ],
)
def test_invalid_tool_choice_is_400_naming_the_field(endpoint, extra, message) -> None:
    r = httpx.post(f"{endpoint[0]}/chat/completions", json={"model": endpoint[1], "messages": _user("x"), **extra}, timeout=60)
    assert r.status_code == 400
    error = r.json()["error"]
    if endpoint[2] == "hermes4":
        assert message in error["message"] and error["param"] == "tool_choice"


# ---- response_format -------------------------------------------------------------------------------------------


class Weather(pydantic.BaseModel):
    city: str
    temperature: int


def test_json_schema_with_the_sdk_parse_helper(sdk, endpoint) -> None:
    ours(endpoint)
    # The first answer misses a required field; the server validates, retries with the errors, returns bare JSON.
    r = sdk.chat.completions.parse(model=endpoint[1], messages=_user("weather in Paris?"), response_format=Weather)
    assert r.choices[0].message.parsed == Weather(city="Paris", temperature=21)
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "temperature": 21}


def test_json_object_returns_the_object_alone(sdk, endpoint) -> None:
    ours(endpoint)
    r = sdk.chat.completions.create(model=endpoint[1], messages=_user("OBJECT please"), response_format={"type": "json_object"})
    assert json.loads(r.choices[0].message.content) == {"answer": 42}


@pytest.mark.parametrize("response_format", [{"type": "xml"}, {"type": "json_schema"}, {"type": "json_schema", "json_schema": {"name": "x"}}])
def test_unknown_response_format_is_400(endpoint, response_format) -> None:
    r = httpx.post(f"{endpoint[0]}/chat/completions", json={"model": endpoint[1], "messages": _user("x"), "response_format": response_format}, timeout=60)
    assert r.status_code == 400
    if endpoint[2] == "hermes4":
        assert r.json()["error"]["param"] == "response_format"


# ---- budget, reasoning, calls ----------------------------------------------------------------------------------


def test_default_budget_is_the_remaining_context(sdk, endpoint) -> None:
    ours(endpoint)
    # No max_tokens (the SDK sends none): a 3,000-token reasoning answer is not cut at a fixed 1,024.
    r = sdk.chat.completions.create(model=endpoint[1], messages=_user("HUGE"))
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content == "the answer"
    assert r.usage.completion_tokens > 3000


def test_server_max_tokens_caps_the_default_budget() -> None:
    with start_server(ScriptedEngine(conformance_script, name=MODEL), model_name=MODEL, limits=ServerLimits(max_tokens=50)) as server:
        with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk:
            r = sdk.chat.completions.create(model=MODEL, messages=_user("HUGE"))
            assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 50
            with pytest.raises(openai.BadRequestError) as info:
                sdk.chat.completions.create(model=MODEL, messages=_user("HUGE"), max_tokens=51)
            assert info.value.body["param"] == "max_tokens"


def test_reasoning_is_sent_under_both_names(sdk, endpoint) -> None:
    ours(endpoint)
    r = httpx.post(f"{endpoint[0]}/chat/completions", json={"model": endpoint[1], "messages": _user("THINK")}, timeout=60).json()
    message = r["choices"][0]["message"]
    assert message["reasoning"] == message["reasoning_content"] == "some reasoning" and message["content"] == "the answer"
    deltas = [e["choices"][0]["delta"] for e in _sse(endpoint[0], {"model": endpoint[1], "messages": _user("THINK")}) if e["choices"]]
    assert "".join(d.get("reasoning") or "" for d in deltas) == "".join(d.get("reasoning_content") or "" for d in deltas) == "some reasoning"


def test_unreadable_call_stays_in_content_and_is_flagged(sdk, endpoint) -> None:
    ours(endpoint)
    r = httpx.post(f"{endpoint[0]}/chat/completions", json={"model": endpoint[1], "messages": _user("BROKEN"), "tools": [WEATHER]}, timeout=60).json()
    message = r["choices"][0]["message"]
    assert "tool_calls" not in message and r["choices"][0]["finish_reason"] == "stop"
    assert message["content"] == "Checking.\n<tool_call>\nthis is not json at all\n</tool_call>"
    assert [i["kind"] for i in message["parse_issues"]] == ["unreadable_tool_call"]
    streamed = _sse(endpoint[0], {"model": endpoint[1], "messages": _user("BROKEN"), "tools": [WEATHER]})
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in streamed if e["choices"]) == message["content"]


async def test_unreadable_call_reaches_our_client_as_an_issue(endpoint) -> None:
    ours(endpoint)
    client = OpenAIClient(endpoint[0], model=endpoint[1])
    try:
        conversation = Conversation.parse({"messages": _user("BROKEN"), "tools": [WEATHER]})
        [completion] = await client.chat(conversation, sampling=Sampling())
    finally:
        await client.aclose()
    assert not completion.parsed.tool_calls and [i.kind for i in completion.parsed.issues] == ["unreadable_tool_call"]


def test_call_ids_are_random(sdk, endpoint) -> None:
    ours(endpoint)
    r = sdk.chat.completions.create(model=endpoint[1], messages=_user("CALL"), tools=[WEATHER], n=2)
    again = sdk.chat.completions.create(model=endpoint[1], messages=_user("CALL"), tools=[WEATHER])
    ids = [c.message.tool_calls[0].id for c in r.choices] + [again.choices[0].message.tool_calls[0].id]
    assert len(set(ids)) == 3 and all(i.startswith("chatcmpl-tool-") for i in ids)


def test_developer_role_is_a_system_role(sdk, endpoint) -> None:
    ours(endpoint)
    messages = [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "DEVELOPER"}]
    assert sdk.chat.completions.create(model=endpoint[1], messages=messages).choices[0].message.content == "system says: be brief"


# ---- validation gaps -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"n": 10000}, "n"),
        ({"max_tokens": 10**12}, None),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"logprobs": True, "top_logprobs": 5}, "top_logprobs"),
        ({"seed": 2**80}, "seed"),
    ],
)
def test_validation_gaps_are_400(endpoint, extra, param) -> None:
    r = httpx.post(f"{endpoint[0]}/chat/completions", json={"model": endpoint[1], "messages": _user("x"), **extra}, timeout=60)
    if endpoint[2] == "vllm" and param in ("stop", "top_logprobs"):
        pytest.skip("vLLM accepts this row (OpenAI refuses it)")
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["type"] in ("invalid_request_error", "BadRequestError")
    if endpoint[2] == "hermes4":
        assert error["param"] == param


def test_the_subprocess_server_answers_the_sdk(serve_process) -> None:
    # The same app as a real `hermes4 serve` process: a row from the table, end to end.
    server = serve_process("--scripted", "tests.llm.test_llm_conformance:conformance_script", "--name", MODEL)
    with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk:
        r = sdk.chat.completions.create(model=MODEL, messages=_user("CALL"), tools=[WEATHER], tool_choice="none")
        assert r.choices[0].finish_reason == "stop" and "<tool_call>" in r.choices[0].message.content
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(model=MODEL, messages=_user("x"), n=10000)



@pytest.fixture(scope="module")
def tiny_sdk(tiny_model_dir):
    pytest.importorskip("lmformatenforcer")
    from hermes4.llm.hf import TransformersEngine

    with start_server(TransformersEngine(tiny_model_dir, device="cpu"), model_name="tiny") as server:
        with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:
            yield client


def test_json_schema_is_constrained_decoding_on_the_transformers_engine(tiny_sdk, endpoint) -> None:
    ours(endpoint)
    # A model with random weights writes schema-valid JSON only because decoding is constrained to the schema.
    schema = {
        "type": "object",
        "properties": {"answer": {"enum": ["yes", "no"]}, "sure": {"type": "boolean"}},
        "required": ["answer", "sure"],
        "additionalProperties": False,
    }
    r = tiny_sdk.chat.completions.create(
        model="tiny",
        messages=_user("ok?"),
        max_tokens=60,
        seed=1,
        response_format={"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}},
    )
    value = json.loads(r.choices[0].message.content)
    assert set(value) == {"answer", "sure"} and value["answer"] in ("yes", "no") and isinstance(value["sure"], bool)


@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_forced_tool_choice_is_constrained_decoding_on_the_transformers_engine(tiny_sdk, endpoint, tool_choice) -> None:
    ours(endpoint)
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"enum": ["Paris", "Rome"]}}, "required": ["city"], "additionalProperties": False},
        },
    }
    r = tiny_sdk.chat.completions.create(model="tiny", messages=_user("weather?"), max_tokens=200, seed=1, tools=[weather, TIME], tool_choice=tool_choice)
    [call] = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls"
    if isinstance(tool_choice, dict):
        assert call.function.name == "get_weather" and json.loads(call.function.arguments)["city"] in ("Paris", "Rome")
    else:
        assert call.function.name in ("get_weather", "get_time")
