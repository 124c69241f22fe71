"""Tools from Python callables (type hints → JSON schema), argument checking, and the registry that runs calls."""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.errors import PydanticUserError
from pydantic_core import to_jsonable_python

from hermes4.agent.docstrings import parse_docstring
from hermes4.chat.messages import FunctionSpec, Message, ToolSpec
from hermes4.parse.jsontools import json_path, validate


class ToolDefinitionError(TypeError):
    """A function that cannot become a tool; the message names the function and the parameter."""


@dataclass
class ToolResult:
    """What one call produced: the text for the `tool` message, and the error when it failed."""

    name: str
    arguments: dict[str, Any]
    content: str
    call_id: str | None = None
    error: str | None = None  # None when the tool ran and returned

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_message(self) -> Message:
        return Message(role="tool", content=self.content, tool_call_id=self.call_id, name=self.name)


def error_content(message: str) -> str:
    """The tool-response text for a failed call: a JSON object the model can read, `{"error": ...}`."""
    return json.dumps({"error": message}, ensure_ascii=False)


def result_content(value: Any) -> str:
    """A tool's return value as tool-response text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)


@dataclass
class Tool:
    """A callable the model may call: name, description, JSON schema of its arguments, and the function."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    # Turns checked JSON arguments into Python values (enums, pydantic models); None passes them through.
    arguments_model: type[BaseModel] | None = field(default=None, repr=False)
    positional: tuple[str, ...] = field(default=(), repr=False)  # positional-only parameters, in order

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(function=FunctionSpec(name=self.name, description=self.description, parameters=self.parameters))

    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> Tool:
        """Build a tool from `fn`'s signature, type hints, defaults and docstring (Google, NumPy or Sphinx style).

        Supported parameter types are what pydantic can describe in JSON schema: str, int, float, bool,
        None, `X | None`, list/dict/tuple of those, Literal, Enum, pydantic models, dataclasses,
        TypedDicts. `*args` / `**kwargs` cannot be described and are refused.
        """
        tool_name = name or getattr(fn, "__name__", None)
        if not tool_name or tool_name == "<lambda>":
            raise ToolDefinitionError("a tool needs a name: pass name= for lambdas and callables without __name__")
        where = f"tool {tool_name!r}"
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"{where}: cannot read the signature ({exc})") from None
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as exc:  # noqa: BLE001 - unresolvable forward references, say which
            raise ToolDefinitionError(f"{where}: cannot resolve the type hints ({exc})") from None
        doc = parse_docstring(inspect.getdoc(fn))
        fields: dict[str, Any] = {}
        positional: list[str] = []
        for index, (param_name, param) in enumerate(signature.parameters.items()):
            if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise ToolDefinitionError(f"{where}: parameter {param_name!r}: *args and **kwargs cannot be tool arguments")
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                positional.append(param_name)
            annotation = hints.get(param_name, Any)
            default = ... if param.default is inspect.Parameter.empty else param.default
            # Fields get neutral internal names and the parameter name as alias, so parameters called
            # `json`, `model_config` or `_private` never collide with pydantic's own attributes.
            fields[f"p{index}"] = (
                annotation,
                Field(default, alias=param_name, description=doc.params.get(param_name) or None),
            )
        model_name = "".join(part.capitalize() for part in tool_name.replace("-", "_").split("_")) + "Arguments"
        try:
            model = create_model(
                model_name, __config__=ConfigDict(extra="forbid", populate_by_name=False, arbitrary_types_allowed=False), **fields
            )
            schema = model.model_json_schema(by_alias=True)
        except (PydanticUserError, TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"{where}: a parameter type has no JSON schema ({exc})") from None
        text = description if description is not None else doc.summary
        return cls(
            name=tool_name,
            description=text,
            parameters=clean_schema(schema),
            fn=fn,
            arguments_model=model,
            positional=tuple(positional),
        )

    def check(self, arguments: Any) -> list[str]:
        """Why `arguments` do not fit this tool (`$.path: message` each); empty when they do."""
        if not isinstance(arguments, dict):
            return [f"$: arguments must be a JSON object, got {type(arguments).__name__}"]
        errors = [str(error) for error in validate(arguments, self.parameters)]
        if errors or self.arguments_model is None:
            return errors
        try:
            self.arguments_model.model_validate(arguments)
        except ValidationError as exc:  # a constraint only pydantic knows (a model's own validator)
            return [f"{json_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        return []

    def bind(self, arguments: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Checked JSON arguments → (positional, keyword) Python values for `fn`."""
        if self.arguments_model is None:
            return [], dict(arguments)
        instance = self.arguments_model.model_validate(arguments)
        values = {}
        for field_name, info in type(instance).model_fields.items():
            values[info.alias or field_name] = getattr(instance, field_name)
        args = [values.pop(name) for name in self.positional]
        return args, values

    async def invoke(self, arguments: dict[str, Any]) -> Any:
        """Run the function with checked arguments (a sync function runs in a worker thread)."""
        args, kwargs = self.bind(arguments)
        if self.is_async:
            return await self.fn(*args, **kwargs)
        value = await asyncio.to_thread(self.fn, *args, **kwargs)
        if inspect.isawaitable(value):  # a sync wrapper that returned a coroutine
            value = await value
        return value


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's schema made plain: titles dropped, non-recursive `$defs` inlined."""
    definitions = schema.get("$defs", {})

    def recursive(name: str, seen: tuple[str, ...]) -> bool:
        if name in seen:
            return True
        return any(recursive(ref, (*seen, name)) for ref in _refs(definitions.get(name, {})))

    keep = {name for name in definitions if recursive(name, ())}

    def walk(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if not in_properties and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
            name = node["$ref"].removeprefix("#/$defs/")
            if name not in keep and name in definitions:
                extra = {k: v for k, v in node.items() if k != "$ref"}
                return {**walk(definitions[name]), **walk(extra)}
        out = {}
        for key, value in node.items():
            if in_properties:
                out[key] = walk(value)
            elif (key == "title" and isinstance(value, str)) or key == "$defs":
                continue
            else:
                out[key] = walk(value, in_properties=key in ("properties", "patternProperties"))
        return out

    cleaned = walk(schema)
    if keep:
        cleaned["$defs"] = {name: walk(definitions[name]) for name in sorted(keep)}
    return cleaned


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            yield ref.removeprefix("#/$defs/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


class ToolRegistry:
    """The tools a model may call, by name; runs calls and turns every failure into a readable result."""

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._sync_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool | Callable[..., Any], *, name: str | None = None) -> Tool:
        if not isinstance(tool, Tool):
            tool = Tool.from_function(tool, name=name)
        elif name is not None and name != tool.name:
            raise ValueError(f"tool {tool.name!r}: name={name!r} given for an existing Tool")
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def tool(self, fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
        """Decorator: `@registry.tool` or `@registry.tool(name="...")` registers the function, returns it unchanged."""

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self.add(function, name=name)
            return function

        return register(fn) if fn is not None else register

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self._tools.values()]

    async def call(self, name: str, arguments: Any, *, call_id: str | None = None) -> ToolResult:
        """Run one call. Unknown tools, bad arguments and exceptions come back as error results, never raised."""
        args = arguments if isinstance(arguments, dict) else {}
        tool = self._tools.get(name)
        if tool is None:
            available = ", ".join(self._tools) or "none"
            message = f"unknown tool {name!r}; available tools: {available}"
            return ToolResult(name, args, error_content(message), call_id, message)
        problems = tool.check(arguments)
        if problems:
            message = f"invalid arguments for {name}: " + "; ".join(problems)
            return ToolResult(name, args, error_content(message), call_id, message)
        try:
            if tool.is_async:
                value = await tool.invoke(args)
            else:
                # Sync tools run one at a time (they need not be thread-safe), off the event loop.
                async with self._lock():
                    value = await tool.invoke(args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing tool is a result the model should see
            message = f"{name} raised {type(exc).__name__}: {exc}"
            return ToolResult(name, args, error_content(message), call_id, message)
        return ToolResult(name, args, result_content(value), call_id)

    async def call_many(self, calls: list[tuple[str, Any, str | None]]) -> list[ToolResult]:
        """Run the calls of one turn concurrently (async tools overlap; sync ones queue), results in call order."""
        return list(await asyncio.gather(*(self.call(name, args, call_id=cid) for name, args, cid in calls)))

    def _lock(self) -> asyncio.Lock:
        # One lock per event loop: a registry may serve several loops (threads, repeated asyncio.run).
        loop = asyncio.get_running_loop()
        lock = self._sync_locks.get(loop)
        if lock is None:
            lock = self._sync_locks[loop] = asyncio.Lock()
        return lock
