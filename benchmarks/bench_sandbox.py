"""Price of the agent sandbox per program run: `run_sandboxed_python` vs a bare `python -I -c` subprocess.

The peer is what code checkers often do: `subprocess.run([python, "-c", code], timeout=...)`, with no
limits and no isolation. Ours adds the launcher process, the namespaces, the private mounts, the uid
drop and the bounded output reading. Both run the same small programs, one at a time and 8 at once
(asyncio), in the same process; the ratio ours/peer is the overhead of the isolation.

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 40] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from hermes4.agent.sandbox import (
    SandboxLimits,
    run_sandboxed_python,
    run_sandboxed_python_async,
)

PROGRAMS = [
    "print(sum(range(1000)))",
    "import json\nprint(json.dumps({'a': [1, 2, 3]}))",
    "import sys\nprint(sys.stdin.read().upper())",
    "xs = [i * i for i in range(20000)]\nprint(len(xs))",
]


def peer_sync(code: str) -> str:
    return subprocess.run([sys.executable, "-I", "-c", code], input="abc", capture_output=True, text=True, timeout=10, check=True).stdout


def ours_sync(code: str, limits: SandboxLimits) -> str:
    return run_sandboxed_python(code, limits=limits, stdin="abc").stdout


async def peer_async(code: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-c", code, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(process.communicate(b"abc"), timeout=10)
    return stdout.decode()


async def ours_async(code: str, limits: SandboxLimits) -> str:
    return (await run_sandboxed_python_async(code, limits=limits, stdin="abc")).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    limits = SandboxLimits(wall_s=10)
    programs = [PROGRAMS[i % len(PROGRAMS)] for i in range(args.runs)]
    isolation = run_sandboxed_python("pass", limits=limits).isolation
    print(f"isolation: netns={isolation.network_namespace} pidns={isolation.pid_namespace} "
          f"ipcns={isolation.ipc_namespace} "
          f"mntns={isolation.mount_namespace} uid={isolation.uid} notes={isolation.notes}")

    # same outputs first, so both sides do the same work
    for code in PROGRAMS:
        assert ours_sync(code, limits) == peer_sync(code), code

    started = time.perf_counter()
    for code in programs:
        peer_sync(code)
    peer_seq = (time.perf_counter() - started) / args.runs
    started = time.perf_counter()
    for code in programs:
        ours_sync(code, limits)
    ours_seq = (time.perf_counter() - started) / args.runs

    async def batch(run) -> float:
        gate = asyncio.Semaphore(args.concurrency)

        async def one(code: str) -> str:
            async with gate:
                return await run(code)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(code) for code in programs))
        return args.runs / (time.perf_counter() - t0)

    peer_rate = asyncio.run(batch(peer_async))
    ours_rate = asyncio.run(batch(lambda code: ours_async(code, limits)))

    print(f"sequential, ms per run: ours {ours_seq * 1000:.1f}  peer {peer_seq * 1000:.1f}  ratio ours/peer {ours_seq / peer_seq:.2f}")
    print(f"asyncio x{args.concurrency}, runs/s: ours {ours_rate:.1f}  peer {peer_rate:.1f}  ratio peer/ours {peer_rate / ours_rate:.2f}")


if __name__ == "__main__":
    main()
