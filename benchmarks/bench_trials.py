"""Throughput of the Monte Carlo trial kernel: emulated additions per second of
``fpsim.sum(X, spec, axis=0)`` on an (n, trials) array of products (trials side by side,
as fpsim.analysis.measure lays them out).

Run: ``python benchmarks/bench_trials.py [--ns 1024,16384,65536] [--trials 1000] [--repeat 5]``

Each configuration is called once untimed first (warm-up: Numba compilation or cache
loading is never timed), then ``--repeat`` times; the table shows the median rate
(n * trials additions per call / median seconds) and the spread (min-max) in brackets.
The products are Gaussian, rounded to m_p = 5 (e11m5), the accumulator is the paper's
(1,6,m_acc).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import fpsim
from fpsim import AccumSpec, Format
from fpsim.formats import accumulator


def _rate(fn, adds, repeat):
    fn()                                        # warm-up: compile / load the kernel
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return adds / med, adds / max(times), adds / min(times), med


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ns", default="1024,16384,65536")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--m-acc", type=int, default=8)
    args = ap.parse_args(argv)
    ns = [int(v) for v in args.ns.split(",")]
    T = args.trials
    acc = accumulator(args.m_acc)
    configs = [
        ("sequential rne", AccumSpec(acc), False, True),
        ("sequential rne +stats", AccumSpec(acc), True, True),
        ("chunked(64) rne", AccumSpec(acc, order="chunked", chunk=64), False, True),
        ("chunked(64) rne +stats", AccumSpec(acc, order="chunked", chunk=64), True, True),
        ("sequential rtz +stats", AccumSpec(acc, rounding="rtz"), True, True),
        ("exact (Kulisch, binary64)", AccumSpec("binary64", order="exact"), False, True),
        # unrounded float64 products (53-bit significands): see docs/measured-vrr.md, "Speed"
        ("sequential rne, float64 products", AccumSpec(acc), False, False),
    ]
    print(f"fpsim.sum(X, spec, axis=0), X of shape (n, {T}), m_acc = {args.m_acc}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"median of {args.repeat} [min-max], million additions per second")
    name_w = max(len(c[0]) for c in configs)
    print(f"{'configuration':<{name_w}}  " + "  ".join(f"{'n=' + str(n):>22}" for n in ns))
    rng = np.random.default_rng(0)
    raw = {n: rng.standard_normal((n, T)) for n in ns}
    data = {n: fpsim.quantize(raw[n], Format(11, 5)) for n in ns}
    for name, spec, stats, rounded in configs:
        cells = []
        for n in ns:
            X = data[n] if rounded else raw[n]
            med, lo, hi, _ = _rate(lambda: fpsim.sum(X, spec, axis=0, stats=stats), n * T,
                                   args.repeat)
            cells.append(f"{med / 1e6:7.1f} [{lo / 1e6:5.1f}-{hi / 1e6:5.1f}]")
        print(f"{name:<{name_w}}  " + "  ".join(f"{c:>22}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
