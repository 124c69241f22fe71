"""Seed curation: planted near-duplicates are removed (newest kept), distinct passages survive."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from hermes4.curate.dedup import semantic_dedup
from hermes4.curate.embed import HashedEmbedder
from hermes4.curate.passages import Passage, load_passages, normalise
from hermes4.curate.pipeline import curate

TOPICS = ["volcano", "harbour", "orchestra", "glacier", "satellite", "vineyard", "library", "reactor", "canyon", "bakery"]


def distinct_passages(n, seed=0):
    rng = random.Random(seed)
    vocab = [f"{w}{i}" for i, w in enumerate(("alpha beta gamma delta epsilon zeta eta theta iota kappa " * 40).split())]
    out = []
    for i in range(n):
        words = rng.sample(vocab, 60)
        out.append(f"The {TOPICS[i % len(TOPICS)]} report number {i}: " + " ".join(words) + ".")
    return out


def near_duplicate(text, rng):
    words = text.split()
    for _ in range(3):  # a few edits: the kind of copy a crawl has twice
        words[rng.randrange(len(words))] = "changed"
    return " ".join(words)


def test_normalise():
    assert normalise("  a\r\nb   c\n\n\n\nd ") == "a\nb c\n\nd"


def test_planted_near_duplicates_removed_and_newest_kept(tmp_path):
    rng = random.Random(1)
    texts = distinct_passages(120)
    passages = [Passage(id=f"p{i}", text=t, date="2023-01-01") for i, t in enumerate(texts)]
    planted = {}
    for i in range(0, 120, 6):  # 20 planted near-duplicates, each NEWER than its original
        dup_id = f"dup{i}"
        passages.append(Passage(id=dup_id, text=near_duplicate(texts[i], rng), date="2024-06-01"))
        planted[dup_id] = f"p{i}"
    passages.append(Passage(id="exact", text=texts[5].upper(), date="2020-01-01"))  # exact dup up to case
    passages.append(Passage(id="blank", text=""))

    report = curate(passages, tmp_path, embedder=HashedEmbedder(256), threshold=0.7)
    kept = [json.loads(line)["id"] for line in open(tmp_path / "passages.jsonl")]
    removed = {r["id"]: r for r in map(json.loads, open(tmp_path / "removed.jsonl"))}

    assert report.exact_duplicates == 1 and removed["exact"]["removed"] == "exact_duplicate"
    assert report.empty == 1
    assert report.semantic_duplicates == 20
    for dup_id, original in planted.items():  # the newer copy survives, the older original goes
        assert dup_id in kept
        assert removed[original]["duplicate_of"] == dup_id and removed[original]["cosine"] >= 0.7
    assert len(kept) == 120  # every distinct passage kept exactly once
    assert "semantic duplicates" in (tmp_path / "report.md").read_text()
    assert report.removed_examples and report.removed_examples[0]["cosine"] >= 0.7


def test_ivf_agrees_with_exact_on_planted_duplicates():
    rng = random.Random(2)
    texts = distinct_passages(400, seed=3)
    texts += [near_duplicate(texts[i], rng) for i in range(0, 400, 4)]
    emb = HashedEmbedder(256).embed(texts)
    exact = semantic_dedup(emb, 0.7, index="exact", block=64)
    ivf = semantic_dedup(emb, 0.7, index="ivf", nprobe=4)
    assert exact.removed == 100
    assert np.array_equal(exact.keep, ivf.keep)


def test_exact_blocks_do_not_change_the_answer():
    emb = HashedEmbedder(64).embed(distinct_passages(50) * 2)
    a = semantic_dedup(emb, 0.7, block=7)
    b = semantic_dedup(emb, 0.7, block=1000)
    assert a.removed == 50 and np.array_equal(a.keep, b.keep) and np.array_equal(a.duplicate_of, b.duplicate_of)


def test_load_formats_and_bad_dates(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("first  passage")
    (tmp_path / "docs" / "b.md").write_text("second")
    assert [p.text for p in load_passages(tmp_path / "docs")] == ["first passage", "second"]
    good = tmp_path / "seeds.jsonl"
    good.write_text('{"id": 7, "text": "x", "date": "2024-05-01T10:00:00Z"}\n{"text": "y", "date": "2023"}\n')
    assert [(p.id, p.date) for p in load_passages(good)] == [("7", "2024-05-01"), ("1", "2023-01-01")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "date": "last tuesday"}\n')
    with pytest.raises(ValueError, match="record 1: date: 'last tuesday' is not a date"):
        load_passages(bad)


def test_cli_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"body": "no text field"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "hermes4", "curate", "--in", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "field 'text' missing" in proc.stderr
