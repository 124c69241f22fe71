"""Graphs from YAML: `llm`, `judge`, `python` and nested `graph` nodes; errors name the node and field.

    name: my_graph
    nodes:
      - name: start
        kind: python
        function: hermes4.forge.builtin:start      # fn(state, ctx, **args) -> facts to set
        pre: [passage, "!started"]
        post: [passage, started]
      - name: debate
        kind: llm
        stage: transform
        pre: [passage, started, "!transformed"]
        post: [passage, started, transformed, kind=debate]
        prompt: "Rewrite as a debate transcript:\\n\\n{{ passage }}"
        writes: passage
        sets: {transformed: "yes", kind: debate}
        sampling: {temperature: 0.8, max_tokens: 800}
      - name: inner
        kind: graph
        graph: other.yaml          # a file beside this one, a built-in name, or inline `nodes:`
      - name: judge
        kind: judge
        pre: [instruction, answer, "!judged"]
        post: [instruction, answer, judged]
        threshold: 7
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hermes4.chat.messages import describe_validation_error
from hermes4.forge.conditions import ConditionError
from hermes4.forge.graph import FunctionNode, Graph, GraphError, Node
from hermes4.forge.nodes import Criterion, JudgeNode, LLMNode, Validation
from hermes4.llm.types import Sampling
from hermes4.store.files import read_text_file
from hermes4.store.readers import parse_yaml

BUILTIN = ("default", "procedural", "nested_example")
_COMMON = {"name", "kind", "pre", "post", "stage", "weight"}
_FIELDS = {
    "llm": _COMMON | {"prompt", "system", "llm", "sampling", "output", "writes", "schema", "sets", "validation", "retries"},
    "judge": _COMMON | {"rubric", "threshold", "max_revisions", "llm", "reviser", "sampling"},
    "python": _COMMON | {"function", "args"},
    "graph": _COMMON | {"graph", "nodes"},
}


def load_graph(spec: str | Path | dict[str, Any], *, base: Path | None = None) -> Graph:
    """A built-in name (`default`, `procedural`, `nested_example`), a YAML file, or an already-read dict."""
    if isinstance(spec, dict):
        return _graph_from_dict(spec, where="graph", base=base or Path.cwd())
    text_spec = str(spec)
    if text_spec in BUILTIN:
        source = resources.files("hermes4.forge").joinpath("graphs", f"{text_spec}.yaml")
        return _graph_from_text(source.read_text(encoding="utf-8"), where=f"{text_spec} (built in)", base=None)
    path = Path(text_spec)
    if not path.is_file():
        raise GraphError(f"{path}: no such graph file (built-in graphs: {', '.join(BUILTIN)})")
    return _graph_from_text(read_text_file(path), where=str(path), base=path.parent)


def _graph_from_text(text: str, *, where: str, base: Path | None) -> Graph:
    data = parse_yaml(text, where, GraphError)
    if not isinstance(data, dict):
        raise GraphError(f"{where}: a graph file holds a mapping with `name` and `nodes`")
    return _graph_from_dict(data, where=where, base=base)


def _graph_from_dict(data: dict[str, Any], *, where: str, base: Path | None) -> Graph:
    name = data.get("name")
    nodes = data.get("nodes")
    if not isinstance(name, str) or not isinstance(nodes, list) or not nodes:
        raise GraphError(f"{where}: needs `name` (text) and `nodes` (a non-empty list)")
    built = [_node(entry, where=f"{where}: nodes[{i}]", base=base) for i, entry in enumerate(nodes)]
    return Graph(name, built, stage=data.get("stage", "graph"), weight=data.get("weight", 1.0))


def _node(entry: Any, *, where: str, base: Path | None) -> Node:
    if not isinstance(entry, dict) or "name" not in entry:
        raise GraphError(f"{where}: a node is a mapping with at least `name` and `kind`")
    where = f"{where} ({entry['name']})"
    kind = entry.get("kind", "llm")
    if kind not in _FIELDS:
        raise GraphError(f"{where}: kind {kind!r}: expected one of {', '.join(_FIELDS)}")
    unknown = sorted(set(entry) - _FIELDS[kind])
    if unknown:
        raise GraphError(f"{where}: unknown field(s) {unknown} for a {kind} node (allowed: {sorted(_FIELDS[kind])})")
    common = {k: entry[k] for k in ("pre", "post", "stage", "weight") if k in entry}
    try:
        if kind == "python":
            return FunctionNode(entry["name"], _import(entry.get("function"), where), args=entry.get("args"), **common)
        if kind == "graph":
            if "nodes" in entry:
                inner = _graph_from_dict({"name": entry["name"], "nodes": entry["nodes"]}, where=where, base=base)
            else:
                ref = entry.get("graph")
                if not isinstance(ref, str):
                    raise GraphError(f"{where}: a graph node needs `graph` (a file or built-in name) or inline `nodes`")
                target = ref if ref in BUILTIN or base is None else str(base / ref)
                inner = load_graph(target)
            if "weight" in entry:
                inner.weight = float(entry["weight"])
            return inner
        sampling = Sampling(**entry["sampling"]) if "sampling" in entry else None
        if kind == "judge":
            rubric = [Criterion(**c) for c in entry["rubric"]] if "rubric" in entry else None
            extra = {k: entry[k] for k in ("threshold", "max_revisions", "llm", "reviser") if k in entry}
            return JudgeNode(entry["name"], rubric=rubric, sampling=sampling, **extra, **common)
        if "prompt" not in entry:
            raise GraphError(f"{where}: an llm node needs `prompt`")
        validation = Validation(**entry["validation"]) if "validation" in entry else None
        extra = {k: entry[k] for k in ("system", "llm", "output", "writes", "schema", "sets", "retries") if k in entry}
        return LLMNode(entry["name"], prompt=entry["prompt"], sampling=sampling, validation=validation, **extra, **common)
    except ValidationError as exc:
        raise GraphError(f"{where}: {describe_validation_error(exc)}") from None
    except (ConditionError, ValueError, TypeError) as exc:
        if isinstance(exc, GraphError):
            raise
        raise GraphError(f"{where}: {exc}") from None


def _import(ref: Any, where: str) -> Any:
    if not isinstance(ref, str) or ":" not in ref:
        raise GraphError(f"{where}: `function` must be 'module:function'")
    module_name, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise GraphError(f"{where}: cannot import {ref}: {exc}") from None
