"""The tiny model factory: loads offline, Hermes tokens are single tokens, nothing added, deterministic."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from hermes4.chat import export_template, render, tokenize
from hermes4.chat.battery import BATTERY
from hermes4.chat.formats import CONTROL_TOKENS, TAG_TOKENS
from hermes4.cli import app


def test_tiny_folder_loads_offline_and_runs(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True)
    assert model.config.model_type == "qwen3"
    assert model.config.vocab_size == len(tokenizer)
    rendered = render(BATTERY[0].conversation, add_generation_prompt=True)
    ids = torch.tensor([tokenize([rendered], tokenizer)[0].input_ids])
    out = model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert ids.shape[1] < out.shape[1] <= ids.shape[1] + 4
    assert torch.equal(out[0, : ids.shape[1]], ids[0])
    assert (tiny_model_dir / "model.safetensors").is_file()


def test_special_tokens_are_single_and_nothing_is_added(tiny_tokenizer, tiny_llama3_tokenizer):
    for tokenizer in (tiny_tokenizer, tiny_llama3_tokenizer):
        for token in (*CONTROL_TOKENS, *TAG_TOKENS, "<|pad|>"):
            assert len(tokenizer(token)["input_ids"]) == 1, token
        text = "Hello, 12 {\"a\": 1}"
        ids = tokenizer(text)["input_ids"]
        assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
        # the tags survive skip_special_tokens (the parser reads them); the control tokens do not
        assert tokenizer.decode(tokenizer("<think>x</think><|im_end|>")["input_ids"], skip_special_tokens=True) == "<think>x</think>"
    assert (tiny_tokenizer.eos_token, tiny_tokenizer.pad_token, tiny_tokenizer.bos_token) == ("<|im_end|>", "<|pad|>", None)
    assert (tiny_llama3_tokenizer.eos_token, tiny_llama3_tokenizer.bos_token) == ("<|eot_id|>", "<|begin_of_text|>")
    assert tiny_tokenizer.chat_template == export_template("chatml")
    assert tiny_llama3_tokenizer.chat_template == export_template("llama3")


def test_digits_and_json_tokenize_sensibly(tiny_tokenizer):
    tokens = tiny_tokenizer.tokenize('{"city": "Paris", "n": 2024}')
    # digits one by one, as in Qwen, a space kept with the digit after it as with a word (Ġ is the byte-level space)
    assert [t for t in tokens if t.lstrip("Ġ").isdigit()] == ["Ġ2", "0", "2", "4"]
    assert len(tiny_tokenizer) > 2000


def test_cli_tiny_init_is_deterministic(tiny_model_dir, tmp_path):
    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "again")
    for name in ("tokenizer.json", "model.safetensors", "config.json", "chat_template.jinja"):
        assert (tmp_path / "again" / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name

    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path / "other"), "--seed", "1", "--layers", "1", "--format", "llama3"])
    assert result.exit_code == 0, result.output
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "other", local_files_only=True)
    assert model.config.num_hidden_layers == 1
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "other", local_files_only=True)
    assert model.config.eos_token_id == tokenizer.convert_tokens_to_ids("<|eot_id|>")  # llama3's end of turn


def test_cli_tiny_init_rejects_bad_sizes(tmp_path):
    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path / "x"), "--hidden-size", "30", "--heads", "4"])
    assert result.exit_code == 2
    assert "--heads" in result.stderr
    assert not (tmp_path / "x").exists()


def test_cli_tiny_init_head_dim(tmp_path):
    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path / "wide"), "--hidden-size", "30", "--heads", "4",
                                      "--kv-heads", "2", "--head-dim", "16", "--layers", "1", "--vocab-size", "400"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "wide" / "config.json").read_text())["head_dim"] == 16  # 30 / 4 would not divide
    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path / "bad"), "--head-dim", "-8"])
    assert result.exit_code == 2 and "--head-dim" in result.stderr
    assert not (tmp_path / "bad").exists()
