"""`hermes4 forge` against `hermes4 serve --scripted`, killed with SIGKILL and rerun: nothing lost or duplicated."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes4.llm.spawn import serve, serve_command
from hermes4.store import read_records

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def teacher_url():
    env = {"PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with serve(serve_command(scripted="forge_teacher:teacher", max_batch=8), env=env, startup_timeout=60) as served:
        yield served.url


def forge_cmd(url, seeds, out):
    return [sys.executable, "-m", "hermes4", "forge", "--graph", "default", "--seeds", str(seeds), "--llm", url,
            "--out", str(out), "--concurrency", "8"]


def on_disk(folder):
    return sum(p.stat().st_size for p in Path(folder).glob("*.jsonl")) if Path(folder).exists() else 0


def snapshot(folder):
    data = sorted(json.dumps(r, sort_keys=True) for r in read_records(folder, stream="data"))
    discarded = sorted(json.dumps(r, sort_keys=True) for r in read_records(folder, stream="discarded"))
    return data, discarded


@pytest.mark.slow
def test_sigkill_and_resume_equals_uninterrupted(tmp_path, teacher_url):
    seeds = tmp_path / "seeds.jsonl"
    with open(seeds, "w") as handle:
        for i in range(40):
            marker = " DISCARDME" if i % 10 == 3 else (" REVISEME" if i % 10 == 5 else "")
            handle.write(json.dumps({"id": f"s{i}", "text": f"Seed passage {i} about river {i} and its bridges.{marker}"}) + "\n")

    subprocess.run(forge_cmd(teacher_url, seeds, tmp_path / "clean"), check=True, capture_output=True)
    expected = snapshot(tmp_path / "clean")
    assert len([r for r in expected[0] if '"stage": "final"' in r]) == 36 and len(expected[1]) == 4

    rng = random.Random(7)
    out = tmp_path / "killed"
    kills = 0
    for _ in range(4):
        before = on_disk(out)
        proc = subprocess.Popen(forge_cmd(teacher_url, seeds, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and on_disk(out) <= before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.05))  # soon after it starts writing, so the kill lands mid-run
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2
    interrupted = snapshot(out)
    assert len(interrupted[0]) < len(expected[0])
    final = subprocess.run(forge_cmd(teacher_url, seeds, out), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert snapshot(out) == expected
