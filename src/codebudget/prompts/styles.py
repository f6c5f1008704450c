"""Prompt styles: how a task becomes a request, and how the generated text becomes a program.

Every style has exactly one post-processing (`to_program`), recorded as `StyleSpec.program_rule`
with the run; a sample is never scored as the best of two post-processings.

Families (the benchmarks whose tasks share a prompt shape):
- humaneval: humaneval, humaneval-plus. The prompt ends inside the function (docstring closed).
- mbpp: mbpp, mbpp-full, mbpp-plus. The prompt is a docstring: description + one test assert.
- pro: humaneval-pro, mbpp-pro. `raw_problem` (base problem) + `new_problem` (self-invoking one).

Styles:
- `base`: raw completion of `task.prompt` as stored (ending in a newline, as human-eval and
  evalplus send it, so `program_from_completion` is exact), stopped with the
  bigcode-evaluation-harness stop lists. HumanEval: program = prompt + the completion cut at its
  first top-level line. MBPP: the completion is the whole program (test code dropped). Not for
  Pro: a completion of `raw_problem + new_problem` would leave the base function without a body.
- `instruct`: one user message (no system message: the model's template default applies) with
  the problem, the required function names and a request for one ```python block.
- `cot`: `instruct` asking for step-by-step reasoning first; the answer is the LAST block.
- `1-shot`: `instruct` plus one test assert of the task (see `example_test`).
- `pro-paper`: the CodeEval-Pro template, as raw text (see `PRO_PAPER_PROMPT_WRAPPER`); on
  HumanEval/MBPP tasks, the same paper's templates for the base benchmarks. Program =
  `completion_prefix` (raw_problem for Pro) + the text up to its first "```".

Program assembly for the chat styles (`instruct`, `cot`, `1-shot`), with `code` the extracted
code (`extract.extract_code`, preferring the block that defines the entry point):
- humaneval: if `code` defines the entry point: the prompt's imports and complete helper
  functions (HumanEval/10 `is_palindrome`, /32 `poly`, /38 `encode_cyclic`, /50 `encode_shift`,
  which the model was shown and may call without repeating), then `code`. Otherwise the answer
  is a function body: prompt + the selected block cut at its first top-level line.
- mbpp: `code` alone (the prompt is a docstring: nothing to keep).
- pro: the imports and complete definitions of `raw_problem` and `new_problem` (HumanEval Pro's
  new problems use `List` imported only in the raw problem), then `code`.
A prompt helper that `code` defines itself is not repeated: the model's version is the one used.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from typing import Literal, get_args

from codebudget.backends.base import Request
from codebudget.benchmarks.task import ScriptTests, Task
from codebudget.errors import UserError
from codebudget.prompts.extract import (
    Prefer,
    clean_code,
    defines_function,
    extract_code,
    hoist_future_imports,
    imports_and_definitions,
    normalize_output,
    sanitize_completion,
    select_code,
    top_level_names,
    truncate_at_stops,
)

PromptStyle = Literal["base", "instruct", "pro-paper", "cot", "1-shot"]
Family = Literal["humaneval", "mbpp", "pro"]
STYLES: tuple[PromptStyle, ...] = get_args(PromptStyle)
STYLE_VERSION = 1  # bump when any template or post-processing below changes

FAMILIES: dict[str, Family] = {
    "humaneval": "humaneval",
    "humaneval-plus": "humaneval",
    "mbpp": "mbpp",
    "mbpp-full": "mbpp",
    "mbpp-plus": "mbpp",
    "humaneval-pro": "pro",
    "mbpp-pro": "pro",
}

# bigcode-evaluation-harness, bigcode_eval/tasks/humaneval.py, GeneralHumanEval.__init__ stop_words.
# "\ndef" ends the completion at a helper written after the function: the Codex/bigcode protocol.
HUMANEVAL_BASE_STOPS = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
# bigcode-evaluation-harness, bigcode_eval/tasks/mbpp.py, MBPP.__init__ stop_words (no "\ndef":
# an MBPP completion is a whole program and may define helpers).
MBPP_BASE_STOPS = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")

# --- The CodeEval-Pro (HumanEval Pro / MBPP Pro, arXiv 2412.21199) inference template ----------
# github.com/CodeEval-Pro/CodeEval-Pro, eval/prompt_template.py, PROMPT_WRAPPER, verbatim: the
# Magicoder "@@ Instruction"/"@@ Response" format, but with no blank line after the first line
# (Magicoder's own MAGICODER_PROMPT has one). The text was read from a copy of that file (the
# module defining PROMPT_WRAPPER, COT_PROMPT_WRAPPER, PROMPT_WRAPPER_ONE_SHOT, PROMPT_WRAPPER_API,
# the names eval/inference.py and eval/run_api.py import) and agrees with OpenCompass's
# OFFICIAL_PROMPT_WRAPPER (configs/datasets/humaneval_pro/humaneval_pro_gen.py).
# eval/inference.py sends `PROMPT_WRAPPER.format(instruction=..., response=response_prefix)` to
# vLLM `LLM.generate` as raw text, for base and instruct models alike (no chat template), with
# stop=EOS below, then keeps each completion up to its first "```"; eval/harness.py scores
# `raw_problem + completion`. So this style is a raw-text request, and stopping at "```" gives
# the same completion without the tokens the paper generated and threw away. The README's "we
# use the higher score" of raw and sanitized outputs is not reproduced: one rule per style.
# (The paper's CoT and 1-shot variants put "Let's think step by step." in the response prefix or
# one test line in the instruction; our `cot` and `1-shot` are chat styles, not those variants.)
PRO_PAPER_PROMPT_WRAPPER = """You are an exceptionally intelligent coding assistant that consistently delivers accurate and reliable responses to user instructions.
@@ Instruction
{instruction}

@@ Response
{response}"""
PRO_PAPER_EOS = ("<|endoftext|>", "<|endofmask|>", "</s>", "<|EOT|>")  # eval/inference.py EOS
PRO_PAPER_STOPS = ("```", *PRO_PAPER_EOS)
# eval/utils.py, map_humaneval_pro_problem / map_mbpp_pro_problem (prompt1 = raw_problem.strip(),
# prompt2 = new_problem.strip()).
PRO_PAPER_PRO_INSTRUCTION = (
    "Write a solution of python file to the following problems, the solution of the second "
    "problem requires single or multiple calls to the first solution.\n"
    "```python\n{prompt1}\n{prompt2}\n```"
)
PRO_PAPER_PRO_RESPONSE = "```python\n{prompt1}\n"
# eval/utils.py, map_humaneval_problem (prompt = HumanEval+ prompt, stripped) and map_mbpp_problem
# (the MBPP+ docstring split at its first "assert"); the paper scored these with evalplus.
PRO_PAPER_HUMANEVAL_INSTRUCTION = (
    "Write a solution to the following problem:\n```python\n{prompt}\n```"
)
PRO_PAPER_HUMANEVAL_RESPONSE = "```python\n{prompt}"
PRO_PAPER_MBPP_INSTRUCTION = (
    "{instruction} Your code should satisfy the following assertion:\n```python\n{assertion}\n```"
)
PRO_PAPER_MBPP_RESPONSE = "```python"

# --- Our chat templates -------------------------------------------------------------------------
_ANSWER_FORMAT = (
    "Write the complete, self-contained solution, including the imports and helper functions "
    "it needs, in a single ```python code block."
)
_COT_FORMAT = (
    "Let's think step by step. First explain your reasoning, then give the final, complete, "
    "self-contained solution (with the imports and helper functions it needs) in a single "
    "```python code block at the end."
)


@dataclass(frozen=True)
class StyleSpec:
    """What a style sends and how its output becomes a program; recorded with every run."""

    style: PromptStyle
    family: Family | None  # None: not resolved for a benchmark (see `style_spec`)
    chat: bool  # True: `Request.messages`; False: raw `Request.prompt`
    stop: tuple[str, ...]  # stop sequences for the engine (the program rule applies them too)
    prefill: str  # text the assistant turn starts with ("" for every style here)
    program_rule: str  # the one post-processing, in words
    version: int = STYLE_VERSION


_CHAT_RULES: dict[Family, str] = {
    "humaneval": "extract_code(text, entry_point, {prefer}); defines entry_point: prompt "
    "imports+helpers + code; else prompt + sanitize_completion(select_code(...))",
    "mbpp": "extract_code(text, entry_point, {prefer})",
    "pro": "raw_problem/new_problem imports+helpers + extract_code(text, entry_point, {prefer})",
}
_BASE_RULES: dict[Family, str] = {
    "humaneval": "prompt + sanitize_completion(truncate_at_stops(text, HUMANEVAL_BASE_STOPS))",
    "mbpp": "completion_prefix + clean_code(normalize_output(truncate_at_stops(text, MBPP_BASE_STOPS)))",
}
_PAPER_RULE = (
    "completion_prefix + text up to its first ``` (CodeEval-Pro eval/inference.py, harness.py)"
)


def family_of(benchmark: str) -> Family:
    """The prompt family of a registered benchmark name."""
    try:
        return FAMILIES[benchmark]
    except KeyError:
        raise UserError(
            f"no prompt styles for benchmark {benchmark!r}",
            f"choose one of: {', '.join(FAMILIES)}",
        ) from None


def applicable_styles(benchmark: str) -> tuple[PromptStyle, ...]:
    """Every style but `base` for Pro benchmarks (see the module doc); all of them otherwise."""
    if family_of(benchmark) == "pro":
        return tuple(style for style in STYLES if style != "base")
    return STYLES


def choose_style(task_benchmark: str, model_is_instruct: bool) -> PromptStyle:
    """Pro benchmarks: `pro-paper` (raw text, the paper's setting for base and instruct models);
    otherwise `instruct` for instruct models and `base` for base models."""
    if family_of(task_benchmark) == "pro":
        return "pro-paper"
    return "instruct" if model_is_instruct else "base"


def style_spec(style: PromptStyle, benchmark: str | None = None) -> StyleSpec:
    """The spec of `style` on `benchmark`; a UserError if the style does not apply there.

    Without a benchmark (family None) the stops are those every family of the style shares:
    `to_program` still applies the family's full list, so programs are the same, but the engine
    may generate tokens the family's list would have saved. Pass the benchmark.
    """
    if style not in STYLES:
        raise UserError(f"unknown prompt style {style!r}", f"choose one of: {', '.join(STYLES)}")
    if benchmark is None:
        return _family_free_spec(style)
    family = family_of(benchmark)
    if style not in applicable_styles(benchmark):
        raise UserError(
            f"prompt style {style!r} does not apply to {benchmark}",
            f"choose one of: {', '.join(applicable_styles(benchmark))}",
        )
    if style == "base":
        stops = HUMANEVAL_BASE_STOPS if family == "humaneval" else MBPP_BASE_STOPS
        return StyleSpec(style, family, False, stops, "", _BASE_RULES[family])
    if style == "pro-paper":
        return StyleSpec(style, family, False, PRO_PAPER_STOPS, "", _PAPER_RULE)
    rule = _CHAT_RULES[family].format(prefer=_prefer(style))
    return StyleSpec(style, family, True, (), "", rule)


def _family_free_spec(style: PromptStyle) -> StyleSpec:
    specs = [style_spec(style, name) for name in FAMILIES if style in applicable_styles(name)]
    stop = tuple(s for s in specs[0].stop if all(s in spec.stop for spec in specs))
    rule = "; ".join(dict.fromkeys(f"{spec.family}: {spec.program_rule}" for spec in specs))
    return StyleSpec(style, None, specs[0].chat, stop, specs[0].prefill, rule)


def _prefer(style: PromptStyle) -> Prefer:
    return "last" if style == "cot" else "first"


# --- Requests -----------------------------------------------------------------------------------


def build_request(task: Task, style: PromptStyle, sample: int) -> Request:
    """The request for sample `sample` of `task` in `style`."""
    spec = style_spec(style, task.benchmark)
    if spec.chat:
        message = {"role": "user", "content": user_message(task, style)}
        return Request(task.task_id, sample, messages=(message,), prefill=spec.prefill)
    prompt = task.prompt if style == "base" else pro_paper_prompt(task)
    return Request(task.task_id, sample, prompt=prompt, prefill=spec.prefill)


def pro_paper_prompt(task: Task) -> str:
    """The exact text CodeEval-Pro's eval/inference.py generates from for this task."""
    family = family_of(task.benchmark)
    if family == "pro":
        prompt1 = task.metadata["raw_problem"].strip()
        prompt2 = task.metadata["new_problem"].strip()
        instruction = PRO_PAPER_PRO_INSTRUCTION.format(prompt1=prompt1, prompt2=prompt2)
        response = PRO_PAPER_PRO_RESPONSE.format(prompt1=prompt1)
    elif family == "humaneval":
        instruction = PRO_PAPER_HUMANEVAL_INSTRUCTION.format(prompt=task.prompt.strip())
        response = PRO_PAPER_HUMANEVAL_RESPONSE.format(prompt=task.prompt.strip())
    else:
        inner = task.prompt[task.prompt.index('"""') + 3 : task.prompt.rindex('"""')]
        at = inner.index("assert")
        description = inner[:at].strip()
        description += "" if description.endswith(".") else "."
        instruction = PRO_PAPER_MBPP_INSTRUCTION.format(
            instruction=description, assertion=inner[at:].strip()
        )
        response = PRO_PAPER_MBPP_RESPONSE
    return PRO_PAPER_PROMPT_WRAPPER.format(instruction=instruction, response=response)


def user_message(task: Task, style: PromptStyle) -> str:
    """The user turn of a chat style: the problem, an example test (1-shot), the answer format."""
    parts = [_problem_statement(task)]
    example = example_test(task) if style == "1-shot" else None
    if example:
        parts.append(f"The solution must pass this test:\n```python\n{example}\n```")
    parts.append(_COT_FORMAT if style == "cot" else _ANSWER_FORMAT)
    return "\n\n".join(parts)


def _problem_statement(task: Task) -> str:
    family = family_of(task.benchmark)
    if family == "humaneval":
        return (
            f"Complete the following Python function `{task.entry_point}`.\n\n"
            f"```python\n{task.prompt.strip()}\n```"
        )
    if family == "mbpp":
        description, test = _mbpp_parts(task.prompt)
        return (
            f"{description}\n\nWrite a Python function named `{task.entry_point}`. "
            f"It must pass this test:\n```python\n{test}\n```"
        )
    raw, new = task.metadata["raw_problem"].strip(), task.metadata["new_problem"].strip()
    return (
        "Solve the two problems below. The solution of the second problem must call the "
        "solution of the first one, once or several times.\n\n"
        f"```python\n{raw}\n\n{new}\n```\n\n"
        f"Write both functions: `{task.base_entry_point}` (the first problem) and "
        f"`{task.entry_point}` (the second problem)."
    )


def _mbpp_parts(prompt: str) -> tuple[str, str]:
    """(description, test assert) of an MBPP-family docstring prompt."""
    inner = prompt[prompt.index('"""') + 3 : prompt.rindex('"""')]
    lines = inner.strip().split("\n")
    at = max(i for i, line in enumerate(lines) if line.lstrip().startswith("assert"))
    return "\n".join(lines[:at]).strip(), "\n".join(lines[at:]).strip()


def example_test(task: Task) -> str | None:
    """One test assert to show in `1-shot` (None when the task has no usable one).

    - humaneval: the first one-line `assert` of `check` that calls `candidate` and reads no
      other local name, with `candidate` renamed to the entry point (HumanEval+'s `test` field
      holds the same `check`). None for HumanEval/32, /38, /50, whose asserts use random inputs.
    - mbpp: the first test assert that calls the entry point with arguments the prompt's assert
      does not use (MBPP+: from its `assertion` field, whose first assert is the prompt's with
      another comparison); the first assert if none does (Mbpp/37 of the full set repeats one).
    - pro: the first assert of `test_code` (the paper's 1-shot variant shows the same line).
    """
    family = family_of(task.benchmark)
    code = task.tests.code if isinstance(task.tests, ScriptTests) else ""
    if family == "humaneval":
        check = code or str(task.metadata.get("test", ""))
        return _first_candidate_assert(check, task.entry_point)
    if family == "mbpp":
        asserts = _assert_lines(code or str(task.metadata.get("assertion", "")))
        shown = _calls(_mbpp_parts(task.prompt)[1], task.entry_point)
        unseen = [line for line in asserts if not _calls(line, task.entry_point) & shown]
        return next(iter(unseen or asserts), None)
    return next(iter(_assert_lines(code)), None)


def _assert_lines(code: str) -> list[str]:
    lines = [line.strip() for line in code.split("\n") if line.strip().startswith("assert")]
    return [line for line in lines if _parses(line)]


def _calls(code: str, name: str) -> set[str]:
    """The argument lists `code` calls `name` with (as `ast.dump`s); empty if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {
        ast.dump(ast.Tuple(elts=node.args, ctx=ast.Load()))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    }


def _first_candidate_assert(check: str, entry_point: str) -> str | None:
    for line in _assert_lines(check):
        names = {n.id for n in ast.walk(ast.parse(line)) if isinstance(n, ast.Name)}
        if "candidate" in names and names <= set(dir(builtins)) | {"candidate"}:
            return re.sub(r"\bcandidate\b", entry_point, line)
    return None


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


# --- Programs -----------------------------------------------------------------------------------


def to_program(task: Task, style: PromptStyle, generated_text: str) -> str:
    """The program a sample is judged as: the style's one post-processing (see the module doc)."""
    spec = style_spec(style, task.benchmark)
    family = family_of(task.benchmark)
    if style == "pro-paper":
        return task.program_from_completion(paper_completion(generated_text))
    if style == "base":
        completion, _ = truncate_at_stops(generated_text, spec.stop)
        if family == "humaneval":
            return task.program_from_completion(sanitize_completion(completion))
        return task.program_from_completion(clean_code(normalize_output(completion)))
    return _chat_program(task, family, generated_text, _prefer(style))


def paper_completion(text: str) -> str:
    """CodeEval-Pro's completion: the generated text up to its first "```"."""
    index = text.find("```")
    return text[:index] if index != -1 else text


def _chat_program(task: Task, family: Family, text: str, prefer: Prefer) -> str:
    code = extract_code(text, entry_point=task.entry_point, prefer=prefer)
    if family == "humaneval" and not defines_function(code, task.entry_point):
        body = select_code(text, entry_point=task.entry_point, prefer=prefer)
        return task.program_from_completion(sanitize_completion(body))
    defined = top_level_names(code)
    context = [
        imports_and_definitions(f, exclude=defined) for f in _problem_fragments(task, family)
    ]
    return join_program(context, code)


def _problem_fragments(task: Task, family: Family) -> list[str]:
    """The problem text the model was shown, as the pieces its program may rely on."""
    if family == "humaneval":
        return [task.prompt]
    if family == "pro":
        return [task.metadata["raw_problem"], task.metadata["new_problem"]]
    return []


def join_program(context: list[str], code: str) -> str:
    """Context pieces (duplicates dropped) then the model's code; `__future__` imports first."""
    pieces = list(dict.fromkeys(piece for piece in [*context, code] if piece.strip()))
    return hoist_future_imports("\n\n".join(piece.rstrip("\n") + "\n" for piece in pieces))
