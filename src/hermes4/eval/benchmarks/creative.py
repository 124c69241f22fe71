"""EQBench3 and CreativeWriting3: the model writes (a role-play reply to an emotionally loaded scenario; a piece
of fiction for a prompt), a judge scores it on each criterion of the benchmark's rubric on 0..20, and the rubric
score is the mean (negative criteria inverted) on 0..100. Data in the public shapes: EQBench3 scenarios
(scenario_id, category, title, prompts: the turns), CreativeWriting3's prompt file
({id: {title, category, writing_prompt, seed_modifiers}}, `<SEED>` replaced by one modifier per iteration).

EQBench3 here rolls out a scenario's first turn (the runner holds one-turn conversations); the judge sees that
turn and the reply."""

from __future__ import annotations

from typing import Any

from hermes4.envs import Env, Item
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
        "The AI was put in the scenario below and asked to respond in character.\n\n[SCENARIO]\n{request}\n[/SCENARIO]\n\n"
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
        items.append(Item(id=ids(scenario, prompts[0]), prompt=_user(prompts[0].strip()), reference={"category": row.get("category")}, meta=meta))
    return items, None, EQBENCH3


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
