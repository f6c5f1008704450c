"""The trusted half of judging: run a task's tests against a confined candidate.

Tests execute here, in the judge's process, on a namespace built from the *reference*
program; the functions under test are replaced by proxies that forward each call to the
candidate's process and rebuild its return value from plain data. The candidate can
answer wrongly, slowly or not at all, but it cannot touch the tests, the expected values
or the decision. A timeout or crash is raised into the tests as a BaseException so no
`except Exception` in a test can swallow it, and it is checked again after the tests end.
"""

from __future__ import annotations

import builtins
import re
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from codebudget.benchmarks.task import IOTests, ScriptTests, Task
from codebudget.sandbox.codec import DecodeError, Digest, decode, encode
from codebudget.sandbox.io_oracles import outputs_match
from codebudget.sandbox.processes import CandidateGone, CandidateProcess

_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}")
TEST_FILENAME = "<tests>"


@dataclass(frozen=True)
class Outcome:
    """What the tests concluded, before process-level facts (exit status) are added."""

    kind: str  # "pass" | "fail" | "syntax" | "gone"
    error_type: str | None = None
    detail: str = ""
    gone: CandidateGone | None = None


class CandidateRaised(Exception):
    """Stands in for an exception type the judge does not know (the candidate's own)."""


class _Abort(BaseException):
    def __init__(self, gone: CandidateGone) -> None:
        super().__init__(gone.reason)
        self.gone = gone


def load_program(cand: CandidateProcess, program: str) -> Outcome | None:
    """Load the program in the candidate; an Outcome means it never got to the tests."""
    try:
        reply = cand.request(["load", program])
    except CandidateGone as gone:
        return Outcome("gone", gone=gone)
    if reply[0] == "ok":
        return None
    if reply[0] == "syntax":
        return Outcome("syntax", _type_name(reply[1:2]), _text(reply[2:3]))
    return Outcome("fail", _type_name(reply[1:2]), _text(reply[2:3]))


def run_script_tests(cand: CandidateProcess, task: Task, tests: ScriptTests,
                     compiled: Callable[[], tuple[Any, Any]]) -> Outcome:
    reference_code, test_code = compiled()
    namespace: dict[str, Any] = {"__name__": "__codebudget_tests__"}
    exec(reference_code, namespace)  # trusted: the benchmark's reference program + setup
    for name in tests.under_test:
        namespace[name] = _proxy(cand, name, namespace)
    try:
        exec(test_code, namespace)
    except _Abort as abort:
        return Outcome("gone", gone=abort.gone)
    except BaseException as exc:  # a failed assert, or the candidate's exception
        if cand.gone:
            return Outcome("gone", gone=cand.gone)
        return Outcome("fail", _error_type(exc), _failure_detail(exc, task))
    if cand.gone:  # a test swallowed our abort with a bare except
        return Outcome("gone", gone=cand.gone)
    return Outcome("pass")


def run_io_tests(cand: CandidateProcess, tests: IOTests, encoded_inputs: list[Any],
                 expected: list[Any]) -> Outcome:
    """Stream the outputs and compare each as it arrives; stop at the first mismatch."""
    atol = tests.atol
    try:
        cand.send(["calls", tests.entry_point, encoded_inputs])
        for i in range(len(encoded_inputs) + 1):
            reply = cand.receive()
            if reply[0] == "done" and i == len(encoded_inputs):
                return Outcome("pass")
            if reply[0] == "exc" and i < len(encoded_inputs):
                err = _type_name(reply[1:2])
                return Outcome("fail", err, f"{_which(tests, i)}: {err}: {_text(reply[2:3])}"[:300])
            if reply[0] not in ("ret", "digest") or len(reply) != 2 or i == len(encoded_inputs):
                break
            try:
                out = Digest(str(reply[1])) if reply[0] == "digest" else decode(reply[1])
            except DecodeError as exc:
                return Outcome("fail", "InvalidOutput", f"{_which(tests, i)}: {exc}")
            matched, atol = outputs_match(tests, i, out, expected[i], atol)
            if not matched:
                return Outcome("fail", "AssertionError", f"{_which(tests, i)}: wrong output")
    except CandidateGone as gone:
        return Outcome("gone", gone=gone)
    return Outcome("gone", gone=CandidateGone("crash", "protocol violation in the outputs"))


def collect_outputs(cand: CandidateProcess, entry_point: str,
                    encoded_inputs: list[Any]) -> tuple[Outcome, list[Any] | None]:
    """The reference's raw outputs for every input (for expected values)."""
    outputs: list[Any] = []
    try:
        cand.send(["calls", entry_point, encoded_inputs])
        while True:
            reply = cand.receive()
            if reply[0] in ("ret", "digest") and len(reply) == 2 and len(outputs) < len(encoded_inputs):
                outputs.append(reply[1] if reply[0] == "ret" else ["digest", reply[1]])
            elif reply[0] == "done" and len(outputs) == len(encoded_inputs):
                return Outcome("pass"), outputs
            elif reply[0] == "exc":
                err = _type_name(reply[1:2])
                return Outcome("fail", err, f"input #{len(outputs)}: {err}: {_text(reply[2:3])}"), None
            else:
                return Outcome("gone", gone=CandidateGone("crash", "protocol violation")), None
    except CandidateGone as gone:
        return Outcome("gone", gone=gone), None


def _which(tests: IOTests, i: int) -> str:
    return f"base input #{i}" if i < tests.base_count else f"plus input #{i - tests.base_count}"


def _proxy(cand: CandidateProcess, name: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    def call_candidate(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError("keyword arguments are not forwarded to the candidate")
        try:
            reply = cand.request(["call", name, encode(list(args))])
        except CandidateGone as gone:
            raise _Abort(gone) from None
        if reply[0] == "ret" and len(reply) == 2:
            try:
                return decode(reply[1], namespace)
            except DecodeError as exc:
                raise CandidateRaised(f"InvalidOutput: {exc}") from None
        if reply[0] == "exc":
            raise _rebuild_exception(_type_name(reply[1:2]), _text(reply[2:3]))
        cand.gone = CandidateGone("crash", "protocol violation: unexpected reply")
        raise _Abort(cand.gone)

    call_candidate.__name__ = name
    return call_candidate


def _rebuild_exception(type_name: str, message: str) -> BaseException:
    """The candidate's exception as a builtin type, so tests' `except ValueError` work."""
    cls = getattr(builtins, type_name, None)
    exc: BaseException
    # Never StopIteration: raised from a call inside map()/filter(), it would end the
    # iteration silently, and `all(map(lambda x: f(x) == ..., cases))` would pass.
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not CandidateRaised \
            and not issubclass(cls, (StopIteration, StopAsyncIteration)):
        try:
            exc = cls(message)
        except Exception:
            exc = CandidateRaised(message)
    else:
        exc = CandidateRaised(message)
    exc._codebudget_candidate_type = type_name  # type: ignore[attr-defined]
    return exc


def _error_type(exc: BaseException) -> str:
    return getattr(exc, "_codebudget_candidate_type", None) or type(exc).__name__


def _failure_detail(exc: BaseException, task: Task) -> str:
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == TEST_FILENAME and frame.lineno:
            lines = task.tests.code.splitlines() if isinstance(task.tests, ScriptTests) else []
            if 0 < frame.lineno <= len(lines):
                where = f" at test line {frame.lineno}: {lines[frame.lineno - 1].strip()}"
            break
    message = str(exc) if not isinstance(exc, AssertionError) or str(exc) else ""
    return f"{_error_type(exc)}{': ' + message if message else ''}{where}"[:300]


def _type_name(part: list[Any]) -> str:
    name = part[0] if part and type(part[0]) is str else ""
    return name if _TYPE_NAME.fullmatch(name) else "UnknownError"


def _text(part: list[Any]) -> str:
    return part[0][:300] if part and type(part[0]) is str else ""
