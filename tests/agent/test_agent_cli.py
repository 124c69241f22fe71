"""`hermes4 sandbox` prints the sandbox result as JSON; bad input is one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes4", "sandbox", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_sandbox_command_runs_a_program_from_stdin(tmp_path):
    data = tmp_path / "in.txt"
    data.write_text("world\n")
    done = run_cli("-", "--stdin", str(data), "--wall-s", "10", stdin="print('hello', input())\n")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["stdout"], result["exit_code"]) == ("ok", "hello world\n", 0)
    assert set(result["isolation"]) >= {"network_namespace", "uid", "rlimits", "notes"}


def test_sandbox_command_reports_bad_input_in_one_line(tmp_path):
    done = run_cli(str(tmp_path / "missing.py"))
    assert done.returncode == 2 and done.stderr.strip() == f"hermes4: {tmp_path / 'missing.py'}: no such file"
    done = run_cli("-", "--memory-mb", "0", stdin="pass")
    assert done.returncode == 2 and done.stderr.strip() == "hermes4: --memory-mb: Input should be greater than 0"
