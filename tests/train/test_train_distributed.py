"""Two real gloo ranks under torchrun (one launch for all checks): FSDP2 and TP gradients against a
single-process reference with uneven supervised tokens, 2-rank checkpoint resume, and the exported folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("train_dist_worker.py")


@pytest.fixture(scope="module")
def two_rank_results(tiny_model_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("train-dist")
    out = work / "results.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    # Own session, so a hang is cleaned up as a group: the ranks never outlive the test.
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(WORKER), str(tiny_model_dir), str(out), str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=200)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stdout[-3000:] + stderr[-5000:]
    return json.loads(out.read_text()), work


def test_uneven_supervised_tokens_across_micro_batches_and_ranks(two_rank_results):
    results, _ = two_rank_results
    counts = results["counts"]
    assert results["world_size"] == 2
    # very uneven, with a micro-batch that trains nothing: a per-micro-batch or per-rank mean would differ
    assert len({c for rank in counts for c in rank}) == 4 and 0 in counts[1]


def test_fsdp2_gradients_equal_the_single_process_reference(two_rank_results):
    fsdp = two_rank_results[0]["fsdp"]
    assert not fsdp["missing"] and not fsdp["extra"]
    assert fsdp["loss"] == pytest.approx(fsdp["ref_loss"], rel=1e-6)
    assert fsdp["max_rel_err"] < 1e-5


def test_meta_init_with_rank0_weights_matches_loading_everywhere(two_rank_results):
    meta = two_rank_results[0]["meta_init"]
    assert meta["pending"]
    assert meta["loss"] == pytest.approx(meta["ref_loss"], rel=1e-6)  # rotary buffers and weights restored


def test_tensor_parallel_gradients_equal_the_single_process_reference(two_rank_results):
    tp = two_rank_results[0]["tp"]
    assert not tp["missing"] and not tp["extra"]
    assert tp["loss"] == pytest.approx(tp["ref_loss"], rel=1e-6)
    assert tp["max_rel_err"] < 1e-5


def test_two_rank_resume_from_a_checkpoint_continues_the_loss_curve(two_rank_results):
    resume = two_rank_results[0]["resume"]
    full, resumed = resume["full"], resume["resumed"]
    assert sorted(full) == ["1", "2", "3", "4"] and sorted(resumed) == ["3", "4"]
    for step in ("3", "4"):
        assert resumed[step] == pytest.approx(full[step], abs=1e-6)


def test_export_loads_in_transformers_and_generates(two_rank_results, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    final = two_rank_results[1] / "full" / "final"
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {
        p.name for p in final.iterdir()}
    tokenizer = AutoTokenizer.from_pretrained(final)
    model = AutoModelForCausalLM.from_pretrained(final)
    assert model.config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True,
                                           tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=6, do_sample=False)
    assert out.shape[1] > ids.shape[1]
    # the exported weights are the trained ones, not the initial ones
    from safetensors.torch import load_file

    trained = load_file(final / "model.safetensors")
    initial = load_file(tiny_model_dir / "model.safetensors")
    assert trained.keys() == initial.keys()
    assert any(not torch.equal(trained[k], initial[k]) for k in trained)
