"""Packed rows: pre-shifted labels, per-document positions, and a deterministic, resumable, sharded loader."""

from __future__ import annotations

import numpy as np
import pytest

from hermes4.train.batches import IGNORE_INDEX, PackedLoader, collate_rows
from hermes4.train.data import TokenizedSamples
from hermes4.train.packing import pack


def test_labels_are_shifted_masked_and_never_cross_documents():
    first = (np.array([10, 11, 12, 13]), np.array([0, 0, 1, 1]))
    second = (np.array([20, 21, 22]), np.array([0, 1, 1]))
    batch = collate_rows([[first, second]], seq_len=9, pad_token_id=0)
    assert batch.input_ids.tolist() == [[10, 11, 12, 13, 20, 21, 22, 0, 0]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 3, 0, 1, 2, 0, 1]]
    assert batch.document_ids.tolist() == [[0, 0, 0, 0, 1, 1, 1, 2, 2]]
    # logits[t] predicts labels[t]: 11 is untrained, 12 and 13 are; 13 must not predict 20 (next document).
    assert batch.labels.tolist() == [[IGNORE_INDEX, 12, 13, IGNORE_INDEX, 21, 22, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch.num_supervised_tokens == 4
    assert batch.doc_lens == [[4, 3]]
    assert batch.segment_lens() == [[4, 3, 2]]
    assert batch.cu_seqlens().tolist() == [0, 4, 7, 9]
    assert batch.max_seqlen() == 4
    assert batch.attention_flops_terms() == 16 + 9
    assert batch.num_tokens == 7


def test_a_document_that_does_not_fit_is_an_error():
    with pytest.raises(ValueError, match="row 0: documents need 5 tokens"):
        collate_rows([[(np.arange(3), np.ones(3)), (np.arange(2), np.ones(2))]], seq_len=4, pad_token_id=0)


def make_samples(n: int, seed: int = 0) -> TokenizedSamples:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        length = int(rng.integers(1, 30))
        samples.append(([i % 1000 + 1] * length, [1] * length))
    return TokenizedSamples.from_lists(samples)


def rows_seen(loader: PackedLoader, micro_batches: int) -> list[list[int]]:
    return [row for _ in range(micro_batches) for row in next(loader).sample_indices]


def test_ranks_get_disjoint_rows_that_cover_every_sample_once_per_epoch():
    samples = make_samples(200)
    packing = pack(samples.lengths, 32, seed=3)
    loaders = [PackedLoader(samples, packing, seq_len=32, micro_batch_size=2, pad_token_id=0, rank=r, world_size=3) for r in range(3)]
    per_epoch = loaders[0].micro_batches_per_epoch
    assert per_epoch == -(-packing.num_bins // 6)
    seen = [index for loader in loaders for row in rows_seen(loader, per_epoch) for index in row]
    assert sorted(seen) == list(range(200))
    # Ids in a row really are the samples named in sample_indices.
    batch = loaders[1].batch_at(0)
    for b, indices in enumerate(batch.sample_indices):
        expected = np.concatenate([samples.sample(i)[0] for i in indices]) if indices else np.array([], dtype=np.int64)
        assert batch.input_ids[b, : len(expected)].tolist() == expected.tolist()


def test_loader_is_deterministic_and_resumes_exactly():
    samples = make_samples(120, seed=1)
    packing = pack(samples.lengths, 40, seed=0)
    args = {"seq_len": 40, "micro_batch_size": 3, "pad_token_id": 0, "seed": 7}
    straight = PackedLoader(samples, packing, **args)
    expected = [next(straight) for _ in range(25)]  # crosses into a second and third epoch
    interrupted = PackedLoader(samples, packing, **args)
    for _ in range(11):
        next(interrupted)
    state = interrupted.state_dict()
    resumed = PackedLoader(samples, packing, **args)
    resumed.load_state_dict(state)
    for want in expected[11:]:
        got = next(resumed)
        assert got.input_ids.equal(want.input_ids) and got.labels.equal(want.labels)
        assert got.sample_indices == want.sample_indices
    # A later epoch reads the bins in a different order.
    per_epoch = straight.micro_batches_per_epoch
    assert [b.sample_indices for b in expected[:per_epoch]] != [b.sample_indices for b in expected[per_epoch : 2 * per_epoch]]


def test_tokenized_samples_select_concat_save_load(tmp_path):
    samples = TokenizedSamples.from_lists([([1, 2, 3], [0, 1, 1]), ([4], [1]), ([5, 6], [1, 0])], sources=["a", "b", "a"])
    picked = samples.select([2, 0])
    assert picked.sample(0)[0].tolist() == [5, 6] and picked.sample(1)[1].tolist() == [0, 1, 1]
    assert picked.sources == ["a", "a"]
    joined = TokenizedSamples.concat([samples, picked])
    assert len(joined) == 5 and joined.sample(3)[0].tolist() == [5, 6]
    joined.save(tmp_path / "s")
    loaded = TokenizedSamples.load(tmp_path / "s")
    assert loaded.sample(4)[0].tolist() == [1, 2, 3] and loaded.sources == joined.sources
