"""Trainer config, recipes and their dry-run plans, the LR schedule, chunked cross-entropy, FLOP accounting."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from hermes4.train.config import (
    ConfigError,
    load_length_control_config,
    load_train_config,
    parse_train_config,
)

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _plan(capsys, path: Path, **kwargs) -> dict:
    from hermes4.train.entry import run_train

    assert run_train(str(path), dry_run=True, as_json=True, **kwargs) == 0
    return json.loads(capsys.readouterr().out)


def test_qwen3_14b_recipe_dry_run_matches_the_paper(capsys):
    cfg = load_train_config(RECIPES / "qwen3-14b.yaml")
    assert (cfg.data.seq_len, cfg.global_batch_size, cfg.schedule.steps, cfg.schedule.warmup_steps) == (
        16384, 384, 9000, 300)
    assert cfg.schedule.decay == "cosine" and cfg.optim.lr == 5e-5
    assert cfg.parallel.fsdp and cfg.parallel.tp == 1
    plan = _plan(capsys, RECIPES / "qwen3-14b.yaml")
    assert plan["steps"] == 9000 and plan["world_size"] == 192 and plan["grad_accum"] == 2
    assert plan["total_tokens"] == 384 * 16384 * 9000  # 56.6B, the table's "56 billion"
    assert 14.5e9 < plan["params"] < 15e9
    memory = plan["memory_per_gpu_bytes"]
    # fp32 params + grads + two AdamW moments = 16 bytes per parameter, sharded over all 192 ranks
    assert memory["params"] + memory["grads"] + memory["optimizer"] == pytest.approx(16 * plan["params"] / 192)
    assert 0 < memory["activations"] and memory["total"] < 180 * 2**30  # fits a B200


def test_llama_70b_recipe_dry_run_uses_fsdp_and_tp(capsys):
    cfg = load_train_config(RECIPES / "llama3.1-70b.yaml")
    assert cfg.optim.lr == 1e-5 and cfg.parallel.tp > 1 and cfg.parallel.fsdp and cfg.model.format == "llama3"
    plan = _plan(capsys, RECIPES / "llama3.1-70b.yaml")
    assert 70e9 < plan["params"] < 71e9
    assert plan["dp"] * plan["tp"] == 192 and plan["grad_accum"] == 384 // plan["dp"]
    assert plan["memory_per_gpu_bytes"]["total"] < 180 * 2**30
    # a world size the batch does not split over is refused with the allowed values
    from hermes4.train.entry import run_train

    assert run_train(str(RECIPES / "llama3.1-70b.yaml"), dry_run=True, world_size=40 * 8) == 2
    assert "train.global_batch_size" in capsys.readouterr().err


def test_length_control_section_continues_from_the_sft_export():
    lc = load_length_control_config(RECIPES / "qwen3-14b.yaml")
    assert (lc.control_budget, lc.generation_budget) == (30000, 40960)
    sft = load_train_config(RECIPES / "qwen3-14b.yaml")
    assert lc.train.model.path == str(sft.resolved("export"))
    assert lc.train.output_dir != sft.output_dir and lc.train.data.seq_len >= lc.control_budget


def test_unknown_top_level_sections_are_ignored_and_bad_fields_named(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("sample: {anything: [1, 2]}\neval: 3\ntrain:\n  model: {path: m}\n")
    assert load_train_config(path).model.path == "m"

    def error(train_yaml: str) -> str:
        path.write_text(train_yaml)
        with pytest.raises(ConfigError) as exc:
            load_train_config(path)
        return str(exc.value)

    assert "train.optim.lrr: unknown field" in error("train:\n  model: {path: m}\n  optim: {lrr: 1}\n")
    message = error("train:\n  model: {path: m}\n  schedule: {decay: cosin}\n")
    assert "train.schedule.decay" in message and "'cosine'" in message and "'linear'" in message
    assert "train.model: Field required" in error("train:\n  seed: 1\n")
    assert "train.optim.lr" in error("train:\n  model: {path: m}\n  optim: {lr: -1}\n")
    assert "no `train:` section" in error("sample: {}\n")
    assert "warmup_steps" in error("train:\n  model: {path: m}\n  schedule: {steps: 5, warmup_steps: 9}\n")


def test_cli_reports_config_errors_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from hermes4.cli import app

    path = tmp_path / "r.yaml"
    path.write_text("train:\n  model: {path: m}\n  parallel: {mixed_precision: fp8}\n")
    result = CliRunner().invoke(app, ["train", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert "train.parallel.mixed_precision: must be one of" in result.output
    assert "Traceback" not in result.output


def test_warmup_then_cosine_to_the_floor():
    from hermes4.train.trainer import lr_multiplier

    cfg = parse_train_config({"model": {"path": "m"}, "schedule": {"steps": 100, "warmup_steps": 10,
                                                                   "min_lr_ratio": 0.1}})
    ramp = [lr_multiplier(s, cfg) for s in range(10)]
    assert ramp[0] == pytest.approx(0.1) and ramp[-1] == pytest.approx(1.0)
    assert all(a < b for a, b in itertools.pairwise(ramp))
    assert lr_multiplier(10, cfg) == pytest.approx(1.0)
    assert lr_multiplier(55, cfg) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_multiplier(100, cfg) == pytest.approx(0.1)


def test_chunked_cross_entropy_equals_full_logits():
    from hermes4.train.loss import cross_entropy_sum

    torch.manual_seed(0)
    hidden = torch.randn(2, 37, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (2, 37))
    targets[0, :9] = -100
    targets[1, 30:] = -100
    reference = F.cross_entropy((hidden @ weight.T).view(-1, 50), targets.view(-1), ignore_index=-100,
                                reduction="sum")
    ref_grads = torch.autograd.grad(reference, (hidden, weight))
    chunked = cross_entropy_sum(hidden, weight, targets, chunk_tokens=8)
    grads = torch.autograd.grad(chunked, (hidden, weight))
    assert chunked.item() == pytest.approx(reference.item(), rel=1e-12)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)
    # a micro-batch with nothing to learn still yields a zero loss connected to every input
    empty = cross_entropy_sum(hidden, weight, torch.full_like(targets, -100), chunk_tokens=8)
    empty.backward()
    assert empty.item() == 0 and weight.grad is not None


def test_attention_flops_come_from_document_lengths():
    from transformers import Qwen3Config

    from hermes4.train.metrics import ModelShape, training_flops

    shape = ModelShape.from_hf_config(Qwen3Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                                  num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                                  vocab_size=100))
    one_document = training_flops(shape, 1024, 1024**2)
    many_documents = training_flops(shape, 1024, 16 * 64**2)
    assert many_documents < one_document
    assert one_document - many_documents == pytest.approx(6 * 2 * 4 * 16 * (1024**2 - 16 * 64**2))
    from transformers import Qwen3ForCausalLM

    with torch.device("meta"):
        model = Qwen3ForCausalLM(Qwen3Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                             vocab_size=100, tie_word_embeddings=False))
    assert shape.params == sum(p.numel() for p in model.parameters())


def test_mix_errors_name_the_source_field(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("train:\n  model: {path: m}\n  data:\n    mix: {sources: [{path: a.jsonl, weight: -1}]}\n")
    with pytest.raises(ConfigError) as exc:
        load_train_config(path)
    assert "train.data: mix.sources[0].weight" in str(exc.value)
    path.write_text("train:\n  model: {path: m}\n  data: {mix: [{path: a.jsonl}], tokenized: t}\n")
    with pytest.raises(ConfigError, match="either mix or tokenized"):
        load_train_config(path)


def test_metrics_sink_writes_jsonl_and_names_missing_optional_loggers(tmp_path):
    import importlib.util

    from hermes4.train.metrics import MetricsSink, ModelShape, Throughput

    cfg = parse_train_config({"model": {"path": "m"}, "output_dir": str(tmp_path), "logging": {"progress": False}})
    sink = MetricsSink(cfg, total_steps=2, start_step=0, enabled=True)
    throughput = Throughput(ModelShape(params=10, linear_params=10, layers=1, hidden=4, intermediate=8, heads=1,
                                       kv_heads=1, head_dim=4, vocab=10, tied=True), peak_flops=1e9, world_size=1)
    throughput.add(100, 100**2)
    record = {"step": 1, "loss": 2.0, **throughput.read()}
    assert 0 < record["mfu"] and record["tflops_per_gpu"] * 1e12 == pytest.approx(record["mfu"] * 1e9)
    sink.log(record)
    sink.close()
    assert json.loads((tmp_path / "metrics.jsonl").read_text())["step"] == 1
    if importlib.util.find_spec("tensorboard") is None:
        tb = parse_train_config({"model": {"path": "m"}, "output_dir": str(tmp_path),
                                 "logging": {"progress": False, "tensorboard": True}})
        with pytest.raises(ConfigError, match="train.logging.tensorboard: tensorboard is not installed"):
            MetricsSink(tb, total_steps=1, start_step=0, enabled=True)
