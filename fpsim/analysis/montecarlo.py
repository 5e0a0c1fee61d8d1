"""Monte Carlo trials at engine speed: the fused kernel's Python side.

:func:`run_trials` measures trials t0 .. t1 - 1 of a (dist, m_p, nzr, seed) experiment
for several accumulations at once and at several lengths: per trial and length, the
reduced-precision sum of each spec, its swamping counts and the exact reference sum.
Trial t depends only on (seed, t) (:mod:`fpsim.kernels.randoms`), so the trials of an
experiment can be cut into blocks in any way -- threads, tasks, Dask workers -- and the
concatenated blocks are bit-identical to one run over all trials.

Specs the fused kernel covers (sequential or one level of chunks in the accumulator's
own format, no product format, an accumulator of at most 50 mantissa bits, not fnuz)
run there, every rounding mode included; any other spec is accumulated by
:func:`fpsim.sum` over the same products, drawn into an array (:func:`draw_trials`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._args import format_params
from ..accumulate import AccumSpec
from ..accumulate import sum as fsum
from ..kernels.bittrick import fast_params, lean_params
from ..kernels.codes import RNE, RTZ, SR
from ..kernels.jit import jit
from ..kernels.montecarlo import mc_kernel
from ..orders import Chunked, Sequential
from ..quantize import quantize
from .draws import DISTRIBUTIONS, column_seed, draw, mantissa_shift, ziggurats
from .estimator import EXACT64

__all__ = ["TrialResults", "run_trials", "fused_kernel_of"]

# the kernel's counts [full, partial, inexact, additions] in estimator.counts' order
_COUNTS_ORDER = [3, 0, 1, 2]


@jit
def _bit_params(f, lean):
    p = lean_params(f) if lean else fast_params(f)
    return np.array([p[0], p[1], p[2], p[3]], np.uint64)


def fused_kernel_of(spec: AccumSpec):
    """(mode, lean, chunk) of the fused kernel that runs ``spec``, or None if it cannot."""
    acc = spec.acc
    if spec.product is not None or acc.man_bits > 50 or acc.flavour == "fnuz":
        return None
    order = spec.order
    if isinstance(order, Sequential):
        chunk = 0
    elif (isinstance(order, Chunked) and isinstance(order.inner, Sequential)
          and order.levels()[0][1] == acc):
        chunk = order.size
    else:
        return None
    mode = int(spec.rounding)
    return mode, mode in (RNE, RTZ), chunk


@dataclass
class TrialResults:
    """Per length, spec and trial: ``shat[j, c]`` the sum of specs[c] at length ns[j],
    ``counts[j, c]`` its swamping counts ((trials, 4): additions, full, partial, inexact,
    as :func:`~fpsim.analysis.estimator.counts`), ``exact[j, c]`` the exact sum of the
    products as they enter that accumulator, rounded once to float64."""

    shat: np.ndarray          # (J, C, T) float64
    counts: np.ndarray        # (J, C, T, 4) int64
    exact: np.ndarray         # (J, C, T) float64

    @staticmethod
    def concatenate(blocks) -> "TrialResults":
        """The results of consecutive trial blocks as one (trial order is block order)."""
        return TrialResults(*(np.concatenate([getattr(b, k) for b in blocks], axis=2)
                              for k in ("shat", "counts", "exact")))


def _fused(groups, J, T, t0, dist, m_p, nzr, seed, srseed, stats, ns, specs, out):
    """Run each group of fused specs (same mode): fills out's rows; returns the shared
    reference and its certificate (from the first group)."""
    ref = None
    for (mode, lean, sr_bits), members in groups.items():
        cols = [c for c, _ in members]
        chunks = np.array([ch for _, ch in members], np.int64)
        fps = [format_params(specs[c].acc) for c in cols]
        bp = np.stack([_bit_params(f, lean) for f in fps], axis=1)
        fm = np.array([[f.man_bits, f.emin, f.xmax, f.flavour, float(f.subnormals)] for f in fps],
                      np.float64).T.copy()
        sh = np.empty((J, len(cols), T))
        ct = np.zeros((J, len(cols), T, 4), np.int64)
        # every call keeps the reference (cheap beside the draws); the first one is used
        ex = np.empty((J, T))
        ok = np.zeros((J, T), np.bool_)
        mc_kernel(mode, lean, bool(stats))(
            np.uint64(seed), np.uint64(srseed), t0, T, DISTRIBUTIONS.index(dist),
            mantissa_shift(m_p), float(nzr), ns, chunks, bp, fm,
            52 if sr_bits is None else int(sr_bits), *ziggurats(), sh, ex, ok, ct)
        if ref is None:
            ref = (ex, ok)
        out.shat[:, cols] = sh
        out.counts[:, cols] = ct[..., _COUNTS_ORDER]
    return ref


def _rounded_products(X, spec, srseed, t0):
    """X's products rounded into spec.product (which fpsim.sum then leaves as they are):
    stochastic rounding draws trial t's bits from a stream of its own, quantize's with
    seed ``column_seed(srseed, t) >> 1``, so blocks of trials agree."""
    if spec.product is None:
        return X
    if spec.product_rounding != SR:
        return quantize(X, spec.product, spec.product_rounding)
    Y = np.empty_like(X)
    for j in range(X.shape[1]):
        Y[:, j] = quantize(X[:, j], spec.product, "sr", sr_bits=spec.sr_bits,
                           seed=column_seed(srseed, t0 + j) >> 1)
    return Y


def run_trials(specs, ns, t0, t1, *, dist="gaussian", m_p=None, nzr=1.0, seed=0, srseed=0,
               stats=True) -> TrialResults:
    """Trials t0 .. t1 - 1 of every spec at every length of the sorted ``ns`` (arguments
    checked by callers; ``srseed``: the seed of stochastic rounding, as ``fpsim.sum``'s:
    trial t draws the streams of column t)."""
    ns = np.asarray(ns, np.int64)
    T = t1 - t0
    J, C = len(ns), len(specs)
    out = TrialResults(shat=np.empty((J, C, T)), counts=np.zeros((J, C, T, 4), np.int64),
                       exact=np.empty((J, C, T)))
    groups, others = {}, []
    for c, spec in enumerate(specs):
        key = fused_kernel_of(spec)
        if key is None:
            others.append(c)
        else:
            groups.setdefault((key[0], key[1], spec.sr_bits), []).append((c, key[2]))
    ref = _fused(groups, J, T, t0, dist, m_p, nzr, seed, srseed, stats, ns, specs, out)
    fused_cols = [c for members in groups.values() for c, _ in members]
    if ref is not None:
        out.exact[:, fused_cols] = ref[0][:, None, :]
    if not others and (ref is None or ref[1].all()):
        return out
    X = draw(int(ns[-1]), T, dist, m_p, nzr, seed, t0)
    seed_t0 = column_seed(srseed, t0)
    if ref is not None:
        for j, n in enumerate(ns):
            # the rare sums the double-word reference could not certify: the exact order
            todo = ~ref[1][j]
            if todo.any():
                s = fsum(np.ascontiguousarray(X[:n][:, todo]), EXACT64, axis=0)
                for c in fused_cols:
                    out.exact[j, c, todo] = s
    for c in others:
        spec = specs[c]
        P = _rounded_products(X, spec, srseed, t0)
        for j, n in enumerate(ns):
            Pn = P[:n]
            out.exact[j, c] = fsum(Pn, EXACT64, axis=0)
            if stats:
                v, st = fsum(Pn, spec, axis=0, stats="elements", seed=seed_t0)
                out.counts[j, c] = np.stack([st.additions, st.full, st.partial, st.inexact],
                                            axis=1)
            else:
                v = fsum(Pn, spec, axis=0, seed=seed_t0)
            out.shat[j, c] = v
    return out
