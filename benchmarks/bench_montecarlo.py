"""Speed of the Monte Carlo measurement (issue #16): emulated additions per second of
``measure_vrr`` and ``sweep`` on the fused kernel, beside a naive Numba loop (np.random per
sample) and the engine's lean step (``fpsim.sum`` without counts on products already in
memory), interleaved in one process (benchmarks/timing.py).

Run: ``python benchmarks/bench_montecarlo.py [--n 4608] [--trials 20000] [--repeat 5]
[--figure2 TRIALS]``. ``--figure2`` also times ``figure2`` (242 points: n = 2^6..2^16,
m_acc = 4..14, single sums and chunks of 64) at that many trials a point, once.

Additions are counted as the accumulator sees them: n x trials per configuration (a sweep
of C configurations does C n trials additions on n trials draws).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numba
import numpy as np
from numba import njit, prange

import fpsim
from fpsim._args import format_params
from fpsim.analysis.figure import figure2
from fpsim.analysis.sweep import spec_for, sweep
from fpsim.kernels.bittrick import lean_add, lean_params

if __package__ in (None, ""):                          # run as a script: the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.timing import Case, paired_ratio, run_group  # noqa: E402


@njit(parallel=True, nogil=True)
def naive_loop(n, trials, m_acc_params, seed, out_hat, out_exact):
    """The simplest measurement: per trial a NumPy normal per sample, rounded to 5 bits
    by a multiply-and-round, added into the accumulator by fpsim's lean RNE step and into
    a float64 reference."""
    for t in prange(trials):
        np.random.seed(seed + t)
        s = 0.0
        ref = 0.0
        for _ in range(n):
            x = np.random.standard_normal()
            e = np.floor(np.log2(abs(x))) if x != 0.0 else 0.0
            q = 2.0 ** (e - 5)
            x = np.round(x / q) * q
            s = lean_add(s, x, m_acc_params, 0)[0]
            ref += x
        out_hat[t] = s
        out_exact[t] = ref


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4608)
    ap.add_argument("--trials", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--figure2", type=int, default=0, metavar="TRIALS")
    args = ap.parse_args(argv)
    n, T = args.n, args.trials
    acc = fpsim.accumulator(8)
    ap_params = lean_params(format_params(acc))
    hat, ex = np.empty(T), np.empty(T)
    X = fpsim.draw_products(n, T, m_p=5, seed=1)
    m_accs = list(range(4, 15))
    cases = {
        "naive Numba loop (rne, single)": Case(
            lambda: naive_loop(n, T, ap_params, 1, hat, ex), n * T, "additions"),
        "lean step: fpsim.sum, no counts (rne, single)": Case(
            lambda: fpsim.sum(X, fpsim.AccumSpec(acc), axis=0), n * T, "additions"),
    }
    for rounding in ("rne", "rtz"):
        for chunk in (None, 64):
            label = f"measure_vrr ({rounding}, {'single' if chunk is None else f'chunks of {chunk}'})"
            spec = spec_for(8, chunk, rounding)
            cases[label] = Case(lambda spec=spec: fpsim.measure_vrr(n, spec, trials=T, m_p=5),
                                n * T, "additions")
    for stats in (False, True):
        label = f"sweep, 11 m_acc x (single, chunks of 64), rne{', counts' if stats else ''}"
        cases[label] = Case(lambda stats=stats: sweep([n], m_accs, chunks=(None, 64), trials=T,
                                                      m_p=5, stats=stats),
                            n * T * len(m_accs) * 2, "additions")
    print(f"n = {n}, {T} trials, products e11m5, (1,6,m_acc) accumulators, "
          f"{numba.get_num_threads()} threads; median of {args.repeat} interleaved samples")
    res = run_group(cases, args.repeat, min_time=args.min_time)
    naive = res["naive Numba loop (rne, single)"]
    lean = res["lean step: fpsim.sum, no counts (rne, single)"]
    width = max(map(len, cases))
    for name, r in res.items():
        if not hasattr(r, "rate"):
            print(f"{name:<{width}}  failed: {r.reason}")
            continue
        lo, hi = r.rate_range
        x_naive = paired_ratio(r, naive)
        x_lean = paired_ratio(r, lean)
        print(f"{name:<{width}}  {r.rate / 1e6:8.0f} M/s  [{lo / 1e6:.0f}-{hi / 1e6:.0f}]  "
              f"x naive {x_naive[0]:6.1f}  of lean step {x_lean[0]:5.2f}")
    if args.figure2:
        figure2(trials=1000)                            # warm-up
        t = time.perf_counter()
        f = figure2(trials=args.figure2)
        dt = time.perf_counter() - t
        # the additions done: every configuration runs once to the largest n (the shorter
        # lengths are its prefixes)
        configs = len({(r["m_acc"], r["chunk"]) for r in f.table.rows})
        adds = max(f.ns) * configs * args.figure2
        print(f"figure2 at {args.figure2} trials a point ({len(f.table.rows)} points): "
              f"{dt:.1f} s, {adds / dt / 1e6:.0f} M additions/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
