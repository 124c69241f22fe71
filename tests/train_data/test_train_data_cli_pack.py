"""`hermes4 pack`: the JSON summary on stdout, and one clear line with exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys


def run_pack(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes4", "pack", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_pack_prints_the_summary(tmp_path):
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("5\n3\n8\n2\n7\n")
    result = run_pack("--capacity", "10", str(lengths))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"samples", "bins", "lower_bound", "efficiency", "seconds"}
    assert out["samples"] == 5 and out["bins"] == 3 and out["lower_bound"] == 3
    assert out["efficiency"] == 25 / 30 and out["seconds"] >= 0


def test_pack_reads_stdin_with_first_fit():
    result = run_pack("--capacity", "29", "--algo", "first-fit", "-", stdin="18\n7\n8\n4\n17\n4\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["bins"] == 2


def test_pack_names_the_bad_line():
    result = run_pack("--capacity", "10", stdin="5\n\n12\n")
    assert result.returncode == 2
    assert result.stderr.strip() == "hermes4: <stdin>: line 3: 12 is longer than the capacity 10 (1 such sample(s))"
    result = run_pack("--capacity", "10", stdin="5\nfive\n")
    assert result.returncode == 2 and "line 2: expected one integer length, got 'five'" in result.stderr
    assert "Traceback" not in result.stderr
