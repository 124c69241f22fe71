"""Running untrusted Python in a separate, limited process: `run_sandboxed_python` and its async twin.

What the sandbox gives, layer by layer (what a run actually got is in `SandboxResult.isolation`):

* **Always** (any POSIX system): a separate process in its own session, a fresh temporary working
  directory, a minimal environment (`PATH`, `HOME`, `LANG`, `TMPDIR` only), Python started with
  `-s -u -B` from a stub virtual environment, so the program gets the standard library and no
  installed packages (`site_packages=True` runs the caller's own interpreter and packages
  instead); a wall-clock limit enforced by the parent (works from threads and asyncio; no
  `signal.alarm`), after which the whole process group is SIGKILLed; stdout/stderr read as they
  come and kept only up to `output_bytes` each (the rest is counted, never stored); and the
  rlimits `RLIMIT_CPU` (SIGXCPU, SIGKILL one second later), `RLIMIT_AS`, `RLIMIT_FSIZE`,
  `RLIMIT_NPROC`, `RLIMIT_NOFILE`, `RLIMIT_CORE=0`. RLIMIT_NPROC counts every task of the uid
  and root ignores it; when the program shares the caller's uid, the caller's current task count
  is added to `max_processes`.
* **Linux, parent is root** (or has CAP_SYS_ADMIN): new network, pid, IPC and mount namespaces.
  IPC: SysV shared memory segments and message queues are the run's own and vanish with it.
  No network: the namespace holds only a loopback interface that is down, so every `connect`
  fails, including to services on the host's 127.0.0.1. Pid namespace: a small init (pid 1)
  waits for the program (pid 2); the program sees only these processes (a private `/proc`),
  and when init exits or is killed the kernel kills everything the program started, even
  processes that left the process group with `setsid`. Mount namespace: private size-limited
  tmpfs mounts over `/tmp`, `/var/tmp`, `/dev/shm` and `/run/lock` (`tmp_mb` each), and a tmpfs
  working directory of `disk_mb` (the caller's files are copied in). The program then runs as a
  fresh random uid (not an account, so its RLIMIT_NPROC budget is its own and it cannot signal
  other sandboxes), with no supplementary groups and `no_new_privs` (setuid binaries cannot
  give root back). Directories that uid cannot traverse on the way to the interpreter (e.g.
  `/root` holding a pyenv install) are covered by an empty tmpfs with the interpreter
  bind-mounted back read-only, so the rest of them stays hidden.
  What this means for files: the program can write only to its working directory and the
  private tmp mounts (it owns no file outside, and the usual world-writable places are private);
  a world-writable directory elsewhere on the host (not in that list) would stay writable. It
  can read whatever the host lets any user read: there is no chroot, the host filesystem is
  visible.
* **Linux, parent not root**: the same namespaces inside a user namespace where the kernel allows
  unprivileged user namespaces (`user_namespace: true`), but no uid change: the program runs as
  the caller's uid and can read and write every file the caller can outside the private mounts.
  Where user namespaces are refused too, only the "always" layer applies: the network is open,
  `/tmp` is shared, and a process that calls `setsid` can outlive the run.
* **The caller dies** (even SIGKILL, Linux): the launcher gets SIGTERM by PDEATHSIG, kills the program's tree and
  removes the run directory; init dies with the launcher.
* **Not Linux** (macOS): the "always" layer only (macOS does not enforce RLIMIT_AS).

What it never gives: protection against kernel exploits, syscall filtering (no seccomp), limits
on the process tree as a whole (RLIMIT_CPU and RLIMIT_AS are per process; the wall limit bounds
the total), or a hidden host filesystem.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

SandboxStatus = Literal["ok", "error", "timeout", "memory_limit", "killed"]

_LAUNCHER = Path(__file__).with_name("_launcher.py")
_PROGRAM_NAME = "main.py"
# Random uids for sandboxed programs come from this range: far above real accounts, below 2**31.
_UID_BASE = 1_500_000_000
_UID_SPAN = 500_000_000
_MEMORY_ERROR = re.compile(r"^(MemoryError\b|.*Cannot allocate memory|Fatal Python error:.*memory)", re.MULTILINE)
_READ_CHUNK = 65536
_DRAIN_AFTER_EXIT_S = 1.0  # how long to wait for pipes to close after the program is gone


class SandboxError(RuntimeError):
    """The sandbox itself could not start the program (not a failure of the program)."""


class SandboxLimits(BaseModel):
    """What a sandboxed program may use. Sizes in MiB, times in seconds."""

    wall_s: float = Field(10.0, gt=0, description="wall-clock limit, enforced by the parent")
    cpu_s: int = Field(10, gt=0, description="RLIMIT_CPU per process (SIGXCPU, then SIGKILL one second later)")
    memory_mb: int = Field(1024, gt=0, description="RLIMIT_AS per process (address space, not resident memory)")
    file_size_mb: int = Field(16, gt=0, description="RLIMIT_FSIZE: largest file the program may write")
    disk_mb: int = Field(64, gt=0, description="size of the tmpfs working directory (mount namespace only)")
    tmp_mb: int = Field(16, gt=0, description="size of each private /tmp-like tmpfs (mount namespace only)")
    max_processes: int = Field(32, gt=0, description="RLIMIT_NPROC (processes and threads of the sandbox uid)")
    max_open_files: int = Field(64, ge=16, description="RLIMIT_NOFILE")
    output_bytes: int = Field(65536, gt=0, description="stdout and stderr are each truncated to this many bytes")
    network: bool = Field(False, description="True keeps the host network (no network namespace)")
    site_packages: bool = Field(
        False, description="True lets the program import the packages of the calling environment (e.g. numpy)"
    )


class SandboxIsolation(BaseModel):
    """Which isolation the OS granted for one run (see the module docstring for what each means)."""

    network_namespace: bool = False
    pid_namespace: bool = False
    ipc_namespace: bool = False
    mount_namespace: bool = False
    user_namespace: bool = False
    private_tmp: list[str] = Field(default_factory=list)
    private_proc: bool = False
    workdir_tmpfs_bytes: int | None = None
    uid: int | None = None
    no_new_privs: bool = False
    rlimits: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class SandboxResult(BaseModel):
    status: SandboxStatus
    stdout: str
    stderr: str
    exit_code: int | None  # negative: killed by that signal; None: the parent killed it at the wall limit
    wall_s: float
    detail: str = ""  # why the status is what it is, in words (which limit, which signal)
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stdout_bytes: int = 0  # total bytes the program wrote, including what was cut
    stderr_bytes: int = 0
    isolation: SandboxIsolation = Field(default_factory=SandboxIsolation)


class _Capture:
    """Keeps the first `limit` bytes of a stream and counts the rest, so output cannot grow the parent."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def truncated(self) -> bool:
        return self.total > len(self.data)


class _Run:
    """One prepared run: the working directory, stdin file, report pipe and launcher command line."""

    def __init__(self, code: str, limits: SandboxLimits, stdin: str, files: dict[str, str] | None, mode: str) -> None:
        self.limits = limits
        self.rundir = tempfile.mkdtemp(prefix="hermes4-sandbox-")
        self.workdir = os.path.join(self.rundir, "work")
        try:
            os.chmod(self.rundir, 0o755)  # traversable by the sandbox uid; `work` itself stays private
            os.mkdir(self.workdir, 0o700)
            _write_files(self.workdir, {**(files or {}), _PROGRAM_NAME: code}, files)
            python, reveal = _interpreter(self.rundir, limits)
            self.stdin = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the run; closed in cleanup()
            self.stdin.write(stdin.encode("utf-8"))
            self.stdin.seek(0)
            self.report_read, self.report_write = os.pipe()
            os.set_blocking(self.report_read, False)
            self.report = bytearray()
        except BaseException:
            shutil.rmtree(self.rundir, ignore_errors=True)
            raise
        config = {
            "workdir": self.workdir,
            "uid": _UID_BASE + secrets.randbelow(_UID_SPAN),
            "python": python,
            "argv": [python, "-s", "-u", "-B", _PROGRAM_NAME],
            "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.workdir, "LANG": "C.UTF-8", "TMPDIR": "/tmp"},
            "limits": {
                "cpu_s": limits.cpu_s,
                "memory_bytes": limits.memory_mb << 20,
                "file_size_bytes": limits.file_size_mb << 20,
                "disk_bytes": limits.disk_mb << 20,
                "tmp_bytes": limits.tmp_mb << 20,
                "max_processes": limits.max_processes,
                "max_open_files": limits.max_open_files,
            },
            "network": limits.network,
            "reveal": reveal,
            "report_fd": self.report_write,
            "mode": mode,
            "rundir": self.rundir,  # the launcher removes it if this process dies before cleanup()
            "caller_pid": os.getpid(),
        }
        self.argv = [sys.executable, "-I", "-S", str(_LAUNCHER), json.dumps(config)]
        self.stdout = _Capture(limits.output_bytes)
        self.stderr = _Capture(limits.output_bytes)
        self.started = time.monotonic()

    def after_spawn(self) -> None:
        os.close(self.report_write)  # only the launcher and program hold it now
        self.report_write = -1  # closed: cleanup must not close the number again (another thread may reuse it)

    def read_report(self) -> bool:
        """Take what the launcher side wrote so far; True once it is gone (the report pipe is at EOF)."""
        while True:
            try:
                chunk = os.read(self.report_read, 65536)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            self.report += chunk

    def finish(self, timed_out: bool) -> SandboxResult:
        wall = time.monotonic() - self.started
        self.read_report()
        report = _parse_report(bytes(self.report))
        if "setup_error" in report:
            raise SandboxError(f"sandbox setup failed: {report['setup_error']}")
        isolation = SandboxIsolation(**report.get("isolation", {}))
        stdout, stderr = self.stdout.text(), self.stderr.text()
        exit_code: int | None = None
        if timed_out:
            status: SandboxStatus = "timeout"
            detail = f"wall time limit of {self.limits.wall_s:g}s exceeded"
        elif "exit" in report or "signal" in report:
            exit_code = report["exit"] if "exit" in report else -report["signal"]
            status, detail = _classify(exit_code, stderr, self.limits, report.get("cpu_s"))
        elif "isolation" not in report:
            raise SandboxError(f"sandbox launcher failed before starting the program: {stderr.strip()[-2000:]}")
        else:
            status, detail = "killed", "the sandbox launcher was killed from outside"
        return SandboxResult(
            status=status,
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            wall_s=round(wall, 4),
            detail=detail,
            stdout_truncated=self.stdout.truncated,
            stderr_truncated=self.stderr.truncated,
            stdout_bytes=self.stdout.total,
            stderr_bytes=self.stderr.total,
            isolation=isolation,
        )

    def cleanup(self) -> None:
        for fd in (self.report_read, self.report_write):
            if fd < 0:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
        self.stdin.close()
        _remove_tree(self.rundir)


def _write_files(workdir: str, all_files: dict[str, str], user_files: dict[str, str] | None) -> None:
    if user_files and _PROGRAM_NAME in user_files:
        raise ValueError(f"files: {_PROGRAM_NAME!r} is reserved for the program itself")
    root = Path(workdir)
    for name, text in all_files.items():
        relative = Path(name)
        if not name or relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"files: {name!r} must be a relative path inside the working directory")
        if not isinstance(text, str):
            raise TypeError(f"files: {name!r} must map to a str, got {type(text).__name__}")
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _interpreter(rundir: str, limits: SandboxLimits) -> tuple[str, list[str]]:
    """The interpreter path for the program, and the directories it needs to be able to read.

    By default a stub virtual environment (a `pyvenv.cfg` and a symlink to the base interpreter)
    gives the program the standard library and `site` (so `exit()` works) without any installed
    packages; `site_packages=True` runs the caller's own interpreter, packages and all.
    """
    base_executable = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    base_prefix = os.path.realpath(sys.base_prefix)
    if limits.site_packages:
        return sys.executable, sorted({base_prefix, os.path.realpath(sys.prefix)})
    stub = os.path.join(rundir, "python")
    os.makedirs(os.path.join(stub, "bin"))
    version = ".".join(map(str, sys.version_info[:3]))
    Path(stub, "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(base_executable)}\ninclude-system-site-packages = false\nversion = {version}\n"
    )
    python = os.path.join(stub, "bin", "python3")
    os.symlink(base_executable, python)
    return python, [base_prefix, stub]


def _parse_report(data: bytes) -> dict:
    report: dict = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            report.update(json.loads(line))
        except json.JSONDecodeError:
            continue
    return report


def _classify(exit_code: int, stderr: str, limits: SandboxLimits, cpu_s: float | None) -> tuple[SandboxStatus, str]:
    if exit_code == 0:
        return "ok", ""
    if exit_code < 0:
        number = -exit_code
        if number == signal.SIGXCPU:
            return "timeout", f"cpu time limit of {limits.cpu_s}s exceeded (SIGXCPU)"
        if number == signal.SIGKILL and cpu_s is not None and cpu_s >= limits.cpu_s:
            # RLIMIT_CPU's hard limit: a program that ignored (or handled) SIGXCPU is killed a second later
            return "timeout", f"cpu time limit of {limits.cpu_s}s exceeded (SIGXCPU ignored, then SIGKILL)"
        if _MEMORY_ERROR.search(stderr[-4000:]):
            return "memory_limit", f"out of memory (limit {limits.memory_mb} MiB), killed by {_signal_name(number)}"
        return "killed", f"killed by {_signal_name(number)}"
    if _MEMORY_ERROR.search(stderr[-4000:]):
        return "memory_limit", f"address space limit of {limits.memory_mb} MiB reached (MemoryError)"
    return "error", f"exit code {exit_code}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _remove_tree(path: str) -> None:
    def make_writable_and_retry(function, target, _exc_info):  # the program may have chmod-ed things
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            function(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable_and_retry)


def run_sandboxed_python(
    code: str,
    *,
    limits: SandboxLimits | None = None,
    stdin: str = "",
    files: dict[str, str] | None = None,
    _mode: Literal["auto", "userns", "none"] = "auto",
) -> SandboxResult:
    """Run `code` as `main.py` in a fresh sandbox and wait for it (safe to call from any thread).

    `files` are extra text files (relative paths) placed next to `main.py`; the program's working
    directory is importable. Raises `SandboxError` only when the sandbox itself fails to start.
    """
    limits = limits or SandboxLimits()
    run = _Run(code, limits, stdin, files, _mode)
    try:
        process = subprocess.Popen(
            run.argv,
            stdin=run.stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(run.report_write,),
            start_new_session=True,
            close_fds=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        run.after_spawn()
        timed_out = _pump(process, run)
        return run.finish(timed_out)
    finally:
        run.cleanup()


def _pump(process: subprocess.Popen, run: _Run) -> bool:
    """Read both pipes until the launcher is gone and they close; kill at the wall limit. True if killed."""
    deadline = run.started + run.limits.wall_s
    captures = {process.stdout: run.stdout, process.stderr: run.stderr}
    timed_out = False
    exited_at: float | None = None
    with selectors.DefaultSelector() as selector:
        for stream in captures:
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            if exited_at is None and process.poll() is not None:
                exited_at = now
            if exited_at is None and now >= deadline:
                _kill_group(process.pid)
                timed_out = True
                process.wait()
                exited_at = now
            if exited_at is not None and now - exited_at > _DRAIN_AFTER_EXIT_S:
                break  # something outside our reach still holds the pipe; stop listening
            wait = (deadline - now) if exited_at is None else _DRAIN_AFTER_EXIT_S - (now - exited_at)
            for key, _ in selector.select(timeout=max(0.0, min(wait, 0.25))):
                try:
                    chunk = os.read(key.fd, _READ_CHUNK)
                except BlockingIOError:
                    continue
                if chunk:
                    captures[key.fileobj].feed(chunk)
                else:
                    selector.unregister(key.fileobj)
    for stream in captures:
        stream.close()
    if process.poll() is None:
        if time.monotonic() >= deadline:
            _kill_group(process.pid)
            timed_out = True
        process.wait()
    return timed_out


async def run_sandboxed_python_async(
    code: str,
    *,
    limits: SandboxLimits | None = None,
    stdin: str = "",
    files: dict[str, str] | None = None,
    _mode: Literal["auto", "userns", "none"] = "auto",
) -> SandboxResult:
    """`run_sandboxed_python` for asyncio: many runs can be awaited concurrently on one loop."""
    limits = limits or SandboxLimits()
    run = _Run(code, limits, stdin, files, _mode)
    try:
        process = await asyncio.create_subprocess_exec(
            *run.argv,
            stdin=run.stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(run.report_write,),
            start_new_session=True,
            close_fds=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        run.after_spawn()
        readers = [
            asyncio.ensure_future(_drain(process.stdout, run.stdout)),
            asyncio.ensure_future(_drain(process.stderr, run.stderr)),
        ]
        # The end of the launcher shows as EOF on the report pipe (only the launcher and init hold it).
        # `process.wait()` is no use as that signal: asyncio resolves it only once stdout and stderr are
        # closed too, which a leftover process outside a pid namespace can postpone forever.
        loop = asyncio.get_running_loop()
        launcher_gone = asyncio.Event()

        def on_report() -> None:
            if run.read_report():
                loop.remove_reader(run.report_read)
                launcher_gone.set()

        loop.add_reader(run.report_read, on_report)
        timed_out = False
        try:
            remaining = run.started + limits.wall_s - time.monotonic()
            await asyncio.wait_for(launcher_gone.wait(), timeout=max(0.0, remaining))
        except asyncio.TimeoutError:
            timed_out = True
            if process.returncode is None:  # not yet reaped, so its pid still names our group
                _kill_group(process.pid)
            await _bounded(launcher_gone.wait(), _DRAIN_AFTER_EXIT_S)
        except asyncio.CancelledError:
            if process.returncode is None:
                _kill_group(process.pid)
            raise
        finally:
            loop.remove_reader(run.report_read)
            _, pending = await asyncio.wait(readers, timeout=_DRAIN_AFTER_EXIT_S)
            for task in pending:
                task.cancel()
            await _bounded(process.wait(), _DRAIN_AFTER_EXIT_S)
            transport = getattr(process, "_transport", None)
            if transport is not None:  # pipes a leftover process still holds: close our ends now
                transport.close()
        return run.finish(timed_out)
    finally:
        run.cleanup()


async def _bounded(awaitable: Any, seconds: float) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout=seconds)
    except asyncio.TimeoutError:
        pass


async def _drain(stream: asyncio.StreamReader, capture: _Capture) -> None:
    while chunk := await stream.read(_READ_CHUNK):
        capture.feed(chunk)
