"""DataForge graphs: nodes with declared conditions, edges derived from them, checked DAGs, seeded walks.

A node says which facts it needs (preconditions) and which it guarantees afterwards (postconditions).
There is an edge a -> b when a's postconditions entail b's preconditions (see `conditions.entails`);
nobody writes edges by hand. A node with no preconditions has nothing to connect on, so it can only
start a graph. A graph must have exactly one source and one sink, no cycles, and every
node on some source-to-sink path. A graph is itself a node (its source's preconditions, its sink's
postconditions), so graphs nest to any depth.

A walk starts at the source with a state that satisfies it, runs each node, and moves to a successor
whose preconditions hold on the *actual* state, chosen uniformly or by weight with the walk's seeded
RNG. The path taken is recorded on the walk, so any record can be traced and replayed.
"""

from __future__ import annotations

import hashlib
import inspect
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hermes4.chat.messages import Conversation
from hermes4.forge.conditions import Condition, parse_conditions, satisfied_by

State = dict[str, Any]


class GraphError(ValueError):
    """A graph that violates the DAG rules; the message names the nodes involved."""


class WalkError(RuntimeError):
    """A walk that cannot continue (dead end at run time, a node broke its postconditions, a node failed)."""


@dataclass
class Step:
    """One intermediate step of a walk, kept as its own training sample (flagged by stage)."""

    node: str
    stage: str
    conversation: Conversation


@dataclass
class WalkContext:
    """What nodes see besides the state: the seeded RNG, models by name, and what the walk records."""

    seed: int
    rng: random.Random
    llms: dict[str, Any] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    prefix: str = ""

    @classmethod
    def for_walk(cls, seed: int, key: str, llms: dict[str, Any] | None = None) -> WalkContext:
        """A context whose randomness depends only on (seed, key): the same seed replays the same walk."""
        digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
        walk_seed = int.from_bytes(digest[:8], "big")
        return cls(seed=walk_seed, rng=random.Random(walk_seed), llms=dict(llms or {}))

    def derived_seed(self, *parts: object) -> int:
        """A per-call seed (e.g. an LLM request's) derived from the walk seed, stable across reruns."""
        text = ":".join([str(self.seed), self.prefix, *map(str, parts)])
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


class Node:
    """A step of a walk. Subclasses implement `run`; conditions are declared, not computed."""

    def __init__(
        self,
        name: str,
        *,
        pre: Sequence[str] | tuple[Condition, ...] = (),
        post: Sequence[str] | tuple[Condition, ...] = (),
        stage: str = "other",
        weight: float = 1.0,
    ) -> None:
        if not name or "/" in name:
            raise GraphError(f"node name {name!r}: must be non-empty and contain no '/'")
        if weight <= 0:
            raise GraphError(f"node {name}: weight must be positive, got {weight}")
        self.name = name
        self.pre = _conditions(pre)
        self.post = _conditions(post)
        self.stage = stage
        self.weight = weight

    async def run(self, state: State, ctx: WalkContext) -> State:
        raise TypeError(f"{type(self).__name__} must implement run()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _conditions(value: Sequence[str] | tuple[Condition, ...]) -> tuple[Condition, ...]:
    if all(isinstance(c, Condition) for c in value):
        return tuple(value)  # type: ignore[arg-type]
    return parse_conditions(list(value))  # type: ignore[arg-type]


class FunctionNode(Node):
    """A plain Python node: `fn(state, ctx, **args)` returns the facts to set (a dict; None values delete)."""

    def __init__(
        self,
        name: str,
        fn: Callable[..., State | Awaitable[State]],
        *,
        args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        self.fn = fn
        self.args = dict(args or {})

    async def run(self, state: State, ctx: WalkContext) -> State:
        updates = self.fn(state, ctx, **self.args)
        if inspect.isawaitable(updates):
            updates = await updates
        new_state = dict(state)
        for key, value in (updates or {}).items():
            if value is None:
                new_state.pop(key, None)
            else:
                new_state[key] = value
        return new_state


class Graph(Node):
    """A checked DAG of nodes; also a node itself."""

    def __init__(self, name: str, nodes: Sequence[Node], *, stage: str = "graph", weight: float = 1.0) -> None:
        names = [n.name for n in nodes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise GraphError(f"graph {name}: duplicate node names {duplicates}")
        if not nodes:
            raise GraphError(f"graph {name}: has no nodes")
        self.nodes = {n.name: n for n in nodes}
        self.edges: dict[str, list[str]] = {
            a.name: [b.name for b in nodes if b is not a and b.pre and satisfied_by(a.post, b.pre)] for a in nodes
        }
        self.source, self.sink = _check_dag(name, self.nodes, self.edges)
        source, sink = self.nodes[self.source], self.nodes[self.sink]
        super().__init__(name, pre=source.pre, post=sink.post, stage=stage, weight=weight)

    def successors(self, node: str) -> list[str]:
        return self.edges[node]

    async def run(self, state: State, ctx: WalkContext) -> State:
        outer_prefix = ctx.prefix
        ctx.prefix = f"{outer_prefix}{self.name}/"
        try:
            current = self.nodes[self.source]
            _require(current, state, ctx, "the walk's state does not satisfy the source")
            while True:
                try:
                    state = await current.run(state, ctx)
                except WalkError:
                    raise
                except Exception as exc:
                    raise WalkError(f"node {ctx.prefix}{current.name} failed: {type(exc).__name__}: {exc}") from exc
                if not isinstance(current, Graph):
                    ctx.path.append(ctx.prefix + current.name)
                broken = [str(c) for c in current.post if not c.holds(state)]
                if broken:
                    raise WalkError(f"node {ctx.prefix}{current.name} broke its postconditions: {broken}")
                if current.name == self.sink:
                    return state
                candidates = [self.nodes[n] for n in self.edges[current.name] if all(c.holds(state) for c in self.nodes[n].pre)]
                if not candidates:
                    raise WalkError(
                        f"dead end after {ctx.prefix}{current.name}: no successor's preconditions hold "
                        f"(successors: {self.edges[current.name]}; facts: {sorted(state)})"
                    )
                current = ctx.rng.choices(candidates, weights=[c.weight for c in candidates])[0]
        finally:
            ctx.prefix = outer_prefix

    def describe(self) -> str:
        """The graph as text: one line per node with its successors, nested graphs indented."""
        lines = [f"graph {self.name} (source {self.source}, sink {self.sink})"]
        for name, node in self.nodes.items():
            lines.append(f"  {name} -> {', '.join(self.edges[name]) or '(sink)'}")
            if isinstance(node, Graph):
                lines.extend("    " + line for line in node.describe().splitlines())
        return "\n".join(lines)


def _require(node: Node, state: State, ctx: WalkContext, why: str) -> None:
    missing = [str(c) for c in node.pre if not c.holds(state)]
    if missing:
        raise WalkError(f"{why}: {ctx.prefix}{node.name} needs {missing}")


def _check_dag(name: str, nodes: dict[str, Node], edges: dict[str, list[str]]) -> tuple[str, str]:
    incoming: dict[str, int] = {n: 0 for n in nodes}
    for targets in edges.values():
        for target in targets:
            incoming[target] += 1
    sources = [n for n, k in incoming.items() if k == 0]
    sinks = [n for n, targets in edges.items() if not targets]

    # Cycles first: in a cycle every node has an incoming edge, so "no source" is usually a cycle.
    order: list[str] = []
    pending = dict(incoming)
    ready = [n for n in nodes if pending[n] == 0]
    while ready:
        node = ready.pop()
        order.append(node)
        for target in edges[node]:
            pending[target] -= 1
            if pending[target] == 0:
                ready.append(target)
    if len(order) != len(nodes):
        # Left over: nodes on a cycle and nodes downstream of one. Peel off those that cannot lead back.
        left = set(nodes) - set(order)
        changed = True
        while changed:
            changed = False
            for n in sorted(left):
                if not any(t in left for t in edges[n]):
                    left.discard(n)
                    changed = True
        cyclic = sorted(left)
        raise GraphError(f"graph {name}: cycle among nodes {cyclic}")
    # With no cycle, every node is reached from some node no edge enters and reaches some node with no
    # successor; so "unreachable" and "dead end" show up as extra sources and sinks, named here.
    if len(sources) != 1:
        raise GraphError(
            f"graph {name}: needs exactly one source, found {sorted(sources)} with no incoming edge "
            "(a node unreachable from the source is one of them: no other node's postconditions satisfy its preconditions)"
        )
    if len(sinks) != 1:
        raise GraphError(
            f"graph {name}: needs exactly one sink, found {sorted(sinks)} with no successor "
            "(a dead end is one of them: no node's preconditions are satisfied by its postconditions)"
        )
    return sources[0], sinks[0]


async def walk(graph: Graph, state: State, ctx: WalkContext) -> State:
    """Run one walk through `graph` from `state`; the path and steps accumulate on `ctx`."""
    return await graph.run(dict(state), ctx)
