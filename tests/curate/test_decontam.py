"""Decontamination: a planted eval question (re-punctuated, re-cased, inside a longer prompt) is found and dropped;
template text shared by a benchmark's items and short generic items are not evidence; the CLI writes the report."""

from __future__ import annotations

import json
import subprocess
import sys

from hermes4.curate.decontam import EvalIndex, EvalText, decontaminate, normalise

QUESTION = "A sealed rigid container holds an ideal gas at 300 K. The gas is heated until its absolute pressure doubles. What is the final temperature?"
TEMPLATE = "Answer the multiple choice question above and finish with a line of the form 'Answer: LETTER' where LETTER is one of the options."


def conversation(user: str, answer: str = "It is 600 K.", **meta) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}], "meta": meta}


def test_normalisation() -> None:
    assert normalise("The GAS—is heated; its  pressure doubles!") == ["the", "gas", "is", "heated", "its", "pressure", "doubles"]
    assert normalise("ﬁnal  Temperature") == ["final", "temperature"]  # NFKC folds the ligature


def test_planted_question_is_flagged_and_template_is_not() -> None:
    evals = [
        EvalText("gpqa", "q1", f"{QUESTION}\n\nA) 600 K\nB) 150 K\n\n{TEMPLATE}"),
        EvalText("gpqa", "q2", f"Which gas is a noble gas?\n\nA) neon\nB) nitrogen\n\n{TEMPLATE}"),
        EvalText("gpqa", "q3", f"Which metal is liquid at room temperature?\n\nA) mercury\nB) iron\n\n{TEMPLATE}"),
        EvalText("simpleqa", "s1", "How many moons does the planet Mars have?"),  # 8 words: indexed whole
        EvalText("simpleqa", "s2", "Capital of France?"),  # too short to be evidence
    ]
    index = EvalIndex(evals, n=13, min_words=8)
    planted = QUESTION.upper().replace(".", " ;").replace("?", "")
    records = [
        conversation("Solve this physics problem."),
        conversation(f"Homework help please: {planted} Show your work."),  # the planted contamination
        conversation(f"Here is a quiz. {TEMPLATE}"),  # only the benchmark's template: not evidence
        conversation("Tell me a fact.", answer="Fun fact: how many moons does the planet mars have? Two."),
        conversation("Capital of France?"),
    ]
    report = decontaminate(records, index)
    assert report.flagged == [1, 3]
    first = [o for o in report.overlaps if o.record == 1]
    assert len(first) == 1 and first[0].task == "gpqa" and first[0].item_id == "q1" and first[0].where == "messages[0].content"
    assert len(first[0].ngram.split()) == 13 and first[0].ngram in " ".join(normalise(QUESTION))
    assert [(o.task, o.item_id, o.where) for o in report.overlaps if o.record == 3] == [("simpleqa", "s1", "messages[1].content")]
    assert report.unchecked_eval_items == {"simpleqa": 1} and report.template_grams["gpqa"] > 0
    summary = report.to_json()
    assert summary["per_task"] == {"gpqa": 1, "simpleqa": 1} and summary["method"]["n"] == 13
    assert "**2 of 5 records overlap an eval item.**" in report.markdown()


def test_cli_reports_and_drops_a_planted_benchmark_item(tmp_path) -> None:
    shipped = "A sealed rigid container holds an ideal gas at 300 K. The gas is heated until its absolute pressure doubles."
    data = tmp_path / "train.jsonl"
    rows = [conversation("What is 2 + 3?", "5", id="clean-0"), conversation(f"Q: {shipped} Final temperature?", id="planted"), conversation("Name a colour.", "Blue", id="clean-1")]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "decontam"
    run = subprocess.run(
        [sys.executable, "-m", "hermes4", "decontam", "--in", str(data), "--out", str(out), "--drop"], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "1 of 3 records share a 13-gram" in run.stdout and "gpqa_diamond 1" in run.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["flagged_records"] == [1] and report["overlaps"][0]["record_id"] == "planted"
    assert [json.loads(line)["meta"]["id"] for line in (out / "clean.jsonl").read_text().splitlines()] == ["clean-0", "clean-1"]
    assert [json.loads(line)["meta"]["id"] for line in (out / "removed.jsonl").read_text().splitlines()] == ["planted"]

    bad = subprocess.run([sys.executable, "-m", "hermes4", "decontam", "--in", str(data), "--out", str(out), "--tasks", "nosuch"], capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("hermes4: --tasks: task 'nosuch': no such benchmark")
