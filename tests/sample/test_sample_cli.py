"""`hermes4 sample` as a user runs it: against `hermes4 serve --scripted` (the procedural teacher) on loopback,
killed with SIGKILL at random points and resumed, ending with exactly the records of an uninterrupted run."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes4.llm.spawn import serve, serve_command
from hermes4.store import list_shards, read_manifest, read_records

pytestmark = pytest.mark.slow

ERROR_RATE = 0.25
ENV = "procedural:n=120"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["HERMES4_TEACHER_ERROR_RATE"] = str(ERROR_RATE)
    env["HERMES4_TEACHER_SEED"] = "3"
    env.pop("COLUMNS", None)
    return env


@pytest.fixture(scope="module")
def teacher_url():
    with serve(serve_command(scripted="hermes4.teacher:teacher", max_batch=64), env=_env()) as served:
        yield served.url


def sample_cmd(url: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "hermes4", "sample", "--env", ENV, "--llm", url, "--out", str(out),
        "--group-size", "4", "--keep", "2", "--max-tokens", "2048", "--concurrency", "24", "--seed", "5", *extra,
    ]  # fmt: skip


def run_cli(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)


def on_disk(out: Path) -> int:
    return sum(p.stat().st_size for stream in ("data", "items") for p in list_shards(out, stream)) if out.exists() else 0


def snapshot(out: Path):
    records = sorted(read_records(out), key=lambda r: r["meta"]["id"])
    items = sorted(read_records(out, stream="items"), key=lambda r: r["meta"]["id"])
    return records, items


def test_uninterrupted_run_matches_the_teacher_error_rate_and_kills_change_nothing(teacher_url, tmp_path):
    full = tmp_path / "full"
    done = run_cli(sample_cmd(teacher_url, full))
    assert done.returncode == 0, done.stderr
    assert "sample summary" in done.stderr and "procedural" in done.stderr
    summary = read_manifest(full)["summary"]["envs"][ENV]
    n = summary["samples"]
    assert summary["items"] == 120 and n >= 240
    # Each sample is wrong with the teacher's error rate: the verified pass rate is binomial around 1 - rate.
    tolerance = 4 * math.sqrt(ERROR_RATE * (1 - ERROR_RATE) / n)
    assert abs(summary["pass_rate"] - (1 - ERROR_RATE)) < tolerance
    assert summary["error_rate"] == 0.0 and summary["timeout_rate"] == 0.0
    # An item stays unsolved only when all 4 samples were wrong.
    expected_unsolved = 120 * ERROR_RATE**4
    assert summary["unsolved"] <= expected_unsolved + 4 * math.sqrt(expected_unsolved) + 1
    expected = snapshot(full)
    assert len(expected[0]) == summary["accepted"] > 100

    # The same command, killed with SIGKILL at random moments while it writes, then resumed to the end.
    rng = random.Random(11)
    out = tmp_path / "killed"
    kills = 0
    for _ in range(5):
        before = on_disk(out)
        proc = subprocess.Popen(sample_cmd(teacher_url, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
        deadline = time.monotonic() + 60
        while proc.poll() is None and on_disk(out) <= before and time.monotonic() < deadline:
            time.sleep(0.01)
        # soon after it starts writing: a run finishes 120 items in well under a second on a quiet machine,
        # and each kill must leave work for the next run
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3
    partial = snapshot(out)
    assert len(partial[0]) < len(expected[0])
    # And a torn last line, as a kill in the middle of a write leaves it.
    last = list_shards(out, "data")[-1]
    with open(last, "ab") as handle:
        handle.write(b'{"messages": [{"role": "user", "content": "cut he')
    final = run_cli(sample_cmd(teacher_url, out))
    assert final.returncode == 0, final.stderr
    assert "repaired a torn last line" in final.stderr
    assert snapshot(out) == expected
    assert read_manifest(out)["summary"]["envs"][ENV] == summary
    # A finished folder stays as it is.
    again = run_cli(sample_cmd(teacher_url, out))
    assert again.returncode == 0 and "0 records written" in again.stderr
    assert snapshot(out) == expected


def test_bad_input_is_one_line_and_keeps_the_data(teacher_url, tmp_path):
    out = tmp_path / "o"
    bad_env = run_cli(sample_cmd(teacher_url, out)[:5] + ["nosuchenv"] + sample_cmd(teacher_url, out)[6:])
    assert bad_env.returncode == 2 and "--env" in bad_env.stderr and "nosuchenv" in bad_env.stderr
    assert "Traceback" not in bad_env.stderr
    ok = run_cli(sample_cmd(teacher_url, out, "--limit", "3"))
    assert ok.returncode == 0, ok.stderr
    changed = run_cli(sample_cmd(teacher_url, out, "--limit", "3", "--keep", "3"))
    assert changed.returncode == 2 and "keep=2" in changed.stderr and "Traceback" not in changed.stderr
    assert len(list(read_records(out, stream="items"))) == 3
    keep_too_big = run_cli(sample_cmd(teacher_url, tmp_path / "p", "--keep", "9"))
    assert keep_too_big.returncode == 2 and "keep" in keep_too_big.stderr
    thinking = run_cli(sample_cmd(teacher_url, tmp_path / "q", "--thinking", "maybe"))
    assert thinking.returncode == 2 and "--thinking" in thinking.stderr
