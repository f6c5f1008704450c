"""Prompt styles and code extraction: task -> `Request`, generated text -> program.

    from codebudget.prompts import build_request, choose_style, to_program
    style = choose_style(task.benchmark, model_is_instruct=True)
    request = build_request(task, style, sample=0)
    program = to_program(task, style, generation.text)
"""

from __future__ import annotations

from codebudget.prompts.extract import (
    CodeBlock,
    clean_code,
    code_blocks,
    extract_code,
    normalize_output,
    sanitize_completion,
    select_code,
    truncate_at_stops,
)
from codebudget.prompts.styles import (
    PRO_PAPER_PROMPT_WRAPPER,
    STYLES,
    Family,
    PromptStyle,
    StyleSpec,
    applicable_styles,
    build_request,
    choose_style,
    example_test,
    family_of,
    pro_paper_prompt,
    style_spec,
    to_program,
    user_message,
)

__all__ = [
    "PRO_PAPER_PROMPT_WRAPPER",
    "STYLES",
    "CodeBlock",
    "Family",
    "PromptStyle",
    "StyleSpec",
    "applicable_styles",
    "build_request",
    "choose_style",
    "clean_code",
    "code_blocks",
    "example_test",
    "extract_code",
    "family_of",
    "normalize_output",
    "pro_paper_prompt",
    "sanitize_completion",
    "select_code",
    "style_spec",
    "to_program",
    "truncate_at_stops",
    "user_message",
]
