"""The journal: append-only shards, rotation, exactly-once keys, torn-tail repair, manifest, readers, Parquet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from hermes4.store import (
    Journal,
    Store,
    StoreError,
    content_id,
    derive_seed,
    export_parquet,
    list_shards,
    read_manifest,
    read_records,
)


def rec(i: int, **extra):
    return {"meta": {"id": content_id("r", i)}, "value": i, **extra}


def test_content_id_is_stable_and_order_sensitive():
    assert content_id({"b": 1, "a": 2}, "x") == content_id({"a": 2, "b": 1}, "x")
    assert content_id("a", "b") != content_id("b", "a")
    assert len(content_id("a")) == 32
    assert derive_seed(0, "env", "item", 3) == derive_seed(0, "env", "item", 3)
    assert derive_seed(0, "env", "item", 3) != derive_seed(0, "env", "item", 4)
    assert 0 <= derive_seed("x") < 2**31


def test_append_is_exactly_once_across_reopen(tmp_path):
    with Journal(tmp_path) as journal:
        assert journal.append(rec(1))
        assert not journal.append(rec(1))  # same key: refused
        assert journal.append(rec(2))
        assert journal.skipped == 1
    with Journal(tmp_path) as again:
        assert again.done == {content_id("r", 1), content_id("r", 2)}
        assert content_id("r", 1) in again
        assert not again.append(rec(2))
        assert again.append(rec(3))
    assert [r["value"] for r in read_records(tmp_path)] == [1, 2, 3]


def test_rotation_by_count_and_size(tmp_path):
    with Journal(tmp_path / "count", max_records=3) as journal:
        for i in range(8):
            journal.append(rec(i))
    assert [p.name for p in list_shards(tmp_path / "count", "data")] == ["data-00000.jsonl", "data-00001.jsonl", "data-00002.jsonl"]
    assert [s.records for s in Journal(tmp_path / "count").shards] == [3, 3, 2]
    with Journal(tmp_path / "size", max_bytes=200) as journal:
        for i in range(10):
            journal.append(rec(i, pad="x" * 50))
    shards = list_shards(tmp_path / "size", "data")
    assert len(shards) > 3
    assert all(p.stat().st_size <= 200 for p in shards)
    assert [r["value"] for r in read_records(tmp_path / "size")] == list(range(10))


def test_a_record_bigger_than_max_bytes_still_gets_written(tmp_path):
    with Journal(tmp_path, max_bytes=10) as journal:
        assert journal.append(rec(0, pad="y" * 100))
        assert journal.append(rec(1))
    assert [r["value"] for r in read_records(tmp_path)] == [0, 1]


@pytest.mark.parametrize("tail", [b'{"meta": {"id": "torn"}, "val', b"{", b"\xe2\x82"])
def test_torn_last_line_is_cut_and_reported(tmp_path, tail):
    with Journal(tmp_path, max_records=2) as journal:
        for i in range(3):
            journal.append(rec(i))
    last = list_shards(tmp_path, "data")[-1]
    with open(last, "ab") as handle:
        handle.write(tail)
    journal = Journal(tmp_path, max_records=2)
    assert len(journal.repairs) == 1
    repair = journal.repairs[0]
    assert repair.file == last.name and repair.kept_records == 1 and repair.dropped_bytes == len(tail)
    assert "torn last line" in repair.describe()
    assert journal.records == 3 and "torn" not in journal.done
    journal.append(rec(3))
    journal.close()
    assert [r["value"] for r in read_records(tmp_path)] == [0, 1, 2, 3]
    assert Journal(tmp_path).repairs == []


def test_torn_line_without_any_complete_record(tmp_path):
    (tmp_path / "data-00000.jsonl").write_bytes(b'{"meta": {"id"')
    journal = Journal(tmp_path)
    assert journal.records == 0 and journal.repairs[0].kept_records == 0
    assert (tmp_path / "data-00000.jsonl").stat().st_size == 0
    journal.append(rec(7))
    journal.close()
    assert [r["value"] for r in read_records(tmp_path)] == [7]


def test_damage_in_the_middle_is_an_error_not_a_silent_drop(tmp_path):
    (tmp_path / "data-00000.jsonl").write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(StoreError, match=r"data-00000.jsonl:2: not a JSON record"):
        Journal(tmp_path)
    assert (tmp_path / "data-00000.jsonl").read_text().count("\n") == 3  # nothing was removed


def test_observe_sees_every_existing_record_and_custom_keys(tmp_path):
    with Journal(tmp_path, "items", key=lambda r: r["item"]) as journal:
        journal.append({"item": "a", "n": 1})
        assert not journal.append({"item": "a", "n": 2})
    seen = []
    Journal(tmp_path, "items", key=lambda r: r["item"], observe=seen.append)
    assert seen == [{"item": "a", "n": 1}]


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(StoreError, match="fsync"):
        Journal(tmp_path, fsync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="stream name"):
        Journal(tmp_path, "../x")


def test_fsync_always_writes_records(tmp_path):
    with Journal(tmp_path, fsync="always") as journal:
        journal.append(rec(1))
        journal.sync()
    assert len(list(read_records(tmp_path))) == 1


def test_store_manifest_config_check_and_streams(tmp_path):
    config = {"env": "procedural", "keep": 2}
    with Store(tmp_path, config=config, must_match=["env", "keep"]) as store:
        store.stream("data").append(rec(1))
        store.stream("items", key=lambda r: r["item"]).append({"item": "x"})
        store.summary = {"procedural": {"items": 1}}
    manifest = read_manifest(tmp_path)
    assert manifest["format"] == "hermes4-dataset/1" and manifest["runs"] == 1
    assert manifest["config"] == config and manifest["summary"] == {"procedural": {"items": 1}}
    assert manifest["streams"]["data"]["records"] == 1 and manifest["streams"]["items"]["records"] == 1
    assert manifest["streams"]["data"]["shards"] == [{"file": "data-00000.jsonl", "records": 1, "bytes": manifest["streams"]["data"]["bytes"]}]
    assert set(manifest["versions"]) == {"hermes4", "python"} and manifest["created"] <= manifest["updated"]
    with pytest.raises(StoreError, match="keep=2.*keep=3"):
        Store(tmp_path, config={**config, "keep": 3}, must_match=["env", "keep"])
    with Store(tmp_path, config=config, must_match=["env", "keep"]) as store:  # resuming, opening one stream only
        assert store.resumed
        store.stream("data").append(rec(2))
    manifest = read_manifest(tmp_path)
    assert manifest["runs"] == 2 and manifest["streams"]["data"]["records"] == 2
    assert manifest["streams"]["items"]["records"] == 1


def test_store_logs_repairs_in_the_manifest(tmp_path):
    with Store(tmp_path) as store:
        store.stream().append(rec(1))
    with open(tmp_path / "data-00000.jsonl", "ab") as handle:
        handle.write(b'{"half')
    with Store(tmp_path) as store:
        store.stream()
        assert len(store.repairs) == 1
    assert read_manifest(tmp_path)["repairs"][0]["dropped_bytes"] == 6


def test_bad_manifest_is_named(tmp_path):
    (tmp_path / "manifest.json").write_text("{oops")
    with pytest.raises(StoreError, match="manifest.json: line 1"):
        Store(tmp_path)


def test_kill_9_during_appends_loses_only_the_tail(tmp_path):
    # A real writer process killed with SIGKILL mid-stream: reopening keeps every complete record.
    script = textwrap.dedent(
        f"""
        import sys
        from hermes4.store import Journal
        journal = Journal({str(tmp_path)!r}, max_records=500)
        i = 0
        while True:
            journal.append({{"id": str(i), "pad": "z" * (i % 5000)}})
            if i == 300:
                print("ready", flush=True)
            i += 1
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    journal = Journal(tmp_path, max_records=500)
    count = journal.records
    assert count > 300
    assert journal.done == {str(i) for i in range(count)}  # a gap-free prefix
    values = [r["id"] for r in read_records(tmp_path)]
    assert values == [str(i) for i in range(count)]


def conversation(i: int):
    return {
        "messages": [
            {"role": "user", "content": f"q{i}"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "think",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": json.dumps({"x": [i, {"y": None}]})}}],
            },
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
            {"role": "assistant", "content": f"a{i}"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object", "properties": {"x": {"type": "array"}}}}}],
        "thinking": True,
        "meta": {"id": content_id(i), "verdict": {"status": "pass", "details": {"n": i} if i else {"other": [1, "a"]}}, "tokens": i},
    }


def test_parquet_export_round_trip_and_datasets_folder(tmp_path):
    from hermes4.chat.messages import Conversation

    with Journal(tmp_path / "ds") as journal:
        for i in range(5):
            journal.append(conversation(i))
    out = tmp_path / "out" / "data.parquet"
    assert export_parquet(tmp_path / "ds", out) == 5
    back = list(read_records(out))
    original = list(read_records(tmp_path / "ds"))
    assert back == original
    assert [Conversation.parse(r) for r in back] == [Conversation.parse(r) for r in original]

    import datasets

    loaded = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert loaded[0]["messages"][0] == {"role": "user", "content": "q0", "reasoning_content": None, "tool_calls": None, "tool_call_id": None, "name": None, "train": None}
    loaded.save_to_disk(str(tmp_path / "saved"))
    assert [Conversation.parse(r) for r in read_records(tmp_path / "saved")] == [Conversation.parse(r) for r in original]
    datasets.DatasetDict({"test": loaded}).save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(StoreError, match="no split 'train'; splits: test"):
        list(read_records(tmp_path / "dict"))
    assert len(list(read_records(tmp_path / "dict", split="test"))) == 5


def test_export_plain_records_keeps_types(tmp_path):
    records = [{"a": 1, "b": "x", "c": 0.5, "d": True, "e": {"k": [1]}}, {"a": 2, "b": None, "c": 2, "d": False, "e": [1, "two"]}]
    export_parquet(records, tmp_path / "p.parquet")
    assert list(read_records(tmp_path / "p.parquet")) == [records[0], {"a": 2, "c": 2.0, "d": False, "e": [1, "two"]}]


def test_readers_name_bad_input(tmp_path):
    with pytest.raises(StoreError, match="no such file"):
        list(read_records(tmp_path / "missing"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(StoreError, match="unknown dataset file type"):
        list(read_records(tmp_path / "x.txt"))
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n[1]\n')
    with pytest.raises(StoreError, match=r"bad.jsonl:2: a record must be a JSON object"):
        list(read_records(tmp_path / "bad.jsonl"))
    (tmp_path / "fake.parquet").write_text("nope")
    with pytest.raises(StoreError, match="not a readable Parquet"):
        list(read_records(tmp_path / "fake.parquet"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no `data-NNNNN.jsonl` shards"):
        list(read_records(tmp_path / "empty"))


def test_reader_skips_an_unfinished_tail(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a": 3')
    assert list(read_records(tmp_path / "a.jsonl")) == [{"a": 1}, {"a": 2}]
    (tmp_path / "b.jsonl").write_text('{"a": 1}\n{"a": 2}')  # hand-written file without a final newline
    assert list(read_records(tmp_path / "b.jsonl")) == [{"a": 1}, {"a": 2}]
