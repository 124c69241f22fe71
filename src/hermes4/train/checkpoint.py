"""Distributed checkpoints: model and optimizer shards (torch.distributed.checkpoint), scheduler, data
position and RNG, written every N steps, the last K kept, resumed so the loss curve continues exactly."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import nn

from hermes4.train.config import ConfigError, TrainConfig
from hermes4.train.parallel import Distributed

_DONE = "COMPLETE"  # written last: a directory without it is a torn save and is never resumed from


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def step_dir(root: Path, step: int) -> Path:
    return root / f"step_{step:08d}"


def complete_checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step_*") if (p / _DONE).exists())


def latest_checkpoint(root: Path) -> Path | None:
    found = complete_checkpoints(root)
    return found[-1] if found else None


def run_identity(cfg: TrainConfig, lengths: np.ndarray, world_size: int) -> dict[str, Any]:
    """What a checkpoint's data position, RNG and shards mean, by config field: the loader's cursor counts
    micro-batches of this packing on this many ranks, so a resume with any of these changed would silently continue
    somewhere else in the data. (The schedule, learning rate, optimizer settings, logging, checkpointing and
    export may change: the trainer applies the new values from the resumed step.)"""
    lengths = np.asarray(lengths, dtype=np.int64)
    data = f"{len(lengths)} samples, {int(lengths.sum())} tokens, lengths {hashlib.sha256(lengths.tobytes()).hexdigest()[:12]}"
    return {"train.data (the samples)": data, "train.data.seq_len": cfg.data.seq_len,
            "train.data.pack_algo": cfg.data.pack_algo, "train.global_batch_size": cfg.global_batch_size,
            "train.micro_batch_size": cfg.micro_batch_size, "train.seed": cfg.seed,
            "train.model.format": cfg.model.format, "train.parallel.tp": cfg.parallel.tp, "world size": world_size}


def check_resume(path: Path, saved: dict[str, Any] | None, now: dict[str, Any]) -> None:
    """Refuse (ConfigError, one line naming the field) a resume whose config changed what the checkpoint means."""
    for field, value in (saved or {}).items():
        if now.get(field) != value:
            raise ConfigError(f"{field}: {now.get(field)!r} now, {value!r} in the checkpoint {path}; resuming would "
                              "continue elsewhere in the data. Set it back, or start over (train.checkpoint.resume: "
                              "never, or another output_dir)")


def save_checkpoint(root: Path, step: int, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, data_state: dict[str, Any], env: Distributed, keep: int,
                    identity: dict[str, Any] | None = None) -> Path:
    """Every rank calls this. Returns the directory written. `identity`: `run_identity` of the run."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    path = step_dir(root, step)
    if env.is_main:
        if path.exists():  # a torn save of the same step from an earlier crash
            shutil.rmtree(path)
        path.mkdir(parents=True)
    env.barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(path / "shards"))
    torch.save({"rng": _rng_state(), "data": data_state}, path / f"rank{env.rank:05d}.pt")
    env.barrier()
    if env.is_main:
        meta = {"step": step, "world_size": env.world_size, "scheduler": scheduler.state_dict(), "identity": identity}
        (path / "meta.json").write_text(json.dumps(meta))
        (path / _DONE).write_text("")
        for old in complete_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    env.barrier()
    return path


def load_checkpoint(path: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                    env: Distributed, identity: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """Restore everything saved at `path`; returns (step, this rank's data-loader state). With `identity`, a
    checkpoint made under a different one is refused before anything is loaded."""
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    meta = json.loads((path / "meta.json").read_text())
    if meta["world_size"] != env.world_size:
        raise ConfigError(f"world size: {env.world_size} ranks now, {meta['world_size']} in the checkpoint {path}; the "
                          "data position and RNG are per rank, so resume on the same number of ranks")
    if identity is not None:
        check_resume(path, meta.get("identity"), identity)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd}
    dcp.load(state, checkpoint_id=str(path / "shards"))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    scheduler.load_state_dict(meta["scheduler"])
    extra = torch.load(path / f"rank{env.rank:05d}.pt", weights_only=False)
    _set_rng_state(extra["rng"])
    if dist.is_initialized():
        dist.barrier()
    return int(meta["step"]), extra["data"]
