"""A scripted student for the reasoning-budget eval tests: on MATH-500 it reasons far past any test budget on the
even items (then answers right, too late for a short limit), briefly on the odd ones; after a `</think>` forced by a
budget it answers right away, as length control trained it. It reads raw prompts (the client-side budget sends
rendered prompts to /v1/completions) as well as chat requests."""

from __future__ import annotations

from functools import lru_cache

from hermes4.llm import ScriptRequest

REASONING_SYSTEM = "You are a deep thinking AI"
LONG_STEPS = 300  # words of reasoning on the even items: past a 200-token limit, far past a 40-token budget


@lru_cache(maxsize=1)
def _items() -> list[tuple[str, str]]:
    from hermes4.eval import load_task

    return [(item.prompt.messages[-1].content or "", str(item.reference["answer"])) for item in load_task("math500").items]


def long_thinker(request: ScriptRequest) -> str:
    index, answer = next((i, a) for i, (question, a) in enumerate(_items()) if question in request.prompt)
    final = f"The result is \\boxed{{{answer}}}."
    if request.prompt.rstrip().endswith("</think>"):
        return f"\n{final}"
    if not (request.thinking or REASONING_SYSTEM in request.prompt):
        return final
    steps = LONG_STEPS if index % 2 == 0 else 5
    return "<think>\n" + "checking this step " * (steps // 3) + "\n</think>\n" + final
