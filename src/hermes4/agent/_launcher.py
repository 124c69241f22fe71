"""The sandbox's launcher process: namespaces, a private filesystem view, limits, a uid drop, then exec.

This file runs as a script (`python -I -S _launcher.py CONFIG_JSON`) in a fresh, single-threaded
interpreter, so it may only import the standard library and never imports hermes4. The parent
(`hermes4.agent.sandbox`) starts it in a new session; doing the privileged setup here instead of
in a `preexec_fn` keeps the parent safe to call from threads and asyncio.

Shape of the process tree:

    parent (hermes4) ── launcher (session leader) ── init (pid 1 of a new pid namespace) ── program

The launcher unshares the namespaces and forks init, which sets up the mounts and forks the
program; the program applies limits and credentials, writes a JSON line describing the isolation
it got to the report pipe, and execs Python. Init waits for it and writes how it ended (exit code
or signal, and the CPU seconds it used) to the report pipe; its exit makes the kernel kill whatever is left in the
namespace. The launcher then SIGKILLs its whole process group (itself included), which reaches leftovers where no
pid namespace was granted.

When the caller dies (even by SIGKILL) nothing may run on: the launcher asks for SIGTERM at its parent's death and,
on it, kills init (which takes the namespace down), removes the caller's run directory (which the dead caller can
no longer clean) and kills its group. Init asks for SIGKILL at the launcher's death, since PDEATHSIG is not
inherited across fork.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import stat
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

# World-writable places a dropped uid could still write to; each gets a private, size-limited tmpfs.
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")

LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(None, use_errno=True)
if LINUX:
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    _libc.unshare.argtypes = [ctypes.c_int]
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)), f"mount {target}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def prctl(option: int, arg: int) -> None:
    if not LINUX:
        raise OSError(f"prctl({option}) exists only on Linux")
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def enter_namespaces(config: dict, isolation: dict) -> None:
    """Unshare what the OS allows; record each namespace obtained in `isolation`."""
    # An IPC namespace: SysV shared memory and message queues die with the run and are never shared with the
    # host or another run (POSIX ones live in /dev/shm, which is a private tmpfs already).
    wanted = [(CLONE_NEWNS, "mount_namespace"), (CLONE_NEWPID, "pid_namespace"), (CLONE_NEWIPC, "ipc_namespace")]
    if not config["network"]:
        wanted.append((CLONE_NEWNET, "network_namespace"))
    all_flags = 0
    for flag, _ in wanted:
        all_flags |= flag
    use_userns = config["mode"] == "userns" or (config["mode"] == "auto" and os.geteuid() != 0)
    if config["mode"] == "none":
        isolation["notes"].append("namespaces disabled by the caller")
        return
    if not LINUX:
        isolation["notes"].append(f"no namespaces on {sys.platform}")
        return
    if use_userns:
        # An unprivileged caller can still get namespaces inside a user namespace that maps only itself.
        uid, gid = os.geteuid(), os.getegid()
        try:
            unshare(CLONE_NEWUSER | all_flags)
            _write_file("/proc/self/setgroups", "deny")
            _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
            _write_file("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as exc:
            isolation["notes"].append(f"user namespace unavailable ({exc.strerror or exc}); no namespaces")
            return
        isolation["user_namespace"] = True
        for _, name in wanted:
            isolation[name] = True
        return
    try:
        unshare(all_flags)
        for _, name in wanted:
            isolation[name] = True
        return
    except OSError:
        pass
    for flag, name in wanted:  # the OS refused the set; take what it grants one by one
        try:
            unshare(flag)
            isolation[name] = True
        except OSError as exc:
            isolation["notes"].append(f"{name} unavailable ({exc.strerror or exc})")


def _reachable_by_others(path: str) -> bool:
    """Can a uid with no special rights traverse every directory down to `path`?"""
    current = "/"
    for name in path.strip("/").split("/"):
        current = os.path.join(current, name)
        try:
            st = os.stat(current)
        except OSError:
            return False
        if stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IXOTH:
            return False
    return True


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def reveal(path: str, fd: int, own_mounts: list[str]) -> None:
    """Make `path` (opened earlier as `fd`) visible at the same place to an unprivileged uid.

    A directory on the way that others cannot traverse (e.g. /root, mode 0700) is covered by an
    empty tmpfs, so its other contents stay hidden; the missing directories are created inside
    tmpfs mounts we own (never on the host filesystem), and `path` itself is bind-mounted back,
    read-only.
    """
    current = "/"
    changed = False
    parts = path.strip("/").split("/")
    for index, name in enumerate(parts):
        current = os.path.join(current, name)
        last = index == len(parts) - 1
        try:
            st = os.stat(current)
        except FileNotFoundError:
            st = None
        if st is None:
            if not _under(current, own_mounts):
                raise OSError(f"cannot reveal {path}: {current} is missing outside the sandbox's own mounts")
            os.mkdir(current, 0o755)
            changed = True
        elif not last and stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IXOTH:
            mount("tmpfs", current, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            own_mounts.append(current)
            changed = True
    if changed:
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _snapshot(workdir: str) -> list[tuple[str, bytes | None]]:
    """The caller's prepared files (relative path, bytes; None for a directory), parents first."""
    entries: list[tuple[str, bytes | None]] = []
    for root, dirs, files in os.walk(workdir):
        rel_root = os.path.relpath(root, workdir)
        for name in sorted(dirs):
            entries.append((os.path.normpath(os.path.join(rel_root, name)), None))
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as handle:
                entries.append((os.path.normpath(os.path.join(rel_root, name)), handle.read()))
    return entries


def _restore(workdir: str, entries: list[tuple[str, bytes | None]], uid: int | None) -> None:
    for rel, data in entries:
        target = os.path.join(workdir, rel)
        if data is None:
            os.makedirs(target, exist_ok=True)
        else:
            with open(target, "wb") as handle:
                handle.write(data)
        if uid is not None:
            os.chown(target, uid, uid)


def _chown_tree(path: str, uid: int) -> None:
    os.chown(path, uid, uid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def setup_filesystem(config: dict, isolation: dict, uid: int | None) -> None:
    """Inside the mount namespace: private tmp dirs, the interpreter revealed, /proc, a tmpfs workdir."""
    workdir = config["workdir"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host
    entries = _snapshot(workdir)
    fds = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in config["reveal"]]
    own_mounts: list[str] = []
    tmp_size = config["limits"]["tmp_bytes"]
    for directory in PRIVATE_TMP_DIRS:
        if os.path.isdir(directory) and not os.path.islink(directory):
            try:
                mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_size},mode=1777")
                own_mounts.append(directory)
            except OSError as exc:
                isolation["notes"].append(f"private {directory} unavailable ({exc.strerror or exc})")
    isolation["private_tmp"] = list(own_mounts)
    for path, fd in fds:
        reveal(path, fd, own_mounts)
        os.close(fd)
    if isolation["pid_namespace"]:
        try:  # a /proc of the new pid namespace: the program sees only its own processes
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            isolation["private_proc"] = True
        except OSError as exc:
            isolation["notes"].append(f"private /proc unavailable ({exc.strerror or exc})")
    if not os.path.isdir(workdir):
        if not _under(workdir, own_mounts):
            raise OSError(f"workdir {workdir} vanished")
        os.makedirs(workdir, 0o755)
    owner = "" if uid is None else f",uid={uid},gid={uid}"
    mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={config['limits']['disk_bytes']},mode=0700{owner}")
    isolation["workdir_tmpfs_bytes"] = config["limits"]["disk_bytes"]
    _restore(workdir, entries, uid)


def _tasks_of(uid: int) -> int:
    """Processes and threads the uid runs now (what RLIMIT_NPROC counts), from /proc; 0 where unknown."""
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[1]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return count


def apply_limits(limits: dict, isolation: dict, shares_uid: bool) -> list[str]:
    max_processes = limits["max_processes"]
    if shares_uid and os.geteuid() != 0:
        # RLIMIT_NPROC counts every task of the uid, and this uid is the caller's own: allow the
        # caller's current tasks on top, or the program could not start a single process.
        max_processes += _tasks_of(os.geteuid())
    settings = [
        ("RLIMIT_CPU", limits["cpu_s"], limits["cpu_s"] + 1),  # SIGXCPU first, SIGKILL a second later
        ("RLIMIT_AS", limits["memory_bytes"], limits["memory_bytes"]),
        ("RLIMIT_FSIZE", limits["file_size_bytes"], limits["file_size_bytes"]),
        ("RLIMIT_NPROC", max_processes, max_processes),
        ("RLIMIT_NOFILE", limits["max_open_files"], limits["max_open_files"]),
        ("RLIMIT_CORE", 0, 0),
    ]
    applied = []
    for name, soft, hard in settings:
        if not hasattr(resource, name):
            continue
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (OSError, ValueError) as exc:  # e.g. a hard limit already lower than asked
            isolation["notes"].append(f"{name} not set ({exc})")
            continue
        applied.append(name)
    return applied


def init(config: dict, isolation: dict, report: int) -> None:
    """The forked child (pid 1 of the new pid namespace): set up mounts, start the program, report how it ended.

    The program runs as a separate child, not as pid 1 itself, because the kernel drops signals with
    a default action sent to a namespace's init: SIGXCPU at the CPU limit, or a SIGTERM the program
    sends itself, would be ignored. When this process exits the kernel kills the rest of the namespace.
    """
    wanted_uid = config["uid"] if os.geteuid() == 0 and not isolation.get("user_namespace") else None
    if isolation["mount_namespace"]:
        setup_filesystem(config, isolation, wanted_uid)
        can_drop = wanted_uid is not None
    else:
        # Without a mount namespace the dropped uid must reach the interpreter on its own.
        can_drop = wanted_uid is not None and all(_reachable_by_others(p) for p in config["reveal"])
        if wanted_uid is not None and not can_drop:
            isolation["notes"].append("uid not dropped: the interpreter is not reachable by other users")
        if can_drop:
            _chown_tree(config["workdir"], wanted_uid)
    pid = os.fork()
    if pid == 0:
        try:
            program(config, isolation, report, wanted_uid if can_drop else None)
        except BaseException as exc:  # noqa: BLE001 - any setup failure must reach the parent, then exit
            os.write(report, (json.dumps({"setup_error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        os._exit(127)
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        outcome = {"signal": os.WTERMSIG(status)}
    else:
        outcome = {"exit": os.WEXITSTATUS(status)}
    # The CPU it used tells a SIGKILL at RLIMIT_CPU's hard limit (a program that ignored SIGXCPU) from any other.
    outcome["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    os.write(report, (json.dumps(outcome) + "\n").encode())


def program(config: dict, isolation: dict, report: int, uid: int | None) -> None:
    """The program's own process: limits, credentials, then exec (never returns)."""
    isolation["rlimits"] = apply_limits(config["limits"], isolation, shares_uid=uid is None)
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid binaries (su, sudo) cannot give privileges back
        isolation["no_new_privs"] = True
    except OSError as exc:
        isolation["notes"].append(f"no_new_privs unavailable ({exc.strerror or exc})")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    isolation["uid"] = os.geteuid()
    _die_with_parent()  # after the uid change, which clears it
    os.chdir(config["workdir"])
    os.write(report, (json.dumps({"isolation": isolation}) + "\n").encode())
    os.close(report)
    os.execve(config["python"], config["argv"], config["env"])


def _die_with_parent(sig: int = signal.SIGKILL) -> bool:
    try:
        prctl(PR_SET_PDEATHSIG, sig)
        return True
    except OSError:
        return False  # not Linux: the parent's wall-clock kill is the only guard


class _Watchdog:
    """The launcher's duty when its caller dies: take the program down and remove the caller's run directory."""

    def __init__(self, rundir: str) -> None:
        self.init_pid: int | None = None
        # Opened before any mount namespace: removing through this descriptor sees the host's directory, not the
        # tmpfs mounted over its `work` inside the namespace.
        self._parent_fd = os.open(os.path.dirname(rundir), os.O_RDONLY | os.O_DIRECTORY)
        self._name = os.path.basename(rundir)

    def on_caller_death(self, _signum: int = 0, _frame: object = None) -> None:
        if self.init_pid is not None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)
                os.waitpid(self.init_pid, 0)  # init of a pid namespace is reaped only once the namespace is empty
            except OSError:
                pass
        shutil.rmtree(self._name, dir_fd=self._parent_fd, ignore_errors=True)
        os.killpg(0, signal.SIGKILL)  # leftovers where no pid namespace was granted, and the launcher itself


def main() -> None:
    config = json.loads(sys.argv[1])
    report = config["report_fd"]
    os.set_inheritable(report, False)  # the program's exec closes it
    watchdog = _Watchdog(config["rundir"])
    signal.signal(signal.SIGTERM, watchdog.on_caller_death)
    if _die_with_parent(signal.SIGTERM) and os.getppid() != config["caller_pid"]:
        watchdog.on_caller_death()  # the caller died before PDEATHSIG was armed
    isolation = {
        "network_namespace": False,
        "pid_namespace": False,
        "ipc_namespace": False,
        "mount_namespace": False,
        "user_namespace": False,
        "private_tmp": [],
        "private_proc": False,
        "workdir_tmpfs_bytes": None,
        "uid": os.geteuid(),
        "no_new_privs": False,
        "rlimits": [],
        "notes": [],
    }
    enter_namespaces(config, isolation)
    # SIGTERM waits until init is forked and armed, so the watchdog always knows init's pid or init dies with us.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _die_with_parent()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            init(config, isolation, report)
        except BaseException as exc:  # noqa: BLE001 - any setup failure must reach the parent, then exit
            os.write(report, (json.dumps({"setup_error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
            os._exit(127)
        os._exit(0)
    watchdog.init_pid = pid
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    os.waitpid(pid, 0)
    os.killpg(0, signal.SIGKILL)  # whatever the program left in our group, and the launcher itself


if __name__ == "__main__":
    main()
