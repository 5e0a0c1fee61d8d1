"""The random products of the Monte Carlo measurement, and the seeds of its trials.

Products come from a counter-based stream (:mod:`fpsim.kernels.randoms`; the exact
definition is in docs/semantics.md, "The Monte Carlo stream"): product i of trial t is a
pure function of (seed, t, i). So the products do not depend on the accumulation (every
configuration of a sweep sees the same ones), the first n products of a trial do not
depend on how many follow, and any split of the trials -- blocks, threads, Dask
workers -- draws the same numbers. An array of draws is laid out (n, T): product i of
trial t at [i, t]. Stream 3 of the seed is the seed of stochastic rounding.
"""
from __future__ import annotations

import numpy as np

from .._args import check_choice, check_int, check_nzr, check_seed
from ..trials import DISTRIBUTIONS, draw

__all__ = ["DISTRIBUTIONS", "draw_products", "trial_seed"]


M_P_UNROUNDED = 52              # the m_p the analysis uses for unrounded float64 products
_GAMMA = 0x9E3779B97F4A7C15     # SplitMix64's increment (docs/semantics.md, random streams)


def check_dist(dist) -> str:
    return check_choice(dist, "dist", DISTRIBUTIONS, fold_case=True)


def check_m_p(m_p):
    """Fractional mantissa bits of the e11m{m_p} product format, or None (float64 products)."""
    return check_int(m_p, "m_p", 0, 52, optional=True,
                     note=" (fractional mantissa bits of the product format; None: unrounded)")


def model_m_p(m_p) -> int:
    """The product mantissa the analytical model is given for products drawn with ``m_p``."""
    return M_P_UNROUNDED if m_p is None else m_p


def draw_products(n, trials, *, dist="gaussian", m_p=None, nzr=1.0, seed=0, first_trial=0):
    """The products :func:`fpsim.measure_vrr` and :func:`fpsim.sweep` accumulate, shape
    (n, trials): column j holds trial first_trial + j (transpose for operands).

    Zero-mean, unit-variance draws of ``dist``, rounded (rne) into e11m{m_p} if m_p is
    given, each set to zero with probability 1 - nzr, from the counter-based stream of
    docs/semantics.md: the same seed gives the same products whatever the accumulator,
    the first n rows of a draw for n' > n equal the draw for n, and trial t is the same
    whichever block of trials it is drawn in.

    >>> draw_products(3, 2, m_p=2, seed=7).tolist()
    [[-1.0, 0.109375], [-0.75, -0.0625], [1.75, 0.375]]
    >>> bool((draw_products(5, 4, seed=1)[:, 2:] == draw_products(5, 2, seed=1, first_trial=2)).all())
    True
    """
    return draw(check_int(n, "n", 1), check_int(trials, "trials", 1), check_dist(dist),
                check_m_p(m_p), check_nzr(nzr), check_seed(seed),
                check_int(first_trial, "first_trial", 0, note=" (a trial index)"))


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
