"""Prompt styles: requests, the paper's template, and the one program rule per style.

The strongest check is at the end: for every task of every benchmark and every style that
applies, the reference solution written the way a model answers in that style becomes a program
that compiles, and for the benchmarks with script tests, passes them when run in-process
(program, then `tests.setup`, then `tests.code`, in one namespace).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from codebudget.backends.base import Request
from codebudget.benchmarks import ScriptTests, Task, benchmark_names, get_benchmark
from codebudget.errors import UserError
from codebudget.prompts import (
    PRO_PAPER_PROMPT_WRAPPER,
    STYLES,
    PromptStyle,
    applicable_styles,
    build_request,
    choose_style,
    example_test,
    family_of,
    pro_paper_prompt,
    style_spec,
    to_program,
)
from codebudget.prompts.styles import HUMANEVAL_BASE_STOPS, MBPP_BASE_STOPS, PRO_PAPER_STOPS

# Several references write regexes such as "\w" in plain strings: the data's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence")

SLOW_TASKS = {"Mbpp/123", "HumanEvalPro/75"}  # seconds each on their own: run by test_benchmarks


def task(data_dir: Path, benchmark: str, task_id: str) -> Task:
    return get_benchmark(benchmark).task(task_id, data_dir)


# --- choosing and describing styles -------------------------------------------------------------


def test_styles() -> None:
    assert STYLES == ("base", "instruct", "pro-paper", "cot", "1-shot")


@pytest.mark.parametrize(
    ("benchmark", "instruct", "expected"),
    [
        ("humaneval", False, "base"),
        ("humaneval", True, "instruct"),
        ("humaneval-plus", False, "base"),
        ("mbpp", True, "instruct"),
        ("mbpp-full", False, "base"),
        ("mbpp-plus", True, "instruct"),
        ("humaneval-pro", True, "pro-paper"),
        ("mbpp-pro", True, "pro-paper"),
        # The paper ran base models on the same raw-text template; `base` does not apply to Pro.
        ("humaneval-pro", False, "pro-paper"),
        ("mbpp-pro", False, "pro-paper"),
    ],
)
def test_choose_style(benchmark: str, instruct: bool, expected: str) -> None:
    assert choose_style(benchmark, instruct) == expected
    assert expected in applicable_styles(benchmark)


def test_every_registered_benchmark_has_styles() -> None:
    for name in benchmark_names():
        assert family_of(name) in ("humaneval", "mbpp", "pro")
        assert set(applicable_styles(name)) >= {"instruct", "pro-paper", "cot", "1-shot"}
    assert "base" not in applicable_styles("humaneval-pro")
    assert "base" not in applicable_styles("mbpp-pro")


def test_style_spec_errors_are_user_errors() -> None:
    with pytest.raises(UserError, match="does not apply to mbpp-pro"):
        style_spec("base", "mbpp-pro")
    with pytest.raises(UserError, match="unknown prompt style"):
        style_spec("two-shot", "humaneval")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="no prompt styles for benchmark"):
        style_spec("instruct", "apps")


def test_style_specs() -> None:
    base = style_spec("base", "humaneval")
    assert (base.chat, base.stop, base.prefill) == (False, HUMANEVAL_BASE_STOPS, "")
    assert HUMANEVAL_BASE_STOPS == (
        "\nclass",
        "\ndef",
        "\n#",
        "\n@",
        "\nprint",
        "\nif",
        "\n```",
        "<file_sep>",
    )
    assert style_spec("base", "mbpp-plus").stop == MBPP_BASE_STOPS
    assert MBPP_BASE_STOPS == ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")
    paper = style_spec("pro-paper", "mbpp-pro")
    assert (paper.chat, paper.stop) == (False, PRO_PAPER_STOPS)
    assert PRO_PAPER_STOPS == ("```", "<|endoftext|>", "<|endofmask|>", "</s>", "<|EOT|>")
    for style in ("instruct", "cot", "1-shot"):
        spec = style_spec(style, "humaneval-pro")
        assert (spec.chat, spec.stop, spec.prefill) == (True, (), "")
    assert "last" in style_spec("cot", "mbpp").program_rule
    assert "first" in style_spec("instruct", "mbpp").program_rule
    rules = {style_spec(s, b).program_rule for b in benchmark_names() for s in applicable_styles(b)}
    assert len(rules) >= 8  # one recorded rule per (style, family), not a shared vague one


def test_style_spec_without_a_benchmark_keeps_only_shared_stops() -> None:
    base = style_spec("base")
    assert base.family is None and not base.chat
    assert base.stop == ("\nclass", "\nprint", "\nif", "\n```")
    assert "humaneval: " in base.program_rule and "mbpp: " in base.program_rule
    assert style_spec("pro-paper").stop == PRO_PAPER_STOPS
    assert style_spec("instruct").chat


# --- the CodeEval-Pro template ------------------------------------------------------------------


def test_pro_paper_wrapper_is_verbatim() -> None:
    assert PRO_PAPER_PROMPT_WRAPPER == (
        "You are an exceptionally intelligent coding assistant that consistently delivers "
        "accurate and reliable responses to user instructions.\n"
        "@@ Instruction\n"
        "{instruction}\n"
        "\n"
        "@@ Response\n"
        "{response}"
    )


def test_pro_paper_prompt_humaneval_pro(data_dir: Path) -> None:
    t = task(data_dir, "humaneval-pro", "HumanEvalPro/0")
    raw, new = t.metadata["raw_problem"].strip(), t.metadata["new_problem"].strip()
    expected = (
        "You are an exceptionally intelligent coding assistant that consistently delivers "
        "accurate and reliable responses to user instructions.\n@@ Instruction\n"
        "Write a solution of python file to the following problems, the solution of the second "
        "problem requires single or multiple calls to the first solution.\n"
        f"```python\n{raw}\n{new}\n```\n\n@@ Response\n```python\n{raw}\n"
    )
    assert pro_paper_prompt(t) == expected
    assert raw.startswith("from typing import List\n\n\ndef has_close_elements(")
    assert new.endswith(
        "def find_close_elements_lists(list_of_lists: List[List[float]], threshold: float) -> List[int]:"
    )
    request = build_request(t, "pro-paper", 7)
    assert request == Request("HumanEvalPro/0", 7, prompt=expected, messages=None, prefill="")


def test_pro_paper_prompt_mbpp_pro(data_dir: Path) -> None:
    t = task(data_dir, "mbpp-pro", "MbppPro/200")
    assert pro_paper_prompt(t).endswith(
        "@@ Response\n```python\n"
        "# Write a function to join a list of multiple integers into a single integer.\n"
        "def multiple_to_single(L):\n"
    )


def test_pro_paper_prompt_base_benchmarks(data_dir: Path) -> None:
    """The paper's own templates for HumanEval and MBPP (eval/utils.py map_*_problem)."""
    mbpp = task(data_dir, "mbpp-plus", "Mbpp/2")
    assert pro_paper_prompt(mbpp).split("@@ Instruction\n")[1] == (
        "Write a function to find the shared elements from the given two lists. Your code should "
        "satisfy the following assertion:\n```python\n"
        "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n```\n\n"
        "@@ Response\n```python"
    )
    humaneval = task(data_dir, "humaneval", "HumanEval/2")
    prompt = humaneval.prompt.strip()
    assert pro_paper_prompt(humaneval).split("@@ Instruction\n")[1] == (
        f"Write a solution to the following problem:\n```python\n{prompt}\n```\n\n"
        f"@@ Response\n```python\n{prompt}"
    )


# --- requests -----------------------------------------------------------------------------------


def test_base_request_is_the_benchmark_prompt(data_dir: Path) -> None:
    for benchmark, task_id in [("humaneval", "HumanEval/0"), ("mbpp", "Mbpp/2")]:
        t = task(data_dir, benchmark, task_id)
        assert build_request(t, "base", 3) == Request(task_id, 3, prompt=t.prompt, prefill="")
    assert task(data_dir, "mbpp", "Mbpp/2").prompt == (
        '"""\nWrite a function to find the shared elements from the given two lists.\n'
        "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"
        '"""\n'
    )


def test_instruct_request_humaneval(data_dir: Path) -> None:
    t = task(data_dir, "humaneval", "HumanEval/2")
    request = build_request(t, "instruct", 0)
    assert request.prompt is None and request.prefill == ""
    assert request.messages == (
        {
            "role": "user",
            "content": "Complete the following Python function `truncate_number`.\n\n"
            f"```python\n{t.prompt.strip()}\n```\n\n"
            "Write the complete, self-contained solution, including the imports and helper "
            "functions it needs, in a single ```python code block.",
        },
    )


def test_instruct_request_mbpp(data_dir: Path) -> None:
    (message,) = build_request(task(data_dir, "mbpp-full", "Mbpp/11"), "instruct", 0).messages or ()
    assert message["content"] == (
        "Write a python function to remove first and last occurrence of a given character from "
        "the string.\n\nWrite a Python function named `remove_Occ`. It must pass this test:\n"
        '```python\nassert remove_Occ("hello","l") == "heo"\n```\n\n'
        "Write the complete, self-contained solution, including the imports and helper "
        "functions it needs, in a single ```python code block."
    )


def test_instruct_request_pro_names_both_functions(data_dir: Path) -> None:
    # MBPP Pro 200's new_problem repeats the base signature: only the request names the new one.
    t = task(data_dir, "mbpp-pro", "MbppPro/200")
    (message,) = build_request(t, "instruct", 0).messages or ()
    assert "`multiple_to_single` (the first problem)" in message["content"]
    assert f"`{t.entry_point}` (the second problem)" in message["content"]


def test_cot_and_one_shot_requests(data_dir: Path) -> None:
    t = task(data_dir, "humaneval", "HumanEval/0")
    (cot,) = build_request(t, "cot", 0).messages or ()
    assert cot["content"].endswith(
        "Let's think step by step. First explain your reasoning, then give the final, complete, "
        "self-contained solution (with the imports and helper functions it needs) in a single "
        "```python code block at the end."
    )
    (shot,) = build_request(t, "1-shot", 0).messages or ()
    assert (
        "The solution must pass this test:\n```python\n"
        "assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n```"
    ) in shot["content"]


@pytest.mark.parametrize(
    ("benchmark", "task_id", "expected"),
    [
        (
            "humaneval",
            "HumanEval/0",
            "assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True",
        ),
        (
            "humaneval-plus",
            "HumanEval/0",
            "assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True",
        ),
        ("humaneval", "HumanEval/32", None),  # asserts on random inputs only
        ("humaneval", "HumanEval/38", None),
        (
            "mbpp",
            "Mbpp/2",
            "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))",
        ),
        ("mbpp-plus", "Mbpp/2", "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)"),
        (
            "humaneval-pro",
            "HumanEvalPro/38",
            "assert decode_all_cyclic(['abc', 'def']) == 'cabfde'",
        ),
    ],
)
def test_example_test(data_dir: Path, benchmark: str, task_id: str, expected: str | None) -> None:
    assert example_test(task(data_dir, benchmark, task_id)) == expected


def test_example_test_falls_back_to_the_prompt_assert(data_dir: Path) -> None:
    t = task(data_dir, "mbpp-full", "Mbpp/37")  # its three asserts are one assert, repeated
    example = example_test(t)
    assert example is not None and example in t.prompt


# --- programs from realistic outputs ------------------------------------------------------------

PROGRAM_CASES: list[tuple[str, str, PromptStyle, str, str]] = [
    (
        "humaneval",
        "HumanEval/0",
        "base",
        (
            "    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n"
            "            if abs(a - b) < threshold:\n                return True\n    return False\n\n\n"
            "numbers = [1.0, 2.0, 3.0]\nassert has_close_elements(numbers, 0.5) == False\n"
        ),
        (
            "{prompt}    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n"
            "            if abs(a - b) < threshold:\n                return True\n    return False\n"
        ),
    ),
    (  # A helper after the function hits the "\ndef" stop: the Codex/bigcode protocol.
        "humaneval",
        "HumanEval/0",
        "base",
        (
            "    return _any_close(sorted(numbers), threshold)\n\n\ndef _any_close(xs, t):\n"
            "    return any(b - a < t for a, b in zip(xs, xs[1:]))\n"
        ),
        "{prompt}    return _any_close(sorted(numbers), threshold)\n",
    ),
    (
        "mbpp",
        "Mbpp/2",
        "base",
        (
            "def similar_elements(test_tup1, test_tup2):\n  res = tuple(set(test_tup1) & set(test_tup2))\n"
            "  return (res)\n\nassert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
        ),
        (
            "def similar_elements(test_tup1, test_tup2):\n  res = tuple(set(test_tup1) & set(test_tup2))\n"
            "  return (res)\n"
        ),
    ),
    (  # MBPP+ keeps evalplus's prompt + completion; test code outside the stop list is dropped.
        "mbpp-plus",
        "Mbpp/2",
        "base",
        (
            "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n\n\n"
            "result = similar_elements((1, 2), (2, 3))\n"
        ),
        "{prompt}def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
    ),
    (  # The model forgot `from typing import List`: the prompt's imports come first.
        "humaneval",
        "HumanEval/0",
        "instruct",
        (
            "Here is the implementation:\n\n```python\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    numbers = sorted(numbers)\n"
            "    return any(b - a < threshold for a, b in zip(numbers, numbers[1:]))\n```\n\n"
            "Sorting first makes the check O(n log n)."
        ),
        (
            "from typing import List\n\n\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    numbers = sorted(numbers)\n"
            "    return any(b - a < threshold for a, b in zip(numbers, numbers[1:]))\n"
        ),
    ),
    (  # Only a body: it continues the prompt.
        "humaneval",
        "HumanEval/7",
        "instruct",
        "```python\n    return [s for s in strings if substring in s]\n```",
        "{prompt}    return [s for s in strings if substring in s]\n",
    ),
    (  # The prompt's complete helper `encode_cyclic` is kept; the stub is not.
        "humaneval",
        "HumanEval/38",
        "instruct",
        (
            "To decode, we apply the encoding twice:\n\n```python\ndef decode_cyclic(s: str):\n"
            '    return encode_cyclic(encode_cyclic(s))\n\n\nprint(decode_cyclic(encode_cyclic("abcdef")))\n```'
        ),
        "{helpers}\n\n\ndef decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n",
    ),
    (  # `from __future__` must stay first; the model's own import is not repeated.
        "humaneval",
        "HumanEval/0",
        "instruct",
        (
            "```python\nfrom __future__ import annotations\nfrom typing import List\n\n\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```"
        ),
        (
            "from __future__ import annotations\nfrom typing import List\n\n\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
        ),
    ),
    (
        "mbpp",
        "Mbpp/2",
        "instruct",
        (
            "```python\ndef similar_elements(list1, list2):\n    return tuple(sorted(set(list1) & set(list2)))\n\n"
            '# Test the function\nassert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\nprint("Test passed!")\n```'
        ),
        "def similar_elements(list1, list2):\n    return tuple(sorted(set(list1) & set(list2)))\n",
    ),
    (  # HumanEval Pro's new problem uses `List`, imported only by the raw problem.
        "humaneval-pro",
        "HumanEvalPro/0",
        "instruct",
        (
            "Here are both solutions:\n\n```python\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    for i in range(len(numbers)):\n        for j in range(i + 1, len(numbers)):\n"
            "            if abs(numbers[i] - numbers[j]) < threshold:\n                return True\n"
            "    return False\n\n\n"
            "def find_close_elements_lists(list_of_lists: List[List[float]], threshold: float) -> List[int]:\n"
            "    return [i for i, lst in enumerate(list_of_lists) if has_close_elements(lst, threshold)]\n```"
        ),
        (
            "from typing import List\n\n\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    for i in range(len(numbers)):\n        for j in range(i + 1, len(numbers)):\n"
            "            if abs(numbers[i] - numbers[j]) < threshold:\n                return True\n"
            "    return False\n\n\n"
            "def find_close_elements_lists(list_of_lists: List[List[float]], threshold: float) -> List[int]:\n"
            "    return [i for i, lst in enumerate(list_of_lists) if has_close_elements(lst, threshold)]\n"
        ),
    ),
    (  # The paper's rule: raw_problem + the text up to the first ```; the prose after is dropped.
        "humaneval-pro",
        "HumanEvalPro/0",
        "pro-paper",
        (
            "    for i in range(len(numbers)):\n        for j in range(i + 1, len(numbers)):\n"
            "            if abs(numbers[i] - numbers[j]) < threshold:\n                return True\n"
            "    return False\n\n# Return the indices of the lists with two close numbers.\n"
            "def find_close_elements_lists(list_of_lists: List[List[float]], threshold: float) -> List[int]:\n"
            "    return [i for i, l in enumerate(list_of_lists) if has_close_elements(l, threshold)]\n"
            "```\n\nThe second function calls the first one on each list."
        ),
        (
            "{raw_problem}    for i in range(len(numbers)):\n        for j in range(i + 1, len(numbers)):\n"
            "            if abs(numbers[i] - numbers[j]) < threshold:\n                return True\n"
            "    return False\n\n# Return the indices of the lists with two close numbers.\n"
            "def find_close_elements_lists(list_of_lists: List[List[float]], threshold: float) -> List[int]:\n"
            "    return [i for i, l in enumerate(list_of_lists) if has_close_elements(l, threshold)]\n"
        ),
    ),
    (  # cot: the last block defining the entry point, not the first draft.
        "mbpp",
        "Mbpp/2",
        "cot",
        (
            "Let's think step by step.\n\n1. Convert both tuples to sets.\n2. Intersect them.\n\n"
            "A first try:\n```python\ndef similar_elements(a, b):\n    return set(a) & set(b)\n```\n"
            "But the test expects a tuple, so we convert the result:\n"
            "```python\ndef similar_elements(a, b):\n    return tuple(set(a) & set(b))\n```"
        ),
        "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
    ),
    (  # Reasoning in <think> is not the answer.
        "humaneval",
        "HumanEval/0",
        "1-shot",
        (
            "<think>\nThe test says 0.3 with 2.2 and 2.0 gives True.\n```python\ndef has_close_elements(n, t):\n"
            "    return True\n```\n</think>\n```python\nfrom typing import List\n\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    return any(abs(x - y) < threshold for i, x in enumerate(numbers) for y in numbers[:i])\n```"
        ),
        (
            "from typing import List\n\n\n"
            "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
            "    return any(abs(x - y) < threshold for i, x in enumerate(numbers) for y in numbers[:i])\n"
        ),
    ),
]


@pytest.mark.parametrize(
    ("benchmark", "task_id", "style", "output", "expected"),
    PROGRAM_CASES,
    ids=[f"{b}-{i}-{s}" for i, (b, _, s, _, _) in enumerate(PROGRAM_CASES)],
)
def test_to_program(
    data_dir: Path, benchmark: str, task_id: str, style: PromptStyle, output: str, expected: str
) -> None:
    t = task(data_dir, benchmark, task_id)
    helpers = (
        t.prompt.split("\n\n\ndef decode_cyclic")[0].strip("\n")
        if task_id == "HumanEval/38"
        else ""
    )
    raw_problem = str(t.metadata.get("raw_problem", ""))
    program = to_program(t, style, output)
    assert program == expected.format(prompt=t.prompt, helpers=helpers, raw_problem=raw_problem)
    compile(program, task_id, "exec")


def test_to_program_never_fails_on_a_truncated_output(data_dir: Path) -> None:
    for benchmark, task_id, style, output, _ in PROGRAM_CASES:
        t = task(data_dir, benchmark, task_id)
        for end in range(0, len(output) + 1, 5):
            assert isinstance(to_program(t, style, output[:end]), str)


def test_humaneval_38_program_passes_its_tests(data_dir: Path) -> None:
    t = task(data_dir, "humaneval", "HumanEval/38")
    output = (
        "```python\ndef decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n```"
    )
    run_script_tests(t, to_program(t, "instruct", output))


# --- every task, every style --------------------------------------------------------------------


def reference_answer(t: Task, style: PromptStyle) -> str:
    """The task's reference solution, written the way a model answers in `style`."""
    if style == "base":  # the text after the prompt
        return t.reference.removeprefix(t.completion_prefix)
    if style == "pro-paper":  # the continuation of the response prefix, then prose
        if family_of(t.benchmark) == "pro":
            m = t.metadata
            return f"{m['raw_solution']}{m['new_problem']}{m['new_solution']}\n```\n\nThe second calls the first."
        body = t.reference[len(t.completion_prefix) :] if t.completion_prefix else t.reference
        return "\n" + body.strip("\n") + "\n```\n\nThis solves the problem."
    if style == "cot":
        return (
            "Let's think step by step.\n\n1. A skeleton first:\n"
            f"```python\ndef {t.entry_point}(*args):\n    pass\n```\n\n2. Now the full solution:\n\n"
            f"```python\n{t.reference}\n```\n"
        )
    return (
        f"Here is the solution:\n\n```python\n{t.reference}\n```\n\n"
        f"Example usage:\n\n```python\nprint({t.entry_point}())\n```\n"
    )


def run_script_tests(t: Task, program: str) -> None:
    assert isinstance(t.tests, ScriptTests)
    namespace: dict[str, object] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(program, t.task_id, "exec"), namespace)  # noqa: S102 - the benchmark's reference
        exec(t.tests.setup, namespace)  # noqa: S102
        exec(t.tests.code, namespace)  # noqa: S102


# Base style cuts a completion at the bigcode stop list, as the harness does for every model:
# MBPP 342's reference defines `class Node` after its imports, so the cut leaves the imports.
CUT_BY_BASE_STOPS = {("mbpp-full", "Mbpp/342")}


@pytest.mark.parametrize("benchmark", benchmark_names())
def test_every_task_every_style(data_dir: Path, benchmark: str) -> None:
    tasks = get_benchmark(benchmark).load(data_dir)
    failures = []
    for style in applicable_styles(benchmark):
        for t in tasks:
            request = build_request(t, style, 0)
            assert (request.prompt is None) == style_spec(style, benchmark).chat
            program = to_program(t, style, reference_answer(t, style))
            compile(program, t.task_id, "exec")
            if not isinstance(t.tests, ScriptTests) or t.task_id in SLOW_TASKS:
                continue
            try:
                run_script_tests(t, program)
            except Exception as error:  # noqa: BLE001 - collected and reported below
                if (benchmark, t.task_id) not in CUT_BY_BASE_STOPS or style != "base":
                    failures.append(f"{style} {t.task_id}: {type(error).__name__}: {error}")
    assert not failures, "\n".join(failures[:20])
