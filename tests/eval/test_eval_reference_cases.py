"""The reference behaviours of issue 17, case by case: multiple-choice letters, BBH's last "the answer is" and
lm-eval's normalisation, DROP's official multi-span alignment and number forms, SimpleQA's negated names, and the
loaders for MMLU's headerless CSVs, BBH task folders, DROP's three public shapes and duplicate option texts."""

from __future__ import annotations

import csv
import json

import pytest

from hermes4.envs import Trajectory
from hermes4.eval import TaskError, load_task
from hermes4.eval.checkers import bbh_equal, drop_scores, extract_choice, extract_short_answer

# -- multiple choice -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Answer: $C$", "C"),
        ("Reasoning first.\nB) London is the capital", "B"),
        ("Reasoning first.\nC. Berlin", "C"),
        ("Answer: Option C", "C"),
        ("Answer - C", "C"),
        ("the answer is (c)", "C"),
        ("The correct option is C.", "C"),
        ("I considered option D, but the answer is B.", "B"),
        ("The answer is B, not option D.", "B"),
        ("the answer is a matter of taste", None),
        ("I am sure.", None),
    ],
)
def test_issue_choice_forms(text: str, letter: str | None) -> None:
    assert extract_choice(text, 10)[0] == letter


def test_duplicate_option_texts_keep_the_letter_by_position(tmp_path) -> None:
    row = {"question_id": 1, "question": "Pick", "options": ["same", "other", "same", "N/A"], "answer": "C", "answer_index": 2, "category": "x"}
    path = tmp_path / "pro.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert load_task(f"mmlu_pro:data={path}").items[0].reference["letter"] == "C"
    row["answer_index"] = 3  # the N/A pad is not an option
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(TaskError, match="answer index 3"):
        load_task(f"mmlu_pro:data={path}")
    gpqa = tmp_path / "gpqa.csv"
    with open(gpqa, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3", "Record ID"])
        for record in range(8):
            writer.writerow([f"Q{record}", "twin", "twin", "b", "c", f"r{record}"])
    for item in load_task(f"gpqa_diamond:data={gpqa}").items:
        options, letter = item.reference["options"], item.reference["letter"]
        assert options[ord(letter) - ord("A")] == "twin"


# -- BBH -------------------------------------------------------------------------------------------------------


def test_bbh_last_answer_phrase_and_normalisation() -> None:
    assert extract_short_answer("I thought the answer is (A), but the answer is (B).") == "(B)"
    assert extract_short_answer("The final answer: Yes.") == "Yes"
    assert bbh_equal('"No"', "No")
    assert bbh_equal("apple, banana, cherry", "apple banana cherry")
    assert not bbh_equal("apple, cherry", "apple banana cherry")


# -- DROP ------------------------------------------------------------------------------------------------------


def test_drop_official_alignment_and_numbers() -> None:
    em, f1 = drop_scores(["Tom and Jerry"], ["Tom", "Jerry"])  # one predicted span against two gold spans
    assert em == 0.0 and round(f1, 2) == 0.25
    assert drop_scores(["Tom", "Jerry"], ["Jerry", "Tom"]) == (1.0, 1.0)
    assert drop_scores(["1e3"], ["1000"]) == (1.0, 1.0)
    assert drop_scores(["1,000 yards"], ["1000 yards"]) == (1.0, 1.0)


def _drop_verdict(task, text):
    return task.env.verify(task.items[0], Trajectory.from_text(text))


def test_drop_three_public_shapes_and_validated_answers(tmp_path) -> None:
    official = {"nfl_1": {"passage": "Tom ran 12 yards. Jerry ran 3.", "qa_pairs": [
        {"question": "Who ran?", "query_id": "q1", "answer": {"number": "", "date": {"day": "", "month": "", "year": ""}, "spans": ["Tom", "Jerry"]},
         "validated_answers": [{"number": "", "date": {"day": "", "month": "", "year": ""}, "spans": ["Tom"]}]},
        {"question": "How far?", "query_id": "q2", "answer": {"number": "12", "date": {"day": "", "month": "", "year": ""}, "spans": []}},
        {"question": "When?", "query_id": "q3", "answer": {"number": "", "date": {"day": "4", "month": "May", "year": "1990"}, "spans": []}}]}}
    path = tmp_path / "drop_dataset_dev.json"
    path.write_text(json.dumps(official))
    task = load_task(f"drop:data={path}")
    assert [i.reference["answers"] for i in task.items] == [[["Tom", "Jerry"], ["Tom"]], [["12"]], [["4 May 1990"]]]
    assert _drop_verdict(task, "Answer: Tom | Jerry").reward == 1.0
    assert _drop_verdict(task, "Answer: Tom").reward == 1.0  # the validated answer counts
    eleuther = {"passage": "p", "question": "How far?", "query_id": "q2",
                "answer": {"number": "12", "date": {"day": "", "month": "", "year": ""}, "spans": [], "worker_id": "", "hit_id": ""},
                "validated_answers": {"number": ["12.0"], "date": [{"day": "", "month": "", "year": ""}], "spans": [[]], "worker_id": [""], "hit_id": [""]}}
    path = tmp_path / "eleuther.jsonl"
    path.write_text(json.dumps(eleuther) + "\n")
    assert load_task(f"drop:data={path}").items[0].reference["answers"] == [["12"], ["12.0"]]
    ucinlp = {"passage": "p", "question": "q", "query_id": "q", "answers_spans": {"spans": ["Tom", "Jerry"], "types": ["span", "span"]}}
    path = tmp_path / "ucinlp.jsonl"
    path.write_text(json.dumps(ucinlp) + "\n")
    task = load_task(f"drop:data={path}")
    assert _drop_verdict(task, "Answer: Tom and Jerry").reward == 0.25  # not split by the gold's span count


# -- SimpleQA --------------------------------------------------------------------------------------------------


def test_simpleqa_match_rejects_a_negated_name(tmp_path) -> None:
    path = tmp_path / "simpleqa.jsonl"
    path.write_text(json.dumps({"problem": "Who designed the Analytical Engine programs first?", "answer": "Ada Lovelace"}) + "\n")
    task = load_task(f"simpleqa:data={path}")
    verdict = lambda text: task.env.verify(task.items[0], Trajectory.from_text(text))
    assert verdict("Not Ada Lovelace, it was Charles Babbage.").details["grade"] == "INCORRECT"
    assert verdict("It was Ada Lovelace.").details["grade"] == "CORRECT"
    assert verdict("I don't know.").details["grade"] == "NOT_ATTEMPTED"


# -- loaders ---------------------------------------------------------------------------------------------------


def test_headerless_mmlu_csv_and_folder(tmp_path) -> None:
    folder = tmp_path / "test"
    folder.mkdir()
    (folder / "astronomy_test.csv").write_text('"Which planet is closest to the Sun?",Venus,Mercury,Mars,Earth,B\n')
    (folder / "anatomy_test.csv").write_text("Which bone is in the arm?,Femur,Humerus,Tibia,Fibula,B\nWhich organ pumps blood?,Lung,Liver,Heart,Kidney,C\n")
    task = load_task(f"mmlu:data={folder}")
    assert [(i.meta["subject"], i.reference["letter"]) for i in task.items] == [("anatomy", "B"), ("anatomy", "C"), ("astronomy", "B")]
    assert len(load_task(f"mmlu:data={folder / 'astronomy_test.csv'}").items) == 1


def test_bbh_folder_of_task_files(tmp_path) -> None:
    for name, target in (("navigate", "No"), ("word_sorting", "apple pear")):
        (tmp_path / f"{name}.json").write_text(json.dumps({"canary": "x", "examples": [{"input": f"{name}?", "target": target}]}))
    task = load_task(f"bbh:data={tmp_path}")
    assert [i.meta["subset"] for i in task.items] == ["navigate", "word_sorting"]


def test_every_row_of_the_papers_table_is_a_task_in_its_order() -> None:
    from hermes4.eval import task_names

    assert task_names() == [
        "math500", "aime24", "aime25", "gpqa_diamond", "bbh", "livecodebench", "mmlu", "mmlu_pro", "simpleqa",
        "ifeval", "arena_hard", "refusalbench", "rewardbench", "drop", "musr", "obqa", "eqbench3", "creative_writing3",
    ]
