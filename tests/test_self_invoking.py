"""Base-vs-Pro scoring: the static self-invocation check, the gap, the matrix, error categories."""

from __future__ import annotations

import textwrap

import pytest

from codebudget.scoring.self_invoking import (
    ERROR_CATEGORIES,
    PassFailMatrix,
    SelfInvokingGap,
    calls_base,
    error_distribution,
)

BASE = """
def base(x):
    return x + 1
"""


def check(new_code: str, entry: str = "new") -> bool | None:
    return calls_base(BASE + textwrap.dedent(new_code), entry, "base")


# --- calls_base ------------------------------------------------------------------------------


def test_direct_call() -> None:
    assert check("def new(xs):\n    return [base(x) for x in xs]\n") is True


def test_no_call_at_all() -> None:
    assert check("def new(xs):\n    return [x + 1 for x in xs]\n") is False


def test_transitive_call_through_helper_defined_later() -> None:
    code = """
    def new(xs):
        return helper(xs)

    def helper(xs):
        return sum(base(x) for x in xs)
    """
    assert check(code) is True


def test_helper_that_does_not_call_base() -> None:
    code = """
    def helper(x):
        return x * 2

    def new(xs):
        return [helper(x) for x in xs]
    """
    assert check(code) is False


def test_helper_only_reached_from_base_is_not_a_use() -> None:
    # base calls helper; new calls helper; helper never calls base.
    code = """
    def helper(x):
        return x

    def new(x):
        return helper(x)
    """
    program = "def base(x):\n    return helper(x)\n" + textwrap.dedent(code)
    assert calls_base(program, "new", "base") is False


@pytest.mark.parametrize(
    "body",
    [
        "return list(map(base, xs))",
        "return sorted(xs, key=base)",
        "f = base\n    return [f(x) for x in xs]",
        "return (lambda x: base(x))(xs[0])",
    ],
)
def test_reference_without_direct_call_counts(body: str) -> None:
    assert check(f"def new(xs):\n    {body}\n") is True


def test_default_argument_is_a_reference() -> None:
    assert check("def new(x, f=base):\n    return f(x)\n") is True


def test_annotation_alone_is_not_a_use() -> None:
    assert check("def new(x: base) -> base:\n    y: base = x\n    return y\n") is False


@pytest.mark.parametrize(
    "code",
    [
        "def new(base):\n    return base(1)\n",  # parameter
        "def new(x, *base):\n    return base[0](x)\n",  # *args parameter
        "def new(x):\n    base = abs\n    return base(x)\n",  # plain assignment
        "def new(x):\n    r = base(x)\n    base = 3\n    return r\n",  # local for the whole body
        "def new(xs):\n    for base in xs:\n        base(1)\n",  # loop target
        "def new(x):\n    from math import floor as base\n    return base(x)\n",  # import
        "def new(x):\n    def base(y):\n        return y\n    return base(x)\n",  # nested def
    ],
)
def test_shadowed_base_name_is_not_the_base(code: str) -> None:
    assert check(code) is False


def test_global_declaration_undoes_shadowing() -> None:
    code = "def new(x):\n    global base\n    return base(x)\n"
    assert check(code) is True


def test_comprehension_variable_shadows_only_inside() -> None:
    assert check("def new(fs):\n    return [base(1) for base in fs]\n") is False
    assert check("def new(fs):\n    r = [base for base in fs]\n    return base(r)\n") is True


def test_shadowing_in_helper_does_not_leak() -> None:
    code = """
    def helper(base):
        return base

    def new(x):
        return helper(x)
    """
    assert check(code) is False


def test_nested_def_inside_entry_point() -> None:
    code = """
    def new(xs):
        def inner(x):
            return base(x) * 2
        return [inner(x) for x in xs]
    """
    assert check(code) is True


def test_nested_def_sees_enclosing_local_not_global() -> None:
    code = """
    def new(xs, base):
        def inner(x):
            return base(x)
        return [inner(x) for x in xs]
    """
    assert check(code) is False


def test_method_of_class_inside_entry_point() -> None:
    code = """
    def new(x):
        class Box:
            base = 5  # a class attribute does not hide the global from methods
            def get(self):
                return base(x)
        return Box().get()
    """
    assert check(code) is True


def test_mutually_recursive_helpers_terminate() -> None:
    code = """
    def even(n):
        return True if n == 0 else odd(n - 1)

    def odd(n):
        return False if n == 0 else even(n - 1)

    def new(n):
        return even(n)
    """
    assert check(code) is False
    assert check(code.replace("return False if n == 0", "return base(n) if n == 0")) is True


def test_recursive_entry_point_terminates() -> None:
    assert check("def new(n):\n    return 0 if n == 0 else new(n - 1)\n") is False


def test_last_definition_wins() -> None:
    code = """
    def new(x):
        return base(x)

    def new(x):
        return x
    """
    assert check(code) is False


def test_async_entry_point() -> None:
    assert check("async def new(x):\n    return base(x)\n") is True


def test_entry_point_missing_is_unknown() -> None:
    assert check("def other(x):\n    return base(x)\n") is None


def test_nested_entry_point_is_not_a_definition() -> None:
    assert check("def outer():\n    def new(x):\n        return base(x)\n") is None


def test_syntax_error_is_unknown() -> None:
    assert check("def new(x)\n    return base(x)\n") is None
    assert calls_base("def new(x):\n    return base(x)\x00\n", "new", "base") is None


# --- SelfInvokingGap -----------------------------------------------------------------------------


def test_gap_numbers_by_hand() -> None:
    # o1-mini in the paper: HumanEval 97.6, HumanEval Pro 76.2 -> 21.4 points, 21.926...% of base
    gap = SelfInvokingGap(base_pass_rate=0.976, pro_pass_rate=0.762)
    assert gap.drop_points == pytest.approx(21.4)
    assert gap.relative_drop_percent == pytest.approx(21.4 / 97.6 * 100)
    half = SelfInvokingGap(0.8, 0.4)
    assert half.drop_points == pytest.approx(40.0)
    assert half.relative_drop_percent == pytest.approx(50.0)


def test_gap_can_be_negative_and_base_zero_has_no_relative_drop() -> None:
    better = SelfInvokingGap(0.5, 0.6)
    assert better.drop_points == pytest.approx(-10.0)
    assert better.relative_drop_percent == pytest.approx(-20.0)
    zero = SelfInvokingGap(0.0, 0.25)
    assert zero.drop_points == pytest.approx(-25.0)
    assert zero.relative_drop_percent is None


@pytest.mark.parametrize("rates", [(1.2, 0.5), (0.5, -0.1), (97.6, 76.2)])
def test_gap_rejects_rates_outside_unit_interval(rates: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="fraction"):
        SelfInvokingGap(*rates)


# --- PassFailMatrix ------------------------------------------------------------------------------


def test_matrix_counts_and_ids() -> None:
    base = {"HumanEval/1": True, "HumanEval/2": True, "HumanEval/3": False,
            "HumanEval/10": False, "HumanEval/11": True}
    pro = {"HumanEvalPro/1": True, "HumanEvalPro/2": False, "HumanEvalPro/3": True,
           "HumanEvalPro/10": False, "HumanEvalPro/11": True, "HumanEvalPro/99": True,
           "HumanEvalPro/7": False}
    base_of = {f"HumanEvalPro/{n}": f"HumanEval/{n}" for n in (1, 2, 3, 10, 11, 99)}
    # HumanEvalPro/99: its base task has no result; HumanEvalPro/7: no base mapping at all
    matrix = PassFailMatrix.from_results(base, pro, base_of)
    assert matrix.both == ("HumanEvalPro/1", "HumanEvalPro/11")
    assert matrix.base_only == ("HumanEvalPro/2",)
    assert matrix.pro_only == ("HumanEvalPro/3",)
    assert matrix.neither == ("HumanEvalPro/10",)
    assert matrix.unmatched_ids == ("HumanEvalPro/7", "HumanEvalPro/99")
    assert (matrix.n_both, matrix.n_base_only, matrix.n_pro_only, matrix.n_neither) == (2, 1, 1, 1)
    assert matrix.unmatched == 2
    assert matrix.total == 5


def test_matrix_ids_sort_naturally() -> None:
    pro = {f"MbppPro/{n}": True for n in (10, 2, 1)}
    matrix = PassFailMatrix.from_results({"b": True}, pro, dict.fromkeys(pro, "b"))
    assert matrix.both == ("MbppPro/1", "MbppPro/2", "MbppPro/10")


def test_matrix_empty() -> None:
    matrix = PassFailMatrix.from_results({}, {}, {})
    assert matrix.total == 0 and matrix.unmatched == 0


# --- error_distribution --------------------------------------------------------------------------


def test_error_distribution_every_category() -> None:
    results = [
        ("pass", None),
        ("pass", None),
        ("fail", "AssertionError"),
        ("fail", "AssertionError"),
        ("fail", "AssertionError"),
        ("fail", "NameError"),
        ("fail", "ValueError"),
        ("fail", "ValueError"),
        ("fail", "IndexError"),
        ("fail", "TypeError"),
        ("fail", "ZeroDivisionError"),  # exact names only: a subclass is "other"
        ("fail", "KeyError"),
        ("fail", None),
        ("timeout", "Timeout"),
        ("memory", "MemoryError"),
        ("crash", "Crash"),
        ("syntax", "SyntaxError"),
        ("syntax", "IndentationError"),
    ]
    assert error_distribution(results) == {
        "AssertionError": 3,
        "NameError": 1,
        "ValueError": 2,
        "IndexError": 1,
        "TypeError": 1,
        "other": 3,
        "timeout": 1,
        "memory": 1,
        "crash": 1,
        "syntax": 2,
    }


def test_error_distribution_has_all_keys_in_order() -> None:
    counts = error_distribution([("pass", None)])
    assert tuple(counts) == ERROR_CATEGORIES
    assert ERROR_CATEGORIES == ("AssertionError", "NameError", "ValueError", "IndexError",
                                "TypeError", "other", "timeout", "memory", "crash", "syntax")
    assert set(counts.values()) == {0}


def test_error_distribution_rejects_unknown_status() -> None:
    with pytest.raises(ValueError):
        error_distribution([("failed", "AssertionError")])


@pytest.mark.parametrize("benchmark, calling, total", [("humaneval-pro", 155, 164), ("mbpp-pro", 334, 378)])
def test_reference_solutions_call_their_base_function(benchmark: str, calling: int, total: int,
                                                      data_dir: object) -> None:
    """The numbers the README and the report quote: how many official Pro solutions call the base
    function (the rest inline it or shadow it: e.g. HumanEvalPro/16, HumanEvalPro/63)."""
    from codebudget.benchmarks import get_benchmark

    tasks = get_benchmark(benchmark).load()
    checks = [calls_base(t.reference, t.entry_point, t.base_entry_point or "") for t in tasks]
    assert len(tasks) == total and None not in checks
    assert sum(checks) == calling
