"""How a training run is started on one or many nodes: the torchrun command of one node, and a SLURM batch script
that runs it on every node of an allocation.

One node: `torchrun --standalone --nproc_per_node N`. Several: every node runs the same command with
`--nnodes M --rdzv_backend c10d --rdzv_endpoint HOST:PORT --rdzv_id ID` (HOST: the first node; the c10d store
runs in its torchrun agent) and optionally `--node_rank`; the rendezvous assigns ranks, so one command serves
every node. The data cache and the checkpoint folder must be on a file system every node sees.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass


class LaunchError(ValueError):
    """Launch settings that cannot start a run; the message names the field."""


@dataclass(frozen=True)
class TorchrunLaunch:
    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int | None = None  # None: assigned by the rendezvous
    rdzv_endpoint: str | None = None  # HOST:PORT of the first node; required with several nodes
    rdzv_id: str = "hermes4"
    rdzv_backend: str = "c10d"

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1 or self.nnodes < 1:
            raise LaunchError(f"launch: nproc_per_node ({self.nproc_per_node}) and nnodes ({self.nnodes}) must be >= 1")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise LaunchError(f"launch.rdzv_endpoint: required with nnodes {self.nnodes} (HOST:PORT of the first node)")
        if self.node_rank is not None and not 0 <= self.node_rank < self.nnodes:
            raise LaunchError(f"launch.node_rank: {self.node_rank} is outside 0..{self.nnodes - 1}")

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or self.rdzv_endpoint is not None

    def torchrun_args(self) -> list[str]:
        if self.nnodes == 1 and self.rdzv_endpoint is None:
            return ["--standalone", f"--nproc_per_node={self.nproc_per_node}"]
        args = [f"--nnodes={self.nnodes}", f"--nproc_per_node={self.nproc_per_node}",
                f"--rdzv_backend={self.rdzv_backend}", f"--rdzv_endpoint={self.rdzv_endpoint}",
                f"--rdzv_id={self.rdzv_id}"]
        if self.node_rank is not None:
            args.append(f"--node_rank={self.node_rank}")
        return args

    def command(self, *train_args: str, python: str = sys.executable) -> list[str]:
        """This node's command: torchrun over `hermes4.train` when distributed, else one plain process."""
        if not self.distributed:
            return [python, "-m", "hermes4.train", *train_args]
        return [python, "-m", "torch.distributed.run", *self.torchrun_args(), "-m", "hermes4.train", *train_args]

    def describe(self) -> str:
        where = f"{self.nnodes} node(s) x {self.nproc_per_node} process(es) = {self.world_size}"
        return f"{where}: {shlex.join(['torchrun', *self.torchrun_args(), '-m', 'hermes4.train', 'CONFIG'])}"


def slurm_script(config: str, *, nodes: int, gpus_per_node: int = 8, job_name: str = "hermes4-sft",
                 port: int = 29500, time: str = "72:00:00", venv: str = ".venv") -> str:
    """A `sbatch` script that starts `hermes4.train CONFIG` on `nodes` nodes of `gpus_per_node` GPUs each: one
    torchrun per node (srun), rendezvous at the allocation's first node, the job id as the rendezvous id."""
    launch = TorchrunLaunch(nproc_per_node=gpus_per_node, nnodes=nodes, rdzv_endpoint=f"$HEAD_NODE:{port}",
                            rdzv_id="$SLURM_JOB_ID")
    torchrun = " \\\n    ".join([f"{venv}/bin/python -m torch.distributed.run", *launch.torchrun_args(),
                                 f"-m hermes4.train {shlex.quote(config)}"])
    return "\n".join([
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --nodes={nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={gpus_per_node}",
        "#SBATCH --exclusive",
        f"#SBATCH --time={time}",
        "set -euo pipefail",
        'HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "export HEAD_NODE",
        "# one torchrun per node; the rendezvous gives every process its rank",
        f"srun --kill-on-bad-exit=1 bash -c '{torchrun}'",
        "",
    ])
