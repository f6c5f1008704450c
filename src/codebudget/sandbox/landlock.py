"""Landlock: the candidate may read what Python needs and write only its scratch dir.

Landlock is unprivileged and stackable, so it works the same as root in CI and as a user
on a laptop. Everything the ruleset "handles" is denied unless a rule grants it: the
user's home, the benchmark data and caches, other candidates' scratch dirs, /proc of
other processes. From ABI 4 it also denies TCP bind/connect, and from ABI 6 it stops
signals and abstract unix sockets from leaving the candidate's own domain.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # same on x86_64 and aarch64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 2, 4, 8
_WRITE_DIR_RIGHTS = sum(1 << i for i in range(4, 13))  # remove/make dir, file, sym, ...
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2

READ = READ_FILE | READ_DIR
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | _TRUNCATE | _IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable."""
    v = _libc.syscall(_SYS_CREATE, None, 0, _CREATE_RULESET_VERSION)
    return max(0, int(v))


def _fs_rights(abi: int) -> int:
    rights = EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | _WRITE_DIR_RIGHTS
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


def restrict(
    abi: int,
    read_paths: Iterable[str],
    write_paths: Iterable[str],
    read_write_files: Iterable[str] = (),
) -> None:
    """Confine the calling process: read-only `read_paths`, read-write `write_paths`."""
    all_fs = _fs_rights(abi)
    attr = _RulesetAttr(
        all_fs,
        (_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
        (_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = ctypes.sizeof(_RulesetAttr) if abi >= 4 else 8
    fd = _libc.syscall(_SYS_CREATE, ctypes.byref(attr), size, 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        for path in read_paths:
            _add(fd, path, READ | EXECUTE, all_fs)
        for path in write_paths:
            _add(fd, path, all_fs, all_fs)
        for path in read_write_files:
            _add(fd, path, READ_FILE | WRITE_FILE, all_fs)
        if _libc.syscall(_SYS_RESTRICT, fd, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(fd)


def _add(ruleset_fd: int, path: str, rights: int, all_fs: int) -> None:
    try:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist needs no rule
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        attr = _PathBeneath(rights & all_fs, pfd)
        if _libc.syscall(_SYS_ADD_RULE, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(attr), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(pfd)
