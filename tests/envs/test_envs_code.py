"""code: LiveCodeBench-shaped stdin and function tests run in the agent sandbox with limits."""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from hermes4.envs import Trajectory, get_env
from hermes4.envs.code import decode_tests, extract_program, normalise_output

SUM_LINES = "import sys\nd = sys.stdin.read().split()\nfor i in range(int(d[0])):\n    print(int(d[1 + 2 * i]) + int(d[2 + 2 * i]))"
TWO_SUM = (
    "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n        for i, x in enumerate(nums):\n"
    "            if target - x in seen:\n                return [seen[target - x], i]\n            seen[x] = i"
)


def _answer(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```"


@pytest.fixture(scope="module")
def env():
    return get_env("code:time_limit_s=2")


def _item(env, qid: str):
    return next(i for i in env.items() if i.meta["question_id"] == qid)


def test_items_have_stdin_and_function_tests(env) -> None:
    items = env.items()
    kinds = {t["testtype"] for i in items for t in i.reference["tests"]}
    assert kinds == {"stdin", "functional"}
    assert "```python" in _item(env, "sample-two-sum").prompt.messages[0].content  # starter code shown


def test_correct_programs_pass(env) -> None:
    assert env.verify(_item(env, "sample-sum-pairs"), Trajectory.from_text(_answer(SUM_LINES), reasoning="plan")).status == "pass"
    verdict = env.verify(_item(env, "sample-two-sum"), Trajectory.from_text(_answer(TWO_SUM)))
    assert verdict.status == "pass" and verdict.details["tests"] == 3


def test_wrong_slow_crashing_and_missing_programs_fail(env) -> None:
    item = _item(env, "sample-sum-pairs")
    wrong = env.verify(item, Trajectory.from_text(_answer("print(3)\nprint(6)")))  # passes the public test only
    assert wrong.status == "fail" and wrong.details["test"] == 1 and wrong.details["reason"] == "wrong output"
    slow = env.verify(item, Trajectory.from_text(_answer("while True:\n    pass")))
    assert slow.status == "fail" and "time limit" in slow.details["reason"]
    crash = env.verify(item, Trajectory.from_text(_answer("raise SystemExit(open('/etc/shadow').read())")))
    assert crash.status == "fail" and "program error" in crash.details["reason"]
    assert env.verify(item, Trajectory.from_text("print(1)")).details["reason"] == "no ```python block in the answer"
    assert env.verify(item, Trajectory.from_text("")).status == "fail"  # empty answer
    # the program only inside the reasoning
    assert env.verify(item, Trajectory.from_text("See above.", reasoning=_answer(SUM_LINES))).status == "fail"
    func = _item(env, "sample-two-sum")
    missing = env.verify(func, Trajectory.from_text(_answer("def other():\n    return 1")))
    assert missing.status == "fail" and "no function twoSum" in missing.details["stderr"]


def test_memory_limit_is_a_failed_answer(tmp_path) -> None:
    env = get_env("code:time_limit_s=5,memory_mb=128")
    item = next(i for i in env.items() if i.meta["question_id"] == "sample-reverse-words")
    verdict = env.verify(item, Trajectory.from_text(_answer("x = bytearray(512 * 1024 * 1024)\nprint(len(x))")))
    assert verdict.status == "fail" and "memory" in verdict.details["reason"]


def test_extraction_takes_the_last_python_block() -> None:
    text = "```python\nprint(1)\n```\nbetter:\n```py\nprint(2)\n```\n```\nnot python\n```"
    assert extract_program(text) == "print(2)\n"
    assert extract_program("```bash\nls\n```") is None


def test_outputs_compare_line_by_line() -> None:
    assert normalise_output("1  \n2\n\n") == normalise_output("1\n2")
    assert normalise_output("1 2") != normalise_output("1\n2")


def test_livecodebench_compressed_tests_decode_without_running_code(tmp_path) -> None:
    tests = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
    blob = base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()
    assert decode_tests(blob) == tests
    evil = base64.b64encode(zlib.compress(pickle.dumps(print))).decode()  # a pickle that imports a global
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        decode_tests(evil)
    row = {"question_id": "q", "question_content": "Add two numbers from one line.", "public_test_cases": "[]",
           "private_test_cases": blob, "metadata": "{}"}
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps(row) + "\n")
    env = get_env(f"code:dataset={path}")
    item = env.items()[0]
    assert env.verify(item, Trajectory.from_text(_answer("a, b = map(int, input().split())\nprint(a + b)"))).status == "pass"
