"""`hermes4 serve`: an OpenAI-compatible server over a local model folder or a scripted function."""

from __future__ import annotations

import typer

from hermes4.cli._common import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        model: str | None = typer.Option(None, "--model", help="Hugging Face model folder to serve with transformers."),
        scripted: str | None = typer.Option(None, "--scripted", help="module:function (ScriptRequest -> str) to serve as a model."),
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="Port (0 picks a free one; the URL is printed once ready)."),
        api_key: str | None = typer.Option(None, "--api-key", help="Require `Authorization: Bearer KEY` on /v1."),
        max_batch: int = typer.Option(8, "--max-batch", help="Most requests per generate call."),
        name: str | None = typer.Option(None, "--name", help="Model id to serve as (default: folder or function name)."),
        format: str | None = typer.Option(None, "--format", help="Chat format: chatml or llama3 (default: detected / chatml)."),
        log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
        engine: str = typer.Option("transformers", "--engine", help="transformers (in process) or vllm (the engine venv, `make vllm`)."),
        tensor_parallel: int = typer.Option(1, "--tensor-parallel-size", help="vllm: GPUs per model replica."),
        data_parallel: int = typer.Option(1, "--data-parallel-size", help="vllm: model replicas."),
        max_model_len: int | None = typer.Option(None, "--max-model-len", help="vllm: context length (default: the model's)."),
        log: str | None = typer.Option(None, "--log", help="vllm: file for the engine's output (default: a temp file)."),
        max_tokens: int | None = typer.Option(
            None, "--max-tokens", help="Most tokens per answer; without it a request's default budget is the model's remaining context."
        ),
        max_n: int = typer.Option(128, "--max-n", help="Most choices (n) per request."),
        max_body_mb: float = typer.Option(32.0, "--max-body-mb", help="Largest request body, in MiB (larger: 413)."),
        read_timeout: float = typer.Option(30.0, "--read-timeout", help="Seconds a client has to send a request body (else 408)."),
        header_timeout: float = typer.Option(10.0, "--header-timeout", help="Seconds a connection has to send its request headers."),
    ) -> None:
        """Serve a model over the OpenAI API (chat completions, completions, models, health)."""
        import asyncio

        if (model is None) == (scripted is None):
            raise fail("serve: give exactly one of --model DIR or --scripted module:function")
        if max_batch < 1:
            raise fail(f"serve: --max-batch must be at least 1, got {max_batch}")
        if not 0 <= port <= 65535:
            raise fail(f"serve: --port must be in 0..65535, got {port}")
        if format is not None and format not in ("chatml", "llama3"):
            raise fail(f"serve: --format must be chatml or llama3, got {format!r}")
        if engine not in ("transformers", "vllm"):
            raise fail(f"serve: --engine must be transformers or vllm, got {engine!r}")
        if engine == "vllm":
            _serve_vllm(model, scripted, host=host, port=port, name=name, api_key=api_key,
                        tensor_parallel=tensor_parallel, data_parallel=data_parallel, max_model_len=max_model_len, log=log)
            return
        for flag, value in (("--max-tokens", max_tokens if max_tokens is not None else 1), ("--max-n", max_n)):
            if value < 1:
                raise fail(f"serve: {flag} must be at least 1, got {value}")
        for flag, seconds in (("--max-body-mb", max_body_mb), ("--read-timeout", read_timeout), ("--header-timeout", header_timeout)):
            if not seconds > 0:
                raise fail(f"serve: {flag} must be positive, got {seconds:g}")
        from hermes4.llm.server import ServerLimits

        limits = ServerLimits(
            max_n=max_n,
            max_body_bytes=int(max_body_mb * 2**20),
            body_timeout_s=read_timeout,
            header_timeout_s=header_timeout,
            max_tokens=max_tokens,
        )

        from hermes4.llm.scripted import ScriptedEngine, load_script

        if scripted is not None:
            try:
                fn = load_script(scripted)
            except ValueError as exc:
                raise fail(f"serve: --scripted: {exc}") from None
            engine = ScriptedEngine(fn, name=name, format=format or "chatml", max_batch=max_batch)
        else:
            from pathlib import Path

            if not (Path(model) / "config.json").is_file():
                raise fail(f"serve: --model {model}: not a model folder (no config.json)")
            from hermes4.llm.hf import TransformersEngine

            engine = TransformersEngine(model, name=name, format=format, max_batch=max_batch)
        asyncio.run(_serve(engine, host=host, port=port, api_key=api_key, log_level=log_level, limits=limits))


def _serve_vllm(model: str | None, scripted: str | None, *, host: str, port: int, name: str | None, api_key: str | None,
                tensor_parallel: int, data_parallel: int, max_model_len: int | None, log: str | None) -> None:
    from pathlib import Path

    from hermes4.llm.vllm_engine import EngineError, VllmSettings, serve_until_stopped

    if model is None or scripted is not None:
        raise fail("serve: --engine vllm serves a model folder: give --model DIR")
    if tensor_parallel < 1 or data_parallel < 1 or (max_model_len is not None and max_model_len < 16):
        raise fail("serve: --tensor-parallel-size and --data-parallel-size must be at least 1, --max-model-len at least 16")
    # --max-batch is the transformers engine's batch; vLLM's scheduler sizes its own batches.
    settings = VllmSettings(tensor_parallel_size=tensor_parallel, data_parallel_size=data_parallel,
                            max_model_len=max_model_len)
    try:
        serve_until_stopped(model, settings, host=host, port=port, name=name, api_key=api_key,
                            log=Path(log) if log else None)
    except EngineError as exc:
        raise fail(f"serve: {exc}") from None


async def _serve(engine, *, host: str, port: int, api_key: str | None, log_level: str, limits) -> None:
    import asyncio

    import uvicorn

    from hermes4.llm.server import bind_socket, create_app, server_config

    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise fail(f"serve: {exc}") from None
    app = create_app(engine, model_name=engine.name, api_key=api_key, limits=limits)
    server = uvicorn.Server(server_config(app, log_level=log_level, header_timeout_s=limits.header_timeout_s))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"hermes4 serve: {engine.name} on http://{shown}:{bound_port}/v1", flush=True)
    await task
