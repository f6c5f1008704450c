"""The benchmark loaders, checked against the real, pinned data files.

The strongest check: for every ScriptTests benchmark, the benchmark's own tests pass when run
in-process against the reference (exec reference, setup, tests in one namespace). That tests
the loaders' assembly of reference/setup/tests, not the judge (which lives in sandbox/).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import os
from pathlib import Path
from typing import Any

import pytest

from codebudget.benchmarks import IOTests, ScriptTests, Task, benchmark_names, get_benchmark
from codebudget.benchmarks.evalplus import mbpp_deserialize_inputs
from codebudget.benchmarks.pro import base_task_ids
from codebudget.errors import UserError

# Several references write regexes such as "\w" in plain strings: the data's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence")

REPO = Path(__file__).resolve().parents[1]
_DATA = Path(os.environ.get("CODEBUDGET_DATA") or REPO.parent / "shared" / "data")
DATA: Path | None = _DATA if _DATA.is_dir() else None  # None: user cache or one download

COUNTS = {
    "humaneval": 164,
    "humaneval-plus": 164,
    "mbpp": 427,
    "mbpp-full": 500,
    "mbpp-plus": 378,
    "humaneval-pro": 164,
    "mbpp-pro": 378,
}
SCRIPT_BENCHMARKS = ["humaneval", "mbpp", "mbpp-full", "humaneval-pro", "mbpp-pro"]
SLOW_TASKS = {"Mbpp/123"}  # amicable numbers up to 9999: seconds on its own


def load(name: str) -> tuple[Task, ...]:
    return get_benchmark(name).load(DATA)


def by_id(name: str) -> dict[str, Task]:
    return {task.task_id: task for task in load(name)}


def script(task: Task) -> ScriptTests:
    assert isinstance(task.tests, ScriptTests), task.task_id
    return task.tests


def io_tests(task: Task) -> IOTests:
    assert isinstance(task.tests, IOTests), task.task_id
    return task.tests


def run_in_process(task: Task) -> None:
    """The reference, the setup and the tests in one namespace, no proxies."""
    assert isinstance(task.tests, ScriptTests)
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(task.reference, f"<{task.task_id} reference>", "exec"), namespace)
        exec(compile(task.tests.setup, f"<{task.task_id} setup>", "exec"), namespace)
        exec(compile(task.tests.code, f"<{task.task_id} tests>", "exec"), namespace)


# --- registry -------------------------------------------------------------------------


def test_registry_names_and_unknown_name() -> None:
    assert benchmark_names() == list(COUNTS)
    with pytest.raises(UserError) as error:
        get_benchmark("humaneval+")
    assert "humaneval-plus" in str(error.value) and "mbpp-pro" in str(error.value)


@pytest.mark.parametrize("name", list(COUNTS))
def test_counts_ids_and_common_invariants(name: str) -> None:
    tasks = load(name)
    assert len(tasks) == COUNTS[name]
    assert len({task.task_id for task in tasks}) == len(tasks)
    benchmark = get_benchmark(name)
    assert benchmark.version and benchmark.description and benchmark.files
    for task in tasks:
        assert task.benchmark == name
        compile(task.reference, task.task_id, "exec")
        assert task.program_from_completion("X") == task.completion_prefix + "X"
        tests = task.tests
        if isinstance(tests, ScriptTests):
            assert task.entry_point in tests.under_test
            compile(tests.code, task.task_id, "exec")
        else:
            assert tests.entry_point == task.entry_point
            assert 0 < tests.base_count <= len(tests.inputs)
            assert all(isinstance(args, tuple) for args in tests.inputs)


def test_load_is_cached_per_process() -> None:
    assert load("mbpp-plus") is load("mbpp-plus")


# --- the benchmarks' own tests pass on their references --------------------------------


@pytest.mark.parametrize("name", SCRIPT_BENCHMARKS)
def test_script_tests_pass_on_reference_in_process(name: str) -> None:
    failures = []
    for task in load(name):
        if task.task_id in SLOW_TASKS:
            continue
        try:
            run_in_process(task)
        except Exception as exc:  # noqa: BLE001 (collect them all, report together)
            failures.append(f"{task.task_id}: {exc!r}"[:200])
    assert not failures, failures


@pytest.mark.slow  # 2-9 s per benchmark depending on the machine
@pytest.mark.parametrize("name", ["mbpp", "mbpp-full"])
def test_slow_mbpp_task_passes_on_reference(name: str) -> None:
    for task_id in SLOW_TASKS:
        run_in_process(by_id(name)[task_id])


@pytest.mark.parametrize("name", ["humaneval-plus", "mbpp-plus"])
def test_reference_accepts_every_base_input(name: str) -> None:
    """EvalPlus computes expected outputs this way (deep-copied inputs); none may raise."""
    for task in load(name):
        tests = io_tests(task)
        namespace: dict[str, Any] = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(task.reference, namespace)
            function = namespace[task.entry_point]
            for args in tests.inputs[: tests.base_count]:
                function(*copy.deepcopy(args))


# --- HumanEval ----------------------------------------------------------------------------


def test_humaneval_fields() -> None:
    task = by_id("humaneval")["HumanEval/32"]
    assert task.entry_point == "find_zero"
    assert script(task).under_test == ("find_zero",)
    assert script(task).code.endswith("\ncheck(find_zero)\n")
    assert task.completion_prefix == task.prompt and "def poly(" in task.prompt
    assert task.reference.startswith(task.prompt)
    assert script(by_id("humaneval")["HumanEval/38"]).under_test == ("decode_cyclic",)


def test_humaneval_plus_fields_and_oracles() -> None:
    tasks = by_id("humaneval-plus")
    zero = tasks["HumanEval/32"].tests
    assert isinstance(zero, IOTests)
    assert zero.oracle == "find_zero" and zero.atol == 0.0001
    assert zero.inputs[0] == ([-10, -2],)
    assert {t.task_id for t in tasks.values() if io_tests(t).oracle != "exact"} == {"HumanEval/32"}
    first = tasks["HumanEval/0"]
    assert io_tests(first).base_count == 7 and len(io_tests(first).inputs) > 7
    assert "$_CONTRACT_$" in first.metadata["contract"]
    assert "def check(candidate)" in first.metadata["test"]
    assert {type(io_tests(t).atol) for t in tasks.values()} == {float}


# --- MBPP ---------------------------------------------------------------------------------


def test_mbpp_sanitized_fields() -> None:
    task = by_id("mbpp")["Mbpp/2"]
    assert task.entry_point == "similar_elements"
    assert script(task).under_test == ("similar_elements",)
    assert task.completion_prefix == ""
    assert task.prompt.startswith('"""\nWrite a function to find the shared elements')
    assert task.prompt.endswith("set((4, 5))\n\"\"\"\n")
    assert script(by_id("mbpp")["Mbpp/82"]).setup == "import math"


def test_mbpp_prompt_matches_mbpp_plus_style() -> None:
    plus = by_id("mbpp-plus")
    same = [t for t in load("mbpp") if t.task_id in plus and t.prompt == plus[t.task_id].prompt]
    assert len(same) == 360  # of 378 shared tasks; MBPP+ re-worded the other 18 descriptions


def test_mbpp_full_split_and_setup_after_reference() -> None:
    ordered = load("mbpp-full")
    assert (ordered[0].task_id, ordered[-1].task_id) == ("Mbpp/11", "Mbpp/510")
    tasks = by_id("mbpp-full")
    tree = tasks["Mbpp/367"]
    assert "Node(" in script(tree).setup and "class Node" in tree.reference
    assert script(tree).under_test == ("is_tree_balanced",)  # Node is a class: stays trusted
    assert len(tasks["Mbpp/11"].metadata["challenge_test_list"]) > 0


# --- MBPP+ ----------------------------------------------------------------------------------


def test_mbpp_plus_deserialization_examples() -> None:
    tasks = by_id("mbpp-plus")
    assert io_tests(tasks["Mbpp/2"]).inputs[0] == ((3, 4, 5, 6), (5, 7, 4, 10))
    assert type(io_tests(tasks["Mbpp/2"]).inputs[0][0]) is tuple
    assert io_tests(tasks["Mbpp/124"]).inputs[0] == (0.0, 1j)
    assert type(io_tests(tasks["Mbpp/252"]).inputs[-1][0]) is complex
    nested = io_tests(tasks["Mbpp/580"]).inputs[0][0]
    assert nested == (4, 5, (7, 6, (2, 4)), 6, 8)
    assert {type(v) for v in io_tests(tasks["Mbpp/722"]).inputs[0][0].values()} == {tuple}
    assert type(io_tests(tasks["Mbpp/3"]).inputs[0][0]) is int  # not in evalplus's lists: as stored


def test_mbpp_deserialize_keeps_evalplus_quirks() -> None:
    # Task 115 is not in MBPP+ v0.2.0, but evalplus turns an empty list into {} there.
    assert mbpp_deserialize_inputs("Mbpp/115", [[[[1], []]]]) == [[[{1}, {}]]]
    assert mbpp_deserialize_inputs("Mbpp/9", [[[1, 2]]]) == [[[1, 2]]]


# Converted tasks whose base inputs differ from MBPP's asserts because of evalplus itself:
# 596 keeps inner lists, 124 makes "0" a float, 252 makes 1 a complex.
_EVALPLUS_TYPE_CHANGES = {"Mbpp/596", "Mbpp/124", "Mbpp/252"}
_CONVERTED = [2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596,
              616, 630, 726, 740, 744, 809, 63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417,
              438, 473, 614, 780, 75, 413, 444, 753, 106, 750, 115, 124, 250, 405, 446, 617,
              720, 763, 808, 259, 401, 445, 278, 307, 722, 252, 580, 615, 791]  # fmt: skip


def _typed(value: Any) -> Any:
    """A value with every container's type spelled out, so (1,) != [1]."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_typed(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple((_typed(k), _typed(v)) for k, v in value.items()))
    return (type(value).__name__, value)


def _assert_call_args(assertion: str, entry_point: str) -> list[tuple[Any, ...]]:
    calls = []
    for statement in ast.parse(assertion).body:
        (call,) = [
            node
            for node in ast.walk(statement)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == entry_point
        ]
        calls.append(tuple(ast.literal_eval(arg) for arg in call.args))
    return calls


def test_mbpp_plus_deserialized_inputs_equal_the_original_asserts_with_types() -> None:
    """Independent check of the deserializer: MBPP's asserts are Python literals."""
    tasks = by_id("mbpp-plus")
    present = [f"Mbpp/{n}" for n in _CONVERTED if f"Mbpp/{n}" in tasks]
    assert len(_CONVERTED) == 62 and len(present) == 52
    for task_id in present:
        if task_id in _EVALPLUS_TYPE_CHANGES:
            continue
        task = tasks[task_id]
        expected = _assert_call_args(task.metadata["assertion"], task.entry_point)
        base = io_tests(task).inputs[: io_tests(task).base_count]
        assert [_typed(a) for a in base] == [_typed(a) for a in expected], task_id


def test_mbpp_plus_oracles() -> None:
    oracles = {t.task_id: io_tests(t).oracle for t in load("mbpp-plus") if io_tests(t).oracle != "exact"}
    set_eq = ["Mbpp/2", "Mbpp/7", "Mbpp/111", "Mbpp/140", "Mbpp/232", "Mbpp/579", "Mbpp/769"]
    assert oracles == {
        **{task_id: "set_eq" for task_id in set_eq},
        **{task_id: "not_none" for task_id in ["Mbpp/737", "Mbpp/787", "Mbpp/794"]},
        "Mbpp/581": "surface_area",
        "Mbpp/558": "digit_distance_nums",
    }


def test_mbpp_plus_fields() -> None:
    tasks = by_id("mbpp-plus")
    task = tasks["Mbpp/581"]
    assert io_tests(task).atol == 0.0  # evalplus's surface_Area oracle then needs an exact match
    assert task.reference == task.prompt + "\ndef surface_Area(b,s): \n    return 2 * b * s + pow(b,2) \n"
    assert task.completion_prefix == task.prompt
    assert "math.isclose" in tasks["Mbpp/120"].metadata["assertion"]
    assert "import math" in tasks["Mbpp/120"].metadata["known_defect"]
    assert sum(1 for t in tasks.values() if io_tests(t).atol > 0) == 13


# --- Pro ------------------------------------------------------------------------------------


def test_humaneval_pro_fields() -> None:
    tasks = by_id("humaneval-pro")
    task = tasks["HumanEvalPro/0"]
    assert task.entry_point == "find_close_elements_lists"
    assert task.base_entry_point == "has_close_elements"
    assert script(task).under_test == ("find_close_elements_lists",)
    assert task.completion_prefix == task.metadata["raw_problem"]
    assert task.prompt == task.metadata["raw_problem"] + task.metadata["new_problem"]
    assert task.metadata["base_task_id"] == "HumanEval/0"
    # new_problem repeats the base signature; the new function is defined in new_solution
    assert tasks["HumanEvalPro/3"].entry_point == "any_account_below_zero"
    assert not tasks["HumanEvalPro/3"].metadata["entry_point_in_new_problem"]
    assert tasks["HumanEvalPro/46"].entry_point == "sum_fib4_values"  # no def in new_problem
    assert tasks["HumanEvalPro/41"].entry_point == "car_race_collision" == tasks[
        "HumanEvalPro/41"
    ].base_entry_point
    assert script(tasks["HumanEvalPro/32"]).under_test == ("find_common_zero",)


def test_pro_base_function_matches_the_base_benchmark() -> None:
    """HumanEval Pro id N is HumanEval/N; MBPP Pro record N is MBPP+ record N."""
    for pro_name, base_name in [("humaneval-pro", "humaneval"), ("mbpp-pro", "mbpp-plus")]:
        pairs = zip(load(pro_name), load(base_name), strict=True)
        wrong = [(p.task_id, p.base_entry_point, b.entry_point) for p, b in pairs
                 if p.base_entry_point != b.entry_point]  # fmt: skip
        assert not wrong, wrong


def test_mbpp_pro_irregular_records() -> None:
    tasks = by_id("mbpp-pro")
    assert tasks["MbppPro/68"].base_entry_point == "amicable_numbers_sum"  # helper in raw_problem
    assert tasks["MbppPro/262"].base_entry_point == "sum_Of_product"  # helper after it
    assert tasks["MbppPro/338"].entry_point == "is_special_year"  # two defs in new_problem
    assert tasks["MbppPro/0"].metadata["base_position"] == 0
    assert script(tasks["MbppPro/50"]).under_test == ("frequency_nested_lists",)


def test_every_pro_task_pairs_with_its_base_task() -> None:
    """The pass→fail matrix pairs by these ids: MBPP Pro by MBPP+ position, HumanEval Pro by id."""
    for pro_name, base_name in [("humaneval-pro", "humaneval"), ("mbpp-pro", "mbpp-plus")]:
        base = {t.task_id: t for t in load(base_name)}
        pairs = base_task_ids(load(pro_name))
        assert len(pairs) == len(base) and set(pairs.values()) == set(base)
        assert all(base[b].entry_point == p.base_entry_point for p in load(pro_name) for b in [pairs[p.task_id]])
    assert base_task_ids(load("mbpp-pro"))["MbppPro/0"] == "Mbpp/2"
    assert base_task_ids(load("humaneval-pro"))["HumanEvalPro/7"] == "HumanEval/7"
