"""What every backend takes and returns, and the protocol it implements.

A backend turns prompts into `Generation` records carrying the exact cost of each sample:
token counts and ids from the engine's own tokenizer, time to first token, a cumulative
time at every generated token (so time budgets can be applied after the fact), wall time,
peak memory and the finish reason. Fields a backend cannot measure stay None; they are
never estimated or invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Protocol, runtime_checkable


@dataclass(frozen=True)
class Decoding:
    """Sampling settings; part of a run's identity."""

    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    seed: int = 0
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class Request:
    """One sample to generate: the prompt (text, or chat messages) and its identity."""

    task_id: str
    sample: int
    prompt: str | None = None  # raw completion prompt
    messages: tuple[dict[str, str], ...] | None = None  # chat prompt (the backend applies its template)
    prefill: str = ""  # text the assistant turn starts with (part of the output)


@dataclass(frozen=True)
class Generation:
    """One generated sample and what it cost."""

    task_id: str
    sample: int
    text: str  # the generated text only (not the prompt, not the prefill)
    prompt_tokens: int | None
    # Generated tokens that are part of the output: an end-of-generation token (EOS, <|im_end|>)
    # is not counted (llama.cpp's and the llama.cpp server's convention; a budget of B tokens
    # then keeps exactly the first B ids); the decoding step that produced it is in `seconds`.
    completion_tokens: int | None
    token_ids: tuple[int, ...] | None = None
    token_times: tuple[float, ...] | None = None  # cumulative seconds at each generated token
    ttft_s: float | None = None
    seconds: float | None = None  # wall time of this sample (request sent -> last token)
    finish_reason: str | None = None  # "stop" | "length" | other engine reasons
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    energy_j: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """An inference engine. `generate` may batch internally; it yields as samples finish."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Engine, versions, device and settings, recorded with the run."""
        ...

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Generation]:
        ...

    def close(self) -> None:
        ...
