"""Speed of the analytical models: ``fpsim.variance_lost(n, spec, model=...)``.

Run: ``python benchmarks/bench_vrr_model.py [--ns 1000,100000,10000000] [--repeat 5]``

For each spec the first call is timed on its own ("first": it builds the adder model's
moment tables and its table of Delta against the variance, or for ru/rd against the
variance and the mean; for the paper model, its cached head), then ``first n`` is each n's
own first call (for ru/rd it fills the part of the table that n's walk visits), then ``--repeat`` calls for each n, of which the table shows the median and the
spread (min-max), wall clock (``time.perf_counter``) and CPU (``time.process_time``; on a
shared machine the CPU time is the steadier number). Every call of the adder model after
the first reuses the tables of its spec (an in-process cache), so the repeated calls time
the recursion over n alone.
"""
from __future__ import annotations

import argparse
import statistics
import time

import fpsim
from fpsim import AccumSpec, Chunked, accumulator


SPECS = [
    ("rne, m_acc = 8", AccumSpec(accumulator(8))),
    ("rne, m_acc = 14", AccumSpec(accumulator(14))),
    ("rne, m_acc = 10, chunks of 64", AccumSpec(accumulator(10), order=Chunked(64))),
    ("rtz, m_acc = 12", AccumSpec(accumulator(12), rounding="rtz")),
    ("sr, m_acc = 12", AccumSpec(accumulator(12), rounding="sr")),
    ("ru, m_acc = 20", AccumSpec(accumulator(20), rounding="ru")),
    ("ru, m_acc = 12", AccumSpec(accumulator(12), rounding="ru")),
    ("rd, m_acc = 12, chunks of 64", AccumSpec(accumulator(12), rounding="rd", order=Chunked(64))),
]


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ns", default="1000,100000,10000000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    ns = [int(v) for v in args.ns.split(",")]
    print(f"{'spec':44s} {'model':6s} {'first call':>18s}  " +
          "  ".join(f"{'n = %d' % n:>42s}" for n in ns))
    for label, spec in SPECS:
        for model in ("adder", "paper"):
            if model == "paper" and (spec.rounding != "rne"):
                continue

            def call(n):
                return fpsim.variance_lost(n, spec, m_p=5, model=model)
            first = _timed(lambda: call(ns[0]))
            cells = []
            for n in ns:
                own_first = _timed(lambda: call(n))[0]
                times = [_timed(lambda: call(n)) for _ in range(args.repeat)]
                wall = [t[0] for t in times]
                cpu = [t[1] for t in times]
                cells.append(f"(first {own_first:5.2f} s) {statistics.median(wall) * 1e3:7.1f} ms "
                             f"[{min(wall) * 1e3:.0f}-{max(wall) * 1e3:.0f}] "
                             f"cpu {statistics.median(cpu) * 1e3:5.1f}")
            print(f"{label:44s} {model:6s} {first[0]:8.2f} s cpu {first[1]:5.2f}  " + "  ".join(cells),
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
