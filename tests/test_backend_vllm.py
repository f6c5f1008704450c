"""The vLLM backend: its pure parts with stand-ins here, real generation on a CUDA machine."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from codebudget.backends import Decoding, Request, load_backend
from codebudget.backends.vllm_engine import (SEED_STRIDE, GpuMonitor, Timing, render_prompt, request_timing,
                                             sampling_kwargs, to_generation)
from codebudget.errors import UserError

HAVE_VLLM = importlib.util.find_spec("vllm") is not None
CHAT = ({"role": "user", "content": "Write a function that adds two numbers."},)


def test_the_module_imports_without_vllm() -> None:
    code = ("import sys, codebudget.backends.vllm_engine as m; assert m.VLLMBackend.name == 'vllm'; "
            "assert 'vllm' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(HAVE_VLLM, reason="vllm is installed here")
def test_load_backend_without_vllm_names_the_extra() -> None:
    with pytest.raises(UserError, match="vllm") as info:
        load_backend("vllm", model="HuggingFaceTB/SmolLM2-135M-Instruct")
    assert "pip install 'codebudget[vllm]'" in str(info.value)


# --- timing from RequestOutput.metrics, across vLLM versions ----------------------------------

def test_timing_from_v0_request_metrics() -> None:  # wall-clock times
    metrics = SimpleNamespace(arrival_time=100.0, first_scheduled_time=100.5, first_token_time=101.0,
                              last_token_time=103.0, time_in_queue=0.5, finished_time=103.25)
    assert request_timing(metrics) == Timing(ttft_s=1.0, seconds=3.25, queue_s=0.5, decode_s=2.25)
    unfinished = SimpleNamespace(arrival_time=100.0, first_scheduled_time=100.25, first_token_time=101.0,
                                 last_token_time=102.0, time_in_queue=None, finished_time=None)
    assert request_timing(unfinished) == Timing(ttft_s=1.0, seconds=2.0, queue_s=0.25, decode_s=1.0)


def test_timing_from_v1_request_state_stats() -> None:  # wall-clock arrival, monotonic engine-core stamps
    stats = SimpleNamespace(num_generation_tokens=9, arrival_time=1.7e9, queued_ts=50.0, scheduled_ts=50.25,
                            first_token_ts=50.75, last_token_ts=52.75, first_token_latency=0.875)
    assert request_timing(stats) == Timing(ttft_s=0.875, seconds=2.875, queue_s=0.25, decode_s=2.0)
    older = SimpleNamespace(arrival_time=1.7e9, queued_ts=50.0, scheduled_ts=50.25, first_token_ts=50.75,
                            last_token_ts=52.75)  # no first_token_latency: measured from queueing
    assert request_timing(older) == Timing(ttft_s=0.75, seconds=2.75, queue_s=0.25, decode_s=2.0)


def test_missing_or_unset_metrics_stay_none() -> None:
    assert request_timing(None) == Timing()
    unset = SimpleNamespace(arrival_time=0.0, queued_ts=0.0, scheduled_ts=0.0, first_token_ts=0.0,
                            last_token_ts=0.0, first_token_latency=0.0)
    assert request_timing(unset) == Timing()


# --- prompts and sampling ---------------------------------------------------------------------

class FakeTokenizer:
    """A character tokenizer with a tiny chat template; BOS is 1."""

    def __init__(self, template: str | None = "{% for m in messages %}...{% endfor %}") -> None:
        self.chat_template = template

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool) -> str:
        assert tokenize is False and add_generation_prompt is True
        return "<s>" + "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages) + "<assistant>"

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return ([1] if add_special_tokens else []) + [ord(c) for c in text]


def test_render_prompt_uses_the_chat_template_and_appends_the_prefill() -> None:
    tokenizer = FakeTokenizer()
    text, special = render_prompt(tokenizer, Request("t", 0, messages=CHAT, prefill="```python\n"))
    assert text == f"<s><user>{CHAT[0]['content']}</user><assistant>```python\n" and special is False
    assert render_prompt(tokenizer, Request("t", 0, prompt="def f():", prefill="\n")) == ("def f():\n", True)
    with pytest.raises(UserError, match="no chat template"):
        render_prompt(FakeTokenizer(template=None), Request("t", 0, messages=CHAT))
    with pytest.raises(UserError, match="prompt or chat messages"):
        render_prompt(tokenizer, Request("t", 0))


def test_sampling_kwargs_per_sample() -> None:
    decoding = Decoding(max_new_tokens=64, temperature=0.8, top_p=0.95, seed=2, stop=("\ndef",))
    kwargs = sampling_kwargs(decoding, sample=3, max_tokens=40, top_k_off=0)
    assert kwargs == {"n": 1, "temperature": 0.8, "top_p": 0.95, "top_k": 0, "max_tokens": 40,
                      "seed": 2 * SEED_STRIDE + 3, "stop": ["\ndef"]}
    assert sampling_kwargs(Decoding(top_k=5), 0, 8)["top_k"] == 5 and sampling_kwargs(Decoding(), 0, 8)["stop"] is None


# --- the whole backend against a stand-in `vllm` module -------------------------------------

@dataclass
class FakeCompletion:
    text: str
    token_ids: list[int]
    finish_reason: str
    stop_reason: Any = None


@dataclass
class FakeOutput:
    prompt_token_ids: list[int]
    outputs: list[FakeCompletion]
    metrics: Any = None


@dataclass
class FakeSamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 16
    seed: int | None = None
    stop: list[str] | None = None


@dataclass
class FakeLLM:
    options: dict[str, Any]
    calls: list[tuple[list[Any], list[Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.options["model"] == "missing/model":
            raise OSError("missing/model is not a local folder and is not a valid model identifier")
        config = SimpleNamespace(max_model_len=self.options.get("max_model_len", 64), dtype="torch.bfloat16")
        self.llm_engine = SimpleNamespace(model_config=config)

    def get_tokenizer(self) -> FakeTokenizer:
        return FakeTokenizer()

    def generate(self, prompts: list[Any], params: list[Any], use_tqdm: bool = True) -> list[FakeOutput]:
        self.calls.append((prompts, params))
        outputs = []
        for i, (prompt, p) in enumerate(zip(prompts, params, strict=True)):
            ids = list(range(100, 100 + min(3 + i, p.max_tokens)))
            finish = "length" if len(ids) == p.max_tokens else "stop"
            metrics = SimpleNamespace(arrival_time=10.0, first_scheduled_time=10.0 + i, first_token_time=11.0 + i,
                                      last_token_time=12.0 + i, time_in_queue=float(i), finished_time=12.5 + i)
            outputs.append(FakeOutput(prompt["prompt_token_ids"], [FakeCompletion(f"out{i}", ids, finish)], metrics))
        return outputs


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.__version__ = "0.0-fake"  # type: ignore[attr-defined]
    module.LLM = lambda **options: FakeLLM(options)  # type: ignore[attr-defined]
    module.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_all_requests_go_into_one_generate_call(fake_vllm: types.ModuleType) -> None:
    backend = load_backend("vllm", model="org/model", max_model_len=128, enforce_eager=True)
    assert backend.llm.options["enforce_eager"] is True and backend.llm.options["tensor_parallel_size"] == 1
    requests = [Request("a", 0, prompt="def f():"), Request("b", 1, messages=CHAT, prefill="```"),
                Request("c", 0, prompt="x" * 124)]
    out = list(backend.generate(requests, Decoding(max_new_tokens=8, seed=1, stop=("\n\n",))))
    assert len(backend.llm.calls) == 1
    prompts, params = backend.llm.calls[0]
    assert [p["prompt_token_ids"] for p in prompts] == [backend.render(r) for r in requests]
    assert prompts[0]["prompt_token_ids"][0] == 1 and prompts[1]["prompt_token_ids"][0] != 1  # BOS once
    assert [p.seed for p in params] == [SEED_STRIDE, SEED_STRIDE + 1, SEED_STRIDE]
    assert [p.max_tokens for p in params] == [8, 8, 128 - 125]  # clamped to the context
    assert params[0].top_k == 0 and params[0].stop == ["\n\n"]  # the installed vLLM's "off" value
    assert [g.task_id for g in out] == ["a", "b", "c"]
    for i, (g, p) in enumerate(zip(out, prompts, strict=True)):
        assert g.prompt_tokens == len(p["prompt_token_ids"]) and g.completion_tokens == len(g.token_ids or ())
        assert (g.ttft_s, g.seconds, g.extra["queue_s"], g.extra["decode_s"]) == (1.0 + i, 2.5 + i, float(i), 1.5)
        assert g.token_times is None and g.energy_j is None and g.extra["batch_size"] == 3
    assert out[2].finish_reason == "length" and out[2].completion_tokens == 3
    assert out[0].extra["batch_completion_tokens"] == 3 + 4 + 3
    described = backend.describe()
    assert (described["version"], described["dtype"], described["tensor_parallel_size"]) == \
        ("0.0-fake", "torch.bfloat16", 1)


def test_a_prompt_over_the_context_and_a_bad_model_are_user_errors(fake_vllm: types.ModuleType) -> None:
    backend = load_backend("vllm", model="org/model", max_model_len=16)
    with pytest.raises(UserError, match="more than the context of 16"):
        list(backend.generate([Request("long", 0, prompt="y" * 20)], Decoding()))
    with pytest.raises(UserError, match="vLLM could not load missing/model"):
        load_backend("vllm", model="missing/model")
    backend.close()


def test_to_generation_keeps_the_stop_reason() -> None:
    output = FakeOutput([1, 2], [FakeCompletion("x", [5, 6], "stop", stop_reason="\n\n")])
    g = to_generation(Request("t", 2, prompt="p"), output, {"batch": 1})
    assert (g.sample, g.prompt_tokens, g.completion_tokens, g.token_ids) == (2, 2, 2, (5, 6))
    assert g.extra["stop_reason"] == "\n\n" and g.ttft_s is None and g.extra["batch"] == 1


# --- GPU readings through NVML ----------------------------------------------------------------

def fake_pynvml(devices: int = 4) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    energy = {i: 1_000_000 for i in range(devices)}

    def total_energy(handle: int) -> int:
        energy[handle] += 2_500  # mJ per reading
        return energy[handle]

    module.nvmlInit = lambda: None  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: devices  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByUUID = lambda uuid: int(uuid.rsplit("-", 1)[1])  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: f"GPU{h}".encode()  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: SimpleNamespace(used=(h + 1) * 2**30)  # type: ignore[attr-defined]
    module.nvmlDeviceGetTotalEnergyConsumption = total_energy  # type: ignore[attr-defined]
    return module


def test_gpu_monitor_reads_nvml_on_the_engines_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-uuid-3,0")
    monitor = GpuMonitor(device_count=2)
    assert monitor.handles == [2, 3] and monitor.names() == ["GPU2", "GPU3"]
    monitor.start()
    reading = monitor.stop()
    if reading["peak_gpu_source"] == "nvml":  # torch reports nothing without a CUDA device in this process
        assert reading["peak_gpu_bytes"] == (3 + 4) * 2**30
    assert reading["batch_energy_j"] == pytest.approx(2 * 2.5)


def test_gpu_monitor_without_nvml_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    monitor = GpuMonitor(device_count=1)
    monitor.start()
    assert monitor.stop()["batch_energy_j"] is None and monitor.names() == []


# --- real generation (a CUDA machine with vllm installed) ---------------------------------------

@pytest.mark.slow
def test_real_generation_on_a_gpu() -> None:
    pytest.importorskip("vllm", reason="vllm is not installed (pip install 'codebudget[vllm]' on a CUDA machine)")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: vLLM generation runs on a GPU machine")
    model = os.environ.get("CODEBUDGET_VLLM_MODEL")
    try:
        backend = load_backend("vllm", model=model or "HuggingFaceTB/SmolLM2-135M-Instruct", max_model_len=2048,
                               gpu_memory_utilization=0.3, enforce_eager=True)
    except UserError as exc:
        if model:  # asked for explicitly: its failure counts
            raise
        pytest.skip(f"the default model could not be loaded ({exc.message}); set CODEBUDGET_VLLM_MODEL to a "
                    "Hugging Face id or a local model folder")
    try:
        requests = [Request("p0", 0, prompt="def add(a, b):\n"), Request("p1", 0, prompt="def is_even(n):\n"),
                    Request("c0", 0, messages=CHAT), Request("c1", 0, messages=CHAT, prefill="```python\n")]
        decoding = Decoding(max_new_tokens=24, stop=("\n\n\n",))
        first = {g.task_id: g for g in backend.generate(requests, decoding)}
        again = {g.task_id: g for g in backend.generate(requests, decoding)}
        for request in requests:
            g = first[request.task_id]
            assert g.text and g.finish_reason in ("stop", "length")
            assert g.prompt_tokens == len(backend.render(request))
            assert g.completion_tokens == len(g.token_ids or ()) and 0 < (g.completion_tokens or 0) <= 24
            assert g.token_ids == again[request.task_id].token_ids  # greedy is deterministic
            if g.ttft_s is not None and g.seconds is not None:
                assert 0 < g.ttft_s <= g.seconds
            assert g.peak_gpu_bytes is None or g.peak_gpu_bytes > 0
        described = backend.describe()
        assert described["version"] and described["tensor_parallel_size"] == 1
    finally:
        backend.close()


def test_to_generation_drops_an_end_token_but_keeps_a_stop_string_token() -> None:
    eos = FakeOutput([1, 2], [FakeCompletion("x", [5, 6, 99], "stop", stop_reason=None)])
    g = to_generation(Request("t", 0, prompt="p"), eos, {}, frozenset({99}))
    assert g.token_ids == (5, 6) and g.completion_tokens == 2
    stop_id = FakeOutput([1, 2], [FakeCompletion("x", [5, 7], "stop", stop_reason=7)])
    assert to_generation(Request("t", 0, prompt="p"), stop_id, {}, frozenset({99})).token_ids == (5,)
    string = FakeOutput([1, 2], [FakeCompletion("x", [5, 6, 99], "stop", stop_reason="\n")])
    assert to_generation(Request("t", 0, prompt="p"), string, {}, frozenset({99})).completion_tokens == 3
    length = FakeOutput([1, 2], [FakeCompletion("x", [5, 99], "length")])
    assert to_generation(Request("t", 0, prompt="p"), length, {}, frozenset({99})).completion_tokens == 2
