"""Speed of the analytical model: ``fpsim.predict`` over the built-in networks and
``fpsim.min_macc`` at a long sum.

Run: ``python benchmarks/bench_analytical.py [--repeat 9] [--min-time 0.05]``

These timings used to be assertions in the test suite (``< 5 s`` for the three tables,
``< 1 s`` for ``min_macc(10**7, m_p=2, chunk=64)`` from a warm cache), which a busy
shared machine could fail at random; they are measured here instead, by the rules of
timing.py: the first call of each case is timed on its own and reported as the cold time
(fresh lru caches of fpsim.vrr, lazy imports), then a warm-up call, then ``--repeat``
interleaved samples of calibrated length; the table shows the median seconds per call
with [min-max], and the budget the tests used to hold each case to. Nothing is asserted:
a slow case is reported, never fatal.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fpsim

from benchmarks.timing import Case, Timing, run_group


def _all_tables():
    for name in fpsim.networks():
        fpsim.predict(name)


#: name: (function, budget in seconds the test suite used to assert)
CASES = {
    "predict(name) for the 3 built-in networks": (_all_tables, 5.0),
    "min_macc(10**7, m_p=2, chunk=64)": (lambda: fpsim.min_macc(10**7, m_p=2, chunk=64), 1.0),
}


def run(repeat: int = 9, min_time: float = 0.05) -> dict:
    """{name: (cold seconds, Timing, budget)}. The cold time is the first call of the
    case in this process (for the first case, also the first use of fpsim.vrr)."""
    cold = {}
    for name, (fn, _) in CASES.items():
        t0 = time.perf_counter()
        fn()
        cold[name] = time.perf_counter() - t0
    timings = run_group({name: Case(fn, 1, "calls") for name, (fn, _) in CASES.items()},
                        repeat, min_time=min_time)
    return {name: (cold[name], timings[name], CASES[name][1]) for name in CASES}


def render(results: dict) -> str:
    w = max(len(n) for n in results)
    lines = [f"{'case':<{w}}  {'cold (s)':>9}  {'warm median [min-max] (s)':>30}  {'budget (s)':>10}  within",
             "-" * (w + 69)]
    for name, (cold, t, budget) in results.items():
        if isinstance(t, Timing):
            warm = f"{t.median:.4f} [{t.min:.4f}-{t.max:.4f}]"
            within = "yes" if max(cold, t.median) < budget else "NO"
        else:
            warm, within = f"failed: {t.reason}", "-"
        lines.append(f"{name:<{w}}  {cold:9.4f}  {warm:>30}  {budget:10.1f}  {within}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=9, help="interleaved samples per case (default 9)")
    ap.add_argument("--min-time", type=float, default=0.05,
                    help="minimum seconds per sample, calls are batched to reach it (default 0.05)")
    args = ap.parse_args(argv)
    print(f"fpsim analytical model, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"median of {args.repeat} samples")
    print(render(run(args.repeat, args.min_time)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
