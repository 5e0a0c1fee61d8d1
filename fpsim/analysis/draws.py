"""The random products of the Monte Carlo measurement, and the seeds of its trials.

A product array is laid out (n, T), product i of trial t at [i, t], and filled in C order
from numpy Generators seeded by ``SeedSequence([seed, stream])``: stream 0 the values,
stream 1 the second factor of ``gaussian_product``, stream 2 the sparsity mask, stream 3
the seed of stochastic rounding. Hence the products do not depend on the accumulation
(every configuration of a sweep sees the same ones), and the first n rows of a draw for
n' > n are exactly the draw for n (with the same T): :func:`fpsim.sweep` draws once, for
its largest n.
"""
from __future__ import annotations

import math

import numpy as np

from .._args import check_choice, check_int, check_nzr, check_seed
from ..formats import Format
from ..quantize import quantize

__all__ = ["DISTRIBUTIONS", "draw_products", "trial_seed"]

#: Zero-mean, unit-variance product distributions (``gaussian_product``: the product of two
#: independent standard normals).
DISTRIBUTIONS = ("gaussian", "uniform", "laplace", "gaussian_product")

_PRODUCT_EXP_BITS = 11          # product formats e11m{m_p}: only the mantissa matters
M_P_UNROUNDED = 52              # the m_p the analysis uses for unrounded float64 products
_SQRT3 = math.sqrt(3.0)
_GAMMA = 0x9E3779B97F4A7C15     # SplitMix64's increment (docs/semantics.md, random streams)
_LAPLACE_SCALE = 1.0 / math.sqrt(2.0)


def check_dist(dist) -> str:
    return check_choice(dist, "dist", DISTRIBUTIONS, fold_case=True)


def check_m_p(m_p):
    """Fractional mantissa bits of the e11m{m_p} product format, or None (float64 products)."""
    return check_int(m_p, "m_p", 0, 52, optional=True,
                     note=" (fractional mantissa bits of the product format; None: unrounded)")


def model_m_p(m_p) -> int:
    """The product mantissa the analytical model is given for products drawn with ``m_p``."""
    return M_P_UNROUNDED if m_p is None else m_p


def _rng(seed, stream):
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def draw(n, trials, dist, m_p, nzr, seed):
    """Products of shape (n, trials), C order, for checked arguments (module doc)."""
    shape = (n, trials)
    rng = _rng(seed, 0)
    if dist == "gaussian":
        x = rng.standard_normal(shape)
    elif dist == "uniform":
        x = rng.uniform(-_SQRT3, _SQRT3, shape)
    elif dist == "laplace":
        x = rng.laplace(0.0, _LAPLACE_SCALE, shape)
    else:  # gaussian_product: float64 rounds the exact product once
        x = rng.standard_normal(shape)
        x *= _rng(seed, 1).standard_normal(shape)
    if m_p is not None:
        quantize(x, Format(_PRODUCT_EXP_BITS, m_p), "rne", out=x)
    if nzr < 1.0:
        x[_rng(seed, 2).random(shape) >= nzr] = 0.0
    return x


def draw_products(n, trials, *, dist="gaussian", m_p=None, nzr=1.0, seed=0):
    """The products :func:`fpsim.measure_vrr` and :func:`fpsim.sweep` accumulate, shape
    (n, trials): column t holds trial t (the layout of the trial kernel; transpose for
    operands).

    Zero-mean, unit-variance draws of ``dist``, rounded (rne) into e11m{m_p} if m_p is
    given, each set to zero with probability 1 - nzr. The same seed gives the same array
    whatever the accumulator, and the first n rows of a draw for n' > n equal the draw for
    n (with the same trials).

    >>> draw_products(3, 2, m_p=2, seed=7).tolist()
    [[0.001220703125, 0.3125], [-0.25, -0.875], [-0.4375, -1.0]]
    """
    return draw(check_int(n, "n", 1), check_int(trials, "trials", 1), check_dist(dist),
                check_m_p(m_p), check_nzr(nzr), check_seed(seed))


def sr_seed(seed):
    """The seed of the accumulations' stochastic rounding for a measurement's ``seed``."""
    # 63 bits: fpsim.sum accepts seeds below 2**64, but its kernels overflow from 2**63 on
    return int(np.random.SeedSequence([seed, 3]).generate_state(1, np.uint64)[0]) >> 1


def column_seed(sr_seed, t):
    """The fpsim.dot seed whose random streams are those of column t of
    ``fpsim.sum(X, spec, axis=0, seed=sr_seed)``."""
    # Column t of fsum(X, spec, axis=0, seed=S) is output element o = t: its additions draw
    # from stream splitmix64(S, 2t) and its products from splitmix64(S, 2t + 1); a dot
    # product is element o = 0, streams splitmix64(s, 0) and splitmix64(s, 1). SplitMix64
    # depends on (seed, index) only through seed + (index + 1) * gamma, so s = S + 2t gamma
    # (mod 2^64) gives trial t the same streams either way.
    return (sr_seed + 2 * t * _GAMMA) % 2**64


def trial_seed(seed, t):
    """The ``seed`` of :func:`fpsim.dot` that reproduces trial t of
    ``measure_vrr(operands=(a, b), spec=spec, seed=seed)`` under stochastic rounding.

    Trial t of such a measurement is ``fpsim.dot(a[t], b[t], spec, seed=trial_seed(seed,
    t))`` bit for bit (its value, ``sums[t]``, and its share of the swamping counts,
    ``stats``), whichever way measure_vrr computes it (one fpsim.sum over all trials, or
    one fpsim.dot per trial). Without stochastic rounding the seed plays no part.

    >>> import numpy as np, fpsim
    >>> a = np.random.default_rng(0).standard_normal((3, 50)); b = np.ones((3, 50))
    >>> spec = fpsim.AccumSpec(fpsim.accumulator(4), rounding="sr")
    >>> m = fpsim.measure_vrr(spec=spec, operands=(a, b), seed=7)
    >>> bool(m.sums[2] == fpsim.dot(a[2], b[2], spec, seed=trial_seed(7, 2)))
    True
    """
    return column_seed(sr_seed(check_seed(seed)),
                       check_int(t, "t", 0, note=" (a trial index)"))
