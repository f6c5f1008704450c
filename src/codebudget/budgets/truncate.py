"""Post-hoc budgets: a stored generation cut where a smaller budget would have stopped it.

A run at the largest budget holds the answer for every smaller one. Generation is
left-to-right, so the first B tokens of a greedy sample are exactly what a run with
`max_new_tokens=B` produces (a sampled one is exact in distribution): decode those B ids
with the model's own tokenizer, apply the run's one post-processing, judge the program
(verdicts are cached by program hash, so a cut that changes nothing costs nothing).

Time, FLOPs, dollar and energy budgets become a token count per sample: the most tokens
whose cost fits. Tokens are counted without the end-of-generation token (see
backends.base.Generation), so a sample that stopped by itself within B tokens is unchanged.
"""

from __future__ import annotations

import bisect
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from codebudget.backends.base import Generation
from codebudget.budgets.axes import Axis, Price


class Detokenizer(Protocol):
    def text(self, ids: Sequence[int]) -> str: ...


class LlamaVocab:
    """The GGUF's vocabulary alone (no weights): decodes ids exactly as the llama.cpp backend did."""

    def __init__(self, model_path: str) -> None:
        import llama_cpp

        with _quiet_stderr():
            self.llm = llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)

    def text(self, ids: Sequence[int]) -> str:
        return self.llm.detokenize(list(ids)).decode("utf-8", "ignore") if ids else ""


class HfTokenizer:
    """A transformers tokenizer. Decoded without the prompt anchor the backend used, which only
    differs for SentencePiece tokenizers at a leading space (see hf_transformers._Watch.text)."""

    def __init__(self, name_or_path: str) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)

    def text(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False) if ids else ""


def _cached_preset(model: str) -> str | None:
    """Where this machine's cache holds the preset's verified weights (no download)."""
    from codebudget.models import preset_names, resolve_model

    if model not in preset_names():
        return None
    try:
        return str(resolve_model(model, download=False)[1])
    except Exception:  # not cached here: token cuts then say why they are unavailable
        return None


def detokenizer_for(backend_name: str, backend: dict[str, Any],
                    model: str | None = None) -> tuple[Detokenizer | None, str]:
    """The run's own tokenizer, or None with the reason token cuts are unavailable."""
    try:
        if backend_name == "llamacpp" and backend.get("model_path"):
            path = str(backend["model_path"])
            if not Path(path).is_file() and model is not None:
                path = _cached_preset(model) or path  # the store moved machines, or the cache did
            if not Path(path).is_file():
                return None, f"the model file {path} is no longer there (`codebudget models fetch` it again)"
            return LlamaVocab(path), ""
        if backend_name == "transformers":
            path = backend.get("converted_dir") or backend.get("model_path")
            if path and Path(str(path)).exists() and Path(str(path)).is_dir():
                return HfTokenizer(str(path)), ""
            return None, "the converted transformers checkpoint is no longer cached"
        if backend_name == "vllm" and backend.get("model"):
            return HfTokenizer(str(backend["model"])), ""
    except Exception as exc:  # a tokenizer that cannot load only disables token cuts
        return None, f"the tokenizer could not be loaded ({type(exc).__name__}: {exc})"
    return None, f"the {backend_name} backend stores no token ids"


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """llama.cpp warns about the context of a vocab-only model (from C, and through its Python
    log callback) even with verbose=False; the warning means nothing here."""
    try:
        saved = os.dup(2)
    except OSError:
        saved = -1
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            if saved >= 0:
                os.dup2(null.fileno(), 2)
            yield
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)


@dataclass(frozen=True)
class CostModel:
    """What one run's samples cost as a function of how many tokens they keep."""

    price: Price
    flops: Callable[[int, int], float] | None  # (prompt_tokens, completion_tokens) -> FLOPs

    def time_at(self, g: Generation, t: int) -> float | None:
        """Seconds until the t-th token (the whole sample when nothing is cut)."""
        c = g.completion_tokens or 0
        if t >= c:
            return g.seconds
        if t <= 0:
            return 0.0
        if g.token_times is None or len(g.token_times) < t:
            return None
        return g.token_times[t - 1]

    def cost_at(self, axis: Axis, g: Generation, t: int) -> float | None:
        if g.completion_tokens is None or g.prompt_tokens is None:
            return None
        if axis in ("tokens", "samples"):
            return float(t)
        if axis == "flops":
            return None if self.flops is None else self.flops(g.prompt_tokens, t)
        if axis == "seconds":
            return self.time_at(g, t)
        if axis == "dollars":
            return self.price.dollars(g.prompt_tokens, t, self.time_at(g, t))
        if axis == "energy":
            time_t = self.time_at(g, t)
            if g.energy_j is None or not g.seconds or time_t is None:
                return None
            return g.energy_j * min(time_t / g.seconds, 1.0)
        raise ValueError(f"unknown axis {axis!r}")

    def tokens_within(self, axis: Axis, g: Generation, threshold: float) -> int | None:
        """The most generated tokens whose cost stays within `threshold` (None: not measurable)."""
        c = g.completion_tokens
        if c is None or g.prompt_tokens is None:
            return None
        if axis == "tokens":
            return min(c, int(threshold))
        full = self.cost_at(axis, g, c)
        if full is None:
            return None
        if full <= threshold:
            return c
        if axis in ("seconds", "energy") or (axis == "dollars" and not self.price.by_tokens):
            if g.token_times is None:
                return None
            limit = threshold
            if axis == "energy":
                limit = threshold / g.energy_j * g.seconds  # type: ignore[operator]
            elif axis == "dollars":
                limit = threshold * 3600.0 / self.price.usd_per_hour  # type: ignore[operator]
            return bisect.bisect_right(g.token_times, limit, 0, c)
        # flops, or dollars by tokens: cost grows with t; the largest t in [0, c) that fits
        low, high = 0, c  # cost(high) > threshold
        while high - low > 1:
            mid = (low + high) // 2
            cost = self.cost_at(axis, g, mid)
            if cost is not None and cost <= threshold:
                low = mid
            else:
                high = mid
        return low
