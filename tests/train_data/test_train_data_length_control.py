"""Length control: traces cut at the budget get `</think>` + end of turn, and only those two tokens are trained."""

from __future__ import annotations

import pytest

from hermes4.chat import Conversation, render
from hermes4.train.batches import IGNORE_INDEX, collate_rows
from hermes4.train.length_control_data import (
    build_length_control_samples,
    control_token_ids,
    cut_trace,
)


def test_cut_trace_labels_are_exactly_think_end_and_end_of_turn(tiny_tokenizer):
    think_end, end_of_turn = control_token_ids(tiny_tokenizer, "chatml")
    assert tiny_tokenizer.convert_ids_to_tokens([think_end, end_of_turn]) == ["</think>", "<|im_end|>"]
    prompt = render(Conversation.parse([{"role": "user", "content": "Count to a hundred."}]), thinking=True, add_generation_prompt=True).text + "<think>\n"
    prompt_ids = tiny_tokenizer.encode(prompt, add_special_tokens=False)
    completion_ids = tiny_tokenizer.encode("one two three four five six seven eight nine ten " * 4, add_special_tokens=False)
    budget = 17
    outcome, ids, mask = cut_trace(prompt_ids, completion_ids, budget=budget, think_end_id=think_end, end_of_turn_id=end_of_turn)
    assert outcome == "cut"
    assert ids == prompt_ids + completion_ids[:budget] + [think_end, end_of_turn]
    assert [i for i, m in enumerate(mask) if m] == [len(ids) - 2, len(ids) - 1]

    # Through the batch layer: the supervised targets are exactly `</think>` then the end-of-turn token.
    batch = collate_rows([[(ids, mask)]], seq_len=len(ids) + 5, pad_token_id=0)
    labels = batch.labels[0]
    supervised = (labels != IGNORE_INDEX).nonzero().flatten().tolist()
    assert supervised == [len(ids) - 3, len(ids) - 2]
    assert labels[supervised].tolist() == [think_end, end_of_turn]
    assert batch.num_supervised_tokens == 2
    assert tiny_tokenizer.decode(ids[-(2 + budget):]).endswith("</think><|im_end|>")


def test_counts_of_cut_closed_short_and_used():
    think_end, end_of_turn = 900, 901
    traces = [
        ([1, 2], [5] * 10),  # cut at 6
        ([1, 2], [5, 5, think_end, 7, end_of_turn]),  # closed naturally
        ([1, 2], [5] * 5 + [think_end]),  # closed exactly at the budget's last token
        ([1, 2], [5] * 6 + [think_end]),  # closes one token late: cut
        ([1, 2], [5, 5, end_of_turn]),  # stopped early without closing: short
        ([1] * 40, [5] * 8),  # cut, but longer than max_length: dropped and counted
    ]
    samples, report = build_length_control_samples(traces, budget=6, think_end_id=think_end, end_of_turn_id=end_of_turn, max_length=20)
    assert report.to_json() == {"traces": 6, "closed_naturally": 2, "cut": 3, "short": 1, "dropped_overlong": 1, "used": 2}
    assert len(samples) == 2
    assert samples.sample(0)[0].tolist() == [1, 2, 5, 5, 5, 5, 5, 5, think_end, end_of_turn]
    assert samples.sample(1)[0].tolist()[-3:] == [5, think_end, end_of_turn]
    assert samples.num_trained_tokens == 4


def test_bad_budget_and_multi_token_markers_are_named(tiny_tokenizer):
    with pytest.raises(ValueError, match="budget: must be at least 1"):
        cut_trace([1], [2], budget=0, think_end_id=3, end_of_turn_id=4)

    class SplitsEverything:
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text]

    with pytest.raises(ValueError, match="'</think>' must be a single token"):
        control_token_ids(SplitsEverything())
