"""`hermes4 eval` and `hermes4 report` as a user runs them, against `hermes4 serve --scripted` on loopback:
killed with SIGKILL at random points (and a torn last line), then rerun, ending with exactly the per-sample
records and metrics of an uninterrupted run; bad input is one line on stderr with exit code 2."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes4.eval import read_samples, stable_view
from hermes4.llm.spawn import serve, serve_command
from hermes4.store import list_shards

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
TASKS = "math500,gpqa_diamond,ifeval,refusalbench"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    env["HERMES4_STUDENT_DELAY_S"] = "0.1"
    env.pop("COLUMNS", None)
    return env


@pytest.fixture(scope="module")
def student_url():
    with serve(serve_command(scripted="eval_scripts:paced_student", max_batch=64, name="student"), env=_env()) as served:
        yield served.url


def eval_cmd(url: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "hermes4", "eval", "--task", TASKS, "--llm", url, "--out", str(out), "--judge", "scripted:eval_scripts:judge",
        "--max-tokens", "200", "--repeats", "2", "--concurrency", "8", *extra,
    ]


def run_cli(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=180, check=False)


def records(out: Path) -> list[dict]:
    return sorted((stable_view(r) for r in read_samples(out)), key=lambda r: r["id"])


def test_sigkill_and_rerun_equal_an_uninterrupted_run(student_url, tmp_path):
    whole = tmp_path / "whole"
    done = run_cli(eval_cmd(student_url, whole))
    assert done.returncode == 0, done.stderr
    expected = records(whole)
    assert len(expected) == (6 + 4 + 4 + 8) * 2 * 2

    # The same command killed with SIGKILL at random moments while it writes (each time a few more samples
    # are on disk), then rerun to the end.
    rng = random.Random(11)
    out = tmp_path / "killed"
    kills = 0
    while kills < 3:
        before = len(read_samples(out)) if out.exists() else 0
        # One request in flight: the rest of the run takes seconds, so the kill lands mid-run even on a loaded
        # machine (at 8 in flight the last session could finish inside the random wait). Concurrency is not part
        # of a sample's key, so the sessions resume one another as a user's reruns would.
        killed_cmd = eval_cmd(student_url, out, "--concurrency", "1")
        proc = subprocess.Popen(killed_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
        while proc.poll() is None and (len(read_samples(out)) if out.exists() else 0) < before + 4:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        if kills == 1:  # a kill in the middle of a write leaves a torn last line
            with open(list_shards(out, "samples")[-1], "ab") as handle:
                handle.write(b'{"id": "torn-by-a-kill", "task": "math5')
    assert kills == 3, "the run finished before it could be killed three times; make the student slower"
    assert 0 < len(read_samples(out)) <= len(expected)
    final = run_cli(eval_cmd(student_url, out))
    assert final.returncode == 0, final.stderr
    assert records(out) == expected
    metrics = lambda d: json.loads((d / "metrics.json").read_text())["cells"]
    assert metrics(out) == metrics(whole)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["sessions"]) >= kills + 1
    repairs = [line for session in manifest["sessions"] for line in session["repairs"]]
    assert len(repairs) == 1 and "repaired a torn last line" in repairs[0]  # cut off by the session after the first kill
    assert manifest["model"] == "student" and manifest["endpoint"] == student_url

    # The report over both runs: the same numbers, a zero delta everywhere.
    report = run_cli([sys.executable, "-m", "hermes4", "report", str(whole), str(out), "--out", str(tmp_path / "cmp.md")])
    assert report.returncode == 0, report.stderr
    assert f"markdown: {tmp_path / 'cmp.md'}" in report.stdout and f"html: {tmp_path / 'cmp.html'}" in report.stdout
    text = (tmp_path / "cmp.md").read_text()
    deltas = text.split("## Deltas against", 1)[1].split("## ", 1)[0]
    assert deltas.count("+0.0 [+0.0, +0.0]") == 8  # 4 benchmarks x 2 modes


def test_bad_input_is_one_line_and_exit_code_2(student_url, tmp_path):
    cases = [
        (["--task", "math5000"], "--task: task 'math5000': no such benchmark"),
        (["--task", "refusalbench"], "--judge: refusalbench is graded by a judge model"),
        (["--task", "math500", "--thinking", "sometimes"], "eval: thinking: Input should be 'on', 'off' or 'both'"),
        (["--task", f"mmlu:data={tmp_path / 'missing.jsonl'}"], "missing.jsonl: no such file or folder"),
    ]
    for args, message in cases:
        result = run_cli([sys.executable, "-m", "hermes4", "eval", "--llm", student_url, "--out", str(tmp_path / "never"), *args])
        assert result.returncode == 2, (args, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.startswith("hermes4:")]
        assert len(lines) == 1 and message in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()
    bad_llm = run_cli([sys.executable, "-m", "hermes4", "eval", "--task", "math500", "--llm", "ftp://nowhere", "--out", str(tmp_path / "never")])
    assert bad_llm.returncode == 2 and "hermes4: --llm: cannot connect to 'ftp://nowhere'" in bad_llm.stderr and not (tmp_path / "never").exists()
    # Resuming a folder with other sampling settings is refused, and nothing in it changes.
    out = tmp_path / "run"
    assert run_cli([sys.executable, "-m", "hermes4", "eval", "--task", "gpqa_diamond", "--llm", student_url, "--out", str(out), "--max-tokens", "200", "--limit", "1", "--thinking", "off"]).returncode == 0
    before = (list_shards(out, "samples")[0]).read_bytes()
    other = run_cli([sys.executable, "-m", "hermes4", "eval", "--task", "gpqa_diamond", "--llm", student_url, "--out", str(out), "--max-tokens", "300", "--limit", "1", "--thinking", "off"])
    assert other.returncode == 2 and "hermes4: --out: " in other.stderr and "max_tokens=200, this run has max_tokens=300" in other.stderr
    assert list_shards(out, "samples")[0].read_bytes() == before
    missing = run_cli([sys.executable, "-m", "hermes4", "report", str(tmp_path / "nothing-here")])
    assert missing.returncode == 2 and "hermes4: report: " in missing.stderr and "not an eval run folder" in missing.stderr
