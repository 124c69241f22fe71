"""JSON mode: schema in the system prompt, validation errors fed back to the model, N retries."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, field_validator

from hermes4.agent import json_mode
from hermes4.chat.messages import Conversation, Message
from hermes4.llm import ScriptedEngine, ScriptRequest
from hermes4.parse.jsontools import InvalidSchemaError

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}


def ask(text: str, system: str | None = None) -> Conversation:
    messages = [Message(role="system", content=system)] if system else []
    return Conversation(messages=[*messages, Message(role="user", content=text)])


def scripted(answers: list[str]) -> tuple[ScriptedEngine, list[ScriptRequest]]:
    requests: list[ScriptRequest] = []

    def model(request: ScriptRequest) -> str:
        requests.append(request)
        return answers[min(len(requests) - 1, len(answers) - 1)]

    return ScriptedEngine(model), requests


async def test_validation_errors_are_fed_back_until_the_answer_conforms():
    llm, requests = scripted(['{"name": "Ada", "age": -3, "extra": true}', '```json\n{"name": "Ada", "age": 36}\n```'])
    result = await json_mode(llm, ask("Who wrote the first program?"), PERSON, retries=2)
    assert result.ok and result.value == {"name": "Ada", "age": 36} and result.attempts == 2 and result.errors == []
    system = requests[0].conversation.messages[0]
    assert system.role == "system" and "<schema>" in system.content and '"minimum": 0' in system.content
    feedback = result.conversation.messages[3]
    assert feedback.role == "user"
    assert feedback.content == (
        "Your answer does not follow the JSON schema:\n- $.age: -3 is less than the minimum of 0\n"
        "Reply with only the corrected JSON object."
    )
    assert "$.age: -3 is less than the minimum of 0" in requests[1].prompt  # the model saw it
    assert [m.role for m in result.conversation.messages] == ["system", "user", "assistant", "user", "assistant"]


async def test_gives_up_after_the_retries_with_every_error():
    llm, requests = scripted(['{"age": "old"}'])
    result = await json_mode(llm, ask("x"), PERSON, retries=1)
    assert not result.ok and result.value is None and result.attempts == 2 and len(requests) == 2
    assert result.errors == ["$: 'name' is a required property", "$.age: 'old' is not of type 'integer'"]


async def test_no_json_at_all_and_near_json_repair():
    llm, _ = scripted(["I don't know.", "{'name': 'Bob', 'age': 7,}"])
    result = await json_mode(llm, ask("x"), PERSON, retries=1)
    assert result.ok and result.value == {"name": "Bob", "age": 7}
    first_feedback = result.conversation.messages[3].content
    assert first_feedback.startswith("Your answer does not follow the JSON schema:\n- $: no JSON value found")


class Person(BaseModel):
    name: str
    age: int

    @field_validator("name")
    @classmethod
    def _full_name(cls, value: str) -> str:
        if " " not in value:
            raise ValueError("give the full name")
        return value


async def test_pydantic_model_schema_with_its_own_validator_and_thinking():
    llm, requests = scripted(
        [
            '<think>\nMaybe {"name": 1}?\n</think>\n{"name": "Ada", "age": 36}',
            '<think>\nFull name then.\n</think>\n{"name": "Ada Lovelace", "age": 36}',
        ]
    )
    conversation = ask("Who?", system="Be precise.")
    result = await json_mode(llm, conversation, Person, retries=3, thinking=True)
    assert result.ok and isinstance(result.instance, Person) and result.instance.name == "Ada Lovelace"
    assert result.conversation.messages[3].content.splitlines()[1] == "- $.name: Value error, give the full name"
    system = requests[0].conversation.messages[0].content
    assert system.startswith("Be precise.\n\nYou are a helpful assistant that answers in JSON.")
    assert requests[0].thinking
    assert result.conversation.messages[2].reasoning_content == 'Maybe {"name": 1}?'
    assert conversation.messages[0].content == "Be precise."  # the caller's conversation is untouched


async def test_bad_schema_fails_before_any_model_call():
    llm, requests = scripted(["{}"])
    with pytest.raises(InvalidSchemaError):
        await json_mode(llm, ask("x"), {"type": "no-such-type"})
    with pytest.raises(ValueError, match="retries"):
        await json_mode(llm, ask("x"), PERSON, retries=-1)
    assert requests == []


async def test_a_cut_off_answer_is_reported_as_such():
    llm, _ = scripted([json.dumps({"name": "x" * 2000, "age": 1})])
    from hermes4.llm import Sampling

    result = await json_mode(llm, ask("x"), PERSON, retries=0, sampling=Sampling(max_tokens=5))
    assert not result.ok and result.errors == ["$: the answer was cut off by the token limit before the JSON was complete"]
