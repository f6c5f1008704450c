"""llama.cpp through llama-cpp-python: the fast CPU path for GGUF models.

Generation runs token by token through `Llama.generate`, so every cost field is exact:
the token ids are the engine's own, each token gets a timestamp as it is produced, stop
sequences are checked on the detokenised text, and the peak RSS is measured per sample.
Chat prompts are rendered with the model's own chat template (from the GGUF metadata),
so an assistant prefill (the Pro paper's prompt) can follow the generation prompt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from codebudget.backends.base import Decoding, Generation, Request
from codebudget.backends.memory import peak_rss_bytes, reset_peak_rss
from codebudget.errors import UserError


class LlamaCppBackend:
    name = "llamacpp"

    def __init__(self, model_path: str | Path, n_ctx: int = 4096, n_threads: int | None = None,
                 n_batch: int = 512) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise UserError(f"model file not found: {self.model_path}",
                            "run `codebudget models fetch NAME` or pass a path to a .gguf file")
        self.n_threads = n_threads or os.cpu_count() or 1
        start = time.perf_counter()
        try:
            self.llm = llama_cpp.Llama(model_path=str(self.model_path), n_ctx=n_ctx, n_threads=self.n_threads,
                                       n_batch=n_batch, verbose=False, seed=0)
        except ValueError as exc:
            raise UserError(f"llama.cpp could not load {self.model_path}: {exc}",
                            "check that the file is a complete GGUF model") from None
        self.load_seconds = time.perf_counter() - start
        self.n_ctx = n_ctx
        self._template = self.llm.metadata.get("tokenizer.chat_template")

    @property
    def has_chat_template(self) -> bool:
        return bool(self._template)

    def describe(self) -> dict[str, Any]:
        meta = self.llm.metadata
        return {
            "engine": "llama.cpp (llama-cpp-python)",
            "version": getattr(self._llama_cpp, "__version__", "?"),
            "model_path": str(self.model_path),
            "model_name": meta.get("general.name"),
            "architecture": meta.get("general.architecture"),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "device": "cpu",
            "load_seconds": round(self.load_seconds, 3),
        }

    def render(self, request: Request) -> str:
        """The exact prompt text the engine sees."""
        if request.messages is None:
            return (request.prompt or "") + request.prefill
        if not self._template:
            raise UserError(f"{self.model_path.name} has no chat template, so chat prompt styles "
                            "cannot be used with it", "use --prompt-style base")
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        bos = self._token_text(self.llm.token_bos())
        eos = self._token_text(self.llm.token_eos())
        formatter = Jinja2ChatFormatter(template=self._template, eos_token=eos, bos_token=bos)
        return formatter(messages=[dict(m) for m in request.messages]).prompt + request.prefill

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", "ignore")

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Generation]:
        for request in requests:
            yield self._one(request, decoding)

    def _one(self, request: Request, decoding: Decoding) -> Generation:
        prompt = self.render(request)
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        budget = min(decoding.max_new_tokens, self.n_ctx - len(tokens))
        if budget <= 0:
            raise UserError(f"{request.task_id}: the prompt has {len(tokens)} tokens, more than the "
                            f"context of {self.n_ctx}", "raise the context size (n_ctx)")
        self.llm.set_seed(decoding.seed * 1_000_003 + request.sample)
        reset_peak_rss()
        ids: list[int] = []
        times: list[float] = []
        finish = "length"
        text = ""
        start = time.perf_counter()
        for token in self.llm.generate(tokens, temp=decoding.temperature, top_p=decoding.top_p,
                                       top_k=decoding.top_k, min_p=0.0, repeat_penalty=1.0, reset=True):
            now = time.perf_counter() - start
            if self._is_end(token):
                finish = "stop"
                break
            ids.append(token)
            times.append(now)
            text = self.llm.detokenize(ids).decode("utf-8", "ignore")
            cut = _first_stop(text, decoding.stop)
            if cut is not None:
                text, finish = text[:cut], "stop"
                break
            if len(ids) >= budget:
                break
        seconds = time.perf_counter() - start
        return Generation(
            task_id=request.task_id, sample=request.sample, text=text,
            prompt_tokens=len(tokens), completion_tokens=len(ids), token_ids=tuple(ids),
            token_times=tuple(times), ttft_s=times[0] if times else None, seconds=seconds,
            finish_reason=finish, peak_rss_bytes=peak_rss_bytes(),
        )

    def _is_end(self, token: int) -> bool:
        vocab_is_eog = getattr(self._llama_cpp, "llama_vocab_is_eog", None)
        if vocab_is_eog is not None:
            vocab = self._llama_cpp.llama_model_get_vocab(self.llm.model)
            return bool(vocab_is_eog(vocab, token))
        return token == self.llm.token_eos()

    def close(self) -> None:
        self.llm.close() if hasattr(self.llm, "close") else None


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    positions = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(positions) if positions else None
