"""From a model's raw output to Python source.

Real outputs are messy: prose around fenced blocks (```python, ```py, bare ```, a final fence
never closed), several blocks (the solution, then "example usage"), code with its own tests
appended, `<think>` reasoning, Windows newlines, tab indentation, text cut at the token limit.
Each function here does one deterministic thing; a style (see `styles`) composes them into its
single, recorded post-processing.

- `truncate_at_stops`: cut at the earliest stop sequence (what the engine's stop list does).
- `sanitize_completion`: a base-model completion that continues a function body, cut at the first
  top-level line (the body has ended; what follows is the model starting something else).
- `select_code`: the raw code a chat answer gives: the fenced block that defines the entry point
  (first or last, per style), else the first/last Python block, else the code after the prose.
- `clean_code`: with `ast`, like evalplus's sanitizer: keep the longest parseable prefix, then
  only imports, functions, classes and the module-level assignments they use; drop test code,
  prints and `if __name__ == "__main__":` blocks. Unlike evalplus, functions are kept in source
  order with every definition (re-definitions included), so the program runs as written.
- `extract_code`: `select_code` + `clean_code`, plus the definitions the chosen block uses from
  the answer's other Python blocks (helpers written in a block of their own).
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from typing import Literal

Prefer = Literal["first", "last"]

PYTHON_LANGUAGES = frozenset({"", "python", "py", "python3", "py3"})
_BUILTINS = frozenset(dir(builtins))

_THINK_OPEN = re.compile(r"<think\s*>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think\s*>", re.IGNORECASE)
_FENCE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_FENCE_AT_END = re.compile(r"(?P<fence>`{3,})(?P<info>[A-Za-z0-9_+-]*)[ \t]*$")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#-]*")
_CODE_START = re.compile(
    r"^(?:(?:async[ \t]+)?def[ \t]|class[ \t]|import[ \t]|from[ \t]+[\w.]+[ \t]+import[ \t]|@\w)",
    re.MULTILINE,
)
_FUTURE_IMPORT = re.compile(r"^from[ \t]+__future__[ \t]+import[^\n]*\n?", re.MULTILINE)


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its language tag ("" when none), its code, whether its fence closed."""

    language: str
    code: str
    closed: bool


def normalize_output(text: str) -> str:
    """Unix newlines, and the answer without its `<think>` reasoning.

    With a closing `</think>` the answer is what follows the last one (templates that open the
    think block in the prompt produce only the closing tag). An opened block never closed means
    the output was cut while reasoning: there is no answer, so only the text before it is kept.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        return text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    return text[: opened.start()] if opened else text


def expand_indent_tabs(code: str) -> str:
    """Tabs in leading indentation become 4 spaces (prompts indent with spaces; mixing is a TabError)."""
    return re.sub(r"^[ \t]+", lambda m: m.group(0).replace("\t", "    "), code, flags=re.MULTILINE)


def truncate_at_stops(text: str, stops: tuple[str, ...] | list[str]) -> tuple[str, bool]:
    """`text` up to the earliest occurrence of any stop sequence, and whether one occurred."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def sanitize_completion(completion: str) -> str:
    """A function-body completion, cut before its first top-level (column 0) line.

    Such a line cannot belong to the body the prompt opened, so the body has ended: the model
    is writing test code, a `__main__` block or a new problem. Lines inside triple-quoted
    strings are not mistaken for it. Newlines are normalized, indentation tabs expanded and
    trailing blank lines dropped (one final newline), so equal bodies give equal programs.
    """
    text = expand_indent_tabs(completion.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    in_string: str | None = None
    end = len(lines)
    for index, line in enumerate(lines):
        if in_string is None and line[:1] not in ("", " ", "\t"):
            end = index
            break
        in_string = _string_state_after(line, in_string)
    body = "\n".join(lines[:end]).rstrip()
    return body + "\n" if body else ""


def _string_state_after(line: str, state: str | None) -> str | None:
    """Which triple quote is still open after `line` (a line-level approximation)."""
    position = 0
    while True:
        if state is None:
            found = [(line.find(q, position), q) for q in ('"""', "'''")]
            found = [(i, q) for i, q in found if i >= 0]
            hash_at = line.find("#", position)
            if not found or (0 <= hash_at < min(found)[0]):
                return None
            position, state = min(found)[0] + 3, min(found)[1]
        else:
            end = line.find(state, position)
            if end < 0:
                return state
            position, state = end + 3, None


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block of `text`, in order; a final fence never closed runs to the end.

    Fences may be indented (inside markdown list items: the indentation is removed from the
    code), use ``` or ~~~, carry an info string (```python title="x.py"), open at the end of a
    prose line ("Here it is: ```python"), or close at the end of a code line ("return x```").
    """
    blocks: list[CodeBlock] = []
    current: list[str] | None = None
    fence, indent, language = "", 0, ""
    for line in text.split("\n"):
        if current is None:
            opened = _FENCE_LINE.match(line) or _FENCE_AT_END.search(line)
            if opened:
                current, fence, language = (
                    [],
                    opened.group("fence"),
                    _language(opened.group("info")),
                )
                indent = len(opened.groupdict().get("indent") or "")
            continue
        stripped = line.strip()
        if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
            blocks.append(CodeBlock(language, "\n".join(current) + "\n", True))
            current = None
        elif fence[0] == "`" and stripped.endswith("```"):
            current.append(_dedent(line.rstrip()[:-3].rstrip("`"), indent))
            blocks.append(CodeBlock(language, "\n".join(current) + "\n", True))
            current = None
        else:
            current.append(_dedent(line, indent))
    if current is not None:
        blocks.append(CodeBlock(language, "\n".join(current), False))
    return blocks


def _language(info: str) -> str:
    match = _LANGUAGE.match(info.strip())
    return match.group(0).lower() if match else ""


def _dedent(line: str, indent: int) -> str:
    prefix = len(line) - len(line.lstrip(" \t"))
    return line[min(indent, prefix) :]


def defines_function(code: str, name: str) -> bool:
    """Whether `code` has a column-0 `def name(` (works on code that does not parse)."""
    pattern = rf"^(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\("
    return re.search(pattern, expand_indent_tabs(code), re.MULTILINE) is not None


def select_code(text: str, *, entry_point: str | None = None, prefer: Prefer = "first") -> str:
    """The raw code a model's answer gives (see the module doc); "" when it gives none.

    Without a usable Python block (no fence, or only a stray closing fence), the code is the
    text from the first line that starts Python code (def, class, import, decorator) on.
    """
    text = normalize_output(text)
    chosen = _choose_block(python_blocks(code_blocks(text)), entry_point, prefer)
    if chosen is not None:
        return chosen.code
    unfenced = "\n".join(line for line in text.split("\n") if not _FENCE_LINE.match(line))
    start = _CODE_START.search(unfenced)
    return unfenced[start.start() :] if start else ""


def python_blocks(blocks: list[CodeBlock]) -> list[CodeBlock]:
    return [block for block in blocks if block.language in PYTHON_LANGUAGES]


def _choose_block(
    blocks: list[CodeBlock], entry_point: str | None, prefer: Prefer
) -> CodeBlock | None:
    """Blocks defining the entry point, else blocks with definitions/imports, else non-empty
    ones (a bare fence never closed is a stray fence, not code); the first or the last."""
    defining = [b for b in blocks if entry_point and defines_function(b.code, entry_point)]
    with_code = [b for b in blocks if _CODE_START.search(expand_indent_tabs(b.code))]
    bodies = [b for b in blocks if b.code.strip() and (b.closed or b.language)]
    candidates = defining or with_code or bodies
    if not candidates:
        return None
    return candidates[0] if prefer == "first" else candidates[-1]


def parseable_prefix(code: str) -> str:
    """The longest prefix of whole lines that parses ("" if none): drops trailing prose and
    the unfinished statement of an output cut at the token limit."""
    lines = code.rstrip().split("\n")
    while lines and any(line.strip() for line in lines):
        source = "\n".join(lines)
        try:
            ast.parse(source)
            return source + "\n"
        except SyntaxError as error:
            lines = lines[: min((error.lineno or len(lines)) - 1, len(lines) - 1)]
        except (ValueError, MemoryError, RecursionError):  # null bytes; nesting past the parser
            return ""
    return ""


def clean_code(code: str) -> str:
    """Keep imports, functions, classes and the assignments they use; drop test code (see module doc)."""
    source = parseable_prefix(expand_indent_tabs(code))
    if not source:
        return ""
    return _render([(source, node) for node in _kept_nodes(ast.parse(source).body)])


def extract_code(text: str, *, entry_point: str | None = None, prefer: Prefer = "first") -> str:
    """The program a chat answer gives: `select_code`, `clean_code`, plus the imports and
    definitions it needs that the answer wrote in its other Python blocks."""
    chosen = select_code(text, entry_point=entry_point, prefer=prefer)
    code = clean_code(chosen)
    if not code:
        return ""
    others = [
        b.code for b in python_blocks(code_blocks(normalize_output(text))) if b.code != chosen
    ]
    needed = _definitions_from(others, _free_names(ast.parse(code)))
    return needed + "\n\n" + code if needed else code


# --- ast helpers ---------------------------------------------------------------------------

_DEFINITION = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORT = (ast.Import, ast.ImportFrom)


def _kept_nodes(body: list[ast.stmt]) -> list[ast.stmt]:
    """Imports, definitions, import guards, recursion-limit calls, and the assignments that
    definitions (or other kept assignments) read."""
    structural = [n for n in body if _is_structural(n)]
    used: set[str] = set().union(*(_free_names(n) for n in structural))
    assignments = [n for n in body if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))]
    kept_assignments: set[int] = set()
    changed = True
    while changed:
        changed = False
        for node in assignments:
            if id(node) not in kept_assignments and _bound_names(node) & used:
                kept_assignments.add(id(node))
                used |= _free_names(node)
                changed = True
    return [n for n in body if _is_structural(n) or id(n) in kept_assignments]


def _is_structural(node: ast.stmt) -> bool:
    if isinstance(node, _DEFINITION + _IMPORT):
        return True
    if isinstance(node, ast.Try):  # try: import x / except ImportError: ...
        return all(isinstance(n, _IMPORT) for n in node.body)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        return isinstance(func, ast.Attribute) and func.attr == "setrecursionlimit"
    return False


def _loaded_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound_names(node: ast.AST) -> set[str]:
    """Names a module-level statement binds."""
    if isinstance(node, _DEFINITION):
        return {node.name}
    if isinstance(node, _IMPORT):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.Try):
        return set().union(*(_bound_names(n) for n in node.body))
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


def _free_names(tree: ast.AST) -> set[str]:
    """Names `tree` reads but never binds anywhere (roughly; builtins excluded), plus the names
    its functions declare `global` (they live at module level even when assigned)."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, _DEFINITION):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, _IMPORT):
            bound |= _bound_names(node)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return (_loaded_names(tree) - bound - _BUILTINS) | declared_global


def _definitions_from(sources: list[str], wanted: set[str]) -> str:
    """Module-level statements of `sources` binding `wanted` names (first binder wins), with
    what they need in turn, in their source order."""
    providers: list[tuple[str, ast.stmt]] = []
    for source in sources:
        cleaned = clean_code(source)
        if cleaned:
            providers += [(cleaned, node) for node in ast.parse(cleaned).body]
    chosen: set[int] = set()
    queue, seen = list(wanted), set(wanted)
    while queue:
        name = queue.pop()
        node = next((n for _, n in providers if name in _bound_names(n)), None)
        if node is not None and id(node) not in chosen:
            chosen.add(id(node))
            extra = _free_names(node) - seen
            seen |= extra
            queue += sorted(extra)
    return _render([(source, node) for source, node in providers if id(node) in chosen])


def _segment(source: str, node: ast.stmt) -> str:
    """The source text of a module-level statement, decorators included."""
    if isinstance(node, _DEFINITION + (ast.Try,)):
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "\n".join(source.split("\n")[first - 1 : node.end_lineno])
    return ast.get_source_segment(source, node) or ""


def _render(pieces: list[tuple[str, ast.stmt]]) -> str:
    """Statements in order: simple ones one per line, compound ones two blank lines apart."""
    out = ""
    previous_simple = True
    for index, (source, node) in enumerate(pieces):
        simple = not isinstance(node, _DEFINITION + (ast.Try,))
        if index:
            out += "\n" if simple and previous_simple else "\n\n\n"
        out += _segment(source, node)
        previous_simple = simple
    return out + "\n" if out else ""


def hoist_future_imports(program: str) -> str:
    """`from __future__` imports must come first: move them to the top of an assembled program."""
    futures = _FUTURE_IMPORT.findall(program)
    if not futures:
        return program
    body = _FUTURE_IMPORT.sub("", program)
    return "".join(line if line.endswith("\n") else line + "\n" for line in futures) + body


_IMPORT_LINE = re.compile(
    r"^(?:import[ \t]+[^\n]+|from[ \t]+[\w.]+[ \t]+import[ \t]+[^\n]+)$", re.MULTILINE
)


def imports_and_definitions(fragment: str, *, exclude: frozenset[str] = frozenset()) -> str:
    """What a problem text gives a program for free: its imports and its complete definitions
    (helpers such as HumanEval/38's `encode_cyclic`) that bind a name not in `exclude`; stubs (a
    signature with only a docstring, `pass` or `...`) are left out. A fragment that does not
    parse (MBPP Pro's `def f(a):` with no body) gives its column-0 import lines only."""
    try:
        tree = ast.parse(fragment)
    except (SyntaxError, ValueError):
        return "".join(line + "\n" for line in _IMPORT_LINE.findall(fragment))
    kept = [
        node
        for node in tree.body
        if (isinstance(node, _IMPORT) and not _bound_names(node) <= exclude)
        or (isinstance(node, _DEFINITION) and not _is_stub(node) and node.name not in exclude)
    ]
    return _render([(fragment, node) for node in kept])


def top_level_names(code: str) -> frozenset[str]:
    """Names the module-level statements of `code` bind (empty if it does not parse)."""
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return frozenset()
    return frozenset().union(*(_bound_names(node) for node in body))


def _is_stub(node: ast.stmt) -> bool:
    """A definition whose body is only a docstring, `pass` or `...`."""
    return all(
        isinstance(n, ast.Pass)
        or (
            isinstance(n, ast.Expr)
            and isinstance(n.value, ast.Constant)
            and (isinstance(n.value.value, str) or n.value.value is Ellipsis)
        )
        for n in getattr(node, "body", [])
    )
