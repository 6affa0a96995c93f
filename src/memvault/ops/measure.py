"""Timing and percentiles, shared by `db stats` (migration durations) and `bench`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks.

    Raises ValueError for an empty sequence or q outside 0..100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Timing:
    """Latency of one operation over n timed calls, in milliseconds."""

    n: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def from_ns(cls, samples_ns: Sequence[int]) -> Timing:
        """Summarise raw perf_counter_ns durations."""
        ms = [s / 1e6 for s in samples_ns]
        return cls(
            n=len(ms),
            p50_ms=percentile(ms, 50),
            p95_ms=percentile(ms, 95),
            p99_ms=percentile(ms, 99),
            mean_ms=sum(ms) / len(ms),
            min_ms=min(ms),
            max_ms=max(ms),
        )

    def as_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "p50_ms": round(self.p50_ms, 4),
            "p95_ms": round(self.p95_ms, 4),
            "p99_ms": round(self.p99_ms, 4),
            "mean_ms": round(self.mean_ms, 4),
            "min_ms": round(self.min_ms, 4),
            "max_ms": round(self.max_ms, 4),
        }


def time_calls(func: Callable[[], Any], *, repeat: int, warmup: int) -> Timing:
    """Call `func` `warmup` times untimed, then `repeat` times timed one by one."""
    return time_interleaved([func], repeat=repeat, warmup=warmup)[0]


def time_interleaved(
    funcs: Sequence[Callable[[], Any]], *, repeat: int, warmup: int
) -> list[Timing]:
    """Time several functions in rounds (each called once per round, in order), so that
    a slow spell on a shared machine falls on all of them alike rather than on one."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    for _ in range(warmup):
        for func in funcs:
            func()
    samples: list[list[int]] = [[] for _ in funcs]
    for _ in range(repeat):
        for func, timings in zip(funcs, samples, strict=True):
            started = time.perf_counter_ns()
            func()
            timings.append(time.perf_counter_ns() - started)
    return [Timing.from_ns(timings) for timings in samples]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return None if denominator == 0 else numerator / denominator
