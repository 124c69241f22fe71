"""`ifeval`: IFEval-style prompts (composed, or IFEval's own input file) judged strictly and loosely."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from hermes4.chat.messages import Conversation, Message
from hermes4.envs.answer import final_answer
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.ifeval.composer import compose
from hermes4.envs.ifeval.instructions import IFEVAL_IDS, INSTRUCTIONS_BY_ID, follows
from hermes4.envs.math_env import load_rows
from hermes4.envs.registry import register_env


def load_ifeval_rows(path: Path) -> list[dict]:
    """IFEval's `input_data.jsonl` shape: key, prompt, instruction_id_list, kwargs (one dict per instruction)."""
    rows = load_rows(path)
    for number, row in enumerate(rows, 1):
        ids, kwargs = row.get("instruction_id_list"), row.get("kwargs")
        if not isinstance(row.get("prompt"), str) or not isinstance(ids, list) or not isinstance(kwargs, list) or len(ids) != len(kwargs):
            raise ValueError(f"{path}: row {number}: needs 'prompt', 'instruction_id_list' and one 'kwargs' entry per instruction")
        unknown = [i for i in ids if i not in INSTRUCTIONS_BY_ID]
        if unknown:
            raise ValueError(f"{path}: row {number}: unknown instruction id {unknown[0]!r}")
    return rows


@register_env("ifeval")
class IFEvalEnv(Env):
    """Instruction following: all 25 IFEval types (strict and loose) plus composed, witness-checked constraint sets."""

    check_timeout_s = 5.0

    def __init__(
        self,
        dataset: str = "",
        n: int = 200,
        seed: int = 0,
        min_instructions: int = 1,
        max_instructions: int = 3,
        ifeval_only: bool = False,
        mode: str = "strict",
    ) -> None:
        if mode not in ("strict", "loose"):
            raise ValueError(f"option mode: expected strict or loose, got {mode!r}")
        if not 1 <= min_instructions <= max_instructions <= 6:
            raise ValueError("options min_instructions/max_instructions: need 1 <= min <= max <= 6")
        self.rows = load_ifeval_rows(Path(dataset)) if dataset else None
        self.n, self.seed, self.mode = n, seed, mode
        self.min_instructions, self.max_instructions = min_instructions, max_instructions
        self.pool = IFEVAL_IDS if ifeval_only else None

    def warm_up(self) -> None:
        from hermes4.envs.ifeval import langid, text

        text.sentence_tokenizer(), text.word_tokens("warm up"), text.count_words("warm up")
        langid.identify("warm up the language profiles of this detector")

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        if self.rows is not None:
            return [self._item(str(row.get("key", i)), row["prompt"], row["instruction_id_list"], row["kwargs"], {}) for i, row in enumerate(self.rows)]
        out = []
        for index in range(self.n):
            digest = hashlib.sha256(f"ifeval|{split}|{self.seed + seed}|{index}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            composed = compose(rng, count=rng.randint(self.min_instructions, self.max_instructions), pool=self.pool)
            out.append(self._item(f"{index}", composed.prompt, composed.instruction_ids, composed.kwargs, {"witness": composed.witness}))
        return out

    def _item(self, key: str, prompt: str, ids: list[str], kwargs: list[dict], meta: dict) -> Item:
        return Item(
            id=f"ifeval-{hashlib.sha256(f'{key}|{prompt}'.encode()).hexdigest()[:12]}",
            prompt=Conversation(messages=[Message(role="user", content=prompt)]),
            reference={"instruction_id_list": ids, "kwargs": kwargs},
            meta={"key": key, **meta},
        )

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        response = final_answer(trajectory, strip=False)
        results = []
        for instruction_id, kwargs in zip(item.reference["instruction_id_list"], item.reference["kwargs"]):
            kwargs = dict(kwargs or {})
            if instruction_id == "combination:repeat_prompt" and not kwargs.get("prompt_to_repeat"):
                kwargs["prompt_to_repeat"] = item.prompt.messages[-1].content or ""
            results.append(
                {
                    "id": instruction_id,
                    "strict": bool(follows(instruction_id, response, kwargs)),
                    "loose": bool(follows(instruction_id, response, kwargs, loose=True)),
                }
            )
        prompt_strict = all(r["strict"] for r in results)
        prompt_loose = all(r["loose"] for r in results)
        details = {"instructions": results, "prompt_strict": prompt_strict, "prompt_loose": prompt_loose, "mode": self.mode}
        return Verdict.judge(prompt_strict if self.mode == "strict" else prompt_loose, **details)
