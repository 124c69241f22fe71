"""Tools from Python callables, the tool loops (turn-based and interleaved inside <think>), JSON mode, the code sandbox."""

from hermes4.agent.json_mode import JsonModeResult, json_mode
from hermes4.agent.loop import (
    LoopResult,
    ToolExchange,
    interleaved_tool_loop,
    tool_loop,
)
from hermes4.agent.python_tool import format_sandbox_result, python_tool
from hermes4.agent.sandbox import (
    SandboxError,
    SandboxIsolation,
    SandboxLimits,
    SandboxResult,
    run_sandboxed_python,
    run_sandboxed_python_async,
)
from hermes4.agent.tools import Tool, ToolDefinitionError, ToolRegistry, ToolResult

__all__ = [
    "JsonModeResult",
    "LoopResult",
    "SandboxError",
    "SandboxIsolation",
    "SandboxLimits",
    "SandboxResult",
    "Tool",
    "ToolDefinitionError",
    "ToolExchange",
    "ToolRegistry",
    "ToolResult",
    "format_sandbox_result",
    "interleaved_tool_loop",
    "json_mode",
    "python_tool",
    "run_sandboxed_python",
    "run_sandboxed_python_async",
    "tool_loop",
]
