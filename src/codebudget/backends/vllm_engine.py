"""vLLM offline batched inference: the GPU path.

All requests of a `generate` call go into ONE `LLM.generate` call, so vLLM schedules them
together (continuous batching, prefix caching). Prompts are tokenised here and sent as
token ids: a raw prompt gets the tokenizer's special tokens (BOS), chat messages are
rendered with the tokenizer's own chat template (`add_generation_prompt=True`) and the
prefill appended, so an assistant prefill (the Pro paper's prompt) works; `prompt_tokens`
is then exactly what the engine saw.

Cost fields per sample:
- `prompt_tokens`, `completion_tokens`, `token_ids`, `finish_reason`: from the
  `RequestOutput` (exact). `extra["stop_reason"]` is the stop string or token that ended it.
- `ttft_s`, `seconds`: from `RequestOutput.metrics`, whose fields differ across vLLM
  versions (V0's `RequestMetrics`: wall-clock arrival/first/last token times; V1's
  `RequestStateStats`: `first_token_latency` and engine-core monotonic timestamps; some V1
  versions send no metrics). Both count from the request's arrival, so in a batch they
  include the time the sample waited for others (`extra["queue_s"]` says how long it
  waited to be scheduled). What a version does not report stays None.
- `token_times`: None: offline mode does not time each token.
- `peak_gpu_bytes`: the peak over the batch (its samples run together), from torch's
  allocator when the engine runs in this process, else the peak device memory in use
  sampled with NVML (all processes on the engine's GPUs, vLLM's preallocated KV cache
  included); `extra["peak_gpu_source"]` says which.
- `energy_j`: None per sample. The batch's energy (NVML's total-energy counter on the
  engine's local GPUs, before and after; GPUs of other nodes and other processes' use of
  these GPUs are not separated) is in `extra["batch_energy_j"]`, with `batch_seconds` and
  `batch_completion_tokens` to attribute it if wanted.

Multi-node (tensor/pipeline parallel over Ray): pass `distributed_executor_backend="ray"`
(and e.g. `pipeline_parallel_size`) through `**engine_kwargs`; they go to `vllm.LLM` as is.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from codebudget.backends.base import Decoding, Generation, Request
from codebudget.errors import UserError

SEED_STRIDE = 1_000_003  # sample i of a run gets seed * SEED_STRIDE + i, as in the llama.cpp backend


@dataclass(frozen=True)
class Timing:
    ttft_s: float | None = None
    seconds: float | None = None
    queue_s: float | None = None
    decode_s: float | None = None


def _number(obj: Any, name: str) -> float | None:
    value = getattr(obj, name, None)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _difference(end: float | None, start: float | None) -> float | None:
    return end - start if end is not None and start is not None and end >= start else None


def request_timing(metrics: Any) -> Timing:
    """Per-request times from a RequestOutput's `metrics`, whatever the vLLM version."""
    if metrics is None:
        return Timing()
    if hasattr(metrics, "first_token_ts") or hasattr(metrics, "first_token_latency"):  # V1 RequestStateStats
        first, last = _number(metrics, "first_token_ts"), _number(metrics, "last_token_ts")
        queued, scheduled = _number(metrics, "queued_ts"), _number(metrics, "scheduled_ts")
        ttft = _number(metrics, "first_token_latency") or _difference(first, queued)
        decode = _difference(last, first)
        seconds = ttft + decode if ttft is not None and decode is not None else None
        return Timing(ttft, seconds, _difference(scheduled, queued), decode)
    arrival = _number(metrics, "arrival_time")  # V0 RequestMetrics: wall-clock times
    first = _number(metrics, "first_token_time")
    end = _number(metrics, "finished_time") or _number(metrics, "last_token_time")
    queue = _number(metrics, "time_in_queue")
    if queue is None:
        queue = _difference(_number(metrics, "first_scheduled_time"), arrival)
    return Timing(_difference(first, arrival), _difference(end, arrival), queue, _difference(end, first))


def render_prompt(tokenizer: Any, request: Request) -> tuple[str, bool]:
    """The exact prompt text and whether the tokenizer should add its special tokens."""
    if request.messages is None:
        if request.prompt is None:
            raise UserError(f"{request.task_id}: a request needs a prompt or chat messages")
        return request.prompt + request.prefill, True
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"{request.task_id}: the model's tokenizer has no chat template, so chat prompt "
                        "styles cannot be used with it", "use --prompt-style base")
    text = tokenizer.apply_chat_template([dict(m) for m in request.messages], tokenize=False,
                                         add_generation_prompt=True)
    return text + request.prefill, False  # the template writes its own special tokens


def sampling_kwargs(decoding: Decoding, sample: int, max_tokens: int, top_k_off: int = -1) -> dict[str, Any]:
    """SamplingParams for one sample (`top_k_off`: the installed vLLM's value for 'no top-k')."""
    return {
        "n": 1, "temperature": decoding.temperature, "top_p": decoding.top_p,
        "top_k": decoding.top_k if decoding.top_k > 0 else top_k_off, "max_tokens": max_tokens,
        "seed": decoding.seed * SEED_STRIDE + sample, "stop": list(decoding.stop) or None,
    }


def to_generation(request: Request, output: Any, extra: dict[str, Any],
                  end_ids: frozenset[int] = frozenset()) -> Generation:
    """One finished RequestOutput as a Generation. An end token that vLLM left at the end of
    the ids (EOS, or a stop token id) is dropped: it is not a completion token (base.Generation)."""
    completion = output.outputs[0]
    token_ids = tuple(int(t) for t in completion.token_ids)
    timing = request_timing(getattr(output, "metrics", None))
    stop_reason = getattr(completion, "stop_reason", None)
    finish = getattr(completion, "finish_reason", None)
    if finish == "stop" and token_ids and not isinstance(stop_reason, str) and (
            token_ids[-1] in end_ids or token_ids[-1] == stop_reason):
        token_ids = token_ids[:-1]
    return Generation(
        task_id=request.task_id, sample=request.sample, text=completion.text,
        prompt_tokens=len(output.prompt_token_ids), completion_tokens=len(token_ids), token_ids=token_ids,
        token_times=None, ttft_s=timing.ttft_s, seconds=timing.seconds,
        finish_reason=finish,
        extra={**extra, "queue_s": timing.queue_s, "decode_s": timing.decode_s,
               "stop_reason": stop_reason if isinstance(stop_reason, (str, int)) else None},
    )


class GpuMonitor:
    """Peak GPU memory and energy over a batch, on the GPUs the engine uses (when measurable)."""

    def __init__(self, device_count: int) -> None:
        self._nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self.handles = _engine_handles(pynvml, device_count)
        except Exception:  # no pynvml, no driver: these readings stay None
            self._nvml, self.handles = None, []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml_peak = 0
        self._energy0: list[int] | None = None

    def names(self) -> list[str]:
        names = []
        for handle in self.handles:
            name = self._nvml.nvmlDeviceGetName(handle)
            names.append(name.decode() if isinstance(name, bytes) else str(name))
        return names

    def start(self) -> None:
        _torch_reset_peak()
        self._energy0 = self._energy_mj()
        self._nvml_peak = 0
        if self.handles:
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample_memory, name="codebudget-nvml", daemon=True)
            self._thread.start()

    def stop(self) -> dict[str, Any]:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        energy1 = self._energy_mj()
        energy = (sum(energy1) - sum(self._energy0)) / 1000.0 if energy1 and self._energy0 else None
        torch_peak = _torch_peak()
        if torch_peak:
            peak, source = torch_peak, "torch"
        elif self._nvml_peak:
            peak, source = self._nvml_peak, "nvml"
        else:
            peak, source = None, None
        return {"peak_gpu_bytes": peak, "peak_gpu_source": source, "batch_energy_j": energy}

    def _sample_memory(self) -> None:
        while True:
            try:
                used = sum(int(self._nvml.nvmlDeviceGetMemoryInfo(h).used) for h in self.handles)
                self._nvml_peak = max(self._nvml_peak, used)
            except Exception:
                return
            if self._stop.wait(0.05):
                return

    def _energy_mj(self) -> list[int] | None:
        try:
            return [int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self.handles] or None
        except Exception:  # older GPUs have no energy counter
            return None


def _engine_handles(pynvml: Any, device_count: int) -> list[Any]:
    """NVML handles of the first `device_count` GPUs CUDA will use (NVML ignores CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or visible.strip() == "":
        ids: list[str] = [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
    else:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
    handles = []
    for ident in ids[:device_count]:
        if ident.isdigit():
            handles.append(pynvml.nvmlDeviceGetHandleByIndex(int(ident)))
        else:
            handles.append(pynvml.nvmlDeviceGetHandleByUUID(ident))
    return handles


def _torch_reset_peak() -> None:
    try:
        import torch

        for device in range(torch.cuda.device_count()):
            torch.cuda.reset_peak_memory_stats(device)
    except Exception:
        pass


def _torch_peak() -> int | None:
    try:
        import torch

        return sum(torch.cuda.max_memory_allocated(d) for d in range(torch.cuda.device_count())) or None
    except Exception:
        return None


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, tensor_parallel_size: int = 1, dtype: str = "auto",
                 gpu_memory_utilization: float = 0.9, max_model_len: int | None = None, seed: int = 0,
                 **engine_kwargs: Any) -> None:
        import vllm

        self._vllm = vllm
        self.model = model
        self.tensor_parallel_size = tensor_parallel_size
        self.engine_kwargs = dict(engine_kwargs)
        options: dict[str, Any] = dict(model=model, tensor_parallel_size=tensor_parallel_size, dtype=dtype,
                                       gpu_memory_utilization=gpu_memory_utilization, seed=seed, **engine_kwargs)
        if max_model_len is not None:
            options["max_model_len"] = max_model_len
        start = time.perf_counter()
        try:
            self.llm = vllm.LLM(**options)
        except (ValueError, OSError) as exc:
            raise UserError(f"vLLM could not load {model}: {exc}",
                            "check the model name or path, and that it fits the GPU memory "
                            "(gpu_memory_utilization, max_model_len)") from None
        self.load_seconds = time.perf_counter() - start
        self.tokenizer = self.llm.get_tokenizer()
        eos = getattr(self.tokenizer, "eos_token_id", None)
        self.end_ids = frozenset({eos} if isinstance(eos, int) else set())
        config = getattr(getattr(self.llm, "llm_engine", None), "model_config", None)
        self.max_model_len: int | None = getattr(config, "max_model_len", None) or max_model_len
        self.dtype = str(getattr(config, "dtype", dtype))
        self.gpu_memory_utilization = gpu_memory_utilization
        self._top_k_off = getattr(vllm.SamplingParams(), "top_k", -1)
        self.monitor = GpuMonitor(tensor_parallel_size)
        self._batches = 0

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "vLLM (offline LLM.generate)",
            "version": getattr(self._vllm, "__version__", "?"),
            "model": self.model,
            "tensor_parallel_size": self.tensor_parallel_size,
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "gpus": self.monitor.names() or _torch_gpu_names(),
            "engine_kwargs": {k: repr(v) for k, v in self.engine_kwargs.items()},
            "device": "cuda",
            "load_seconds": round(self.load_seconds, 3),
        }

    def render(self, request: Request) -> list[int]:
        """The exact token ids the engine sees."""
        text, special = render_prompt(self.tokenizer, request)
        return list(self.tokenizer.encode(text, add_special_tokens=special))

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Generation]:
        todo = list(requests)
        if not todo:
            return
        prompts, params = [], []
        for request in todo:
            ids = self.render(request)
            room = decoding.max_new_tokens if self.max_model_len is None else self.max_model_len - len(ids)
            if room <= 0:
                raise UserError(f"{request.task_id}: the prompt has {len(ids)} tokens, more than the context "
                                f"of {self.max_model_len}", "raise max_model_len")
            prompts.append({"prompt_token_ids": ids})
            budget = min(decoding.max_new_tokens, room)
            params.append(self._vllm.SamplingParams(**sampling_kwargs(decoding, request.sample, budget,
                                                                       self._top_k_off)))
        self._batches += 1
        self.monitor.start()
        start = time.perf_counter()
        try:
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
        finally:
            batch_seconds = time.perf_counter() - start
            gpu = self.monitor.stop()
        batch = {"batch": self._batches, "batch_size": len(todo), "batch_seconds": batch_seconds,
                 "batch_energy_j": gpu["batch_energy_j"], "peak_gpu_source": gpu["peak_gpu_source"],
                 "batch_completion_tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
                 "token_times_unit": None}
        for request, output in zip(todo, outputs, strict=True):
            generation = to_generation(request, output, batch, self.end_ids)
            yield _with_peak(generation, gpu["peak_gpu_bytes"])

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm, engine
        try:
            import gc

            import torch

            gc.collect()
            torch.cuda.empty_cache()
        except Exception:
            pass


def _with_peak(generation: Generation, peak: int | None) -> Generation:
    from dataclasses import replace

    return replace(generation, peak_gpu_bytes=peak)


def _torch_gpu_names() -> list[str]:
    try:
        import torch

        return [torch.cuda.get_device_name(d) for d in range(torch.cuda.device_count())]
    except Exception:
        return []
