"""Self-invoking benchmarks (HumanEval Pro / MBPP Pro, arXiv 2412.21199): base versus Pro.

A Pro task asks for a new function that should solve its problem *by calling* the base
problem's function. A pass rate alone cannot tell a model that reused the base function from
one that re-derived it inline, and the paper's headline is the gap between the two benchmarks,
so this module gives the pieces a report needs to say more than one number:

- `calls_base`: a static check on the program (no execution) of whether the new function
  reaches the base function at all;
- `SelfInvokingGap`: the drop from base to Pro, in points and relative to base;
- `PassFailMatrix`: which tasks are solved on one side only;
- `error_distribution`: failures grouped into the paper's error categories.

Everything here is pure: inputs are plain values, so it runs on a store's rows or on numbers
typed in from a paper alike.
"""

from __future__ import annotations

import ast
import warnings
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

from codebudget.sandbox.verdict import Status

_Function = Union[ast.FunctionDef, ast.AsyncFunctionDef]
_Scope = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_NEW_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)


# --- static check: does the new function use the base function? ---------------------------


def calls_base(program: str, entry_point: str, base_entry_point: str) -> bool | None:
    """Whether `entry_point` in `program` uses `base_entry_point`, directly or through helpers.

    "Uses" means the function body loads the *global* name: a call `base(x)`, but also
    `map(base, xs)` or `key=base`, because passing the function on is still reusing it.
    Helpers are the top-level functions of `program` (followed transitively, each once, so
    mutually recursive helpers end) and any function or lambda nested in a reached function,
    whether or not it is called: the check is static, it cannot know which branches run.
    A name bound locally (a parameter, an assignment, a loop target, an import, a nested
    `def` of the same name) hides the global one, as in Python; `global base` undoes that.
    Not followed: methods reached through attributes, module-level aliases (`b = base`).

    None when the answer is unknown: the program does not parse, or it defines no top-level
    `entry_point` (the task's tests would fail on a NameError anyway).
    """
    try:
        with warnings.catch_warnings():  # e.g. invalid escapes in string literals: not our business here
            warnings.simplefilter("ignore")
            module = ast.parse(program)
    except (SyntaxError, ValueError):  # ValueError: null bytes, on Python < 3.12
        return None
    functions: dict[str, _Function] = {}
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = node  # the last definition is the one that runs
    if entry_point not in functions:
        return None
    seen = {entry_point}
    pending = [entry_point]
    while pending:
        used = _globals_used_by_definition(functions[pending.pop()])
        if base_entry_point in used:
            return True
        for name in sorted(used & functions.keys() - seen):
            seen.add(name)
            pending.append(name)
    return False


def _globals_used_by_definition(function: _Function) -> set[str]:
    """Global names a top-level function loads, counting its decorators and defaults."""
    found: set[str] = set()
    for node in _evaluated_at_definition(function):
        _collect(node, frozenset(), frozenset(), found)
    found |= _globals_used_in_scope(function, frozenset())
    return found


def _globals_used_in_scope(scope: _Scope, enclosing: frozenset[str]) -> set[str]:
    """Names loaded in the body of `scope` that resolve to module globals.

    `enclosing` holds the local names of the functions around `scope`, which closures see.
    """
    arguments = scope.args
    params = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
    params |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    body: list[ast.AST] = [scope.body] if isinstance(scope, ast.Lambda) else list(scope.body)
    declared_global = {n for stmt in _same_scope_nodes(body) if isinstance(stmt, ast.Global)
                       for n in stmt.names}
    local = frozenset((enclosing | params | _bound_names(body)) - declared_global)
    found: set[str] = set()
    for node in body:
        _collect(node, local, local, found)
    return found


def _collect(node: ast.AST, visible: frozenset[str], closure: frozenset[str],
             found: set[str]) -> None:
    """Add to `found` the global names `node` loads.

    `visible` are the non-global names where `node` is evaluated; `closure` those that a
    nested function would see (the same, except in a class body, whose names do not leak).
    """
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id not in visible:
            found.add(node.id)
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        for part in _evaluated_at_definition(node):
            _collect(part, visible, closure, found)
        found |= _globals_used_in_scope(node, closure)
    elif isinstance(node, ast.ClassDef):
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            _collect(part, visible, closure, found)
        class_names = frozenset(closure | _bound_names(node.body))
        for stmt in node.body:
            _collect(stmt, class_names, closure, found)
    elif isinstance(node, _COMPREHENSIONS):
        _collect_comprehension(node, visible, closure, found)
    else:
        for child in _children_without_annotations(node):
            _collect(child, visible, closure, found)


def _collect_comprehension(node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                           visible: frozenset[str], closure: frozenset[str],
                           found: set[str]) -> None:
    """A comprehension is its own scope, except for its first iterable (Python's rule)."""
    first, *rest = node.generators
    _collect(first.iter, visible, closure, found)
    targets = {n.id for g in node.generators for n in ast.walk(g.target)
               if isinstance(n, ast.Name)}
    inner = frozenset(closure | targets)
    parts: list[ast.AST] = [first.target, *first.ifs]
    for generator in rest:
        parts += [generator.target, generator.iter, *generator.ifs]
    parts += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    for part in parts:
        _collect(part, inner, inner, found)


def _evaluated_at_definition(node: _Scope) -> list[ast.AST]:
    """Decorators and default values: evaluated in the scope around the definition."""
    decorators = [] if isinstance(node, ast.Lambda) else list(node.decorator_list)
    defaults = [d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None]
    return [*decorators, *defaults]


def _children_without_annotations(node: ast.AST) -> Iterator[ast.AST]:
    """Child nodes, less annotations: `x: base = 1` names `base` without using it."""
    for field, value in ast.iter_fields(node):
        if field in ("annotation", "returns"):
            continue
        items = value if isinstance(value, list) else [value]
        yield from (item for item in items if isinstance(item, ast.AST))


def _same_scope_nodes(body: Sequence[ast.AST]) -> Iterator[ast.AST]:
    """Every node of a scope's body, not entering nested functions, lambdas or classes."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _bound_names(body: Sequence[ast.AST]) -> set[str]:
    """Names a scope binds (so a load of them in that scope is not a global)."""
    bound: set[str] = set()
    comprehension_targets: set[int] = set()
    for node in _same_scope_nodes(body):
        if isinstance(node, _COMPREHENSIONS):
            # their targets are their own; a walrus inside still binds in this scope
            comprehension_targets |= {id(n) for g in node.generators for n in ast.walk(g.target)}
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            if id(node) not in comprehension_targets:
                bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Nonlocal):
            bound |= set(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


# --- the gap between base and Pro -----------------------------------------------------------


@dataclass(frozen=True)
class SelfInvokingGap:
    """How much a model loses going from the base benchmark to its Pro version.

    Rates are fractions in [0, 1]; the drops are in the units papers print (points, %), so a
    report can put them next to published numbers without converting.
    """

    base_pass_rate: float
    pro_pass_rate: float

    def __post_init__(self) -> None:
        for name in ("base_pass_rate", "pro_pass_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")

    @property
    def drop_points(self) -> float:
        """base - pro in percentage points (negative when Pro is higher)."""
        return (self.base_pass_rate - self.pro_pass_rate) * 100.0

    @property
    def relative_drop_percent(self) -> float | None:
        """The drop as a percentage of the base rate; None when base is 0 (undefined)."""
        if self.base_pass_rate == 0.0:
            return None
        return (self.base_pass_rate - self.pro_pass_rate) / self.base_pass_rate * 100.0


# --- which tasks are solved where -----------------------------------------------------------


@dataclass(frozen=True)
class PassFailMatrix:
    """Pro tasks split by whether they and their base task were solved.

    Every list holds *Pro* task ids in natural order (HumanEvalPro/2 before HumanEvalPro/10).
    What "solved" means (pass@1 >= 0.5, any sample passed, greedy passed, ...) is the caller's
    choice: it arrives here as a bool per task, so one matrix never mixes two definitions.
    """

    both: tuple[str, ...]
    base_only: tuple[str, ...]
    pro_only: tuple[str, ...]
    neither: tuple[str, ...]
    unmatched_ids: tuple[str, ...]  # Pro tasks whose base task has no result (left out)

    @classmethod
    def from_results(cls, base_passed: Mapping[str, bool], pro_passed: Mapping[str, bool],
                     base_of: Mapping[str, str]) -> PassFailMatrix:
        """Build from base_task_id -> solved, pro_task_id -> solved and pro -> base task id."""
        cells: dict[tuple[bool, bool], list[str]] = {
            (b, p): [] for b in (True, False) for p in (True, False)
        }
        unmatched: list[str] = []
        for pro_id, pro_ok in pro_passed.items():
            base_id = base_of.get(pro_id)
            if base_id is None or base_id not in base_passed:
                unmatched.append(pro_id)
            else:
                cells[(bool(base_passed[base_id]), bool(pro_ok))].append(pro_id)
        return cls(
            both=_natural_sorted(cells[(True, True)]),
            base_only=_natural_sorted(cells[(True, False)]),
            pro_only=_natural_sorted(cells[(False, True)]),
            neither=_natural_sorted(cells[(False, False)]),
            unmatched_ids=_natural_sorted(unmatched),
        )

    @property
    def n_both(self) -> int:
        return len(self.both)

    @property
    def n_base_only(self) -> int:
        return len(self.base_only)

    @property
    def n_pro_only(self) -> int:
        return len(self.pro_only)

    @property
    def n_neither(self) -> int:
        return len(self.neither)

    @property
    def unmatched(self) -> int:
        """How many Pro tasks were left out because their base task had no result."""
        return len(self.unmatched_ids)

    @property
    def total(self) -> int:
        """Pro tasks in the matrix (unmatched ones excluded)."""
        return self.n_both + self.n_base_only + self.n_pro_only + self.n_neither


def _natural_sorted(task_ids: Iterable[str]) -> tuple[str, ...]:
    def key(task_id: str) -> list[tuple[int, int | str]]:
        return [(0, int(part)) if part.isdigit() else (1, part)
                for part in re.split(r"(\d+)", task_id)]

    return tuple(sorted(task_ids, key=key))


# --- error categories -----------------------------------------------------------------------

EXCEPTION_CATEGORIES: tuple[str, ...] = (
    "AssertionError", "NameError", "ValueError", "IndexError", "TypeError", "other",
)
"""The paper's categories for failing samples that raised; any other exception is "other"."""

STATUS_CATEGORIES: tuple[str, ...] = tuple(
    s.value for s in Status if s not in (Status.PASS, Status.FAIL)
)
"""Failures that are not an exception of the candidate's: timeout, memory, crash, syntax."""

ERROR_CATEGORIES: tuple[str, ...] = EXCEPTION_CATEGORIES + STATUS_CATEGORIES


def error_distribution(results: Iterable[tuple[str, str | None]]) -> dict[str, int]:
    """Count failing samples per category, from (status, error_type) pairs of verdicts.

    Every key of `ERROR_CATEGORIES` is present (zeros included), in that order, so tables of
    several models line up. Passing samples are skipped. A "fail" is filed under its exception
    name when that is one of the paper's five, else "other" (matched by exact name: a
    subclass such as ZeroDivisionError is "other", as in the paper's plots). The other
    statuses (timeout, memory, crash, syntax) have their own keys, because they are not a
    wrong answer of the kind the paper's categories describe. An unknown status raises
    ValueError rather than being counted somewhere arbitrary.
    """
    counts = dict.fromkeys(ERROR_CATEGORIES, 0)
    for status_text, error_type in results:
        status = Status(status_text)
        if status is Status.PASS:
            continue
        if status is Status.FAIL:
            category = error_type if error_type in EXCEPTION_CATEGORIES else "other"
        else:
            category = status.value
        counts[category] += 1
    return counts
