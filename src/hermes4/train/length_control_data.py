"""The length-control data transform: generated traces (in token ids) to samples that teach closing `</think>` at
the budget and nothing else.

A trace is what the SFT model generated for one prompt, in two phases (`hermes4.length_control` drives them):
the reasoning, stopped by the engine after at most `budget` generated ids; then, when the reasoning did not close
by itself, the model's own answer generated after a forced `</think>`. Outcomes:

- cut: the engine stopped the reasoning at the budget (counted by the engine in generated ids) and it holds no
  `</think>`. The sample is prompt + reasoning + `</think>` + the model's answer + end of turn, and ONLY
  `</think>` and the end-of-turn token carry loss. The answer is context (masked): the model learns to close at the
  budget and then still answer, not "`</think>` then end the turn" (which empties every answer).
- closed: `</think>` came within the budget. By default not used. With `keep_natural` it becomes a no-op sample
  (prompt + its own reasoning, `</think>`, answer, end of turn; loss on the same two tokens) that anchors the
  natural close at its own position while the cut samples move the close earlier.
- short: the engine stopped before the budget without `</think>` (it ended the turn inside the reasoning): not used.
- unanswered (counted beside cut/closed): the answer did not reach the end-of-turn token in its budget. The sample
  keeps the unfinished answer as context and trains `</think>` only, with no end token: training the end token
  after an unfinished answer would teach stopping mid-answer, while the close at the budget is still worth
  teaching.
- anchors (`anchor`, for the traces kept with `keep_natural`): what a trace that closed by itself trains besides
  its own close and end token. `lines`: the token the model itself wrote after each line break of its reasoning;
  `trace`: every token it wrote (reasoning, close, answer, end). The cut samples teach "close at this line break";
  a small model generalises that to every line break and closes short traces early too, and the updates that move
  the close also move what it has just learned (for the tiny recipe, an addition digit). The anchors hold the
  traces short enough to finish to the model's own output; they are its own tokens. The cut samples stay as the
  paper has them: only `</think>` and the end token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from hermes4.train.config import LengthControlAnchor as Anchor
from hermes4.train.data import TokenizedSamples

Outcome = Literal["closed", "cut", "short"]


@dataclass(frozen=True)
class Trace:
    """One generated trace in token ids.

    `reasoning_ids`: what the model generated after the prompt in the thinking phase (with `</think>` and what
    followed, for a trace that closed by itself); `hit_budget`: the engine stopped it at the control budget
    (its count of generated ids, not a re-tokenisation); `answer_ids`: the model's answer after `</think>`
    (forced or its own), without the end-of-turn token; `answered`: that answer ended with the end-of-turn token.
    """

    prompt_ids: list[int]
    reasoning_ids: list[int]
    hit_budget: bool
    answer_ids: list[int]
    answered: bool


@dataclass
class LengthControlReport:
    traces: int = 0
    closed_naturally: int = 0
    cut: int = 0
    short: int = 0
    unanswered: int = 0
    dropped_overlong: int = 0
    used: int = 0
    used_natural: int = 0
    anchors: int = 0  # tokens of the natural traces trained besides their close and end token (`anchor`)

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


def line_break_token_ids(tokenizer) -> frozenset[int]:
    """The ids of the vocabulary's tokens whose text ends in a line break (the decision points of `anchor: lines`)."""
    return frozenset(i for i in range(len(tokenizer)) if tokenizer.decode([i]).endswith("\n"))


def classify(trace: Trace, *, think_end_id: int) -> Outcome:
    if think_end_id in trace.reasoning_ids:
        return "closed"
    return "cut" if trace.hit_budget else "short"


def trace_sample(
    trace: Trace, *, think_end_id: int, end_of_turn_id: int, keep_natural: bool = False, anchor: Anchor = "close",
    line_break_ids: frozenset[int] = frozenset(),
) -> tuple[Outcome, list[int] | None, list[int] | None]:
    """The outcome and, for a usable trace, its `(input_ids, loss_mask)`: loss on `</think>` and the end token; a
    natural trace (`keep_natural`) also on what `anchor` names (`lines` needs `line_break_ids`: the ids of the
    tokens that end in a line break)."""
    outcome = classify(trace, think_end_id=think_end_id)
    if outcome == "short" or (outcome == "closed" and not keep_natural):
        return outcome, None, None
    if outcome == "cut":
        thinking = [*trace.reasoning_ids, think_end_id]
    else:  # the model's own close, at its own position; what it wrote after it is replaced by its answer
        thinking = trace.reasoning_ids[: trace.reasoning_ids.index(think_end_id) + 1]
    ending = [end_of_turn_id] if trace.answered else []
    ids = [*trace.prompt_ids, *thinking, *trace.answer_ids, *ending]
    mask = [0] * len(ids)
    close = len(trace.prompt_ids) + len(thinking) - 1
    mask[close] = 1
    if outcome == "closed" and anchor == "lines":
        for position in range(len(trace.prompt_ids) + 1, close):
            mask[position] = int(ids[position - 1] in line_break_ids)
    elif outcome == "closed" and anchor == "trace":
        mask[len(trace.prompt_ids):] = [1] * (len(ids) - len(trace.prompt_ids))
    if trace.answered:
        mask[-1] = 1
    return outcome, ids, mask


def build_length_control_samples(
    traces: Iterable[Trace],
    *,
    think_end_id: int,
    end_of_turn_id: int,
    keep_natural: bool = False,
    anchor: Anchor = "close",
    line_break_ids: frozenset[int] = frozenset(),
    max_length: int | None = None,
) -> tuple[TokenizedSamples, LengthControlReport]:
    """Training samples from generated traces, and the counts of what happened to each."""
    report = LengthControlReport()
    samples = []
    for trace in traces:
        report.traces += 1
        outcome, ids, mask = trace_sample(trace, think_end_id=think_end_id, end_of_turn_id=end_of_turn_id,
                                          keep_natural=keep_natural, anchor=anchor,
                                          line_break_ids=line_break_ids)
        report.closed_naturally += outcome == "closed"
        report.cut += outcome == "cut"
        report.short += outcome == "short"
        if ids is None:
            continue
        report.unanswered += not trace.answered
        if max_length is not None and len(ids) > max_length:
            report.dropped_overlong += 1
            continue
        report.used_natural += outcome == "closed"
        report.anchors += sum(mask) - 1 - trace.answered  # all but the close and the end token
        samples.append((ids, mask))
    report.used = len(samples)
    return TokenizedSamples.from_lists(samples), report
