"""`hermes4 length-control`: traces from a scripted model through the llm layer, cut at the control budget,
closed with </think>, answered by the model after it, trained (loss on </think> and the end of turn only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow

SCRIPT = '''
def think(request):
    text = request.prompt
    if text.endswith("</think>"):  # the answer after a forced close
        return "\\nThe answer is 42."
    if "never stops" in text:
        return "<think>" + " step" * 400
    if "closes late" in text:
        return "<think>" + " step" * 150 + "</think>The answer."
    if "closes early" in text:
        return "<think>short</think>The answer."
    return "<think> step step"
'''


def test_length_control_cuts_closes_and_trains_on_the_two_tokens(tiny_model_dir, tiny_tokenizer, tmp_path):
    (tmp_path / "lc_script.py").write_text(SCRIPT)
    prompts = tmp_path / "prompts.jsonl"
    with prompts.open("w") as f:
        for text in ("This one never stops.", "This one closes late.", "This one closes early.", "Brief."):
            f.write(json.dumps({"messages": [{"role": "user", "content": text}]}) + "\n")
    recipe = {
        "sample": {"owned": "by another stage"},
        "train": {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / "sft"),
                  "data": {"tokenized": str(tmp_path / "unused"), "seq_len": 64}},
        "length_control": {
            "prompts": str(prompts), "llm": "scripted:lc_script:think", "control_budget": 100,
            "generation_budget": 300,
            "train": {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / "lc"),
                      "data": {"seq_len": 256}, "global_batch_size": 2, "optim": {"lr": 1e-3},
                      "schedule": {"steps": 2, "warmup_steps": 0}, "logging": {"progress": False},
                      "checkpoint": {"every": 0}},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    # Generation and cutting in one command, the training as the torchrun entry runs it (one process here).
    proc = subprocess.run([sys.executable, "-m", "hermes4", "length-control", str(path), "--json", "--generate-only"],
                          capture_output=True, text=True, env=env, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (report["traces"], report["cut"], report["closed_naturally"], report["short"], report["used"]) == (
        4, 2, 1, 1, 2)
    assert report["train"] is None
    proc = subprocess.run([sys.executable, "-m", "hermes4.train", str(path), "--length-control"],
                          capture_output=True, text=True, env=env, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads(proc.stdout.strip().splitlines()[-1])

    from hermes4.train.data import TokenizedSamples

    samples = TokenizedSamples.load(tmp_path / "lc" / "length_control_samples")
    think_end = tiny_tokenizer.convert_tokens_to_ids("</think>")
    end_of_turn = tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")
    first_trace = json.loads((tmp_path / "lc" / "traces.jsonl").read_text().splitlines()[0])
    prompt_len = len(tiny_tokenizer.encode(first_trace["prompt"]))
    answer_ids = tiny_tokenizer.encode("\nThe answer is 42.", add_special_tokens=False)
    for i in range(len(samples)):
        ids, mask = samples.sample(i)
        close = prompt_len + 100  # cut at exactly the budget of generated tokens
        assert ids[close] == think_end and ids[-1] == end_of_turn
        assert ids[close + 1:-1].tolist() == answer_ids  # the model's answer, between </think> and the end
        assert mask.tolist() == [0] * close + [1] + [0] * len(answer_ids) + [1]
        assert think_end not in ids[prompt_len:close].tolist()  # (the deep-thinking system prompt names the tag)
    traces = [json.loads(line) for line in (tmp_path / "lc" / "traces.jsonl").read_text().splitlines()]
    assert [t["reasoning_tokens"] for t in traces[:2]] == [100, 100]
    # the training run used only those tokens: 2 per sample, both samples in the step
    records = [json.loads(line) for line in (tmp_path / "lc" / "metrics.jsonl").read_text().splitlines()]
    assert [r["supervised_tokens"] for r in records] == [4, 4]
    assert run["steps"] == 2 and (tmp_path / "lc" / "final" / "model.safetensors").is_file()


LINES_SCRIPT = '''
def think(request):
    if request.prompt.endswith("</think>"):
        return "The answer is 42."
    return "<think>\\n" + "".join(f"Next: {i} (left: {i + 1}, {i + 2}).\\n" for i in range(300))
'''


def test_cut_at_line_closes_after_the_last_finished_step(tiny_model_dir, tmp_path):
    (tmp_path / "lines_script.py").write_text(LINES_SCRIPT)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"messages": [{"role": "user", "content": "Sort 3, 1, 2."}]}) + "\n")
    traces_by_cut = {}
    for cut_at in ("budget", "line"):
        out = tmp_path / cut_at
        recipe = {"length_control": {
            "prompts": str(prompts), "llm": "scripted:lines_script:think", "control_budget": 50,
            "generation_budget": 80, "cut_at": cut_at,
            "train": {"model": {"path": str(tiny_model_dir)}, "output_dir": str(out), "data": {"seq_len": 256}}}}
        path = tmp_path / f"{cut_at}.yaml"
        path.write_text(yaml.safe_dump(recipe))
        env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        proc = subprocess.run([sys.executable, "-m", "hermes4", "length-control", str(path), "--json", "--generate-only"],
                              capture_output=True, text=True, env=env, timeout=180, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (trace,) = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
        traces_by_cut[cut_at] = trace
    exact, line = traces_by_cut["budget"], traces_by_cut["line"]
    assert exact["reasoning_tokens"] == line["reasoning_tokens"] == 50  # the engine's count of what it generated
    assert not exact["reasoning"].endswith("\n")  # exactly at the budget: mid-step
    assert line["reasoning"].endswith(").\n") and exact["reasoning"].startswith(line["reasoning"])
    assert 0 < len(exact["reasoning"]) - len(line["reasoning"]) < len("Next: 100 (left: 101, 102).\n")
    assert line["answer"] == exact["answer"] == "The answer is 42."
