"""Throughput of the block-FMA order (fpsim.BlockFMA, the Hopper presets) beside the
sequential order on the same operands: million multiply-accumulates per second of
``fpsim.matmul(A, B, spec)``.

Run: ``NUMBA_NUM_THREADS=2 python benchmarks/bench_blockfma.py [--shape 64,4096,256]
[--repeat 7]``

Each case is called once untimed first (warm-up: compilation or cache loading is never
timed); then the cases run interleaved, one sample of each per repetition, in rotating
order, so that a burst of load from another process hits them alike. The table shows the
median rate [min-max] and, per case, the median of its per-repetition ratio to the
sequential order on the same operands (samples taken next to each other).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import fpsim
from fpsim import AccumSpec, hardware

CASES = [
    ("sequential fp32 rne (binary16 operands)", lambda: AccumSpec("fp32"), "fp16"),
    ("hopper-mma-f16-f32 chained (BlockFMA(16, 25))", lambda: hardware.preset(
        "hopper-mma-f16-f32"), "fp16"),
    ("hopper-cublas-f16 (chain, binary16 out)", lambda: hardware.preset("hopper-cublas-f16"),
     "fp16"),
    ("sequential e8m13 rtz (e4m3 operands)", lambda: AccumSpec("e8m13", rounding="rtz"),
     "e4m3fn"),
    ("hopper-fp8-fast (BlockFMA(32, 13))", lambda: hardware.preset("hopper-fp8-fast"), "e4m3fn"),
    ("hopper-fp8 (promotion every 128)", lambda: hardware.preset("hopper-fp8"), "e4m3fn"),
]
#: the sequential case each block case is paired with (same operands)
PAIR = {1: 0, 2: 0, 4: 3, 5: 3}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="64,4096,256", help="M,K,N of the matrix product")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    M, K, N = (int(v) for v in args.shape.split(","))
    rng = np.random.default_rng(0)
    raw_a, raw_b = rng.standard_normal((M, K)), rng.standard_normal((K, N))
    ops = {f: (fpsim.quantize(raw_a, f), fpsim.quantize(raw_b, f)) for f in ("fp16", "e4m3fn")}
    specs = [(name, make(), fmt) for name, make, fmt in CASES]
    calls = [(lambda s=s, f=f: fpsim.matmul(ops[f][0], ops[f][1], s)) for _, s, f in specs]
    for fn in calls:
        fn()                                      # warm-up
    times = [[] for _ in calls]
    for r in range(args.repeat):
        order = list(range(len(calls)))
        order = order[r % len(order):] + order[:r % len(order)]
        for c in order:
            t0 = time.perf_counter()
            calls[c]()
            times[c].append(time.perf_counter() - t0)
    macs = M * K * N
    print(f"fpsim.matmul, M, K, N = {M}, {K}, {N}; NUMBA_NUM_THREADS="
          f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}, {os.cpu_count()} CPUs, load "
          f"average {os.getloadavg()[0]:.1f}; median of {args.repeat} [min-max], million MAC/s")
    w = max(len(n) for n, _, _ in specs)
    for c, (name, _, _) in enumerate(specs):
        ts = times[c]
        rate = f"{macs / statistics.median(ts) / 1e6:8.1f} [{macs / max(ts) / 1e6:6.1f}-" \
               f"{macs / min(ts) / 1e6:6.1f}]"
        ratio = ""
        if c in PAIR:
            rs = [t / s for t, s in zip(ts, times[PAIR[c]])]
            ratio = f"  {statistics.median(rs):5.2f}x the time of '{specs[PAIR[c]][0]}'"
        print(f"{name:<{w}}  {rate}{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
