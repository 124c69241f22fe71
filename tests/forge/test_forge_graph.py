"""DataForge graph engine: derived edges, build-time checks, nesting, seeded replayable walks."""

import asyncio

import pytest

from hermes4.forge.conditions import Condition, ConditionError, entails
from hermes4.forge.graph import FunctionNode, Graph, GraphError, WalkContext, WalkError, walk


def setter(**facts):
    return lambda state, ctx: facts


def node(name, pre=(), post=(), weight=1.0, **facts):
    return FunctionNode(name, setter(**facts), pre=pre, post=post, weight=weight)


def test_condition_language():
    assert Condition.parse("kind=news").holds({"kind": "news"})
    assert not Condition.parse("kind=news").holds({"kind": "blog"})
    assert Condition.parse("t in {a, b}").holds({"t": "b"})
    assert Condition.parse("!answer").holds({"passage": "x"})
    assert not Condition.parse("passage").holds({})
    assert entails((Condition.parse("kind in {debate, interview}"),), Condition.parse("kind=debate"))
    assert not entails((Condition.parse("kind=news"),), Condition.parse("kind=debate"))
    assert not entails((Condition.parse("answer"),), Condition.parse("!answer"))
    # open world: a fact the postconditions do not mention satisfies neither `x` nor `!x`
    assert not entails((Condition.parse("passage"),), Condition.parse("!answer"))
    assert entails((Condition.parse("!answer"),), Condition.parse("!answer"))
    with pytest.raises(ConditionError, match="at least one value"):
        Condition.parse("kind in {}")
    with pytest.raises(ConditionError, match="expected"):
        Condition.parse("two words")


def linear():
    return [
        node("start", pre=["passage"], post=["passage", "kind in {a, b}", "!done"], kind="a"),
        node("to_a", pre=["kind=a", "!done"], post=["done"], done="yes"),
    ]


def test_edges_come_from_conditions():
    g = Graph("g", linear())
    assert g.edges == {"start": ["to_a"], "to_a": []}
    assert (g.source, g.sink) == ("start", "to_a")


def test_cycle_is_named():
    nodes = [
        node("a", pre=["x"], post=["y"]),
        node("b", pre=["y"], post=["x"]),
        node("c", pre=["z"], post=["x"]),
    ]
    with pytest.raises(GraphError, match=r"cycle among nodes \['a', 'b'\]"):
        Graph("g", nodes)


def test_two_sinks_are_named():
    nodes = [node("s", post=["x"]), node("t1", pre=["x"], post=["done"]), node("t2", pre=["x"], post=["finished"])]
    with pytest.raises(GraphError, match=r"exactly one sink, found \['t1', 't2'\]"):
        Graph("g", nodes)


def test_dead_end_is_named():
    # `stuck` is entered from s but nothing can follow it, so it is a second sink: a dead end.
    nodes = [
        node("s", post=["x"]),
        node("mid", pre=["x"], post=["y"]),
        node("stuck", pre=["x"], post=["zzz"]),
        node("t", pre=["y"], post=["done"]),
    ]
    with pytest.raises(GraphError, match=r"sink, found \['stuck', 't'\].*dead end"):
        Graph("g", nodes)


def test_unreachable_is_named():
    nodes = [node("s", post=["x"]), node("t", pre=["x"], post=["done"]), node("orphan", pre=["never"], post=["x"])]
    with pytest.raises(GraphError, match=r"source, found \['orphan', 's'\].*unreachable"):
        Graph("g", nodes)


def test_duplicate_names():
    with pytest.raises(GraphError, match="duplicate"):
        Graph("g", [node("a"), node("a")])


def branching():
    return Graph(
        "branch",
        [
            node("read", pre=["passage", "!style"], post=["passage", "style in {x, y}", "!out"], style="x"),
            node("x1", pre=["style=x", "!out"], post=["out", "!end"], out="x1", weight=3.0),
            node("x2", pre=["style=x", "!out"], post=["out", "!end"], out="x2"),
            node("y1", pre=["style=y", "!out"], post=["out", "!end"], out="y1"),
            node("end", pre=["out", "!end"], post=["out", "end"], end=True),
        ],
    )


def run_walk(graph, seed, key="k"):
    ctx = WalkContext.for_walk(seed, key)
    state = asyncio.run(walk(graph, {"passage": "p"}, ctx))
    return state, ctx.path


def test_runtime_choice_follows_actual_state_and_seed_replays():
    graph = branching()
    paths = [run_walk(graph, seed)[1] for seed in range(40)]
    # y1 is a static successor of read, but its precondition never holds on the real state.
    assert all("branch/y1" not in p for p in paths)
    assert {p[1] for p in paths} == {"branch/x1", "branch/x2"}
    assert paths == [run_walk(graph, seed)[1] for seed in range(40)]  # same seeds, same paths
    heavy = sum(p[1] == "branch/x1" for p in paths)
    assert heavy > 20  # weight 3 vs 1


def test_nesting_two_levels():
    inner = Graph(
        "inner",
        [node("i1", pre=["a", "!b"], post=["a", "b", "!c"], b=1), node("i2", pre=["b", "!c"], post=["c", "!fin"], c=2)],
    )
    middle = Graph("middle", [node("m0", pre=["p", "!a"], post=["a", "!b"], a=0), inner])
    outer = Graph("outer", [node("o0", pre=["start"], post=["p", "!a"], p=1), middle, node("o9", pre=["c", "!fin"], post=["fin"], fin=1)])
    ctx = WalkContext.for_walk(0, "x")
    state = asyncio.run(walk(outer, {"start": True}, ctx))
    assert state["fin"] == 1
    assert ctx.path == ["outer/o0", "outer/middle/m0", "outer/middle/inner/i1", "outer/middle/inner/i2", "outer/o9"]
    assert "inner" in outer.describe()


def test_broken_postcondition_and_bad_start_are_walk_errors():
    liar = Graph("g", [node("a", pre=["p"], post=["q"]), node("b", pre=["q"], post=["r"], r=1)])
    with pytest.raises(WalkError, match="g/a broke its postconditions"):
        asyncio.run(walk(liar, {"p": 1}, WalkContext.for_walk(0, "k")))
    with pytest.raises(WalkError, match="needs"):
        asyncio.run(walk(liar, {}, WalkContext.for_walk(0, "k")))


def test_cycle_names_only_nodes_on_it():
    nodes = [
        node("s", post=["x"]),
        node("a", pre=["x"], post=["y"]),
        node("b", pre=["y"], post=["x", "z"]),
        node("after", pre=["z"], post=["w"]),
    ]
    with pytest.raises(GraphError, match=r"cycle among nodes \['a', 'b'\]"):
        Graph("g", nodes)


def test_builtin_graphs_build():
    from hermes4.forge.loader import load_graph

    default = load_graph("default")
    transforms = [n for n in default.nodes.values() if n.stage == "transform" and n.name != "as_is"]
    answers = [n for n in default.nodes.values() if n.stage == "answer"]
    assert len(transforms) >= 8 and len(answers) >= 10
    assert (default.source, default.sink) == ("start", "judge")
    # every instruction type reaches exactly its own answer generator
    for name in default.nodes:
        if name.startswith("instruct_"):
            assert default.edges[name] == ["answer_" + name.removeprefix("instruct_")]
    assert load_graph("procedural").sink == "check"
