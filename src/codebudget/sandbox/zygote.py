"""The zygote: a small warm process that forks one confined candidate per program.

It is started as a fresh interpreter before any dataset, test or expected output exists
in the judge, so nothing a candidate could find in its inherited memory is worth stealing.
It pre-imports the modules programs commonly use (a fork then costs ~1 ms instead of an
interpreter start), sets up its own network and mount namespaces once, and then serves
two requests over a SEQPACKET socket:

    {"op": "spawn", "job": N} + the job's socket fd  ->  {"pid": P}
    {"op": "reap", "pid": P, "job": N}               ->  {"status", "cpu_s", "maxrss_kib"}

"reap" kills the candidate if it is still alive, collects its exit status and resource
usage, removes its scratch dir and kills any process that escaped its job.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import sys
import traceback
from typing import Any

PREIMPORT = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal", "enum",
    "fractions", "functools", "hashlib", "heapq", "itertools", "math", "operator", "random",
    "re", "statistics", "string", "sys", "typing", "unicodedata", "cmath", "struct", "time",
    "textwrap", "json", "numbers", "abc", "io", "copyreg", "types", "weakref", "keyword",
)

SETUP_FAILED_EXIT = 120


def main() -> None:
    ctl_fd, config = int(sys.argv[1]), json.loads(sys.argv[2])
    ctl = socket.socket(fileno=ctl_fd)
    os.setpgid(0, 0)  # a Ctrl-C in the terminal reaches the judge, which then stops us
    from codebudget.sandbox import candidate, isolation

    for name in PREIMPORT:
        __import__(name)
    sys.dont_write_bytecode = True
    gc.freeze()  # children never scan (and so never copy) the pre-imported heap
    limits = isolation.Limits(**config["limits"])
    plan = isolation.plan_layers(limits, config["scratch_root"])
    ctl.send(json.dumps({"layers": plan.layers, "missing": plan.missing}).encode())
    jobs: dict[int, str] = {}  # pid -> scratch dir
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, 65536, 1)
        except ConnectionError:
            data, fds = b"", []
        if not data:
            _shutdown(jobs)
        request = json.loads(data)
        if request["op"] == "spawn":
            reply = _spawn(plan, fds[0], int(request["job"]), jobs, candidate.serve)
        elif request["op"] == "reap":
            reply = _reap(int(request["pid"]), jobs, sweep=plan.seccomp_bpf is None)
        else:
            reply = {"error": f"unknown op {request['op']!r}"}
        ctl.send(json.dumps(reply).encode())


def _spawn(plan: Any, job_fd: int, job: int, jobs: dict[int, str], serve: Any) -> dict[str, Any]:
    from codebudget.sandbox import isolation, wire

    job_dir = os.path.join(plan.scratch_root, f"job{job}")
    os.mkdir(job_dir, 0o700)
    if plan.drop_to_uid is not None:
        os.chown(job_dir, plan.drop_to_uid, plan.drop_to_uid)
    pid = os.fork()
    if pid == 0:
        try:
            isolation.confine(plan, job_fd, job_dir)
        except BaseException:
            try:
                detail = traceback.format_exc(limit=3)[-500:]
                wire.send(socket.socket(fileno=3 if job_fd != 3 else job_fd), ["setup-failed", detail])
            finally:
                os._exit(SETUP_FAILED_EXIT)
        try:
            # The first frame on the socket is ours, written before any of the program's
            # code runs: only it may say "setup-failed" (see CandidateProcess.receive).
            ready = wire.dumps(["ready"])
            os.write(3, wire.HEADER.pack(len(ready)) + ready)
            serve()
        finally:
            os._exit(0)
    os.close(job_fd)
    jobs[pid] = job_dir
    return {"pid": pid}


def _reap(pid: int, jobs: dict[int, str], sweep: bool) -> dict[str, Any]:
    job_dir = jobs.pop(pid, None)
    if job_dir is None:
        return {"error": f"pid {pid} is not a running job"}
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:  # cannot happen unless someone else reaped it: report a kill
        return {"status": signal.SIGKILL, "cpu_s": 0.0, "maxrss_kib": 0}
    shutil.rmtree(job_dir, ignore_errors=True)
    if sweep:
        _kill_escaped(set(jobs))
    return {
        "status": status,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kib": usage.ru_maxrss,
    }


def _kill_escaped(active: set[int]) -> None:
    """Kill processes re-parented to us (we are a subreaper) that belong to no live job."""
    me = str(os.getpid())
    escaped = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in active:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if ppid == me:
            escaped.append(int(entry))
    for pid in escaped:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _shutdown(jobs: dict[int, str]) -> None:
    for pid in list(jobs):
        _reap(pid, jobs, sweep=False)
    os._exit(0)


if __name__ == "__main__":
    main()
