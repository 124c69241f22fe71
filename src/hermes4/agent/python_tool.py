"""The `python` tool: model-written code run in the sandbox, its result written back as text for the model."""

from __future__ import annotations

from hermes4.agent.sandbox import (
    SandboxLimits,
    SandboxResult,
    run_sandboxed_python_async,
)
from hermes4.agent.tools import Tool

PYTHON_TOOL_DESCRIPTION = (
    "Run a Python 3 program in a fresh sandbox (standard library only, no network, no files kept between "
    "calls) and return what it prints. Use print() to show results."
)


def format_sandbox_result(result: SandboxResult) -> str:
    """What the model reads back: stdout, stderr when there is any, and how the run ended unless it was ok."""
    parts = []
    if result.stdout:
        parts.append(result.stdout.rstrip("\n"))
    if result.stdout_truncated:
        parts.append(f"[stdout truncated: showing {len(result.stdout.encode())} of {result.stdout_bytes} bytes]")
    if result.stderr:
        parts.append("[stderr]\n" + result.stderr.rstrip("\n"))
    if result.stderr_truncated:
        parts.append(f"[stderr truncated: showing {len(result.stderr.encode())} of {result.stderr_bytes} bytes]")
    if result.status != "ok":
        parts.append(f"[{result.status}: {result.detail}]")
    return "\n".join(parts) if parts else "[no output]"


def python_tool(limits: SandboxLimits | None = None, *, name: str = "python") -> Tool:
    """A tool that runs its `code` argument with `run_sandboxed_python_async` under `limits`."""
    run_limits = limits or SandboxLimits(wall_s=10, cpu_s=10, memory_mb=1024, output_bytes=16384)

    async def python(code: str, stdin: str = "") -> str:
        """Run Python code.

        Args:
            code: the complete Python program to run
            stdin: text given to the program on standard input
        """
        return format_sandbox_result(await run_sandboxed_python_async(code, limits=run_limits, stdin=stdin))

    return Tool.from_function(python, name=name, description=PYTHON_TOOL_DESCRIPTION)
