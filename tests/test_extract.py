"""Code extraction from realistic model outputs, each with the exact program expected.

The outputs imitate what small (0.5B-7B) coder models write: prose around fenced blocks, example
usage and tests after the function, several blocks, no fence, unterminated fences, reasoning in
`<think>`, Windows newlines, tabs, outputs cut at the token limit. No model is needed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest

from codebudget.prompts.extract import (
    CodeBlock,
    Prefer,
    clean_code,
    code_blocks,
    defines_function,
    extract_code,
    hoist_future_imports,
    imports_and_definitions,
    normalize_output,
    parseable_prefix,
    sanitize_completion,
    select_code,
    top_level_names,
    truncate_at_stops,
)


@dataclass(frozen=True)
class Case:
    name: str
    output: str  # what the model generated
    entry_point: str
    program: str  # what extract_code must return
    prefer: Prefer = "first"


CASES = [
    Case(
        "explanation_then_block",
        """\
Here's a Python function that checks whether any two numbers in the list are closer to each other than the threshold:

```python
from typing import List

def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            if abs(numbers[i] - numbers[j]) < threshold:
                return True
    return False
```

This function uses two nested loops to compare every pair of numbers. If any pair is closer than `threshold`, it returns `True`; otherwise it returns `False`.""",
        "has_close_elements",
        """\
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            if abs(numbers[i] - numbers[j]) < threshold:
                return True
    return False
""",
    ),
    Case(
        "block_with_example_usage",
        """\
```python
def add(x: int, y: int) -> int:
    return x + y

# Example usage
print(add(2, 3))  # Output: 5
result = add(10, 20)
print(result)  # Output: 30
```""",
        "add",
        """\
def add(x: int, y: int) -> int:
    return x + y
""",
    ),
    Case(
        "solution_then_usage_block",
        """\
Sure! Here is the implementation:

```python
def below_zero(operations):
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
```

### Example usage

```python
print(below_zero([1, 2, 3]))  # False
print(below_zero([1, 2, -4, 5]))  # True
```""",
        "below_zero",
        """\
def below_zero(operations):
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
""",
    ),
    Case(
        "usage_block_first",
        """\
You can call it like this:

```python
print(count_upper("aBCdEf"))  # 1
```

And here is the function:

```python
def count_upper(s):
    count = 0
    for i in range(0, len(s), 2):
        if s[i] in "AEIOU":
            count += 1
    return count
```""",
        "count_upper",
        """\
def count_upper(s):
    count = 0
    for i in range(0, len(s), 2):
        if s[i] in "AEIOU":
            count += 1
    return count
""",
    ),
    # The helper (and the import it needs) comes from the answer's other block.
    Case(
        "helper_in_own_block",
        """\
To solve this, we first need a helper that checks whether a number is prime:

```python
import math

def is_prime(n):
    if n < 2:
        return False
    for k in range(2, int(math.sqrt(n)) + 1):
        if n % k == 0:
            return False
    return True
```

Now we can generate Fibonacci numbers and return the n-th one that is prime:

```python
def prime_fib(n):
    a, b = 0, 1
    found = 0
    while True:
        a, b = b, a + b
        if is_prime(a):
            found += 1
            if found == n:
                return a
```

Let me know if you have any questions!""",
        "prime_fib",
        """\
import math


def is_prime(n):
    if n < 2:
        return False
    for k in range(2, int(math.sqrt(n)) + 1):
        if n % k == 0:
            return False
    return True


def prime_fib(n):
    a, b = 0, 1
    found = 0
    while True:
        a, b = b, a + b
        if is_prime(a):
            found += 1
            if found == n:
                return a
""",
    ),
    Case(
        "no_fence",
        """\
def remove_vowels(text):
    vowels = "aeiouAEIOU"
    return "".join(c for c in text if c not in vowels)

This function iterates over each character and keeps only the consonants.""",
        "remove_vowels",
        """\
def remove_vowels(text):
    vowels = "aeiouAEIOU"
    return "".join(c for c in text if c not in vowels)
""",
    ),
    Case(
        "no_fence_prose_first",
        """\
Sure! Here is the implementation of the function:

import re

def text_match(text):
    return bool(re.search(r"ab+", text))

print(text_match("abbb"))""",
        "text_match",
        """\
import re


def text_match(text):
    return bool(re.search(r"ab+", text))
""",
    ),
    # Cut at max tokens: the unfinished statement (and the loop it opened) is dropped.
    Case(
        "unterminated_cut_mid_function",
        """\
Here is an efficient iterative solution:

```python
def fib(n: int) -> int:
    if n <= 1:
        return n
    a, b = 0, 1
    for _ in range(n - 1):
        a, b = b, a +""",
        "fib",
        """\
def fib(n: int) -> int:
    if n <= 1:
        return n
    a, b = 0, 1
""",
    ),
    Case(
        "unterminated_tests_cut",
        """\
```python
def incr_list(l: list):
    return [x + 1 for x in l]


assert incr_list([1, 2, 3]) == [2, 3, 4]
assert incr_list([5, 3, 5, 2, 3, 3, 9, 0, 123]) == [6, 4, 6, 3, 4, 4, 10, 1, 124]
assert incr_list([""",
        "incr_list",
        """\
def incr_list(l: list):
    return [x + 1 for x in l]
""",
    ),
    # Both definitions stay, as written: running it, the later one wins (evalplus keeps the first).
    Case(
        "repeated_definition_one_block",
        """\
```python
def max_element(l):
    return sorted(l)[0]

# Wait, that returns the minimum. Corrected version:
def max_element(l):
    return sorted(l)[-1]
```""",
        "max_element",
        """\
def max_element(l):
    return sorted(l)[0]


def max_element(l):
    return sorted(l)[-1]
""",
    ),
    # One rule per style: `instruct` takes the first block defining the entry point (`cot`: the last).
    Case(
        "two_attempts_two_blocks",
        """\
First attempt:

```python
def strlen(string):
    return len(string.split())
```

Hmm, that counts words. Here is the correct version:

```python
def strlen(string):
    return len(string)
```""",
        "strlen",
        """\
def strlen(string):
    return len(string.split())
""",
    ),
    # Fences indented inside list items; `import math` comes from the other block.
    Case(
        "markdown_list_indented_fences",
        """\
Steps:

1. Import the math module:
   ```python
   import math
   ```
2. Define the function that computes the area:
   ```python
   def circle_area(r):
       return math.pi * r ** 2
   ```
3. Done!""",
        "circle_area",
        """\
import math


def circle_area(r):
    return math.pi * r ** 2
""",
    ),
    Case(
        "main_guard_and_asserts",
        """\
```python
def is_palindrome(text: str) -> bool:
    return text == text[::-1]


if __name__ == "__main__":
    assert is_palindrome("aba")
    assert not is_palindrome("ab")
    print("All tests passed!")
```""",
        "is_palindrome",
        """\
def is_palindrome(text: str) -> bool:
    return text == text[::-1]
""",
    ),
    # Definitions are kept even if unused: a test class is harmless; `unittest.main()` is dropped.
    Case(
        "unittest_appended",
        """\
```python
import unittest

def square_nums(nums):
    return list(map(lambda x: x ** 2, nums))

class TestSquareNums(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(square_nums([1, 2]), [1, 4])

unittest.main()
```""",
        "square_nums",
        """\
import unittest


def square_nums(nums):
    return list(map(lambda x: x ** 2, nums))


class TestSquareNums(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(square_nums([1, 2]), [1, 4])
""",
    ),
    Case(
        "think_then_answer",
        """\
<think>
Okay, so I need to write a function that returns the sum of squares. Maybe something like:
```python
def sum_squares(lst):
    return 0
```
No wait, I need to square each element first.
</think>

Here is the solution:

```python
def sum_squares(lst):
    return sum(x * x for x in lst)
```""",
        "sum_squares",
        """\
def sum_squares(lst):
    return sum(x * x for x in lst)
""",
    ),
    # Cut while reasoning: there is no answer, the drafts inside <think> are not one.
    Case(
        "think_never_closed",
        """\
<think>
Let me think about this problem. The function should return the largest divisor of n smaller than n.
```python
def largest_divisor(n):
    for i in range(n - 1, 0, -1):""",
        "largest_divisor",
        "",
    ),
    Case(
        "windows_newlines",
        "Solution:\r\n\r\n```python\r\ndef triangle_area(a, h):\r\n    return a * h / 2.0\r\n```\r\n",
        "triangle_area",
        """\
def triangle_area(a, h):
    return a * h / 2.0
""",
    ),
    Case(
        "tab_indentation",
        "```python\ndef double_all(xs):\n\tout = []\n\tfor x in xs:\n\t\tout.append(x * 2)\n\treturn out\n```",
        "double_all",
        """\
def double_all(xs):
    out = []
    for x in xs:
        out.append(x * 2)
    return out
""",
    ),
    Case(
        "py_fence",
        """\
```py
def is_even(n):
    return n % 2 == 0
```""",
        "is_even",
        """\
def is_even(n):
    return n % 2 == 0
""",
    ),
    Case(
        "bare_fence",
        """\
```
def is_odd(n):
    return n % 2 == 1
```
Output:
```
True
```""",
        "is_odd",
        """\
def is_odd(n):
    return n % 2 == 1
""",
    ),
    Case(
        "bash_then_python",
        """\
First install numpy:

```bash
pip install numpy
```

Then:

```python
import numpy as np

def mean_of(xs):
    return float(np.mean(xs))
```""",
        "mean_of",
        """\
import numpy as np


def mean_of(xs):
    return float(np.mean(xs))
""",
    ),
    # A LeetCode-style class is kept as it is; the tests calling `two_sum` will fail, honestly.
    Case(
        "leetcode_class",
        """\
```python
class Solution:
    def two_sum(self, nums, target):
        seen = {}
        for i, n in enumerate(nums):
            if target - n in seen:
                return [seen[target - n], i]
            seen[n] = i
```""",
        "two_sum",
        """\
class Solution:
    def two_sum(self, nums, target):
        seen = {}
        for i, n in enumerate(nums):
            if target - n in seen:
                return [seen[target - n], i]
            seen[n] = i
""",
    ),
    Case(
        "fence_closed_on_code_line",
        """\
```python
def triple(x):
    return x * 3```""",
        "triple",
        """\
def triple(x):
    return x * 3
""",
    ),
    Case(
        "fence_opened_after_prose",
        """\
Here is the code: ```python
def quadruple(x):
    return x * 4
```""",
        "quadruple",
        """\
def quadruple(x):
    return x * 4
""",
    ),
    # Module-level constants the function reads stay; test variables go.
    Case(
        "constant_used_and_test_vars",
        """\
```python
MOD = 10**9 + 7
LIMIT = MOD - 1

def mod_pow(base, exp):
    return pow(base, exp % LIMIT, MOD)

base = 2
exp = 10
print(mod_pow(base, exp))
```""",
        "mod_pow",
        """\
MOD = 10**9 + 7
LIMIT = MOD - 1


def mod_pow(base, exp):
    return pow(base, exp % LIMIT, MOD)
""",
    ),
    Case(
        "recursion_limit_and_cache",
        """\
```python
import sys
from functools import lru_cache

sys.setrecursionlimit(10000)

@lru_cache(maxsize=None)
def fibfib(n):
    if n < 3:
        return 1 if n == 2 else 0
    return fibfib(n - 1) + fibfib(n - 2) + fibfib(n - 3)

print(fibfib(10))
```""",
        "fibfib",
        """\
import sys
from functools import lru_cache
sys.setrecursionlimit(10000)


@lru_cache(maxsize=None)
def fibfib(n):
    if n < 3:
        return 1 if n == 2 else 0
    return fibfib(n - 1) + fibfib(n - 2) + fibfib(n - 3)
""",
    ),
    Case(
        "import_guard",
        """\
```python
try:
    from math import comb
except ImportError:
    comb = None

def choose(n, k):
    return comb(n, k)
```""",
        "choose",
        """\
try:
    from math import comb
except ImportError:
    comb = None


def choose(n, k):
    return comb(n, k)
""",
    ),
    Case(
        "prose_only",
        "I'm sorry, but I cannot determine what the function should do without more information about the expected input format.",
        "f",
        "",
    ),
    Case(
        "empty",
        "",
        "f",
        "",
    ),
    Case(
        "tilde_fence",
        """\
~~~python
def neg(x):
    return -x
~~~""",
        "neg",
        """\
def neg(x):
    return -x
""",
    ),
    # A closing fence with no opening one: the code before it is the answer.
    Case(
        "stray_closing_fence",
        """\
def halve(x):
    return x / 2
```

The function divides by two.""",
        "halve",
        """\
def halve(x):
    return x / 2
""",
    ),
    Case(
        "cot_with_draft",
        """\
Let's think step by step.

1. We need to count the distinct characters, ignoring case.
2. A first idea:

```python
def count_distinct_characters(string):
    return len(string)
```

3. But that counts duplicates. We should lowercase and use a set.

Final solution:

```python
def count_distinct_characters(string: str) -> int:
    return len(set(string.lower()))
```

This runs in O(n) time.""",
        "count_distinct_characters",
        """\
def count_distinct_characters(string: str) -> int:
    return len(set(string.lower()))
""",
        prefer="last",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_extract_code(case: Case) -> None:
    assert (
        extract_code(case.output, entry_point=case.entry_point, prefer=case.prefer) == case.program
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_extracted_code_compiles_and_is_stable(case: Case) -> None:
    compile(case.program, case.name, "exec")
    assert clean_code(case.program) == case.program  # cleaning is idempotent


def test_at_least_25_realistic_outputs() -> None:
    assert len(CASES) >= 25


def test_prefer_last_takes_the_final_attempt() -> None:
    (case,) = [c for c in CASES if c.name == "two_attempts_two_blocks"]
    assert extract_code(case.output, entry_point="strlen", prefer="last") == (
        "def strlen(string):\n    return len(string)\n"
    )


def test_without_entry_point_the_first_block_with_code_is_used() -> None:
    (case,) = [c for c in CASES if c.name == "usage_block_first"]
    # The usage block defines nothing, so even without an entry point the function block wins.
    assert extract_code(case.output) == case.program


# --- truncate_at_stops --------------------------------------------------------------------------


def test_truncate_at_the_earliest_stop() -> None:
    text = "    return x\n\nprint(f(1))\ndef g():\n    pass\n"
    assert truncate_at_stops(text, ("\ndef", "\nprint")) == ("    return x\n", True)


def test_truncate_without_a_stop() -> None:
    assert truncate_at_stops("    return x\n", ("\ndef",)) == ("    return x\n", False)
    assert truncate_at_stops("abc", ()) == ("abc", False)
    assert truncate_at_stops("abc", ("",)) == ("abc", False)  # an empty stop never matches


def test_truncate_at_a_stop_at_the_very_start() -> None:
    assert truncate_at_stops("```\nmore", ("```",)) == ("", True)


# --- sanitize_completion ------------------------------------------------------------------------


def test_sanitize_cuts_at_the_first_top_level_line() -> None:
    completion = "    total = sum(xs)\n    return total\n\n\nxs = [1, 2]\nassert f(xs) == 3\n"
    assert sanitize_completion(completion) == "    total = sum(xs)\n    return total\n"


def test_sanitize_keeps_column_zero_lines_inside_a_triple_quoted_string() -> None:
    completion = '    text = """\nline one\nline two\n"""\n    return text\nprint(f())\n'
    assert (
        sanitize_completion(completion)
        == '    text = """\nline one\nline two\n"""\n    return text\n'
    )


def test_sanitize_normalizes_newlines_and_tabs() -> None:
    assert sanitize_completion("\tif x:\r\n\t\treturn 1\r\n\treturn 0\r\n") == (
        "    if x:\n        return 1\n    return 0\n"
    )


def test_sanitize_keeps_a_complete_body_untouched() -> None:
    assert sanitize_completion("    return a + b\n") == "    return a + b\n"


def test_sanitize_of_an_unindented_answer_is_empty() -> None:
    # The model ignored the open function and wrote a new one: nothing of the body remains.
    assert sanitize_completion("def other(x):\n    return x\n") == ""


def test_sanitize_of_a_completion_cut_mid_line() -> None:
    assert (
        sanitize_completion("    for x in xs:\n        if x >")
        == "    for x in xs:\n        if x >\n"
    )
    assert sanitize_completion("    return 1\n\n\n") == "    return 1\n"
    assert sanitize_completion("\n\n") == ""


# --- the pieces ---------------------------------------------------------------------------------


def test_code_blocks_languages_and_closing() -> None:
    text = (
        'a\n```Python title="sol.py"\nx = 1\n```\nb\n```\ny = 2\n```\n'
        "~~~text\nout\n~~~\n```py\nz = 3"
    )
    assert code_blocks(text) == [
        CodeBlock("python", "x = 1\n", True),
        CodeBlock("", "y = 2\n", True),
        CodeBlock("text", "out\n", True),
        CodeBlock("py", "z = 3", False),
    ]


def test_code_blocks_dedent_list_items() -> None:
    text = "1. Code:\n    ```python\n    def f():\n        return 1\n    ```\n"
    assert code_blocks(text) == [CodeBlock("python", "def f():\n    return 1\n", True)]


def test_select_code_returns_a_body_only_block_as_written() -> None:
    output = "```python\n    return sorted(set(l))\n```"
    assert select_code(output, entry_point="unique") == "    return sorted(set(l))\n"
    assert extract_code(output, entry_point="unique") == ""  # not a module on its own


def test_select_code_ignores_blocks_in_other_languages() -> None:
    assert select_code("```bash\npython sol.py\n```\n```json\n{}\n```") == ""


def test_normalize_output_drops_reasoning() -> None:
    assert normalize_output("<think>\nhmm\n</think>\nanswer") == "\nanswer"
    assert normalize_output("answer only") == "answer only"
    assert normalize_output("<think>\nstill thinking when cut") == ""
    # Templates that open the think block in the prompt leave only its end in the output.
    assert normalize_output("reasoning...\n</think>\n\nfinal") == "\n\nfinal"
    assert normalize_output("a\r\nb\rc") == "a\nb\nc"


def test_parseable_prefix_drops_trailing_prose_and_cut_statements() -> None:
    assert parseable_prefix("x = 1\ny = (2 +\n") == "x = 1\n"
    assert parseable_prefix("def f():\n    return 1\nThat is all.") == "def f():\n    return 1\n"
    assert parseable_prefix("just words here") == ""
    assert parseable_prefix('s = """never closed\nmore') == ""


def test_pathological_outputs_give_no_code_rather_than_errors() -> None:
    assert parseable_prefix("def f(x):\n    return x\x00\n") == ""  # null byte: ValueError in 3.11
    assert extract_code("```python\ndef f():\n    return " + "-" * 100_000 + "1\n```") == ""
    assert extract_code("```python\nx = " + "(" * 300 + "1" + ")" * 300 + "\n```") == ""


def test_clean_code_keeps_definitions_and_what_they_read() -> None:
    code = (
        "import os\n"
        "from math import sqrt as root\n"
        "SCALE = 2\n"
        "unused = 3\n"
        "\n"
        "class Point:\n"
        "    def norm(self):\n"
        "        return root(self.x ** 2) * SCALE\n"
        "\n"
        "for i in range(3):\n"
        "    print(i)\n"
        "p = Point(); print(p)\n"
    )
    assert clean_code(code) == (
        "import os\n"
        "from math import sqrt as root\n"
        "SCALE = 2\n"
        "\n"
        "\n"
        "class Point:\n"
        "    def norm(self):\n"
        "        return root(self.x ** 2) * SCALE\n"
    )


def test_clean_code_keeps_a_global_the_function_assigns() -> None:
    code = "calls = 0\n\ndef f():\n    global calls\n    calls += 1\n    return calls\n\nf()\n"
    assert clean_code(code) == (
        "calls = 0\n\n\ndef f():\n    global calls\n    calls += 1\n    return calls\n"
    )


def test_clean_code_keeps_an_assignment_on_a_shared_line_apart() -> None:
    assert clean_code("import math; print(math.pi)\ndef f():\n    return math.pi\n") == (
        "import math\n\n\ndef f():\n    return math.pi\n"
    )


def test_defines_function_needs_a_top_level_def() -> None:
    assert defines_function("def f(x):\n    pass\n", "f")
    assert defines_function("async def f():\n    pass\n", "f")
    assert not defines_function("class A:\n    def f(self):\n        pass\n", "f")
    assert not defines_function("def f_2(x):\n    pass\n", "f")
    assert defines_function("def f(x):\n    return (", "f")  # needs no parse


def test_imports_and_definitions_of_a_prompt() -> None:
    prompt = (
        "import math\n"
        "from typing import List\n\n\n"
        "def poly(xs: list, x: float):\n"
        '    """Evaluates a polynomial."""\n'
        "    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n\n\n"
        "def find_zero(xs: list):\n"
        '    """ stub: the model writes this one """\n'
    )
    assert imports_and_definitions(prompt) == (
        "import math\n"
        "from typing import List\n\n\n"
        "def poly(xs: list, x: float):\n"
        '    """Evaluates a polynomial."""\n'
        "    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n"
    )
    # What the model's code defines itself is not repeated.
    assert imports_and_definitions(prompt, exclude=frozenset({"poly", "List"})) == "import math\n"


def test_imports_and_definitions_of_a_fragment_that_does_not_parse() -> None:
    fragment = (
        "# Write a function to find the volume of a sphere.\nimport math\ndef volume_sphere(r):\n"
    )
    assert imports_and_definitions(fragment) == "import math\n"


def test_top_level_names() -> None:
    assert top_level_names(
        "import a.b as c\nimport d.e\nX, Y = 1, 2\ndef f(): pass\nclass K: pass\n"
    ) == {
        "c",
        "d",
        "X",
        "Y",
        "f",
        "K",
    }
    assert top_level_names("def (") == frozenset()


def test_hoist_future_imports() -> None:
    program = "import os\n\nfrom __future__ import annotations\ndef f() -> int:\n    return 1\n"
    hoisted = hoist_future_imports(program)
    assert (
        hoisted
        == "from __future__ import annotations\nimport os\n\ndef f() -> int:\n    return 1\n"
    )
    compile(hoisted, "hoisted", "exec")
    assert hoist_future_imports("x = 1\n") == "x = 1\n"


def test_extracted_program_runs() -> None:
    (case,) = [c for c in CASES if c.name == "helper_in_own_block"]
    namespace: dict[str, object] = {}
    exec(compile(case.program, "prime_fib", "exec"), namespace)  # noqa: S102 - our own fixture
    assert [namespace["prime_fib"](n) for n in range(1, 6)] == [2, 3, 5, 13, 89]  # type: ignore[operator]
    assert isinstance(ast.parse(case.program), ast.Module)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_truncation_of_an_output_extracts_compilable_code(case: Case) -> None:
    """An output can be cut at any character by the token limit: never an error, never code
    that does not compile (the answer may be empty)."""
    for end in range(0, len(case.output) + 1, 3):
        code = extract_code(case.output[:end], entry_point=case.entry_point, prefer=case.prefer)
        compile(code, f"{case.name}[:{end}]", "exec")
        sanitize_completion(case.output[:end])
