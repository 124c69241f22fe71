"""The length-control data transform: reasoning traces cut at a token budget, closed with `</think>` + end of turn.

For each trace (the prompt's ids and the ids the model generated after it), with `budget` counted in
generated tokens:

- closed naturally: `</think>` is among the first `budget` generated tokens; not used (nothing to teach);
- cut: at least `budget` tokens were generated and none of them is `</think>`; the sample is
  prompt + the first `budget` generated tokens + `</think>` + end of turn, and ONLY those two inserted tokens
  carry loss (mask 1), so the model learns to stop thinking at the budget and nothing else;
- short: fewer than `budget` tokens, never closed (the generation stopped early); not used.

`used` counts the samples produced (the cut traces that fit `max_length`; a longer one is dropped and counted).
The generation itself and the training run belong to the `hermes4 length-control` command; this module is
the pure transform, so it is tested token by token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from hermes4.train.data import TokenizedSamples

Outcome = Literal["closed", "cut", "short"]


@dataclass
class LengthControlReport:
    traces: int = 0
    closed_naturally: int = 0
    cut: int = 0
    short: int = 0
    dropped_overlong: int = 0
    used: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


def control_token_ids(tokenizer, format: str = "chatml") -> tuple[int, int]:
    """(`</think>` id, end-of-turn id) for `tokenizer`; each must be a single token of its vocabulary."""
    from hermes4.chat import get_format

    ids = []
    for text in ("</think>", get_format(format).end_of_turn):
        encoded = tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) != 1:
            raise ValueError(f"tokenizer: {text!r} must be a single token for length control, it encodes to {encoded}")
        ids.append(encoded[0])
    return ids[0], ids[1]


def classify(completion_ids: list[int], *, budget: int, think_end_id: int) -> Outcome:
    if think_end_id in completion_ids[:budget]:
        return "closed"
    return "cut" if len(completion_ids) >= budget else "short"


def cut_trace(
    prompt_ids: list[int], completion_ids: list[int], *, budget: int, think_end_id: int, end_of_turn_id: int
) -> tuple[Outcome, list[int] | None, list[int] | None]:
    """The outcome and, for a cut trace, its `(input_ids, loss_mask)` with loss only on the two inserted tokens."""
    if budget < 1:
        raise ValueError(f"budget: must be at least 1 token, got {budget}")
    outcome = classify(completion_ids, budget=budget, think_end_id=think_end_id)
    if outcome != "cut":
        return outcome, None, None
    ids = [*prompt_ids, *completion_ids[:budget], think_end_id, end_of_turn_id]
    mask = [0] * (len(ids) - 2) + [1, 1]
    return outcome, ids, mask


def build_length_control_samples(
    traces: Iterable[tuple[list[int], list[int]]],
    *,
    budget: int,
    think_end_id: int,
    end_of_turn_id: int,
    max_length: int | None = None,
) -> tuple[TokenizedSamples, LengthControlReport]:
    """Training samples from `(prompt_ids, completion_ids)` traces, and the counts of what happened to each."""
    report = LengthControlReport()
    samples = []
    for prompt_ids, completion_ids in traces:
        report.traces += 1
        outcome, ids, mask = cut_trace(
            list(prompt_ids), list(completion_ids), budget=budget, think_end_id=think_end_id, end_of_turn_id=end_of_turn_id
        )
        if outcome == "closed":
            report.closed_naturally += 1
        elif outcome == "short":
            report.short += 1
        else:
            report.cut += 1
            if max_length is not None and len(ids) > max_length:
                report.dropped_overlong += 1
                continue
            samples.append((ids, mask))
    report.used = len(samples)
    return TokenizedSamples.from_lists(samples), report
