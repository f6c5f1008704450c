"""Adversarial tests of the sandbox: every attack a hostile program might try is a test.

Each attack is judged and must not pass; the tests also check that the host came to no
harm (files, processes, disk, the judge itself). Where a layer can be proven to work, a
*probe* program is used: its `probe()` returns "denied" only if every attempt was refused,
and otherwise says what got through. A PASS of the probe task therefore proves the
confinement (a positive test), while its failure message names the leak.

Runs as root (CI, this machine: the candidate drops to 'nobody') and as a user; one test
switches to an unprivileged user to check the layers that must hold without root.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codebudget.benchmarks.task import IOTests, ScriptTests, Task
from codebudget.sandbox.judge import Judge, TimePolicy
from codebudget.sandbox.references import ReferenceCache
from codebudget.sandbox.verdict import Status, Verdict

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")

PASS, FAIL, TIMEOUT, MEMORY, CRASH, SYNTAX = (
    Status.PASS, Status.FAIL, Status.TIMEOUT, Status.MEMORY, Status.CRASH, Status.SYNTAX)

SECRET = "cb-attack-secret-5b1e0c"  # in the judge's environment; must never reach a candidate

# ----------------------------------------------------------------------------- tasks

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
CORRECT = PROMPT + "    return a + b\n"
ADD = Task("attack", "attack/add", PROMPT, "add", CORRECT,
           ScriptTests("def check(candidate):\n    assert candidate(1, 2) == 3\n"
                       "    assert candidate(-1, 1) == 0\n\ncheck(add)\n", ("add",)),
           completion_prefix=PROMPT)

# The probe task: its test passes only when the program's probe() says "denied".
PROBE = Task("attack", "attack/probe", "def probe():\n", "probe", "def probe():\n    return 'denied'\n",
             ScriptTests("r = probe()\nassert r == 'denied', r\n", ("probe",)))

# MBPP style: a set() of the result, and a check written with map().
UNIQ = Task("attack", "attack/uniq", "def uniq(xs):\n", "uniq", "def uniq(xs):\n    return sorted(set(xs))\n",
            ScriptTests("assert set(uniq([3, 1, 3])) == {1, 3}\n"
                        "assert all(map(lambda x: uniq([x, x]) == [x], [1, 2, 3]))\n", ("uniq",)))

# A reference that defines a class: return values naming it are rebuilt as the *trusted* class.
POINT_PROMPT = ("from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n\n"
                "def mid(a, b):\n")
POINT = Task("attack", "attack/point", POINT_PROMPT, "mid",
             POINT_PROMPT + "    return Point((a.x + b.x) // 2, (a.y + b.y) // 2)\n",
             ScriptTests("assert mid(Point(0, 0), Point(2, 4)) == Point(1, 2)\n", ("mid",)),
             completion_prefix=POINT_PROMPT)

# EvalPlus style: expected outputs come from the reference, compared on the trusted side.
IO_ADD = Task("attack", "attack/io_add", PROMPT, "add", CORRECT,
              IOTests("add", ((1, 2), (-1, 1), (2.5, 0.25)), base_count=2), completion_prefix=PROMPT)
IO_UNIQ = Task("attack", "attack/io_uniq", "def uniq(xs):\n", "uniq", "def uniq(xs):\n    return sorted(set(xs))\n",
               IOTests("uniq", (([3, 1, 3],), ([5],)), base_count=2, oracle="set_eq"))


def add(body: str, prelude: str = "") -> str:
    """An `add` program: module-level `prelude`, then the prompt and `body` (indented)."""
    return textwrap.dedent(prelude) + PROMPT + textwrap.indent(textwrap.dedent(body), "    ")


def probe(attempts: dict[str, str], prelude: str = "", denials: str = "PermissionError") -> str:
    """A probe program: "denied" only if every attempt (an expression) raised `denials`."""
    lines = [textwrap.dedent(prelude), "def probe():", "    leaks = []"]
    for name, expr in attempts.items():
        lines += [
            "    try:",
            f"        got = ({expr})",
            f"        leaks.append({name!r} + ' -> ' + repr(got)[:60])",
            f"    except ({denials}):",
            "        pass",
            "    except BaseException as exc:",
            f"        leaks.append({name!r} + ' -> ' + type(exc).__name__ + ': ' + str(exc)[:60])",
        ]
    lines.append("    return 'denied' if not leaks else leaks")
    return "\n".join(lines) + "\n"


# Turns a libc call's -1 into the OSError its errno means (EPERM -> PermissionError).
LIBC = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def check(rc):
    if rc == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc
"""

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def secret_env() -> Iterator[None]:
    os.environ["CODEBUDGET_ATTACK_SECRET"] = SECRET
    yield
    os.environ.pop("CODEBUDGET_ATTACK_SECRET", None)


@pytest.fixture(scope="module")
def refs_dir() -> Iterator[Path]:
    """The reference cache, world-readable: only the sandbox keeps candidates out of it."""
    path = Path(tempfile.mkdtemp(prefix="codebudget-attack-refs-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def judge(secret_env: None, refs_dir: Path) -> Iterator[Judge]:
    """Tight limits, so that timeouts are quick."""
    with Judge(workers=4, cache=ReferenceCache(refs_dir),
               policy=TimePolicy(floor_s=0.5, wall_extra_s=2.0)) as j:
        yield j


@pytest.fixture(scope="module")
def roomy(secret_env: None, refs_dir: Path) -> Iterator[Judge]:
    """Generous limits, for attacks that legitimately spend CPU before failing."""
    with Judge(workers=4, cache=ReferenceCache(refs_dir),
               policy=TimePolicy(floor_s=10.0, wall_extra_s=5.0)) as j:
        yield j


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A world-writable dir with a world-writable marker (root-owned when run as root):
    file permissions would let 'nobody' change both, so only the sandbox protects them."""
    path = Path(tempfile.mkdtemp(prefix="codebudget-attack-open-"))
    path.chmod(0o777)
    marker = path / "marker"
    marker.write_text("original\n")
    marker.chmod(0o666)
    os.utime(marker, (1_000_000_000, 1_000_000_000))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def victim() -> Iterator[int]:
    """A process outside the sandbox with the candidates' uid ('nobody' when run as root,
    else our own): file and process permissions would let a candidate signal or reschedule
    it, so only the sandbox protects it."""
    as_nobody = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
    proc = subprocess.Popen(["sleep", "4250"], **as_nobody)  # type: ignore[call-overload]
    yield proc.pid
    proc.kill()
    proc.wait()


def process_state(pid: int) -> tuple[object, ...]:
    """Alive, nice, scheduling policy, CPU affinity and I/O priority of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpus = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Cpus_allowed")]
    ioprio_get = {"x86_64": 252, "aarch64": 31}.get(os.uname().machine)
    ioprio = ctypes.CDLL(None).syscall(ioprio_get, 1, pid) if ioprio_get else None
    return fields[0] != "Z", fields[16], fields[38], cpus, ioprio


# Attempts on another process of the same uid (`victim`), for probe() programs.
SCHEDULE_ATTEMPTS = {
    "kill it": "os.kill({pid}, signal.SIGKILL)",
    "renice it": "os.setpriority(os.PRIO_PROCESS, {pid}, 19)",
    "renice the whole uid": "os.setpriority(os.PRIO_USER, 0, 19)",
    "renice the whole group": "os.setpriority(os.PRIO_PGRP, os.getpgid({pid}), 19)",
    "pin it to one CPU": "os.sched_setaffinity({pid}, {{0}})",
    "make it idle": "os.sched_setscheduler({pid}, os.SCHED_IDLE, os.sched_param(0))",
    "idle I/O for it": "check(libc.syscall(IOPRIO_SET, 1, {pid}, 3 << 13))",
    "idle I/O for the uid": "check(libc.syscall(IOPRIO_SET, 3, 0, 3 << 13))",
}
IOPRIO = "import signal\nIOPRIO_SET = {'x86_64': 251, 'aarch64': 30}.get(os.uname().machine)\n"


def schedule_attempts(pid: int) -> dict[str, str]:
    return {name: expr.format(pid=pid) for name, expr in SCHEDULE_ATTEMPTS.items()}


def snapshot(path: Path) -> tuple[object, ...]:
    st = path.stat()
    return path.read_bytes(), st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, sorted(os.listdir(path.parent))


def statuses(verdicts: list[Verdict]) -> list[Status]:
    return [v.status for v in verdicts]


def expect(judge: Judge, cases: list[tuple[str, Task, str, Status]]) -> list[Verdict]:
    """Judge every case in one call; each must get exactly its expected status."""
    verdicts = judge.judge([(task, program) for _, task, program, _ in cases])
    wrong = [f"{name}: expected {want.value}, got {v.status.value} ({v.error_type}: {v.detail})"
             for (name, _, _, want), v in zip(cases, verdicts) if v.status is not want]
    assert not wrong, "\n".join(wrong)
    assert_healthy(judge)
    return verdicts


def attack_processes(judge: Judge) -> list[str]:
    """Processes left by candidates: the zygote's children (all reaped once judge() has
    returned), forks of a candidate (they keep the zygote's command line, which names this
    sandbox's scratch dir), and anything an attack tried to exec (marked 'sleep 424x')."""
    zygote = judge.sandbox._proc.pid
    scratch = judge.sandbox._scratch
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == zygote:
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == zygote or scratch in cmd or "sleep 424" in cmd:
            found.append(f"pid {entry} (ppid {ppid}): {cmd[:100]}")
    return found


def assert_healthy(judge: Judge) -> None:
    """The zygote is alive, nothing a candidate started survives, and a correct program
    still passes."""
    assert judge.sandbox._proc.poll() is None, "the zygote died"
    assert attack_processes(judge) == []
    assert judge.judge([(ADD, CORRECT + "# health check\n")])[0].status is PASS


# ============================================================================ forged passes


def test_exits_and_stdout_do_not_forge_a_pass(judge: Judge) -> None:
    reply_like = json.dumps(["ret", 3])
    expect(judge, [
        ("sys.exit at load", ADD, add("return a + b\n", "import sys\nsys.exit(0)\n"), FAIL),
        ("os._exit at load", ADD, add("return a + b\n", "import os\nos._exit(0)\n"), CRASH),
        ("raise SystemExit at load", ADD, add("return a + b\n", "raise SystemExit(0)\n"), FAIL),
        ("sys.exit in function", ADD, add("import sys\nsys.exit(0)\n"), FAIL),
        ("os._exit in function", ADD, add("import os\nos._exit(0)\n"), CRASH),
        ("raise SystemExit in function", ADD, add("raise SystemExit(0)\n"), FAIL),
        ("KeyboardInterrupt in function", ADD, add("raise KeyboardInterrupt\n"), FAIL),
        ("print PASS", ADD, add(f"print('PASS'); print('passed'); print({reply_like!r})\n"
                                "print('{\"status\": \"passed\", \"passed\": true}')\n"), FAIL),
        ("write to fds 1..1000 but 3", ADD, add("""
            import os
            for fd in range(1, 1001):
                if fd != 3:
                    try:
                        os.write(fd, b'PASS\\n["ret", 3]\\n')
                    except OSError:
                        pass
            """), FAIL),
    ])


def test_fake_frames_on_its_own_socket(judge: Judge) -> None:
    frame = """
        import json, os, struct
        def frame(msg):
            data = json.dumps(msg).encode()
            os.write(3, struct.pack('>I', len(data)) + data)
        """
    expect(judge, [
        # a fake load reply: the real one then arrives as the answer to the first call
        ("fake ok at load", ADD, add("return a + b\n", frame + "frame(['ok'])\n"), CRASH),
        # the right first answer, then nothing: answers are values, never a verdict
        ("fake ret then exit", ADD, add("frame(['ret', 3]); os._exit(0)\n", frame), CRASH),
        ("fake ret True", ADD, add("frame(['ret', True])\nreturn True\n", frame), FAIL),
        # "setup-failed" would stop the whole run if the judge believed it: only the
        # zygote's first frame may say so
        ("fake setup-failed", ADD, add("return a + b\n", frame + "frame(['setup-failed', 'x'])\n"), CRASH),
        ("fake setup-failed in call", ADD, add("frame(['setup-failed', 'x'])\nreturn a + b\n", frame), CRASH),
        ("fake ready", ADD, add("return a + b\n", frame + "frame(['ready'])\n"), CRASH),
        ("huge length", ADD, add("return a + b\n", "import os\nos.write(3, b'\\xff\\xff\\xff\\xff')\n"), CRASH),
        ("garbage body", ADD, add("return a + b\n", "import os\nos.write(3, b'\\x00\\x00\\x00\\x05{{{{{')\n"), CRASH),
        ("json bomb", ADD, add("return a + b\n",
                               "import os, struct\nos.write(3, struct.pack('>I', 200000) + b'[' * 200000)\n"), CRASH),
        ("close own socket", ADD, add("return a + b\n", "import os\nos.close(3)\n"), CRASH),
    ])


def test_patching_its_own_harness(judge: Judge) -> None:
    cases = [
        ("candidate._call always 3", ADD,
         add("return 0\n", "from codebudget.sandbox import candidate\n"
                           "candidate._call = lambda ns, name, args: ['ret', 3]\n"), FAIL),
        ("codec.encode/candidate.encode forged", ADD,
         add("return 0\n", "from codebudget.sandbox import candidate, codec\n"
                           "codec.encode = candidate.encode = lambda v: ['X', 'int', '3']\n"), FAIL),
        ("wire.send_bytes says ok", ADD,
         add("return a + b\n", "from codebudget.sandbox import wire\n"
                               "wire.send_bytes = lambda sock, data: sock.sendall(b'\\x00\\x00\\x00\\x06[\"ok\"]')\n"), CRASH),
        ("reply 'pass'", ADD,
         add("return 0\n", "from codebudget.sandbox import candidate\n"
                           "candidate._reply = lambda sock, reply: candidate.wire.send(sock, ['pass'])\n"), CRASH),
        ("an exception type that is not one", ADD,
         add("return 0\n", "from codebudget.sandbox import candidate\n"
                           "candidate._call = lambda ns, name, args: ['exc', 'SystemExit', '0']\n"), FAIL),
        ("builtins patched", ADD, add("return 0\n", """
            import builtins
            builtins.AssertionError = type('AssertionError', (Exception,), {})
            builtins.print = lambda *a, **k: None
            __builtins__.__dict__['len'] = lambda x: 0
            """), FAIL),
        # breaks its own harness's encoder: it can only lose its answers
        ("isinstance patched", ADD, add("return 0\n", "import builtins\nbuiltins.isinstance = lambda *a: True\n"), CRASH),
        ("settrace and setprofile", ADD, add("return 0\n", """
            import sys, threading
            tracer = lambda *a: tracer
            sys.settrace(tracer); sys.setprofile(tracer); threading.settrace(tracer)
            """), FAIL),
    ]
    expect(judge, cases)


def test_memory_and_frames_hold_no_tests(roomy: Judge) -> None:
    # The candidate's process is a fork of a zygote that never saw a test: walking frames
    # and the garbage collector finds no test code, no expected value, no judge secret.
    leak_probe = textwrap.dedent("""
        import gc, os, sys
        NEEDLES = ('ass' + 'ert r ==', 'chec' + 'k(candidate', 'cb-attack-' + 'secret', 'Poi' + 'nt(1, 2)')
        def probe():
            found = []
            def look(x, where):
                if type(x) is str and not any(x is n for n in NEEDLES) and any(n in x for n in NEEDLES):
                    found.append(where + ': ' + x[:50])
            frame = sys._getframe()
            while frame is not None:
                for scope in (frame.f_locals, frame.f_globals):
                    for k, v in list(scope.items()):
                        look(k, 'frame'); look(v, 'frame')
                for c in frame.f_code.co_consts:
                    look(c, 'const')
                frame = frame.f_back
            for obj in gc.get_objects():
                if isinstance(obj, dict):
                    items = list(obj.keys()) + list(obj.values())
                elif isinstance(obj, (list, tuple)):
                    items = obj
                else:
                    continue
                for x in items:
                    look(x, type(obj).__name__)
            for k, v in os.environ.items():
                look(k + '=' + v, 'environ')
                if 'SECRET' in k or 'KEY' in k or 'TOKEN' in k:
                    found.append('environ: ' + k)
            if os.listdir('.'):
                found.append('scratch not empty: ' + repr(os.listdir('.')))
            return 'denied' if not found else found[:5]
        """)
    steal = add("""
        import gc, sys
        for obj in gc.get_objects():
            if isinstance(obj, dict) and 'check' in obj:
                return obj['check']
        f = sys._getframe()
        while f.f_back is not None:
            f = f.f_back
        return f.f_locals.get('expected', 0)
        """)
    expect(roomy, [("leak probe", PROBE, leak_probe, PASS), ("steal expected", ADD, steal, FAIL)])


def test_return_values_that_lie(roomy: Judge) -> None:
    always = "class Yes:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
    expect(roomy, [
        ("__eq__ always True", ADD, add("return Yes()\n", always), FAIL),
        ("int subclass __eq__", ADD, add("return I(0)\n", "class I(int):\n    def __eq__(s, o): return True\n"
                                                          "    __hash__ = int.__hash__\n"), FAIL),
        ("str subclass __eq__", ADD, add("return S('x')\n", "class S(str):\n    def __eq__(s, o): return True\n"
                                                            "    __hash__ = str.__hash__\n"), FAIL),
        ("list subclass __eq__", ADD, add("return L()\n", "class L(list):\n    def __eq__(s, o): return True\n"), FAIL),
        ("__class__ spoofed as int", ADD,
         add("return Fake()\n", "class Fake:\n    __class__ = property(lambda s: int)\n"
                                "    def __eq__(s, o): return True\n"), FAIL),
        ("mock.ANY", ADD, add("from unittest import mock\nreturn mock.ANY\n"), FAIL),
        ("NotImplemented", ADD, add("return NotImplemented\n"), FAIL),
        ("NaN", ADD, add("return float('nan')\n"), FAIL),
        ("huge string", ADD, add("return 'x' * (100 << 20)\n"), FAIL),
        ("deeply nested", ADD, add("x = []\nfor _ in range(100000):\n    x = [x]\nreturn x\n"), FAIL),
        ("endless generator", ADD, add("import itertools\nreturn itertools.count()\n"), FAIL),
        ("generator of big items", ADD, add("return ('x' * 100 for _ in iter(int, 1))\n"), FAIL),
        # the trusted class is rebuilt with the candidate's attributes: its own __eq__ decides
        ("class named like the trusted one", POINT,
         POINT_PROMPT.replace("@dataclass\n", "@dataclass(eq=False)\n")
         + "    return Point(99, 99)\n\nPoint.__eq__ = lambda s, o: True\n", FAIL),
        ("trusted class, correct", POINT, POINT_PROMPT + "    return Point((a.x + b.x) // 2, (a.y + b.y) // 2)\n", PASS),
    ])


def test_values_that_would_stall_the_trusted_side(roomy: Judge) -> None:
    # The tests run in the judge's process on the values the candidate sends back, with no
    # time limit there: values crafted to make set(), sorted() or decoding never end are
    # refused when they are rebuilt.
    forge = "from codebudget.sandbox import candidate\ncandidate._call = lambda ns, name, args: ['ret', {}]\n"
    verdicts = expect(roomy, [
        # ints that differ by multiples of 2**61 - 1 share a hash: set() of them is quadratic
        ("colliding ints", UNIQ, "def uniq(xs):\n    return [i * (2**61 - 1) for i in range(1, 30001)]\n", FAIL),
        ("colliding tuples", UNIQ, "def uniq(xs):\n    return [(i * (2**61 - 1), 0) for i in range(1, 30001)]\n", FAIL),
        ("colliding set", UNIQ, "def uniq(xs):\n    return {i * (2**61 - 1) for i in range(1, 2001)}\n", FAIL),
        ("colliding floats", UNIQ, "def uniq(xs):\n    return [2.0 ** (61 * i) for i in range(17)] * 2\n", FAIL),
        ("endless range", UNIQ, "def uniq(xs):\n    return range(10**15)\n", FAIL),
        ("Fraction with a huge exponent", UNIQ, forge.format("['K', 'Fraction', '1e999999999']"), FAIL),
        ("colliding set_eq outputs", IO_UNIQ, "def uniq(xs):\n    return [i * (2**61 - 1) for i in range(1, 30001)]\n", FAIL),
    ])
    for v in verdicts:
        assert "InvalidOutput" in v.detail or v.error_type == "InvalidOutput", v.detail


def test_stop_iteration_does_not_end_the_checks(judge: Judge) -> None:
    # Raised from a call inside map(), StopIteration would end the iteration: all() -> True.
    expect(judge, [
        ("StopIteration", UNIQ, "def uniq(xs):\n    if len(xs) == 2:\n        raise StopIteration\n"
                                "    return sorted(set(xs))\n", FAIL),
        ("correct", UNIQ, "def uniq(xs):\n    return sorted(set(xs))\n", PASS),
    ])


def test_io_tests_attacks(roomy: Judge) -> None:
    expect(roomy, [
        ("correct", IO_ADD, CORRECT, PASS),
        ("__eq__ always True", IO_ADD, add("return Yes()\n", "class Yes:\n    def __eq__(s, o): return True\n"), FAIL),
        ("NaN", IO_ADD, add("return float('nan')\n"), FAIL),
        ("endless generator", IO_ADD, add("import itertools\nreturn itertools.count()\n"), FAIL),
        ("deeply nested", IO_ADD, add("x = []\nfor _ in range(100000):\n    x = [x]\nreturn x\n"), FAIL),
        ("forged digests", IO_ADD, add("return 0\n", """
            from codebudget.sandbox import candidate
            def fake(sock, ns, name, arg_lists):
                for _ in arg_lists:
                    candidate._reply(sock, ['digest', '0' * 64])
                candidate._reply(sock, ['done'])
            candidate._calls = fake
            """), FAIL),
        ("early done", IO_ADD, add("return 0\n", """
            from codebudget.sandbox import candidate
            candidate._calls = lambda sock, ns, name, arg_lists: candidate._reply(sock, ['done'])
            """), CRASH),
        ("sys.exit", IO_ADD, add("raise SystemExit(0)\n"), FAIL),
        ("os._exit", IO_ADD, add("import os\nos._exit(0)\n"), CRASH),
    ])


# ============================================================================ no harm


def test_cannot_kill_or_reschedule_anyone(judge: Judge, victim: int) -> None:
    before = process_state(victim)
    attempts = {
        "kill zygote": "os.kill(os.getppid(), signal.SIGKILL)",
        "kill -1": "os.kill(-1, signal.SIGKILL)",
        "killpg zygote": "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
        "kill init": "os.kill(1, signal.SIGKILL)",
        "signal the judge": f"os.kill({os.getpid()}, 0)",
        "pidfd_open": "os.pidfd_open(os.getppid())",
        **schedule_attempts(victim),
    }
    expect(judge, [
        ("kill probe", PROBE, probe(attempts, LIBC + IOPRIO), PASS),
        ("kill the zygote", ADD, add("return a + b\n", "import os\nos.kill(os.getppid(), 9)\n"), FAIL),
        ("kill everything", ADD, add("return a + b\n", "import os\nos.kill(-1, 9)\n"), FAIL),
        ("kill its own group", ADD, add("return a + b\n", "import os\nos.kill(0, 9)\n"), CRASH),
        ("renice itself", ADD, add("return a + b\n", "import os\nos.setpriority(os.PRIO_PROCESS, 0, 5)\n"
                                                      "os.sched_setaffinity(0, {0})\n"), PASS),
    ])
    assert process_state(victim) == before


def test_cannot_make_processes(judge: Judge) -> None:
    prelude = LIBC + textwrap.dedent("""
        import multiprocessing, pty, subprocess, time
        def child_sleeps(pid):
            if pid == 0:  # only reached if the sandbox failed: be found by the test
                time.sleep(4242)
                os._exit(0)
            return pid
        def system(cmd):
            rc = os.system(cmd)
            if rc != 0:  # os.system reports a failed fork as a status, not an exception
                raise PermissionError(rc)
            return rc
        def clone():
            nr = {'x86_64': 56, 'aarch64': 220}.get(os.uname().machine)
            return child_sleeps(check(libc.syscall(nr, 17, 0, 0, 0, 0)))  # SIGCHLD: a process
        def double_fork():
            os.setsid()
        """)
    attempts = {
        "fork": "child_sleeps(os.fork())",
        "pty.fork": "child_sleeps(pty.fork()[0])",
        "subprocess": "subprocess.Popen(['sleep', '4242'])",
        "os.system": "system('sleep 4243 &')",
        "posix_spawn": "os.posix_spawn('/bin/sleep', ['sleep', '4244'], os.environ)",
        "multiprocessing fork": "multiprocessing.get_context('fork').Process(target=time.sleep, args=(4245,)).start()",
        "multiprocessing spawn": "multiprocessing.get_context('spawn').Process(target=time.sleep, args=(4246,)).start()",
        "raw clone": "clone()",
        "setsid": "double_fork()",
    }
    expect(judge, [
        ("spawn probe", PROBE, probe(attempts, prelude, denials="OSError"), PASS),
        ("fork bomb", ADD, add("return a + b\n", "import os\nwhile True:\n    os.fork()\n"), FAIL),
        ("subprocess bomb", ADD, add("return a + b\n", "import subprocess\nwhile True:\n"
                                                        "    subprocess.Popen(['sleep', '4247'])\n"), FAIL),
        ("multiprocessing bomb", ADD, add("import multiprocessing, time\nfor _ in range(100):\n"
                                          "    multiprocessing.Process(target=time.sleep, args=(4248,)).start()\n"), FAIL),
        ("thread bomb", ADD, add("import threading, time\nwhile True:\n"
                                 "    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"), FAIL),
    ])
    assert attack_processes(judge) == []


def test_memory_bombs_are_contained(judge: Judge) -> None:
    expect(judge, [
        ("8 GiB at load", ADD, add("return a + b\n", "x = bytearray(8 << 30)\n"), MEMORY),
        ("8 GiB in call", ADD, add("return len(bytearray(8 << 30))\n"), MEMORY),
        ("grow until refused", ADD, add("chunks = []\nwhile True:\n    chunks.append(bytes(256 << 20))\n"), MEMORY),
        ("huge list", ADD, add("return [0] * (1 << 40)\n"), MEMORY),
        ("correct", ADD, CORRECT, PASS),
    ])


def test_disk_fill_is_contained(judge: Judge) -> None:
    fill = Path("/tmp/codebudget-attack-fill")
    before = shutil.disk_usage("/tmp").used
    prelude = """
        import os
        def fill(path, total):
            written = 0
            with open(path, 'wb') as f:
                while written < total:
                    f.write(bytes(1 << 20))
                    written += 1 << 20
            return written
        def many_files(total):
            written = 0
            for i in range(total >> 24):
                fill(f'f{i}', 15 << 20)
                written += 15 << 20
            return written
        """
    attempts = {
        "1 GiB in cwd": "fill('big', 1 << 30)",
        "1 GiB in /tmp": f"fill({str(fill)!r}, 1 << 30)",
        "1 GiB in many files": "many_files(1 << 30)",
        "inode exhaustion": "[os.mkdir(f'd{i}') for i in range(200_000)]",
    }
    expect(judge, [
        ("fill probe", PROBE, probe(attempts, prelude, denials="OSError"), PASS),
        ("fill cwd", ADD, add("open('big', 'wb').write(bytes(1 << 30))\nreturn a + b\n"), FAIL),
        ("fill /tmp", ADD, add(f"open({str(fill)!r}, 'wb').write(bytes(1 << 30))\nreturn a + b\n"), FAIL),
    ])
    assert not fill.exists()
    assert shutil.disk_usage("/tmp").used - before < 512 << 20


def test_cannot_touch_files_outside_scratch(judge: Judge, open_dir: Path) -> None:
    marker = open_dir / "marker"
    before = snapshot(marker)
    m, d = str(marker), str(open_dir)
    prelude = f"""
        import os, shutil
        os.symlink({d!r}, 'escape')  # allowed in its own scratch: it must lead nowhere
        """
    attempts = {
        "remove": f"os.remove({m!r})",
        "overwrite": f"open({m!r}, 'w')",
        "append": f"open({m!r}, 'a')",
        "truncate": f"os.truncate({m!r}, 0)",
        "rename": f"os.rename({m!r}, {m + '.moved'!r})",
        "chmod": f"os.chmod({m!r}, 0o777)",
        "chown": f"os.chown({m!r}, 65534, 65534)",
        "touch": f"os.utime({m!r})",
        "backdate": f"os.utime({m!r}, (0, 0))",
        "new file beside it": f"open({d + '/new'!r}, 'w')",
        "mkdir beside it": f"os.mkdir({d + '/newdir'!r})",
        "symlink beside it": f"os.symlink('/etc/passwd', {d + '/link'!r})",
        "write through a symlink": "open('escape/new', 'w')",
        "remove through a symlink": "os.remove('escape/marker')",
        "hard link into scratch": f"os.link({m!r}, 'hard')",
        "rmtree": f"shutil.rmtree({d!r})",
        "chmod /tmp": "os.chmod('/tmp', 0o700)",
    }
    expect(judge, [("write probe", PROBE, probe(attempts, prelude, denials="PermissionError, OSError"), PASS)])
    assert snapshot(marker) == before


def test_cannot_read_what_it_should_not(judge: Judge, refs_dir: Path, open_dir: Path) -> None:
    judge.judge([(ADD, CORRECT)])  # the reference cache now holds a file
    cache_files = sorted(refs_dir.iterdir())
    assert cache_files and all(f.stat().st_mode & stat.S_IROTH for f in cache_files)
    targets = {
        "home": os.path.expanduser("~/.bashrc"),
        "/etc/shadow": "/etc/shadow",
        "/etc/passwd": "/etc/passwd",
        "benchmark data": "/work/shared/data/PROVENANCE.md",
        "reference cache": str(cache_files[0]),
        "this test file": __file__,
        "open dir marker": str(open_dir / "marker"),
        "judge's environ": f"/proc/{os.getpid()}/environ",
        "judge's memory": f"/proc/{os.getpid()}/mem",
        "zygote's cmdline": f"/proc/{judge.sandbox._proc.pid}/cmdline",
        "own environ": "/proc/self/environ",
    }
    attempts = {name: f"open({path!r}, 'rb').read(100)" for name, path in targets.items() if os.path.exists(path)}
    attempts.update({
        "list /": "os.listdir('/')",
        "list /tmp": "os.listdir('/tmp')",
        "list other scratch dirs": "os.listdir('..')",
        "list the cache": f"os.listdir({str(refs_dir)!r})",
        "list /dev/shm": "os.listdir('/dev/shm')",
    })
    expect(judge, [("read probe", PROBE, probe(attempts, "import os\n"), PASS)])


def test_cannot_read_another_candidates_scratch(judge: Judge) -> None:
    writer = add("return a + b\n", "open('loot', 'w').write('secret loot')\nimport time\ntime.sleep(60)\n")
    reader = textwrap.dedent("""
        import os, time
        def probe():
            me = int(os.path.basename(os.getcwd())[3:])  # scratch dirs are .../job<N>
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                denied = False
                for n in range(max(1, me - 100), me + 100):
                    try:
                        with open(f'../job{n}/loot') as f:
                            return f'read job{n}: ' + f.read()
                    except PermissionError:
                        denied = True  # it exists, and is out of reach
                    except FileNotFoundError:
                        pass
                if denied:
                    return 'denied'
                time.sleep(0.01)
            return 'never saw the other candidate'
        """)
    expect(judge, [("writer", ADD, writer, TIMEOUT), ("reader", PROBE, reader, PASS)])


def test_no_network(judge: Judge) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        attempts = {
            "tcp connect": f"socket.create_connection(('127.0.0.1', {port}), timeout=1)",
            "udp send": "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))",
            "bind a port": "socket.socket().bind(('0.0.0.0', 8765))",
            "unix socket": "socket.socket(socket.AF_UNIX)",
            "socketpair": "socket.socketpair()",
            "dns": "socket.getaddrinfo('example.com', 80)",
            "raw socket via ctypes": "check(libc.socket(2, 1, 0))",
        }
        expect(judge, [
            ("network probe", PROBE, probe(attempts, LIBC + "import socket\n", denials="OSError"), PASS),
            ("connect", ADD, add(f"import socket\nsocket.create_connection(('127.0.0.1', {port}))\nreturn a + b\n"), FAIL),
        ])
        assert select.select([listener], [], [], 0)[0] == [], "a candidate reached the host's network"
    finally:
        listener.close()


def test_cannot_trace_limit_or_set_the_clock(judge: Judge) -> None:
    prelude = LIBC + textwrap.dedent("""
        import resource, time
        PTRACE_ATTACH, PTRACE_TRACEME = 16, 0
        class iovec(ctypes.Structure):
            _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
        def vm_read():
            buf = ctypes.create_string_buffer(16)
            local = iovec(ctypes.cast(buf, ctypes.c_void_p), 16)
            remote = iovec(0x400000, 16)
            return check(libc.process_vm_readv(os.getppid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
        class timeval(ctypes.Structure):
            _fields_ = [('sec', ctypes.c_long), ('usec', ctypes.c_long)]
        """)
    attempts = {
        "ptrace attach": "check(libc.ptrace(PTRACE_ATTACH, os.getppid(), 0, 0))",
        "ptrace traceme": "check(libc.ptrace(PTRACE_TRACEME, 0, 0, 0))",
        "process_vm_readv": "vm_read()",
        "raise RLIMIT_AS": "resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)",
        "raise RLIMIT_CPU": "resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)",
        "lower RLIMIT_NOFILE": "resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))",
        "prlimit": "resource.prlimit(0, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)",
        "clock_settime": "time.clock_settime(time.CLOCK_REALTIME, time.time() + 3600)",
        "settimeofday": "check(libc.settimeofday(ctypes.byref(timeval(0, 0)), None))",
        "sethostname": "check(libc.sethostname(b'pwned', 5))",
        "unshare": "check(libc.unshare(0x10000000))",  # CLONE_NEWUSER
        "mount": "check(libc.mount(b'none', b'.', b'tmpfs', 0, None))",
    }
    limits = {r: resource_limit(r) for r in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE")}
    expect(judge, [("privilege probe", PROBE, probe(attempts, prelude, denials="ValueError, OSError"), PASS)])
    assert limits == {r: resource_limit(r) for r in limits}  # ours, untouched


def resource_limit(name: str) -> tuple[int, int]:
    import resource
    return resource.getrlimit(getattr(resource, name))


def test_time_limits_hold(judge: Judge) -> None:
    swallow = """
        import signal
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU, signal.SIGHUP, signal.SIGVTALRM):
            signal.signal(s, signal.SIG_IGN)
        signal.alarm(0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.pthread_sigmask(signal.SIG_BLOCK, range(1, signal.NSIG))
        """
    expect(judge, [
        ("sleep(1000)", ADD, add("import time\ntime.sleep(1000)\n"), TIMEOUT),
        ("sleep at load", ADD, add("return a + b\n", "import time\ntime.sleep(1000)\n"), TIMEOUT),
        ("busy loop", ADD, add("while True:\n    pass\n"), TIMEOUT),
        ("busy loop at load", ADD, add("return a + b\n", "while True:\n    pass\n"), TIMEOUT),
        ("swallow signals, disable timers", ADD, add("""
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
            """, swallow), TIMEOUT),
        ("stop itself", ADD, add("import os, signal\nos.kill(0, signal.SIGSTOP)\nreturn a + b\n"), TIMEOUT),
        ("busy threads", ADD, add("import threading\nfor _ in range(8):\n"
                                  "    threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()\n"
                                  "import time\ntime.sleep(1000)\n"), TIMEOUT),
    ])


def test_crashes(judge: Judge) -> None:
    expect(judge, [
        ("recursion", ADD, add("return add(a, b)\n"), FAIL),
        ("C recursion with the limit raised", ADD, add(
            "import sys\nsys.setrecursionlimit(10**8)\nx = []\nfor _ in range(300_000):\n    x = [x]\nreturn repr(x)\n"), CRASH),
        ("SIGSEGV via ctypes", ADD, add("import ctypes\nreturn ctypes.string_at(0)\n"), CRASH),
        ("abort", ADD, add("import os\nos.abort()\n"), CRASH),
        ("syntax bomb", ADD, "x = " + "(" * 100_000 + "\n", SYNTAX),
        ("correct", ADD, CORRECT, PASS),
    ])


# ============================================================================ the run itself


MIX = [
    ("correct", ADD, CORRECT, PASS),
    ("exit at load", ADD, add("return a + b\n", "import os\nos._exit(3)\n"), CRASH),
    ("busy", ADD, add("while True:\n    pass\n"), TIMEOUT),
    ("segfault", ADD, add("import ctypes\nctypes.string_at(0)\n"), CRASH),
    ("memory", ADD, add("return bytearray(8 << 30)\n"), MEMORY),
    ("wrong", ADD, add("return a - b\n"), FAIL),
    ("fork bomb", ADD, add("import os\nwhile True:\n    os.fork()\n"), FAIL),
    ("kill the zygote", ADD, add("import os\nos.kill(os.getppid(), 9)\n"), FAIL),
    ("correct again", ADD, PROMPT + "    return b + a\n", PASS),
    ("fake setup-failed", ADD, add("return a + b\n", "import os\nos.write(3, b'\\x00\\x00\\x00\\x12[\"setup-failed\",1]')\n"), CRASH),
    ("correct io", IO_ADD, CORRECT, PASS),
    ("probe", PROBE, "def probe():\n    return 'denied'\n", PASS),
]


def test_no_lost_run(judge: Judge) -> None:
    hang = ("sleep", ADD, add("import time\ntime.sleep(1000)\n"), TIMEOUT)
    verdicts = expect(judge, [*MIX, hang, *MIX[:3]])  # duplicates are judged once, reported twice
    assert len(verdicts) == len(MIX) + 4
    assert verdicts[-3:] == verdicts[:3]


def test_deterministic(judge: Judge) -> None:
    items = [(task, program) for _, task, program, _ in MIX]
    first = statuses(judge.judge(items))
    second = statuses(judge.judge(list(reversed(items))))
    assert first == list(reversed(second)) == [want for *_, want in MIX]


def test_killed_judge_leaves_no_candidate(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, tempfile, pathlib
        sys.path[:0] = {sys.path!r}
        from codebudget.benchmarks.task import Task, ScriptTests
        from codebudget.sandbox.judge import Judge
        from codebudget.sandbox.references import ReferenceCache
        task = Task('attack', 'attack/add', '', 'add', 'def add(a, b):\\n    return a + b\\n',
                    ScriptTests('assert add(1, 2) == 3\\n', ('add',)))
        with Judge(workers=1, cache=ReferenceCache(pathlib.Path({str(tmp_path)!r}))) as judge:
            print(judge.sandbox._scratch, judge.sandbox._proc.pid, flush=True)
            judge.judge([(task, 'import time\\ntime.sleep(4249)\\ndef add(a, b):\\n    return a + b\\n')])
        """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    scratch, zygote = "", 0
    try:
        assert proc.stdout is not None
        scratch, zygote_text = proc.stdout.readline().split()
        zygote = int(zygote_text)

        def candidates() -> list[int]:
            found = []
            for entry in os.listdir("/proc"):
                try:
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if entry.isdigit() and int(entry) != zygote and scratch.encode() in cmd:
                    found.append(int(entry))
            return found

        for _ in range(200):  # wait for the sleeping candidate to exist
            if candidates():
                break
            time.sleep(0.05)
        assert candidates(), "the candidate never started"
        proc.kill()
        proc.wait()
        for _ in range(200):  # the zygote sees its control socket close and kills its jobs
            if not candidates() and not Path(f"/proc/{zygote}").exists():
                break
            time.sleep(0.05)
        assert candidates() == []
        assert not Path(f"/proc/{zygote}").exists() or b"zombie" in Path(f"/proc/{zygote}/status").read_bytes()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)  # the dead judge could not remove it


# ============================================================================ without root

UNPRIVILEGED_SCRIPT = r"""
import json, os, sys, pathlib
from codebudget.benchmarks.task import Task, ScriptTests
from codebudget.sandbox.judge import Judge, TimePolicy
from codebudget.sandbox.references import ReferenceCache

ADD = Task("attack", "attack/add", "", "add", "def add(a, b):\n    return a + b\n",
           ScriptTests("assert add(1, 2) == 3\nassert add(-1, 1) == 0\n", ("add",)))
PROBE = Task("attack", "attack/probe", "", "probe", "def probe():\n    return 'denied'\n",
             ScriptTests("r = probe()\nassert r == 'denied', r\n", ("probe",)))
tasks = {"ADD": ADD, "PROBE": PROBE}
programs = json.loads(sys.argv[2])
with Judge(workers=2, cache=ReferenceCache(pathlib.Path(sys.argv[1])),
           policy=TimePolicy(floor_s=2.0, wall_extra_s=3.0)) as judge:
    verdicts = judge.judge([(tasks[t], p) for t, p in programs])
    print(json.dumps({"uid": os.getuid(), "layers": judge.layers, "missing": judge.missing_layers,
                      "verdicts": [[v.status.value, v.detail] for v in verdicts]}))
"""

SETXATTRAT = """
class xattr_args(ctypes.Structure):
    _fields_ = [('value', ctypes.c_uint64), ('size', ctypes.c_uint32), ('flags', ctypes.c_uint32)]
def setxattrat(path):
    value = ctypes.create_string_buffer(b'x')
    args = xattr_args(ctypes.addressof(value), 1, 0)
    try:  # syscall 463 (Linux 6.13+): libseccomp before 2.6 cannot name it
        return check(libc.syscall(463, -100, path.encode(), 0, b'user.cb', ctypes.byref(args), 16))
    except OSError as exc:
        if exc.errno == 38:  # ENOSYS: an older kernel has nothing to deny
            raise PermissionError(exc.errno, 'no such syscall') from None
        raise
"""


def test_unprivileged_user_keeps_landlock_and_seccomp(victim: int) -> None:
    """As a user (no root to drop): same uid as the judge, so file permissions protect
    nothing; Landlock and seccomp alone must keep the user's files, processes and network
    out of reach."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the unprivileged user 'nobody' "
                    "(when this suite runs as a user, every other test already covers it)")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    check = subprocess.run([*nobody, sys.executable, "-c", "import codebudget.sandbox.judge, numpy"],
                           capture_output=True, text=True, cwd="/")
    if check.returncode != 0:
        pytest.skip(f"the venv or checkout is not readable by 'nobody': {check.stderr.strip()[-300:]}")
    work = Path(tempfile.mkdtemp(prefix="codebudget-attack-user-"))
    try:
        outside = work / "outside"
        outside.mkdir()
        marker, private = outside / "marker", outside / "private"
        marker.write_text("original\n")
        private.write_text("private data\n")
        private.chmod(0o600)
        os.utime(marker, (1_000_000_000, 1_000_000_000))
        for path in (work, outside, marker, private):
            os.chown(path, 65534, 65534)
        before, xattrs_before, victim_before = snapshot(marker), os.listxattr(marker), process_state(victim)
        m, test_pid = str(marker), os.getpid()
        metadata_probe = probe({
            "chmod": f"os.chmod({m!r}, 0o777)",
            "touch": f"os.utime({m!r})",
            "backdate": f"os.utime({m!r}, (0, 0))",
            "setxattr": f"os.setxattr({m!r}, 'user.cb', b'x')",
            "setxattrat": f"setxattrat({m!r})",
            "chown": f"os.chown({m!r}, os.getuid(), os.getgid())",
            "overwrite": f"open({m!r}, 'w')",
            "remove": f"os.remove({m!r})",
            "rename": f"os.rename({m!r}, {m + '.moved'!r})",
            "truncate": f"os.truncate({m!r}, 0)",
            "read a private file": f"open({str(private)!r}).read()",
            "kill the zygote": "os.kill(os.getppid(), 9)",
            "signal the test": f"os.kill({test_pid}, 0)",
            "fork": "os.fork()",
            "network": "socket.socket()",
            **schedule_attempts(victim),
        }, LIBC + SETXATTRAT + IOPRIO + "import socket\n")
        programs = [
            ["ADD", "def add(a, b):\n    return a + b\n"],
            ["PROBE", metadata_probe],
            ["ADD", f"import os\nos.chmod({m!r}, 0o777)\ndef add(a, b):\n    return a + b\n"],
            ["ADD", f"def add(a, b):\n    return open({str(private)!r}).read()\n"],
        ]
        run = subprocess.run([*nobody, sys.executable, "-c", UNPRIVILEGED_SCRIPT, str(work / "refs"),
                              json.dumps(programs)], capture_output=True, text=True, cwd=work, timeout=120,
                             env={**os.environ, "HOME": str(work), "TMPDIR": "/tmp"})
        assert run.returncode == 0, run.stderr[-2000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result["uid"] == 65534
        assert "seccomp" in result["layers"], result
        assert any(layer.startswith("landlock") for layer in result["layers"]), result
        assert "drop-root" not in result["layers"]
        got = [status for status, _ in result["verdicts"]]
        assert got == ["pass", "pass", "fail", "fail"], result["verdicts"]
        assert snapshot(marker) == before
        assert os.listxattr(marker) == xattrs_before
        assert private.read_text() == "private data\n"
        assert process_state(victim) == victim_before
    finally:
        shutil.rmtree(work, ignore_errors=True)
