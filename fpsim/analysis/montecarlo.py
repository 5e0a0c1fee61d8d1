"""Monte Carlo trials at engine speed: the fused kernel's Python side.

:func:`run_trials` measures trials t0 .. t1 - 1 of a (dist, m_p, nzr, seed) experiment
for several accumulations at once and at several lengths: per trial and length, the
reduced-precision sum of each spec, its swamping counts and the exact reference sum.
Trial t depends only on (seed, t) (docs/semantics.md, "The Monte Carlo stream"), so the trials of an
experiment can be cut into blocks in any way -- threads, tasks, Dask workers -- and the
concatenated blocks are bit-identical to one run over all trials.

Specs the fused kernel covers (sequential or one level of chunks in the accumulator's
own format, no product format, an accumulator of at most 50 mantissa bits, not fnuz)
run there, every rounding mode included; any other spec is accumulated by
:func:`fpsim.sum` over the same products, drawn into an array (:func:`.draws.draw`). The
kernel is reached through :mod:`fpsim.trials`, the arithmetic API's side of it.

>>> from fpsim.analysis.sweep import spec_for
>>> specs = [spec_for(6, None, "rne"), spec_for(6, 16, "sr")]
>>> r = run_trials(specs, [64, 256], 0, 500, m_p=5, seed=3)
>>> r.shat.shape, r.counts.shape, r.exact.shape
((2, 2, 500), (2, 2, 500, 4), (2, 2, 500))
>>> part = run_trials(specs, [64, 256], 120, 500, m_p=5, seed=3)     # trials 120 .. 499
>>> bool((part.shat == r.shat[:, :, 120:]).all() and (part.counts == r.counts[:, :, 120:]).all())
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..accumulate import sum as fsum
from ..quantize import quantize
from ..rounding import Rounding
from ..trials import fused_kernel_of, fused_trials
from .draws import column_seed, draw
from .estimator import EXACT64

__all__ = ["TrialResults", "run_trials", "fused_kernel_of"]


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


def _fused(groups, T, t0, dist, m_p, nzr, seed, srseed, stats, ns, specs, out):
    """Run each group of fused specs (one kernel each): fills out's rows; returns the
    shared reference and its certificate (from the first group)."""
    ref = None
    for cols in groups.values():
        sh, ct, ex, ok = fused_trials([specs[c] for c in cols], ns, t0, T, dist=dist, m_p=m_p,
                                      nzr=nzr, seed=seed, srseed=srseed, stats=stats)
        if ref is None:
            ref = (ex, ok)
        out.shat[:, cols] = sh
        out.counts[:, cols] = ct
    return ref


def _rounded_products(X, spec, srseed, t0):
    """X's products rounded into spec.product (which fpsim.sum then leaves as they are):
    stochastic rounding draws trial t's bits from a stream of its own, quantize's with
    seed ``column_seed(srseed, t) >> 1``, so blocks of trials agree."""
    if spec.product is None:
        return X
    if spec.product_rounding != Rounding.SR:
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
            groups.setdefault((key[0], key[1], spec.sr_bits), []).append(c)
    ref = _fused(groups, T, t0, dist, m_p, nzr, seed, srseed, stats, ns, specs, out)
    fused_cols = [c for cols in groups.values() for c in cols]
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
