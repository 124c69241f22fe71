"""Benchmark tasks: a task is an env (checker and rollout) + a dataset + a prompt + a metric.

`load_task("gpqa_diamond:data=gpqa_diamond.csv")` reads the rows (see `datasets`), builds one `Item` per row
with the benchmark's prompt, and pairs them with the env that verifies them (or the judge rubric that grades
them). Specs follow the env convention `name:key=value,key=value`.
"""

from __future__ import annotations

import ast
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hermes4.chat.messages import Conversation, Message
from hermes4.envs import Env, Item
from hermes4.envs.registry import convert_options, parse_spec
from hermes4.eval.checkers import (
    LETTERS,
    BBHEnv,
    DropEnv,
    MultipleChoiceEnv,
    SimpleQAMatchEnv,
    choice_prompt,
)
from hermes4.eval.datasets import SAMPLE, DatasetError, describe_source, load_rows
from hermes4.eval.judge import REFUSAL, SIMPLEQA, Rubric
from hermes4.store import content_id, derive_seed

METRICS = ("accuracy", "f1", "ifeval", "refusal", "simpleqa", "winrate", "rewardbench", "rubric")


class TaskError(ValueError):
    """A task spec or dataset that cannot be used; the message names the task, the option or the row."""


@dataclass
class Task:
    """One benchmark ready to run: its items, the env that rolls out and verifies them (None when a judge grades
    them, see `rubric`), and the metric its scores feed."""

    name: str
    spec: str
    label: str
    metric: str
    items: list[Item]
    env: Env | None
    rubric: Rubric | None = None
    source: str = ""
    order: int = 100  # row order in reports (the paper's table order)

    @property
    def judged(self) -> bool:
        return self.rubric is not None

    def describe(self) -> dict[str, Any]:
        """What a run manifest records about the task."""
        return {
            "name": self.name,
            "label": self.label,
            "metric": self.metric,
            "source": self.source,
            "items": len(self.items),
            "grader": f"judge:{self.rubric.name}" if self.rubric else (self.env.name if self.env else "?"),
            "order": self.order,
        }


Builder = Callable[[list[dict[str, Any]], dict[str, Any]], "tuple[list[Item], Env | None, Rubric | None]"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    label: str
    metric: str
    build: Builder
    order: int
    options: dict[str, tuple[type, Any, str]] = field(default_factory=dict)  # name -> (type, default, help)
    split: str = "test"


# ----------------------------------------------------------------------------------------------- helpers


def _user(text: str) -> Conversation:
    return Conversation(messages=[Message(role="user", content=text)])


def _field(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if row.get(name) not in (None, ""):
            return row[name]
    lowered = {str(k).lower(): v for k, v in row.items()}
    for name in names:
        if lowered.get(name.lower()) not in (None, ""):
            return lowered[name.lower()]
    return None


def _need(row: dict[str, Any], number: int, benchmark: str, *names: str) -> Any:
    value = _field(row, *names)
    if value is None:
        raise TaskError(f"{benchmark}: row {number}: missing {' / '.join(repr(n) for n in names)}")
    return value


class _Ids:
    """Item ids from content (stable across files, orderings and machines); repeated content gets #2, #3."""

    def __init__(self, benchmark: str) -> None:
        self.benchmark = benchmark
        self.seen: dict[str, int] = {}

    def __call__(self, *parts: Any) -> str:
        base = f"{self.benchmark}-{content_id(*parts, length=12)}"
        count = self.seen.get(base, 0) + 1
        self.seen[base] = count
        return base if count == 1 else f"{base}#{count}"


def _keep(row: dict[str, Any], *drop: str) -> dict[str, Any]:
    """Row fields kept as item meta (long or answer-bearing fields dropped), as plain JSON."""
    out = {}
    for key, value in row.items():
        if key in drop:
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = str(value)
        if isinstance(value, str) and len(value) > 300:
            continue
        out[key] = value
    return out


# ------------------------------------------------------------------------------------------------- math

MATH_INSTRUCTION = "Put your final answer within \\boxed{}."


def _math(benchmark: str) -> Builder:
    def build(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
        from hermes4.envs.math_env import MathEnv, last_boxed

        ids = _Ids(benchmark)
        items = []
        for number, row in enumerate(rows, 1):
            problem = _need(row, number, benchmark, "problem", "question", "Problem")
            answer = _field(row, "answer", "Answer", "expected_answer")
            if answer is None and isinstance(_field(row, "solution", "Solution"), str):
                answer = last_boxed(_field(row, "solution", "Solution"))
            if answer is None:
                raise TaskError(f"{benchmark}: row {number}: needs an 'answer' (or a solution with \\boxed{{}})")
            items.append(
                Item(
                    id=ids(_field(row, "unique_id", "id", "ID"), problem),
                    prompt=_user(f"{str(problem).strip()}\n\n{MATH_INSTRUCTION}"),
                    reference={"answer": str(answer)},
                    meta=_keep(row, "problem", "question", "Problem", "solution", "Solution", "answer", "Answer"),
                )
            )
        return items, MathEnv(), None

    return build


# ---------------------------------------------------------------------------------------- multiple choice


def _mc_item(ids: _Ids, key: Any, question: str, options: list[str], letter: str, meta: dict[str, Any], context: str | None = None) -> Item:
    return Item(
        id=ids(key, question, options),
        prompt=_user(choice_prompt(question, options, context=context)),
        reference={"letter": letter, "options": options},
        meta=meta,
    )


def _gpqa(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("gpqa_diamond")
    items = []
    for number, row in enumerate(rows, 1):
        question = _need(row, number, "gpqa_diamond", "Question", "question")
        correct = str(_need(row, number, "gpqa_diamond", "Correct Answer", "correct_answer")).strip()
        wrong = [str(_need(row, number, "gpqa_diamond", f"Incorrect Answer {i}", f"incorrect_answer_{i}")).strip() for i in (1, 2, 3)]
        record = _field(row, "Record ID", "record_id", "id") or question
        # GPQA ships the correct answer first; the order shown is a seeded shuffle per question. The letter follows
        # the correct option's position, not its text (two options may read the same).
        original = [correct, *wrong]
        order = list(range(len(original)))
        random.Random(derive_seed("gpqa", options["shuffle_seed"], record)).shuffle(order)
        choices = [original[i] for i in order]
        letter = LETTERS[order.index(0)]
        meta = {"record_id": record, "subdomain": _field(row, "Subdomain", "subdomain"), "domain": _field(row, "High-level domain", "domain")}
        items.append(_mc_item(ids, record, str(question), choices, letter, meta))
    return items, MultipleChoiceEnv(items), None


def _answer_letter(value: Any, n_options: int, where: str) -> str:
    if isinstance(value, bool):
        raise TaskError(f"{where}: answer {value!r} is neither an index nor a letter")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        index = int(value)
    elif isinstance(value, str) and len(value.strip()) == 1 and value.strip().upper() in LETTERS:
        index = LETTERS.index(value.strip().upper())
    else:
        raise TaskError(f"{where}: answer {value!r} is neither an index nor a letter")
    if not 0 <= index < n_options:
        raise TaskError(f"{where}: answer {value!r} is outside the {n_options} options")
    return LETTERS[index]


def _subjects_filter(rows: list[dict[str, Any]], wanted: list[str], *keys: str) -> list[dict[str, Any]]:
    if not wanted:
        return rows
    kept = [row for row in rows if str(_field(row, *keys) or "") in wanted]
    if not kept:
        raise TaskError(f"no rows for {' / '.join(wanted)}")
    return kept


def _mmlu(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("mmlu")
    items = []
    for number, row in enumerate(_subjects_filter(rows, options["subjects"], "subject"), 1):
        question = _need(row, number, "mmlu", "question")
        choices = [str(c) for c in _need(row, number, "mmlu", "choices")]
        letter = _answer_letter(_field(row, "answer"), len(choices), f"mmlu: row {number}")
        items.append(_mc_item(ids, row.get("subject"), str(question), choices, letter, {"subject": row.get("subject")}))
    return items, MultipleChoiceEnv(items), None


def _mmlu_pro(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("mmlu_pro")
    items = []
    for number, row in enumerate(_subjects_filter(rows, options["subjects"], "category"), 1):
        question = _need(row, number, "mmlu_pro", "question")
        raw = [str(c) for c in _need(row, number, "mmlu_pro", "options")]
        index = _field(row, "answer_index")
        answer = int(index) if index is not None else LETTERS.index(str(_field(row, "answer")).strip().upper())
        kept = [i for i, c in enumerate(raw) if c.strip() != "N/A"]  # MMLU-Pro pads some questions with "N/A" options
        if answer not in kept:
            raise TaskError(f"mmlu_pro: row {number}: the answer index {answer} is not one of the {len(raw)} real options")
        choices = [raw[i] for i in kept]
        letter = LETTERS[kept.index(answer)]  # by position: two options may read the same
        meta = {"question_id": row.get("question_id"), "category": row.get("category"), "src": row.get("src")}
        items.append(_mc_item(ids, row.get("question_id"), str(question), choices, letter, meta))
    return items, MultipleChoiceEnv(items), None


def _obqa(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("obqa")
    items = []
    for number, row in enumerate(rows, 1):
        question = _need(row, number, "obqa", "question_stem", "question")
        choices = _need(row, number, "obqa", "choices")
        texts, labels = [str(t) for t in choices["text"]], [str(label) for label in choices["label"]]
        key = str(_need(row, number, "obqa", "answerKey", "answer")).strip()
        if key not in labels:
            raise TaskError(f"obqa: row {number}: answerKey {key!r} is not one of the labels {labels}")
        items.append(_mc_item(ids, row.get("id"), str(question), texts, LETTERS[labels.index(key)], {"id": row.get("id")}))
    return items, MultipleChoiceEnv(items), None


def _musr(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("musr")
    items = []
    for number, row in enumerate(rows, 1):
        narrative = str(_need(row, number, "musr", "narrative"))
        question = str(_need(row, number, "musr", "question"))
        choices = _need(row, number, "musr", "choices")
        if isinstance(choices, str):  # MuSR stores the options as a Python list literal
            try:
                choices = ast.literal_eval(choices)
            except (ValueError, SyntaxError):
                raise TaskError(f"musr: row {number}: 'choices' is not a list literal") from None
        choices = [str(c) for c in choices]
        letter = _answer_letter(_need(row, number, "musr", "answer_index"), len(choices), f"musr: row {number}")
        items.append(_mc_item(ids, narrative[:200], question, choices, letter, {"answer_choice": row.get("answer_choice")}, context=narrative))
    return items, MultipleChoiceEnv(items), None


# ------------------------------------------------------------------------------------ short answers, DROP

BBH_INSTRUCTION = "Work through the task, then end your response with a line of the form 'So the answer is <answer>.'"


def _bbh(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("bbh")
    items = []
    for number, row in enumerate(_subjects_filter(rows, options["subsets"], "subset", "task"), 1):
        text = str(_need(row, number, "bbh", "input"))
        target = str(_need(row, number, "bbh", "target"))
        subset = _field(row, "subset", "task")
        items.append(Item(id=ids(subset, text), prompt=_user(f"{text}\n\n{BBH_INSTRUCTION}"), reference={"target": target}, meta={"subset": subset}))
    return items, BBHEnv(items), None


DROP_INSTRUCTION = (
    "Answer the question using the passage. End your response with a line of the form 'Answer: <answer>'; "
    "when the answer has several parts (e.g. several names), separate them with ' | '."
)


def drop_annotations(row: dict[str, Any]) -> list[list[str]]:
    """Every gold answer of a DROP row, in any of the three public shapes: the official JSON (`answer` and a list
    of `validated_answers`, each with number / date / spans), EleutherAI/drop (the same, `validated_answers`
    stored column-wise) and ucinlp/drop (`answers_spans` with `spans`). Duplicates are dropped."""
    from hermes4.eval.checkers import drop_answer_strings

    found: list[list[str]] = []
    spans = row.get("answers_spans")
    if isinstance(spans, dict) and spans.get("spans"):
        found.append([str(s) for s in spans["spans"]])
    candidates = [row["answer"]] if isinstance(row.get("answer"), dict) else []
    validated = row.get("validated_answers") or []
    if isinstance(validated, dict):  # column-wise: {"number": [...], "date": [...], "spans": [[...]]}
        length = max((len(v) for v in validated.values() if isinstance(v, list)), default=0)
        validated = [{key: (values[i] if isinstance(values, list) and i < len(values) else None) for key, values in validated.items()} for i in range(length)]
    candidates += [v for v in validated if isinstance(v, dict)]
    for candidate in candidates:
        strings = drop_answer_strings(candidate)
        if strings and strings not in found:
            found.append(strings)
    return found


def _drop(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("drop")
    items = []
    for number, row in enumerate(rows, 1):
        passage = str(_need(row, number, "drop", "passage"))
        question = str(_need(row, number, "drop", "question"))
        answers = drop_annotations(row)
        if not answers:
            raise TaskError(f"drop: row {number}: no gold answer (expected 'answers_spans' with spans, or 'answer' with a number, date or spans)")
        text = f"Passage: {passage}\n\nQuestion: {question}\n\n{DROP_INSTRUCTION}"
        items.append(Item(id=ids(row.get("query_id"), question, passage[:200]), prompt=_user(text), reference={"answers": answers}, meta={"query_id": row.get("query_id")}))
    return items, DropEnv(items), None


def _simpleqa(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    if options["grader"] not in ("match", "judge"):
        raise TaskError(f"simpleqa: option grader={options['grader']!r}: expected match or judge")
    ids = _Ids("simpleqa")
    items = []
    for number, row in enumerate(rows, 1):
        problem = str(_need(row, number, "simpleqa", "problem", "question"))
        answer = str(_need(row, number, "simpleqa", "answer"))
        items.append(Item(id=ids(problem), prompt=_user(problem), reference={"answer": answer}, meta={"metadata": row.get("metadata")}))
    if options["grader"] == "judge":
        return items, None, SIMPLEQA
    return items, SimpleQAMatchEnv(items), None


def _refusal(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    ids = _Ids("refusalbench")
    items = []
    for number, row in enumerate(rows, 1):
        prompt = str(_need(row, number, "refusalbench", "prompt"))
        category = str(_need(row, number, "refusalbench", "category"))
        inverted = row.get("inverted", False)
        if isinstance(inverted, str):
            if inverted.strip().lower() not in ("true", "false", "1", "0", "yes", "no", ""):
                raise TaskError(f"refusalbench: row {number}: inverted={inverted!r} is not a boolean")
            inverted = inverted.strip().lower() in ("true", "1", "yes")
        reference = {"category": category, "inverted": bool(inverted)}
        items.append(Item(id=ids(row.get("id"), prompt), prompt=_user(prompt), reference=reference, meta={"id": row.get("id"), **reference}))
    return items, None, REFUSAL


# ---------------------------------------------------------------------------------------------------- code


def _livecodebench(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.envs.code import CodeEnv, read_problem

    since, until = options["since"], options["until"]
    for name, value in (("since", since), ("until", until)):
        if value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise TaskError(f"livecodebench: option {name}={value!r}: expected YYYY-MM-DD")
    ids = _Ids("livecodebench")
    items = []
    for number, row in enumerate(rows, 1):
        date = str(row.get("contest_date") or "")[:10]
        if (since and date and date < since) or (until and date and date > until):
            continue  # outside the window (the paper: problems from August 2024 on)
        try:
            problem = read_problem(row, where="livecodebench", number=number, public_only=options["public_only"])
        except ValueError as exc:
            raise TaskError(str(exc)) from None
        meta = {"question_id": row.get("question_id"), "contest_date": date, "difficulty": row.get("difficulty"), "platform": row.get("platform")}
        items.append(Item(id=ids(row.get("question_id"), problem.question), prompt=_user(problem.text),
                          reference={"tests": problem.tests, "func_name": problem.func_name}, meta=meta))
    if not items:
        raise TaskError(f"livecodebench: no problems between since={since or '-'} and until={until or '-'}")
    return items, CodeEnv(time_limit_s=options["time_limit_s"], public_only=options["public_only"]), None


# ------------------------------------------------------------------------------------------------ ifeval


def _ifeval(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.envs.ifeval.env import IFEvalEnv
    from hermes4.envs.ifeval.instructions import INSTRUCTIONS_BY_ID

    ids = _Ids("ifeval")
    items = []
    for number, row in enumerate(rows, 1):
        prompt = str(_need(row, number, "ifeval", "prompt"))
        instruction_ids = _need(row, number, "ifeval", "instruction_id_list")
        kwargs = row.get("kwargs") or [{} for _ in instruction_ids]
        if not isinstance(instruction_ids, list) or not isinstance(kwargs, list) or len(kwargs) != len(instruction_ids):
            raise TaskError(f"ifeval: row {number}: needs 'instruction_id_list' and one 'kwargs' entry per instruction")
        unknown = [i for i in instruction_ids if i not in INSTRUCTIONS_BY_ID]
        if unknown:
            raise TaskError(f"ifeval: row {number}: unknown instruction id {unknown[0]!r}")
        # The hub copy fills every kwarg slot, unused ones with null; IFEval drops those before checking.
        kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in kwargs]
        reference = {"instruction_id_list": list(instruction_ids), "kwargs": kwargs}
        items.append(Item(id=ids(row.get("key"), prompt), prompt=_user(prompt), reference=reference, meta={"key": row.get("key")}))
    return items, IFEvalEnv(), None


# ------------------------------------------------------------------- judge-era benchmarks (eval/benchmarks/)


def _arena_hard(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.eval.benchmarks.arena_hard import build

    return build(rows, options)


def _rewardbench(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.eval.benchmarks.rewardbench import build

    return build(rows, options)


def _eqbench3(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.eval.benchmarks.creative import build_eqbench3

    return build_eqbench3(rows, options)


def _creative_writing3(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.eval.benchmarks.creative import build_creative_writing3

    return build_creative_writing3(rows, options)


# ---------------------------------------------------------------------------------------------- registry

_COMMON: dict[str, tuple[type, Any, str]] = {
    "data": (str, SAMPLE, "local file/folder, hf:owner/name (hub, only where the network allows) or sample"),
    "split": (str, "", "split of a saved datasets folder or hub dataset"),
    "config": (str, "", "hub dataset config (e.g. gpqa_diamond, all)"),
}

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("math500", "MATH-500", "accuracy", _math("math500"), 10),
        Benchmark("aime24", "AIME'24", "accuracy", _math("aime24"), 11, split="train"),
        Benchmark("aime25", "AIME'25", "accuracy", _math("aime25"), 12),
        Benchmark("gpqa_diamond", "GPQA Diamond", "accuracy", _gpqa, 13, {"shuffle_seed": (int, 0, "seed of the option order")}, split="train"),
        Benchmark("bbh", "BBH", "accuracy", _bbh, 20, {"subsets": (list, [], "subtasks to keep, joined with +")}),
        Benchmark(
            "livecodebench",
            "LiveCodeBench",
            "accuracy",
            _livecodebench,
            21,
            {
                "since": (str, "", "first contest date kept, YYYY-MM-DD (the paper: 2024-08-01)"),
                "until": (str, "", "last contest date kept, YYYY-MM-DD"),
                "public_only": (bool, False, "run only the public tests"),
                "time_limit_s": (float, 6.0, "wall-clock limit per test"),
            },
        ),
        Benchmark("mmlu", "MMLU", "accuracy", _mmlu, 30, {"subjects": (list, [], "subjects to keep, joined with +")}),
        Benchmark("mmlu_pro", "MMLU-Pro", "accuracy", _mmlu_pro, 31, {"subjects": (list, [], "categories to keep, joined with +")}),
        Benchmark("simpleqa", "SimpleQA", "simpleqa", _simpleqa, 32, {"grader": (str, "match", "match (normalised string) or judge")}),
        Benchmark("ifeval", "IFEval", "ifeval", _ifeval, 40, split="train"),
        Benchmark("arena_hard", "Arena-Hard v1", "winrate", _arena_hard, 41, {"baseline": (str, "", "the baseline model's answers (model_answer/<name>.jsonl); the sample has its own")}),
        Benchmark("refusalbench", "RefusalBench", "refusal", _refusal, 42),
        Benchmark(
            "rewardbench",
            "RewardBench",
            "rewardbench",
            _rewardbench,
            43,
            {"subsets": (list, [], "subsets to keep, joined with +"), "order_seed": (int, 0, "seed of the chosen answer's position")},
            split="filtered",
        ),
        Benchmark("drop", "DROP", "f1", _drop, 50, split="validation"),
        Benchmark("musr", "MuSR", "accuracy", _musr, 51, split="murder_mysteries"),
        Benchmark("obqa", "OBQA", "accuracy", _obqa, 52),
        Benchmark("eqbench3", "EQBench3", "rubric", _eqbench3, 60),
        Benchmark("creative_writing3", "CreativeWriting3", "rubric", _creative_writing3, 61, {"iterations": (int, 1, "seed modifiers per prompt (the benchmark runs 3)")}),
    ]
}


def task_names() -> list[str]:
    return sorted(BENCHMARKS, key=lambda n: BENCHMARKS[n].order)


def benchmark_options(name: str) -> dict[str, tuple[type, Any, str]]:
    return {**_COMMON, **BENCHMARKS[name].options}


def split_task_list(text: str) -> list[str]:
    """`"math500,gpqa_diamond:data=x.csv,shuffle_seed=1,ifeval"` -> the three specs: a piece with `=` before any
    `:` is an option of the task before it."""
    specs: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        colon, equals = piece.find(":"), piece.find("=")
        is_option = equals >= 0 and (colon < 0 or equals < colon)
        if is_option and specs:
            specs[-1] += f",{piece}"
        elif is_option:
            raise TaskError(f"--task: {piece!r} is an option but no task comes before it")
        else:
            specs.append(piece)
    return specs


def load_task(spec: str | Task) -> Task:
    """The task for a spec (`name` or `name:key=value,...`); a `Task` is returned as is."""
    if isinstance(spec, Task):
        return spec
    name, raw = parse_spec(spec, kind="task", error=TaskError)
    if name not in BENCHMARKS:
        raise TaskError(f"task {name!r}: no such benchmark; known: {', '.join(task_names())}")
    benchmark = BENCHMARKS[name]
    allowed = benchmark_options(name)
    options = {key: default for key, (_, default, _) in allowed.items()}
    types = {key: kind for key, (kind, _, _) in allowed.items()}
    options.update(convert_options(name, raw, types, kind="task", error=TaskError, allowed_label="allowed"))
    try:
        rows = load_rows(options["data"], benchmark=name, split=options["split"] or benchmark.split, config=options["config"] or None)
        items, env, rubric = benchmark.build(rows, options)
    except DatasetError as exc:
        raise TaskError(f"task {name!r}: {exc}") from None
    except TaskError as exc:
        message = str(exc)
        raise TaskError(message if message.startswith(name) else f"task {name!r}: {message}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise TaskError(f"task {name!r}: the rows are not in the {benchmark.label} format ({type(exc).__name__}: {exc})") from None
    if not items:
        raise TaskError(f"task {name!r}: the dataset has no items")
    return Task(
        name=name,
        spec=spec.strip(),
        label=benchmark.label,
        metric=benchmark.metric,
        items=items,
        env=env,
        rubric=rubric,
        source=describe_source(options["data"], name),
        order=benchmark.order,
    )
