"""The report as a reader sees it: the paper-shaped table with the runs' real numbers and CIs, paired deltas,
IFEval's four numbers, refusal categories, failures; PNG plots that are valid images of the promised size with
content drawn; an HTML page with the same tables and the plots embedded (and rendered to PNG where a headless
Chromium exists)."""

from __future__ import annotations

import asyncio
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import eval_scripts

from hermes4.eval import run_eval, write_report
from hermes4.eval.plots import SIZES, table_height
from hermes4.llm import ScriptedEngine

TASKS = "math500,gpqa_diamond,ifeval,refusalbench"
JUDGE = "scripted:eval_scripts:judge"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")

    async def both():
        strong = await run_eval(TASKS, ScriptedEngine(eval_scripts.student), root / "strong", max_tokens=200, judge=JUDGE, name="student")
        weak = await run_eval(TASKS, ScriptedEngine(eval_scripts.weak_student, name="weak"), root / "weak", max_tokens=200, judge=JUDGE)
        return strong, weak

    strong, weak = asyncio.run(both())
    paths = write_report([strong.out, weak.out], root / "out" / "report.md")
    return strong, weak, paths


def ci(cell: dict) -> str:
    e = cell["score"]
    return f"{100 * e['value']:.1f} [{100 * e['low']:.1f}, {100 * e['high']:.1f}]"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_main_table_has_the_runs_numbers(report):
    strong, weak, paths = report
    text = paths.markdown.read_text()
    assert "| Benchmark | student | weak |" in text
    for task, label in (("math500", "MATH-500"), ("gpqa_diamond", "GPQA Diamond"), ("ifeval", "IFEval"), ("refusalbench", "RefusalBench")):
        cells = [f"{ci(run.cell(task, 'reasoning'))} ({ci(run.cell(task, 'non-reasoning'))})" for run in (strong, weak)]
        assert f"| {label} | {cells[0]} | {cells[1]} |" in text
    assert "| MATH-500 | 66.7 [" in text and " (33.3 [" in text  # 4/6 reasoning, 2/6 non-reasoning
    # Rows in the paper's order.
    assert text.index("| MATH-500 |") < text.index("| GPQA Diamond |") < text.index("| IFEval |") < text.index("| RefusalBench |")


def test_deltas_ifeval_refusal_and_failures(report):
    _, _, paths = report
    text = paths.markdown.read_text()
    deltas = text.split("## Deltas against student", 1)[1].split("##", 1)[0]
    assert re.search(r"\| MATH-500 \| -66\.7 \[[-+0-9., ]+\]\*? \(\+0\.0 \[\+0\.0, \+0\.0\]\) \|", deltas)
    assert re.search(r"\| GPQA Diamond \| \+25\.0 \[.*\] \(\+75\.0 \[.*\]\*?\) \|", deltas)
    ifeval = text.split("## IFEval: the four numbers", 1)[1].split("##", 1)[0]
    assert "| prompt-level strict | 25.0 [" in ifeval and "| instruction-level loose | 57.1 [" in ifeval
    refusal = text.split("## RefusalBench: categories", 1)[1].split("##", 1)[0]
    assert "| suicide_self_harm ↺ | 50.0 [0.0, 100.0] (100.0 [100.0, 100.0]) |" in refusal
    assert "| judge failures | 1 (0) | 1 (0) |" in refusal
    assert "| student | RefusalBench | reasoning | 1 judge failures |" in text
    overlong = text.split("## Overlong rate", 1)[1].split("##", 1)[0]
    assert "| MATH-500 | 16.7% (0.0%) | 0.0% (0.0%) |" in overlong and "| IFEval | 25.0% (0.0%) | 25.0% (0.0%) |" in overlong


def test_plots_are_images_of_the_promised_size_with_content(report):
    import matplotlib.image

    _, _, paths = report
    names = {p.stem: p for p in paths.plots}
    assert set(names) == {"scores", "overlong", "lengths", "table"}
    for name, path in names.items():
        width, height = png_size(path)
        expected = SIZES[name] if name != "table" else (SIZES["table"][0], table_height(4))
        assert (width, height) == expected
        pixels = matplotlib.image.imread(path)
        assert pixels.std() > 0.05  # something is drawn
        assert f"]({path.relative_to(paths.markdown.parent).as_posix()})" in paths.markdown.read_text()
    # The bar colours of both runs (tab10 blue and orange) appear in the score plot.
    rgb = (matplotlib.image.imread(names["scores"])[..., :3] * 255).round().reshape(-1, 3)
    for colour in ((31, 119, 180), (255, 127, 14)):
        assert (abs(rgb - colour).sum(axis=1) < 6).sum() > 200


def test_html_has_the_tables_and_embeds_the_plots(report):
    _, _, paths = report
    page = paths.html.read_text()
    assert page.startswith("<!doctype html>") and page.count("<table") >= 6
    assert page.count("src='data:image/png;base64,") == 4
    assert "<td>MATH-500</td><td>66.7 [" in page and "suicide_self_harm ↺" in page


BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


@pytest.mark.skipif(not any(shutil.which(b) for b in BROWSERS), reason="no headless Chromium on this machine")
def test_html_renders_to_png_in_a_browser(report, tmp_path):
    import matplotlib.image

    _, _, paths = report
    browser = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    shot = tmp_path / "page.png"
    flags = [] if browser.endswith("headless-shell") else ["--headless"]
    subprocess.run(
        [browser, *flags, "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}", "--window-size=1400,5000", paths.html.as_uri()],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    assert png_size(shot) == (1400, 5000)
    rgb = (matplotlib.image.imread(shot)[..., :3] * 255).round().reshape(-1, 3)
    assert (abs(rgb - (232, 236, 244)).sum(axis=1) < 4).sum() > 5000  # table headers drawn
    assert (abs(rgb - (31, 119, 180)).sum(axis=1) < 6).sum() > 2000  # the embedded plots' bars drawn
