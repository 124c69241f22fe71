"""Several nodes: two torchrun launchers of 2 processes each (two "nodes" on loopback, gloo, c10d rendezvous at
127.0.0.1) train one run, are killed after a checkpoint, and resume; the README's SLURM script is the one
`slurm_script` renders, and bash parses it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hermes4.train.launch import LaunchError, TorchrunLaunch, slurm_script

REPO = Path(__file__).resolve().parents[2]

# Rank 0 SIGKILLs itself right after the step-4 checkpoint is complete: both nodes' agents tear down.
KILLER = """
import os, signal, sys
import hermes4.train.trainer as trainer
real_save = trainer.save_checkpoint
def save_then_die(root, step, **kw):
    out = real_save(root, step, **kw)
    if step == 4 and os.environ["RANK"] == "0":
        os.kill(os.getpid(), signal.SIGKILL)
    return out
trainer.save_checkpoint = save_then_die
from hermes4.train.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two_nodes(launch_args: list[list[str]], env: dict, timeout: float) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for args in launch_args]
    results = []
    for proc, args in zip(procs, launch_args):
        out, err = proc.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return results


@pytest.mark.slow
def test_two_nodes_on_loopback_train_and_resume(tiny_model_dir, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Add {i} and {i}."},
                                                     {"role": "assistant", "content": f"{2 * i}"}]}) + "\n"
                            for i in range(40)))
    train = {"model": {"path": str(tiny_model_dir)}, "output_dir": str(tmp_path / "run"),
             "data": {"mix": {"sources": [{"path": str(data)}]}, "seq_len": 128}, "global_batch_size": 4,
             "optim": {"lr": 1e-3}, "schedule": {"steps": 6, "warmup_steps": 1},
             "checkpoint": {"every": 2, "keep": 3}, "logging": {"progress": False}, "export": {"enabled": False},
             "parallel": {"backend": "gloo"}}
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    (tmp_path / "killer.py").write_text(KILLER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

    def nodes(run_id: str) -> list[TorchrunLaunch]:
        endpoint = f"127.0.0.1:{free_port()}"
        return [TorchrunLaunch(nproc_per_node=2, nnodes=2, node_rank=rank, rdzv_endpoint=endpoint, rdzv_id=run_id)
                for rank in (0, 1)]

    first = nodes("first")
    killed = launch_two_nodes([[sys.executable, "-m", "torch.distributed.run", *n.torchrun_args(),
                                str(tmp_path / "killer.py"), str(config)] for n in first], env, timeout=400)
    assert all(r.returncode != 0 for r in killed), [r.stderr[-1500:] for r in killed]
    checkpoints = tmp_path / "run" / "checkpoints"
    assert (checkpoints / "step_00000004").is_dir() and not (checkpoints / "step_00000006").exists()
    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    assert report["sources"][0]["cache"] == "miss"  # tokenized by the 4 ranks of both nodes, into one store

    resumed = launch_two_nodes([n.command(str(config)) for n in nodes("second")], env, timeout=400)
    assert all(r.returncode == 0 for r in resumed), [r.stderr[-3000:] for r in resumed]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(r["tokens"] > 0 for r in records)
    assert (checkpoints / "step_00000006").is_dir()
    # the four ranks were one world: every step's batch is 4 rows, one per rank of either node
    final = json.loads(next(r.stdout for r in resumed if r.stdout.strip()).strip().splitlines()[-1])
    assert final["steps"] == 6


def test_launch_settings_name_the_field():
    with pytest.raises(LaunchError, match="launch.rdzv_endpoint: required with nnodes 2"):
        TorchrunLaunch(nproc_per_node=8, nnodes=2)
    with pytest.raises(LaunchError, match="launch.node_rank: 2 is outside 0..1"):
        TorchrunLaunch(nnodes=2, node_rank=2, rdzv_endpoint="h:1")
    one = TorchrunLaunch(nproc_per_node=4)
    assert one.torchrun_args() == ["--standalone", "--nproc_per_node=4"] and one.world_size == 4
    assert TorchrunLaunch().command("c.yaml", python="py") == ["py", "-m", "hermes4.train", "c.yaml"]
    many = TorchrunLaunch(nproc_per_node=8, nnodes=24, rdzv_endpoint="head:29500", rdzv_id="job7")
    assert many.world_size == 192 and "--rdzv_endpoint=head:29500" in many.describe()


def test_readme_slurm_script_is_the_rendered_one_and_parses():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Many nodes (SLURM)"):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    rendered = slurm_script("configs/sft-70b.yaml", nodes=24)
    assert block == rendered
    assert "#SBATCH --nodes=24" in rendered and "--nnodes=24" in rendered and "--rdzv_id=$SLURM_JOB_ID" in rendered
    parsed = subprocess.run(["bash", "-n"], input=rendered, capture_output=True, text=True, check=False)
    assert parsed.returncode == 0, parsed.stderr
