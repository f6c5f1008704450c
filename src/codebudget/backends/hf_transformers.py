"""Hugging Face transformers: batched generation on CPU or GPU, from GGUF or safetensors.

`model` is a local GGUF file or a local model folder (safetensors). A GGUF file is
dequantized once and kept as safetensors under `$CODEBUDGET_CACHE/converted/` (see
hf_gguf.py); later loads read that copy. Weights are cast to the requested dtype on load.

Requests are generated in batches of `batch_size`, in the order given, with left padding.
What every cost field means here:
- `prompt_tokens`: the row's own (un-padded) prompt length.
- `completion_tokens` / `token_ids`: the generated tokens up to and including the token
  that ended the row: the end-of-generation token (it was computed, so it is counted), the
  token that completed a stop string, or the last one allowed by `max_new_tokens`.
  The text never contains the end token; it is cut at the first stop string.
- `token_times`: a `StoppingCriteria`-style hook runs once per decoding step, after the
  step's tokens exist (on a GPU, reading them synchronises), and records the time since
  the batch started. All rows of a batch share these step times; a row's `token_times` are
  the first `completion_tokens` of them, `ttft_s` is the first (the whole batch's prefill
  included) and `seconds` the row's last. So per-sample times depend on the batch: compare
  per-sample latency only between runs with the same batch size.
- `peak_rss_bytes` / `peak_gpu_bytes`: the peak of the whole batch, shared by its rows.
Finish reasons: "stop" (end token or stop string) or "length".

CPU threads: torch runs one OpenMP thread per core by default, and they spin while they
wait for each other. When other processes want the same cores that collapses: SmolLM2-135M
one request at a time on 2 busy cores fell from ~19-27 tokens/s to 0.7. `threads=1`, or
`OMP_WAIT_POLICY=PASSIVE` set before torch is imported, avoids it (~16-17 tokens/s there),
but on a quiet machine they are ~30% slower than the default, so the default is kept;
`describe()` records both settings.

Determinism: greedy decoding is deterministic; sampling is seeded once per batch with
`seed * 1_000_003 + <sample index of the batch's first request>`, so sampled outputs depend
on how requests fall into batches (batch size, order, which samples a resumed run skips).
The model's own generation defaults (its generation_config.json may ask for sampling,
temperature, top_k, repetition penalty) are replaced: only `Decoding` decides.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codebudget.backends import hf_gguf
from codebudget.backends.base import Decoding, Generation, Request
from codebudget.backends.memory import peak_rss_bytes, reset_peak_rss
from codebudget.errors import UserError
from codebudget.models.fetch import model_cache_dir
from codebudget.models.presets import ModelPreset

# Special tokens that end generation wherever the vocabulary has them as special tokens,
# as llama.cpp's end-of-generation set does (so both engines stop on the same tokens).
_END_TOKENS = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>",
               "<|EOT|>", "<EOT>", "<｜end▁of▁sentence｜>")
_DTYPES = ("auto", "float32", "float16", "bfloat16")
# generation_config.json entries that do not change which tokens are generated
_NEUTRAL_KEYS = frozenset({"bos_token_id", "eos_token_id", "pad_token_id", "transformers_version", "use_cache",
                           "output_attentions", "output_hidden_states", "output_scores", "output_logits",
                           "return_dict_in_generate"})


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: str | Path, preset: ModelPreset | None = None, device: str = "auto",
                 dtype: str = "auto", batch_size: int = 8, cache_dir: str | Path | None = None,
                 threads: int | None = None) -> None:
        import torch
        import transformers

        self._torch = torch
        self._transformers = transformers
        self.model_path = Path(model).expanduser()
        self.preset = preset
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        if threads is not None:
            torch.set_num_threads(max(1, threads))  # process-wide, as torch's thread pool is
        self.device = _pick_device(torch, device)
        self.dtype_name = _pick_dtype(torch, dtype, self.device)
        self.converted_root = Path(cache_dir) if cache_dir is not None else model_cache_dir().parent / "converted"
        self.converted_dir: Path | None = None
        self.from_converted_cache = False
        self.gguf_fixes: list[str] = []  # where transformers misread the GGUF file (see hf_gguf)
        start = time.perf_counter()
        self.tokenizer, self.model = self._load()
        self.load_seconds = time.perf_counter() - start
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.end_ids = _end_token_ids(self.tokenizer, self.model.generation_config)
        self.ignored_generation_defaults = _reset_generation_config(transformers, self.model, self.end_ids,
                                                                    self.pad_id)
        self.n_ctx = int(getattr(self.model.config, "max_position_embeddings", 0) or 0) or None

    # --- loading ------------------------------------------------------------------------

    def _load(self) -> tuple[Any, Any]:
        if self.model_path.is_dir():
            return self._load_folder(self.model_path)
        if not self.model_path.is_file():
            raise UserError(f"model not found: {self.model_path}",
                            "pass a .gguf file or a model folder (config.json + safetensors)")
        if self.model_path.suffix.lower() != ".gguf":
            raise UserError(f"{self.model_path} is not a .gguf file", "pass a .gguf file or a model folder")
        target = hf_gguf.converted_folder(self.converted_root, self.model_path, self.preset)
        marker = hf_gguf.read_marker(target)
        if marker is not None:
            self.converted_dir, self.from_converted_cache = target, True
            self.gguf_fixes = list(marker.get("fixes", []))
            return self._load_folder(target)
        conversion = hf_gguf.convert(self._transformers, self._torch, self.model_path, target, self.preset)
        self.gguf_fixes = conversion.fixes
        self.converted_dir = target if conversion.saved else None
        return conversion.tokenizer, self._place(conversion.model)

    def _load_folder(self, folder: Path) -> tuple[Any, Any]:
        t = self._transformers
        try:
            tokenizer = t.AutoTokenizer.from_pretrained(folder)
            model = t.AutoModelForCausalLM.from_pretrained(folder, **{hf_gguf.dtype_kwarg(t): self._torch_dtype()})
        except (OSError, ValueError) as exc:
            raise UserError(f"transformers could not load {folder}: {exc}",
                            "pass a folder with config.json, tokenizer files and safetensors weights") from None
        return tokenizer, self._place(model)

    def _place(self, model: Any) -> Any:
        model = model.to(device=self.device, dtype=self._torch_dtype())
        model.eval()
        return model

    def _torch_dtype(self) -> Any:
        return getattr(self._torch, self.dtype_name)

    # --- the protocol -------------------------------------------------------------------

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def describe(self) -> dict[str, Any]:
        torch, config = self._torch, self.model.config
        return {
            "engine": "transformers",
            "version": self._transformers.__version__,
            "torch": torch.__version__,
            "model_path": str(self.model_path),
            "model_name": self.preset.name if self.preset else self.model_path.name,
            "architecture": (getattr(config, "architectures", None) or [config.model_type])[0],
            "device": self.device,
            "gpu": torch.cuda.get_device_name(0) if self.device.startswith("cuda") else None,
            "dtype": self.dtype_name,
            "torch_threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "attn_implementation": getattr(config, "_attn_implementation", None),
            "batch_size": self.batch_size,
            "n_ctx": self.n_ctx,
            "end_token_ids": sorted(self.end_ids),
            "pad_token_id": self.pad_id,
            "ignored_generation_defaults": self.ignored_generation_defaults,
            "load_seconds": round(self.load_seconds, 3),
            "converted_dir": str(self.converted_dir) if self.converted_dir else None,
            "from_converted_cache": self.from_converted_cache,
            "gguf_fixes": self.gguf_fixes,
        }

    def render(self, request: Request) -> str:
        """The exact prompt text the model sees."""
        if request.messages is None:
            return (request.prompt or "") + request.prefill
        if not self.has_chat_template:
            raise UserError(f"{self.model_path.name} has no chat template, so chat prompt styles "
                            "cannot be used with it", "use --prompt-style base")
        text = self.tokenizer.apply_chat_template([dict(m) for m in request.messages], tokenize=False,
                                                  add_generation_prompt=True)
        return str(text) + request.prefill

    def encode(self, request: Request) -> list[int]:
        """Prompt token ids. A chat template writes its own BOS; a raw prompt gets the tokenizer's."""
        ids = self.tokenizer(self.render(request), add_special_tokens=request.messages is None).input_ids
        if not ids:
            raise UserError(f"{request.task_id}: the prompt is empty and the tokenizer adds no BOS token",
                            "give the request a prompt")
        return list(ids)

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Generation]:
        batch: list[Request] = []
        for request in requests:
            batch.append(request)
            if len(batch) == self.batch_size:
                yield from self._batch(batch, decoding)
                batch = []
        if batch:
            yield from self._batch(batch, decoding)

    def close(self) -> None:
        self.model = None
        gc.collect()
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()

    # --- one batch ----------------------------------------------------------------------

    def _batch(self, batch: Sequence[Request], decoding: Decoding) -> list[Generation]:
        torch = self._torch
        prompts = [self.encode(r) for r in batch]
        width = max(len(p) for p in prompts)
        budget = decoding.max_new_tokens if self.n_ctx is None else min(decoding.max_new_tokens, self.n_ctx - width)
        if budget <= 0:
            raise UserError(f"{batch[0].task_id}: a prompt has {width} tokens, as many as the model's context "
                            f"of {self.n_ctx}", "shorten the prompt")
        input_ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        watch = _Watch(self, prompts, width, decoding.stop)
        torch.manual_seed(decoding.seed * 1_000_003 + batch[0].sample)
        reset_peak_rss()
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        watch.start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=budget,
                                      pad_token_id=self.pad_id, eos_token_id=sorted(self.end_ids),
                                      stopping_criteria=self._transformers.StoppingCriteriaList([watch]),
                                      return_dict_in_generate=True, output_scores=False,
                                      **_sampling(decoding))
        rss = peak_rss_bytes()
        gpu = int(torch.cuda.max_memory_allocated()) if self.device.startswith("cuda") else None
        rows = out.sequences[:, width:].tolist()
        return [self._row(request, prompt, rows[i], watch, i, rss, gpu, len(batch))
                for i, (request, prompt) in enumerate(zip(batch, prompts))]

    def _row(self, request: Request, prompt: list[int], row: list[int], watch: _Watch, i: int,
             rss: int | None, gpu: int | None, batch_len: int) -> Generation:
        end = watch.ends[i]
        steps = end.count if end else len(row)
        # The end-of-generation token is not a completion token (the convention of every
        # backend, see base.Generation); the step that produced it still counts in `seconds`.
        count = steps - 1 if end and end.by_token else steps
        ids = row[:count]
        text = watch.text(i, ids)
        if end and end.cut is not None:
            text = text[:end.cut]
        times = tuple(watch.times[:count])
        return Generation(
            task_id=request.task_id, sample=request.sample, text=text,
            prompt_tokens=len(prompt), completion_tokens=count, token_ids=tuple(ids),
            token_times=times, ttft_s=times[0] if times else None,
            seconds=watch.times[steps - 1] if steps else None,
            finish_reason="stop" if end else "length", peak_rss_bytes=rss, peak_gpu_bytes=gpu,
            extra={"batch_rows": batch_len, "batch_row": i},
        )


@dataclass(frozen=True)
class _End:
    count: int  # generated tokens up to and including the one that ended the row
    by_token: bool  # ended by an end-of-generation token (not part of the text)
    cut: int | None = None  # where the first stop string starts in the text


class _Watch:
    """Called by `generate` once per decoding step (as a stopping criterion): timestamps the
    step, notes each row's first end token or stop string, and tells `generate` which rows
    are done (it stops when all are)."""

    def __init__(self, backend: TransformersBackend, prompts: list[list[int]], width: int,
                 stops: tuple[str, ...]) -> None:
        self.torch = backend._torch
        self.tokenizer = backend.tokenizer
        self.end_ids = backend.end_ids
        self.width = width
        self.stops = tuple(s for s in stops if s)
        self.anchors = [p[-4:] for p in prompts]  # decode after a little prompt context: see text()
        self.start = 0.0
        self.times: list[float] = []
        self.ends: list[_End | None] = [None] * len(prompts)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        last = input_ids[:, -1].tolist()  # on a GPU this waits for the step to finish
        self.times.append(time.perf_counter() - self.start)
        step = len(self.times)
        for i, token in enumerate(last):
            if self.ends[i] is not None:
                continue
            if token in self.end_ids:
                self.ends[i] = _End(step, by_token=True)
            elif self.stops:
                cut = _first_stop(self.text(i, input_ids[i, self.width:].tolist()), self.stops)
                if cut is not None:
                    self.ends[i] = _End(step, by_token=False, cut=cut)
        torch = self.torch
        return torch.tensor([e is not None for e in self.ends], dtype=torch.bool, device=input_ids.device)

    def text(self, i: int, ids: list[int]) -> str:
        """The continuation's text as it reads after the prompt. Decoding it alone would drop
        a leading space with SentencePiece tokenizers (Llama, CodeLlama), which in code is
        indentation; so it is decoded after the prompt's last tokens, which are then cut off."""
        head = self._decode(self.anchors[i])
        whole = self._decode(self.anchors[i] + ids)
        return whole[len(head):] if whole.startswith(head) else self._decode(ids)

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))


# --- helpers ----------------------------------------------------------------------------------

def _sampling(decoding: Decoding) -> dict[str, Any]:
    if decoding.greedy:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": decoding.temperature, "top_p": decoding.top_p,
            "top_k": decoding.top_k}


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    positions = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(positions) if positions else None


def _pick_device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for, but torch sees no CUDA GPU", "use --device cpu")
    return device


def _pick_dtype(torch: Any, dtype: str, device: str) -> str:
    """auto: float32 on CPU (exact, and fast there); bfloat16 on a GPU that has it, else float16."""
    if dtype not in _DTYPES:
        raise UserError(f"unknown dtype {dtype!r}", f"choose one of: {', '.join(_DTYPES)}")
    if dtype != "auto":
        return dtype
    if not device.startswith("cuda"):
        return "float32"
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def _end_token_ids(tokenizer: Any, generation_config: Any) -> frozenset[int]:
    ids: set[int] = set()
    for value in (getattr(generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        ids.update(value if isinstance(value, list) else [value] if value is not None else [])
    special = set(getattr(tokenizer, "all_special_tokens", [])) | {
        str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if getattr(t, "special", False)}
    for token in _END_TOKENS:
        if token in special:
            ids.add(int(tokenizer.convert_tokens_to_ids(token)))
    return frozenset(int(i) for i in ids)


def _reset_generation_config(transformers: Any, model: Any, end_ids: frozenset[int], pad_id: int) -> dict[str, Any]:
    """Replace the model's generation defaults by a neutral config; return the ones dropped."""
    old = model.generation_config.to_diff_dict() if model.generation_config is not None else {}
    dropped = {k: v for k, v in old.items() if not k.startswith("_") and k not in _NEUTRAL_KEYS}
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=getattr(model.generation_config, "bos_token_id", None),
        eos_token_id=sorted(end_ids), pad_token_id=pad_id)
    return dropped
