"""System-prompt helpers: JSON mode from a schema or a pydantic model; the tools block parses line by line."""

import json

import pytest
from pydantic import BaseModel

from hermes4.chat import (
    ToolSpec,
    get_format,
    json_mode_system_prompt,
    tools_system_prompt,
)


class Answer(BaseModel):
    city: str
    temp_c: int


def test_json_mode_from_schema_dict():
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    assert json_mode_system_prompt(schema) == (
        "You are a helpful assistant that answers in JSON. Here's the json schema you must adhere to:\n"
        "<schema>\n"
        "{\n"
        '  "type": "object",\n'
        '  "properties": {\n'
        '    "x": {\n'
        '      "type": "integer"\n'
        "    }\n"
        "  },\n"
        '  "required": [\n'
        '    "x"\n'
        "  ]\n"
        "}\n"
        "</schema>"
    )


def test_json_mode_from_pydantic_model():
    prompt = json_mode_system_prompt(Answer)
    inner = prompt.split("<schema>\n", 1)[1].rsplit("\n</schema>", 1)[0]
    assert json.loads(inner) == Answer.model_json_schema()
    assert json_mode_system_prompt(Answer(city="Oslo", temp_c=3)) == prompt
    with pytest.raises(TypeError, match="JSON schema dict or a pydantic model"):
        json_mode_system_prompt("not a schema")


def test_tools_block_lines_are_valid_json():
    tools = [ToolSpec.model_validate({"name": "f", "description": 'says "hi"\nand more'}), ToolSpec.model_validate({"name": "g"})]
    block = tools_system_prompt(tools)
    listed = block.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0].split("\n")
    assert [json.loads(line)["function"]["name"] for line in listed] == ["f", "g"]
    assert '<tool_call>\n{"name": <function-name>, "arguments": <args-dict>}\n</tool_call>' in block


def test_get_format():
    assert get_format("chatml").end_of_turn == "<|im_end|>"
    assert get_format("llama3").generation_prompt == "<|start_header_id|>assistant<|end_header_id|>\n\n"
    with pytest.raises(ValueError, match="unknown chat format 'x'; choose one of: chatml, llama3"):
        get_format("x")
