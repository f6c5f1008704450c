"""A seccomp filter for candidate programs, built with the system's libseccomp.

The filter is compiled once (in the zygote) to classic BPF bytes and installed in each
candidate with one prctl, so a program pays microseconds for it. It allows everything a
Python function needs and refuses what could reach outside the candidate's own process:
new processes (fork bombs, escapes via setsid), the network, tracing or reading other
processes, signalling or rescheduling anyone else, raising limits, kernel-wide state
(clock, mounts, modules, keys), io_uring (which would bypass the filter), exec, and
changes to file metadata (which Landlock does not cover).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

_ACT_ALLOW = 0x7FFF0000
_CMP_NE, _CMP_EQ, _CMP_MASKED_EQ = 1, 4, 7
_CLONE_THREAD = 0x00010000
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C
_PRIO_PROCESS, _IOPRIO_WHO_PROCESS = 0, 1
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
# Syscalls newer than some libseccomp releases know by name. Since Linux 5.1 new syscalls
# have one number on every architecture but alpha, mips and ia64; the kernel we run on may
# have them even when the library cannot name them, and the filter allows what it omits.
_UNIFIED_NR = {"setxattrat": 463, "removexattrat": 466, "open_tree_attr": 467,
               "file_setattr": 469}

DENIED = (
    # network
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "process_madvise", "kcmp",
    # new programs and processes (threads are allowed: see clone below)
    "fork", "vfork", "execve", "execveat",
    # kernel-wide state
    "mount", "umount2", "unshare", "setns", "pivot_root", "chroot", "fsopen", "fsconfig",
    "fsmount", "move_mount", "open_tree", "mount_setattr", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "syslog", "acct", "quotactl", "iopl", "ioperm", "mknod", "mknodat",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "fanotify_init", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie",
    "personality", "migrate_pages", "move_pages", "set_mempolicy", "mbind",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # identity and limits
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset", "setrlimit",
    # file metadata: Landlock does not cover it, so a candidate running as the user (no
    # root to drop) could chmod, chown, re-date or tag any of the user's files
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    "file_setattr", "open_tree_attr",
)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def _libseccomp() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def build_filter() -> bytes | None:
    """Compile the candidate filter to BPF bytes, or None when libseccomp is unavailable."""
    lib = _libseccomp()
    if lib is None:
        return None
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        return None
    try:
        eperm = _errno_action(errno.EPERM)

        def rule(name: str, action: int, *conds: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0 and os.uname().machine in ("x86_64", "aarch64"):
                nr = _UNIFIED_NR.get(name, -1)
            if nr < 0:
                return  # this architecture has no such syscall (e.g. fork on aarch64)
            arr = (_ArgCmp * max(1, len(conds)))(*[_ArgCmp(*c) for c in conds])
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(conds), arr)
            if rc < 0:
                raise OSError(-rc, f"seccomp rule for {name}")

        for name in DENIED:
            rule(name, eperm)
        rule("socket", _errno_action(errno.EACCES))
        # clone without CLONE_THREAD makes a process; clone3 hides its flags, so glibc must
        # fall back to clone (ENOSYS is what makes it do so).
        rule("clone", eperm, (0, _CMP_MASKED_EQ, _CLONE_THREAD, 0))
        rule("clone3", _errno_action(errno.ENOSYS))
        # Signals only to the candidate itself (pid 0 = its own process group, which holds
        # nothing else); tkill/tgkill/rt_*sigqueueinfo name a target that must be itself too.
        for name in ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
            rule(name, eperm, (0, _CMP_NE, 0, 0))
        # Scheduling: only the candidate itself (pid 0) may be reniced, pinned or made idle;
        # otherwise a candidate could slow any process of its user (of 'nobody' as root, of
        # the user, judge included, without root). setpriority and ioprio_set also refuse
        # the "whole group" and "whole user" forms.
        for name in ("sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr"):
            rule(name, eperm, (0, _CMP_NE, 0, 0))
        rule("setpriority", eperm, (0, _CMP_NE, _PRIO_PROCESS, 0))
        rule("setpriority", eperm, (1, _CMP_NE, 0, 0))
        rule("ioprio_set", eperm, (0, _CMP_NE, _IOPRIO_WHO_PROCESS, 0))
        rule("ioprio_set", eperm, (1, _CMP_NE, 0, 0))
        # prlimit64 may read limits (new_limit == NULL) but never set them.
        rule("prlimit64", eperm, (2, _CMP_NE, 0, 0))
        rule("ioctl", eperm, (1, _CMP_MASKED_EQ, 0xFFFFFFFF, _TIOCSTI))
        rule("ioctl", eperm, (1, _CMP_MASKED_EQ, 0xFFFFFFFF, _TIOCLINUX))
        r, w = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(ctx, w)
            os.close(w)
            w = -1
            if rc < 0:
                return None
            chunks = []
            while chunk := os.read(r, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
    finally:
        lib.seccomp_release(ctx)


_libc = ctypes.CDLL(None, use_errno=True)


def install(bpf: bytes) -> None:
    """Install a compiled filter on the calling process (irrevocable)."""
    libc = _libc
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")
