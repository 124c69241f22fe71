"""`hermes4 parse` as a user runs it: a real subprocess, file or stdin, batch or streamed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

OUTPUT = (
    "<think>\nThe user wants weather; a literal </tool_call> may appear in text.\n</think>\n"
    "Checking both.\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris </tool_call> {x}", "days": 2, "metric": true}}\n</tool_call>\n'
    '<tool_call>{"name": "now"}</tool_call>'
)
EXPECTED = {
    "content": "Checking both.",
    "reasoning": "The user wants weather; a literal </tool_call> may appear in text.",
    "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris </tool_call> {x}", "days": 2, "metric": True}},
        {"name": "now", "arguments": {}},
    ],
    "truncated": False,
}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hermes4", "parse", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def output_file(tmp_path: Path) -> Path:
    path = tmp_path / "out.txt"
    path.write_text(OUTPUT, encoding="utf-8")
    return path


def test_batch_from_file_and_streams_from_stdin_agree(output_file: Path) -> None:
    batch = run(str(output_file))
    assert batch.returncode == 0, batch.stderr
    assert json.loads(batch.stdout) == EXPECTED
    for spec in ("1", "5", "random:3"):
        streamed = run("--stream", spec, "-", stdin=OUTPUT)
        assert streamed.returncode == 0, streamed.stderr
        assert json.loads(streamed.stdout) == EXPECTED, spec


def test_flags(tmp_path: Path) -> None:
    path = tmp_path / "interleaved.txt"
    path.write_text('I plan.\n<tool_call>{"name": "s", "arguments": {"q": 1}}</tool_call>\nmore', encoding="utf-8")
    result = run("--reasoning-started", "--tools-in-reasoning", "--stream", "random:1", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "content": "",
        "reasoning": "I plan.\nmore",
        "tool_calls": [{"name": "s", "arguments": {"q": 1}}],
        "truncated": True,
    }


def test_bad_stream_spec_is_one_line_and_exit_2(output_file: Path) -> None:
    result = run("--stream", "random:x", str(output_file))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--stream" in lines[0] and "random:x" in lines[0]


@pytest.mark.parametrize("spec", ["0", "-3", "abc", "random:", "fixed:3", ""])
def test_bad_stream_specs_are_refused(spec: str, capsys: pytest.CaptureFixture) -> None:
    import typer

    from hermes4.cli.parse import stream_chunks

    with pytest.raises(typer.Exit) as exc:
        stream_chunks("text", spec)
    assert exc.value.exit_code == 2
    assert f"--stream: expected a positive chunk size N or random:SEED, got {spec!r}" in capsys.readouterr().err


def test_stream_chunks() -> None:
    from hermes4.cli.parse import stream_chunks

    assert stream_chunks("abcdefg", "3") == ["abc", "def", "g"]
    sizes = [len(c) for c in stream_chunks("x" * 500, "random:7")]
    assert "".join(stream_chunks("x" * 500, "random:7")) == "x" * 500
    assert all(1 <= s <= 16 for s in sizes[:-1]) and len(set(sizes)) > 5
    assert stream_chunks("x" * 500, "random:7") == stream_chunks("x" * 500, "random:7")


def test_missing_file_exit_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.txt"))
    assert result.returncode == 2 and "nope.txt" in result.stderr and "Traceback" not in result.stderr
