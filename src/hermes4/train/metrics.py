"""What a run reports: FLOPs and MFU (attention from real document lengths), the memory plan behind
`--dry-run`, and the sinks for metrics (rich progress bar, JSONL, optional TensorBoard / W&B)."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hermes4.train.config import ConfigError, TrainConfig

# Dense bf16 peak per device (FLOP/s), by a substring of torch.cuda.get_device_name().
PEAK_BF16_FLOPS = {"B200": 2.25e15, "H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12}


def peak_flops_for(device_name: str) -> float | None:
    for key, value in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return value
    return None


@dataclass(frozen=True)
class ModelShape:
    """What FLOPs and memory depend on, read from a Hugging Face config."""

    params: int
    linear_params: int  # parameters that take part in a matmul per token (all but the embedding lookup)
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool

    @classmethod
    def from_hf_config(cls, config: Any) -> ModelShape:
        h, i, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
        heads, kv = config.num_attention_heads, config.num_key_value_heads
        d = getattr(config, "head_dim", None) or h // heads
        v = config.vocab_size
        tied = bool(getattr(config, "tie_word_embeddings", False))
        per_layer = h * heads * d + 2 * h * kv * d + heads * d * h + 3 * h * i + 2 * h
        if getattr(config, "model_type", "") == "qwen3":
            per_layer += 2 * d  # q_norm, k_norm
        if getattr(config, "attention_bias", False):
            per_layer += heads * d + 2 * kv * d
        params = n * per_layer + v * h + h + (0 if tied else v * h)
        linear = n * (per_layer - 2 * h) + v * h
        return cls(params=params, linear_params=linear, layers=n, hidden=h, intermediate=i, heads=heads,
                   kv_heads=kv, head_dim=d, vocab=v, tied=tied)


def training_flops(shape: ModelShape, tokens: int, sum_doc_len_sq: float) -> float:
    """FLOPs of forward + backward for `tokens` tokens packed from documents with sum of squared lengths.

    Matmuls: 6 per parameter per token. Causal attention: QK^T and AV are 2 matmuls of ℓ²/2 useful
    entries each over heads x head_dim, times 2 (multiply-add) times 3 (forward + backward) = 6·ℓ²·H·d per
    layer. Using the real document lengths, not the row length, matters: a 16k row of 100 short documents
    does ~100x less attention work than one 16k document.
    """
    return 6.0 * shape.linear_params * tokens + 6.0 * shape.layers * shape.heads * shape.head_dim * sum_doc_len_sq


@dataclass
class MemoryPlan:
    """Per-GPU memory estimate (bytes) under the configured sharding."""

    world_size: int
    dp: int
    tp: int
    grad_accum: int
    params: float
    grads: float
    optimizer: float
    unsharded_compute_params: float
    activations: float
    logits: float

    @property
    def total(self) -> float:
        return (self.params + self.grads + self.optimizer + self.unsharded_compute_params + self.activations
                + self.logits)


def memory_plan(cfg: TrainConfig, shape: ModelShape, world_size: int, *, on_gpu: bool = True) -> MemoryPlan:
    """Estimate: fp32 master params, grads and AdamW moments sharded over every rank (FSDP over dp, TP
    over tp); bf16 copies of the root group (embeddings, head) plus two blocks being gathered; saved
    activations (one bf16 hidden state per block with activation checkpointing, else what a SwiGLU block
    saves for backward); the logits of one loss chunk in fp32."""
    tp = cfg.parallel.tp
    if world_size % tp:
        raise ConfigError(f"train.parallel.tp: {tp} does not divide the world size {world_size}")
    dp = world_size // tp
    accum = cfg.grad_accum_steps(dp)
    shard = world_size if cfg.parallel.fsdp else tp
    compute_bytes = 2 if (cfg.parallel.mixed_precision == "bf16" or (cfg.parallel.mixed_precision == "auto"
                                                                       and on_gpu)) else 4
    s = shape
    layer_params = (s.params - s.vocab * s.hidden * (1 if s.tied else 2)) / s.layers
    root_params = s.vocab * s.hidden * (1 if s.tied else 2)
    tokens = cfg.micro_batch_size * cfg.data.seq_len
    if cfg.parallel.activation_checkpointing:
        per_token = s.layers * s.hidden * compute_bytes
        # plus one block recomputed in full during its backward
        per_token += compute_bytes * (4 * s.hidden + (3 * s.heads * s.head_dim + 2 * s.kv_heads * s.head_dim
                                                      + 4 * s.intermediate) / tp)
    else:
        per_token = s.layers * compute_bytes * (4 * s.hidden + (3 * s.heads * s.head_dim
                                                                 + 2 * s.kv_heads * s.head_dim
                                                                 + 4 * s.intermediate) / tp)
    chunked = cfg.loss.chunked == "on" or (cfg.loss.chunked == "auto" and on_gpu)
    logit_rows = min(cfg.loss.chunk_tokens, tokens) if chunked else tokens
    return MemoryPlan(
        world_size=world_size, dp=dp, tp=tp, grad_accum=accum,
        params=4 * s.params / shard, grads=4 * s.params / shard, optimizer=8 * s.params / shard,
        unsharded_compute_params=compute_bytes * (root_params + 2 * layer_params / tp),
        activations=per_token * tokens,
        logits=3 * 4 * logit_rows * s.vocab,  # logits, softmax and its gradient, fp32
    )


def gib(value: float) -> str:
    return f"{value / 2**30:.1f} GiB"


def keep_steps_up_to(path: Path, step: int) -> None:
    """Drop the lines of `path` logged after `step` (a killed run logs steps past its last checkpoint, which the
    resumed run logs again), so every step appears once. Atomic: a crash here leaves the old file."""
    if not path.is_file():
        return
    kept = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                logged = json.loads(line).get("step", 0)
            except json.JSONDecodeError:  # a line torn by the kill
                continue
            if logged <= step:
                kept.append(line if line.endswith("\n") else line + "\n")
    partial = path.with_name(path.name + ".tmp")
    partial.write_text("".join(kept), encoding="utf-8")
    os.replace(partial, path)


def wandb_run_id(output_dir: Path) -> str:
    """The run's W&B id, made once and kept in `output_dir/wandb_run_id`, so a resumed run continues the same W&B
    run instead of starting a new one."""
    path = output_dir / "wandb_run_id"
    if path.is_file():
        return path.read_text().strip()
    run_id = secrets.token_hex(8)
    output_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


class MetricsSink:
    """Rank 0's outputs: one JSONL line per logged step, a rich progress bar, TensorBoard / W&B if asked."""

    def __init__(self, cfg: TrainConfig, *, total_steps: int, start_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total_steps = total_steps
        self._progress = None
        self._tb = None
        self._wandb = None
        if not enabled:
            return
        if cfg.logging.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("train.logging.tensorboard: tensorboard is not installed "
                                  "(pip install 'hermes4[logging]'); allowed without it: false") from None
            self._tb = SummaryWriter(str(Path(cfg.output_dir) / "tensorboard"))
        if cfg.logging.wandb_project:
            try:
                import wandb
            except ImportError:
                raise ConfigError("train.logging.wandb_project: wandb is not installed "
                                  "(pip install 'hermes4[logging]'); allowed without it: null") from None
            self._wandb = wandb.init(project=cfg.logging.wandb_project, config=cfg.model_dump(),
                                     dir=cfg.output_dir, id=wandb_run_id(Path(cfg.output_dir)), resume="allow")
        path = cfg.resolved("jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        keep_steps_up_to(path, start_step)
        self._jsonl = path.open("a", encoding="utf-8")
        if cfg.logging.progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}  {task.fields[tps]:,.0f} tok/s"),
                TextColumn("ETA"), TimeRemainingColumn(), transient=False)
            self._task = self._progress.add_task("train", total=total_steps, completed=start_step, loss=float("nan"),
                                                 tps=0.0)
            self._progress.start()

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        step = record["step"]
        if self._tb is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self._tb.add_scalar(f"train/{key}", value, step)
        if self._wandb is not None:
            self._wandb.log({f"train/{k}": v for k, v in record.items() if k != "step"}, step=step)
        if self._progress is not None:
            self._progress.update(self._task, completed=step, loss=record["loss"], tps=record["tokens_per_s"])

    def close(self) -> None:
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.stop()
        self._jsonl.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


class Throughput:
    """Tokens/s and MFU over the last logging window."""

    def __init__(self, shape: ModelShape | None, peak_flops: float | None, world_size: int) -> None:
        self.shape, self.peak, self.world = shape, peak_flops, world_size
        self.reset()

    def reset(self) -> None:
        self.start = time.perf_counter()
        self.tokens = 0
        self.flops = 0.0

    def add(self, tokens: int, sum_doc_len_sq: float) -> None:
        self.tokens += tokens
        if self.shape is not None:
            self.flops += training_flops(self.shape, tokens, sum_doc_len_sq)

    def read(self) -> dict[str, float]:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        out = {"tokens_per_s": self.tokens / seconds, "tflops_per_gpu": self.flops / seconds / self.world / 1e12}
        if self.peak:
            out["mfu"] = self.flops / seconds / self.world / self.peak
        return out


def plan_record(plan: MemoryPlan) -> dict[str, Any]:
    record = asdict(plan)
    record["total"] = plan.total
    return record
