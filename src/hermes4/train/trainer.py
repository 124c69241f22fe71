"""The SFT trainer, top to bottom: set up ranks, model, parallelism, data, optimizer; loop; checkpoint; export.

One process (`hermes4 train CONFIG`) or many (`torchrun --nproc_per_node N -m hermes4.train CONFIG`) run the
same code: a single process is a one-rank group, so FSDP2 and distributed checkpoints are always on.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hermes4.train.batches import PackedBatch, PackedLoader
from hermes4.train.checkpoint import latest_checkpoint, load_checkpoint, run_identity, save_checkpoint
from hermes4.train.config import ARCHITECTURES, ConfigError, TrainConfig
from hermes4.train.loss import CausalLMLoss
from hermes4.train.metrics import MetricsSink, ModelShape, Throughput, peak_flops_for
from hermes4.train.shards import hold_out
from hermes4.train.vocab import grow_embeddings, grow_state_dict, training_tokenizer
from hermes4.train.parallel import (
    Distributed,
    apply_parallelism,
    clip_grad_norm,
    init_distributed,
    sync_tp_replicated_grads,
)


@dataclass
class TrainResult:
    steps: int
    final_loss: float
    export_dir: Path | None
    checkpoint_dir: Path | None


# ---------------------------------------------------------------------------------------------- setup

def hf_config(cfg: TrainConfig) -> Any:
    """The model's Hugging Face config: from the local folder, else from the named architecture."""
    from transformers import AutoConfig

    path = Path(cfg.model.path)
    if (path / "config.json").is_file():
        return AutoConfig.from_pretrained(path)
    if cfg.model.architecture:
        shape = dict(ARCHITECTURES[cfg.model.architecture])
        return AutoConfig.for_model(shape.pop("model_type"), **shape)
    if cfg.model.init == "random" or not path.exists():
        try:
            return AutoConfig.from_pretrained(cfg.model.path)  # hub id, where the network allows
        except OSError:
            raise ConfigError(f"train.model.path: {cfg.model.path!r} is not a local model folder and no "
                              f"train.model.architecture is set; allowed: {', '.join(ARCHITECTURES)}") from None
    raise ConfigError(f"train.model.path: {path} has no config.json")


def attention_implementation(cfg: TrainConfig, device: torch.device) -> str:
    if cfg.model.attn_implementation != "auto":
        return cfg.model.attn_implementation
    # flex-attention backward does not run on CPU; SDPA with a block-diagonal mask does.
    return "flex_attention" if device.type == "cuda" else "sdpa"


def build_model(cfg: TrainConfig, env: Distributed) -> tuple[torch.nn.Module, bool]:
    """The Hugging Face model with fp32 master weights; returns (model, weights_pending).

    With several ranks and pretrained weights the model is built on the meta device (no memory) and the
    weights arrive after sharding, read once by rank 0 and scattered (`load_pretrained_shards`): eight
    ranks of a node never hold eight full copies. Otherwise the model is built on CPU and FSDP moves
    each rank's shard to its device.
    """
    from transformers import AutoModelForCausalLM

    attn = attention_implementation(cfg, env.device)
    local = (Path(cfg.model.path) / "config.json").is_file()
    if cfg.model.init == "pretrained" and env.world_size > 1 and cfg.parallel.fsdp and local:
        with torch.device("meta"):
            lm = AutoModelForCausalLM.from_config(hf_config(cfg), dtype=torch.float32, attn_implementation=attn)
        pending = True
    elif cfg.model.init == "pretrained":
        lm = AutoModelForCausalLM.from_pretrained(cfg.model.path, dtype=torch.float32, attn_implementation=attn)
        pending = False
    else:
        lm = AutoModelForCausalLM.from_config(hf_config(cfg), dtype=torch.float32, attn_implementation=attn)
        pending = False
    lm.config.use_cache = False
    return lm, pending


def load_pretrained_shards(model: torch.nn.Module, cfg: TrainConfig, env: Distributed) -> None:
    """Fill a sharded meta-initialised `CausalLMLoss` from the safetensors of `cfg.model.path`: rank 0 reads
    the files, every rank receives its shards. Buffers that are not saved (rotary inverse frequencies) are
    recomputed."""
    import json

    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
    )

    model.to_empty(device=env.device)
    for module in model.modules():
        if hasattr(module, "inv_freq") and hasattr(module, "rope_type"):
            from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

            init = (module.compute_default_rope_parameters if module.rope_type == "default"
                    else ROPE_INIT_FUNCTIONS[module.rope_type])
            inv_freq, module.attention_scaling = init(module.config, device=env.device)
            module.inv_freq.copy_(inv_freq)
            module.original_inv_freq.copy_(inv_freq)
    full: dict[str, torch.Tensor] = {}
    if env.is_main:
        folder = Path(cfg.model.path)
        index = folder / "model.safetensors.index.json"
        files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.is_file() else [
            "model.safetensors"]
        for name in files:
            full.update({f"lm.{k}": v.float() for k, v in load_file(folder / name).items()})
        if model.lm.config.tie_word_embeddings and "lm.lm_head.weight" not in full:
            full["lm.lm_head.weight"] = full["lm.model.embed_tokens.weight"]
        # Tokens added to a base tokenizer (hermes4.train.vocab): the saved matrices are shorter than the model's.
        vocab = {module: name for name, module in model.named_modules()}
        embeddings = [model.lm.get_input_embeddings(), model.lm.get_output_embeddings()]
        grow_state_dict(full, model.lm.get_input_embeddings().num_embeddings,
                        tuple(f"{vocab[m]}.weight" for m in embeddings if m in vocab))
    set_model_state_dict(model, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))


def build_samples(cfg: TrainConfig, env: Distributed, tokenizer: Any) -> Any:
    """Conversations (a mix, through the chat layer) or a tokenized folder -> memory-mapped samples.

    A mix is tokenized into shard stores under the cache folder by every rank together (or beforehand by
    `hermes4 tokenize`, then every rank only maps them); no rank holds the tokens in memory."""
    import json

    from hermes4.train.mix import SharedTokenization, build_mix
    from hermes4.train.shards import SampleView, digest_order, open_samples

    d = cfg.data
    if d.tokenized:
        samples = open_samples(d.tokenized)
        fits = np.asarray(samples.lengths) <= d.seq_len
        if not fits.all():  # a pre-tokenized folder made for a longer context: drop, count, report
            samples = SampleView(samples, np.flatnonzero(fits))
        if d.pack_algo == "bfd":  # in content order, as a mix is (build_mix's content_order says why)
            samples = SampleView(samples, digest_order(samples))
        if env.is_main:
            report = {"tokenized": d.tokenized, "samples": len(samples), "dropped_overlong": int((~fits).sum()),
                      "tokens": int(samples.num_tokens)}
            (Path(cfg.output_dir) / "data_report.json").write_text(json.dumps(report, indent=2))
        return samples
    if d.mix is None:
        raise ConfigError("train.data: no data; set train.data.mix (conversation sources) or train.data.tokenized")
    from hermes4.chat import ConversationError
    from hermes4.store import StoreError
    from hermes4.train.mix import MixError

    shared = SharedTokenization(writer=env.rank, writers=env.world_size, barrier=env.barrier)
    try:
        samples, report = build_mix(d.mix, tokenizer, tokenize_options(cfg), cache_dir=data_cache_dir(cfg),
                                    workers=d.workers, shared=shared, content_order=d.pack_algo == "bfd")
    except (MixError, ConversationError, StoreError) as exc:  # bad data (not UTF-8 too) is the user's input: name it, no traceback
        raise ConfigError(f"train.data: {exc}") from None
    if env.is_main:
        (Path(cfg.output_dir) / "data_report.json").write_text(json.dumps(report.to_json(), indent=2))
    return samples


def tokenize_options(cfg: TrainConfig) -> Any:
    from hermes4.train.data import TokenizeOptions

    d = cfg.data
    return TokenizeOptions(format=cfg.model.format, thinking=d.thinking, keep_cots=d.keep_cots,
                           train_last_turn_only=d.train_last_turn_only, max_length=d.seq_len, overlong=d.overlong)


def data_cache_dir(cfg: TrainConfig) -> str:
    return cfg.data.cache_dir or str(Path(cfg.output_dir) / "cache")


def build_loader(cfg: TrainConfig, env: Distributed, samples: Any, pad_token_id: int) -> PackedLoader:
    """Global packing of every sample, then this data-parallel rank's stream of micro-batches."""
    from hermes4.train.packing import pack

    packing = pack(samples.lengths, cfg.data.seq_len, algo=cfg.data.pack_algo, seed=cfg.seed)
    return PackedLoader(samples, packing, seq_len=cfg.data.seq_len, micro_batch_size=cfg.micro_batch_size,
                        pad_token_id=pad_token_id, rank=env.dp_rank, world_size=env.dp_size, seed=cfg.seed)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    # No weight decay on norms and biases (1-D parameters).
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    o = cfg.optim
    fused = o.fused if o.fused is not None else device.type == "cuda"
    return torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=o.lr, betas=o.betas, eps=o.eps, fused=fused)


def lr_multiplier(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to the peak, then cosine (or linear) decay to `min_lr_ratio` at the last step."""
    s = cfg.schedule
    if step < s.warmup_steps:
        return (step + 1) / s.warmup_steps
    if s.decay == "constant":
        return 1.0
    progress = (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)
    shape = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) if s.decay == "cosine" else 1 - min(progress, 1.0)
    return s.min_lr_ratio + (1 - s.min_lr_ratio) * shape


def apply_optim_config(optimizer: torch.optim.Optimizer, scheduler: Any, cfg: TrainConfig) -> None:
    """After a resume: the config's optimizer settings and peak learning rate, not the checkpoint's (loading
    restores the saved ones), with the schedule of the config from the resumed step on. A resume that changes
    `optim.lr` or `schedule.steps` then follows the new schedule instead of mixing the old peak with the new shape."""
    o = cfg.optim
    scheduler.base_lrs = [o.lr for _ in optimizer.param_groups]
    scale = lr_multiplier(scheduler.last_epoch, cfg)
    for index, group in enumerate(optimizer.param_groups):
        group.update(lr=o.lr * scale, initial_lr=o.lr, betas=o.betas, eps=o.eps,
                     weight_decay=o.weight_decay if index == 0 else 0.0)
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------- one step

def forward_backward(model: torch.nn.Module, micro_batches: list[PackedBatch], env: Distributed) -> tuple[float, float]:
    """Accumulate the gradient of one optimizer step; returns (summed token loss over all ranks, token count).

    The divisor is the supervised-token count over every micro-batch of every data-parallel rank, known
    before the first backward, so each micro-batch contributes exactly its share of the step's mean.
    """
    from hermes4.train.attention import document_attention_kwargs

    global_count = env.sum_over_dp(sum(b.num_supervised_tokens for b in micro_batches))
    local_loss_sum = torch.zeros((), dtype=torch.float64, device=env.device)
    for batch in micro_batches:
        attention = document_attention_kwargs(batch, model.lm)
        loss_sum = model(batch.input_ids, batch.labels, batch.position_ids, **attention)
        (loss_sum / max(global_count, 1.0)).backward()
        local_loss_sum += loss_sum.detach()  # stays on the device: no sync per micro-batch
    return env.sum_over_dp(local_loss_sum), global_count


@torch.no_grad()
def validation_loss(model: torch.nn.Module, held_out: PackedLoader, env: Distributed) -> tuple[float, int]:
    """Mean token loss over every held-out packed row (each rank its share, summed over ranks); every rank runs the
    same number of forward passes (an exhausted rank gets padding rows), as FSDP's collectives need."""
    from hermes4.train.attention import document_attention_kwargs

    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=env.device)
    count = 0
    for cursor in range(held_out.micro_batches_per_epoch):
        batch = held_out.batch_at(cursor).to(env.device)
        loss_sum += model(batch.input_ids, batch.labels, batch.position_ids,
                          **document_attention_kwargs(batch, model.lm)).double()
        count += batch.num_supervised_tokens
    model.train()
    total = env.sum_over_dp(count)
    return env.sum_over_dp(loss_sum) / max(total, 1.0), int(total)


# ---------------------------------------------------------------------------------------------- train

def train(cfg: TrainConfig, *, env: Distributed | None = None) -> TrainResult:
    env = env or init_distributed(cfg.parallel)
    seed_everything(cfg.seed)
    out = Path(cfg.output_dir)
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.model_dump_json(indent=2))

    # Model, then parallelism in one place (TP -> activation checkpointing -> compile -> FSDP2).
    tokenizer, added = training_tokenizer(cfg.model.tokenizer or cfg.model.path, cfg.model.format)
    lm, weights_pending = build_model(cfg, env)
    if (grow_embeddings(lm, len(tokenizer)) or added) and env.is_main:
        print(f"train: added {len(added)} tokens the tokenizer lacked ({' '.join(added)}); "
                  f"embeddings now {lm.get_input_embeddings().num_embeddings} rows, new rows at the mean", file=sys.stderr)
    chunked = cfg.loss.chunked == "on" or (cfg.loss.chunked == "auto" and env.device.type == "cuda")
    model = CausalLMLoss(lm, chunk_tokens=cfg.loss.chunk_tokens if chunked else None)
    model = apply_parallelism(model, env, cfg.parallel)
    if weights_pending:
        load_pretrained_shards(model, cfg, env)
    model.to(env.device)
    model.train()

    # Data, optimizer, schedule.
    accum = cfg.grad_accum_steps(env.dp_size)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    samples = build_samples(cfg, env, tokenizer)
    held_out = None
    if cfg.validation.every:
        v = cfg.validation
        samples, held_out = hold_out(samples, v.fraction, v.max_samples, cfg.seed)
        held_out = build_loader(cfg, env, held_out, pad_id)
    identity = run_identity(cfg, samples.lengths, env.world_size)
    loader = build_loader(cfg, env, samples, pad_id)
    optimizer = build_optimizer(model, cfg, env.device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(step, cfg))

    # Resume: model and optimizer shards, scheduler, data cursor and RNG, from the latest complete checkpoint.
    ckpt_root = cfg.resolved("checkpoint")
    start_step = 0
    resume_from = None if cfg.checkpoint.resume == "never" else (
        latest_checkpoint(ckpt_root) if cfg.checkpoint.resume == "auto" else Path(cfg.checkpoint.resume))
    if resume_from is not None:
        start_step, data_state = load_checkpoint(resume_from, model=model, optimizer=optimizer,
                                                 scheduler=scheduler, env=env, identity=identity)
        loader.load_state_dict(data_state)
        apply_optim_config(optimizer, scheduler, cfg)

    total_steps = cfg.schedule.steps
    shape = ModelShape.from_hf_config(lm.config)
    peak = cfg.logging.peak_flops or (peak_flops_for(torch.cuda.get_device_name(env.device))
                                      if env.device.type == "cuda" else None)
    throughput = Throughput(shape, peak, env.world_size)
    sink = MetricsSink(cfg, total_steps=total_steps, start_step=start_step, enabled=env.is_main)
    started = time.perf_counter()
    loss = float("nan")
    last_saved = start_step if resume_from is not None else None
    if env.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(env.device)

    try:
        for step in range(start_step, total_steps):
            micro_batches = [next(loader).to(env.device) for _ in range(accum)]
            loss_sum, count = forward_backward(model, micro_batches, env)
            sync_tp_replicated_grads(model, env)
            grad_norm = clip_grad_norm(model, cfg.optim.grad_clip, env)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            loss = loss_sum / max(count, 1.0)
            # Tokens and attention work of the whole step (all dp ranks), for tokens/s and MFU.
            tokens = env.sum_over_dp(sum(b.num_tokens for b in micro_batches))
            doc_sq = env.sum_over_dp(sum(b.attention_flops_terms() for b in micro_batches))
            throughput.add(int(tokens), doc_sq)
            done = step + 1
            validate = held_out is not None and (done % cfg.validation.every == 0 or done == total_steps)
            if done % cfg.logging.every == 0 or done == total_steps or validate:
                record = {"step": done, "loss": loss, "lr": lr, "grad_norm": grad_norm, "tokens": int(tokens),
                          "supervised_tokens": int(count), **throughput.read(),
                          "elapsed_s": time.perf_counter() - started, "process_cpu_s": time.process_time()}
                if validate:
                    record["val_loss"], record["val_tokens"] = validation_loss(model, held_out, env)
                if env.device.type == "cuda":
                    record["peak_memory_gib"] = torch.cuda.max_memory_allocated(env.device) / 2**30
                sink.log(record)
                throughput.reset()
            if (cfg.checkpoint.every and done % cfg.checkpoint.every == 0) or done == total_steps:
                save_checkpoint(ckpt_root, done, model=model, optimizer=optimizer, scheduler=scheduler,
                                data_state=loader.state_dict(), env=env, keep=cfg.checkpoint.keep, identity=identity)
                last_saved = done
    finally:
        sink.close()

    export_dir = None
    if cfg.export.enabled:
        from hermes4.train.export import export_hf

        export_dir = export_hf(model, cfg.resolved("export"), tokenizer=tokenizer, chat_format=cfg.model.format,
                               env=env, dtype=cfg.export.dtype)
    return TrainResult(steps=total_steps, final_loss=loss, export_dir=export_dir,
                       checkpoint_dir=ckpt_root / f"step_{last_saved:08d}" if last_saved else None)
