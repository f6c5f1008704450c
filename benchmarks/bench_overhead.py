#!/usr/bin/env python3
"""Harness overhead: `codebudget run`'s generation loop against llama.cpp called directly.

One invocation loads the GGUF model once per side and generates the same prompts (the first N
HumanEval prompts rendered with the model's chat template, greedy, MAX new tokens, the same
thread count) two ways, in alternating rounds (A B A B ...) so that background load hits both:

- anchor: llama-cpp-python's own `Llama.create_completion(prompt, max_tokens=MAX, temperature=0)`,
  the call a user would write;
- codebudget: exactly what `codebudget run` does per sample: the llamacpp backend (token-by-token
  timing, per-sample peak RSS, stop strings), program extraction, and the SQLite store's
  committed insert (WAL, synchronous=FULL), into a throwaway store.

It prints tokens/s of each side (generated tokens over the wall time of the whole loop), the
ratio codebudget / anchor per round and its median, and whether both generated the same number
of tokens. The issue's target: within 5 % (ratio >= 0.95).

Usage (from the repository root):
  .venv/bin/python benchmarks/bench_overhead.py [--model smollm2-135m] [--prompts 8]
      [--max-new-tokens 64] [--rounds 3] [--threads 1] [--backend llamacpp|transformers]

With --backend transformers the anchor is the same loaded model's plain
`model.generate(ids, do_sample=False)` and codebudget's side is the transformers backend at batch 1
(its per-step timing callback and end-token handling included).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from codebudget.backends import Decoding, load_backend
from codebudget.benchmarks import get_benchmark
from codebudget.models import resolve_model
from codebudget.prompts import build_request, style_spec, to_program
from codebudget.sandbox.judge import program_hash
from codebudget.store import Store


def transformers_side(args: argparse.Namespace) -> list[float]:
    """The transformers backend (batch 1, per-step timing callback, end-token handling) against
    the same loaded model's plain `model.generate(..., do_sample=False)`."""
    import torch

    from codebudget.backends.hf_transformers import TransformersBackend

    preset, path = resolve_model(args.model)
    backend = TransformersBackend(str(path), preset=preset, batch_size=1, threads=args.threads)
    tasks = get_benchmark("humaneval").load()[: args.prompts]
    requests = [build_request(t, "instruct", 0) for t in tasks]
    encoded = [backend.encode(r) for r in requests]
    decoding = Decoding(max_new_tokens=args.max_new_tokens, temperature=0.0)
    end_ids = sorted(backend.end_ids)

    def anchor() -> tuple[int, float]:
        start, tokens = time.perf_counter(), 0
        with torch.inference_mode():
            for ids in encoded:
                out = backend.model.generate(torch.tensor([ids]), max_new_tokens=args.max_new_tokens,
                                             do_sample=False, eos_token_id=end_ids, pad_token_id=backend.pad_id)
                row = out[0, len(ids):].tolist()
                tokens += next((i for i, t in enumerate(row) if t in backend.end_ids), len(row))
        return tokens, time.perf_counter() - start

    def ours() -> tuple[int, float]:
        start = time.perf_counter()
        tokens = sum(g.completion_tokens or 0 for g in backend.generate(requests, decoding))
        return tokens, time.perf_counter() - start

    return _rounds("transformers", args.rounds, anchor, ours)


def _rounds(name: str, rounds: int, anchor: Callable[[], tuple[int, float]],
            ours: Callable[[], tuple[int, float]]) -> list[float]:
    """Warm both sides up (pages the weights in), then alternate them; print each round's ratio."""
    anchor()
    ours()
    ratios = []
    for round_ in range(rounds):
        a_tokens, a_s = anchor()
        o_tokens, o_s = ours()
        ratio = (o_tokens / o_s) / (a_tokens / a_s)
        ratios.append(ratio)
        print(f"{name} round {round_ + 1}: anchor {a_tokens} tok in {a_s:.2f} s = {a_tokens / a_s:.1f} tok/s | "
              f"codebudget {o_tokens} tok in {o_s:.2f} s = {o_tokens / o_s:.1f} tok/s | "
              f"ratio {ratio:.3f}{'' if a_tokens == o_tokens else '  (token counts differ)'}")
    median = statistics.median(ratios)
    print(f"{name}: median ratio codebudget/anchor tokens/s: {median:.3f} "
          f"({'PASS' if median >= 0.95 else 'MISS'}: target >= 0.95, i.e. within 5 %)")
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backend", choices=("llamacpp", "transformers"), default="llamacpp")
    args = ap.parse_args()
    if args.backend == "transformers":
        transformers_side(args)
        return

    import llama_cpp

    _, path = resolve_model(args.model)
    tasks = get_benchmark("humaneval").load()[: args.prompts]
    backend = load_backend("llamacpp", model_path=path, n_ctx=4096, n_threads=args.threads)
    requests = [build_request(t, "instruct", 0) for t in tasks]
    prompts = [backend.render(r) for r in requests]
    spec = style_spec("instruct", "humaneval")
    decoding = Decoding(max_new_tokens=args.max_new_tokens, temperature=0.0, stop=tuple(spec.stop))
    direct = llama_cpp.Llama(model_path=str(path), n_ctx=4096, n_threads=args.threads, n_batch=512,
                             verbose=False, seed=0)
    by_id = {t.task_id: t for t in tasks}

    def anchor() -> tuple[int, float]:
        start = time.perf_counter()
        tokens = 0
        for prompt in prompts:
            out = direct.create_completion(prompt, max_tokens=args.max_new_tokens, temperature=0.0,
                                           stop=list(spec.stop) or None)
            tokens += out["usage"]["completion_tokens"]
        return tokens, time.perf_counter() - start

    runs = iter(range(1_000_000))

    def ours(store: Store) -> tuple[int, float]:
        run_id = f"bench{next(runs):04d}"
        store.ensure_run(run_id, {"bench": run_id}, len(requests), {}, {})
        start = time.perf_counter()
        tokens = 0
        for gen in backend.generate(requests, decoding):
            task = by_id[gen.task_id]
            program = to_program(task, "instruct", gen.text)
            store.add_generation(run_id, gen, program, program_hash(task, program), None)
            tokens += gen.completion_tokens or 0
        return tokens, time.perf_counter() - start

    print(f"model {args.model}, {len(prompts)} HumanEval prompts (instruct), greedy, max_new_tokens "
          f"{args.max_new_tokens}, {args.threads} thread(s), llama-cpp-python {llama_cpp.__version__}")
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        _rounds("llamacpp", args.rounds, anchor, lambda: ours(store))

if __name__ == "__main__":
    main()
