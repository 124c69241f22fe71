"""Parallelism in one place: the process group and device mesh, then TP, activation checkpointing,
torch.compile and FSDP2 applied to a model, plus the collectives the training loop needs."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from hermes4.train.config import ConfigError, ParallelConfig


@dataclass
class Distributed:
    """Where this process sits: ranks, the device, the (dp, tp) mesh and its groups."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str
    mesh: object  # DeviceMesh with dims ("dp", "tp")
    dp_size: int
    dp_rank: int
    tp_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def dp_group(self):
        return self.mesh["dp"].get_group()

    @property
    def tp_group(self):
        return self.mesh["tp"].get_group()

    def sum_over_dp(self, value: float | torch.Tensor) -> float:
        """Sum a number over data-parallel ranks (TP ranks of one dp rank see the same data)."""
        if isinstance(value, torch.Tensor):
            t = value.detach().to(device=self.device, dtype=torch.float64).clone()
        else:
            t = torch.tensor(float(value), dtype=torch.float64, device=self.device)
        dist.all_reduce(t, group=self.dp_group)
        return float(t.item())

    def barrier(self) -> None:
        dist.barrier()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(cfg: ParallelConfig) -> Distributed:
    """Join (or, for a plain `hermes4 train`, create) the process group and build the (dp, tp) mesh.

    A single process still gets a one-rank group, so one code path (FSDP2, distributed checkpoints) serves
    a laptop and a cluster alike.
    """
    from torch.distributed.device_mesh import init_device_mesh

    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(_free_port()))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and cfg.backend != "gloo"
    backend = cfg.backend if cfg.backend != "auto" else ("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world,
                                device_id=device if use_cuda else None)
    if world % cfg.tp:
        raise ConfigError(f"train.parallel.tp: {cfg.tp} does not divide the world size {world}")
    dp = world // cfg.tp
    mesh = init_device_mesh(device.type, (dp, cfg.tp), mesh_dim_names=("dp", "tp"))
    return Distributed(rank=rank, world_size=world, local_rank=local_rank, device=device, backend=backend,
                       mesh=mesh, dp_size=dp, dp_rank=mesh.get_local_rank("dp"), tp_size=cfg.tp)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def mixed_precision_dtype(cfg: ParallelConfig, device: torch.device) -> torch.dtype:
    if cfg.mixed_precision == "bf16" or (cfg.mixed_precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return torch.float32


def _blocks(lm: nn.Module) -> nn.ModuleList:
    inner = getattr(lm, "model", None)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise ConfigError(f"train.model: {type(lm).__name__} has no `.model.layers`; "
                          "supported: decoder-only Hugging Face models (Llama, Qwen2/3, Mistral families)")
    return layers


def _apply_tensor_parallel(lm: nn.Module, env: Distributed) -> None:
    # Megatron layout per block: q/k/v and gate/up split by output columns, o/down by input rows, so
    # each block needs one all-reduce in attention and one in the MLP. Heads stay whole on a rank.
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    config = lm.config
    for name in ("num_attention_heads", "num_key_value_heads"):
        if getattr(config, name) % env.tp_size:
            raise ConfigError(f"train.parallel.tp: {env.tp_size} does not divide {name}={getattr(config, name)}")
    plan = {
        "self_attn.q_proj": ColwiseParallel(), "self_attn.k_proj": ColwiseParallel(),
        "self_attn.v_proj": ColwiseParallel(), "self_attn.o_proj": RowwiseParallel(),
        "mlp.gate_proj": ColwiseParallel(), "mlp.up_proj": ColwiseParallel(), "mlp.down_proj": RowwiseParallel(),
    }
    for block in _blocks(lm):
        parallelize_module(block, env.mesh["tp"], plan)


def apply_parallelism(model: nn.Module, env: Distributed, cfg: ParallelConfig) -> nn.Module:
    """TP (inner mesh dim) -> activation checkpointing -> compile -> FSDP2 per block, then the root.

    `model` is a `CausalLMLoss`; its `.lm` is the Hugging Face model. Gradient reduction over data-parallel
    ranks is a plain sum: the loss is already divided by the global supervised-token count.
    """
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    lm = model.lm
    blocks = _blocks(lm)
    if env.tp_size > 1:
        _apply_tensor_parallel(lm, env)
    if cfg.activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
            checkpoint_wrapper,
        )

        for i, block in enumerate(blocks):
            blocks[i] = checkpoint_wrapper(block, preserve_rng_state=False)
    if cfg.compile:
        for block in blocks:
            block.compile()
    if not cfg.fsdp:
        if env.dp_size > 1:
            raise ConfigError("train.parallel.fsdp: false needs a single data-parallel rank; allowed: true")
        return model
    dtype = mixed_precision_dtype(cfg, env.device)
    mp = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
    dp_mesh = env.mesh["dp"]
    for i, block in enumerate(blocks):
        # The last block's params are needed again at once by backward; keeping them saves an all-gather.
        reshard = cfg.reshard_after_forward and i < len(blocks) - 1
        fully_shard(block, mesh=dp_mesh, mp_policy=mp, reshard_after_forward=reshard)
    fully_shard(model, mesh=dp_mesh, mp_policy=mp, reshard_after_forward=cfg.reshard_after_forward)
    for module in model.modules():
        if hasattr(module, "set_gradient_divide_factor"):
            module.set_gradient_divide_factor(1.0)
            # Sum-only collectives: gloo has no PREMUL_SUM, and a divide by 1.0 is free.
            module.set_force_sum_reduction_for_comms(True)
    return model


def sync_tp_replicated_grads(model: nn.Module, env: Distributed) -> None:
    """Parameters replicated over TP but applied to head-sharded activations (Qwen3's q_norm/k_norm) get
    only their local heads' gradient on each TP rank; the true gradient is the sum over TP ranks."""
    if env.tp_size == 1:
        return
    from torch.distributed.tensor import DTensor

    for name, param in model.named_parameters():
        if param.grad is None or not (".q_norm." in name or ".k_norm." in name):
            continue
        grad = param.grad.to_local() if isinstance(param.grad, DTensor) else param.grad
        dist.all_reduce(grad, group=env.tp_group)


def clip_grad_norm(model: nn.Module, max_norm: float | None, env: Distributed) -> float:
    """Global L2 norm of all gradients (sharded over dp, maybe over tp), clipped to `max_norm` if given."""
    from torch.distributed.tensor import DTensor

    sq_over_world = torch.zeros((), dtype=torch.float64, device=env.device)
    sq_over_dp = torch.zeros((), dtype=torch.float64, device=env.device)
    grads = []
    for param in model.parameters():
        if param.grad is None:
            continue
        grads.append(param.grad)
        g = param.grad
        local = g.to_local() if isinstance(g, DTensor) else g
        sq = local.detach().double().pow(2).sum()
        tp_sharded = isinstance(g, DTensor) and "tp" in (g.device_mesh.mesh_dim_names or ())
        if tp_sharded:
            sq_over_world += sq
        else:
            sq_over_dp += sq  # replicated over tp: count each dp shard once
    if dist.is_initialized():
        dist.all_reduce(sq_over_world)
        if env.dp_size > 1 or env.tp_size > 1:
            dist.all_reduce(sq_over_dp, group=env.dp_group)
    total = float((sq_over_world + sq_over_dp).sqrt().item())
    if max_norm is not None and total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            (g.to_local() if isinstance(g, DTensor) else g).mul_(scale)
    return total
