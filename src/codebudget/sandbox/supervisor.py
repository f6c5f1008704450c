"""The judge as a watched child process, so no program can stall the run.

The tests run on the trusted side, but they compute with values the candidate chose: a
test doing `range(candidate())` or `10 ** candidate()` can keep the trusted side busy
for hours, holding the interpreter lock so no thread of that process can notice. The
main process therefore runs the judging engine (`judge.Judge`, its zygote and its worker
threads) in a child process and watches the deadline of every program in flight. When
one passes its wall-clock limit plus a margin, the child is killed (its zygote and
candidates die with it), restarted, and the programs that were in flight are judged
again, each on its own: the one that stalls alone is the culprit and gets `timeout`;
the others get their real verdicts.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from codebudget.benchmarks.task import Task
from codebudget.sandbox.isolation import Limits
from codebudget.sandbox.judge import BrokenReference, Judge, TimePolicy, dedupe
from codebudget.sandbox.processes import SandboxError
from codebudget.sandbox.references import Reference, ReferenceCache
from codebudget.sandbox.verdict import Status, Verdict

STALL_MARGIN_S = 20.0  # beyond a program's own wall limit, before the judge is presumed stuck
START_TIMEOUT_S = 120.0


class SupervisedJudge:
    """Same interface as `Judge`; the engine lives in a child process that can be killed."""

    def __init__(self, workers: int | None = None, limits: Limits | None = None,
                 policy: TimePolicy | None = None, cache_dir: Path | None = None,
                 margin_s: float = STALL_MARGIN_S) -> None:
        self._settings = (workers, limits, policy, cache_dir)
        self.margin_s = margin_s
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: Connection | None = None
        self.restarts = 0
        self._start()

    # --------------------------------------------------------------- the child process

    def _start(self) -> None:
        ours, theirs = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(theirs, *self._settings), daemon=True,
                                       name="codebudget-judge")
        self._proc.start()
        theirs.close()
        self._conn = ours
        ready = self._recv(START_TIMEOUT_S)
        if ready is None or ready[0] != "ready":
            raise SandboxError(f"the judge process failed to start: {ready!r}")
        _, self.layers, self.missing_layers, self.workers, self.limits, self.policy = ready

    def _stop(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        if self._proc is not None:
            self._proc.join(10)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def _restart(self) -> None:
        self._stop()
        self.restarts += 1
        self._start()

    def _recv(self, timeout: float) -> Any:
        assert self._conn is not None
        try:
            if self._conn.poll(timeout):
                return self._conn.recv()
        except (EOFError, OSError):
            return ("died",)
        return None if self._proc.is_alive() else ("died",)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("close",))
                self._proc.join(15)
            except (OSError, BrokenPipeError):
                pass
        self._stop()

    def __enter__(self) -> SupervisedJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------- the engine's API

    def references(self, tasks: Iterable[Task], progress: Callable[[int], None] | None = None,
                   refresh: bool = False) -> dict[str, Reference]:
        """Reference runs are trusted code on both sides: no stall watch needed."""
        assert self._conn is not None
        self._conn.send(("references", list(tasks), refresh))
        while True:
            msg = self._recv(3600)
            if msg is None:
                continue
            if msg[0] == "progress":
                if progress:
                    progress(msg[1])
            elif msg[0] == "references":
                return msg[1]  # type: ignore[no-any-return]
            else:
                self._raise(msg)

    def judge(self, items: Sequence[tuple[Task, str]],
              progress: Callable[[int], None] | None = None) -> list[Verdict]:
        keys, unique, record, verdicts = dedupe(items, progress)
        suspects = self._judge_watched(unique, record)
        for key in suspects:  # each alone: a stall now is this program's own doing
            if self._judge_watched({key: unique[key]}, record):
                record(key, _stalled_verdict(key))
        return [verdicts[k] for k in keys]

    def _judge_watched(self, items: dict[str, tuple[Task, str]],
                       record: Callable[[str, Verdict], None]) -> list[str]:
        """Judge items; return the keys that were in flight when the judge stalled."""
        pending = dict(items)
        suspects: list[str] = []
        while pending:
            assert self._conn is not None
            self._conn.send(("judge", [(k, t, p) for k, (t, p) in pending.items()]))
            in_flight: dict[str, float] = {}  # key -> deadline (monotonic)
            while True:
                msg = self._recv(1.0)
                now = time.monotonic()
                if msg is not None and msg[0] == "start":
                    in_flight[msg[1]] = now + float(msg[2]) + self.margin_s
                elif msg is not None and msg[0] == "verdict":
                    in_flight.pop(msg[1], None)
                    if pending.pop(msg[1], None) is not None:
                        record(msg[1], msg[2])
                elif msg is not None and msg[0] == "done":
                    break
                elif msg is not None and msg[0] != "died":
                    self._raise(msg)
                if (msg is not None and msg[0] == "died") or any(now > d for d in in_flight.values()):
                    stuck = list(in_flight) if in_flight else list(pending)[:1]
                    suspects += stuck
                    for key in stuck:
                        pending.pop(key, None)
                    self._restart()
                    break
        return suspects

    def _raise(self, msg: Any) -> None:
        if msg[0] == "broken":
            raise BrokenReference(msg[1], msg[2])
        if msg[0] == "error":
            raise SandboxError(f"the judge process failed: {msg[1]}")
        raise SandboxError(f"unexpected message from the judge process: {msg[0]!r}")


def _stalled_verdict(key: str) -> Verdict:
    return Verdict(Status.TIMEOUT, "Timeout", "the tests stalled on this program's return value "
                   "(the trusted side exceeded its wall-clock limit)", 0.0, 0.0, key)


def _serve(conn: Connection, workers: int | None, limits: Limits | None, policy: TimePolicy | None,
           cache_dir: Path | None) -> None:
    """The child: one Judge, commands in, progress and verdicts out (thread-safe sends)."""
    lock = threading.Lock()

    def send(msg: Any) -> None:
        with lock:
            conn.send(msg)

    with Judge(workers=workers, limits=limits, policy=policy,
               cache=ReferenceCache(cache_dir) if cache_dir else None) as judge:
        send(("ready", judge.layers, judge.missing_layers, judge.workers, judge.limits, judge.policy))
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            try:
                if msg[0] == "close":
                    return
                if msg[0] == "references":
                    refs = judge.references(msg[1], lambda n: send(("progress", n)), refresh=msg[2])
                    send(("references", refs))
                elif msg[0] == "judge":
                    judge.judge_keyed(msg[1], on_start=lambda k, s: send(("start", k, s)),
                                      on_verdict=lambda k, v: send(("verdict", k, v)))
                    send(("done",))
            except BrokenReference as exc:
                send(("broken", exc.task_ids, exc.details))
            except Exception as exc:  # report, keep serving: the main process decides
                send(("error", f"{type(exc).__name__}: {exc}"))
