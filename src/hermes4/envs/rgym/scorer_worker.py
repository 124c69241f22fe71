"""The scoring process: runs reasoning-gym's `score_answer` on model answers, one JSON request per line.

Started by `hermes4.envs.rgym.scorer` as `python -m hermes4.envs.rgym.scorer_worker MEMORY_MB`. Several of the
library's scorers `eval` or `sympy.parse_expr` the model's answer, so they run here, not in the caller: a
separate process with an address-space limit, no core files, a 1 MiB file-size limit, and (where the kernel
grants it) its own empty network namespace; the parent kills it at its wall-clock limit. Replies go to a private
copy of stdout; anything the library prints goes to /dev/null.

Request (base64 pickle from the trusted parent): {"dataset", "config" (the dataset's config object), "entry", "answer"},
or {"dataset", "config", "prepare": True} to build the dataset (registering a reasoning-core task) outside any
answer's time limit. Reply (one JSON line): {"score": float}, {"prepared": true} or {"error": str}.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import pickle
import resource
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def _isolate_network() -> bool:
    """Enter a new network namespace (only a down loopback): every connect fails. False where the kernel refuses."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    return libc.unshare(flags) == 0


def _limit(memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def main() -> None:
    memory_mb = int(sys.argv[1])
    isolated = _isolate_network()  # first, while the process has a single thread (unshare needs that)
    replies = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    _limit(memory_mb)
    from reasoning_gym.factory import DATASETS

    from hermes4.envs.rgym.catalog import ensure_registered

    datasets: dict[str, object] = {}
    replies.write(json.dumps({"ready": True, "network_isolated": isolated}) + "\n")
    for line in sys.stdin:
        try:
            request = pickle.loads(base64.b64decode(line))  # from the parent, which trusts its own items
            key = repr((request["dataset"], request["config"]))  # dataclass reprs list every field
            dataset = datasets.get(key)
            if dataset is None:
                ensure_registered(request["dataset"])
                dataset_cls, _ = DATASETS[request["dataset"]]
                dataset = datasets[key] = dataset_cls(config=request["config"])
            if request.get("prepare"):
                replies.write(json.dumps({"prepared": True}) + "\n")
                continue
            score = float(dataset.score_answer(request["answer"], request["entry"]))
            reply = {"score": score} if score == score else {"error": "the scorer returned NaN"}
        except BaseException as exc:  # noqa: BLE001 (the scorer's crash is reported, the process stays up)
            reply = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
