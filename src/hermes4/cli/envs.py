"""`hermes4 envs list` and `hermes4 envs show SPEC`: the registered verifiable environments and their items."""

from __future__ import annotations

import json

import typer

from hermes4.cli._common import fail


def register(app: typer.Typer) -> None:
    envs_app = typer.Typer(help="Verifiable environments: list them, print their items.", no_args_is_help=True)
    app.add_typer(envs_app, name="envs")

    @envs_app.command("list")
    def list_command() -> None:
        """Print each env with its options (name=default) and what it checks."""
        from hermes4.envs import env_class, env_names, env_options

        for name in env_names():
            cls = env_class(name)
            options = ", ".join(f"{key}={'' if default is None else default}" for key, (_, default) in env_options(cls).items())
            doc = (cls.__doc__ or "").strip().splitlines()
            print(f"{name}\n  options: {options or '(none)'}\n  {doc[0] if doc else ''}")
            catalog = getattr(cls, "catalog_lines", None)  # envs over a library list what the library brings
            if catalog is not None:
                try:
                    lines = catalog()
                except ImportError as exc:
                    lines = [f"(unavailable: {exc})"]
                for line in lines:
                    print(f"  {line}")

    @envs_app.command("show")
    def show_command(
        spec: str = typer.Argument(..., help="Env spec, e.g. procedural:tasks=arithmetic+sorting,n=20,seed=1"),
        limit: int = typer.Option(5, "--limit", min=0, help="Print at most this many items (0: all)."),
        split: str = typer.Option("train", "--split", help="Which split to generate or read."),
        seed: int = typer.Option(0, "--seed", help="Seed offset for generated envs."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per item (id, prompt, reference, meta)."),
    ) -> None:
        """Print the items of an env: the prompt the model sees and what the checker compares against."""
        from hermes4.envs import EnvSpecError, get_env

        try:
            env = get_env(spec)
            items = env.items(split=split, seed=seed)
        except EnvSpecError as exc:
            raise fail(str(exc)) from None
        except ValueError as exc:
            raise fail(f"env {spec!r}: {exc}") from None
        shown = items[:limit] if limit else items
        for item in shown:
            if as_json:
                print(json.dumps(item.to_json(), ensure_ascii=False, default=str))
                continue
            print(f"=== {item.id}")
            for message in item.prompt.messages:
                print(f"[{message.role}] {message.content}")
            if item.prompt.tools:
                print(f"[tools] {', '.join(t.name for t in item.prompt.tools)}")
            print(f"[reference] {json.dumps(item.reference, ensure_ascii=False, default=str)[:500]}")
        if not as_json:
            print(f"({len(shown)} of {len(items)} items)")
