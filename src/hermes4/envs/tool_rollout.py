"""Rollouts for envs whose items offer tools: the agent's interleaved loop with thinking, turn-based without."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes4.envs.base import Item, Trajectory

if TYPE_CHECKING:
    from hermes4.agent.sandbox import SandboxLimits
    from hermes4.llm import LLM, Sampling

_FINISH = {"answer": "stop", "length": "length"}


def python_registry(limits: SandboxLimits | None = None):
    """A tool registry holding only the sandboxed `python` tool."""
    from hermes4.agent.python_tool import python_tool
    from hermes4.agent.tools import ToolRegistry

    return ToolRegistry([python_tool(limits)])


async def run_tool_rollout(
    item: Item, llm: LLM, sampling: Sampling, *, thinking: bool, max_tool_calls: int = 4, max_turns: int = 4
) -> Trajectory:
    """One rollout with the `python` tool: calls inside `<think>` are answered in place when thinking is on
    (Hermes 4's interleaved tool use); otherwise calls are answered in `tool` turns."""
    from hermes4.agent.loop import interleaved_tool_loop, tool_loop

    registry = python_registry()
    if thinking:
        result = await interleaved_tool_loop(
            llm, item.prompt, registry, sampling=sampling, max_tool_calls=max_tool_calls, max_turns=max_turns
        )
    else:
        result = await tool_loop(llm, item.prompt, registry, sampling=sampling, thinking=False, max_turns=max_turns)
    return Trajectory(
        messages=list(result.messages),
        completions=list(result.completions),
        completion_tokens=result.completion_tokens,
        finish_reason=_FINISH.get(result.finish, result.finish),
        meta={"thinking": thinking, "loop_finish": result.finish, "tool_calls": len(result.exchanges)},
    )
