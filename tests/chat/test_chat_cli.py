"""`hermes4 render` / `hermes4 template [diff]`: exact output, --json, foreign templates, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hermes4.chat import Conversation, export_template, render, tokenize
from hermes4.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
CONV = {
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "reasoning": "Call the tool.", "content": "",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18 C"},
        {"role": "assistant", "reasoning": "Answer.", "content": "It is 18 °C."},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "thinking": True,
}


def invoke(*args, stdin=None):
    return CliRunner().invoke(app, list(args), input=stdin)


@pytest.fixture
def conv_file(tmp_path):
    path = tmp_path / "conv.json"
    path.write_text(json.dumps(CONV), encoding="utf-8")
    return path


def test_render_prints_exactly_the_text(conv_file):
    conversation = Conversation.parse(CONV)
    result = invoke("render", str(conv_file))
    assert result.exit_code == 0
    assert result.stdout == render(conversation, add_generation_prompt=True).text  # the input's thinking applies
    result = invoke("render", "--format", "llama3", "--no-generation-prompt", "--no-thinking", "-", stdin=json.dumps(CONV))
    assert result.stdout == render(conversation, format="llama3", thinking=False).text


def test_render_json_with_tokenizer(conv_file, tiny_model_dir, tiny_tokenizer):
    result = invoke("render", str(conv_file), "--tokenizer", str(tiny_model_dir), "--json", "--keep-cots")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rendered = render(Conversation.parse(CONV), keep_cots=True, add_generation_prompt=True)
    sample = tokenize([rendered], tiny_tokenizer)[0]
    assert out == {"text": rendered.text, "input_ids": sample.input_ids, "loss_mask": sample.loss_mask}

    # the same through our exported template on the Hugging Face path
    template = conv_file.parent / "ours.jinja"
    template.write_text(export_template("chatml"))
    result = invoke("render", str(conv_file), "--tokenizer", str(tiny_model_dir), "--json", "--keep-cots", "--template", str(template))
    assert json.loads(result.stdout) == out


def test_template_prints_the_export():
    assert invoke("template").stdout == export_template("chatml")
    assert invoke("template", "--format", "llama3").stdout == export_template("llama3")


def test_render_through_a_foreign_template(conv_file):
    result = invoke("render", "--template", str(FIXTURES / "hermes-function-calling-chatml.j2"), "-",
                    stdin=json.dumps({"messages": [{"role": "user", "content": "Hi"}]}))
    assert result.exit_code == 0, result.output
    assert result.stdout == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_template_diff_equal_for_our_own_template(tmp_path):
    path = tmp_path / "llama3.jinja"
    path.write_text(export_template("llama3"))
    result = invoke("template", "diff", "--template", str(path), "--format", "llama3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "12/12 cases equal"
    assert all(line.endswith(": equal") for line in lines[:-1])


def test_template_diff_reports_first_difference():
    result = invoke("template", "diff", "--template", str(FIXTURES / "hermes-function-calling-chatml.j2"))
    assert result.exit_code == 1
    out = result.stdout
    assert "plain chat: equal" in out
    # no system message: ours adds the default system turn at char 12, plain ChatML starts with the user turn
    assert "default system: differs at char 12 (line 1, column 13)\n" in out
    assert "  ours:   '<|im_start|>system\\nYou are Hermes" in out
    assert "  theirs: '<|im_start|>user\\nWhat is the capital" in out


def test_template_diff_against_hermes3_official():
    result = invoke("template", "diff", "--template", str(FIXTURES / "hermes3-llama3.1-8b-tool_use.official.jinja"))
    assert result.exit_code == 1
    out = result.stdout
    # that template always iterates `tools`, so cases without tools fail inside it: reported, not a crash
    assert "plain chat: error: rendering failed:" in out
    assert "tools, calls and consecutive results: differs at char 37 (line 2, column 19)" in out
    assert out.splitlines()[-1] == "0/12 cases equal"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["render", "-"], "{bad", "<stdin>: line 1 column 2: invalid JSON"),
        (["render", "-"], json.dumps({"messages": [{"role": "tool", "content": "x"}]}), "<stdin>: messages[0]: a tool message must follow"),
        (["render", "-"], json.dumps({"messages": [{"role": "bot", "content": "x"}]}), "<stdin>: messages[0].role:"),
        (["render", "-"], json.dumps({"messages": [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": "{x"}]}]}),
         "<stdin>: messages[0].tool_calls[0].function.arguments: arguments are not valid JSON"),
        (["render", "--format", "gpt", "-"], "{}", "--format: unknown format 'gpt'"),
        (["render", "--json", "-"], "{}", "--json: needs --tokenizer"),
        (["render", "--template", "/nonexistent.jinja", "-"], json.dumps(CONV), "--template /nonexistent.jinja: no such file"),
        (["render", "/nonexistent.json"], None, "/nonexistent.json: no such file"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, stdin, message):
    result = invoke(*args, stdin=stdin)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("hermes4: ")
    assert message in result.stderr


def test_broken_template_is_one_line_exit_2(tmp_path):
    path = tmp_path / "broken.jinja"
    path.write_text("{% for m in messages %}{{ m.content }\n")
    for args in (["render", "--template", str(path), "-"], ["template", "diff", "--template", str(path)]):
        result = invoke(*args, stdin=json.dumps(CONV))
        assert result.exit_code == 2
        assert result.stderr.startswith(f"hermes4: --template {path}: line ") and result.stderr.count("\n") == 1


def test_real_entry_point(conv_file):
    ok = subprocess.run([sys.executable, "-m", "hermes4", "render", str(conv_file)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == render(Conversation.parse(CONV), add_generation_prompt=True).text
    bad = subprocess.run([sys.executable, "-m", "hermes4", "render", "-"], input='{"messages": [{"role": "tool"}]}',
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr == "hermes4: <stdin>: messages[0]: a tool message must follow an assistant message with tool_calls\n"
