"""Memory-mapped shard stores: the same samples as in-memory tokenization, written by several writers, resumed
after a crash, mapped (not copied) by the mix, and made offline by `hermes4 tokenize`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from hermes4.chat import Conversation
from hermes4.train.data import TokenizeOptions, tokenize_conversations
from hermes4.train.mix import SharedTokenization, build_mix
from hermes4.train.shards import (
    ConcatSamples,
    SampleView,
    build_store,
    is_store,
    open_samples,
    shard_dir,
    write_shards,
)


def records(n: int) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"Question {i}: " + "word " * (i % 13)},
                          {"role": "assistant", "content": f"Answer {i}."}]} for i in range(n)]


def assert_same_samples(mapped, expected) -> None:
    assert len(mapped) == len(expected)
    assert np.array_equal(mapped.lengths, expected.lengths)
    for i in range(len(expected)):
        for got, want in zip(mapped.sample(i), expected.sample(i)):
            assert np.array_equal(np.asarray(got), np.asarray(want))


def test_store_equals_in_memory_tokenization_and_is_memory_mapped(tiny_tokenizer, tmp_path):
    options = TokenizeOptions(max_length=40)
    data = records(23)
    samples, report = build_store(lambda: iter(data), tmp_path / "store", tiny_tokenizer, options, key="k",
                                  shard_size=5)
    expected, expected_report = tokenize_conversations([Conversation.parse(r) for r in data], tiny_tokenizer, options)
    assert_same_samples(samples, expected)
    assert isinstance(samples, ConcatSamples) and len(samples.parts) == 5
    assert all(isinstance(part.input_ids, np.memmap) for part in samples.parts)  # tokens stay on disk
    for field in ("conversations", "kept", "dropped_overlong", "tokens", "trained_tokens"):
        assert getattr(report, field) == getattr(expected_report, field), field
    assert report.cache == "miss"
    assert build_store(lambda: iter(data), tmp_path / "store", tiny_tokenizer, options, key="k")[1].cache == "hit"


def test_two_writers_split_the_shards_and_a_crash_resumes(tiny_tokenizer, tmp_path):
    options = TokenizeOptions()
    data = records(17)
    store = tmp_path / "store"
    assert write_shards(iter(data), store, tiny_tokenizer, options, shard_size=4, writer=1, writers=2) == 5
    assert sorted(p.name for p in store.iterdir() if p.name.startswith("shard_")) == ["shard_000001", "shard_000003"]
    # writer 0 "crashed" after one shard: its second run writes only what is missing
    write_shards(iter(data[:4]), store, tiny_tokenizer, options, shard_size=4, writer=0, writers=2)
    before = (shard_dir(store, 0) / "report.json").stat().st_mtime_ns
    samples, report = build_store(lambda: iter(data), store, tiny_tokenizer, options, key="k", shard_size=4)
    assert (shard_dir(store, 0) / "report.json").stat().st_mtime_ns == before  # kept, not rewritten
    assert is_store(store) and report.conversations == 17
    expected, _ = tokenize_conversations([Conversation.parse(r) for r in data], tiny_tokenizer, options)
    assert_same_samples(samples, expected)


def test_views_select_and_concatenate_without_copying(tiny_tokenizer, tmp_path):
    samples, _ = build_store(lambda: iter(records(10)), tmp_path / "s", tiny_tokenizer, TokenizeOptions(), key="k",
                             shard_size=3)
    view = SampleView(samples, np.array([9, 0, 9]))
    assert view.lengths.tolist() == [samples.lengths[9], samples.lengths[0], samples.lengths[9]]
    assert np.array_equal(view.sample(2)[0], samples.sample(9)[0])
    both = ConcatSamples([view, samples])
    assert len(both) == 13 and np.array_equal(both.sample(3)[0], samples.sample(0)[0])
    assert both.num_tokens == view.num_tokens + samples.num_tokens


def test_mix_over_shard_stores_draws_the_same_samples(tiny_tokenizer, tmp_path):
    for name, n in (("a", 12), ("b", 7)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(n)))
    spec = {"sources": [{"path": str(tmp_path / "a.jsonl"), "weight": 2}, {"path": str(tmp_path / "b.jsonl"),
                                                                            "weight": 1}], "total": 30, "seed": 4}
    in_memory, _ = build_mix(spec, tiny_tokenizer, cache_dir=tmp_path / "c1")
    mapped, report = build_mix(spec, tiny_tokenizer, cache_dir=tmp_path / "c2", shared=SharedTokenization(shard_size=4))
    assert_same_samples(mapped, in_memory)
    assert [s.tokenize.cache for s in report.sources] == ["miss", "miss"]


class OneRank:
    rank, world_size, is_main = 0, 1, True

    def barrier(self):
        pass


def test_hermes4_tokenize_writes_the_stores_the_trainer_maps(tiny_model_dir, tmp_path):
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(30)))
    train = {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / "run"),
             "data": {"mix": {"sources": [{"path": str(tmp_path / "d.jsonl")}]}, "seq_len": 256}}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "hermes4", "tokenize", str(config), "--json", "--workers", "2",
                           "--shard-size", "8"], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["samples"] == 30 and report["sources"][0]["cache"] == "miss"
    stores = sorted((tmp_path / "run" / "cache").glob("shards-*"))
    assert len(stores) == 1 and len(open_samples(stores[0]).parts) == 4

    from hermes4.train.config import load_train_config
    from hermes4.train.trainer import build_samples
    from hermes4.train.vocab import training_tokenizer

    cfg = load_train_config(config)
    (tmp_path / "run").mkdir(exist_ok=True)
    samples = build_samples(cfg, OneRank(), training_tokenizer(str(tiny_model_dir), "chatml")[0])
    assert len(samples) == 30
    assert json.loads((tmp_path / "run" / "data_report.json").read_text())["sources"][0]["cache"] == "hit"

    bad = subprocess.run([sys.executable, "-m", "hermes4", "tokenize", str(tmp_path / "missing.yaml")],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "missing.yaml" in bad.stderr


@pytest.mark.parametrize("n", [0])
def test_an_empty_source_is_an_empty_store(tiny_tokenizer, tmp_path, n):
    samples, report = build_store(lambda: iter(records(n)), tmp_path / "e", tiny_tokenizer, TokenizeOptions(), key="k")
    assert len(samples) == 0 and report.conversations == 0


def test_digests_name_a_sample_by_its_ids_and_mask_in_every_view(tiny_tokenizer, tmp_path):
    samples, _ = build_store(lambda: iter(records(9)), tmp_path / "s", tiny_tokenizer, TokenizeOptions(), key="k",
                             shard_size=4)
    digests = samples.digests()
    assert digests.dtype == np.uint64 and len(set(digests.tolist())) == 9  # nine different samples
    # written with each shard (hashed once, not at every start); a store written without them is hashed on read
    assert all((shard_dir(tmp_path / "s", k) / "digests.npy").is_file() for k in range(3))
    (shard_dir(tmp_path / "s", 1) / "digests.npy").unlink()
    assert np.array_equal(open_samples(tmp_path / "s").digests(), digests)
    in_memory, _ = tokenize_conversations([Conversation.parse(r) for r in records(9)], tiny_tokenizer)
    assert np.array_equal(in_memory.digests(), digests)  # one shard or three, mapped or not
    assert np.array_equal(SampleView(samples, np.array([8, 2, 8])).digests(), digests[[8, 2, 8]])
    ids, mask = (np.asarray(a) for a in in_memory.sample(0))
    flipped = mask.copy()
    flipped[-1] ^= 1
    from hermes4.train.data import TokenizedSamples

    variants = TokenizedSamples.from_lists([(ids.tolist(), mask.tolist()), (ids.tolist(), flipped.tolist()),
                                            (ids[:-1].tolist(), mask[:-1].tolist()),
                                            (ids[::-1].tolist(), mask[::-1].tolist())])
    first, *others = variants.digests().tolist()
    assert first == digests[0] and first not in others  # the same sample; a mask bit, one token less, reordered
    assert len(set(others)) == 3


@pytest.mark.parametrize("shared", [False, True])
def test_content_order_makes_the_mix_independent_of_record_order(tiny_tokenizer, tmp_path, shared):
    """The sampler writes answers as they complete: the same records in another file order must give the same
    samples in the same order (best-fit packing's bins follow it), draws included."""
    rows = records(20)
    shuffled = [rows[i] for i in np.random.default_rng(3).permutation(len(rows))]
    built = []
    for name, rows_in_file in (("in-order", rows), ("shuffled", shuffled)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in_file))
        (folder / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in_file if r in rows[:7]))
        spec = {"sources": [{"path": str(folder / "a.jsonl"), "count": 11}, {"path": str(folder / "b.jsonl")}]}
        options = {"shared": SharedTokenization(shard_size=6)} if shared else {}
        built.append([build_mix(spec, tiny_tokenizer, cache_dir=folder / "cache", content_order=order, **options)[0]
                      for order in (True, False)])
    (ordered, file_order), (ordered_shuffled, file_order_shuffled) = built
    assert len(ordered) == 18
    assert_same_samples(ordered_shuffled, ordered)
    assert not np.array_equal(file_order.lengths, file_order_shuffled.lengths)  # what content order is for


@pytest.mark.parametrize("pack_algo", ["bfd", "first-fit"])
def test_the_trainer_packs_the_same_bins_whatever_the_record_order_under_bfd(tiny_model_dir, tmp_path, pack_algo):
    from hermes4.train.config import TrainConfig
    from hermes4.train.packing import pack
    from hermes4.train.trainer import build_samples
    from hermes4.train.vocab import training_tokenizer

    tokenizer = training_tokenizer(str(tiny_model_dir), "chatml")[0]
    rows = records(40)
    packed = []
    for name, order in (("in-order", range(40)), ("shuffled", np.random.default_rng(5).permutation(40))):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(rows[i]) + "\n" for i in order))
        cfg = TrainConfig.model_validate({
            "model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / name),
            "data": {"mix": {"sources": [{"path": str(tmp_path / f"{name}.jsonl")}]}, "seq_len": 256,
                     "pack_algo": pack_algo}})
        (tmp_path / name).mkdir()
        samples = build_samples(cfg, OneRank(), tokenizer)
        packing = pack(samples.lengths, cfg.data.seq_len, algo=pack_algo, seed=cfg.seed)
        packed.append([[samples.sample(i)[0].tobytes() for i in packing.bin(b)] for b in range(packing.num_bins)])
    assert (packed[0] == packed[1]) == (pack_algo == "bfd")
