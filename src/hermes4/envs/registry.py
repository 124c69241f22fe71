"""Envs by name: `register_env`, and `get_env("name:key=value,key=value")` with typed, checked options. The spec
grammar and the option checks here are the only ones: eval's benchmark tasks (`name:key=value,...`) use them too."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from hermes4.envs.base import Env

E = TypeVar("E", bound=type[Env])


class EnvSpecError(ValueError):
    """A spec that names no env, an unknown option, or a value of the wrong type; the message says which."""


_REGISTRY: dict[str, type[Env]] = {}

# Built-in envs are imported on first use, so `import hermes4.envs` stays cheap.
_BUILTIN_MODULES: dict[str, str] = {
    "answer_format": "hermes4.envs.answer_format",
    "ifeval": "hermes4.envs.ifeval.env",
    "json_schema": "hermes4.envs.json_schema",
    "math": "hermes4.envs.math_env",
    "code": "hermes4.envs.code",
    "tool_use": "hermes4.envs.tool_use",
    "procedural": "hermes4.envs.procedural.env",
    "reasoning_gym": "hermes4.envs.rgym.env",
}


def register_env(name: str) -> Callable[[E], E]:
    """Class decorator: make an `Env` subclass available as `get_env(name)`."""

    def decorate(cls: E) -> E:
        if not (isinstance(cls, type) and issubclass(cls, Env)):
            raise TypeError(f"register_env({name!r}): {cls!r} is not an Env subclass")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"register_env: the name {name!r} is already taken by {existing.__module__}.{existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def env_names() -> list[str]:
    """Every registered env name (built-ins included), sorted."""
    return sorted(set(_REGISTRY) | set(_BUILTIN_MODULES))


def env_class(name: str) -> type[Env]:
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in _REGISTRY:
        raise EnvSpecError(f"env {name!r}: no such env; known envs: {', '.join(env_names())}")
    return _REGISTRY[name]


def env_options(cls: type[Env]) -> dict[str, tuple[Any, Any]]:
    """The options an env accepts: name -> (type, default), read from its `__init__` signature."""
    signature = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__)
    options: dict[str, tuple[Any, Any]] = {}
    for pname, param in signature.parameters.items():
        if pname == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        options[pname] = (hints.get(pname, str), param.default)
    return options


def parse_spec(spec: str, *, kind: str = "env", error: type[ValueError] = EnvSpecError) -> tuple[str, dict[str, str]]:
    """`"name:key=value,key=value"` -> (name, {key: raw value}). Values keep any `=` after the first. `kind` names what
    the spec selects in messages (an env, a task); `error` is the exception raised."""
    spec = spec.strip()
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise error(f"{kind} spec {spec!r}: missing the {kind} name (expected name:key=value,...)")
    raw: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise error(f"{kind} spec {spec!r}: option {part!r} is not key=value")
        key = key.strip()
        if key in raw:
            raise error(f"{kind} spec {spec!r}: option {key!r} given twice")
        raw[key] = value.strip()
    return name, raw


def convert_options(
    name: str,
    raw: dict[str, str],
    types: dict[str, Any],
    *,
    kind: str = "env",
    error: type[ValueError] = EnvSpecError,
    allowed_label: str = "allowed options",
) -> dict[str, Any]:
    """The raw option values of a spec converted to their types (`types`: option -> type); an unknown option or a value
    that does not convert raises `error` naming the option."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in types:
            allowed = ", ".join(sorted(types)) or "(none)"
            raise error(f"{kind} {name!r}: unknown option {key!r}; {allowed_label}: {allowed}")
        try:
            out[key] = _convert(value, types[key])
        except ValueError as exc:
            type_name = getattr(types[key], "__name__", str(types[key]))
            raise error(f"{kind} {name!r}: option {key}={value!r} is not a valid {type_name} ({exc})") from None
    return out


def _convert(value: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        if value.lower() in ("none", "null", ""):
            return None
        kind, origin = args[0], typing.get_origin(args[0])
    if kind is bool:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true/false")
    if kind is int:
        return int(value)
    if kind is float:
        return float(value)
    if kind in (list, tuple) or origin in (list, tuple):  # several values joined with +
        inner = (typing.get_args(kind) or (str,))[0]
        return [_convert(p, inner) for p in value.split("+") if p]
    return value


def check_spec(spec: str) -> tuple[str, type[Env], dict[str, Any]]:
    """The env name, class and typed options of `spec`, without building the env (no dataset is read): what a
    dry run can check. Raises EnvSpecError for an unknown env, an unknown option or a value of the wrong type."""
    name, raw = parse_spec(spec)
    cls = env_class(name)
    kwargs = convert_options(name, raw, {key: kind for key, (kind, _) in env_options(cls).items()})
    return name, cls, kwargs


def get_env(spec: str) -> Env:
    """The env named by `spec`, e.g. `math:dataset=path.jsonl` or `procedural:tasks=arithmetic+sorting,n=200`."""
    if isinstance(spec, Env):
        return spec
    name, cls, kwargs = check_spec(spec)
    try:
        env = cls(**kwargs)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise EnvSpecError(f"env {name!r}: {exc}") from None
    env._spec = spec.strip()  # type: ignore[attr-defined]
    return env
