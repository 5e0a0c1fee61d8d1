"""fpsim benchmarks: throughput against the rivals, scaling, and dot-product error.

    python benchmarks/run.py [--quick] [--out docs/benchmarks.md] [--threads 1,2]

regenerates ``docs/benchmarks.md`` and ``docs/figures/bench_*.png`` (the figures go into
``figures/`` next to ``--out``). ``--quick`` uses small sizes and few repetitions (a
smoke run of every path, about a minute); the numbers in the docs come from a full run
on a quiet machine.

What is timed (fpsim and, in the same process and interleaved, its rivals):

* quantize: 10^7 float64 values (10^6 quick) into binary16, bfloat16, e4m3fn, e5m2 and
  e2m1 (OCP FP4, ``fpsim.formats.fp4_e2m1``), modes rne, rtz, sr;
* elementwise add, mul, fma of binary16 operands into binary16, RNE;
* ``matmul`` of 256x256 by 256x256 binary16 operands into a binary16 RNE accumulator for
  each order (sequential, chunked(64), pairwise, kahan, exact), with exact products and
  with products rounded into binary16; ``dot`` of two 2^18-vectors likewise;
* the Monte Carlo trial kernel ``fpsim.sum(X, spec, axis=0)``, X of shape (n, trials),
  against n;
* each of these at every thread count of ``--threads`` (``numba.set_num_threads``; the
  rivals' own pools are set to the same count where they have one: APyTypes' thread
  pool, OpenBLAS through threadpoolctl).

numpy's float64 matmul (the physical reference of the "within 12x" target) is timed in
this process with OpenBLAS limited to the thread count under test; when OPENBLAS_CORETYPE
or OPENBLAS_L2_SIZE is set (they pin OpenBLAS to a slower kernel at load time), it is also
timed in a clean subprocess without them (blas_worker.py) and the target uses that one.

Timing rules (timing.py): warm-up call first, samples calibrated to >= ``--min-time``,
cases of a group interleaved, medians with min/max and IQR, ratios as medians of
per-repetition ratios. The error microbenchmarks are in accuracy.py.

Importable: ``run(Config(...))`` returns the results and ``render(results)`` the markdown.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

import fpsim
from fpsim import AccumSpec, formats

from benchmarks import accuracy, report, rivals
from benchmarks.blas_worker import BlasWorker, blas_info
from benchmarks.timing import Case, Failed, Timing, paired_ratio, run_group

REPO = Path(__file__).resolve().parent.parent

QUANT_FORMATS = {"binary16": formats.binary16, "bfloat16": formats.bfloat16,
                 "e4m3fn": formats.fp8_e4m3fn, "e5m2": formats.fp8_e5m2,
                 "e2m1": formats.fp4_e2m1}
MODES = ("rne", "rtz", "sr")
ORDERS = {"sequential": {}, "chunked(64)": {"order": "chunked", "chunk": 64},
          "pairwise": {"order": "pairwise"}, "kahan": {"order": "kahan"},
          "exact": {"order": "exact"}}
PRODUCTS = {"exact": None, "binary16": formats.binary16}
TRIAL_SPECS = {"sequential": {}, "chunked(64)": {"order": "chunked", "chunk": 64}}
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: The issue's targets: (key, text, threshold, direction). Ratios are "times faster"
#: (fpsim rate / rival rate), except the numpy matmul one, a slowdown (numpy / fpsim).
TARGETS = (
    ("quantize_numpy", "quantize RNE float64 → binary16: fpsim faster than numpy `astype(np.float16)`", 3.0, ">="),
    ("quantize_apytypes", "quantize RNE float64 → binary16: fpsim faster than APyTypes `from_float`", 5.0, ">="),
    ("matmul_apytypes", "matmul binary16 RNE accumulator, products rounded into binary16: fpsim faster than APyTypes (accumulator context)", 20.0, ">="),
    ("matmul_numpy", "matmul binary16 RNE accumulator, exact products: fpsim slower than numpy float64 `A @ B` by at most", 12.0, "<="),
)


@dataclass
class Config:
    quick: bool = False
    threads: tuple = ()
    repeat: int | None = None
    min_time: float | None = None        # seconds per sample (default 0.02; quick 0.005)
    budget: float | None = None          # seconds per slow case per group
    rivals: tuple = tuple(rivals.LIBRARIES)
    blas: str = "auto"                  # auto | inprocess | subprocess
    accuracy: bool = True
    accuracy_trials: int | None = None
    out: str = str(REPO / "docs" / "benchmarks.md")
    argv: list = field(default_factory=list)

    def __post_init__(self):
        if not self.threads:
            self.threads = default_threads()
        if self.repeat is None:
            self.repeat = 3 if self.quick else 9
        if self.budget is None:
            self.budget = 1.5 if self.quick else 25.0
        if self.min_time is None:
            self.min_time = 0.005 if self.quick else 0.02

    # sizes
    @property
    def n_quant(self):
        return 10 ** 6 if self.quick else 10 ** 7

    @property
    def n_small(self):                   # gfloat (pure Python/NumPy, ~10-20 M values/s)
        return self.n_quant // 10

    @property
    def n_tiny(self):                    # pychop (~1 M values/s)
        return self.n_quant // 100

    @property
    def mm(self):
        return 64 if self.quick else 256

    @property
    def mm_pychop(self):
        return 16 if self.quick else 64

    @property
    def dot_n(self):
        return 2 ** 14 if self.quick else 2 ** 18

    @property
    def trials(self):
        return 200 if self.quick else 1000

    @property
    def trial_ns(self):
        top = 12 if self.quick else 16
        return [2 ** k for k in range(8, top + 1, 2)]


def default_threads() -> tuple:
    n = numba.config.NUMBA_NUM_THREADS
    return (1, n) if n > 1 else (1,)


# ---- machine ----------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(cfg: Config) -> dict:
    try:
        threading_layer = numba.threading_layer()
    except Exception:
        threading_layer = "not yet chosen"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads_default": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": threading_layer,
        "fpsim": getattr(fpsim, "__version__", "?"),
        "rivals": {name: (rivals.version(name) if name in cfg.rivals
                          else "missing: excluded by --rivals") for name in rivals.LIBRARIES},
        "blas": blas_info(),
        "openblas_env": {k: os.environ.get(k) for k in OPENBLAS_VARS},
        "threadpoolctl": _threadpoolctl() is not None,
    }


def _threadpoolctl():
    try:
        import threadpoolctl
        return threadpoolctl
    except ImportError:
        return None


@contextlib.contextmanager
def thread_count(t: int):
    """Numba, APyTypes' pool and the BLAS pool all at t threads for the block."""
    numba.set_num_threads(t)
    apy = None
    try:
        apy = rivals.load("APyTypes")
        apy.reset_thread_pool(t)
    except Exception:
        apy = None
    tpc = _threadpoolctl()
    limits = tpc.threadpool_limits(limits=t, user_api="blas") if tpc else contextlib.nullcontext()
    try:
        with limits:
            yield
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        if apy is not None:
            apy.reset_thread_pool(0)


# ---- benchmark sections -----------------------------------------------------------------------
class Bench:
    def __init__(self, cfg: Config, log):
        self.cfg = cfg
        self.log = log
        rng = np.random.default_rng(12345)
        self.x64 = rng.standard_normal(cfg.n_quant)
        self.x32 = self.x64.astype(np.float32)
        self.buf = np.empty_like(self.x64)        # for the out= variant (no allocation)

    def _rival_filter(self, built: dict) -> dict:
        out = {}
        for label, v in built.items():
            lib = label.split(" ")[0]
            if lib in rivals.LIBRARIES and lib not in self.cfg.rivals:
                v = Failed("excluded by --rivals")        # a deliberate 'missing'
            out[label] = v
        return out

    def _group(self, cases):
        return run_group(cases, self.cfg.repeat, min_time=self.cfg.min_time,
                         budget=self.cfg.budget)

    # quantize
    def quantize(self) -> dict:
        cfg, res = self.cfg, {}
        for fname, fmt in QUANT_FORMATS.items():
            for mode in MODES:
                kw = {"seed": 1} if mode == "sr" else {}
                x, buf = self.x64, self.buf
                cases = {
                    "fpsim": Case(lambda fmt=fmt, mode=mode, kw=kw: fpsim.quantize(x, fmt, mode, **kw),
                                  x.size, "values", note="returns a new float64 array"),
                    # the same into a preallocated array: what the fresh 8-byte-per-value result
                    # costs (page faults of a new allocation) shows in the difference
                    "fpsim out=": Case(lambda fmt=fmt, mode=mode, kw=kw: fpsim.quantize(
                        x, fmt, mode, out=buf, **kw), x.size, "values", note="out= preallocated"),
                    # float32 carriers: a new array of half the bytes (every format here fits)
                    "fpsim float32": Case(lambda fmt=fmt, mode=mode, kw=kw: fpsim.quantize(
                        x, fmt, mode, dtype=np.float32, **kw), x.size, "values",
                        note="dtype=float32: returns a new float32 array"),
                }
                built = self._rival_filter(
                    rivals.quantize_cases(fname, mode, self.x64, self.x32, cfg.n_small, cfg.n_tiny))
                checks = {}
                for label, v in built.items():
                    if isinstance(v, Failed):
                        cases[label] = v
                    else:
                        cases[label], checks[label] = v[0], v[1:]
                timings = self._group(cases)
                agree = {}
                k = min(10 ** 5, cfg.n_tiny)
                for label, (result_fn, ref) in checks.items():
                    if mode == "sr" or not isinstance(timings.get(label), Timing):
                        agree[label] = None
                        continue
                    src = self.x32[:k] if ref == "x32" else self.x64[:k]
                    try:
                        mine = fpsim.quantize(src, fmt, mode)
                        theirs = np.asarray(result_fn(k), dtype=np.float64)
                        agree[label] = float(np.mean((mine == theirs) | (np.isnan(mine) & np.isnan(theirs))))
                    except Exception as exc:
                        agree[label] = f"{type(exc).__name__}: {exc}"
                res[f"{fname}/{mode}"] = {"timings": timings, "agree": agree}
                self.log(f"  quantize {fname} {mode}: fpsim {_rate_text(timings['fpsim'])}")
        return res

    # elementwise
    def elementwise(self) -> dict:
        cfg, res = self.cfg, {}
        rng = np.random.default_rng(7)
        F = formats.binary16
        a, b, c = (fpsim.quantize(rng.standard_normal(cfg.n_quant), F) for _ in range(3))
        for op in ("add", "mul", "fma"):
            if op == "fma":
                fn = lambda: fpsim.fma(a, b, c, F)
            else:
                f = getattr(fpsim, op)
                fn = lambda f=f: f(a, b, F)
            cases = {"fpsim": Case(fn, a.size, "values")}
            checks = {}
            for label, v in self._rival_filter(
                    rivals.elementwise_cases(op, a, b, cfg.n_small, cfg.n_tiny)).items():
                if isinstance(v, Failed):
                    cases[label] = v
                else:
                    cases[label], checks[label] = v[0], v[1]
            timings = self._group(cases)
            agree = {}
            k = min(10 ** 5, cfg.n_tiny)
            ref = getattr(fpsim, op)(a[:k], b[:k], F) if op != "fma" else None
            for label, result_fn in checks.items():
                if ref is None or not isinstance(timings.get(label), Timing):
                    agree[label] = None
                    continue
                try:
                    agree[label] = float(np.mean(np.asarray(result_fn(k), dtype=np.float64) == ref))
                except Exception as exc:
                    agree[label] = f"{type(exc).__name__}: {exc}"
            res[op] = {"timings": timings, "agree": agree}
            self.log(f"  elementwise {op}: fpsim {_rate_text(timings['fpsim'])}")
        return res

    # matmul and dot
    def _blas_cases(self, A, B, t, label, work):
        cases = {}
        mode = self.cfg.blas
        env_set = any(os.environ.get(k) for k in OPENBLAS_VARS)
        if mode in ("auto", "inprocess") or A.ndim == 1:
            cases[f"numpy float64 {label}"] = Case(lambda: A @ B, work, "MACs",
                                                   note="this process" + (" (OPENBLAS_CORETYPE/L2_SIZE as set)" if env_set else ""))
        if A.ndim == 2 and (mode == "subprocess" or (mode == "auto" and env_set)):
            try:
                w = BlasWorker(A.shape[0], A.shape[1], B.shape[1], t)
                self._workers.append(w)
                arch = ", ".join(f"{d.get('internal_api')} {d.get('architecture')} x{d.get('num_threads')}"
                                 for d in w.info.get("blas", [])) or "threadpoolctl not installed"
                cases[f"numpy float64 {label} (clean process)"] = Case(
                    None, work, "MACs", timer=w.timer,
                    note=f"subprocess without {'/'.join(OPENBLAS_VARS)}: {arch}")
            except Exception as exc:
                cases[f"numpy float64 {label} (clean process)"] = Failed(f"{type(exc).__name__}: {exc}")
        return cases

    def _mac_cases(self, op, x, y, t, label, work):
        """fpsim's op (matmul or dot) in every order and product mode, numpy float64 and
        APyTypes on x @ y; returns (cases, checks) for _timed."""
        cases = {}
        for oname, kw in ORDERS.items():
            for pname, prod in PRODUCTS.items():
                spec = AccumSpec(formats.binary16, product=prod, **kw)
                cases[f"fpsim {oname} / products {pname}"] = Case(
                    lambda spec=spec: op(x, y, spec), work, "MACs")
        self._workers = []
        cases.update(self._blas_cases(x, y, t, label, work))
        checks = {}
        name = f"APyTypes {label}"
        apy = rivals.apytypes_matmul_case(x, y, label) if "APyTypes" in self.cfg.rivals \
            else Failed("excluded by --rivals")
        if isinstance(apy, Failed):
            cases[name] = apy
        else:
            cases[name], checks[name] = apy[0], (apy[1], x, y)
        return cases, checks

    def _timed(self, cases, checks):
        try:
            timings = self._group(cases)
        finally:
            for w in self._workers:
                w.close()
        return timings, self._agree_mm(checks, timings)

    def matmul(self, t) -> dict:
        cfg = self.cfg
        rng = np.random.default_rng(11)
        S = cfg.mm
        A = fpsim.quantize(rng.standard_normal((S, S)), formats.binary16)
        B = fpsim.quantize(rng.standard_normal((S, S)), formats.binary16)
        cases, checks = self._mac_cases(fpsim.matmul, A, B, t, "matmul", S ** 3)
        s = cfg.mm_pychop
        pc = rivals.pychop_gemm_case(A[:s, :s], B[:s, :s]) if "pychop" in cfg.rivals else Failed("excluded by --rivals")
        if isinstance(pc, Failed):
            cases["pychop GEMM"] = pc
        else:
            cases["pychop GEMM"], checks["pychop GEMM"] = pc[0], (pc[1], A[:s, :s], B[:s, :s])
        timings, agree = self._timed(cases, checks)
        self.log(f"  matmul {S}^3 at {t} thread(s): sequential/exact "
                 f"{_rate_text(timings['fpsim sequential / products exact'])}")
        return {"timings": timings, "agree": agree, "size": S, "pychop_size": s}

    def _agree_mm(self, checks, timings):
        agree = {}
        spec = AccumSpec(formats.binary16, product=formats.binary16)
        for label, (result_fn, A, B) in checks.items():
            if not isinstance(timings.get(label), Timing):
                agree[label] = None
                continue
            try:
                agree[label] = float(np.mean(result_fn() == fpsim.matmul(A, B, spec)))
            except Exception as exc:
                agree[label] = f"{type(exc).__name__}: {exc}"
        return agree

    def dot(self, t) -> dict:
        rng = np.random.default_rng(13)
        L = self.cfg.dot_n
        a = fpsim.quantize(rng.standard_normal(L), formats.binary16)
        b = fpsim.quantize(rng.standard_normal(L), formats.binary16)
        timings, agree = self._timed(*self._mac_cases(fpsim.dot, a, b, t, "dot", L))
        self.log(f"  dot n={L} at {t} thread(s): sequential/exact "
                 f"{_rate_text(timings['fpsim sequential / products exact'])}")
        return {"timings": timings, "agree": agree, "size": L}

    # Monte Carlo trial kernel
    def trials(self, t) -> dict:
        cfg = self.cfg
        T = cfg.trials
        res = {}
        rng = np.random.default_rng(17)
        for n in cfg.trial_ns:
            X = fpsim.quantize(rng.standard_normal((n, T)), formats.binary16)
            cases = {}
            for sname, kw in TRIAL_SPECS.items():
                spec = AccumSpec(formats.binary16, **kw)
                cases[f"fpsim {sname}"] = Case(lambda spec=spec: fpsim.sum(X, spec, axis=0),
                                               n * T, "additions")
            cases["numpy float64 X.sum(axis=0)"] = Case(lambda: X.sum(axis=0), n * T, "additions")
            res[n] = self._group(cases)
        self.log(f"  trial kernel at {t} thread(s): n={cfg.trial_ns[-1]} sequential "
                 f"{_rate_text(res[cfg.trial_ns[-1]]['fpsim sequential'])}")
        return {"trials": T, "by_n": res}


def _thr(t: int) -> str:
    return f"{t} thread{'s' if t != 1 else ''}"


def _rate_text(t) -> str:
    if not isinstance(t, Timing):
        return f"missing ({t.reason})"
    return f"{t.rate / 1e6:.1f} M {t.unit}/s (spread {100 * t.spread:.0f}%)"


# ---- targets -------------------------------------------------------------------------------------
def evaluate_targets(results: dict) -> list:
    """One row per (target, thread count): measured paired ratio and whether it is met."""
    rows = []
    for t in results["threads"]:
        sec = results["sections"]
        q = sec["quantize"][t]["binary16/rne"]["timings"]
        mm = sec["matmul"][t]["timings"]
        numpy_mm = mm.get("numpy float64 matmul (clean process)")
        if not isinstance(numpy_mm, Timing):
            numpy_mm = mm.get("numpy float64 matmul")
        alt = {   # the same comparisons for float32 carriers and a preallocated out=
            key: {"`dtype=float32`": paired_ratio(q.get("fpsim float32"), q.get(rival)),
                  "`out=`": paired_ratio(q.get("fpsim out="), q.get(rival))}
            for key, rival in (("quantize_numpy", "numpy"), ("quantize_apytypes", "APyTypes"))
        }
        pairs = {
            "quantize_numpy": paired_ratio(q["fpsim"], q.get("numpy")),
            "quantize_apytypes": paired_ratio(q["fpsim"], q.get("APyTypes")),
            "matmul_apytypes": paired_ratio(mm["fpsim sequential / products binary16"],
                                            mm.get("APyTypes matmul")),
            "matmul_numpy": paired_ratio(numpy_mm, mm["fpsim sequential / products exact"]),
        }
        for key, text, threshold, direction in TARGETS:
            r = pairs[key]
            if r is None:
                met = None
            else:
                met = r[0] >= threshold if direction == ">=" else r[0] <= threshold
            rows.append({"threads": t, "key": key, "text": text, "threshold": threshold,
                         "direction": direction, "ratio": r, "met": met, "alt": alt.get(key)})
    return rows


# ---- scaling figure ------------------------------------------------------------------------------
def plot_scaling(results: dict, fig_dir: Path) -> list:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    colors = {"fpsim sequential": "#1f77b4", "fpsim chunked(64)": "#2ca02c",
              "numpy float64 X.sum(axis=0)": "#7f7f7f"}   # numpy's sum is single-threaded
    styles = ["-", "--", ":", "-."]
    for ti, t in enumerate(results["threads"]):
        by_n = results["sections"]["trials"][t]["by_n"]
        ns = sorted(by_n)
        for label, color in colors.items():
            tims = [by_n[n].get(label) for n in ns]
            if not all(isinstance(x, Timing) for x in tims):
                continue
            y = np.array([x.rate for x in tims]) / 1e6
            lo = np.array([x.rate_range[0] for x in tims]) / 1e6
            hi = np.array([x.rate_range[1] for x in tims]) / 1e6
            name = label.replace("fpsim ", "fpsim.sum, ").replace("X.sum(axis=0)", "X.sum (1 thread)")
            suffix = "" if label.startswith("numpy") else f", {_thr(t)}"
            if label.startswith("numpy") and ti > 0:
                continue                          # the same single-threaded call again
            ax.plot(ns, y, color=color, ls=styles[ti % len(styles)], marker="o", ms=4,
                    label=name + suffix)
            ax.fill_between(ns, lo, hi, color=color, alpha=0.12, lw=0)
    trials = results["sections"]["trials"][results["threads"][0]]["trials"]
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("terms per sum n (X has shape (n, trials))")
    ax.set_ylabel("million additions per second")
    ax.set_title(f"Monte Carlo trial kernel: binary16 RNE accumulator, {trials} trials\n"
                 "median of the repetitions, band = min–max", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.subplots_adjust(left=0.09, right=0.66, bottom=0.12, top=0.88)
    path = fig_dir / "bench_scaling.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
    return paths


# ---- driver -----------------------------------------------------------------------------------------
def run(cfg: Config, log=None) -> dict:
    """Run every benchmark; returns the results (Timing objects inside)."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    t_start = time.perf_counter()
    results = {"config": cfg, "load_before": os.getloadavg(), "sections": {}}
    if results["load_before"][0] > 0.5 * (os.cpu_count() or 1):
        log(f"warning: load average {results['load_before'][0]:.1f} on {os.cpu_count()} cores: "
            "the machine is busy; absolute and multi-thread numbers will be noisy")
    avail = []
    for t in cfg.threads:
        if t < 1 or t > numba.config.NUMBA_NUM_THREADS:
            log(f"skipping {t} threads: numba allows 1..{numba.config.NUMBA_NUM_THREADS}")
            continue
        avail.append(t)
    results["threads"] = avail
    bench = Bench(cfg, log)
    for name in ("quantize", "elementwise", "matmul", "dot", "trials"):
        results["sections"][name] = {}
    for t in avail:
        log(f"== {t} thread(s)")
        with thread_count(t):
            for name in results["sections"]:
                t0 = time.perf_counter()
                method = getattr(bench, name)
                results["sections"][name][t] = method(t) if name in ("matmul", "dot", "trials") \
                    else method()
                log(f"  ({name} at {_thr(t)}: {time.perf_counter() - t0:.1f} s)")
    results["throughput_seconds"] = time.perf_counter() - t_start
    results["machine"] = machine_info(cfg)     # after the runs: threading layer is known
    results["targets"] = evaluate_targets(results)
    fig_dir = Path(cfg.out).resolve().parent / "figures"
    results["figures"] = []
    t0 = time.perf_counter()
    try:
        results["figures"] += plot_scaling(results, fig_dir)
    except ImportError as exc:
        results["figures_missing"] = f"matplotlib: {exc}"
    if cfg.accuracy:
        log("== dot-product error (accuracy.py)")
        acc = accuracy.run(quick=cfg.quick, trials=cfg.accuracy_trials, progress=log)
        t0 = time.perf_counter()
        try:
            results["figures"] += accuracy.plot(acc, fig_dir)
        except ImportError as exc:
            results["figures_missing"] = f"matplotlib: {exc}"
        results["accuracy"] = acc
    log(f"  (figures: {time.perf_counter() - t0:.1f} s)")
    results["load_after"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - t_start
    return results


def render(results: dict) -> str:
    return report.render(results)


def to_json(results: dict) -> dict:
    """Plain-data copy of the results (Timing -> dict) for --json."""
    def conv(v):
        if isinstance(v, (Timing, Failed)):
            return v.to_dict()
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, Config):
            return {k: conv(x) for k, x in asdict(v).items()}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, accuracy.AccuracyResults):
            return accuracy.to_dict(v)
        if isinstance(v, (np.floating, np.integer)):
            return v.item()
        return v
    return conv(results)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description="fpsim benchmarks (writes docs/benchmarks.md)")
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 repetitions (smoke run)")
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"),
                    help="markdown to write; figures go into figures/ next to it")
    ap.add_argument("--threads", default=None,
                    help="comma-separated thread counts (default: 1 and all cores)")
    ap.add_argument("--repeat", type=int, default=None, help="timed repetitions (default 9; quick 3)")
    ap.add_argument("--min-time", type=float, default=None,
                    help="minimum seconds per timed sample, calls are batched to reach it "
                         "(default 0.02; quick 0.005)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds a slow case may spend per group before its samples are capped "
                         "(at least 3 are always taken; default 25, quick 1.5)")
    ap.add_argument("--rivals", default=",".join(rivals.LIBRARIES),
                    help=f"rivals to run, comma-separated from {','.join(rivals.LIBRARIES)} "
                         "(or 'none'); the others are reported as missing")
    ap.add_argument("--blas", choices=("auto", "inprocess", "subprocess"), default="auto",
                    help="where numpy's float64 matmul is timed: auto = in this process, and also "
                         "in a clean subprocess when OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set")
    ap.add_argument("--no-accuracy", action="store_true", help="skip the dot-product error part")
    ap.add_argument("--accuracy-trials", type=int, default=None,
                    help="trials per point of the error curves (default 500; quick 64)")
    ap.add_argument("--json", default=None, help="also write the raw results (all samples) here")
    args = ap.parse_args(argv)
    threads = tuple(int(v) for v in args.threads.split(",")) if args.threads else ()
    chosen = () if args.rivals.strip().lower() == "none" else tuple(
        r.strip() for r in args.rivals.split(",") if r.strip())
    unknown = [r for r in chosen if r not in rivals.LIBRARIES]
    if unknown:
        ap.error(f"--rivals: unknown {unknown}; choose from {list(rivals.LIBRARIES)}")
    cfg = Config(quick=args.quick, threads=threads, repeat=args.repeat, min_time=args.min_time,
                 budget=args.budget, rivals=chosen, blas=args.blas, accuracy=not args.no_accuracy,
                 accuracy_trials=args.accuracy_trials, out=args.out,
                 argv=["python", "benchmarks/run.py"] + argv)
    results = run(cfg)
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results))
    print(f"wrote {out} ({results['seconds']:.0f} s)", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(results), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
