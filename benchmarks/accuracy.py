"""Microbenchmarks of dot-product error: how far an emulated dot product lands from the
exact one, against the length n, for each accumulation order and accumulator width.

Setup (all bit-accurate, fpsim itself):

* operands a, b: T independent trials of n values, drawn from N(0, 1) ("gaussian") or
  U[0, 1) ("uniform": all products positive, the sum grows like n/4, the case where
  swamping bites hardest), then rounded (RNE) into the operand format: fp8 e4m3fn, fp8
  e5m2, binary16 or bfloat16;
* products p_i = a_i b_i are exact in float64 for these formats (at most 2 x 11
  significand bits, no underflow), so ``fpsim.sum(P, spec, axis=0)`` on the (n, T) array
  of products is the dot product with exact (fused) products, one rounding per MAC;
* the exact dot product s is fpsim's ``exact`` order into binary64 (Kulisch sum rounded
  once; its relative error, 2^-53, is far below everything measured);
* the n-term dot products are the first n rows of one (n_max, T) draw, so the curves
  for different n share their operands.

Metrics, per (order, accumulator, n), over the T trials:

* **relative error**: median of |ŝ - s| / |s| (the median, because |s| comes close to 0
  in some Gaussian trials and the mean of 1/|s| does not exist);
* **error in accumulator ulps**: median of |ŝ - s| / ulp(s), ulp(s) = 2^(max(E, emin) - m)
  with E = floor(log2 |s|): the ulp of the exact result in the accumulator format
  (0.25 is what one correct rounding gives on average, 0.5 its bound);
* **variance lost**: n (1 - VRR), VRR = Var(ŝ) / Var(s) with both sample variances over
  the same trials (paired), in units of the variance of one product (docs/theory.md,
  fpsim.analysis.measure); 0 means the accumulator kept all of it, n means it kept none.

Run alone: ``python benchmarks/accuracy.py [--quick] [--trials T] [--out-dir docs/figures]``
(``benchmarks/run.py`` calls it and puts the figures and tables into docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fpsim
from fpsim import AccumSpec, formats
from fpsim.formats import accumulator

DISTS = ("gaussian", "uniform")
DIST_TEXT = {"gaussian": "Gaussian N(0, 1) operands", "uniform": "uniform U[0, 1) operands"}
OPERANDS = {"e4m3fn": formats.fp8_e4m3fn, "e5m2": formats.fp8_e5m2,
            "binary16": formats.binary16, "bfloat16": formats.bfloat16}

#: Orders compared (in the binary16 accumulator): label -> AccumSpec keyword arguments.
ORDERS = {
    "sequential": {},
    "chunked C=16": {"order": "chunked", "chunk": 16},
    "chunked C=64": {"order": "chunked", "chunk": 64},
    "chunked C=256": {"order": "chunked", "chunk": 256},
    "pairwise": {"order": "pairwise"},
    "kahan": {"order": "kahan"},
    "exact": {"order": "exact"},
    "sequential, SR": {"rounding": "sr"},
}
ORDERS_ACC = formats.binary16

#: Accumulators compared (sequential order, RNE): label -> Format.
ACCUMULATORS = {
    "(1,6,6)": accumulator(6), "(1,6,8)": accumulator(8), "(1,6,10)": accumulator(10),
    "(1,6,12)": accumulator(12), "binary16": formats.binary16, "bfloat16": formats.bfloat16,
    "binary32": formats.binary32,
}
WIDTHS_ORDER = "sequential"


@dataclass
class Curve:
    ns: list
    rel: list = field(default_factory=list)
    ulps: list = field(default_factory=list)
    lost: list = field(default_factory=list)
    lost_lo: list = field(default_factory=list)     # 95% interval of the variance lost
    lost_hi: list = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class AccuracyResults:
    trials: int
    ns: list
    seed: int
    # curves[dist][operand]["order" | "acc"][label] -> Curve
    curves: dict
    seconds: float
    figures: list = field(default_factory=list)


def _draw(dist, shape, rng):
    if dist == "gaussian":
        return rng.standard_normal(shape)
    return rng.random(shape)


def _ulp(s, fmt):
    """ulp of |s| in fmt: 2^(max(E, emin) - m), E = floor(log2 |s|)."""
    _, e = np.frexp(np.abs(s))
    E = np.where(s == 0, fmt.emin, e - 1)
    return np.ldexp(1.0, np.maximum(E, fmt.emin) - fmt.man_bits)


def _metrics(shat, s, n, fmt):
    """(relative error, ulps, variance lost, its 95% interval lo, hi); see the docstring.

    The interval is the delta method on log VRR that fpsim.analysis.estimator uses: with
    u_t = (ŝ_t - mean)^2 / S2(ŝ) and v_t = (s_t - mean)^2 / S2(s),
    se(log VRR) = sd(u - v) / sqrt(T).
    """
    err = np.abs(shat - s)
    nz = s != 0
    rel = float(np.median(err[nz] / np.abs(s[nz]))) if nz.any() else math.nan
    ulps = float(np.median(err / _ulp(s, fmt)))
    vs, vh = np.var(s, ddof=1), np.var(shat, ddof=1)
    if not vs > 0:
        return rel, ulps, math.nan, math.nan, math.nan
    vrr = vh / vs
    if vh == 0:                       # every trial gave the same value: all variance lost
        return rel, ulps, float(n), float(n), float(n)
    u = (shat - shat.mean()) ** 2 / vh
    v = (s - s.mean()) ** 2 / vs
    se = float(np.std(u - v, ddof=1) / math.sqrt(s.size))
    lo, hi = vrr * math.exp(-1.96 * se), vrr * math.exp(1.96 * se)
    return rel, ulps, float(n * (1 - vrr)), float(n * (1 - hi)), float(n * (1 - lo))


def run(*, quick=False, trials=None, n_max_exp=None, seed=2024, progress=None) -> AccuracyResults:
    """Measure every curve; ``quick`` uses T = 64 trials and n <= 2^10."""
    T = trials or (64 if quick else 500)
    top = n_max_exp or (10 if quick else 14)
    ns = [2 ** k for k in range(4, top + 1)]
    n_max = ns[-1]
    exact64 = AccumSpec(formats.binary64, order="exact")
    curves = {}
    t_all = time.perf_counter()
    for di, dist in enumerate(DISTS):
        curves[dist] = {}
        for oi, (oname, ofmt) in enumerate(OPERANDS.items()):
            rng = np.random.default_rng([seed, di, oi])
            a = fpsim.quantize(_draw(dist, (n_max, T), rng), ofmt)
            b = fpsim.quantize(_draw(dist, (n_max, T), rng), ofmt)
            P = a * b                                  # exact: see the module docstring
            exact = {n: fpsim.sum(P[:n], exact64, axis=0) for n in ns}
            configs = [("order", lab, AccumSpec(ORDERS_ACC, **kw)) for lab, kw in ORDERS.items()]
            configs += [("acc", lab, AccumSpec(f, **ORDERS[WIDTHS_ORDER]))
                        for lab, f in ACCUMULATORS.items()]
            groups = {"order": {}, "acc": {}}
            for kind, label, spec in configs:
                if kind == "acc" and spec == AccumSpec(ORDERS_ACC, **ORDERS[WIDTHS_ORDER]) \
                        and WIDTHS_ORDER in groups["order"]:
                    groups[kind][label] = groups["order"][WIDTHS_ORDER]
                    continue
                c = Curve(ns=list(ns))
                t0 = time.perf_counter()
                for n in ns:
                    shat = fpsim.sum(P[:n], spec, axis=0, seed=seed + n)
                    r, u, v, vlo, vhi = _metrics(shat, exact[n], n, spec.acc)
                    c.rel.append(r)
                    c.ulps.append(u)
                    c.lost.append(v)
                    c.lost_lo.append(vlo)
                    c.lost_hi.append(vhi)
                c.seconds = time.perf_counter() - t0
                groups[kind][label] = c
            curves[dist][oname] = groups
            if progress:
                progress(f"  accuracy: {dist} {oname} done ({time.perf_counter() - t_all:.0f} s)")
    return AccuracyResults(trials=T, ns=ns, seed=seed, curves=curves,
                           seconds=time.perf_counter() - t_all)


# ---- figures -----------------------------------------------------------------------------
_STYLE = {
    "sequential": ("#1f77b4", "o", "-"), "chunked C=16": ("#9ecae1", "v", "-"),
    "chunked C=64": ("#4a98c9", "^", "-"), "chunked C=256": ("#08519c", "<", "-"),
    "pairwise": ("#2ca02c", "s", "-"), "kahan": ("#d62728", "D", "-"),
    "exact": ("#000000", "x", "--"), "sequential, SR": ("#ff7f0e", "*", ":"),
    "(1,6,6)": ("#fdae6b", "o", "-"), "(1,6,8)": ("#f16913", "^", "-"),
    "(1,6,10)": ("#d94801", "s", "-"), "(1,6,12)": ("#8c2d04", "D", "-"),
    "binary16": ("#1f77b4", "v", "--"), "bfloat16": ("#2ca02c", "<", "--"),
    "binary32": ("#000000", "x", ":"),
}

_ROWS = (("rel", "median relative error\n|ŝ − s| / |s|", "log"),
         ("ulps", "median error\n(ulps of the accumulator)", "log"),
         ("lost", "variance lost n(1 − VRR)\n(units of Var(one product))", "symlog"))


def plot(results: AccuracyResults, out_dir) -> list:
    """Write bench_error_{orders,widths}_{gaussian,uniform}.png into out_dir; return paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    ns = np.array(results.ns, dtype=float)
    for kind, what in (("order", "orders"), ("acc", "widths")):
        for dist in DISTS:
            fig, axes = plt.subplots(3, len(OPERANDS), figsize=(4.2 * len(OPERANDS), 10.5),
                                     sharex=True, sharey="row", squeeze=False)
            for j, oname in enumerate(OPERANDS):
                curves = results.curves[dist][oname][kind]
                for i, (key, ylabel, scale) in enumerate(_ROWS):
                    ax = axes[i, j]
                    for label, c in curves.items():
                        color, marker, ls = _STYLE[label]
                        y = np.array(getattr(c, key), dtype=float)
                        if scale == "log":
                            y = np.where(y > 0, y, np.nan)   # a zero median is not drawn
                        if key != "lost":
                            ax.plot(ns, y, color=color, marker=marker, ls=ls, ms=4, lw=1.3,
                                    label=label)
                            continue
                        # filled marker: the 95% interval excludes 0 (a real loss or gain);
                        # hollow: indistinguishable from 0 with this many trials
                        ax.plot(ns, y, color=color, ls=ls, lw=1.1)
                        lo, hi = np.array(c.lost_lo, float), np.array(c.lost_hi, float)
                        sig = (lo > 0) | (hi < 0) | (lo == hi)
                        ax.plot(ns[sig], y[sig], color=color, marker=marker, ls="none", ms=4.5)
                        ax.plot(ns[~sig], y[~sig], color=color, marker=marker, ls="none", ms=4.5,
                                mfc="white")
                    ax.set_xscale("log", base=2)
                    if scale == "log":
                        ax.set_yscale("log")
                    else:
                        # linear within +-1 product variance: smaller losses do not matter
                        ax.set_yscale("symlog", linthresh=1.0, linscale=0.6)
                        ax.axhline(0.0, color="0.6", lw=0.8)
                    if key == "ulps":
                        ax.axhline(0.25, color="0.6", lw=0.8, ls="--")
                    ax.grid(True, which="major", alpha=0.3)
                    if i == 0:
                        ax.set_title(f"operands {oname}")
                    if j == 0:
                        ax.set_ylabel(ylabel)
                    if i == len(_ROWS) - 1:
                        ax.set_xlabel("dot-product length n (terms)")
                    ax.tick_params(labelleft=True)
            if kind == "order":
                title = (f"Dot-product error by accumulation order: {DIST_TEXT[dist]}, "
                         f"{ORDERS_ACC.name} (binary16) accumulator, RNE, exact products, "
                         f"T = {results.trials} trials")
                legend_title = "order"
            else:
                title = (f"Dot-product error by accumulator format: {DIST_TEXT[dist]}, "
                         f"{WIDTHS_ORDER} order, RNE, exact products, T = {results.trials} trials")
                legend_title = "accumulator (1, e, m)"
            handles, labels = axes[0, 0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="upper center", ncol=len(labels),
                       bbox_to_anchor=(0.5, 0.965), title=legend_title, frameon=False)
            fig.suptitle(title, y=0.995)
            # fixed margins: tight_layout costs seconds per figure on a busy machine
            fig.subplots_adjust(left=0.075, right=0.99, bottom=0.055, top=0.87, wspace=0.22,
                                hspace=0.12)
            path = out_dir / f"bench_error_{what}_{dist}.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            paths.append(path)
    results.figures = paths
    return paths


# ---- markdown ----------------------------------------------------------------------------
def _g(v, digits=2):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}" if abs(v) < 10 else f"{v:.0f}"


def markdown(results: AccuracyResults, fig_rel: str) -> str:
    """The accuracy section of docs/benchmarks.md (figures linked under ``fig_rel``)."""
    n = results.ns[-1]
    lines = [
        "## Dot-product error",
        "",
        f"`benchmarks/accuracy.py`. T = {results.trials} trials per point, n = 2^{int(math.log2(results.ns[0]))}"
        f" .. 2^{int(math.log2(n))}, operands drawn from N(0, 1) or U[0, 1) and rounded (RNE) into the "
        "operand format, exact (fused) products, one rounding per addition. The exact dot product "
        "is fpsim's `exact` order into binary64. Metrics over the trials: the median of "
        "|ŝ − s|/|s|; the median of |ŝ − s| in ulps of the exact result in the accumulator "
        "format (one correct rounding gives 0.25 on average, dashed line); the variance lost "
        "n(1 − VRR), VRR = Var(ŝ)/Var(s) paired on the same trials, in units of the variance "
        "of one product (symlog scale: it is 0 for a perfect accumulator, n when nothing is "
        "kept; below 0 the rounding errors *added* variance, e.g. the final rounding of the "
        "exact order. Filled markers: the 95% interval (delta method on log VRR, as in "
        "fpsim.analysis.estimator) excludes 0; hollow markers: not distinguishable from 0 with this many "
        "trials). A zero median error is not drawn on "
        "the log scales. `sequential, SR` is the sequential order with stochastic rounding "
        f"(52 random bits), for contrast. Measured in {results.seconds:.0f} s.",
        "",
    ]
    for kind, what, caption in (
            ("order", "orders", f"by accumulation order, {ORDERS_ACC.name} (binary16) accumulator"),
            ("acc", "widths", f"by accumulator format, {WIDTHS_ORDER} order")):
        for dist in DISTS:
            lines += [f"![Dot-product error {caption}, {DIST_TEXT[dist]}]"
                      f"({fig_rel}/bench_error_{what}_{dist}.png)", ""]
        head = "orders" if kind == "order" else "accumulators"
        labels = list(results.curves[DISTS[0]][next(iter(OPERANDS))][kind])
        cols = [(d, o) for d in DISTS for o in OPERANDS]
        tables = ((f"Median relative error |ŝ − s|/|s| at n = {n} ({head}, {caption}):", "rel"),
                  (f"Variance lost n(1 − VRR) at n = {n} (same configurations):", "lost"))
        for title, metric in tables:
            lines += [title, ""]
            lines.append("| " + ("order" if kind == "order" else "accumulator") + " | "
                         + " | ".join(f"{d[:5]}. {o}" for d, o in cols) + " |")
            lines.append("|---|" + "---:|" * len(cols))
            for lab in labels:
                cells = [_g(getattr(results.curves[d][o][kind][lab], metric)[-1]) for d, o in cols]
                lines.append(f"| {lab} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def to_dict(results: AccuracyResults) -> dict:
    return {"trials": results.trials, "ns": results.ns, "seed": results.seed,
            "seconds": results.seconds, "figures": [str(p) for p in results.figures],
            "curves": {d: {o: {k: {lab: {"rel": c.rel, "ulps": c.ulps, "lost": c.lost,
                                         "lost_lo": c.lost_lo, "lost_hi": c.lost_hi,
                                         "seconds": c.seconds}
                                   for lab, c in g.items()}
                               for k, g in od.items()}
                           for o, od in dd.items()}
                       for d, dd in results.curves.items()}}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Microbenchmarks of dot-product error.")
    ap.add_argument("--quick", action="store_true", help="T = 64 trials, n <= 2^10")
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent.parent / "docs" / "figures"))
    args = ap.parse_args(argv)
    res = run(quick=args.quick, trials=args.trials, progress=lambda s: print(s, flush=True))
    for p in plot(res, args.out_dir):
        print(p)
    print(markdown(res, os.path.relpath(args.out_dir, Path(args.out_dir).parent)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
