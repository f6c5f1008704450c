#!/usr/bin/env python3
"""Throughput of batched generation in the transformers backend, against one-at-a-time.

One invocation loads the model once and generates the same prompts (the first N HumanEval
prompts, greedy, MAX new tokens) with the transformers backend at batch size 1 (one request
at a time: the anchor) and at each larger batch size, then with llama.cpp on the same GGUF
file when llama-cpp-python is installed. It prints, per configuration, generated tokens,
wall seconds, tokens/s, the ratio to transformers batch 1, whether the token ids equal those
of batch 1 (greedy decoding: they should), and the foreign CPU load during the run.

Throughput counts only the tokens the samples keep (each row up to its own end token); the
steps a finished row spends padding in a batch are cost, not output. Before each timed run
the script waits until the machine is idle-ish (< 0.15 busy core over 2 s, at most 30 s);
a run during which other processes used >= 0.25 core is flagged LOADED and measured again
(at most --retries times; the last try counts).

Usage (from the repository root):
  .venv/bin/python benchmarks/bench_batching.py [--model smollm2-135m] [--prompts 8]
      [--max-new-tokens 128] [--batch-sizes 1,4,8] [--rounds 1] [--threads T] [--no-llamacpp]
      [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codebudget.backends import Decoding, Generation, Request
from codebudget.benchmarks import get_benchmark
from codebudget.models import resolve_model

LOADED = 0.25  # foreign cores
REPO = Path(__file__).resolve().parents[1]


def cpu_busy() -> float:
    """Busy CPU seconds since boot, all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = (fields + [0] * 7)[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    return s.ru_utime + s.ru_stime


def wait_idle(threshold: float, cap: float, window: float = 2.0) -> float:
    """Wait until the machine used < threshold cores over `window` s (at most `cap` s); busy cores."""
    start = time.monotonic()
    while True:
        b0 = cpu_busy()
        time.sleep(window)
        busy = (cpu_busy() - b0) / window
        if busy < threshold or time.monotonic() - start >= cap:
            return busy


@dataclass
class Measure:
    label: str
    tokens: int
    seconds: float
    foreign_cores: float
    busy_before: float
    same_as_batch1: str = ""

    @property
    def tok_s(self) -> float:
        return self.tokens / self.seconds


def timed(label: str, backend: Any, requests: list[Request], decoding: Decoding,
          idle: tuple[float, float], retries: int) -> tuple[Measure, list[Generation]]:
    """Measure once; again (up to `retries` times) while other processes loaded the CPU."""
    for _ in range(retries + 1):
        measure, gens = timed_once(label, backend, requests, decoding, idle)
        if measure.foreign_cores < LOADED:
            break
        print(f"    ({label}: LOADED, foreign {measure.foreign_cores:.2f} cores, {measure.tok_s:.2f} tok/s; "
              "measuring again)")
    return measure, gens


def timed_once(label: str, backend: Any, requests: list[Request], decoding: Decoding,
               idle: tuple[float, float]) -> tuple[Measure, list[Generation]]:
    busy = wait_idle(*idle)
    b0, own0, t0 = cpu_busy(), own_cpu(), time.perf_counter()
    gens = list(backend.generate(requests, decoding))
    wall = time.perf_counter() - t0
    foreign = max(0.0, (cpu_busy() - b0) - (own_cpu() - own0)) / wall
    tokens = sum(g.completion_tokens or 0 for g in gens)
    return Measure(label, tokens, wall, foreign, busy), gens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="preset name or .gguf path")
    parser.add_argument("--prompts", type=int, default=8, help="first N HumanEval prompts")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-sizes", default="1,4,8")
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds (medians are reported)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core); "
                        "llama.cpp gets the same number (default: one per core)")
    parser.add_argument("--no-llamacpp", action="store_true")
    parser.add_argument("--retries", type=int, default=2, help="re-measure a LOADED run up to this many times")
    parser.add_argument("--idle-threshold", type=float, default=0.15)
    parser.add_argument("--idle-cap", type=float, default=30.0)
    parser.add_argument("--json", help="also write every measurement here")
    parser.add_argument("--data", default=os.environ.get("CODEBUDGET_DATA") or str(REPO.parent / "shared" / "data"),
                        help="benchmark data folder (default: $CODEBUDGET_DATA or ../shared/data)")
    args = parser.parse_args()
    sizes = sorted({int(x) for x in args.batch_sizes.split(",")} | {1})
    idle = (args.idle_threshold, args.idle_cap)

    from codebudget.backends.hf_transformers import TransformersBackend

    tasks = get_benchmark("humaneval").load(Path(args.data))[: args.prompts]
    requests = [Request(task_id=t.task_id, sample=0, prompt=t.prompt) for t in tasks]
    decoding = Decoding(max_new_tokens=args.max_new_tokens)
    preset, path = resolve_model(args.model)
    backend = TransformersBackend(str(path), preset=preset, batch_size=1, threads=args.threads)
    info = backend.describe()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; load average {load}")
    print(f"model: {path.name}; transformers {info['version']}, torch {info['torch']}, {info['device']}, "
          f"{info['dtype']}, {info['torch_threads']} threads (OMP_WAIT_POLICY={info['omp_wait_policy']}); load {info['load_seconds']} s "
          f"({'converted cache' if info['from_converted_cache'] else 'converted from GGUF now'})")
    print(f"work: {len(requests)} HumanEval prompts, greedy, max_new_tokens {args.max_new_tokens}, "
          f"{args.rounds} round(s)\n")
    list(backend.generate(requests[:1], Decoding(max_new_tokens=4)))  # warm-up, untimed

    llama = None
    if not args.no_llamacpp and importlib.util.find_spec("llama_cpp") is not None:
        from codebudget.backends.llamacpp import LlamaCppBackend

        llama = LlamaCppBackend(path, n_ctx=2048, n_threads=args.threads)
        list(llama.generate(requests[:1], Decoding(max_new_tokens=4)))

    rounds: list[list[Measure]] = []
    for r in range(args.rounds):
        measures: list[Measure] = []
        reference: list[Generation] = []
        for size in sizes:
            backend.batch_size = size
            m, gens = timed(f"transformers batch {size}", backend, requests, decoding, idle, args.retries)
            if size == 1:
                reference = gens
            same = sum(g.token_ids == ref.token_ids for g, ref in zip(gens, reference))
            m.same_as_batch1 = f"{same}/{len(gens)}"
            measures.append(m)
            print(f"  round {r + 1}: {m.label:<24} {m.tokens:5d} tok {m.seconds:8.2f} s {m.tok_s:7.2f} tok/s"
                  f"  foreign {m.foreign_cores:.2f} cores")
        if llama is not None:
            m, gens = timed("llama.cpp (one at a time)", llama, requests, decoding, idle, args.retries)
            same = sum(g.text == ref.text for g, ref in zip(gens, reference))
            m.same_as_batch1 = f"{same}/{len(gens)} same text"
            measures.append(m)
            print(f"  round {r + 1}: {m.label:<24} {m.tokens:5d} tok {m.seconds:8.2f} s {m.tok_s:7.2f} tok/s"
                  f"  foreign {m.foreign_cores:.2f} cores")
        rounds.append(measures)
    report(rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"backend": info, "args": vars(args),
                       "rounds": [[{**asdict(m), "tok_s": m.tok_s} for m in ms] for ms in rounds]}, f, indent=2)
    backend.close()
    if llama is not None:
        llama.close()
    return 0


def report(rounds: list[list[Measure]]) -> None:
    labels = [m.label for m in rounds[0]]
    runs = {label: [ms[i] for ms in rounds] for i, label in enumerate(labels)}
    runs = {label: [m for m in ms if m.foreign_cores < LOADED] or ms for label, ms in runs.items()}
    median = {label: statistics.median(m.tok_s for m in ms) for label, ms in runs.items()}
    anchor = median["transformers batch 1"]
    print(f"\n{'configuration':<26} {'tokens':>6} {'tok/s':>8} {'(best)':>8} {'vs batch 1':>10}  "
          f"{'ids = batch 1':<16} {'runs':>4}  foreign cores (max)")
    for label, ms in runs.items():
        foreign = max(m.foreign_cores for m in ms)
        print(f"{label:<26} {ms[-1].tokens:6d} {median[label]:8.2f} {max(m.tok_s for m in ms):8.2f} "
              f"{median[label] / anchor:9.2f}x  {ms[-1].same_as_batch1:<16} {len(ms):4d}  {foreign:.2f}"
              f"{'  LOADED' if foreign >= LOADED else ''}")
    print("\ntok/s: median over the rounds that were not LOADED (all rounds if every one was; best in "
          "brackets); ratios are of medians.\nTokens: the samples' completion_tokens (transformers counts the "
          "end token, llama.cpp does not).")


if __name__ == "__main__":
    sys.exit(main())
