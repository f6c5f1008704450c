"""pass@k and its uncertainty.

pass@k is the probability that at least one of k samples, drawn without replacement from the
n generated for a task, passes. Chen et al. 2021 ("Evaluating Large Language Models Trained on
Code") give the unbiased estimator ``1 - C(n-c, k) / C(n, k)`` for a task with c correct of n.
The binomials overflow floats long before n = 1000, so it is computed as the running product
``1 - prod_{i=n-c+1}^{n} (1 - k/i)``, which stays in [0, 1] and loses no precision that matters.

A benchmark score is the mean of the per-task estimates. Its uncertainty comes mostly from which
tasks happen to be in the benchmark, so `bootstrap_ci` resamples tasks (not samples).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence

import numpy as np

STANDARD_KS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""The k values reports use, so that columns line up across runs and papers."""

# Bound on index-matrix elements per bootstrap chunk (~32 MiB of int64), so that 10k resamples
# over thousands of tasks never needs gigabytes.
_MAX_CHUNK_ELEMENTS = 1 << 22


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k for one task with `c` correct out of `n` samples.

    Raises ValueError unless 0 <= c <= n and 1 <= k <= n: with k > n the estimator is undefined,
    and silently clamping k would report a number that means something else.
    """
    n, c, k = operator.index(n), operator.index(c), operator.index(k)
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def pass_at_k_per_task(counts: Mapping[str, tuple[int, int]], k: int) -> dict[str, float]:
    """pass@k for every task, from task_id -> (n, c).

    A task with fewer than k samples is an error naming that task, rather than being dropped,
    because dropping it would silently change which tasks the mean is over.
    """
    per_task: dict[str, float] = {}
    for task_id, (n, c) in counts.items():
        try:
            per_task[task_id] = pass_at_k(n, c, k)
        except ValueError as error:
            raise ValueError(f"task {task_id!r}: {error}") from None
    return per_task


def mean_pass_at_k(counts: Mapping[str, tuple[int, int]], k: int) -> float:
    """The benchmark score: the mean over tasks of the per-task pass@k."""
    if not counts:
        raise ValueError("pass@k needs at least one task")
    return math.fsum(pass_at_k_per_task(counts, k).values()) / len(counts)


def ks_for(counts: Mapping[str, tuple[int, int]]) -> list[int]:
    """The k values worth reporting for these counts: the `STANDARD_KS` up to the smallest n.

    pass@k needs k <= n for every task, so the task with the fewest samples bounds k. That
    smallest n is *not* added when it is off the ladder (e.g. n = 7 gives [1, 2, 5], not
    [1, 2, 5, 7]): off-ladder columns would not line up with other runs or published numbers.
    Call `mean_pass_at_k` directly for any other k.
    """
    if not counts:
        raise ValueError("no tasks to report pass@k for")
    smallest_n = min(n for n, _ in counts.values())
    if smallest_n < 1:
        raise ValueError(f"every task needs at least one sample, got n={smallest_n}")
    return [k for k in STANDARD_KS if k <= smallest_n]


def bootstrap_ci(
    per_task_values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval for the mean of per-task values.

    Tasks are resampled with replacement `resamples` times; the interval is the central
    `confidence` mass of the resampled means. Seeded, so the same inputs always give the same
    interval and reports are reproducible. With one task, or all values equal, there is nothing
    to resample and the interval is that value exactly.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if operator.index(resamples) < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    values = np.asarray(per_task_values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("bootstrap_ci needs a non-empty flat sequence of per-task values")
    if not np.all(np.isfinite(values)):
        raise ValueError("bootstrap_ci needs finite values (got NaN or infinity)")
    if np.all(values == values[0]):
        only = float(values[0])
        return only, only
    means = _resampled_means(values, resamples, np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def _resampled_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `resamples` with-replacement resamples of `values`, drawn in bounded chunks."""
    size = values.size
    rows_per_chunk = max(1, _MAX_CHUNK_ELEMENTS // size)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows_per_chunk):
        stop = min(start + rows_per_chunk, resamples)
        indices = rng.integers(0, size, size=(stop - start, size))
        means[start:stop] = values[indices].mean(axis=1)
    return means


def pass_at_k_summary(counts: Mapping[str, tuple[int, int]]) -> dict[str, object]:
    """pass@k for every reportable k and a bootstrap 95 % interval for pass@1 (empty: none)."""
    if not counts:
        return {"pass_at_k": {}, "pass_at_1_ci95": None}
    pass1 = list(pass_at_k_per_task(counts, 1).values())
    return {
        "pass_at_k": {str(k): mean_pass_at_k(counts, k) for k in ks_for(counts)},
        "pass_at_1_ci95": list(bootstrap_ci(pass1)),
    }
