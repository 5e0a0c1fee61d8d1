"""Paired speed of two fpsim checkouts (before/after a change), interleaved on one machine.

    python benchmarks/compare_checkouts.py --before OLD/bin/python --after NEW/bin/python
        [--rounds N] [--calls N] [--cases WORD ...] [--json FILE]

Each interpreter runs a persistent worker process (its own fpsim, warmed up: JIT compilation
is not timed); the driver then asks the two workers in turn, case by case and round by round,
so a noisy machine slows both sides alike. Per case: the median time of each side over the
rounds, and the median [min-max] of the per-round ratio after/before (> 1: after is slower).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

#: name -> (setup, timed statement); run with numpy as np and fpsim imported
CASES = {
    "quantize 1e7 f64 -> binary16 rne": (
        "x = np.random.default_rng(0).standard_normal(10**7)", "fpsim.quantize(x, 'fp16')"),
    "quantize 1e7 -> e4m3fn, float32 carriers": (
        "x = np.random.default_rng(0).standard_normal(10**7)",
        "fpsim.quantize(x, 'e4m3fn', dtype=np.float32)"),
    "add 1e7 binary16 rne": (
        "x = fpsim.quantize(np.random.default_rng(1).standard_normal(10**7), 'fp16')",
        "fpsim.add(x, x[::-1], 'fp16')"),
    "matmul 256^3 fp16 acc, exact products": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " B = fpsim.quantize(r.standard_normal((256, 256)), 'fp16'); s = fpsim.AccumSpec('fp16')",
        "fpsim.matmul(A, B, s)"),
    "matmul 256^3 fp16 acc, fp16 products": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " B = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " s = fpsim.AccumSpec('fp16', product='fp16')",
        "fpsim.matmul(A, B, s)"),
    "matmul 256^3 bf16 acc (lean, TwoSum)": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((256, 256)), 'bf16');"
        " B = fpsim.quantize(r.standard_normal((256, 256)), 'bf16'); s = fpsim.AccumSpec('bf16')",
        "fpsim.matmul(A, B, s)"),
    "matmul 256^3 fp16 chunked(64)": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " B = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " s = fpsim.AccumSpec('fp16', order='chunked', chunk=64)",
        "fpsim.matmul(A, B, s)"),
    "matmul 256^3 fp16 rtz": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " B = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " s = fpsim.AccumSpec('fp16', rounding='rtz')",
        "fpsim.matmul(A, B, s)"),
    "matmul 256^3 fp16 with swamping counts": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((256, 256)), 'fp16');"
        " B = fpsim.quantize(r.standard_normal((256, 256)), 'fp16'); s = fpsim.AccumSpec('fp16')",
        "fpsim.matmul(A, B, s, stats=True)"),
    "matmul 128^3 fp16 pairwise": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((128, 128)), 'fp16');"
        " B = fpsim.quantize(r.standard_normal((128, 128)), 'fp16');"
        " s = fpsim.AccumSpec('fp16', order='pairwise')",
        "fpsim.matmul(A, B, s)"),
    "matmul 128^3 fp16 kahan": (
        "r = np.random.default_rng(2); A = fpsim.quantize(r.standard_normal((128, 128)), 'fp16');"
        " B = fpsim.quantize(r.standard_normal((128, 128)), 'fp16');"
        " s = fpsim.AccumSpec('fp16', order='kahan')",
        "fpsim.matmul(A, B, s)"),
    "dot 4608 e6m6 acc": (
        "r = np.random.default_rng(3); a = fpsim.quantize(r.standard_normal(4608), 'e5m2');"
        " b = fpsim.quantize(r.standard_normal(4608), 'e5m2');"
        " s = fpsim.AccumSpec(fpsim.accumulator(6))",
        "fpsim.dot(a, b, s)"),
    "sum (4096, 1000) trials, fp16, counts": (
        "X = fpsim.quantize(np.random.default_rng(4).standard_normal((4096, 1000)), 'fp16');"
        " s = fpsim.AccumSpec('fp16')",
        "fpsim.sum(X, s, axis=0, stats=True)"),
    "measure_vrr(4608, 8, trials=2000, m_p=5)": (
        "pass", "fpsim.measure_vrr(4608, 8, trials=2000, m_p=5, seed=1)"),
    "measure_vrr 4608 x 20000, rne, chunks of 64": (
        "s = fpsim.AccumSpec(fpsim.accumulator(8), order='chunked', chunk=64)",
        "fpsim.measure_vrr(4608, s, trials=20000, m_p=5, seed=1)"),
    "measure_vrr 4608 x 20000, rtz": (
        "s = fpsim.AccumSpec(fpsim.accumulator(8), rounding='rtz')",
        "fpsim.measure_vrr(4608, s, trials=20000, m_p=5, seed=1)"),
    "measure_vrr 4608 x 20000, laplace": (
        "pass", "fpsim.measure_vrr(4608, 8, trials=20000, m_p=5, dist='laplace', seed=1)"),
    "measure_vrr 4608 x 20000, gaussian_product": (
        "pass",
        "fpsim.measure_vrr(4608, 8, trials=20000, m_p=5, dist='gaussian_product', seed=1)"),
}

_WORKER = r"""
import json, sys, time
import numpy as np, fpsim
env = {"np": np, "fpsim": fpsim}
cases = json.loads(sys.argv[1])
for name, (setup, stmt) in cases.items():
    exec(setup, env)
    exec(stmt, env); exec(stmt, env)           # compile and warm up, untimed
print("ready", flush=True)
for line in sys.stdin:
    name, calls = json.loads(line)
    setup, stmt = cases[name]
    code = compile(stmt, name, "exec")
    times = []
    for _ in range(calls):
        t = time.perf_counter(); exec(code, env); times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps(times[len(times) // 2]), flush=True)
"""


class Worker:
    def __init__(self, python: str, cases: dict):
        # outside any checkout: ``python -c`` puts the working directory first on sys.path,
        # so from a checkout both workers would import that checkout's fpsim
        self.proc = subprocess.Popen([python, "-c", _WORKER, json.dumps(cases)],
                                     cwd=tempfile.gettempdir(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"worker {python} did not start: {line!r}")

    def time(self, name: str, calls: int) -> float:
        self.proc.stdin.write(json.dumps([name, calls]) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="python of the checkout before")
    ap.add_argument("--after", required=True, help="python of the checkout after")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=5, help="timed calls per round (median)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--cases", nargs="*", help="only the cases whose names contain these words")
    args = ap.parse_args(argv)
    cases = {name: case for name, case in CASES.items()
             if not args.cases or any(word in name for word in args.cases)}
    before, after = Worker(args.before, cases), Worker(args.after, cases)
    results = {}
    print(f"{'case':44s} {'before':>9s} {'after':>9s}  after/before median [min-max]")
    for name in cases:
        tb, ta, ratios = [], [], []
        for r in range(args.rounds):
            # alternate who goes first, so neither side always follows the other's work
            first, second = (before, after) if r % 2 == 0 else (after, before)
            t1 = first.time(name, args.calls)
            t2 = second.time(name, args.calls)
            b, a = (t1, t2) if first is before else (t2, t1)
            tb.append(b)
            ta.append(a)
            ratios.append(a / b)
        res = {"before": statistics.median(tb), "after": statistics.median(ta),
               "ratio": statistics.median(ratios), "ratio_min": min(ratios),
               "ratio_max": max(ratios)}
        results[name] = res
        print(f"{name:44s} {res['before'] * 1e3:8.2f}ms {res['after'] * 1e3:8.2f}ms  "
              f"{res['ratio']:.3f} [{res['ratio_min']:.3f}-{res['ratio_max']:.3f}]", flush=True)
    before.close()
    after.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
