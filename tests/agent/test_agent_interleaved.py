"""The interleaved tool loop: calls inside <think> answered in place, over a scripted model through the real engine."""

from __future__ import annotations

import json
import re

from hermes4.agent import ToolRegistry, interleaved_tool_loop, python_tool
from hermes4.agent.sandbox import SandboxLimits
from hermes4.chat import render
from hermes4.chat.messages import Conversation, Message
from hermes4.llm import Sampling, ScriptedEngine, ScriptRequest

ASSISTANT = "<|im_start|>assistant\n"


def call(name: str, **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def so_far(request: ScriptRequest) -> str:
    """What the assistant has written in the current turn (the raw prompt after the last assistant header)."""
    return request.prompt[request.prompt.rfind(ASSISTANT) + len(ASSISTANT) :]


def responses(text: str) -> list[str]:
    return re.findall(r"<tool_response>\n(.*?)\n</tool_response>", text, re.DOTALL)


def ask(text: str) -> Conversation:
    return Conversation(messages=[Message(role="user", content=text)])


def registry_with_add() -> ToolRegistry:
    registry = ToolRegistry([python_tool(SandboxLimits(wall_s=10))])

    @registry.tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    return registry


async def test_calls_inside_think_are_answered_in_place_and_recorded_verbatim():
    requests: list[ScriptRequest] = []

    def model(request: ScriptRequest) -> str:
        requests.append(request)
        assert request.conversation is None  # raw completions
        text = so_far(request)
        got = responses(text)
        if not got:
            # everything after the call is cut by the engine at the stop string </tool_call>
            return "<think>\nI should compute this with Python.\n" + call("python", code="print(sum(range(10)))") + "\nSHOULD NOT APPEAR"
        if len(got) == 1:
            return f"Python says {got[0]}. Let me double-check.\n" + call("add", a=40, b=5)
        return f"Both agree: {got[1]}.\n</think>\nThe sum is {got[0]}."

    llm = ScriptedEngine(model)
    conversation = ask("What is 0+1+...+9?")
    result = await interleaved_tool_loop(llm, conversation, registry_with_add())

    assert result.finish == "answer" and result.turns == 1
    assert len(result.completions) == 3
    assert [r.sampling.stop for r in requests] == [["</tool_call>"]] * 3
    (message,) = result.messages
    assert message.content == "The sum is 45." and not message.tool_calls
    code_call = json.dumps({"name": "python", "arguments": {"code": "print(sum(range(10)))"}})
    add_call = json.dumps({"name": "add", "arguments": {"a": 40, "b": 5}})
    assert message.reasoning_content == (
        "I should compute this with Python.\n"
        f"<tool_call>\n{code_call}\n</tool_call>\n<tool_response>\n45\n</tool_response>\n"
        "Python says 45. Let me double-check.\n"
        f"<tool_call>\n{add_call}\n</tool_call>\n<tool_response>\n45\n</tool_response>\n"
        "Both agree: 45."
    )
    assert "SHOULD NOT APPEAR" not in message.reasoning_content
    assert [(e.name, e.content, e.inline, e.error) for e in result.exchanges] == [("python", "45", True, None), ("add", "45", True, None)]

    # Rendering the record gives exactly the prompt the model saw plus everything in its turn.
    prompt = render(result.conversation.model_copy(update={"messages": [conversation.messages[0]]}), thinking=True, add_generation_prompt=True).text
    assert requests[0].prompt == prompt
    generated = so_far(requests[-1]) + "Both agree: 45.\n</think>\nThe sum is 45."
    assert render(result.conversation, thinking=True).text == prompt + generated + "<|im_end|>\n"
    assert Conversation.parse(result.conversation.to_json()).to_json() == result.conversation.to_json()


async def test_errors_inside_think_come_back_inline():
    def model(request: ScriptRequest) -> str:
        got = responses(so_far(request))
        if not got:
            return "<think>\n" + call("multiply", a=2, b=3)
        if len(got) == 1:
            return call("add", a="two", b=3)
        if len(got) == 2:
            return "<tool_call>\n{this is not json\n</tool_call>"
        return "No tools work.\n</think>\nI give up."

    result = await interleaved_tool_loop(ScriptedEngine(model), ask("2*3?"), registry_with_add())
    assert result.finish == "answer" and result.answer == "I give up."
    errors = [json.loads(e.content)["error"] for e in result.exchanges]
    assert errors[0] == "unknown tool 'multiply'; available tools: python, add"
    assert errors[1] == "invalid arguments for add: $.a: 'two' is not of type 'integer'"
    assert errors[2].startswith("could not read the tool call")
    assert all(e.inline for e in result.exchanges)
    assert result.final_message.reasoning_content.count("<tool_response>") == 3


async def test_a_literal_close_tag_inside_an_argument_does_not_end_the_call():
    def model(request: ScriptRequest) -> str:
        text = so_far(request)
        if not responses(text):
            if "<tool_call>" not in text:
                return '<think>\n<tool_call>\n{"name": "python", "arguments": {"code": "print(\'a</tool_call>b\')"}}\n</tool_call>'
            # the engine cut at the literal inside the string; the loop put it back; the model goes on
            return "b')\"}}\n</tool_call>"
        return f"Printed {len(responses(text)[0])} characters.\n</think>\ndone"

    result = await interleaved_tool_loop(ScriptedEngine(model), ask("x"), registry_with_add())
    (exchange,) = result.exchanges
    assert exchange.arguments == {"code": "print('a</tool_call>b')"}
    assert exchange.content == "a</tool_call>b"
    assert result.answer == "done"


async def test_the_token_budget_covers_the_whole_message():
    def model(request: ScriptRequest) -> str:
        if not responses(so_far(request)):
            return "<think>\n" + "thinking " * 20 + call("add", a=1, b=2)
        return "more " * 100 + "\n</think>\nanswer"

    result = await interleaved_tool_loop(ScriptedEngine(model), ask("x"), registry_with_add(), sampling=Sampling(max_tokens=60))
    assert result.finish == "length"
    assert len(result.exchanges) == 1
    assert sum(c.completion_tokens for c in result.completions) == 60
    assert result.final_message.content == "" and "more" in result.final_message.reasoning_content


async def test_inline_calls_beyond_the_limit_are_refused():
    def model(request: ScriptRequest) -> str:
        got = responses(so_far(request))
        if got and "limit" in got[-1]:
            return "Fine.\n</think>\nstopped"
        return ("<think>\n" if not got else "") + call("add", a=len(got), b=1)

    result = await interleaved_tool_loop(ScriptedEngine(model), ask("x"), registry_with_add(), max_tool_calls=3)
    assert [e.error is None for e in result.exchanges] == [True, True, True, False]
    assert "tool call limit of 3" in result.exchanges[-1].error
    assert result.answer == "stopped"


async def test_calls_after_think_become_a_tool_turn():
    def model(request: ScriptRequest) -> str:
        text = so_far(request)
        if "<|im_start|>tool" in request.prompt:
            return "<think>\nGot it.\n</think>\nIt is 5."
        if "</think>" in text:
            return ""  # the call after </think> is complete: end the turn
        if not responses(text):
            return "<think>\n" + call("add", a=1, b=1)
        return "Now a normal call.\n</think>\n" + call("add", a=2, b=3)

    result = await interleaved_tool_loop(ScriptedEngine(model), ask("x"), registry_with_add())
    assert result.finish == "answer" and result.turns == 2
    first, tool, final = result.messages
    assert [c.name for c in first.tool_calls] == ["add"] and first.tool_calls[0].arguments == {"a": 2, "b": 3}
    assert tool.role == "tool" and tool.content == "5" and tool.tool_call_id == first.tool_calls[0].id
    assert [(e.inline, e.content) for e in result.exchanges] == [(True, "2"), (False, "5")]
    assert final.content == "It is 5."
    assert len({e.call_id for e in result.exchanges}) == 2
