"""Run configurations: what `codebudget run` flags and sweep files map onto.

A `RunConfig` is everything that decides what a run produces; its canonical JSON is hashed
into the run id, so the same command resumes the same run and any change starts a new
one. Things that only change how fast it goes (worker counts, thread counts) are kept out
of the identity. A sweep file is a TOML table whose lists are expanded as a product.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from codebudget.errors import UserError

PromptStyleName = Literal["auto", "base", "instruct", "pro-paper", "cot", "1-shot"]


class DecodingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(512, ge=1, le=65536)
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0)
    seed: int = 0


class RunConfig(BaseModel):
    """One model on one benchmark with one prompt style and one decoding setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    backend: str = "llamacpp"
    benchmark: str
    prompt_style: PromptStyleName = "auto"
    n: int = Field(1, ge=1, le=10000, description="samples per task")
    limit: Optional[int] = Field(None, ge=1, description="only the first N tasks")
    decoding: DecodingConfig = DecodingConfig()
    n_ctx: int = Field(4096, ge=256)
    base_url: Optional[str] = None  # openai backend: one or more comma-separated URLs
    threads: Optional[int] = Field(None, ge=1, description="CPU threads for the engine (default: all cores)")
    label: Optional[str] = None

    @field_validator("model", "benchmark", "backend")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    def identity(self) -> dict[str, Any]:
        """The fields that decide the run's output (a label or a thread count does not)."""
        return self.model_dump(exclude={"label", "threads"})


class SweepFile(BaseModel):
    """`[sweep]` in a TOML file: lists are expanded as a cartesian product."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(min_length=1)
    benchmarks: list[str] = Field(min_length=1)
    backend: str = "llamacpp"
    prompt_styles: list[PromptStyleName] = ["auto"]
    decoding: list[DecodingConfig] = [DecodingConfig()]
    n: int = Field(1, ge=1)
    limit: Optional[int] = Field(None, ge=1)
    n_ctx: int = Field(4096, ge=256)
    base_url: Optional[str] = None
    threads: Optional[int] = Field(None, ge=1)


def load_sweep(path: Path) -> list[RunConfig]:
    """Read a sweep file into run configs; every mistake names the file and the field.

    `[sweep]` is one product; `[[sweep]]` repeated is several, run in order (a ladder on
    HumanEval in full and on MBPP limited to a subset, from one command).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"sweep file not found: {path}", "check the --config path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML: {exc}", "fix the syntax (see README, 'Sweeps')") from None
    if "sweep" not in data:
        raise UserError(f"{path}: no [sweep] table", "put the settings under a [sweep] header")
    tables = data["sweep"] if isinstance(data["sweep"], list) else [data["sweep"]]
    runs: list[RunConfig] = []
    for index, table in enumerate(tables):
        where = f"sweep[{index}]" if isinstance(data["sweep"], list) else "sweep"
        try:
            sweep = SweepFile.model_validate(table)
        except ValidationError as exc:
            raise UserError(f"{path}: {format_validation_error(exc, where)}",
                            "see README, 'Sweeps', for the fields and their types") from None
        for model, bench, style, dec in itertools.product(sweep.models, sweep.benchmarks,
                                                           sweep.prompt_styles, sweep.decoding):
            runs.append(RunConfig(model=model, backend=sweep.backend, benchmark=bench, prompt_style=style,
                                  n=sweep.n, limit=sweep.limit, decoding=dec, n_ctx=sweep.n_ctx,
                                  base_url=sweep.base_url, threads=sweep.threads))
    return runs


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
