"""EvalPlus: HumanEval+ v0.1.10 and MBPP+ v0.2.0, with EvalPlus's inputs and oracles.

EvalPlus tests are argument lists; the expected output of each is what the reference
(`prompt + canonical_solution`, as `evalplus.evaluate.get_groundtruth` builds it) returns,
computed later by the judge. Faithfulness to evalplus is the point of this module:

- HumanEval+ inputs are used as stored (`evalplus/data/humaneval.py` converts nothing).
- MBPP+ inputs are converted exactly like `mbpp_deserialize_inputs` in
  `evalplus/data/mbpp.py` (JSON has no tuples, sets or complex numbers).
- Oracles follow the special cases of `unsafe_execute` in `evalplus/eval/__init__.py`,
  which dispatch on the *entry point name* (not the task id), with the name lists of
  `evalplus/eval/_special_oracle.py`. They are assigned the same way here.
- A completion is scored as `prompt + completion` (`evalplus.evaluate.evaluate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codebudget.benchmarks import catalog
from codebudget.benchmarks.benchmark import Benchmark
from codebudget.benchmarks.formats import Record, read_records
from codebudget.benchmarks.task import IOTests, Oracle, Task

# evalplus/eval/_special_oracle.py
MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQ_TASKS = (
    "similar_elements",  # Mbpp/2
    "find_char_long",  # Mbpp/7
    "common_in_nested_lists",  # Mbpp/111
    "extract_singly",  # Mbpp/140
    "larg_nnum",  # Mbpp/232
    "intersection_array",  # Mbpp/249 (not in v0.2.0)
    "find_dissimilar",  # Mbpp/579
    "Diff",  # Mbpp/769
)

# evalplus/eval/__init__.py, unsafe_execute: `if dataset == "mbpp": if "are_equivalent" == ...`
MBPP_ORACLES: dict[str, Oracle] = {
    "are_equivalent": "always",  # Mbpp/164 (not in v0.2.0): `exact_match or True`
    "sum_div": "sum_div",  # Mbpp/295 (not in v0.2.0): `exact_match or out == 0`
    "surface_Area": "surface_area",  # Mbpp/581
    "digit_distance_nums": "digit_distance_nums",  # Mbpp/558
    **{entry_point: "set_eq" for entry_point in MBPP_OUTPUT_SET_EQ_TASKS},
    **{entry_point: "not_none" for entry_point in MBPP_OUTPUT_NOT_NONE_TASKS},
}
HUMANEVAL_ORACLES: dict[str, Oracle] = {"find_zero": "find_zero"}  # HumanEval/32

# Known defects of the data that matter to anyone reusing a field we do not use ourselves.
MBPP_PLUS_DEFECTS = {
    "Mbpp/120": "`assertion` calls math.isclose without `import math` (unused here: IOTests)",
}


def mbpp_deserialize_inputs(task_id: str, inputs: list[Any]) -> list[Any]:
    """Port of evalplus/data/mbpp.py `mbpp_deserialize_inputs` (same ids, same conversions).

    Quirks kept on purpose: for 115 an empty list becomes `{}` (a dict), as in evalplus; for
    124 each input becomes a tuple; ids absent from MBPP+ v0.2.0 (e.g. 115, 143) stay listed.
    """
    n = int(task_id.split("/")[-1])
    if n in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596,
             616, 630, 726, 740, 744, 809):  # fmt: skip
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
    if n in (75, 413, 444, 753):
        return [[[tuple(lst) for lst in inp[0]]] + [inp[1]] for inp in inputs]
    if n in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [
            [[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]]
            for inp in inputs
        ]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if n in (259, 401, 445):
        nested = [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in nested]
    if n == 278:
        flat = [
            [[tuple(item) if isinstance(item, list) else item for item in inp[0]]]
            for inp in inputs
        ]
        return [[tuple(lst) for lst in inp] for inp in flat]
    if n == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{key: tuple(value) for key, value in inp[0].items()}] + inp[1:] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in (580, 615, 791):
        return [_lists_to_tuples(inp) for inp in inputs]
    return inputs


def _lists_to_tuples(value: Any) -> Any:
    """evalplus's `turn_all_list_into_tuple`: every list, at any depth, becomes a tuple."""
    if isinstance(value, list):
        return tuple(_lists_to_tuples(item) for item in value)
    return value


def io_tests(record: Record, base: list[Any], plus: list[Any], oracle: Oracle) -> IOTests:
    return IOTests(
        entry_point=record["entry_point"],
        inputs=tuple(tuple(args) for args in [*base, *plus]),
        base_count=len(base),
        atol=float(record["atol"]),
        oracle=oracle,
    )


def _plus_task(name: str, record: Record, tests: IOTests, metadata: dict[str, Any]) -> Task:
    return Task(
        benchmark=name,
        task_id=record["task_id"],
        prompt=record["prompt"],
        entry_point=record["entry_point"],
        reference=record["prompt"] + record["canonical_solution"],
        tests=tests,
        completion_prefix=record["prompt"],
        metadata={"contract": record["contract"], **metadata},
    )


def parse_humaneval_plus(name: str, paths: Sequence[Path]) -> list[Task]:
    (path,) = paths
    tasks = []
    for record in read_records(path):
        oracle = HUMANEVAL_ORACLES.get(record["entry_point"], "exact")
        tests = io_tests(record, record["base_input"], record["plus_input"], oracle)
        tasks.append(_plus_task(name, record, tests, {"test": record["test"]}))
    return tasks


def parse_mbpp_plus(name: str, paths: Sequence[Path]) -> list[Task]:
    (path,) = paths
    tasks = []
    for record in read_records(path):
        task_id = record["task_id"]
        base = mbpp_deserialize_inputs(task_id, record["base_input"])
        plus = mbpp_deserialize_inputs(task_id, record["plus_input"])
        oracle = MBPP_ORACLES.get(record["entry_point"], "exact")
        metadata: dict[str, Any] = {"assertion": record["assertion"]}
        if task_id in MBPP_PLUS_DEFECTS:
            metadata["known_defect"] = MBPP_PLUS_DEFECTS[task_id]
        tasks.append(_plus_task(name, record, io_tests(record, base, plus, oracle), metadata))
    return tasks


HUMANEVAL_PLUS = Benchmark(
    name="humaneval-plus",
    description="HumanEval+ (EvalPlus): HumanEval with corrected references and many more test inputs",
    version="HumanEval+ v0.1.10",
    files=(catalog.HUMANEVAL_PLUS,),
    parse=parse_humaneval_plus,
)

MBPP_PLUS = Benchmark(
    name="mbpp-plus",
    description="MBPP+ (EvalPlus): 378 MBPP tasks with corrected references and many more test inputs",
    version="MBPP+ v0.2.0",
    files=(catalog.MBPP_PLUS,),
    parse=parse_mbpp_plus,
)
