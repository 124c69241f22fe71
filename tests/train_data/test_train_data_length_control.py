"""Length control: a trace cut at the budget gets `</think>`, the model's own answer, then the end of turn, and only
`</think>` and the end-of-turn token are trained."""

from __future__ import annotations

import pytest

from hermes4.chat import Conversation, render
from hermes4.train.batches import IGNORE_INDEX, collate_rows
from hermes4.train.length_control_data import (
    Trace,
    build_length_control_samples,
    control_token_ids,
    line_break_token_ids,
    trace_sample,
)


def test_cut_sample_has_an_answer_and_loss_on_exactly_think_end_and_end_of_turn(tiny_tokenizer):
    think_end, end_of_turn = control_token_ids(tiny_tokenizer, "chatml")
    assert tiny_tokenizer.convert_ids_to_tokens([think_end, end_of_turn]) == ["</think>", "<|im_end|>"]
    prompt = render(Conversation.parse([{"role": "user", "content": "Count to a hundred."}]), thinking=True,
                    add_generation_prompt=True).text
    prompt_ids = tiny_tokenizer.encode(prompt, add_special_tokens=False)
    reasoning_ids = tiny_tokenizer.encode("<think>\none two three four five six seven", add_special_tokens=False)
    answer_ids = tiny_tokenizer.encode("\nThe count goes to 100.", add_special_tokens=False)
    trace = Trace(prompt_ids, reasoning_ids, hit_budget=True, answer_ids=answer_ids, answered=True)
    outcome, ids, mask = trace_sample(trace, think_end_id=think_end, end_of_turn_id=end_of_turn)
    assert outcome == "cut"
    assert ids == prompt_ids + reasoning_ids + [think_end] + answer_ids + [end_of_turn]
    close = len(prompt_ids) + len(reasoning_ids)
    assert [i for i, m in enumerate(mask) if m] == [close, len(ids) - 1]
    # an answer stands between `</think>` and the end token, and it carries no loss
    between = ids[close + 1:-1]
    assert between == answer_ids and tiny_tokenizer.decode(between).strip() == "The count goes to 100."
    assert not any(mask[close + 1:-1])

    # Through the batch layer: the supervised targets are exactly `</think>` then the end-of-turn token.
    batch = collate_rows([[(ids, mask)]], seq_len=len(ids) + 5, pad_token_id=0)
    labels = batch.labels[0]
    supervised = (labels != IGNORE_INDEX).nonzero().flatten().tolist()
    assert supervised == [close - 1, len(ids) - 2]
    assert labels[supervised].tolist() == [think_end, end_of_turn]
    assert batch.num_supervised_tokens == 2


def test_counts_of_cut_closed_short_unanswered_and_used():
    think_end, end_of_turn = 900, 901
    traces = [
        Trace([1, 2], [5] * 6, hit_budget=True, answer_ids=[8, 9], answered=True),  # cut
        Trace([1, 2], [5, 5, think_end, 7], hit_budget=False, answer_ids=[7], answered=True),  # closed naturally
        Trace([1, 2], [5] * 5 + [think_end], hit_budget=True, answer_ids=[], answered=False),  # closed at the last id
        Trace([1, 2], [5, 5], hit_budget=False, answer_ids=[], answered=False),  # ended the turn inside: short
        Trace([1, 2], [5] * 6, hit_budget=True, answer_ids=[8] * 5, answered=False),  # answer never ended
        Trace([1] * 40, [5] * 6, hit_budget=True, answer_ids=[8], answered=True),  # longer than max_length
    ]
    samples, report = build_length_control_samples(traces, think_end_id=think_end, end_of_turn_id=end_of_turn,
                                                   max_length=20)
    assert report.to_json() == {"traces": 6, "closed_naturally": 2, "cut": 3, "short": 1, "unanswered": 1,
                                "dropped_overlong": 1, "used": 2, "used_natural": 0, "anchors": 0}
    assert samples.sample(0)[0].tolist() == [1, 2, 5, 5, 5, 5, 5, 5, think_end, 8, 9, end_of_turn]
    assert samples.sample(0)[1].tolist() == [0] * 8 + [1, 0, 0, 1]
    # the answer that never ended: `</think>` trained, the unfinished answer context, no end token at all
    ids, mask = (a.tolist() for a in samples.sample(1))
    assert ids == [1, 2, *[5] * 6, think_end, *[8] * 5] and end_of_turn not in ids
    assert [i for i, m in enumerate(mask) if m] == [8]

    # keep_natural: the closed trace with a finished answer becomes a no-op sample on its own close
    samples, report = build_length_control_samples(traces, think_end_id=think_end, end_of_turn_id=end_of_turn,
                                                   max_length=20, keep_natural=True)
    assert (report.used, report.used_natural, report.unanswered) == (4, 2, 2)
    ids, mask = (a.tolist() for a in samples.sample(1))
    assert ids == [1, 2, 5, 5, think_end, 7, end_of_turn]
    assert mask == [0, 0, 0, 0, 1, 0, 1]
    assert samples.num_trained_tokens == 2 + 2 + 1 + 1


def test_line_anchors_train_a_natural_traces_own_continuation_after_each_line_break(tiny_tokenizer):
    think_end, end_of_turn = control_token_ids(tiny_tokenizer, "chatml")
    breaks = line_break_token_ids(tiny_tokenizer)
    assert breaks and all(tiny_tokenizer.decode([i]).endswith("\n") for i in breaks)
    assert think_end not in breaks and end_of_turn not in breaks
    prompt_ids = tiny_tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)

    def trace(text: str, *, cut: bool) -> Trace:
        reasoning = tiny_tokenizer.encode(text, add_special_tokens=False)
        return Trace(prompt_ids, reasoning, hit_budget=cut, answer_ids=tiny_tokenizer.encode("Answer: 4"), answered=True)

    def trained_text(sample) -> list[str]:
        ids, mask = sample
        return [tiny_tokenizer.decode([int(i)]) for i, m in zip(ids, mask) if m]

    cut = trace("<think>\nStep one.\nStep two.\n", cut=True)
    closed = trace("<think>\nStep one.\nStep three.\n</think>\nAnswer: 4", cut=False)
    samples, report = build_length_control_samples(
        [cut, closed], think_end_id=think_end, end_of_turn_id=end_of_turn, keep_natural=True, anchor="lines",
        line_break_ids=breaks)
    # The cut trace stays the paper's sample: `</think>` at the cut and the end token, nothing else.
    assert trained_text(samples.sample(0)) == ["</think>", "<|im_end|>"]
    # The trace that closed by itself keeps going at each line break, then closes where it closed.
    assert trained_text(samples.sample(1)) == ["Step", "Step", "</think>", "<|im_end|>"]
    assert (report.used, report.used_natural, report.anchors) == (2, 1, 2)
    # Without anchors the natural trace trains its own close and end token only.
    plain = trace_sample(closed, think_end_id=think_end, end_of_turn_id=end_of_turn, keep_natural=True)
    assert trained_text(plain[1:]) == ["</think>", "<|im_end|>"]
    # anchor: trace trains every token the model wrote: reasoning, close, answer, end; not the prompt.
    outcome, ids, mask = trace_sample(closed, think_end_id=think_end, end_of_turn_id=end_of_turn, keep_natural=True,
                                      anchor="trace")
    assert mask == [0] * len(prompt_ids) + [1] * (len(ids) - len(prompt_ids))
    assert tiny_tokenizer.decode(ids[len(prompt_ids):]).startswith("<think>\nStep one.")
    assert ids[-1] == end_of_turn


def test_anchors_need_keep_natural(tmp_path):
    from hermes4.train.config import LengthControlConfig

    train = {"model": {"path": str(tmp_path)}, "data": {"tokenized": str(tmp_path)}, "output_dir": str(tmp_path)}
    with pytest.raises(ValueError, match="anchor: lines trains .* set keep_natural too"):
        LengthControlConfig.model_validate({"prompts": "p.jsonl", "control_budget": 10, "generation_budget": 20,
                                            "anchor": "lines", "train": train})
    LengthControlConfig.model_validate({"prompts": "p.jsonl", "control_budget": 10, "generation_budget": 20,
                                        "anchor": "trace", "keep_natural": True, "train": train})


def test_the_budget_is_the_engines_count_not_a_re_tokenisation():
    # The engine ended this trace by itself (not at the budget) although its text re-encodes to many ids: short.
    trace = Trace([1], [5] * 40, hit_budget=False, answer_ids=[], answered=False)
    assert trace_sample(trace, think_end_id=900, end_of_turn_id=901)[0] == "short"


def test_multi_token_markers_are_named():
    class SplitsEverything:
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text]

    with pytest.raises(ValueError, match="'</think>' must be a single token"):
        control_token_ids(SplitsEverything())
