"""HumanEval Pro and MBPP Pro (CodeEval-Pro): self-invoking problems built on a base problem.

The official harness (`eval/harness.py`) runs `raw_problem + raw_solution + new_problem +
new_solution + "\\n" + test_code` for the reference and `raw_problem + completion` for a
model. Here the reference is that program without the tests, and `test_code` runs on the
judge's side against the candidate's functions.

The records are less regular than their schema suggests, so names are read from the code,
never from a fixed field:

- The function the tests call (the entry point) is not always the `def` in `new_problem`.
  In HumanEval Pro 3, 5, 14, 20, 21, 22, 28, 89 `new_problem` repeats the *base* signature
  and `new_solution` defines the new function; in 46, 63, 112 `new_problem` has no `def`;
  in many MBPP Pro tasks `new_solution` re-defines the base function. So the entry point is
  the top-level function of the reference that `test_code` uses (exactly one in every task).
- The base function is not always the last `def` in `raw_problem`: MBPP Pro 68 and 157 put a
  helper there and define the base function in `raw_solution`, and 262 and 366 define a
  helper after it. It is the function of the base program that no other one calls (its
  call-graph root), ties going to the last one declared in `raw_problem` (HumanEval/50
  declares `encode_shift` and `decode_shift`; the task is `decode_shift`).

Ids: "HumanEvalPro/<id>" and "MbppPro/<id>". HumanEval Pro id N is HumanEval/N; MBPP Pro id N
is the N-th record of MBPP+ v0.2.0 (aligned by position), recorded in `metadata`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from codebudget.benchmarks import catalog
from codebudget.benchmarks.benchmark import Benchmark
from codebudget.benchmarks.codeinfo import call_graph_roots, defs_in_fragment, functions_used_by
from codebudget.benchmarks.formats import Record, read_records
from codebudget.benchmarks.task import ScriptTests, Task


def reference_program(record: Record) -> str:
    """The ground-truth program as eval/harness.py assembles it, without the tests."""
    parts = ("raw_problem", "raw_solution", "new_problem", "new_solution")
    return "".join(str(record[part]) for part in parts)


def base_function(raw_problem: str, raw_solution: str) -> str:
    """The base problem's function: the call-graph root of the base program (see module doc)."""
    roots = call_graph_roots(raw_problem + raw_solution)
    declared = defs_in_fragment(raw_problem)
    in_prompt = [name for name in roots if name in declared]
    candidates = in_prompt or list(roots)
    if not candidates:
        raise ValueError("base program defines no function")
    return candidates[-1]


def pro_task(name: str, id_prefix: str, record: Record, base_link: dict[str, object]) -> Task:
    reference = reference_program(record)
    under_test = functions_used_by(reference, record["test_code"])
    if not under_test:
        raise ValueError(f"{id_prefix}/{record['id']}: test_code uses no function of the reference")
    raw_problem, new_problem = record["raw_problem"], record["new_problem"]
    entry_point = under_test[-1]
    return Task(
        benchmark=name,
        task_id=f"{id_prefix}/{record['id']}",
        prompt=raw_problem + new_problem,
        entry_point=entry_point,
        reference=reference,
        tests=ScriptTests(code=record["test_code"], under_test=under_test),
        completion_prefix=raw_problem,
        base_entry_point=base_function(raw_problem, record["raw_solution"]),
        metadata={
            "source_id": record["id"],
            "raw_problem": raw_problem,
            "raw_solution": record["raw_solution"],
            "new_problem": new_problem,
            "new_solution": record["new_solution"],
            "entry_point_in_new_problem": entry_point in defs_in_fragment(new_problem),
            **base_link,
        },
    )


def parse_humaneval_pro(name: str, paths: Sequence[Path]) -> list[Task]:
    (path,) = paths
    return [
        pro_task(
            name,
            "HumanEvalPro",
            record,
            {"base_benchmark": "humaneval", "base_task_id": f"HumanEval/{record['id']}"},
        )
        for record in read_records(path)
    ]


def parse_mbpp_pro(name: str, paths: Sequence[Path]) -> list[Task]:
    (path,) = paths
    return [
        pro_task(name, "MbppPro", record, {"base_benchmark": "mbpp-plus", "base_position": index})
        for index, record in enumerate(read_records(path))
    ]


HUMANEVAL_PRO = Benchmark(
    name="humaneval-pro",
    description="HumanEval Pro: 164 self-invoking problems that must call a HumanEval solution",
    version="HumanEval Pro (CodeEval-Pro/CodeEval-Pro@36f292e)",
    files=(catalog.HUMANEVAL_PRO,),
    parse=parse_humaneval_pro,
)

MBPP_PRO = Benchmark(
    name="mbpp-pro",
    description="MBPP Pro: 378 self-invoking problems that must call an MBPP+ solution",
    version="MBPP Pro (CodeEval-Pro/CodeEval-Pro@36f292e)",
    files=(catalog.MBPP_PRO,),
    parse=parse_mbpp_pro,
)


def base_task_ids(tasks: Sequence[Task], data_dir: Path | None = None) -> dict[str, str]:
    """Each Pro task's base task id (HumanEval Pro records name it; MBPP Pro ones only by position).

    Why a function: MBPP Pro has no MBPP id, so pairing a Pro task with its base problem (the
    pass→fail matrix) needs the MBPP+ task at the same position, read from the MBPP+ data.
    """
    from codebudget.benchmarks.registry import get_benchmark

    out: dict[str, str] = {}
    by_position: dict[str, list[str]] = {}
    for task in tasks:
        meta = task.metadata
        if "base_task_id" in meta:
            out[task.task_id] = str(meta["base_task_id"])
        elif "base_position" in meta:
            base = str(meta["base_benchmark"])
            if base not in by_position:
                by_position[base] = [t.task_id for t in get_benchmark(base).load(data_dir)]
            out[task.task_id] = by_position[base][int(str(meta["base_position"]))]
    return out
