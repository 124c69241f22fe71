"""A scripted teacher for reasoning-gym items: answers with the dataset's own solution, with planted mistakes.

It cannot solve a hundred task families, so it looks answers up: `make_teacher(env_spec)` generates that env's
items (the same ones the sampler will ask about) and maps each prompt to a known-correct answer (the entry's
`answer`, or a valid solution from its metadata where the dataset has no single answer; items with neither get
no correct answer, as a real teacher fails some). A configured fraction of replies carry a planted mistake,
chosen deterministically from (seed, prompt, sample_index, sampling seed), so the verifier rejects exactly those.

For `--llm scripted:hermes4.teacher.reasoning_gym:teacher`: `HERMES4_RG_TEACHER_ENV` (the env spec; default
`reasoning_gym:preset=broad`), `HERMES4_RG_TEACHER_SPLIT` (default train), `HERMES4_TEACHER_ERROR_RATE` (default
0.2) and `HERMES4_TEACHER_SEED` (default 0).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from hermes4.envs.rgym.catalog import oracle_answer

if TYPE_CHECKING:
    from hermes4.envs import Env
    from hermes4.llm import ScriptRequest

DEFAULT_ENV = "reasoning_gym:preset=broad"
_OPENINGS = ("Let me work through this carefully.", "First I restate the task, then solve it.", "Step by step:")


def _last_user_text(request: ScriptRequest) -> str:
    if request.conversation is not None:
        for message in reversed(request.conversation.messages):
            if message.role == "user":
                return message.content or ""
        return ""
    from hermes4.envs.procedural import split_rendered_prompt

    return split_rendered_prompt(request.prompt)[0]


def _wrong(answer: str, rng: random.Random) -> str:
    """A plausible slip: one character changed (a digit bumped, else a letter swapped), or the answer dropped."""
    positions = [i for i, c in enumerate(answer) if c.isalnum()]
    if not positions:
        return answer + " 1"
    i = rng.choice(positions)
    c = answer[i]
    replacement = str((int(c) + 1) % 10) if c.isdigit() else ("b" if c.lower() == "a" else "a")
    return answer[:i] + replacement + answer[i + 1 :]


def make_teacher(
    env: str | Env = DEFAULT_ENV, error_rate: float = 0.2, seed: int = 0, split: str = "train", items_seed: int = 0
) -> Callable[[ScriptRequest], str]:
    """A scripted model function that answers the items of `env` (a spec, or the env instance the sampler will use,
    whose items are then shared: `items(split, items_seed)`, as the sampler asks)."""
    if isinstance(env, str):
        answers = _answers_in_fresh_process(env, split, items_seed)
    else:
        answers = _answers(env, split, items_seed)

    def teach(request: ScriptRequest) -> str:
        text = _last_user_text(request)
        key = f"{seed}|{text}|{request.sample_index}|{request.sampling.seed}"
        rng = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
        known = answers.get(text)
        answer = "I do not know." if known is None else (_wrong(known, rng) if rng.random() < error_rate else known)
        if not request.thinking:
            return f"<answer>{answer}</answer>"
        reasoning = f"{rng.choice(_OPENINGS)} (path {rng.randrange(10**6)})\nThe task asks for one final answer; I work it out and check it."
        return f"<think>\n{reasoning}\n</think>\n<answer>{answer}</answer>"

    return teach


def _answers(env: str | Env, split: str, items_seed: int) -> dict[str, str | None]:
    from hermes4.envs import get_env

    return {item.prompt.messages[-1].content or "": oracle_answer(item.reference["entry"]) for item in get_env(env).items(split=split, seed=items_seed)}


def _answers_in_fresh_process(spec: str, split: str, items_seed: int) -> dict[str, str | None]:
    """The answer table, generated in a new interpreter: some reasoning-core generators keep module-level state, so
    only a fresh process reproduces the items a fresh sampler process generates (this teacher often shares one)."""
    with tempfile.TemporaryDirectory() as tmp:  # a file, not stdout: some generators print while they work
        path = os.path.join(tmp, "answers.json")
        code = (
            "import json; from hermes4.teacher.reasoning_gym import _answers; "
            f"json.dump(_answers({spec!r}, {split!r}, {items_seed}), open({path!r}, 'w', encoding='utf-8'))"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"the reasoning_gym teacher could not generate {spec!r}: {run.stderr.strip().splitlines()[-1:]}")
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)


_DEFAULT: Callable[[ScriptRequest], str] | None = None


def teacher(request: ScriptRequest) -> str:
    """The teacher configured from the environment variables (built on the first request)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = make_teacher(
            os.environ.get("HERMES4_RG_TEACHER_ENV", DEFAULT_ENV),
            error_rate=float(os.environ.get("HERMES4_TEACHER_ERROR_RATE", "0.2")),
            seed=int(os.environ.get("HERMES4_TEACHER_SEED", "0")),
            split=os.environ.get("HERMES4_RG_TEACHER_SPLIT", "train"),
        )
    return _DEFAULT(request)
