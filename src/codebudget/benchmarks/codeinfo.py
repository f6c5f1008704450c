"""Facts about benchmark source code, read with `ast`: which functions a program defines
and which of them a piece of test code uses.

The loaders need these to decide which names the judge must forward to the candidate
(`ScriptTests.under_test`): exactly the functions the reference defines at top level and
the tests reference. Everything else the tests use (helpers such as HumanEval/32's `poly`,
classes such as MBPP 367's `Node`, imports) stays in the trusted reference namespace.
"""

from __future__ import annotations

import ast
import re

# A `def` at column 0. Used on prompt fragments (MBPP Pro's `def f(...):` with no body) that
# `ast` cannot parse on their own.
_TOP_LEVEL_DEF = re.compile(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


def top_level_functions(source: str) -> tuple[str, ...]:
    """Names of the functions `source` defines at module level, in order of first definition."""
    names: dict[str, None] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.setdefault(node.name, None)
    return tuple(names)


def referenced_names(source: str) -> frozenset[str]:
    """Every bare name `source` reads (calls, arguments such as `map(f, xs)`, ...)."""
    return frozenset(
        node.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    )


def functions_used_by(reference: str, test_code: str) -> tuple[str, ...]:
    """Top-level functions of `reference` that `test_code` references, in definition order."""
    used = referenced_names(test_code)
    return tuple(name for name in top_level_functions(reference) if name in used)


def defs_in_fragment(fragment: str) -> tuple[str, ...]:
    """Names of column-0 `def`s in a code fragment that need not parse, in order."""
    return tuple(match.group(1) for match in _TOP_LEVEL_DEF.finditer(fragment))


def call_graph_roots(source: str) -> tuple[str, ...]:
    """Top-level functions of `source` that no other top-level function references.

    A base solution made of a main function and its helpers (MBPP 123's `div_sum` under
    `amicable_numbers_sum`) has the main function as its only root.
    """
    functions = [
        node
        for node in ast.parse(source).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    names = {node.name for node in functions}
    referenced: set[str] = set()
    for node in functions:
        inner = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        referenced |= (inner & names) - {node.name}
    return tuple(dict.fromkeys(node.name for node in functions if node.name not in referenced))
