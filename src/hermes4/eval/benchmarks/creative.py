"""EQBench3 and CreativeWriting3: the model writes (a role-play reply to an emotionally loaded scenario; a piece
of fiction for a prompt), a judge scores it on each criterion of the benchmark's rubric on 0..20, and the rubric
score is the mean (negative criteria inverted) on 0..100. Data in the public shapes: EQBench3 scenarios
(scenario_id, category, title, prompts: the turns), CreativeWriting3's prompt file
({id: {title, category, writing_prompt, seed_modifiers}}, `<SEED>` replaced by one modifier per iteration).

EQBench3 scenarios are multi-turn: `ScenarioEnv` sends each turn after the model's reply, and the judge reads the
whole transcript (the trajectory's `transcript`)."""

from __future__ import annotations

from typing import Any

from hermes4.chat.messages import Conversation, Message
from hermes4.envs import Env, Item, Trajectory, Verdict
from hermes4.envs.answer import strip_reasoning
from hermes4.eval.checkers import BenchmarkEnv
from hermes4.eval.judge import Rubric

EQ_CRITERIA = (
    "Demonstrated empathy", "Pragmatic emotional intelligence", "Depth of insight", "Social dexterity",
    "Emotional reasoning", "Message tailoring", "Boundary setting", "Safety consciousness",
)
CW_POSITIVE = (
    "Adherence to instructions", "Believable character actions", "Nuanced characters", "Consistent voice and tone",
    "Imagery and descriptive quality", "Elegant prose", "Emotionally engaging", "Emotionally complex", "Coherent",
    "Well-earned lightness or darkness", "Sentences flow naturally", "Overall reader engagement", "Overall impression",
)
CW_NEGATIVE = (
    "Meandering", "Weak dialogue", "Tell-don't-show", "Unsurprising or uncreative", "Amateurish", "Purple prose",
    "Overwrought", "Incongruent ending positivity", "Unearned transformations",
)

_SCORE_FORMAT = (
    "First write a short analysis (a few sentences), then a line '[Scores]' followed by one line per criterion in "
    "exactly the form 'Criterion name: score', each score a number from 0 to 20. Use the whole scale; be strict."
)

# Shaped as EQ-Bench 3's rubric judging: the scenario, the transcript, the criteria, analysis then scores. Own wording.
EQBENCH3 = Rubric(
    name="eqbench3",
    kind="scores",
    system="You are an expert in emotional intelligence and interpersonal skill, assessing an AI's role-play responses.",
    template=(
        "The AI was put in the scenario below and asked to respond in character; the transcript holds every turn "
        "of the scenario and the AI's replies.\n\n[SCENARIO]\n{request}\n[/SCENARIO]\n\n"
        "[AI RESPONSE]\n{response}\n[/AI RESPONSE]\n\n"
        "Score the response on these criteria (0 = absent, 20 = exemplary), judging what a emotionally intelligent, "
        "grounded person would do, not what sounds nice:\n{criteria}\n\n" + _SCORE_FORMAT
    ),
    criteria=EQ_CRITERIA,
)

# Shaped as Creative Writing v3's judging prompt: the prompt, the piece, the criteria, analysis then scores.
CREATIVE_WRITING3 = Rubric(
    name="creative_writing3",
    kind="scores",
    system="You are an expert literary critic assessing a piece of creative writing.",
    template=(
        "[WRITING PROMPT]\n{request}\n[/WRITING PROMPT]\n\n[TEST MODEL RESPONSE]\n{response}\n[/TEST MODEL RESPONSE]\n\n"
        "Score the piece on these criteria, 0 to 20 each. For criteria marked (lower is better), a high score means "
        "the flaw is strongly present:\n{criteria}\n\n" + _SCORE_FORMAT
    ),
    criteria=CW_POSITIVE + CW_NEGATIVE,
    negative=CW_NEGATIVE,
)


class ScenarioEnv(BenchmarkEnv):
    """EQBench3's role-play: the scenario's turns are sent one after another, each after the model's reply; a
    reply cut by the token limit ends the scenario. The judge grades the transcript, not a single answer."""

    name = "eqbench3_scenario"

    async def rollout(self, item: Item, llm: Any, sampling: Any, *, thinking: bool = False) -> Trajectory:
        one = sampling.model_copy(update={"n": 1}) if getattr(sampling, "n", 1) != 1 else sampling
        messages = list(item.prompt.messages)
        produced: list[Message] = []
        completions = []
        lines = []
        for index, turn in enumerate(item.reference["turns"]):
            if index:
                messages.append(Message(role="user", content=turn))
                produced.append(messages[-1])
            completion = (await llm.chat(Conversation(messages=messages), sampling=one, thinking=thinking))[0]
            reply = completion.parsed.to_message()
            messages.append(reply)
            produced.append(reply)
            completions.append(completion)
            lines.append(f"--- Turn {index + 1}, the scenario ---\n{turn.strip()}\n--- Turn {index + 1}, the AI ---\n{strip_reasoning(reply.content or '').strip()}")
            if completion.finish_reason == "length":
                break
        return Trajectory(
            messages=produced,
            completions=completions,
            completion_tokens=sum(int(c.completion_tokens or 0) for c in completions),
            finish_reason=completions[-1].finish_reason,
            meta={"thinking": thinking, "turns": len(completions), "transcript": "\n\n".join(lines)},
        )

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        return Verdict("error", 0.0, {"reason": "eqbench3 is graded by the judge (pass --judge)"})


def build_eqbench3(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.eval.tasks import TaskError, _Ids, _need, _user

    ids = _Ids("eqbench3")
    items = []
    for number, row in enumerate(rows, 1):
        prompts = _need(row, number, "eqbench3", "prompts", "turns")
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise TaskError(f"eqbench3: row {number}: 'prompts' must be a non-empty list of turn texts")
        scenario = row.get("scenario_id", number)
        meta = {"scenario_id": scenario, "category": row.get("category"), "title": row.get("title"), "turns": len(prompts)}
        reference = {"category": row.get("category"), "turns": [p.strip() for p in prompts]}
        items.append(Item(id=ids(scenario, prompts[0]), prompt=_user(prompts[0].strip()), reference=reference, meta=meta))
    return items, ScenarioEnv(items), EQBENCH3


def build_creative_writing3(rows: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[Item], Env | None, Rubric | None]:
    from hermes4.eval.tasks import TaskError, _Ids, _need, _user

    if options["iterations"] < 1:
        raise TaskError(f"creative_writing3: option iterations={options['iterations']}: expected at least 1")
    ids = _Ids("creative_writing3")
    items = []
    for number, row in enumerate(rows, 1):
        text = str(_need(row, number, "creative_writing3", "writing_prompt", "prompt"))
        modifiers = [str(m) for m in row.get("seed_modifiers") or []]
        if "<SEED>" in text and len(modifiers) < options["iterations"]:
            raise TaskError(f"creative_writing3: row {number}: {options['iterations']} iterations need as many seed_modifiers (found {len(modifiers)})")
        prompt_id = row.get("_key", row.get("prompt_id", number))
        for iteration in range(options["iterations"] if "<SEED>" in text else 1):
            filled = text.replace("<SEED>", modifiers[iteration]) if modifiers else text
            meta = {"prompt_id": prompt_id, "title": row.get("title"), "category": row.get("category"), "iteration": iteration + 1}
            items.append(Item(id=ids(prompt_id, iteration, filled), prompt=_user(filled), reference={"category": row.get("category")}, meta=meta))
    return items, None, CREATIVE_WRITING3
