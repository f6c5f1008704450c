"""The protection layers around each candidate, decided once and applied per process.

The zygote works out at start-up which layers this kernel and user allow (`plan_layers`)
and every candidate it forks applies them (`confine`), in an order where each step still
has the rights it needs: limits, then no_new_privs and Landlock, then dropping root, then
seccomp last (it forbids the calls the earlier steps make). A layer that was planned but
fails in a child is never skipped silently: the child reports it and the judge stops.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import stat
import sys
import sysconfig
from dataclasses import dataclass, field

from codebudget.sandbox import landlock, seccomp

NOBODY = 65534
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS, _PR_SET_CHILD_SUBREAPER = 1, 38, 36
_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
_MS_REC, _MS_PRIVATE, _MS_NOSUID, _MS_NODEV = 0x4000, 0x40000, 0x2, 0x4

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Limits:
    """Per-candidate resource limits (the time limits live with the judge, per task)."""

    memory_bytes: int = 4 << 30
    file_bytes: int = 16 << 20
    scratch_bytes: int = 64 << 20
    open_files: int = 64
    cpu_backstop_s: int = 600  # RLIMIT_CPU hard stop; the judge's own CPU limit is tighter


@dataclass
class Plan:
    """What the zygote set up and what each child will apply."""

    limits: Limits
    scratch_root: str
    layers: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seccomp_bpf: bytes | None = None
    landlock_abi: int = 0
    read_paths: tuple[str, ...] = ()
    drop_to_uid: int | None = None
    scratch_writable: bool = False


def plan_layers(limits: Limits, scratch_root: str) -> Plan:
    """Set up the zygote's own namespaces and decide the per-candidate layers."""
    plan = Plan(limits=limits, scratch_root=scratch_root)
    plan.layers += ["separate-trusted-checker", "process-per-program", "rlimits", "new-session",
                    "parent-death-signal", "closed-fds"]
    if _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
        plan.layers.append("subreaper")
    in_userns = False
    if os.geteuid() == 0:
        namespaces = _unshare(_CLONE_NEWNET | _CLONE_NEWNS)
    else:
        uid, gid = os.getuid(), os.getgid()
        namespaces = _unshare(_CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWNS)
        if namespaces:
            in_userns = _map_ids(uid, gid)
            plan.layers.append("user-namespace")
    if namespaces:
        plan.layers += ["network-namespace", "mount-namespace"]
        if _mount_scratch_tmpfs(scratch_root, limits.scratch_bytes):
            plan.layers.append("size-capped-scratch")
            plan.scratch_writable = True
    else:
        plan.missing.append("namespaces (network, mount)")
    plan.seccomp_bpf = seccomp.build_filter()
    (plan.layers if plan.seccomp_bpf else plan.missing).append("seccomp")
    plan.landlock_abi = landlock.abi_version()
    if plan.landlock_abi:
        plan.layers.append(f"landlock-abi{plan.landlock_abi}")
        plan.read_paths = python_read_paths()
    else:
        plan.missing.append("landlock")
    if os.geteuid() == 0 and not in_userns:
        if all(_world_readable(p) for p in _stdlib_paths()):
            plan.drop_to_uid = NOBODY
            plan.layers.append("drop-root")
        else:
            plan.missing.append("drop-root (the Python stdlib is not readable by 'nobody')")
    return plan


def confine(plan: Plan, job_socket_fd: int, job_dir: str) -> None:
    """Apply every planned layer to the calling (freshly forked) process."""
    os.setsid()
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if job_socket_fd != 3:
        os.dup2(job_socket_fd, 3)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(4, _max_fd())
    os.chdir(job_dir)
    os.environ.update(HOME=job_dir, TMPDIR=job_dir)
    lim = plan.limits
    resource.setrlimit(resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_backstop_s, lim.cpu_backstop_s))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_bytes, lim.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim.open_files, lim.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # binds only non-root users
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if plan.landlock_abi:
        writable = [job_dir] if plan.scratch_writable else []
        readable = [*plan.read_paths, *([] if plan.scratch_writable else [job_dir])]
        landlock.restrict(plan.landlock_abi, readable, writable, read_write_files=[os.devnull])
    if plan.drop_to_uid is not None:
        os.setgroups([])
        os.setresgid(plan.drop_to_uid, plan.drop_to_uid, plan.drop_to_uid)
        os.setresuid(plan.drop_to_uid, plan.drop_to_uid, plan.drop_to_uid)
    if plan.seccomp_bpf:
        seccomp.install(plan.seccomp_bpf)


def python_read_paths() -> tuple[str, ...]:
    """What a Python program may need to read: the interpreter's files and shared libraries."""
    paths = {
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        *_stdlib_paths(), "/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache",
        "/etc/localtime", "/dev/urandom", "/dev/random", "/dev/zero",
        os.path.dirname(os.path.realpath(sys.executable)),
    }
    # sys.path may hold the working directory ("/" for the zygote) or a checkout's src/:
    # only directories that hold Python packages themselves, never a root or a home.
    paths.update(p for p in sys.path if _is_package_dir(p))
    return tuple(sorted(p for p in paths if os.path.exists(p)))


def _is_package_dir(path: str) -> bool:
    real = os.path.realpath(path) if path else ""
    if not real or real in ("/", "/tmp", os.path.expanduser("~")) or not os.path.isdir(real):
        return False
    return real.endswith(("site-packages", "dist-packages")) or os.path.isdir(
        os.path.join(real, "codebudget"))


def _stdlib_paths() -> list[str]:
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    return sorted({os.path.realpath(sysconfig.get_paths()[n]) for n in names})


def _world_readable(path: str) -> bool:
    """Whether 'nobody' can reach and read `path` (every ancestor traversable)."""
    path = os.path.realpath(path)
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        p = "/".join(parts[:i]) or "/"
        try:
            mode = os.stat(p).st_mode
        except OSError:
            return False
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)


def _unshare(flags: int) -> bool:
    return _libc.unshare(flags) == 0


def _map_ids(uid: int, gid: int) -> bool:
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
        return True
    except OSError:
        return False


def _mount_scratch_tmpfs(target: str, size: int) -> bool:
    mount = _libc.mount
    mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    if mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return False
    # Inodes are kernel memory outside `size`: uncapped, a program makes ~350k empty files
    # or dirs per CPU second (~350 MB) and its cleanup stalls every other worker.
    opts = f"size={size},nr_inodes={max(1024, size // 4096)},mode=0711".encode()
    return mount(b"codebudget", target.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts) == 0


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if 0 < soft < 1 << 20 else 1 << 16


def weaknesses(layers: list[str]) -> list[str]:
    """What a hostile program could do with the layers this machine gave us."""
    found = []
    if "seccomp" not in layers:
        found.append("seccomp is unavailable: programs can start processes and open sockets")
    if not any(layer.startswith("landlock") for layer in layers):
        found.append("Landlock is unavailable: programs can read and write your files")
    return found
