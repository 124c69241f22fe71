"""Sandbox faults found in review (issue 16): shared SysV IPC, a program orphaned by its caller's death, SIGXCPU."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hermes4.agent.sandbox import SandboxLimits, run_sandboxed_python

LINUX = sys.platform.startswith("linux")
needs_linux = pytest.mark.skipif(not LINUX, reason="SysV IPC namespaces and PDEATHSIG are Linux")

IPC_PROGRAM = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
KEY, ACTION = {key}, {action!r}

class Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 32)]

if ACTION == "leave":
    for _ in range(3):
        assert libc.shmget(ctypes.c_int(KEY), 1 << 20, 0o1000 | 0o666) >= 0  # IPC_CREAT
        KEY += 1
    queue = libc.msgget(ctypes.c_int(KEY), 0o1000 | 0o666)
    assert queue >= 0
    assert libc.msgsnd(queue, ctypes.byref(Message(1, b"left behind")), 32, 0) == 0
    print("left", KEY)
else:
    queue = libc.msgget(ctypes.c_int(KEY + 3), 0)
    if queue < 0:
        print("no queue", ctypes.get_errno())
        sys.exit(0)
    message = Message()
    got = libc.msgrcv(queue, ctypes.byref(message), 32, 0, 0o4000)  # IPC_NOWAIT
    print("read", message.mtext if got >= 0 else None)
"""


def _host_ipc_keys(kind: str) -> set[int]:
    lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines if line.strip()}


@needs_linux
def test_sysv_ipc_is_private_to_each_run():
    key = 0x16000000 + secrets.randbelow(1 << 20)
    first = run_sandboxed_python(IPC_PROGRAM.format(key=key, action="leave"), limits=SandboxLimits(wall_s=20))
    if not first.isolation.ipc_namespace:
        pytest.skip(f"no IPC namespace granted here: {first.isolation.notes}")
    assert first.status == "ok", first.stderr
    assert first.stdout.startswith("left")
    ours = {key, key + 1, key + 2, key + 3}
    assert not ours & _host_ipc_keys("shm"), "a segment outlived its run on the host"
    assert not ours & _host_ipc_keys("msg"), "a message queue outlived its run on the host"
    second = run_sandboxed_python(IPC_PROGRAM.format(key=key, action="read"), limits=SandboxLimits(wall_s=20))
    assert second.status == "ok", second.stderr
    assert second.stdout.startswith("no queue"), second.stdout


CALLER = """
import sys
from hermes4.agent.sandbox import SandboxLimits, run_sandboxed_python
run_sandboxed_python("import time\\nwhile True:\\n    time.sleep(0.1)", limits=SandboxLimits(wall_s=120, cpu_s=120))
"""


def _sandbox_processes(marker: str) -> list[int]:
    """Processes whose command line, working directory or environment names the run directory under `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if marker.encode() in cmdline or marker.encode() in environ or marker in cwd:
            found.append(int(entry))
    return found


def _runs_main(pid: int) -> bool:
    try:
        return b"main.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@needs_linux
def test_killing_the_caller_takes_the_program_down_and_removes_its_run_directory(tmp_path):
    marker = str(tmp_path)
    env = {**os.environ, "TMPDIR": marker}  # the caller's run directory lands in tmp_path
    caller = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CALLER)], env=env)
    try:
        started = _wait_for(lambda: any(_runs_main(pid) for pid in _sandbox_processes(marker)), 30)
        assert started, "the sandboxed program never started"
        assert list(tmp_path.glob("hermes4-sandbox-*"))
    finally:
        caller.send_signal(signal.SIGKILL)
        caller.wait()
    assert _wait_for(lambda: not _sandbox_processes(marker), 20), f"orphaned: {_sandbox_processes(marker)}"
    assert _wait_for(lambda: not list(tmp_path.glob("hermes4-sandbox-*")), 20), "the run directory leaked"


@needs_linux
def test_a_loop_that_ignores_sigxcpu_is_a_cpu_timeout():
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
    result = run_sandboxed_python(code, limits=SandboxLimits(wall_s=30, cpu_s=1))
    assert result.status == "timeout", (result.status, result.detail)
    assert "cpu time limit" in result.detail
