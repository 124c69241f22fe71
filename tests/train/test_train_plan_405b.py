"""The 405B recipe carries the paper's settings, and the plan's assumed MFU is the one the paper's table implies."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_405b_recipe_has_the_papers_settings():
    from hermes4.train.config import load_train_config

    cfg = load_train_config(REPO / "recipes" / "llama3.1-405b.yaml")
    assert cfg.model.architecture == "llama3.1-405b" and cfg.model.format == "llama3"
    assert cfg.optim.lr == 5e-6
    assert (cfg.schedule.steps, cfg.schedule.warmup_steps, cfg.global_batch_size, cfg.data.seq_len) == (
        9000, 300, 384, 16384)
    assert cfg.parallel.planned_world_size == 192 and cfg.parallel.fsdp and cfg.parallel.tp == 8


def test_assumed_mfu_is_calibrated_to_the_papers_throughput():
    from hermes4.recipe.plan import REPORTED_B200, assumed_mfu, implied_mfu

    # 56B tokens in 4,454 B200-hours for the 14B: 13.8% of a B200's dense bf16 peak with our FLOPs count
    assert implied_mfu("qwen3-14b") == pytest.approx(0.138, abs=0.001)
    assert REPORTED_B200["llama3.1-405b"] == pytest.approx(56e9 / (71_616 * 3600))
    assert assumed_mfu(1.7e9)[1] == "qwen3-14b" and assumed_mfu(8e9)[1] == "qwen3-14b"
    assert assumed_mfu(405e9) == (pytest.approx(implied_mfu("llama3.1-405b")), "llama3.1-405b")
    assert 0.2 < implied_mfu("llama3.1-70b") < 0.25
