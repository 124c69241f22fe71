"""In-process engines: the scripted engine, the transformers engine over the tiny model, connect(), `hermes4 serve`."""

from __future__ import annotations

import asyncio
import threading

import openai
import pytest
from typer.testing import CliRunner

from hermes4.chat.messages import Conversation
from hermes4.cli import app
from hermes4.llm import (
    LLM,
    LLMError,
    OpenAIClient,
    Sampling,
    ScriptedEngine,
    ScriptRequest,
    TransformersEngine,
    connect,
)
from hermes4.llm.server import start_server


def _conversation(text: str = "hi", **extra) -> Conversation:
    return Conversation.parse({"messages": [{"role": "user", "content": text}], **extra})


# ---- scripted engine -------------------------------------------------------------------------


async def test_scripted_engine_requests_and_samples() -> None:
    seen: list[ScriptRequest] = []

    def fn(request: ScriptRequest) -> str:
        seen.append(request)
        return f"<think>\nr{request.sample_index}\n</think>\nanswer {request.sample_index}" if request.thinking else "plain"

    engine = ScriptedEngine(fn)
    assert isinstance(engine, LLM)
    completions = await engine.chat(_conversation(), sampling=Sampling(n=3, seed=7), thinking=True)
    assert [c.parsed.content for c in completions] == ["answer 0", "answer 1", "answer 2"]
    assert [c.parsed.reasoning for c in completions] == ["r0", "r1", "r2"]
    assert [r.sample_index for r in seen] == [0, 1, 2] and all(r.thinking and r.sampling.seed == 7 for r in seen)
    assert seen[0].conversation.messages[0].content == "hi"
    assert seen[0].prompt.endswith("<|im_start|>assistant\n") and "deep thinking AI" in seen[0].prompt
    [raw] = await engine.complete("<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n", sampling=Sampling())
    assert raw.text == "plain" and seen[-1].conversation is None and not seen[-1].thinking
    stats = engine.stats()
    assert stats.requests == 2 and stats.completions == 4 and stats.failures == 0 and stats.prompt_tokens > 0


async def test_scripted_engine_cuts_like_an_engine() -> None:
    engine = ScriptedEngine(lambda r: "a b c d e f<|im_end|>never seen")
    [c] = await engine.chat(_conversation(), sampling=Sampling(max_tokens=3))
    assert (c.text, c.finish_reason, c.completion_tokens) == ("a b c", "length", 3)
    [c] = await engine.chat(_conversation(), sampling=Sampling(stop=[" d"]))
    assert (c.text, c.finish_reason) == ("a b c", "stop")
    [c] = await engine.chat(_conversation(), sampling=Sampling())
    assert (c.text, c.finish_reason, c.completion_tokens) == ("a b c d e f", "stop", 6)
    calls = ScriptedEngine(lambda r: '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>')
    [c] = await calls.chat(_conversation(), sampling=Sampling())
    assert c.finish_reason == "tool_calls" and c.parsed.tool_calls[0].arguments == {"x": 1}


async def test_scripted_engine_counts_with_a_tokenizer(tiny_tokenizer) -> None:
    engine = ScriptedEngine(lambda r: "hello world, hello world, hello world", tokenizer=tiny_tokenizer)
    full = len(tiny_tokenizer.encode("hello world, hello world, hello world", add_special_tokens=False))
    [c] = await engine.chat(_conversation(), sampling=Sampling())
    prompt = engine.render(_conversation(), thinking=False)
    assert c.completion_tokens == full and c.prompt_tokens == len(tiny_tokenizer.encode(prompt, add_special_tokens=False))
    [c] = await engine.chat(_conversation(), sampling=Sampling(max_tokens=2))
    assert c.finish_reason == "length" and c.completion_tokens == 2
    assert c.text == tiny_tokenizer.decode(tiny_tokenizer.encode("hello world, hello world, hello world", add_special_tokens=False)[:2])


async def test_scripted_engine_batches_and_reports_failures() -> None:
    batch_sizes: list[int] = []
    lock = threading.Lock()

    class Recording(ScriptedEngine):
        def generate_batch(self, jobs):
            with lock:
                batch_sizes.append(len(jobs))
            return super().generate_batch(jobs)

    engine = Recording(lambda r: "ok", max_batch=4)
    results = await asyncio.gather(*(engine.chat(_conversation(str(i)), sampling=Sampling(n=2)) for i in range(10)))
    assert all(len(r) == 2 for r in results) and sum(batch_sizes) == 20 and max(batch_sizes) == 4

    async def async_fn(request: ScriptRequest) -> str:
        await asyncio.sleep(0)
        return "from async"

    [c] = await ScriptedEngine(async_fn).chat(_conversation(), sampling=Sampling())
    assert c.text == "from async"

    def broken(request: ScriptRequest) -> str:
        raise KeyError("no such thing")

    engine = ScriptedEngine(broken, name="broken")
    with pytest.raises(LLMError, match="broken: generation failed: KeyError: 'no such thing'"):
        await engine.chat(_conversation(), sampling=Sampling())
    assert engine.stats().failures == 1
    with pytest.raises(LLMError, match="returned int, expected str"):
        await ScriptedEngine(lambda r: 42).chat(_conversation(), sampling=Sampling())


async def test_one_engine_serves_two_event_loops() -> None:
    import time

    def slow(request: ScriptRequest) -> str:
        time.sleep(0.002)
        return f"re: {request.conversation.messages[-1].content}"

    engine = ScriptedEngine(slow, max_batch=3)
    server = start_server(engine, model_name="slow")
    try:

        def over_http() -> list[str]:
            with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:
                return [client.chat.completions.create(model="slow", messages=[{"role": "user", "content": f"h{i}"}]).choices[0].message.content for i in range(8)]

        http_answers, *direct = await asyncio.gather(
            asyncio.to_thread(over_http), *(engine.chat(_conversation(f"d{i}"), sampling=Sampling()) for i in range(16))
        )
    finally:
        server.close()
    assert http_answers == [f"re: h{i}" for i in range(8)]
    assert [c[0].text for c in direct] == [f"re: d{i}" for i in range(16)]


async def test_connect_specs(tiny_model_dir) -> None:
    client = connect("http://127.0.0.1:1,http://127.0.0.1:2/v1", model="m")
    assert isinstance(client, OpenAIClient) and [e.url for e in client.balancer.endpoints] == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    await client.aclose()
    scripted = connect("scripted:hermes4.llm.scripts:echo")
    assert isinstance(scripted, ScriptedEngine)
    [c] = await scripted.chat(_conversation("repeat me"), sampling=Sampling())
    assert c.parsed.content == "You said: repeat me"
    assert isinstance(connect(str(tiny_model_dir)), TransformersEngine)
    with pytest.raises(ValueError, match="cannot connect to 'nowhere'"):
        connect("nowhere")
    with pytest.raises(ValueError, match="has no attribute nothing"):
        connect("scripted:hermes4.llm.scripts:nothing")


# ---- transformers engine over the tiny model -------------------------------------------------


@pytest.fixture(scope="module")
def tiny_engine(tiny_model_dir) -> TransformersEngine:
    return TransformersEngine(tiny_model_dir, max_batch=4, device="cpu")


async def test_transformers_engine_generates(tiny_engine) -> None:
    assert tiny_engine.format == "chatml"
    completions = await tiny_engine.chat(_conversation(), sampling=Sampling(n=2, max_tokens=8), thinking=True)
    assert len(completions) == 2
    for c in completions:
        assert c.finish_reason in ("stop", "length") and 1 <= c.completion_tokens <= 8 and c.prompt_tokens > 20
        assert isinstance(c.text, str) and c.parsed is not None
    # Seeded: the same request gives the same output whatever is batched with it.
    seeded = Sampling(n=2, max_tokens=8, seed=3)
    alone = await tiny_engine.chat(_conversation(), sampling=seeded)
    crowd = await asyncio.gather(
        tiny_engine.chat(_conversation("other"), sampling=Sampling(max_tokens=8)),
        tiny_engine.chat(_conversation(), sampling=seeded),
        tiny_engine.chat(_conversation(), sampling=Sampling(n=2, max_tokens=8, seed=4)),
    )
    assert [c.text for c in crowd[1]] == [c.text for c in alone]


async def test_transformers_engine_stop_length_logprobs(tiny_engine) -> None:
    greedy = Sampling(temperature=0, max_tokens=12)
    prompt = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    [full] = await tiny_engine.complete(prompt, sampling=greedy)
    assert full.finish_reason in ("length", "stop") and full.completion_tokens <= 12
    [again] = await tiny_engine.complete(prompt, sampling=greedy)
    assert again.text == full.text  # greedy is deterministic
    [short] = await tiny_engine.complete(prompt, sampling=Sampling(temperature=0, max_tokens=3))
    assert short.finish_reason == "length" and short.completion_tokens == 3 and full.text.startswith(short.text)
    stop = full.text.strip()[len(full.text.strip()) // 2 :][:2]
    if stop:  # a random model's greedy text; stop on a piece of it
        [cut] = await tiny_engine.complete(prompt, sampling=Sampling(temperature=0, max_tokens=12, stop=[stop]))
        assert cut.finish_reason == "stop" and stop not in cut.text and full.text.startswith(cut.text)
    [scored] = await tiny_engine.complete(prompt, sampling=Sampling(temperature=0, max_tokens=5, logprobs=True))
    assert len(scored.logprobs) == len(scored.tokens) == scored.completion_tokens
    assert all(lp <= 0 for lp in scored.logprobs)


def test_llama3_format_is_detected(tiny_llama3_model_dir) -> None:
    engine = TransformersEngine(tiny_llama3_model_dir, device="cpu")
    assert engine.format == "llama3" and engine.end_of_turn == "<|eot_id|>"
    assert engine.render(_conversation(), thinking=False).endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_server_over_the_tiny_model(tiny_engine) -> None:
    server = start_server(tiny_engine, model_name="tiny")
    try:
        with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:
            r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=6, n=2)
            assert len(r.choices) == 2 and r.usage.prompt_tokens > 0 and 2 <= r.usage.completion_tokens <= 12
            assert all(c.finish_reason in ("stop", "length", "tool_calls") for c in r.choices)
            r = client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=6, temperature=0,
                extra_body={"chat_template_kwargs": {"thinking": True}},
            )
            chunks = list(client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=6, temperature=0,
                extra_body={"chat_template_kwargs": {"thinking": True}}, stream=True,
            ))
            streamed = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)
            assert streamed == (r.choices[0].message.content or "")
            assert chunks[-1].choices[0].finish_reason == r.choices[0].finish_reason
    finally:
        server.close()


# ---- the command -------------------------------------------------------------------------------


@pytest.mark.slow
def test_serve_subprocess_over_the_tiny_model(serve_process, tiny_model_dir) -> None:
    server = serve_process("--model", str(tiny_model_dir), "--api-key", "k", "--max-batch", "4", "--name", "tiny")
    assert server.model == "tiny"
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        assert [m.id for m in client.models.list().data] == ["tiny"]
        r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
        assert r.choices[0].finish_reason in ("stop", "length", "tool_calls") and r.usage.completion_tokens <= 4
    with openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as client, pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_serve_rejects_bad_arguments() -> None:
    runner = CliRunner()
    for args, message in [
        (["serve"], "give exactly one of --model DIR or --scripted module:function"),
        (["serve", "--scripted", "x:y", "--model", "d"], "give exactly one of"),
        (["serve", "--scripted", "nosuchmodule:f"], "cannot import nosuchmodule"),
        (["serve", "--scripted", "hermes4.llm.scripts"], "expected module:function"),
        (["serve", "--model", "/nonexistent"], "not a model folder"),
        (["serve", "--scripted", "hermes4.llm.scripts:echo", "--max-batch", "0"], "--max-batch must be at least 1"),
        (["serve", "--scripted", "hermes4.llm.scripts:echo", "--max-n", "0"], "--max-n must be at least 1"),
        (["serve", "--scripted", "hermes4.llm.scripts:echo", "--max-tokens", "0"], "--max-tokens must be at least 1"),
        (["serve", "--scripted", "hermes4.llm.scripts:echo", "--read-timeout", "0"], "--read-timeout must be positive"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
