"""`math`: MATH-500 / AIME-shaped problems; the final answer is parsed and compared with math-verify."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from hermes4.chat.messages import Conversation, Message
from hermes4.envs.answer import final_answer
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.registry import register_env

SAMPLE_DATASET = Path(__file__).parent / "data" / "math_sample.jsonl"
INSTRUCTION = "Put your final answer within \\boxed{}."


_BOXED = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def boxed_answers(text: str) -> list[str]:
    """The contents of every `\\boxed{…}` / `\\fbox{…}` in order, braces balanced; `\\boxed 5` (no braces, as
    MATH's own scorer reads it) gives the token after the space. An unclosed box ends the list."""
    found = []
    for match in _BOXED.finditer(text):
        start = match.end()
        rest = text[start:]
        if not rest.lstrip(" ").startswith("{"):
            token = re.match(r"\s+([^\s$]+)", rest)
            if token:
                found.append(token.group(1).rstrip(".,;"))
            continue
        brace = start + len(rest) - len(rest.lstrip(" "))
        depth = 0
        for i in range(brace, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    found.append(text[brace + 1 : i])
                    break
        else:
            break
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{…}` (or `\\fbox{…}`, or `\\boxed 5`); None when there is none."""
    boxes = boxed_answers(text)
    return boxes[-1] if boxes else None


def top_level_parts(answer: str) -> list[str]:
    """`answer` split at commas outside brackets: `3, 5` has two parts, `(1, 2)` and `\\{1,2\\}` one."""
    parts, depth, current = [], 0, ""
    for char in answer:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL or Parquet file; errors name the file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"option dataset: {path}: no such file")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")  # noqa: TRY004 (bad data)
        rows.append(row)
    return rows


def _field(row: dict[str, Any], *names: str) -> Any:
    lowered = {k.lower(): v for k, v in row.items()}
    for name in names:
        if lowered.get(name) not in (None, ""):
            return lowered[name]
    return None


def parse_math(text: str) -> list[Any]:
    """math-verify's parse without its signal-based timeout (the env's own time limit applies instead)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    return parse(text, [LatexExtractionConfig(), ExprExtractionConfig()], parsing_timeout=None)


@register_env("math")
class MathEnv(Env):
    """Math problems (MATH-500 / AIME shape: problem, answer, solution) checked with math-verify."""

    check_timeout_s = 10.0

    def __init__(self, dataset: str = "", limit: int = 0) -> None:
        self.path = Path(dataset) if dataset else SAMPLE_DATASET
        self.rows = load_rows(self.path)
        self.limit = limit

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        out = []
        for number, row in enumerate(self.rows, 1):
            problem = _field(row, "problem", "question")
            answer = _field(row, "answer", "expected_answer")
            solution = _field(row, "solution")
            if answer is None and isinstance(solution, str):
                answer = last_boxed(solution)
            if not isinstance(problem, str) or answer is None:
                raise ValueError(f"{self.path}: row {number}: needs a 'problem' and an 'answer' (or a solution with \\boxed{{}})")
            answer = str(answer)
            text = f"{problem}\n\n{INSTRUCTION}"
            row_id = _field(row, "unique_id", "id")
            out.append(
                Item(
                    id=f"math-{hashlib.sha256(f'{row_id}|{problem}'.encode()).hexdigest()[:12]}",
                    prompt=Conversation(messages=[Message(role="user", content=text)]),
                    reference={"answer": answer},
                    meta={k: v for k, v in row.items() if k not in ("problem", "answer", "solution")} | {"solution": solution},
                )
            )
        return out[: self.limit] if self.limit else out

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        from math_verify import verify as math_verify

        answer = final_answer(trajectory)
        if not answer:
            return Verdict("fail", 0.0, {"reason": "empty answer"})
        boxes = boxed_answers(answer)
        predicted = parse_math(f"\\boxed{{{boxes[-1]}}}" if boxes else answer)
        if not predicted:
            return Verdict("fail", 0.0, {"reason": "no mathematical answer found"})
        gold_text = item.reference["answer"]
        gold = parse_math(f"\\boxed{{{gold_text}}}")
        if not gold:
            return Verdict("error", 0.0, {"error": f"the reference answer {gold_text!r} does not parse"})
        ok = math_verify(gold, predicted, timeout_seconds=None)
        n_gold = len(top_level_parts(gold_text))
        if not ok and n_gold > 1 and len(boxes) >= n_gold:
            # a several-part answer boxed part by part (`\\boxed{3} and \\boxed{5}`): the last boxes, read together;
            # a single answer stays the last box, so a corrected `\\boxed{3} ... \\boxed{5}` is 5
            joined = parse_math(f"\\boxed{{{', '.join(boxes[-n_gold:])}}}")
            if joined and math_verify(gold, joined, timeout_seconds=None):
                ok, predicted = True, joined
        return Verdict.judge(ok, given=str(predicted[-1]), expected=gold_text)
