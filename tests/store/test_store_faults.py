"""Bad input and a hostile disk (issue 16, items 8 and 9): one line and exit 2, never a traceback, nothing partial;
bad data refused or counted loudly."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.chat import Conversation, ConversationError
from hermes4.store import Journal, NotUtf8Error, StoreError, read_records
from hermes4.store.readers import parse_yaml
from hermes4.train.data import load_conversations

ROOT = Path(__file__).resolve().parents[2]
CAN_MOUNT = sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("unshare") is not None
needs_mount = pytest.mark.skipif(not CAN_MOUNT, reason="a private tmpfs needs Linux, root and unshare")

MODEL = 'def model(request):\n    return "The answer is 1.\\n\\nAnswer: 1"\n'


def hermes4(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes4", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd or ROOT, env=env)


def assert_one_line(proc: subprocess.CompletedProcess, *expected: str) -> str:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    for text in expected:
        assert text in line, line
    return line


# ---- non-UTF-8 input, named by file and byte offset --------------------------------------------------------------


def test_non_utf8_recipe_sandbox_file_and_template_are_one_line(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(b"name: x\ndescription: caf\xe9\n")
    assert_one_line(hermes4("run", str(recipe), "--dry-run"), str(recipe), "not UTF-8 text at byte 25 (line 2)")
    program = tmp_path / "prog.py"
    program.write_bytes(b"print('ok')\n# \xff\n")
    assert_one_line(hermes4("sandbox", str(program)), str(program), "byte 15 (line 2)")
    template = tmp_path / "t.jinja"
    template.write_bytes(b"{{ messages }}\x80")
    conversation = tmp_path / "c.json"
    conversation.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    assert_one_line(hermes4("render", str(conversation), "--template", str(template)), str(template), "byte 15 (line 1)")


def test_non_utf8_training_data_names_file_line_and_byte_offset(tmp_path):
    data = tmp_path / "train.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}) + "\n"
    prefix = b'{"messages": [{"role": "user", "content": "'
    data.write_bytes(good.encode() + prefix + b'\xc3("}]}\n')
    with pytest.raises(NotUtf8Error) as caught:
        load_conversations(data)
    message = str(caught.value)
    assert f"{data}:2: not UTF-8 text at byte {len(good) + len(prefix) + 1}: 0xc3" in message


# ---- a full disk and a read-only folder ---------------------------------------------------------------------------


def _in_private_tmpfs(tmp_path: Path, options: str, *commands: list[str]) -> subprocess.CompletedProcess:
    """Run hermes4 commands with a tmpfs (`options`) mounted at tmp_path/mnt in a private mount namespace."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (tmp_path / "fault_model.py").write_text(MODEL)
    script = f"mount -t tmpfs -o {options} tmpfs {mnt} || exit 99\n"
    for index, command in enumerate(commands):
        args = " ".join(f"'{a}'" for a in command)
        script += f"{sys.executable} -m hermes4 {args} >/dev/null 2>{tmp_path}/err{index}; echo $? >{tmp_path}/rc{index}\n"
        script += f"ls -A {mnt} {mnt}/* >{tmp_path}/ls{index} 2>&1\n"
    script += "exit 0\n"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{tmp_path}"}
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=600, env=env)


def _outcome(tmp_path: Path, index: int) -> tuple[int, str, str]:
    return (int((tmp_path / f"rc{index}").read_text()), (tmp_path / f"err{index}").read_text(),
            (tmp_path / f"ls{index}").read_text())


@needs_mount
def test_a_full_disk_during_sample_forge_and_eval_is_one_line_and_leaves_nothing_partial(tmp_path):
    mnt = tmp_path / "mnt"
    proc = _in_private_tmpfs(
        tmp_path, "size=48k",
        ["forge", "--graph", "procedural", "--n", "3000", "--out", f"{mnt}/forge"],
        ["sample", "--env", "procedural:n=3000", "--llm", "scripted:fault_model:model", "--group-size", "2", "--out", f"{mnt}/sample"],
        ["eval", "--task", "math500", "--llm", "scripted:fault_model:model", "--thinking", "off", "--repeats", "200", "--out", f"{mnt}/eval"],
    )
    assert proc.returncode == 0, proc.stderr
    for index in range(3):
        rc, err, listing = _outcome(tmp_path, index)
        assert rc == 2, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert err.strip().splitlines()[-1].endswith("no space left on the disk"), err[-500:]
        assert ".tmp" not in listing, listing  # no half-written manifest or run.json
    for shard in mnt.glob("*/*.jsonl"):  # unreachable after the namespace is gone: the mount was private
        raise AssertionError(f"the private tmpfs leaked to the host: {shard}")


@needs_mount
def test_a_read_only_output_folder_is_one_line_for_sample_forge_eval_and_curate(tmp_path):
    mnt = tmp_path / "mnt"
    passages = tmp_path / "passages.jsonl"
    passages.write_text(json.dumps({"text": "a passage"}) + "\n")
    proc = _in_private_tmpfs(
        tmp_path, "ro",
        ["forge", "--graph", "procedural", "--n", "3", "--out", f"{mnt}/forge"],
        ["sample", "--env", "procedural:n=3", "--llm", "scripted:fault_model:model", "--out", f"{mnt}/sample"],
        ["eval", "--task", "math500", "--llm", "scripted:fault_model:model", "--out", f"{mnt}/eval"],
        ["curate", "--in", str(passages), "--out", f"{mnt}/curate"],
    )
    assert proc.returncode == 0, proc.stderr
    for index, name in enumerate(["forge", "sample", "eval", "curate"]):
        rc, err, _ = _outcome(tmp_path, index)
        assert rc == 2, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert err.strip().splitlines()[-1] == f"hermes4: {mnt}/{name}: the file system is read-only", err[-500:]


def test_a_failed_write_leaves_no_partial_line_and_no_empty_shard(tmp_path, monkeypatch):
    journal = Journal(tmp_path)
    assert journal.append({"id": "a", "x": 1})
    real_write = os.write

    def full_disk(fd, data):
        real_write(fd, bytes(data[:5]))  # part of the line lands, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError) as caught:
        journal.append({"id": "b", "x": 2})
    monkeypatch.setattr(os, "write", real_write)
    assert caught.value.filename == str(tmp_path / "data-00000.jsonl")
    journal.close()
    assert (tmp_path / "data-00000.jsonl").read_text() == '{"id":"a","x":1}\n'
    assert [r["id"] for r in read_records(tmp_path)] == ["a"]


# ---- bad data -----------------------------------------------------------------------------------------------------


def test_an_assistant_turn_with_neither_content_nor_tool_calls_is_refused():
    with pytest.raises(ConversationError, match=r"messages\[1\]: an assistant message needs content or tool_calls"):
        Conversation.parse({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": None, "tool_calls": None}]})
    Conversation.parse({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]})


def test_a_torn_last_line_of_an_input_file_is_counted_loudly_and_refused_for_training(tmp_path, caplog):
    data = tmp_path / "train.jsonl"
    line = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    data.write_text(line + "\n" + line[:20])
    with caplog.at_level(logging.WARNING):
        assert len(list(read_records(data))) == 1
    assert any("train.jsonl:2: the last line is torn (20 bytes" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConversationError, match="train.jsonl:2: the last line is torn"):
        load_conversations(data)


def test_duplicate_yaml_keys_are_refused_with_both_lines():
    with pytest.raises(StoreError, match=r"f.yaml: line 4: invalid YAML: duplicate key 'lr' \(first given at line 2\)"):
        parse_yaml("optim:\n  lr: 1.0e-4\n  warmup: 3\n  lr: 2.0e-4\n", "f.yaml")
    assert parse_yaml("base: &b {k: 1}\nother:\n  <<: *b\n  k: 2\n", "f.yaml")["other"] == {"k": 2}


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["data"]["sample"][0].update(envs=["nosuchenv:n=3"]), "env 'nosuchenv': no such env"),
    (lambda d: d["data"]["sample"][0].update(envs=["procedural:n=abc"]), "option n='abc' is not a valid"),
])
def test_dry_run_validates_what_it_plans(tmp_path, edit, expected):
    import yaml

    from hermes4.recipe import read_recipe_file

    data = read_recipe_file(ROOT / "recipes" / "tiny.yaml")
    edit(data)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    assert_one_line(hermes4("run", str(recipe), "--dry-run"), expected)


def test_dry_run_warns_about_a_missing_seeds_file(tmp_path):
    import yaml

    from hermes4.recipe import read_recipe_file

    data = read_recipe_file(ROOT / "recipes" / "tiny.yaml")
    data["data"]["forge"][0]["seeds"] = "/nonexistent/seeds.jsonl"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = hermes4("run", str(recipe), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr  # a plan may be made away from the data: a warning, not a refusal
    notes = json.loads(proc.stdout)["notes"]
    assert any("seeds /nonexistent/seeds.jsonl: no such file or folder here" in note for note in notes), notes
