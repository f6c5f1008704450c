"""The judge's side of the sandbox: start the zygote, get candidates, talk to them.

Every wait on a candidate has two deadlines enforced here, in the trusted process: a CPU
time limit (read from /proc, so a busy loop is stopped after the same amount of work
whatever the machine's load) and a generous wall-clock backstop (for programs that sleep
or block). Nothing the candidate does to its own signals or timers can change either.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from codebudget.sandbox import wire
from codebudget.sandbox.codec import DecodeError, dumps, loads
from codebudget.sandbox.isolation import Limits

_CLK_TCK = os.sysconf("SC_CLK_TCK")


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the candidate): the run must stop, not guess."""


class CandidateGone(Exception):
    """The candidate died, broke the protocol, or ran out of time; `reason` says which."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason  # "timeout" | "crash"
        self.detail = detail


@dataclass(frozen=True)
class ExitInfo:
    status: int  # raw wait status
    cpu_s: float
    maxrss_kib: int

    @property
    def signal(self) -> int | None:
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None

    @property
    def exit_code(self) -> int | None:
        return os.WEXITSTATUS(self.status) if os.WIFEXITED(self.status) else None


class Sandbox:
    """One zygote shared by all worker threads; spawn and reap are short and serialised."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.layers: list[str] = []
        self.missing: list[str] = []
        self._lock = threading.Lock()
        self._jobs = 0
        self._scratch = tempfile.mkdtemp(prefix="codebudget-scratch-")
        os.chmod(self._scratch, 0o711)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {"limits": asdict(self.limits), "scratch_root": self._scratch}
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",  # set and dict orders, so verdicts are reproducible
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in sys.path if p),
        }
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "codebudget.sandbox.zygote", str(theirs.fileno()), json.dumps(config)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, cwd="/",
        )
        theirs.close()
        self._ctl = ours
        ready = self._ctl.recv(65536)
        if not ready:
            raise SandboxError("the sandbox's zygote process failed to start")
        info = json.loads(ready)
        self.layers, self.missing = info["layers"], info["missing"]

    def spawn(self) -> CandidateProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._lock:
            self._jobs += 1
            job = self._jobs
            request = json.dumps({"op": "spawn", "job": job}).encode()
            socket.send_fds(self._ctl, [request], [theirs.fileno()])
            reply = self._reply()
        theirs.close()
        if "pid" not in reply:
            ours.close()
            raise SandboxError(f"could not start a candidate: {reply.get('error')}")
        return CandidateProcess(self, int(reply["pid"]), job, ours)

    def reap(self, pid: int, job: int) -> ExitInfo:
        with self._lock:
            self._ctl.send(json.dumps({"op": "reap", "pid": pid, "job": job}).encode())
            reply = self._reply()
        if "error" in reply:
            raise SandboxError(reply["error"])
        return ExitInfo(int(reply["status"]), float(reply["cpu_s"]), int(reply["maxrss_kib"]))

    def _reply(self) -> dict[str, Any]:
        data = self._ctl.recv(65536)
        if not data:
            raise SandboxError("the sandbox's zygote process died")
        return json.loads(data)

    def close(self) -> None:
        try:
            self._ctl.close()
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CandidateProcess:
    """One confined process running one program, with CPU and wall budgets."""

    def __init__(self, sandbox: Sandbox, pid: int, job: int, sock: socket.socket) -> None:
        self.sandbox, self.pid, self.job, self.sock = sandbox, pid, job, sock
        self.cpu_limit_s = 1e9
        self.wall_deadline = time.monotonic() + 1e9
        self.gone: CandidateGone | None = None
        self.exit: ExitInfo | None = None
        self._greeted = False  # read the zygote's "ready" (or "setup-failed") frame
        self._stat_path = f"/proc/{pid}/stat"

    def set_budget(self, cpu_limit_s: float, wall_limit_s: float) -> None:
        self.cpu_limit_s = cpu_limit_s
        self.wall_deadline = time.monotonic() + wall_limit_s

    def request(self, message: list[Any]) -> list[Any]:
        """Send one message and wait for the reply within the budgets."""
        self.send(message)
        return self.receive()

    def send(self, message: list[Any]) -> None:
        with self._losses():
            data = dumps(message)
            self._send(wire.HEADER.pack(len(data)) + data)

    @contextmanager
    def _losses(self) -> Iterator[None]:
        """Turn any way of losing the candidate into `self.gone`, raised now and ever after."""
        if self.gone:
            raise self.gone
        try:
            yield
        except DecodeError as exc:
            self.gone = CandidateGone("crash", f"protocol violation: {exc}")
        except CandidateGone as exc:
            self.gone = exc
        except OSError as exc:
            self.gone = CandidateGone("crash", f"connection lost: {exc}")
        if self.gone:
            raise self.gone

    def receive(self) -> list[Any]:
        """The next message from the candidate: a non-empty list tagged with a string."""
        if not self._greeted:
            # Written by the zygote after confinement and before the program is loaded,
            # so the program cannot forge it; any later "setup-failed" is the program's
            # lie (it would otherwise stop the whole run) and counts as a protocol violation.
            hello = self._receive()
            self._greeted = True
            if hello[0] == "setup-failed":
                raise SandboxError(f"a sandbox layer failed to apply in a candidate: {hello[1:]}")
            if hello != ["ready"]:
                self.gone = CandidateGone("crash", "protocol violation: no ready message")
                raise self.gone
        reply = self._receive()
        if reply[0] in ("ready", "setup-failed"):
            self.gone = CandidateGone("crash", f"protocol violation: unexpected {reply[0]!r}")
            raise self.gone
        return reply

    def _receive(self) -> list[Any]:
        with self._losses():
            (size,) = wire.HEADER.unpack(self._recv(wire.HEADER.size))
            if size > wire.MAX_MESSAGE:
                raise CandidateGone("crash", f"reply of {size} bytes exceeds the limit")
            reply = loads(self._recv(size))
        if type(reply) is not list or not reply or type(reply[0]) is not str:
            self.gone = CandidateGone("crash", "protocol violation: reply is not a tagged list")
            raise self.gone
        return reply

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self._wait(write=True)
            sent = self.sock.send(view[: 1 << 20])
            view = view[sent:]

    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            self._wait(write=False)
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise CandidateGone("crash", "the program's process ended before answering")
            buf += chunk
        return bytes(buf)

    def _wait(self, write: bool) -> None:
        interval = 0.002
        while True:
            remaining = self.wall_deadline - time.monotonic()
            if remaining <= 0:
                raise CandidateGone("timeout", "wall-clock limit exceeded")
            ready = select.select([], [self.sock], [], min(interval, remaining))[1] if write else \
                select.select([self.sock], [], [], min(interval, remaining))[0]
            if ready:
                return
            if self.cpu_seconds() > self.cpu_limit_s:
                raise CandidateGone("timeout", f"CPU time limit of {self.cpu_limit_s:.2f}s exceeded")
            interval = min(interval * 2, 0.05)

    def cpu_seconds(self) -> float:
        try:
            with open(self._stat_path, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLK_TCK
        except (OSError, IndexError, ValueError):
            return 0.0

    def close(self) -> ExitInfo:
        """Kill the process (if still alive) and collect how it ended."""
        if self.exit is None:
            self.sock.close()
            self.exit = self.sandbox.reap(self.pid, self.job)
        return self.exit
