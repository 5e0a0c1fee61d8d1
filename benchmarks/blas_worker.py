"""Time NumPy's float64 matmul (OpenBLAS) in a separate, clean process.

Why: OpenBLAS reads ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` once, when it is
loaded. Where they are set (some sandboxes pin a generic core type), the numpy reference
in the benchmark process runs a slower kernel than a user would get, which would flatter
fpsim. The harness then also starts this worker with both variables removed from its
environment and ``OPENBLAS_NUM_THREADS`` set to the thread count under test, and times
the matmul here on request, interleaved with the in-process cases (the timing protocol
of timing.py is unchanged: the parent asks for one sample at a time).

Protocol (text lines): the worker prints ``ready <json>`` (BLAS kernel as threadpoolctl
reports it, or what numpy's config says), then answers ``time <number>`` with the
seconds ``number`` back-to-back products took, until ``quit`` or end of input.

Run by the harness as ``python blas_worker.py M K N``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

_STRIP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_info() -> list:
    """BLAS libraries loaded in this process, as threadpoolctl sees them ([] without it)."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    out = []
    for d in threadpoolctl.threadpool_info():
        if d.get("user_api") != "blas":
            continue
        row = {k: v for k, v in d.items() if k in ("internal_api", "version", "architecture",
                                                   "num_threads", "threading_layer", "prefix")}
        # numpy's own BLAS ships in numpy.libs (wheels); others come with scipy etc.
        row["numpy"] = "numpy" in os.path.basename(os.path.dirname(d.get("filepath", "")))
        out.append(row)
    return out


def _serve(M: int, K: int, N: int) -> None:
    import numpy as np
    rng = np.random.default_rng(0)
    A = rng.standard_normal((M, K)).astype(np.float16).astype(np.float64)
    B = rng.standard_normal((K, N)).astype(np.float16).astype(np.float64)
    A @ B                                            # warm-up: load the kernel, touch pages
    info = {"blas": blas_info(), "env": {k: os.environ.get(k) for k in _STRIP},
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}
    print("ready " + json.dumps(info), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        number = int(cmd[1])
        t0 = time.perf_counter()
        for _ in range(number):
            A @ B
        print(repr(time.perf_counter() - t0), flush=True)


class BlasWorker:
    """Parent side: a clean process that times ``A @ B`` (M x K by K x N, float64)."""

    def __init__(self, M: int, K: int, N: int, threads: int):
        env = {k: v for k, v in os.environ.items() if k not in _STRIP}
        env["OPENBLAS_NUM_THREADS"] = str(threads)
        env["OMP_NUM_THREADS"] = str(threads)
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.abspath(__file__), str(M), str(K), str(N)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.close()
            raise RuntimeError(f"BLAS worker did not start (said {line!r})")
        self.info = json.loads(line[len("ready "):])

    def timer(self, number: int) -> float:
        self.proc.stdin.write(f"time {number}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


if __name__ == "__main__":
    _serve(*(int(v) for v in sys.argv[1:4]))
