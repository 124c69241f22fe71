"""A base tokenizer without the Hermes tags gets them (embeddings grown, new rows at the mean), the trained export
carries them as added tokens, and the export loads with the same logits in transformers 5 and in a pinned 4.x."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hermes4.chat.formats import TAG_TOKENS

REPO = Path(__file__).resolve().parents[2]
TF4_PYTHON = REPO / ".venv-tf4" / "bin" / "python"

CONVERSATIONS = [
    {"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                  {"role": "assistant", "reasoning_content": f"Add {i} and {i}.",
                   "tool_calls": [{"id": "c1", "type": "function",
                                   "function": {"name": "add", "arguments": {"a": i, "b": i}}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": str(2 * i)},
                  {"role": "assistant", "content": f"It is {2 * i}."}], "thinking": True}
    for i in range(8)
]


@pytest.fixture(scope="module")
def base_model_dir(tmp_path_factory) -> Path:
    from hermes4.train.tiny import init_tiny

    return init_tiny(tmp_path_factory.mktemp("base-no-tags"), hermes_tags=False, seed=1)


def test_tags_are_added_and_new_rows_start_at_the_mean(base_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hermes4.train.vocab import add_hermes_tokens, grow_embeddings

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    assert len(tokenizer.encode("<tool_call>", add_special_tokens=False)) > 1  # a base tokenizer: pieces
    model = AutoModelForCausalLM.from_pretrained(base_model_dir)
    old = model.get_input_embeddings().weight.detach().clone()

    added = add_hermes_tokens(tokenizer, "chatml")
    assert added == list(TAG_TOKENS)
    for tag in TAG_TOKENS:
        assert len(tokenizer.encode(tag, add_special_tokens=False)) == 1, tag
    assert add_hermes_tokens(tokenizer, "chatml") == []  # idempotent
    # the tags stay ordinary tokens: decoding with skip_special_tokens keeps them for the parsers
    ids = tokenizer.encode("<think>x</think>", add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>x</think>"

    assert grow_embeddings(model, len(tokenizer))
    new = model.get_input_embeddings().weight
    assert new.shape[0] == len(tokenizer) == old.shape[0] + len(TAG_TOKENS)
    assert torch.equal(new[: old.shape[0]], old)
    assert torch.allclose(new[old.shape[0]:], old.mean(dim=0).expand(len(TAG_TOKENS), -1), atol=1e-6)
    assert model.get_output_embeddings().weight is new  # still tied
    assert model.config.vocab_size == len(tokenizer)


def test_a_bare_base_gets_the_turn_tokens_as_special_and_the_tags_as_ordinary():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from hermes4.train.vocab import add_hermes_tokens, format_control_tokens

    assert format_control_tokens("llama3") == ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                               "<|eot_id|>"]
    assert format_control_tokens("chatml") == ["<|im_start|>", "<|im_end|>"]
    bare = Tokenizer(models.BPE())
    bare.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bare.decoder = decoders.ByteLevel()
    bare.train_from_iterator(["hello world " * 50], trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bare)
    assert add_hermes_tokens(tokenizer, "llama3") == [*format_control_tokens("llama3"), *TAG_TOKENS]
    ids = tokenizer.encode("<|start_header_id|>assistant<|end_header_id|>\n\n<think>hi</think><|eot_id|>",
                           add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == "assistant\n\n<think>hi</think>"


@pytest.mark.slow
def test_training_a_tagless_base_exports_the_tags_and_loads_in_transformers_4(base_model_dir, tmp_path):
    import yaml
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = tmp_path / "tools.jsonl"
    data.write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS))
    train = {"model": {"path": str(base_model_dir)}, "output_dir": str(tmp_path / "run"),
             "data": {"mix": {"sources": [{"path": str(data)}]}, "seq_len": 512}, "global_batch_size": 2,
             "optim": {"lr": 1e-3}, "schedule": {"steps": 2, "warmup_steps": 0},
             "checkpoint": {"every": 0}, "logging": {"progress": False}}
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "hermes4", "train", str(config)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "added 6 tokens" in proc.stderr
    export = tmp_path / "run" / "final"

    tokenizer = AutoTokenizer.from_pretrained(export)
    for tag in TAG_TOKENS:
        assert len(tokenizer.encode(tag, add_special_tokens=False)) == 1, tag
    added = {t["content"] for t in json.loads((export / "tokenizer.json").read_text())["added_tokens"]}
    assert set(TAG_TOKENS) <= added
    config_json = json.loads((export / "config.json").read_text())
    assert config_json["vocab_size"] == len(tokenizer)
    assert config_json["rope_theta"] == config_json["rope_parameters"]["rope_theta"]
    assert json.loads((export / "tokenizer_config.json").read_text())["tokenizer_class"] == "PreTrainedTokenizerFast"
    generation = json.loads((export / "generation_config.json").read_text())
    assert (generation["temperature"], generation["top_p"], generation["top_k"], generation["do_sample"]) == (
        0.6, 0.95, 20, True)

    model = AutoModelForCausalLM.from_pretrained(export).eval()
    text = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n1 + 1</think>\n<tool_call>"
    ids = tokenizer.encode(text, add_special_tokens=False)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]

    if not TF4_PYTHON.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{TF4_PYTHON} missing: `make tf4` makes it (make test depends on it)")
        pytest.skip(f"{TF4_PYTHON} missing: run `make tf4`")
    probe = ("import json, sys, torch, transformers\n"
             "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
             "assert transformers.__version__.startswith('4.'), transformers.__version__\n"
             "tok = AutoTokenizer.from_pretrained(sys.argv[1])\n"
             "model = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()\n"
             "ids = tok.encode(sys.argv[2], add_special_tokens=False)\n"
             "with torch.no_grad(): logits = model(torch.tensor([ids])).logits[0, -1]\n"
             "print(json.dumps({'version': transformers.__version__, 'class': type(tok).__name__, 'ids': ids,\n"
             "  'rope_theta': model.config.rope_theta, 'logits': logits.tolist(),\n"
             "  'temperature': model.generation_config.temperature}))\n")
    clean = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # nothing of the 5.x environment
    tf4 = subprocess.run([str(TF4_PYTHON), "-c", probe, str(export), text], capture_output=True, text=True,
                         env=clean, timeout=300, check=False)
    assert tf4.returncode == 0, tf4.stderr[-3000:]
    seen = json.loads(tf4.stdout.strip().splitlines()[-1])
    assert seen["version"].startswith("4.57")
    assert seen["ids"] == ids  # same tokens, the tags single
    assert seen["rope_theta"] == config_json["rope_parameters"]["rope_theta"]
    assert seen["temperature"] == 0.6
    assert torch.allclose(torch.tensor(seen["logits"]), logits, atol=1e-4)
