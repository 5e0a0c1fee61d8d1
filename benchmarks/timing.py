"""Timing primitives: warm-up, calibrated samples, interleaved repetitions, medians.

The rules every number in docs/benchmarks.md follows:

* every case is called once untimed first (warm-up: Numba compilation, cache loading,
  first-touch page faults and lazy imports are never timed);
* a *sample* is ``number`` back-to-back calls timed together with ``time.perf_counter``
  (garbage collection off, as ``timeit`` does), divided by ``number``; ``number`` is
  calibrated after the warm-up so that one sample lasts at least ``min_time`` seconds,
  which keeps timer resolution and call overhead out of short kernels;
* the cases of one *group* (fpsim and its rivals on the same task) are **interleaved**:
  repetition r runs one sample of every case before repetition r + 1 starts, and the
  order of the cases rotates from one repetition to the next. A burst of load from another
  process then hits every case of the group alike, so the ratio of two cases holds on a
  noisy machine even when the absolute numbers do not;
* a case is summarised by the **median** of its samples, with the minimum, maximum and
  quartiles kept to show the spread; a ratio of two cases is the median of the
  per-repetition ratios (samples taken next to each other), with their min and max.
"""
from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable


class Missing(Exception):
    """A case that cannot run here (library not installed, the call failed). The reason
    goes into the report; it is never fatal."""


class NotApplicable(Missing):
    """The rival has no such format, mode or operation: nothing to time."""


@dataclass
class Case:
    """One timed task.

    ``fn`` is called with no argument; ``work`` is the number of ``unit`` (values, MACs,
    additions) that one call does. ``timer``, if given, replaces the in-process timing:
    ``timer(number)`` must run the task ``number`` times and return the elapsed seconds
    (used to time a call in another process, see blas_worker.py). ``max_repeat`` caps the
    number of samples of a slow case (the others still run all repetitions).
    """

    fn: Callable[[], object] | None
    work: float
    unit: str
    timer: Callable[[int], float] | None = None
    max_repeat: int | None = None
    note: str = ""


@dataclass
class Timing:
    """Seconds per call of each sample, and what one call does."""

    samples: list
    work: float
    unit: str
    number: int = 1
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def quartiles(self) -> tuple:
        """(q1, q3) of the samples (inclusive method; equal to min/max for < 4 samples)."""
        if len(self.samples) < 4:
            return self.min, self.max
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q[0], q[2]

    @property
    def rate(self) -> float:
        """Units per second at the median time."""
        return self.work / self.median

    @property
    def rate_range(self) -> tuple:
        """(slowest, fastest) rate over the samples."""
        return self.work / self.max, self.work / self.min

    @property
    def spread(self) -> float:
        """(max - min) / median of the times: 0.1 means the samples span 10% of the median."""
        return (self.max - self.min) / self.median

    @property
    def iqr(self) -> float:
        """Interquartile range of the times over their median."""
        q1, q3 = self.quartiles()
        return (q3 - q1) / self.median

    def to_dict(self) -> dict:
        return {"samples": list(self.samples), "work": self.work, "unit": self.unit,
                "number": self.number, "median": self.median, "rate": self.rate,
                "rate_min": self.rate_range[0], "rate_max": self.rate_range[1],
                "spread": self.spread, "iqr": self.iqr, "note": self.note}


@dataclass
class Failed:
    """A case that did not run, with the reason; ``na`` when there is nothing to run (the
    rival has no such format, mode or operation) rather than a missing library or error."""

    reason: str
    na: bool = False

    def to_dict(self) -> dict:
        return {"missing": self.reason, "not_applicable": self.na}


def _sample(case: Case, number: int) -> float:
    if case.timer is not None:
        return case.timer(number) / number
    fn = case.fn
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
    finally:
        if gc_was:
            gc.enable()
    return elapsed / number


def run_group(cases: dict, repeat: int, *, min_time: float = 0.02, budget: float | None = None,
              min_repeat: int = 3, progress: Callable[[str], None] | None = None) -> dict:
    """Time the cases of one group, interleaved; returns {name: Timing or Failed}.

    ``budget`` (seconds) caps the samples of a slow case at max(min_repeat,
    budget / seconds per call) (its ``max_repeat`` if smaller); the other cases still run
    all ``repeat`` repetitions. A case whose ``fn`` raises (at warm-up or later) becomes
    ``Failed`` with the reason; the others go on.
    """
    live = {}
    out = {}
    for name, case in cases.items():
        if isinstance(case, Failed):
            out[name] = case
            continue
        try:
            # warm-up: compile / load / first touch, never timed
            if case.timer is not None:
                case.timer(1)
                once = case.timer(1)
            else:
                case.fn()
                t0 = time.perf_counter()
                case.fn()
                once = time.perf_counter() - t0
        except Missing as exc:
            out[name] = Failed(str(exc), isinstance(exc, NotApplicable))
            continue
        except Exception as exc:  # a rival that fails is reported, never fatal
            out[name] = Failed(f"{type(exc).__name__}: {exc}")
            continue
        number = max(1, math.ceil(min_time / max(once, 1e-9)))
        if budget is not None and once * repeat > budget:
            cap = max(min_repeat, int(budget / once))
            case.max_repeat = cap if case.max_repeat is None else min(cap, case.max_repeat)
        live[name] = (case, number)
        out[name] = Timing([], case.work, case.unit, number, case.note)
    names = list(live)
    for r in range(repeat):
        k = r % len(names) if names else 0
        for name in names[k:] + names[:k]:        # rotate the order every repetition
            case, number = live[name]
            if not isinstance(out[name], Timing):
                continue
            if case.max_repeat is not None and r >= case.max_repeat:
                continue
            try:
                out[name].samples.append(_sample(case, number))
            except Exception as exc:
                out[name] = Failed(f"{type(exc).__name__}: {exc}")
        if progress is not None:
            progress(f"  repetition {r + 1}/{repeat}")
    return out


def paired_ratio(fast: Timing, slow: Timing) -> tuple | None:
    """How many times faster ``fast`` is than ``slow`` (rate over rate, per unit of work):
    (median, min, max) over the repetitions both took part in, paired by repetition."""
    if not isinstance(fast, Timing) or not isinstance(slow, Timing):
        return None
    n = min(len(fast.samples), len(slow.samples))
    if n == 0:
        return None
    ratios = [(slow.samples[i] / slow.work) / (fast.samples[i] / fast.work) for i in range(n)]
    return statistics.median(ratios), min(ratios), max(ratios)
