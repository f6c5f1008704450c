"""Judge many programs: dedup, fan out over worker threads, turn outcomes into verdicts.

Each worker thread owns one candidate at a time: it asks the zygote for a fresh confined
process, loads the program, runs the task's tests from the trusted side, and has the
process killed and reaped. Identical programs (same task, same text) are judged once.
Time limits follow EvalPlus: max(floor, factor x the reference's CPU time), enforced on CPU
time so a loaded machine does not turn slow-but-correct programs into timeouts, with a
generous wall-clock backstop for programs that sleep.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from codebudget.benchmarks.task import IOTests, ScriptTests, Task
from codebudget.sandbox import checks
from codebudget.sandbox.codec import Digest, decode, encode
from codebudget.sandbox.isolation import Limits
from codebudget.sandbox.processes import CandidateProcess, ExitInfo, Sandbox, SandboxError
from codebudget.sandbox.references import Reference, ReferenceCache
from codebudget.sandbox.verdict import Status, Verdict


class BrokenReference(SandboxError):
    """Some tasks' reference solutions fail here, so their programs cannot be judged."""

    def __init__(self, task_ids: list[str], details: list[str]) -> None:
        super().__init__(f"reference solution fails for {', '.join(task_ids[:5])}"
                         f"{' ...' if len(task_ids) > 5 else ''}: {details[0]}")
        self.task_ids = task_ids
        self.details = details


@dataclass(frozen=True)
class TimePolicy:
    floor_s: float = 1.0  # EvalPlus's minimum per-input limit, applied per program
    factor: float = 4.0  # EvalPlus's ground-truth time factor
    wall_factor: float = 3.0
    wall_extra_s: float = 5.0
    reference_cpu_s: float = 120.0  # budget for measuring a reference the first time

    def cpu_limit(self, reference_cpu_s: float) -> float:
        return max(self.floor_s, self.factor * reference_cpu_s)

    def wall_limit(self, cpu_limit_s: float) -> float:
        return self.wall_factor * cpu_limit_s + self.wall_extra_s


def dedupe(items: Sequence[tuple[Task, str]], progress: Callable[[int], None] | None) -> tuple[
        list[str], dict[str, tuple[Task, str]], Callable[[str, Verdict], None], dict[str, Verdict]]:
    """Keys per item, the distinct items, and a recorder that fills `verdicts` and reports
    progress once per *sample* (a program shared by k samples advances k)."""
    keys = [program_hash(task, program) for task, program in items]
    unique = dict(zip(keys, items))
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    verdicts: dict[str, Verdict] = {}

    def record(key: str, verdict: Verdict) -> None:
        verdicts[key] = verdict
        if progress:
            progress(counts[key])

    return keys, unique, record, verdicts


def program_hash(task: Task, program: str) -> str:
    h = hashlib.sha256()
    for part in (task.benchmark, task.task_id, program):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class Judge:
    """Owns the sandbox and the reference cache; judges (task, program) pairs."""

    def __init__(self, workers: int | None = None, limits: Limits | None = None,
                 policy: TimePolicy | None = None, cache: ReferenceCache | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.policy = policy or TimePolicy()
        self.cache = cache or ReferenceCache()
        self.sandbox = Sandbox(limits)
        self._compiled: dict[str, tuple[Any, Any]] = {}
        self._io_inputs: dict[str, list[Any]] = {}
        self._expected: dict[str, list[Any]] = {}
        self._refs: dict[tuple[str, str], Reference] = {}
        self._lock = threading.Lock()

    @property
    def limits(self) -> Limits:
        return self.sandbox.limits

    @property
    def layers(self) -> list[str]:
        return self.sandbox.layers

    @property
    def missing_layers(self) -> list[str]:
        return self.sandbox.missing

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ references

    def references(self, tasks: Iterable[Task], progress: Callable[[int], None] | None = None,
                   refresh: bool = False) -> dict[str, Reference]:
        """Reference timing (and outputs) for each task, measured once and cached."""
        tasks = list({(t.benchmark, t.task_id): t for t in tasks}.values())
        todo = []
        for task in tasks:
            ref = None if refresh else self._refs.get((task.benchmark, task.task_id)) or self.cache.get(task)
            if ref is None:
                todo.append(task)
            else:
                self._remember(task, ref)
                if progress:
                    progress(1)
        if todo:
            measured = self._map(self._measure_reference, todo, progress)
            # Only successes are cached: a failure is re-measured next time, never trusted.
            self.cache.put_many([(t, r) for t, r in zip(todo, measured) if r.ok])
            for task, ref in zip(todo, measured):
                self._remember(task, ref)
        return {t.task_id: self._refs[(t.benchmark, t.task_id)] for t in tasks}

    def _remember(self, task: Task, ref: Reference) -> None:
        self._refs[(task.benchmark, task.task_id)] = ref
        if ref.outputs is not None:
            expected = [_expected_value(o) for o in ref.outputs]
            if isinstance(task.tests, IOTests) and task.tests.oracle == "not_none":
                # EvalPlus keeps only whether the reference returned something (a re.Match
                # cannot be compared across processes): evalplus/evaluate.py, trusted_exec.
                expected = [value is not None for value in expected]
            self._expected[task.task_id + "\0" + task.benchmark] = expected

    def _measure_reference(self, task: Task) -> Reference:
        cpu = self.policy.reference_cpu_s
        cand = self.sandbox.spawn()
        try:
            cand.set_budget(cpu, self.policy.wall_limit(cpu))
            outcome = checks.load_program(cand, task.reference)
            outputs = None
            if outcome is None and isinstance(task.tests, IOTests):
                outcome, outputs = self._reference_outputs(cand, task, task.tests)
            elif outcome is None:
                outcome = checks.run_script_tests(cand, task, task.tests, lambda: self._compile(task))
        finally:
            info = cand.close()
        ok = outcome.kind == "pass"
        detail = "" if ok else (outcome.detail or (outcome.gone.detail if outcome.gone else outcome.kind))
        return Reference(info.cpu_s, ok, detail, outputs)

    def _reference_outputs(self, cand: CandidateProcess, task: Task,
                           tests: IOTests) -> tuple[checks.Outcome, list[Any] | None]:
        return checks.collect_outputs(cand, tests.entry_point, self._inputs(task, tests))

    # ------------------------------------------------------------------ judging

    def judge(self, items: Sequence[tuple[Task, str]],
              progress: Callable[[int], None] | None = None) -> list[Verdict]:
        """One verdict per (task, program) item, in order; identical programs run once."""
        keys, unique, record, verdicts = dedupe(items, progress)
        self.judge_keyed([(k, t, p) for k, (t, p) in unique.items()], on_verdict=record)
        return [verdicts[k] for k in keys]

    def judge_keyed(self, items: Sequence[tuple[str, Task, str]],
                    on_start: Callable[[str, float], None] | None = None,
                    on_verdict: Callable[[str, Verdict], None] | None = None) -> None:
        """Judge distinct (key, task, program) items; report each start (with its wall
        deadline in seconds) and each verdict as it happens, from the worker threads."""
        refs = self.references([task for _, task, _ in items])
        broken = sorted({t.task_id for _, t, _ in items if not refs[t.task_id].ok})
        if broken:
            raise BrokenReference(broken, [refs[t].detail for t in broken])

        def one(item: tuple[str, Task, str]) -> None:
            key, task, program = item
            if on_start:
                on_start(key, self.policy.wall_limit(self.policy.cpu_limit(refs[task.task_id].cpu_s)))
            verdict = self.judge_one(task, program, key)
            if on_verdict:
                on_verdict(key, verdict)

        self._map(one, list(items), None)

    def judge_one(self, task: Task, program: str, key: str | None = None) -> Verdict:
        key = key or program_hash(task, program)
        ref = self._refs.get((task.benchmark, task.task_id)) or self.references([task])[task.task_id]
        cpu_limit = self.policy.cpu_limit(ref.cpu_s)
        start = time.monotonic()
        cand = self.sandbox.spawn()
        try:
            cand.set_budget(cpu_limit, self.policy.wall_limit(cpu_limit))
            outcome = checks.load_program(cand, program)
            if outcome is None:
                outcome = self._run_tests(cand, task)
        finally:
            info = cand.close()
        return _verdict(outcome, info, time.monotonic() - start, key)

    def _run_tests(self, cand: CandidateProcess, task: Task) -> checks.Outcome:
        tests = task.tests
        if isinstance(tests, ScriptTests):
            return checks.run_script_tests(cand, task, tests, lambda: self._compile(task))
        expected = self._expected.get(task.task_id + "\0" + task.benchmark)
        if expected is None:
            raise SandboxError(f"{task.task_id}: no reference outputs (the reference failed)")
        return checks.run_io_tests(cand, tests, self._inputs(task, tests), expected)

    def _compile(self, task: Task) -> tuple[Any, Any]:
        key = task.benchmark + "\0" + task.task_id
        compiled = self._compiled.get(key)
        if compiled is None:
            tests = task.tests
            assert isinstance(tests, ScriptTests)
            compiled = (
                # dont_inherit: not this module's `from __future__ import annotations`
                compile(task.reference + "\n" + tests.setup + "\n", "<reference>", "exec", dont_inherit=True),
                compile(tests.code, checks.TEST_FILENAME, "exec", dont_inherit=True),
            )
            self._compiled[key] = compiled
        return compiled

    def _inputs(self, task: Task, tests: IOTests) -> list[Any]:
        key = task.benchmark + "\0" + task.task_id
        encoded = self._io_inputs.get(key)
        if encoded is None:
            encoded = [encode(list(args)) for args in tests.inputs]
            self._io_inputs[key] = encoded
        return encoded

    def _map(self, fn: Callable[[Any], Any], items: list[Any],
             progress: Callable[[int], None] | None) -> list[Any]:
        def wrapped(item: Any) -> Any:
            result = fn(item)
            if progress:
                progress(1)
            return result

        if self.workers == 1 or len(items) <= 1:
            return [wrapped(i) for i in items]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(wrapped, items))


def _verdict(outcome: checks.Outcome, info: ExitInfo, seconds: float, key: str) -> Verdict:
    if outcome.kind == "pass":
        return Verdict(Status.PASS, None, "", seconds, info.cpu_s, key)
    if outcome.kind == "syntax":
        return Verdict(Status.SYNTAX, outcome.error_type or "SyntaxError", outcome.detail, seconds, info.cpu_s, key)
    if outcome.kind == "fail":
        status = Status.MEMORY if outcome.error_type == "MemoryError" else Status.FAIL
        return Verdict(status, outcome.error_type, outcome.detail, seconds, info.cpu_s, key)
    gone = outcome.gone
    assert gone is not None
    if gone.reason == "timeout" or info.signal == 24:  # SIGXCPU: the kernel's CPU backstop
        return Verdict(Status.TIMEOUT, "Timeout", gone.detail, seconds, info.cpu_s, key)
    how = (f"killed by signal {info.signal}" if info.signal and info.signal != 9
           else f"exited with status {info.exit_code}" if info.exit_code is not None else "ended")
    return Verdict(Status.CRASH, "Crash", f"{gone.detail}; process {how}"[:300], seconds, info.cpu_s, key)


def _expected_value(raw: Any) -> Any:
    if type(raw) is list and len(raw) == 2 and raw[0] == "digest":
        return Digest(str(raw[1]))
    return decode(raw)
