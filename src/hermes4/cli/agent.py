"""`hermes4 sandbox`: run a Python file in the agent sandbox and print the result with the isolation it got."""

from __future__ import annotations

import json

import typer

from hermes4.cli._common import fail, read_text


def register(app: typer.Typer) -> None:
    @app.command()
    def sandbox(
        file: str | None = typer.Argument(None, help="Python file to run, or - for stdin"),
        stdin_file: str | None = typer.Option(None, "--stdin", help="file whose text is the program's stdin"),
        wall_s: float = typer.Option(10.0, help="wall-clock limit in seconds"),
        cpu_s: int = typer.Option(10, help="CPU-time limit in seconds"),
        memory_mb: int = typer.Option(1024, help="address-space limit in MiB"),
        max_processes: int = typer.Option(32, help="process/thread limit"),
        output_bytes: int = typer.Option(65536, help="stdout/stderr are each cut to this many bytes"),
        network: bool = typer.Option(False, help="keep the host network"),
        site_packages: bool = typer.Option(False, help="let the program import this environment's packages"),
    ) -> None:
        """Run untrusted Python with time, memory, file and process limits and no network; print JSON.

        The JSON has status (ok | error | timeout | memory_limit | killed), stdout, stderr, exit_code, wall_s, detail and `isolation` (which namespaces, uid and limits this machine granted).
        """
        from pydantic import ValidationError

        from hermes4.agent.sandbox import (
            SandboxError,
            SandboxLimits,
            run_sandboxed_python,
        )

        code, _ = read_text(file)
        stdin = read_text(stdin_file)[0] if stdin_file else ""
        try:
            limits = SandboxLimits(
                wall_s=wall_s,
                cpu_s=cpu_s,
                memory_mb=memory_mb,
                max_processes=max_processes,
                output_bytes=output_bytes,
                network=network,
                site_packages=site_packages,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise fail(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
        try:
            result = run_sandboxed_python(code, limits=limits, stdin=stdin)
        except SandboxError as exc:
            raise fail(f"sandbox: {exc}") from None
        print(json.dumps(result.model_dump(), ensure_ascii=False, indent=2))
