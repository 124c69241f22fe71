"""`hermes4 render` and `hermes4 template [diff]`: the prompt format on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from hermes4.cli._common import fail, read_json


def _load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    if not path.is_dir():
        raise fail(f"--tokenizer {path}: no such folder")
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise fail(f"--tokenizer {path}: cannot load a tokenizer: {str(exc).splitlines()[0]}") from None


def _read_template(path: Path) -> str:
    if not path.is_file():
        raise fail(f"--template {path}: no such file")
    from hermes4.store import read_text_file

    return read_text_file(path)  # not UTF-8: one line naming the byte offset (cli main)


def _check_format(format: str) -> None:
    from hermes4.chat.formats import FORMATS

    if format not in FORMATS:
        raise fail(f"--format: unknown format {format!r}; choose one of: {', '.join(FORMATS)}")


def register(app: typer.Typer) -> None:
    @app.command()
    def render(
        file: str | None = typer.Argument(None, help="Conversation JSON ({\"messages\": [...], \"tools\": [...]}); - or absent for stdin."),
        format: str = typer.Option("chatml", "--format", help="chatml or llama3."),
        thinking: bool | None = typer.Option(None, "--thinking/--no-thinking", help="Reasoning mode (default: the input's `thinking`, else off)."),
        keep_cots: bool | None = typer.Option(None, "--keep-cots/--no-keep-cots", help="Keep earlier turns' reasoning (default: the input's `keep_cots`, else off)."),
        no_generation_prompt: bool = typer.Option(False, "--no-generation-prompt", help="Do not end with the assistant header."),
        template: Path | None = typer.Option(None, "--template", help="Render through this Jinja chat template (the Hugging Face path) instead."),
        tokenizer_dir: Path | None = typer.Option(None, "--tokenizer", help="Tokenizer folder, for --json (and the special tokens a --template reads)."),
        as_json: bool = typer.Option(False, "--json", help='Print {"text", "input_ids", "loss_mask"} (needs --tokenizer).'),
    ) -> None:
        """Print exactly the rendered prompt text, nothing added."""
        from hermes4.chat import Conversation, ConversationError, tokenize
        from hermes4.chat import render as render_conversation

        _check_format(format)
        if as_json and tokenizer_dir is None:
            raise fail("--json: needs --tokenizer DIR to compute input_ids and loss_mask")
        data, name = read_json(file)
        try:
            conversation = Conversation.parse(data)
        except ConversationError as exc:
            raise fail(f"{name}: {exc}") from None
        tokenizer = _load_tokenizer(tokenizer_dir) if tokenizer_dir is not None else None
        flags = {"thinking": thinking, "keep_cots": keep_cots, "add_generation_prompt": not no_generation_prompt}

        if template is not None:
            from hermes4.chat.hf_template import (
                TemplateError,
                has_generation_markers,
                render_with_template,
            )

            source = _read_template(template)
            if as_json and not has_generation_markers(source):
                raise fail(f"--template {template}: has no {{% generation %}} blocks, so it gives no loss mask for --json")
            try:
                rendered = render_with_template(conversation, source, format=format, tokenizer=tokenizer, **flags)
            except TemplateError as exc:
                raise fail(f"--template {template}: {exc}") from None
        else:
            rendered = render_conversation(conversation, format=format, **flags)

        if not as_json:
            sys.stdout.write(rendered.text)
            return
        sample = tokenize([rendered], tokenizer)[0]
        sys.stdout.write(json.dumps({"text": rendered.text, "input_ids": sample.input_ids, "loss_mask": sample.loss_mask}, ensure_ascii=False) + "\n")

    template_app = typer.Typer(
        help="Print the exported Jinja chat template of --format; `template diff --template FILE` compares another template with ours.",
        invoke_without_command=True,
    )
    app.add_typer(template_app, name="template")

    @template_app.callback()
    def template_print(
        ctx: typer.Context,
        format: str = typer.Option("chatml", "--format", help="chatml or llama3."),
    ) -> None:
        """Print the exported Jinja chat template of the format (what every saved tokenizer carries)."""
        if ctx.invoked_subcommand is not None:
            return
        from hermes4.chat.template import export_template

        _check_format(format)
        sys.stdout.write(export_template(format))

    @template_app.command("diff")
    def template_diff(
        template: Path = typer.Option(..., "--template", help="The Jinja chat template to compare with ours."),
        format: str = typer.Option("chatml", "--format", help="chatml or llama3: which built-in rendering to compare with."),
        tokenizer_dir: Path | None = typer.Option(None, "--tokenizer", help="Take bos/eos/... tokens for the template from this tokenizer."),
        context: int = typer.Option(40, "--context", help="Characters of context shown on each side of a difference."),
    ) -> None:
        """Render the built-in battery both ways; per case print `equal` or the first difference. Exit 1 if any differ."""
        from hermes4.chat.hf_template import TemplateSyntaxProblem, diff_template

        _check_format(format)
        source = _read_template(template)
        tokenizer = _load_tokenizer(tokenizer_dir) if tokenizer_dir is not None else None
        try:
            results = diff_template(source, format=format, tokenizer=tokenizer, context=context)
        except TemplateSyntaxProblem as exc:
            raise fail(f"--template {template}: {exc}") from None
        for result in results:
            print(result.describe())
        equal = sum(r.equal for r in results)
        print(f"{equal}/{len(results)} cases equal")
        if equal != len(results):
            raise typer.Exit(code=1)
