"""Random trials through accumulators: the arithmetic API of the fused Monte Carlo kernel.

The Monte Carlo analysis (:mod:`fpsim.analysis.montecarlo`, :mod:`fpsim.analysis.draws`)
calls the kernels through this module, as the rest of the analysis calls them through
:func:`fpsim.sum`: the products of the counter-based stream (docs/semantics.md, "The Monte
Carlo stream") drawn into an array (:func:`draw`), and the fused pass that draws them,
accumulates them under several specs and keeps their exact sum (:func:`fused_trials`).
Arguments are checked by the callers.

>>> import fpsim
>>> from fpsim.trials import draw, fused_kernel_of
>>> draw(2, 3, "uniform", 3, 1.0, seed=7).shape
(2, 3)
>>> bool((draw(4, 3, "gaussian", None, 1.0, 1)[:, 1:] == draw(4, 2, "gaussian", None, 1.0, 1, t0=1)).all())
True
>>> fused_kernel_of(fpsim.AccumSpec("bfloat16", rounding="rtz", order="chunked", chunk=32))[1:]
(True, 32)
>>> fused_kernel_of(fpsim.AccumSpec("bfloat16", order="pairwise")) is None
True
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._args import format_params
from .accumulate import AccumSpec
from .kernels import randoms
from .kernels.bittrick import fast_params, lean_params
from .kernels.codes import RNE, RTZ
from .kernels.jit import jit
from .kernels.montecarlo import draw_block, mc_kernel
from .orders import Chunked, Sequential

__all__ = ["DISTRIBUTIONS", "draw", "fused_kernel_of", "fused_trials"]

#: Zero-mean, unit-variance product distributions, in the order of the kernels' codes
#: (``gaussian_product``: the product of two independent standard normals).
DISTRIBUTIONS = ("gaussian", "uniform", "laplace", "gaussian_product")

# the kernel's counts [full, partial, inexact, additions] in the order of
# fpsim.analysis.estimator.counts: (additions, full, partial, inexact)
_COUNTS_ORDER = [3, 0, 1, 2]


@lru_cache(maxsize=None)
def ziggurats():
    """The normal and exponential ziggurat tables (x, f(x)) of the draws, computed once."""
    zn, fn, _ = randoms.ziggurat_tables("normal")
    ze, fe, _ = randoms.ziggurat_tables("exponential")
    return zn, fn, ze, fe


def _shift(m_p):
    return np.uint64(0 if m_p is None else 52 - m_p)


def draw(n, trials, dist, m_p, nzr, seed, t0=0):
    """Products of shape (n, trials) of trials t0 .. t0 + trials - 1 (column j: trial
    t0 + j), C order: draws of ``dist`` rounded (rne) to m_p fractional bits if m_p is not
    None, zero with probability 1 - nzr."""
    out = np.empty((n, trials))
    draw_block(out, np.uint64(seed), t0, DISTRIBUTIONS.index(dist), _shift(m_p), float(nzr),
               *ziggurats())
    return out


@jit
def _bit_params(f, lean):
    p = lean_params(f) if lean else fast_params(f)
    return np.array([p[0], p[1], p[2], p[3]], np.uint64)


def fused_kernel_of(spec: AccumSpec):
    """(mode, lean, chunk) of the fused kernel that runs ``spec``, or None if it cannot:
    a sequential sum or one level of chunks in the accumulator's own format, no product
    format, at most 50 mantissa bits, not fnuz."""
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


def fused_trials(specs, ns, t0, T, *, dist, m_p, nzr, seed, srseed, stats):
    """One fused pass over trials t0 .. t0 + T - 1 for specs that share a fused kernel
    (same ``fused_kernel_of`` mode and lean flag, same sr_bits), at each length of the
    sorted int64 array ns. Returns (shat (J, C, T), counts (J, C, T, 4) as additions,
    full, partial, inexact; exact (J, T), certified (J, T)): exact is the double-word sum
    rounded to float64, the exact sum rounded once where certified."""
    keys = [fused_kernel_of(s) for s in specs]
    mode, lean = keys[0][:2]
    J, C = len(ns), len(specs)
    chunks = np.array([k[2] for k in keys], np.int64)
    fps = [format_params(s.acc) for s in specs]
    bp = np.stack([_bit_params(f, lean) for f in fps], axis=1)
    fm = np.array([[f.man_bits, f.emin, f.xmax, f.flavour, float(f.subnormals)] for f in fps],
                  np.float64).T.copy()
    shat = np.empty((J, C, T))
    counts = np.zeros((J, C, T, 4), np.int64)
    exact = np.empty((J, T))
    certified = np.zeros((J, T), np.bool_)
    sr_bits = specs[0].sr_bits
    mc_kernel(mode, lean, bool(stats))(
        np.uint64(seed), np.uint64(srseed), t0, T, DISTRIBUTIONS.index(dist), _shift(m_p),
        float(nzr), ns, chunks, bp, fm, 52 if sr_bits is None else int(sr_bits), *ziggurats(),
        shat, exact, certified, counts)
    return shat, counts[..., _COUNTS_ORDER], exact, certified
