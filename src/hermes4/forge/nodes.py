"""DataForge nodes backed by a model: prompt-template nodes and the judge -> revise loop.

Every model call a node makes is kept as an intermediate step (its own conversation, flagged by stage),
so a mix can train on transformations, instruction generation and judging as well as on the final pair.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict, Field

from hermes4.chat.messages import Conversation, Message
from hermes4.forge.graph import Node, State, Step, WalkContext, WalkError
from hermes4.llm.types import Sampling

_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


class Validation(BaseModel):
    """Checks on a node's text output; a failing output is retried, then the walk fails at this node."""

    model_config = ConfigDict(extra="forbid")

    min_chars: int = 1
    max_chars: int | None = None
    must_match: str | None = None  # a regular expression the output must contain
    must_not_contain: list[str] = Field(default_factory=list)

    def problems(self, text: str) -> list[str]:
        found = []
        if len(text) < self.min_chars:
            found.append(f"shorter than {self.min_chars} characters")
        if self.max_chars is not None and len(text) > self.max_chars:
            found.append(f"longer than {self.max_chars} characters")
        if self.must_match and not re.search(self.must_match, text):
            found.append(f"does not match {self.must_match!r}")
        found += [f"contains {s!r}" for s in self.must_not_contain if s in text]
        return found


def render_template(template: str, state: State, node: str) -> str:
    try:
        return _JINJA.from_string(template).render(**state)
    except jinja2.UndefinedError as exc:
        raise WalkError(f"node {node}: its prompt uses a fact the state does not have ({exc.message})") from None
    except jinja2.TemplateSyntaxError as exc:
        raise WalkError(f"node {node}: prompt template line {exc.lineno}: {exc.message}") from None


async def ask(
    ctx: WalkContext, llm_name: str, system: str | None, user: str, sampling: Sampling, *, node: str, attempt: int
) -> str:
    """One model call on behalf of a node, seeded from the walk so a replay asks the same question the same way."""
    llm = ctx.llms.get(llm_name)
    if llm is None:
        raise WalkError(f"node {node}: needs the model {llm_name!r}, but the walk has {sorted(ctx.llms) or 'none'}")
    messages = ([Message(role="system", content=system)] if system else []) + [Message(role="user", content=user)]
    seeded = sampling.model_copy(update={"seed": ctx.derived_seed(node, attempt), "n": 1})
    completions = await llm.chat(Conversation(messages=messages), sampling=seeded, thinking=False)
    return completions[0].content.strip()


def step_conversation(system: str | None, user: str, answer: str) -> Conversation:
    messages = ([Message(role="system", content=system)] if system else []) + [
        Message(role="user", content=user),
        Message(role="assistant", content=answer),
    ]
    return Conversation(messages=messages)


class LLMNode(Node):
    """Render a prompt from the state, ask a model, check the output, write it into the state.

    `output: json` reads a JSON object (schema-checked when `schema` is given) and writes each of its
    top-level fields as a fact; `output: text` writes the text to `writes`. `sets` adds constant facts.
    """

    def __init__(
        self,
        name: str,
        *,
        prompt: str,
        system: str | None = None,
        llm: str = "default",
        sampling: Sampling | None = None,
        output: str = "text",
        writes: str | None = None,
        schema: dict[str, Any] | None = None,
        sets: dict[str, Any] | None = None,
        validation: Validation | None = None,
        retries: int = 2,
        **node_kwargs: Any,
    ) -> None:
        super().__init__(name, **node_kwargs)
        if output not in ("text", "json"):
            raise ValueError(f"node {name}: output {output!r}: expected 'text' or 'json'")
        if output == "text" and not writes:
            raise ValueError(f"node {name}: a text node needs `writes` (the fact that receives its output)")
        self.prompt, self.system, self.llm = prompt, system, llm
        self.sampling = sampling or Sampling(max_tokens=1024)
        self.output, self.writes, self.schema = output, writes, schema
        self.sets = dict(sets or {})
        self.validation = validation or Validation()
        self.retries = retries

    def _read(self, text: str) -> tuple[dict[str, Any] | None, list[str]]:
        if self.output == "text":
            problems = self.validation.problems(text)
            return (None if problems else {self.writes: text}), problems
        from hermes4.parse.jsontools import find_json, validate

        value = find_json(text)
        if not isinstance(value, dict):
            return None, ["no JSON object in the output"]
        if self.schema is not None:
            errors = validate(value, self.schema)
            if errors:
                return None, [str(e) for e in errors]
        if self.writes:
            return {self.writes: value}, []
        return value, []

    async def run(self, state: State, ctx: WalkContext) -> State:
        user = render_template(self.prompt, state, self.name)
        system = render_template(self.system, state, self.name) if self.system else None
        problems: list[str] = []
        for attempt in range(self.retries + 1):
            text = await ask(ctx, self.llm, system, user, self.sampling, node=self.name, attempt=attempt)
            facts, problems = self._read(text)
            if facts is not None:
                ctx.steps.append(Step(ctx.prefix + self.name, self.stage, step_conversation(system, user, text)))
                return {**state, **facts, **self.sets}
        raise WalkError(f"node {ctx.prefix}{self.name}: output rejected after {self.retries + 1} attempts: {problems}")


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str


DEFAULT_RUBRIC = [
    Criterion(name="clarity", description="the answer is clear, well organised and easy to follow"),
    Criterion(name="relevance", description="the answer does what the instruction asks, no more and no less"),
    Criterion(name="depth", description="the answer is substantive, specific and correct, not generic"),
    Criterion(name="faithfulness", description="claims about the passage are supported by the passage"),
]

JUDGE_PROMPT = """Score the answer to the instruction on each criterion from 1 (poor) to 10 (excellent).

Criteria:
{% for c in rubric %}- {{ c.name }}: {{ c.description }}
{% endfor %}
{% if passage %}Passage:
{{ passage }}

{% endif %}Instruction:
{{ instruction }}

Answer:
{{ answer }}

Reply with one JSON object: {"scores": {<criterion>: <1-10>, ...}, "feedback": "<what to improve>"}"""

REVISE_PROMPT = """Revise the answer so that it fully addresses the reviewer's feedback. Reply with the new answer only.

{% if passage %}Passage:
{{ passage }}

{% endif %}Instruction:
{{ instruction }}

Previous answer:
{{ answer }}

Reviewer feedback:
{{ feedback }}"""


class JudgeNode(Node):
    """Score `answer` against a rubric; below `threshold` revise with the feedback up to `max_revisions`
    times, else discard the walk. Every attempt and score is kept; a judge answer that cannot be read
    counts as a judge failure (reported), never as a pass."""

    def __init__(
        self,
        name: str,
        *,
        rubric: list[Criterion] | None = None,
        threshold: float = 7.0,
        max_revisions: int = 2,
        llm: str = "judge",
        reviser: str = "default",
        sampling: Sampling | None = None,
        **node_kwargs: Any,
    ) -> None:
        node_kwargs.setdefault("stage", "judge")
        super().__init__(name, **node_kwargs)
        self.rubric = rubric or DEFAULT_RUBRIC
        self.threshold, self.max_revisions = threshold, max_revisions
        self.llm, self.reviser = llm, reviser
        self.sampling = sampling or Sampling(temperature=0.0, max_tokens=512)
        names = [c.name for c in self.rubric]
        self.schema = {
            "type": "object",
            "properties": {
                "scores": {
                    "type": "object",
                    "properties": {n: {"type": "number", "minimum": 1, "maximum": 10} for n in names},
                    "required": names,
                },
                "feedback": {"type": "string"},
            },
            "required": ["scores", "feedback"],
        }

    def _score(self, text: str) -> tuple[dict[str, float] | None, str, str | None]:
        from hermes4.parse.jsontools import find_json, validate

        value = find_json(text)
        if not isinstance(value, dict):
            return None, "", "the judge's answer has no JSON object"
        errors = validate(value, self.schema)
        if errors:
            return None, "", f"the judge's JSON does not fit the rubric: {errors[0]}"
        return {c.name: float(value["scores"][c.name]) for c in self.rubric}, value["feedback"], None

    async def run(self, state: State, ctx: WalkContext) -> State:
        passage = state.get("passage") if state.get("with_passage", "yes") == "yes" else None
        answer = state["answer"]
        for revision in range(self.max_revisions + 1):
            view = {"rubric": self.rubric, "passage": passage, "instruction": state["instruction"], "answer": answer}
            prompt = render_template(JUDGE_PROMPT, view, self.name)
            text = await ask(ctx, self.llm, None, prompt, self.sampling, node=self.name, attempt=revision)
            scores, feedback, error = self._score(text)
            mean = sum(scores.values()) / len(scores) if scores else None
            ctx.attempts.append(
                {"node": ctx.prefix + self.name, "revision": revision, "answer": answer, "scores": scores,
                 "mean": mean, "feedback": feedback, "judge_error": error}
            )
            if scores is not None:
                ctx.steps.append(Step(ctx.prefix + self.name, "judge", step_conversation(None, prompt, text)))
                if mean >= self.threshold:
                    return {**state, "answer": answer, "judged": "pass", "score": round(mean, 3)}
            if revision == self.max_revisions:
                break
            feedback = feedback or "The answer was not judged acceptable; make it clearer, more complete and correct."
            revise = render_template(REVISE_PROMPT, {**view, "feedback": feedback}, self.name)
            answer = await ask(ctx, self.reviser, None, revise, Sampling(max_tokens=1024), node=self.name + ".revise", attempt=revision)
            ctx.steps.append(Step(ctx.prefix + self.name, "revise", step_conversation(None, revise, answer)))
        last = ctx.attempts[-1]
        reason = last["judge_error"] or f"score {last['mean']:.2f} below {self.threshold} after {self.max_revisions} revisions"
        raise Discarded(reason)


class Discarded(WalkError):
    """The judge did not accept the answer within its revisions: the walk yields no final sample."""
