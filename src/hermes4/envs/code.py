"""`code`: Python problems with stdin/stdout and function tests (LiveCodeBench shape), run in the sandbox."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes4.chat.messages import Conversation, Message
from hermes4.envs.answer import final_answer
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.math_env import load_rows
from hermes4.envs.registry import register_env

SAMPLE_DATASET = Path(__file__).parent / "data" / "code_sample.jsonl"
_PYTHON_BLOCK = re.compile(r"```(?:python|py|python3)[ \t]*\n(.*?)```", re.DOTALL)

# Our own harness (trusted) for function tests: it imports the model's module and prints the result as JSON.
_FUNCTION_HARNESS = """\
import json, sys
import solution
args = [json.loads(line) for line in open("args.txt", encoding="utf-8").read().splitlines() if line.strip()]
name = {name!r}
if hasattr(solution, "Solution") and hasattr(solution.Solution, name):
    fn = getattr(solution.Solution(), name)
elif hasattr(solution, name):
    fn = getattr(solution, name)
else:
    sys.stderr.write("no function " + name + " (nor Solution." + name + ") in the answer\\n")
    sys.exit(3)
result = fn(*args)
sys.stdout.write("\\n@@RESULT@@" + json.dumps(result) + "\\n")
"""


def extract_program(answer: str) -> str | None:
    """The last ```python fenced block of the answer (None when there is none)."""
    blocks = _PYTHON_BLOCK.findall(answer)
    return blocks[-1] if blocks else None


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # plain data only: never import anything
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test-case blob")


def decode_tests(value: Any) -> list[dict[str, Any]]:
    """Test cases as stored by LiveCodeBench: a list, a JSON string, or base64(zlib(pickle(JSON string)))."""
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    blob = _NoGlobals(io.BytesIO(zlib.decompress(base64.b64decode(value)))).load()
    return json.loads(blob) if isinstance(blob, str) else blob


@dataclass
class CodeProblem:
    """One LiveCodeBench-style row, read: the prompt the model sees and what its program is checked against."""

    question: str
    text: str  # the question, the starter code or the stdin/stdout instruction, and the answer format
    tests: list[dict[str, Any]]
    func_name: str | None


def read_problem(row: dict[str, Any], *, where: str, number: int, public_only: bool = False) -> CodeProblem:
    """A problem row (question, test cases as LiveCodeBench stores them, starter code, metadata); a row that cannot
    be checked raises ValueError naming `where` and the row."""
    question = row.get("question_content") or row.get("problem") or row.get("question")
    if not isinstance(question, str):
        raise ValueError(f"{where}: row {number}: needs 'question_content' (or 'problem')")  # noqa: TRY004 (bad data)
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata) if metadata.strip() else {}
    try:
        tests = decode_tests(row.get("public_test_cases") or row.get("tests"))
        if not public_only:
            tests += decode_tests(row.get("private_test_cases"))
    except (ValueError, zlib.error, pickle.UnpicklingError) as exc:
        raise ValueError(f"{where}: row {number}: unreadable test cases ({exc})") from None
    if not tests:
        raise ValueError(f"{where}: row {number}: no test cases")
    func_name = metadata.get("func_name") or row.get("func_name")
    if any(t.get("testtype") == "functional" for t in tests) and not func_name:
        raise ValueError(f"{where}: row {number}: functional tests need metadata.func_name")
    starter = str(row.get("starter_code") or "")
    text = question.strip()
    if starter.strip():
        text += f"\n\nComplete this code:\n```python\n{starter.rstrip()}\n```"
    else:
        text += "\n\nRead the input from standard input and write the answer to standard output."
    text += "\n\nWrite your solution in Python inside one ```python code block."
    return CodeProblem(question, text, tests, func_name)


def normalise_output(text: str) -> list[str]:
    """stdout compared line by line with trailing whitespace and trailing blank lines ignored."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@register_env("code")
class CodeEnv(Env):
    """Python problems with stdin/stdout and function tests, each test run in the sandbox with limits."""

    check_timeout_s = None  # every test runs in a sandbox with its own wall-clock limit

    def __init__(
        self, dataset: str = "", limit: int = 0, time_limit_s: float = 6.0, memory_mb: int = 512, public_only: bool = False
    ) -> None:
        self.path = Path(dataset) if dataset else SAMPLE_DATASET
        self.rows = load_rows(self.path)
        self.limit, self.time_limit_s, self.memory_mb, self.public_only = limit, time_limit_s, memory_mb, public_only

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        out = []
        for number, row in enumerate(self.rows, 1):
            problem = read_problem(row, where=str(self.path), number=number, public_only=self.public_only)
            qid = row.get("question_id") or row.get("id") or number
            out.append(
                Item(
                    id=f"code-{hashlib.sha256(f'{qid}|{problem.question}'.encode()).hexdigest()[:12]}",
                    prompt=Conversation(messages=[Message(role="user", content=problem.text)]),
                    reference={"tests": problem.tests, "func_name": problem.func_name},
                    meta={"question_id": qid, "title": row.get("question_title"), "difficulty": row.get("difficulty")},
                )
            )
        return out[: self.limit] if self.limit else out

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        from hermes4.agent.sandbox import SandboxLimits, run_sandboxed_python

        answer = final_answer(trajectory)
        program = extract_program(answer) if answer else None
        if not program or not program.strip():
            return Verdict("fail", 0.0, {"reason": "no ```python block in the answer"})
        limits = SandboxLimits(wall_s=self.time_limit_s, cpu_s=max(1, int(self.time_limit_s)), memory_mb=self.memory_mb)
        tests = item.reference["tests"]
        for index, test in enumerate(tests):
            if test.get("testtype") == "functional":
                harness = _FUNCTION_HARNESS.format(name=item.reference["func_name"])
                result = run_sandboxed_python(harness, limits=limits, files={"solution.py": program, "args.txt": test["input"]})
            else:
                result = run_sandboxed_python(program, limits=limits, stdin=test["input"])
            where = {"test": index, "tests": len(tests)}
            if result.status == "timeout":
                return Verdict("fail", 0.0, {**where, "reason": f"time limit exceeded ({self.time_limit_s:g}s)"})
            if result.status == "memory_limit":
                return Verdict("fail", 0.0, {**where, "reason": f"memory limit exceeded ({self.memory_mb} MiB)"})
            if result.status != "ok":
                return Verdict("fail", 0.0, {**where, "reason": f"program {result.status}: {result.detail}", "stderr": result.stderr[-800:]})
            if test.get("testtype") == "functional":
                ok = _functional_ok(result.stdout, test["output"])
            else:
                ok = normalise_output(result.stdout) == normalise_output(test["output"])
            if not ok:
                return Verdict("fail", 0.0, {**where, "reason": "wrong output", "got": result.stdout[-400:], "expected": test["output"][-400:]})
        return Verdict("pass", 1.0, {"tests": len(tests)})


def _functional_ok(stdout: str, expected: str) -> bool:
    marker = stdout.rfind("@@RESULT@@")
    if marker < 0:
        return False
    try:
        got = json.loads(stdout[marker + len("@@RESULT@@") :].strip())
        want = json.loads(expected)
    except json.JSONDecodeError:
        return False
    # tuples come back as lists through JSON; compare floats with a tolerance like LiveCodeBench does
    return _equal(got, want)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
        except (TypeError, ValueError):
            return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b) if isinstance(a, bool) or isinstance(b, bool) else a == b
