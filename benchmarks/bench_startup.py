"""First-use times: each step in a fresh Python process, with an empty Numba cache (cold)
and again with the cache that run left (warm).

    python benchmarks/bench_startup.py [--python PATH] [--repeat N]

Compile time is the subject here, so nothing is warmed up: every step is timed from the
start of its own process (interpreter start-up excluded). ``--python`` times another
interpreter (another checkout's virtual environment), e.g. for before/after comparisons.
Medians over ``--repeat`` cold runs (each in a new empty cache directory). Each cold row
also gives the step with its process's import (a user's first call in a fresh process).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
_REPORT = ("import tempfile; from fpsim.app.cli import main; "
           "main(['report', {flags}'--quiet', '--out', tempfile.mkdtemp()])")

#: step name -> code run after ``import numpy as np, fpsim`` (timed separately)
STEPS = {
    "import": "pass",
    "first dot, binary16 RNE": "fpsim.dot(np.ones(64), np.ones(64), fpsim.AccumSpec('fp16'))",
    "first matmul, sequential": "fpsim.matmul(np.ones((300, 64)), np.ones((64, 300)), "
                                "fpsim.AccumSpec('fp16'))",
    "first matmul, chunked(64)": "fpsim.matmul(np.ones((300, 256)), np.ones((256, 300)), "
                                 "fpsim.AccumSpec('fp16', order='chunked', chunk=64))",
    "first matmul, pairwise": "fpsim.matmul(np.ones((300, 64)), np.ones((64, 300)), "
                              "fpsim.AccumSpec('fp16', order='pairwise'))",
    "first matmul, kahan": "fpsim.matmul(np.ones((300, 64)), np.ones((64, 300)), "
                           "fpsim.AccumSpec('fp16', order='kahan'))",
    "first matmul, exact": "fpsim.matmul(np.ones((30, 64)), np.ones((64, 30)), "
                           "fpsim.AccumSpec('fp16', order='exact'))",
    "first dot with swamping counts": "fpsim.dot(np.ones(64), np.ones(64), "
                                      "fpsim.AccumSpec('fp16'), stats=True)",
    "first quantize": "fpsim.quantize(np.linspace(-3, 3, 10000), 'fp16')",
    "README's first library example": f"exec(open({README!r}).read()"
                                      f".split('```python\\n')[1].split('```')[0])",
    "fpsim report --quick": _REPORT.format(flags="'--quick', "),
    "fpsim report": _REPORT.format(flags=""),
}

_RUNNER = """
import time, json, sys
t0 = time.perf_counter()
import numpy as np, fpsim
t1 = time.perf_counter()
exec(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "step": t2 - t1}))
"""


def run_step(python: str, code: str, cache: str) -> dict:
    env = {"NUMBA_CACHE_DIR": cache, "PATH": "/usr/bin:/bin"}
    # run outside any checkout: ``python -c`` puts the working directory first on sys.path,
    # so from a checkout every interpreter would import that checkout's fpsim
    out = subprocess.run([python, "-c", _RUNNER, code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(),
                         env=env, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(python: str, repeat: int, steps=None) -> dict:
    results = {}
    for name, code in STEPS.items():
        if steps and not any(s in name for s in steps):
            continue
        cold, cold_all, warm = [], [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as cache:
                c = run_step(python, code, cache)
                w = run_step(python, code, cache)
            key = "import" if name == "import" else "step"
            cold.append(c[key])
            cold_all.append(c["import"] + (c["step"] if key == "step" else 0.0))
            warm.append(w[key])
        results[name] = {"cold": statistics.median(cold), "warm": statistics.median(warm),
                         "cold_with_import": statistics.median(cold_all)}
        r = results[name]
        print(f"{name:34s} cold {r['cold']:7.1f} s  (with import {r['cold_with_import']:6.1f} s)"
              f"   warm {r['warm']:6.2f} s", flush=True)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter to time")
    ap.add_argument("--repeat", type=int, default=1, help="cold runs per step (median)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--steps", nargs="*", help="only the steps whose names contain these words")
    args = ap.parse_args(argv)
    res = measure(args.python, args.repeat, args.steps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
