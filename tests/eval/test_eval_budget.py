"""`hermes4 eval --reasoning-budget` as a user runs it, against a scripted student served by `hermes4 serve` on
loopback that reasons past the limit on half the items: the plain run is overlong there, the budgeted run forces
`</think>` at the budget (the client-side fallback over /v1/completions), the per-sample records say where the budget
fired, and `hermes4 report` over both runs shows accuracy and overlong rate with and without the budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.eval import read_samples
from hermes4.llm.spawn import serve, serve_command

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    env.pop("COLUMNS", None)
    return env


def _eval(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hermes4", "eval", "--task", "math500", "--llm", url, "--out", str(out), "--thinking", "on",
           "--max-tokens", "200", "--concurrency", "4", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=180, check=False)


def _cell(out: Path) -> dict:
    (cell,) = json.loads((out / "metrics.json").read_text())["cells"]
    return cell


def test_budget_cuts_the_overlong_rate_and_the_report_shows_both(tmp_path):
    with serve(serve_command(scripted="budget_scripts:long_thinker", name="thinker"), env=_env()) as served:
        plain = _eval(served.url, tmp_path / "plain")
        plain_files = {p.name: p.read_bytes() for p in (tmp_path / "plain").iterdir() if p.is_file()}
        budgeted = _eval(served.url, tmp_path / "budget", "--reasoning-budget", "40")
        mixed = _eval(served.url, tmp_path / "plain", "--reasoning-budget", "40")
        no_budget = _eval(served.url, tmp_path / "never", "--budget-mode", "engine")
        refused = _eval(served.url, tmp_path / "never", "--reasoning-budget", "40", "--budget-mode", "engine",
                        "--llm", "scripted:budget_scripts:long_thinker")
    assert plain.returncode == 0, plain.stderr
    assert budgeted.returncode == 0, budgeted.stderr
    assert "reasoning budget 40 (client): fired in 3 of 6 reasoning samples" in budgeted.stderr

    # Without the budget the even items never close their reasoning within 200 tokens: overlong, scored 0.
    before = _cell(tmp_path / "plain")
    assert before["overlong"] == 3 and before["overlong_rate"] == 0.5 and before["score"]["value"] == 0.5
    assert "budget_fired" not in before
    assert all("budget_fired" not in r["output"] for r in read_samples(tmp_path / "plain"))

    # With a 40-token budget those three are cut, closed with </think> and answered right.
    after = _cell(tmp_path / "budget")
    assert after["overlong"] == 0 and after["score"]["value"] == 1.0
    assert after["budget_fired"] == 3 and after["budget_fired_rate"] == 0.5
    records = sorted(read_samples(tmp_path / "budget"), key=lambda r: r["item_id"])
    fired = {r["item_id"]: r["output"]["budget_fired"] for r in records}
    assert sum(fired.values()) == 3
    for record in records:
        raw = record["output"]["raw"]
        assert raw.count("</think>") == 1 and record["output"]["content"].startswith("The result is")
        if record["output"]["budget_fired"]:
            assert "\n</think>" not in raw  # the model did not close it: the client appended the close string
    manifest = json.loads((tmp_path / "budget" / "run.json").read_text())
    assert manifest["reasoning_budget"] == {"tokens": 40, "mode": "client", "format": "chatml"}

    # The engine-side budget needs a vLLM endpoint: a scripted model is refused with one line, nothing written.
    assert refused.returncode == 2 and "hermes4: --budget-mode: " in refused.stderr, refused.stderr
    assert no_budget.returncode == 2 and "hermes4: eval: budget_mode engine: set reasoning_budget" in no_budget.stderr, no_budget.stderr
    assert not (tmp_path / "never").exists()
    # A budget run never lands in a plain run's folder (its samples would be another run's): refused, nothing changed.
    assert mixed.returncode == 2 and "hermes4: --out: " in mixed.stderr and "reasoning_budget" in mixed.stderr, mixed.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "plain").iterdir() if p.is_file()} == plain_files

    report = subprocess.run([sys.executable, "-m", "hermes4", "report", str(tmp_path / "plain"), str(tmp_path / "budget"),
                             "--out", str(tmp_path / "cmp.md")], capture_output=True, text=True, env=_env(), timeout=180, check=False)
    assert report.returncode == 0, report.stderr
    section = (tmp_path / "cmp.md").read_text().split("## Reasoning budget", 1)[1].split("## ", 1)[0]
    assert "no budget" in section and "budget 40 (client)" in section
    row = next(line for line in section.splitlines() if line.startswith("| MATH-500"))
    assert "acc 50.0 " in row and "overlong 50.0%" in row  # the plain run
    assert "acc 100.0 " in row and "overlong 0.0%, fired 50.0%" in row  # the budgeted run
