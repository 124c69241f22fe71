"""Tools from Python functions: schemas from hints and docstrings, argument checks, the registry, the python tool."""

from __future__ import annotations

import asyncio
import enum
import json
import time
from dataclasses import dataclass
from typing import Annotated, Literal, Optional

import pytest
from pydantic import BaseModel, Field, field_validator

from hermes4.agent.docstrings import parse_docstring
from hermes4.agent.python_tool import python_tool
from hermes4.agent.sandbox import SandboxLimits
from hermes4.agent.tools import Tool, ToolDefinitionError, ToolRegistry, clean_schema
from hermes4.chat.messages import ToolSpec


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Location(BaseModel):
    city: str
    country: str = "FR"

    @field_validator("city")
    @classmethod
    def _capitalised(cls, value: str) -> str:
        if not value[:1].isupper():
            raise ValueError("city must be capitalised")
        return value


def get_weather(location: Location, unit: Unit = Unit.CELSIUS, days: Optional[int] = None, tags: list[str] | None = None) -> dict:  # noqa: UP045 - Optional is under test
    """Get the weather forecast.

    Uses a made-up service.

    Args:
        location: where to look,
            as a city and a country.
        unit (Unit): the temperature unit
        days: how many days ahead
    Returns:
        The forecast.
    """
    return {"city": location.city, "unit": unit.value, "days": days, "tags": tags or []}


def test_schema_from_hints_defaults_and_google_docstring():
    tool = Tool.from_function(get_weather)
    assert tool.name == "get_weather"
    assert tool.description == "Get the weather forecast.\n\nUses a made-up service."
    params = tool.parameters
    assert params["type"] == "object" and params["required"] == ["location"]
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["location"]["description"] == "where to look, as a city and a country."
    assert props["location"]["properties"]["city"] == {"type": "string"}  # the model, inlined, no titles
    assert props["location"]["required"] == ["city"]
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"] and props["unit"]["default"] == "celsius"
    assert props["days"]["anyOf"] == [{"type": "integer"}, {"type": "null"}] and props["days"]["default"] is None
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert "$defs" not in params and '"title"' not in json.dumps(params)  # models inlined, no titles
    assert ToolSpec.model_validate(tool.spec.model_dump()).function.name == "get_weather"


def test_literal_bool_float_and_numpy_docstring():
    def search(query: str, mode: Literal["fast", "deep"] = "fast", limit: float = 2.5, exact: bool = False):
        """Search the index.

        Parameters
        ----------
        query : str
            what to look for,
            in plain words
        mode : {"fast", "deep"}
            how hard to look
        limit, exact
            shared description

        Returns
        -------
        list
        """

    props = Tool.from_function(search).parameters["properties"]
    assert props["query"] == {"type": "string", "description": "what to look for, in plain words"}
    assert props["mode"]["enum"] == ["fast", "deep"] and props["mode"]["description"] == "how hard to look"
    assert props["limit"]["type"] == "number" and props["limit"]["description"] == "shared description"
    assert props["exact"] == {"type": "boolean", "default": False, "description": "shared description"}
    assert Tool.from_function(search).description == "Search the index."


def test_sphinx_docstring_and_annotated_field_constraints():
    def resize(width: Annotated[int, Field(ge=1, le=4096)], name: str = "img"):
        """Resize an image.

        :param width: new width in pixels
        :param str name: output name
        :returns: nothing
        """

    tool = Tool.from_function(resize)
    assert tool.parameters["properties"]["width"] == {"type": "integer", "minimum": 1, "maximum": 4096, "description": "new width in pixels"}
    assert tool.parameters["properties"]["name"]["description"] == "output name"
    assert tool.check({"width": 0}) == ["$.width: 0 is less than the minimum of 1"]


class Node(BaseModel):
    value: int
    children: list[Node] = []


@dataclass
class Point:
    x: float
    y: float


def test_recursive_models_keep_their_defs():
    def total(tree: Node) -> int:
        return tree.value + sum(total(c) for c in tree.children)

    tool = Tool.from_function(total)
    assert tool.parameters["properties"]["tree"] == {"$ref": "#/$defs/Node"}
    assert "Node" in tool.parameters["$defs"]
    assert asyncio.run(ToolRegistry([tool]).call("total", {"tree": {"value": 1, "children": [{"value": 2}]}})).content == "3"


def test_parameter_names_that_clash_with_pydantic_work():
    def odd(json: str, model_config: int = 1, schema: bool = True) -> str:
        return f"{json}-{model_config}-{schema}"

    tool = Tool.from_function(odd)
    assert set(tool.parameters["properties"]) == {"json", "model_config", "schema"}
    assert asyncio.run(ToolRegistry([tool]).call("odd", {"json": "x"})).content == "x-1-True"


def test_dataclass_parameter_and_positional_only():
    def norm(p: Point, /, scale: float = 1.0) -> float:
        return (p.x**2 + p.y**2) ** 0.5 * scale

    result = asyncio.run(ToolRegistry([norm]).call("norm", {"p": {"x": 3, "y": 4}, "scale": 2}))
    assert result.ok and result.content == "10.0"


def test_functions_that_cannot_be_tools_are_refused_with_the_reason():
    def variadic(*values: int) -> int:
        return sum(values)

    with pytest.raises(ToolDefinitionError, match="'variadic'.*'values'"):
        Tool.from_function(variadic)
    with pytest.raises(ToolDefinitionError, match="name="):
        Tool.from_function(lambda x: x)

    class Opaque:
        pass

    def takes_opaque(thing: Opaque) -> None: ...

    with pytest.raises(ToolDefinitionError, match="'takes_opaque'"):
        Tool.from_function(takes_opaque)


def test_check_reports_every_problem_with_its_path():
    tool = Tool.from_function(get_weather)
    problems = tool.check({"location": {"country": 3}, "unit": "kelvin", "colour": "red"})
    assert problems == [
        "$: Additional properties are not allowed ('colour' was unexpected)",
        "$.location: 'city' is a required property",
        "$.location.country: 3 is not of type 'string'",
        "$.unit: 'kelvin' is not one of ['celsius', 'fahrenheit']",
    ]
    assert tool.check([1, 2]) == ["$: arguments must be a JSON object, got list"]
    # a model's own validator runs after the schema check
    assert tool.check({"location": {"city": "paris"}}) == ["$.location.city: Value error, city must be capitalised"]


async def test_registry_calls_converts_and_reports_errors():
    registry = ToolRegistry()

    @registry.tool
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    registry.add(get_weather)
    assert registry.names == ["divide", "get_weather"] and len(registry) == 2 and "divide" in registry
    ok = await registry.call("get_weather", {"location": {"city": "Paris"}, "unit": "fahrenheit"}, call_id="c1")
    assert ok.ok and json.loads(ok.content) == {"city": "Paris", "unit": "fahrenheit", "days": None, "tags": []}
    assert ok.to_message().model_dump(exclude_none=True) == {"role": "tool", "content": ok.content, "tool_call_id": "c1", "name": "get_weather"}

    crashed = await registry.call("divide", {"a": 1, "b": 0})
    assert not crashed.ok
    assert json.loads(crashed.content) == {"error": "divide raised ZeroDivisionError: float division by zero"}

    unknown = await registry.call("multiply", {"a": 1})
    assert json.loads(unknown.content) == {"error": "unknown tool 'multiply'; available tools: divide, get_weather"}

    invalid = await registry.call("divide", {"a": "one"})
    assert invalid.error == "invalid arguments for divide: $: 'b' is a required property; $.a: 'one' is not of type 'number'"

    with pytest.raises(ValueError, match="already registered"):
        registry.add(divide)


async def test_async_tools_in_one_turn_run_concurrently():
    started: list[float] = []
    both_running = asyncio.Event()

    async def wait_for_peer(tag: str) -> str:
        started.append(time.monotonic())
        if len(started) == 2:
            both_running.set()
        await asyncio.wait_for(both_running.wait(), timeout=5)  # deadlocks unless both calls overlap
        return tag

    results = await ToolRegistry([wait_for_peer]).call_many(
        [("wait_for_peer", {"tag": "a"}, "1"), ("wait_for_peer", {"tag": "b"}, "2")]
    )
    assert [(r.call_id, r.content, r.ok) for r in results] == [("1", "a", True), ("2", "b", True)]


def test_docstring_without_sections_is_all_summary():
    doc = parse_docstring("Just text.\n\nMore: text here.")
    assert doc.summary == "Just text.\n\nMore: text here." and doc.params == {}
    assert parse_docstring(None).summary == ""


def test_clean_schema_keeps_a_property_called_title():
    schema = {"title": "X", "type": "object", "properties": {"title": {"title": "Title", "type": "string"}}}
    assert clean_schema(schema) == {"type": "object", "properties": {"title": {"type": "string"}}}


async def test_python_tool_runs_code_in_the_sandbox():
    registry = ToolRegistry([python_tool(SandboxLimits(wall_s=5, output_bytes=200))])
    spec = registry["python"].spec.function
    assert spec.parameters["required"] == ["code"] and "sandbox" in spec.description
    ok = await registry.call("python", {"code": "print(sum(range(10)))"})
    assert ok.content == "45"
    failed = await registry.call("python", {"code": "import sys\nprint('partial')\nraise SystemExit('bad input')"})
    assert failed.ok  # the tool worked; the program failed, and the model reads why
    assert failed.content == "partial\n[stderr]\nbad input\n[error: exit code 1]"
    flood = await registry.call("python", {"code": "print('x' * 1000)"})
    assert flood.content.startswith("x" * 200) and "[stdout truncated: showing 200 of 1001 bytes]" in flood.content
    quiet = await registry.call("python", {"code": "x = 1", "stdin": ""})
    assert quiet.content == "[no output]"
