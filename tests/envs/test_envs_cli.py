"""`hermes4 envs list` and `hermes4 envs show` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes4", "envs", *args], capture_output=True, text=True, timeout=120, check=False)


def test_list_and_show() -> None:
    listed = _run("list")
    assert listed.returncode == 0
    for name in ("answer_format", "ifeval", "json_schema", "math", "code", "tool_use", "procedural"):
        assert f"{name}\n  options:" in listed.stdout
    shown = _run("show", "procedural:tasks=gcd,n=4", "--limit", "2", "--json")
    assert shown.returncode == 0
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(rows) == 2 and rows[0]["reference"]["task"] == "gcd"
    assert "greatest common divisor" in rows[0]["prompt"]["messages"][0]["content"]


def test_bad_spec_is_one_line_exit_2() -> None:
    bad = _run("show", "procedural:difficulty=9")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "hermes4: env 'procedural': option difficulty: must be 1..5, got 9"
    unknown = _run("show", "procedural:colour=red")
    assert unknown.returncode == 2 and "allowed options: difficulty, n, seed, tasks" in unknown.stderr
