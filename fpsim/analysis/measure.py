"""Measured variance retention ratio: Monte Carlo swamping experiments.

The analytical VRR of :mod:`fpsim.analysis.vrr` (Sakr et al., "Accumulation Bit-Width
Scaling For Ultra-Low Precision Training Of Deep Networks", ICLR 2019, arXiv:1901.06588)
predicts how much of the variance of a sum of n random products a reduced-precision
accumulator keeps. :func:`measure_vrr` measures it with the bit-accurate MAC engine
(:func:`fpsim.sum`):

* draw T independent trials of n products (iid from a named distribution, optionally
  rounded into an m_p-bit product format and sparsified, from a counter-based stream:
  :mod:`~fpsim.analysis.draws`), or take them as operands,
* accumulate each trial under an :class:`~fpsim.AccumSpec` and keep the exact sum of the
  same products, rounded once to float64 -- in one pass of the fused Monte Carlo kernel
  (:mod:`~fpsim.analysis.montecarlo`; trials side by side as SIMD lanes, blocks of
  trials in parallel), or by :func:`fpsim.sum` for specs it does not cover,
* estimate VRR = Var(s_hat) / Var(s) on the same draws, with a confidence interval
  (:mod:`~fpsim.analysis.estimator`).

The rest of the Monte Carlo code builds on it, one module per concern: grids of
measurements (:mod:`~fpsim.analysis.sweep`), the data of the paper's Figure 2
(:mod:`~fpsim.analysis.figure`), the docs' comparison tables and the calibration of the
model (:mod:`~fpsim.analysis.compare`). This module re-exports their public names, so
``from fpsim.analysis.measure import sweep`` keeps working.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .._args import check_ci, check_int, check_seed, check_trials, check_nzr
from ..accumulate import AccumSpec, SwampStats, dot, product_exactness
from ..accumulate import sum as fsum
from ..formats import Format, accumulator
from ..orders import BlockFMA
from ..quantize import quantize
from ..rounding import Rounding
from .compare import (CALIBRATION, calibration, comparison_grid, comparison_markdown,
                      paper_regime)
from .draws import (DISTRIBUTIONS, check_dist, check_m_p, column_seed, draw_products,
                    sr_seed, trial_seed)
from .estimator import EXACT64, counts, estimate, n_eff, swamp_stats
from .montecarlo import run_trials
from .figure import Figure2Data, figure2
from .sweep import SweepTable, sweep

__all__ = ["DISTRIBUTIONS", "VRRMeasurement", "measure_vrr", "trial_seed", "draw_products",
           "SweepTable", "sweep", "Figure2Data", "figure2", "comparison_grid",
           "comparison_markdown", "paper_regime", "calibration", "CALIBRATION"]

_estimate = estimate            # the name tests/test_measure.py checks the estimate with


def _as_spec(spec):
    """An AccumSpec from an AccumSpec, an int m_acc ((1,6,m_acc) accumulator) or a Format."""
    if isinstance(spec, AccumSpec):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return AccumSpec(accumulator(check_int(
            spec, "m_acc", 0, 52, note=" (spec as an int: the mantissa bits of a (1,6,m_acc) "
            "accumulator)")))
    if isinstance(spec, (Format, str)):
        return AccumSpec(spec)
    raise TypeError("spec must be a fpsim.AccumSpec, an accumulator Format or an int m_acc "
                    f"(mantissa bits of a (1,6,m_acc) accumulator), got {spec!r:.60}")


def _frozen(x, dtype=np.float64):
    x = np.array(x, dtype=dtype)               # a copy the caller cannot alias
    x.flags.writeable = False
    return x


@dataclass(frozen=True)
class VRRMeasurement:
    """One measured VRR. ``spec`` is the AccumSpec's repr; ``dist`` is ``"operands"`` for
    user operands; ``variance_lost = n_eff (1 - vrr)`` (n_eff = round(nzr n)); ``stats``:
    the swamping counts summed over the trials.

    ``sums`` and ``exact_sums`` are the per-trial data the estimate comes from: read-only
    float64 arrays of length ``trials``, the reduced-precision sum s_hat_t and the exact
    reference s_t of trial t; ``trial_stats`` the swamping counts of each trial (a
    SwampStats of int64 arrays of length ``trials``). They take no part in ``==`` or the
    repr, and :meth:`to_dict` leaves them out (it gives the scalar results).
    """

    n: int
    trials: int
    spec: str
    dist: str
    m_p: int | None
    nzr: float
    vrr: float
    vrr_ci: tuple
    variance_lost: float
    variance_lost_ci: tuple
    stats: SwampStats
    ci: float = 0.95
    seed: int | None = None
    sums: np.ndarray | None = field(default=None, repr=False, compare=False)
    exact_sums: np.ndarray | None = field(default=None, repr=False, compare=False)
    trial_stats: SwampStats | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The scalar results as plain Python values (JSON-ready); no per-trial data."""
        d = asdict(replace(self, sums=None, exact_sums=None, trial_stats=None))
        del d["sums"], d["exact_sums"], d["trial_stats"]
        d["vrr_ci"] = list(self.vrr_ci)
        d["variance_lost_ci"] = list(self.variance_lost_ci)
        return d


def _operand_sums(operands, n, trials, spec, seed):
    """(s_hat, s, per-trial counts [trials, 4], n, trials) for user operands a, b of shape
    (trials, n)."""
    if not (isinstance(operands, (tuple, list)) and len(operands) == 2):
        raise TypeError("operands must be a pair (a, b) of arrays of shape (trials, n)")
    a = np.asarray(operands[0])
    b = np.asarray(operands[1])
    for name, x in (("operands[0]", a), ("operands[1]", b)):
        if x.dtype.kind not in "fiu" or x.dtype == np.bool_:
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        if x.ndim != 2:
            raise ValueError(f"{name} must have shape (trials, n), got shape {x.shape}")
    if a.shape != b.shape:
        raise ValueError(f"operands must have equal shapes (trials, n), got {a.shape} and {b.shape}")
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    T, length = a.shape
    if n is not None and check_int(n, "n", 1) != length:
        raise ValueError(f"n must equal operands' second dimension, got n={n} with operands of shape {a.shape}")
    if trials is not None and check_trials(trials) != T:
        raise ValueError(f"trials must equal operands' first dimension, got trials={trials} with "
                         f"operands of shape {a.shape}")
    check_int(T, "trials", 2, note=" (rows of the operands)")
    check_int(length, "n", 1, note=" (columns of the operands)")
    prod_sr = spec.product is not None and spec.product_rounding == Rounding.SR
    base = sr_seed(seed)
    # a block-FMA order aligns products on their operands' exponents: summing a*b would
    # align them on the products' own, so those specs take the per-trial dot below
    block = isinstance(spec.order.innermost(), BlockFMA)
    if product_exactness(a, b).exact and not prod_sr and not block:
        # Fast path. Every a*b is exact in float64, so p = a*b is the dot product's exact
        # product and quantize(p) its one rounding into spec.product (not stochastic here):
        # one fpsim.sum over all trials adds the very addends each fpsim.dot would, and
        # column t draws the random stream of dot with seed column_seed(base, t).
        p = a * b
        if spec.product is not None:
            quantize(p, spec.product, spec.product_rounding, out=p)
        P = np.ascontiguousarray(p.T)
        shat, st = fsum(P, spec, axis=0, stats="elements", seed=base)
        s = fsum(P, EXACT64, axis=0)
        return shat, s, counts(st).T, length, T
    # Some a*b is not a float64 (or products are rounded stochastically): one fpsim.dot per
    # trial, which rounds the exact product once. Summing fl64(a*b) instead would round
    # twice. Not matmul's batch axis: its derived per-batch seeds overflow the kernels
    # (OverflowError, reported).
    ref = AccumSpec("binary64", product=spec.product, product_rounding=spec.product_rounding,
                    order="exact") if spec.product is not None else EXACT64
    shat, s = np.empty(T), np.empty(T)
    per_trial = np.zeros((T, 4), np.int64)
    for t in range(T):
        tseed = column_seed(base, t)
        shat[t], st = dot(a[t], b[t], spec, stats=True, seed=tseed)
        s[t] = dot(a[t], b[t], ref, seed=tseed)
        per_trial[t] = counts(st)
    return shat, s, per_trial, length, T


def measure_vrr(n=None, spec=None, *, trials=None, dist="gaussian", m_p=None, nzr=1.0, seed=0,
                operands=None, ci=0.95) -> VRRMeasurement:
    """Measure the variance retention ratio of an n-term accumulation by Monte Carlo.

    Draws ``trials`` independent trials of n products, accumulates each under ``spec``
    exactly as :func:`fpsim.sum` would (trial t is column t of ``fpsim.sum(X, spec,
    axis=0, seed=...)`` bit for bit, swamping counts included) and compares with the exact
    sum of the same products rounded once to float64 (the only rounding of the reference,
    relative error <= 2^-53, far below the sampling error of any VRR). Trial t depends
    only on (seed, t), so the result is the same whatever the number of threads. The estimator (paired ratio of sample variances) and its
    interval (delta method on log VRR) are described in :mod:`fpsim.analysis.estimator`.

    Parameters
    ----------
    n : int >= 1
        Accumulation length (taken from ``operands`` if given).
    spec : AccumSpec, Format or int
        The accumulation; an int m_acc means ``AccumSpec(fpsim.accumulator(m_acc))``, the
        paper's (1, 6, m_acc) accumulator with a round-to-nearest adder. ``spec.product``
        (if any) rounds each drawn product once more, as ``dot(p, ones)`` would.
    trials : int >= 2
        Number of independent trials T.
    dist : {"gaussian", "uniform", "laplace", "gaussian_product"}
        Zero-mean, unit-variance product distribution.
    m_p : int, optional
        Round the products (rne) into an e11m{m_p} format: m_p fractional mantissa bits,
        0..52, 11 exponent bits so that only the mantissa matters. None: float64 products.
    nzr : float in (0, 1]
        Non-zero ratio: each product is zero with probability 1 - nzr.
    seed : int, 0 <= seed < 2**64
        Seed of the draws; the same seed gives the same products whatever the spec.
    operands : (a, b), optional
        Arrays of shape (trials, n): trial t is the dot product of a[t] and b[t] under
        ``spec`` (dot semantics: each exact product a*b rounded at most once, into
        spec.product if given): ``sums[t]`` is ``fpsim.dot(a[t], b[t], spec,
        seed=trial_seed(seed, t))`` bit for bit, for every spec, and ``stats`` the sum of
        those dot products' swamping counts. When every a*b is exact in float64 (and
        spec.product is not rounded stochastically) all trials run in one fpsim.sum call over the products; otherwise
        one fpsim.dot per trial (slower). The reference is the exact sum of the products
        as they enter the accumulator (after spec.product), so only the accumulation is
        measured. ``dist``, ``m_p``, ``nzr`` are then not used. pairwise and kahan with
        exact products refuse operands whose products float64 cannot hold, as
        fpsim.dot does (ValueError).
    ci : float in (0, 1)
        Confidence level of the intervals.

    Returns
    -------
    VRRMeasurement
        With the per-trial sums (``sums``, ``exact_sums``). A non-finite reduced-precision
        sum (accumulator overflow) gives vrr = nan and a RuntimeWarning.

    Examples
    --------
    >>> import fpsim, fpsim.analysis.measure as fm
    >>> m = fm.measure_vrr(576, 6, trials=2000, m_p=5, seed=1)
    >>> round(m.vrr, 4), round(m.variance_lost, 2), m.stats.full
    (0.9929, 4.07, 66060)
    >>> fm.measure_vrr(576, fpsim.AccumSpec("binary64"), trials=100, m_p=5).variance_lost
    0.0
    """
    spec = _as_spec(spec) if spec is not None else None
    if spec is None:
        raise TypeError("measure_vrr needs spec: an AccumSpec, an accumulator Format or an int m_acc")
    ci = check_ci(ci)
    seed = check_seed(seed)
    if operands is not None:
        shat, s, c, n, T = _operand_sums(operands, n, trials, spec, seed)
        dist, m_p, nzr = "operands", None, 1.0
    else:
        if n is None:
            raise TypeError("measure_vrr needs n (the accumulation length) unless operands are given")
        if trials is None:
            raise TypeError("measure_vrr needs trials (an integer >= 2) unless operands are given")
        n = check_int(n, "n", 1)
        T = check_trials(trials)
        dist = check_dist(dist)
        m_p = check_m_p(m_p)
        nzr = check_nzr(nzr)
        r = run_trials([spec], [n], 0, T, dist=dist, m_p=m_p, nzr=nzr, seed=seed,
                       srseed=sr_seed(seed))
        shat, s, c = r.shat[0, 0], r.exact[0, 0], r.counts[0, 0]
    v, vci, vl, vlci = estimate(shat, s, n_eff(n, nzr), ci)
    return VRRMeasurement(n=n, trials=T, spec=repr(spec), dist=dist, m_p=m_p, nzr=nzr, vrr=v,
                          vrr_ci=vci, variance_lost=vl, variance_lost_ci=vlci,
                          stats=swamp_stats(c.sum(axis=0)), ci=ci, seed=seed,
                          sums=_frozen(shat), exact_sums=_frozen(s),
                          trial_stats=SwampStats(*(_frozen(c[:, i], np.int64) for i in range(4))))
