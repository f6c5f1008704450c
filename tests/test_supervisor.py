"""A program whose return value stalls the trusted tests cannot stall the run."""

from __future__ import annotations

from pathlib import Path

from codebudget.benchmarks.task import ScriptTests, Task
from codebudget.sandbox.judge import TimePolicy
from codebudget.sandbox.supervisor import SupervisedJudge
from codebudget.sandbox.verdict import Status

# Trusted test code that loops as many times as the candidate says: honest data makes it
# quick, a hostile value keeps the trusted side busy for hours.
COUNTDOWN = Task("unit", "unit/countdown", "", "count", "def count():\n    return 10\n",
                 ScriptTests("n = count()\nassert n > 0\nwhile n > 0:\n    n -= 1\n", ("count",)))


def test_a_stalling_program_times_out_and_the_others_are_judged(tmp_path: Path) -> None:
    policy = TimePolicy(floor_s=0.5, wall_extra_s=1.0)
    with SupervisedJudge(workers=2, policy=policy, cache_dir=tmp_path, margin_s=2.0) as judge:
        items = [(COUNTDOWN, f"def count():\n    return {v}\n") for v in (5, 10**13, 7, 0)]
        verdicts = judge.judge(items)
        assert [v.status for v in verdicts] == [Status.PASS, Status.TIMEOUT, Status.PASS, Status.FAIL]
        assert "stalled" in verdicts[1].detail
        assert judge.restarts >= 1
        # the restarted judge still works, with the same layers
        (again,) = judge.judge([(COUNTDOWN, "def count():\n    return 3\n")])
        assert again.status is Status.PASS
        assert "seccomp" in judge.layers
