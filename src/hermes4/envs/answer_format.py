"""`answer_format`: dozens of output formats chosen per item; the verdict grades the format only."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

import tomllib
import yaml

from hermes4.chat.messages import Conversation, Message
from hermes4.envs.answer import final_answer, raw_output, think_structure
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.registry import register_env

Check = Callable[[str], "str | None"]  # None when the text has the format, else the reason it does not


@dataclass(frozen=True)
class AnswerFormat:
    """One output format: the instruction shown to the model, a checker, and a renderer for witnesses."""

    name: str
    instruction: str
    check: Check
    render: Callable[[str], str]
    near_miss: Callable[[str], str] | None = None

    def broken(self, answer: str) -> str:
        """A near miss that the checker rejects (default: the answer in plain prose over two lines)."""
        if self.near_miss is not None:
            return self.near_miss(answer)
        return f"The result I found is {answer}.\nThat is the value"


def _lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


def _need(condition: bool, reason: str) -> str | None:
    return None if condition else reason


def _json_object_with(text: str, key: str) -> str | None:
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*?)\n```", body, re.DOTALL)
    if fenced:
        body = fenced[1]
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return f"not a JSON document ({exc.msg})"
    if not isinstance(value, dict) or key not in value:
        return f"expected a JSON object with the key {key!r}"
    return None if str(value[key]).strip() else f"the {key!r} field is empty"


def _yaml_answer(text: str) -> str | None:
    body = text.strip()
    fenced = re.fullmatch(r"```(?:ya?ml)?\s*\n(.*?)\n```", body, re.DOTALL)
    try:
        value = yaml.safe_load(fenced[1] if fenced else body)
    except yaml.YAMLError:
        return "not valid YAML"
    if not isinstance(value, dict) or "answer" not in value or value["answer"] in (None, ""):
        return "expected a YAML mapping with a non-empty 'answer' key"
    return None


def _toml_answer(text: str) -> str | None:
    body = text.strip()
    fenced = re.fullmatch(r"```(?:toml)?\s*\n(.*?)\n```", body, re.DOTALL)
    try:
        value = tomllib.loads(fenced[1] if fenced else body)
    except tomllib.TOMLDecodeError:
        return "not valid TOML"
    return _need(str(value.get("answer", "")).strip() != "", "expected a TOML key 'answer'")


def _xml_nested(text: str) -> str | None:
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        return f"not well-formed XML ({exc})"
    if root.tag != "response":
        return "the root element must be <response>"
    answer = root.find("answer")
    return _need(answer is not None and bool((answer.text or "").strip()), "missing a non-empty <answer> inside <response>")


def _markdown_table(text: str) -> str | None:
    rows = [line.strip() for line in _lines(text) if line.strip().startswith("|")]
    if len(rows) < 3:
        return "expected a markdown table with a header, a separator and a row"
    header = [c.strip().lower() for c in rows[0].strip("|").split("|")]
    separator_ok = re.fullmatch(r"\|?(\s*:?-{3,}:?\s*\|)+\s*:?-{0,}:?\s*\|?", rows[1]) is not None
    if "answer" not in header or not separator_ok:
        return "the table needs an 'Answer' column and a --- separator row"
    return None


def _csv_answer(text: str) -> str | None:
    rows = list(csv.reader(io.StringIO(text.strip())))
    if len(rows) != 2 or [c.strip().lower() for c in rows[0]] != ["answer"] or len(rows[1]) != 1 or not rows[1][0].strip():
        return "expected CSV with the header 'answer' and exactly one one-column row"
    return None


def _numbered(text: str) -> str | None:
    lines = _lines(text)
    numbers = [re.match(r"\s*(\d+)\.\s+\S", line) for line in lines]
    if len(lines) < 2 or not all(numbers):
        return "every line must be a numbered item '1. …', at least two"
    return _need([int(m[1]) for m in numbers] == list(range(1, len(lines) + 1)), "items must be numbered 1, 2, 3, …")  # type: ignore[index]


def _csv_row(answer: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([["answer"], [answer]])
    return buffer.getvalue().strip()


def _toml_string(answer: str) -> str:
    return json.dumps(answer)  # a JSON string literal is a valid TOML basic string


_F = AnswerFormat
FORMATS: list[AnswerFormat] = [
    _F("boxed", "Put the final answer inside \\boxed{}.",
       lambda t: _need(re.search(r"\\boxed\{[^{}]+\}", t) is not None, "no non-empty \\boxed{…}"),
       lambda a: f"The final answer is \\boxed{{{a}}}."),
    _F("json_field", 'Reply with only a JSON object of the form {"answer": ...}.',
       lambda t: _json_object_with(t, "answer"), lambda a: json.dumps({"answer": a})),
    _F("json_result", 'Reply with only a JSON object with a "result" key holding the answer and a "confidence" key.',
       lambda t: _json_object_with(t, "result") or _json_object_with(t, "confidence"),
       lambda a: json.dumps({"result": a, "confidence": "high"})),
    _F("json_list", "Reply with only a JSON array whose single element is the answer as a string.",
       lambda t: _need(_is_json_array(t), "not a JSON array with one non-empty string"), lambda a: json.dumps([a])),
    _F("xml_tag", "Wrap the final answer in <answer></answer> tags.",
       lambda t: _need(re.search(r"<answer>\s*\S.*?</answer>", t, re.DOTALL) is not None, "no non-empty <answer>…</answer>"),
       lambda a: f"<answer>{a}</answer>"),
    _F("xml_nested", "Reply with only XML: a <response> root containing <reasoning> and <answer> elements.",
       _xml_nested, lambda a: f"<response><reasoning>computed step by step</reasoning><answer>{_xml_escape(a)}</answer></response>"),
    _F("markdown_table", "Present the result as a markdown table with the columns Question and Answer.",
       _markdown_table, lambda a: f"| Question | Answer |\n| --- | --- |\n| the task | {a} |"),
    _F("numbered_list", "Answer as a numbered list (1., 2., …) of at least two items; every line must be an item.",
       _numbered, lambda a: f"1. I solved the task.\n2. The answer is {a}."),
    _F("bullet_list", "Answer as a bullet list: every line starts with '- ', at least two bullets.",
       lambda t: _need(len(_lines(t)) >= 2 and all(line.lstrip().startswith("- ") for line in _lines(t)), "every line must start with '- ', at least two"),
       lambda a: f"- I solved the task.\n- The answer is {a}."),
    _F("yaml", "Reply with only YAML containing the key 'answer'.", _yaml_answer, lambda a: f"answer: {json.dumps(a)}"),
    _F("toml", "Reply with only TOML containing the key answer as a string.", _toml_answer, lambda a: f"answer = {_toml_string(a)}"),
    _F("csv", "Reply with only CSV: a header line 'answer' and one row with the answer (quote it if it has commas).",
       _csv_answer, _csv_row),
    _F("code_block", "Put the final answer alone inside a fenced code block (```).",
       lambda t: _need(re.search(r"```[a-z]*\n\s*\S[^`]*\n```", t) is not None, "no non-empty fenced code block"),
       lambda a: f"The answer:\n```\n{a}\n```"),
    _F("double_brackets", "Write the final answer inside double square brackets, like [[answer]].",
       lambda t: _need(re.search(r"\[\[[^\[\]]*\S[^\[\]]*\]\]", t) is not None, "no [[…]]"), lambda a: f"The answer is [[{a}]]."),
    _F("latex_inline", "Write the final answer as inline LaTeX math between single dollar signs, like $x$.",
       lambda t: _need(re.search(r"(?<!\$)\$[^$\n]*\S[^$\n]*\$(?!\$)", t) is not None, "no inline $…$"), lambda a: f"The answer is ${a}$."),
    _F("bold_label", "End with a line '**Answer:** <answer>' in markdown bold.",
       lambda t: _need(re.fullmatch(r"\*\*Answer:\*\*\s*\S.*", _last_line(t)) is not None, "the last line must be '**Answer:** …'"),
       lambda a: f"I worked it out.\n**Answer:** {a}"),
    _F("final_answer_line", "End with a line exactly of the form 'Final Answer: <answer>'.",
       lambda t: _need(re.fullmatch(r"Final Answer: \S.*", _last_line(t)) is not None, "the last line must be 'Final Answer: …'"),
       lambda a: f"Here is my result.\nFinal Answer: {a}"),
    _F("starts_with_answer", "Start your reply with 'ANSWER:' followed by the answer.",
       lambda t: _need(re.match(r"ANSWER:\s*\S", t.strip()) is not None, "the reply must start with 'ANSWER:'"), lambda a: f"ANSWER: {a}"),
    _F("key_value", "Reply with exactly one line of the form RESULT=<answer>.",
       lambda t: _need(re.fullmatch(r"RESULT=\S.*", t.strip()) is not None, "expected one line 'RESULT=…'"), lambda a: f"RESULT={a}"),
    _F("quoted", 'Reply with only the answer wrapped in double quotes.',
       lambda t: _need(re.fullmatch(r'"[^"\n]*\S[^"\n]*"', t.strip()) is not None, 'expected only "…"'), lambda a: f'"{a}"'),
    _F("parentheses", "Reply with only the answer wrapped in parentheses.",
       lambda t: _need(re.fullmatch(r"\([^\n]*\S[^\n]*\)", t.strip()) is not None, "expected only (…)"), lambda a: f"({a})"),
    _F("single_line", "Reply in exactly one line that contains the answer.",
       lambda t: _need(len(t.strip().splitlines()) == 1 and bool(t.strip()), "expected exactly one line"), lambda a: f"The answer is {a}.", lambda a: f"The answer\nis {a}."),
    _F("two_paragraphs", "Reply in exactly two paragraphs separated by one blank line; the second gives the answer.",
       lambda t: _need(len([p for p in re.split(r"\n\s*\n", t.strip()) if p.strip()]) == 2, "expected exactly two paragraphs"),
       lambda a: f"I solved the task carefully.\n\nThe answer is {a}."),
    _F("uppercase", "Reply entirely in capital letters.",
       lambda t: _need(bool(re.search(r"[A-Za-z]", t)) and t == t.upper(), "lowercase letters present"),
       lambda a: f"THE ANSWER IS {a.upper()}."),
    _F("lowercase", "Reply entirely in lowercase letters.",
       lambda t: _need(bool(re.search(r"[A-Za-z]", t)) and t == t.lower(), "uppercase letters present"),
       lambda a: f"the answer is {a.lower()}.", lambda a: f"The answer is {a}."),
    _F("title_angular", "Start with a title wrapped in double angular brackets, like <<Result>>, then give the answer.",
       lambda t: _need(re.match(r"<<[^<>\n]+>>", t.strip()) is not None, "must start with <<title>>"),
       lambda a: f"<<Result>>\nThe answer is {a}."),
    _F("markdown_heading", "Start with a markdown heading line '# Answer', then give the answer on the next line.",
       lambda t: _need(len(_lines(t)) >= 2 and re.fullmatch(r"#\s+Answer\s*", _lines(t)[0]) is not None, "must start with '# Answer' and continue"),
       lambda a: f"# Answer\n{a}"),
    _F("blockquote", "Reply as a markdown blockquote: every line starts with '> '.",
       lambda t: _need(bool(_lines(t)) and all(line.startswith("> ") for line in _lines(t)), "every line must start with '> '"),
       lambda a: f"> The answer is {a}."),
    _F("html_paragraph", "Reply with only one HTML paragraph: <p>…</p>.",
       lambda t: _need(re.fullmatch(r"<p>[^<>]*\S[^<>]*</p>", t.strip(), re.DOTALL) is not None, "expected only <p>…</p>"),
       lambda a: f"<p>The answer is {_xml_escape(a)}.</p>"),
    _F("postscript", "Give the answer, then end with a postscript line starting with 'P.S.'.",
       lambda t: _need(_last_line(t).startswith("P.S.") and len(_lines(t)) >= 2, "must end with a 'P.S.' line"),
       lambda a: f"The answer is {a}.\nP.S. I checked it twice."),
    _F("sections", "Reply in two sections headed 'SECTION 1' and 'SECTION 2' (each on its own line); the answer goes in SECTION 2.",
       lambda t: _need(re.search(r"(?m)^SECTION 1\s*$[\s\S]*^SECTION 2\s*$\s*\S", t) is not None, "missing SECTION 1 / SECTION 2 headings"),
       lambda a: f"SECTION 1\nI solved the task.\nSECTION 2\nThe answer is {a}."),
    _F("ends_with_phrase", "End your reply with the exact phrase 'Is there anything else I can help with?'.",
       lambda t: _need(t.strip().endswith("Is there anything else I can help with?"), "does not end with the phrase"),
       lambda a: f"The answer is {a}. Is there anything else I can help with?"),
    _F("tsv", "Reply with only two tab-separated columns on one line: the word answer, a tab, then the answer.",
       lambda t: _need(re.fullmatch(r"answer\t[^\t\n]*\S[^\t\n]*", t.strip()) is not None, "expected 'answer<TAB>value'"),
       lambda a: f"answer\t{a}"),
    _F("arrow", "End with a line of the form '=> <answer>'.",
       lambda t: _need(re.fullmatch(r"=>\s*\S.*", _last_line(t)) is not None, "the last line must start with '=>'"),
       lambda a: f"Worked out.\n=> {a}"),
    _F("short", "Reply in at most 12 words.",
       lambda t: _need(0 < len(t.split()) <= 12, "more than 12 words (or empty)"), lambda a: f"The answer is {a}.",
       lambda a: f"After working through every step of this task carefully and twice, I am confident the answer is {a}."),
]
FORMATS_BY_NAME = {f.name: f for f in FORMATS}


def _last_line(text: str) -> str:
    lines = _lines(text)
    return lines[-1].strip() if lines else ""


def _is_json_array(text: str) -> bool:
    try:
        value = json.loads(text.strip())
    except json.JSONDecodeError:
        return False
    return isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) and bool(value[0].strip())


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_for_prompt(text: str) -> AnswerFormat | None:
    """The format whose instruction closes `text` (how the teacher recognises an answer-format item)."""
    for fmt in FORMATS:
        if text.rstrip().endswith(fmt.instruction):
            return fmt
    return None


def check_reasoning_shape(trajectory: Trajectory) -> str | None:
    """Reasoning mode needs exactly one think block then an answer; direct mode needs none."""
    raw = raw_output(trajectory)
    thinking = trajectory.meta.get("thinking")
    if thinking is None:  # a hand-made trajectory: reasoning present means reasoning mode
        thinking = "<think>" in raw or "</think>" in raw
    if thinking:
        return think_structure(raw)
    if "<think>" in raw or "</think>" in raw:
        return "think tags in a direct (non-reasoning) answer"
    return None


@register_env("answer_format")
class AnswerFormatEnv(Env):
    """Output formats (boxed, JSON field, XML tag, markdown table, lists, YAML, CSV, ...); grades the format only."""

    check_timeout_s = 5.0

    def __init__(self, n: int = 200, seed: int = 0, formats: list[str] | None = None) -> None:
        unknown = [f for f in formats or [] if f not in FORMATS_BY_NAME]
        if unknown:
            raise ValueError(f"option formats: unknown format {unknown[0]!r}; known: {', '.join(FORMATS_BY_NAME)}")
        self.n, self.seed = n, seed
        self.formats = [FORMATS_BY_NAME[f] for f in formats] if formats else FORMATS

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        from hermes4.envs.procedural.env import task_rng
        from hermes4.envs.procedural.tasks import TASKS

        names = sorted(TASKS)
        out = []
        for index in range(self.n):
            rng = task_rng(f"answer_format|{split}", self.seed + seed, index)
            fmt = self.formats[index % len(self.formats)] if index < len(self.formats) else rng.choice(self.formats)
            task = TASKS[rng.choice(names)]
            params = task.generate(rng, 1)
            text = f"{task.question(params)}\n\n{fmt.instruction}"
            out.append(
                Item(
                    id=f"answer_format-{fmt.name}-{hashlib.sha256(f'{index}|{text}'.encode()).hexdigest()[:12]}",
                    prompt=Conversation(messages=[Message(role="user", content=text)]),
                    reference={"format": fmt.name},
                    meta={"format": fmt.name, "task": task.name, "answer": task.solve(params).answer},
                )
            )
        return out

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        fmt = FORMATS_BY_NAME[item.reference["format"]]
        shape = check_reasoning_shape(trajectory)
        if shape is not None:
            return Verdict("fail", 0.0, {"format": fmt.name, "reason": shape})
        answer = final_answer(trajectory)
        if not answer:
            return Verdict("fail", 0.0, {"format": fmt.name, "reason": "empty answer"})
        reason = fmt.check(answer)
        return Verdict.judge(reason is None, format=fmt.name, **({"reason": reason} if reason else {}))


def random_format(rng: random.Random) -> AnswerFormat:
    return rng.choice(FORMATS)
