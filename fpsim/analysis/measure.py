"""Measured variance retention ratio: Monte Carlo swamping experiments.

The analytical VRR of :mod:`fpsim.vrr` (Sakr et al., "Accumulation Bit-Width Scaling For
Ultra-Low Precision Training Of Deep Networks", ICLR 2019, arXiv:1901.06588) predicts how
much of the variance of a sum of n random products a reduced-precision accumulator keeps.
This module measures it with the bit-accurate MAC engine (:func:`fpsim.sum`):

* draw T independent trials of n products (iid from a named distribution, optionally
  rounded into an m_p-bit product format and sparsified, or given as operands),
* accumulate each trial under an :class:`~fpsim.AccumSpec` (trials are the columns of one
  (n, T) array, so they run side by side in the SIMD/parallel kernel),
* compute the exact sum of the same products (fpsim's Kulisch order, rounded once to
  float64),
* estimate VRR = Var(s_hat) / Var(s) on the same draws, with a confidence interval.

The estimator and the interval (see :func:`measure_vrr`)
---------------------------------------------------------
``VRR = S2(s_hat) / S2(s)``, the ratio of the two sample variances (ddof = 1) over the same
T trials (paired: the sampling noise common to both cancels, which makes the ratio far
less noisy than S2(s_hat) / (n sigma^2)). The interval is the **delta method on the log
of the ratio**: with u_t = (s_hat_t - mean)^2 / S2(s_hat) and v_t = (s_t - mean)^2 / S2(s),
the influence of trial t on log VRR is u_t - v_t, so

    se(log VRR) = sd(u - v) / sqrt(T),    CI = VRR * exp(+-z se(log VRR)),

z the normal quantile of the level (``ci``, 0.95 by default). The log keeps the interval
inside (0, inf) and is closer to normal than the ratio itself; the pairing enters through
u - v, which is ~0 when s_hat ~ s (a wide accumulator gives VRR == 1 and a zero-width
interval, exactly). Its coverage is checked by simulation (tests/test_measure.py): 40
estimates at T = 400 against a run 500x larger, n = 128, gave a mean squared z-score of
0.98 and 95% coverage for an rne adder (small losses), 0.74 and 100% for rtz (large ones:
the interval is somewhat conservative there).

``variance_lost = n_eff (1 - VRR)``, in units of the variance of one product, with
``n_eff = max(1, round(nzr n))`` as in :func:`fpsim.variance_lost` (n_eff = n for dense
products); its interval is n_eff (1 - hi), n_eff (1 - lo).

Random numbers
--------------
A product array is laid out (n, T), product i of trial t at [i, t], and filled in C order
from numpy Generators seeded by ``SeedSequence([seed, stream])``: stream 0 the values,
stream 1 the second factor of ``gaussian_product``, stream 2 the sparsity mask, stream 3
the seed of stochastic rounding. Hence the products do not depend on the spec (every
configuration of a sweep sees the same ones), and the first n rows of a draw for n' > n
are exactly the draw for n (with the same T). :func:`sweep` uses this to draw once per
distribution and to continue sequential and chunked sums from one length to the next
instead of starting over; the results are bit for bit those of :func:`measure_vrr`
(tested).
"""
from __future__ import annotations

import csv
import io
import json
import math
import operator
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist

import numpy as np

from ..accumulate import AccumSpec, SwampStats, dot, product_exactness
from ..accumulate import sum as fsum
from ..formats import Format, accumulator
from ..orders import Chunked, Sequential
from ..quantize import quantize
from ..rounding import Rounding, as_rounding
from .vrr import min_macc, variance_lost

__all__ = ["DISTRIBUTIONS", "VRRMeasurement", "measure_vrr", "trial_seed", "draw_products",
           "SweepTable", "sweep", "Figure2Data", "figure2", "comparison_grid",
           "comparison_markdown", "paper_regime", "calibration", "CALIBRATION"]

#: Zero-mean, unit-variance product distributions (``gaussian_product``: the product of two
#: independent standard normals).
DISTRIBUTIONS = ("gaussian", "uniform", "laplace", "gaussian_product")

_EXACT64 = AccumSpec("binary64", order="exact")
_PRODUCT_EXP_BITS = 11          # product formats e11m{m_p}: only the mantissa matters
_M_P_UNROUNDED = 52             # what the analysis gets for unrounded float64 products
_SQRT3 = math.sqrt(3.0)
_GAMMA = 0x9E3779B97F4A7C15     # SplitMix64's increment (docs/semantics.md, random streams)
_LAPLACE_SCALE = 1.0 / math.sqrt(2.0)


# ---------------------------------------------------------------- argument checks

def _int(name, value, low, high=None, rule=None):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r:.60}") from None
    if value < low or (high is not None and value > high):
        rule = rule or (f"{low} <= {name} <= {high}" if high is not None else f"{name} >= {low}")
        raise ValueError(f"{name} must satisfy {rule}, got {value}")
    return int(value)


def _real(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r:.60}")
    return float(value)


def _check_nzr(nzr):
    nzr = _real("nzr", nzr)
    if not 0.0 < nzr <= 1.0:
        raise ValueError(f"nzr (the fraction of non-zero products) must satisfy 0 < nzr <= 1, got {nzr!r}")
    return nzr


def _check_ci(ci):
    ci = _real("ci", ci)
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci (the confidence level) must satisfy 0 < ci < 1, got {ci!r}")
    return ci


def _check_m_p(m_p):
    if m_p is None:
        return None
    return _int("m_p", m_p, 0, 52, "0 <= m_p <= 52 (fractional mantissa bits of the product "
                "format), or None for unrounded products")


def _check_dist(dist):
    if not isinstance(dist, str):
        raise TypeError(f"dist must be a string, one of {', '.join(DISTRIBUTIONS)}; got {dist!r}")
    key = dist.lower()
    if key not in DISTRIBUTIONS:
        raise ValueError(f"dist must be one of {', '.join(DISTRIBUTIONS)}; got {dist!r}")
    return key


def _check_seed(seed):
    return _int("seed", seed, 0, rule="seed >= 0 (an integer for numpy.random.SeedSequence)")


def _as_spec(spec):
    """An AccumSpec from an AccumSpec, an int m_acc ((1,6,m_acc) accumulator) or a Format."""
    if isinstance(spec, AccumSpec):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        m_acc = _int("spec", spec, 0, 52, "0 <= m_acc <= 52 when spec is an int (the mantissa "
                     "bits of a (1,6,m_acc) accumulator)")
        return AccumSpec(accumulator(m_acc))
    if isinstance(spec, (Format, str)):
        return AccumSpec(spec)
    raise TypeError("spec must be a fpsim.AccumSpec, an accumulator Format or an int m_acc "
                    f"(mantissa bits of a (1,6,m_acc) accumulator), got {spec!r:.60}")


def _check_progress(progress):
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(done, total) or None, got {progress!r:.60}")
    return progress


def _n_eff(n, nzr):
    """Non-zero products the analysis counts: round(nzr n) half up, at least 1 (fpsim.vrr)."""
    return max(1, int(math.floor(nzr * n + 0.5)))


# ---------------------------------------------------------------- draws

def _rng(seed, stream):
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def _draw(n, trials, dist, m_p, nzr, seed):
    """Products of shape (n, trials), C order; row-prefix consistent in n (module doc)."""
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
    """The products :func:`measure_vrr` and :func:`sweep` accumulate, shape (n, trials):
    column t holds trial t (the layout of the trial kernel; transpose for operands).

    Zero-mean, unit-variance draws of ``dist``, rounded (rne) into e11m{m_p} if m_p is
    given, each set to zero with probability 1 - nzr. The same seed gives the same array
    whatever the accumulator, and the first n rows of a draw for n' > n equal the draw for
    n (with the same trials).

    >>> draw_products(3, 2, m_p=2, seed=7).tolist()
    [[0.001220703125, 0.3125], [-0.25, -0.875], [-0.4375, -1.0]]
    """
    n = _int("n", n, 1)
    trials = _int("trials", trials, 1)
    return _draw(n, trials, _check_dist(dist), _check_m_p(m_p), _check_nzr(nzr), _check_seed(seed))


def _sr_seed(seed):
    # 63 bits: fpsim.sum accepts seeds below 2**64, but its kernels overflow from 2**63 on
    return int(np.random.SeedSequence([seed, 3]).generate_state(1, np.uint64)[0]) >> 1


def _trial_seed(sr_seed, t):
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
    >>> m = measure_vrr(spec=spec, operands=(a, b), seed=7)
    >>> bool(m.sums[2] == fpsim.dot(a[2], b[2], spec, seed=trial_seed(7, 2)))
    True
    """
    return _trial_seed(_sr_seed(_check_seed(seed)), _int("t", t, 0, rule="t >= 0 (a trial index)"))


# ---------------------------------------------------------------- the estimator

def _estimate(shat, s, n_eff, ci):
    """(vrr, (lo, hi), variance lost, (lo, hi)); see the module docstring."""
    shat = np.asarray(shat, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    T = s.size
    if not np.isfinite(shat).all():
        warnings.warn(f"{int((~np.isfinite(shat)).sum())} of {T} reduced-precision sums are not "
                      "finite (overflow of the accumulator); the VRR is reported as nan",
                      RuntimeWarning, stacklevel=3)
        nan = float("nan")
        return nan, (nan, nan), nan, (nan, nan)
    da = shat - shat.mean()
    db = s - s.mean()
    va = float(da @ da) / (T - 1)
    vb = float(db @ db) / (T - 1)
    if vb == 0.0:
        raise ValueError("the exact sums of all trials are equal (zero variance), so the VRR "
                         "is undefined; use more trials, a denser nzr or other operands")
    ratio = va / vb
    if va == 0.0:
        lo = hi = 0.0
    else:
        z = NormalDist().inv_cdf(0.5 + ci / 2.0)
        d = da * da / va - db * db / vb
        se = float(np.std(d, ddof=1)) / math.sqrt(T)
        lo, hi = ratio * math.exp(-z * se), ratio * math.exp(z * se)
    return ratio, (lo, hi), n_eff * (1.0 - ratio), (n_eff * (1.0 - hi), n_eff * (1.0 - lo))


def _counts(st):
    return np.array([st.additions, st.full, st.partial, st.inexact], dtype=np.int64)


def _frozen(x):
    x = np.array(x, dtype=np.float64)          # a copy the caller cannot alias
    x.flags.writeable = False
    return x


def _swamp(c):
    return SwampStats(additions=int(c[0]), full=int(c[1]), partial=int(c[2]), inexact=int(c[3]))


# ---------------------------------------------------------------- measure_vrr

@dataclass(frozen=True)
class VRRMeasurement:
    """One measured VRR. ``spec`` is the AccumSpec's repr; ``dist`` is ``"operands"`` for
    user operands; ``variance_lost = n_eff (1 - vrr)`` (n_eff = round(nzr n)); ``stats``:
    the swamping counts summed over the trials.

    ``sums`` and ``exact_sums`` are the per-trial data the estimate comes from: read-only
    float64 arrays of length ``trials``, the reduced-precision sum s_hat_t and the exact
    reference s_t of trial t. They take no part in ``==`` or the repr, and
    :meth:`to_dict` leaves them out (it gives the scalar results).
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

    def to_dict(self) -> dict:
        """The scalar results as plain Python values (JSON-ready); no per-trial sums."""
        d = asdict(replace(self, sums=None, exact_sums=None))
        del d["sums"], d["exact_sums"]
        d["vrr_ci"] = list(self.vrr_ci)
        d["variance_lost_ci"] = list(self.variance_lost_ci)
        return d


def _operand_sums(operands, n, trials, spec, seed):
    """(s_hat, s, counts, n) for user operands a, b of shape (trials, n)."""
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
    if n is not None and _int("n", n, 1) != length:
        raise ValueError(f"n must equal operands' second dimension, got n={n} with operands of shape {a.shape}")
    if trials is not None and _int("trials", trials, 2) != T:
        raise ValueError(f"trials must equal operands' first dimension, got trials={trials} with "
                         f"operands of shape {a.shape}")
    _int("trials", T, 2, rule="trials >= 2 (rows of the operands)")
    _int("n", length, 1, rule="n >= 1 (columns of the operands)")
    prod_sr = spec.product is not None and spec.product_rounding == Rounding.SR
    sr_seed = _sr_seed(seed)
    if product_exactness(a, b).exact and not prod_sr:
        # Fast path. Every a*b is exact in float64, so p = a*b is the dot product's exact
        # product and quantize(p) its one rounding into spec.product (not stochastic here):
        # one fpsim.sum over all trials adds the very addends each fpsim.dot would, and
        # column t draws the random stream of dot with seed _trial_seed(sr_seed, t).
        p = a * b
        if spec.product is not None:
            quantize(p, spec.product, spec.product_rounding, out=p)
        P = np.ascontiguousarray(p.T)
        shat, st = fsum(P, spec, axis=0, stats=True, seed=sr_seed)
        s = fsum(P, _EXACT64, axis=0)
        return shat, s, _counts(st), length, T
    # Some a*b is not a float64 (or products are rounded stochastically): one fpsim.dot per
    # trial, which rounds the exact product once. Summing fl64(a*b) instead would round
    # twice. Not matmul's batch axis: its derived per-batch seeds overflow the kernels
    # (OverflowError, reported).
    ref = AccumSpec("binary64", product=spec.product, product_rounding=spec.product_rounding,
                    order="exact") if spec.product is not None else _EXACT64
    shat, s = np.empty(T), np.empty(T)
    counts = np.zeros(4, np.int64)
    for t in range(T):
        tseed = _trial_seed(sr_seed, t)
        shat[t], st = dot(a[t], b[t], spec, stats=True, seed=tseed)
        s[t] = dot(a[t], b[t], ref, seed=tseed)
        counts += _counts(st)
    return shat, s, counts, length, T


def measure_vrr(n=None, spec=None, *, trials=None, dist="gaussian", m_p=None, nzr=1.0, seed=0,
                operands=None, ci=0.95) -> VRRMeasurement:
    """Measure the variance retention ratio of an n-term accumulation by Monte Carlo.

    Draws ``trials`` independent trials of n products, accumulates each under ``spec``
    with :func:`fpsim.sum` (trials side by side as the columns of an (n, trials) array)
    and compares with the exact sum of the same products (Kulisch order, rounded once to
    float64: the only rounding of the reference, relative error <= 2^-53, far below the
    sampling error of any VRR). See the module docstring for the estimator
    (paired ratio of sample variances) and the interval (delta method on log VRR).

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
    seed : int >= 0
        Seed of the draws; the same seed gives the same products whatever the spec.
    operands : (a, b), optional
        Arrays of shape (trials, n): trial t is the dot product of a[t] and b[t] under
        ``spec`` (dot semantics: each exact product a*b rounded at most once, into
        spec.product if given): ``sums[t]`` is ``fpsim.dot(a[t], b[t], spec,
        seed=trial_seed(seed, t))`` bit for bit, for every spec, and ``stats`` the sum of
        those dot products' swamping counts. When every a*b is exact in float64 (and spec.product is not rounded
        stochastically) all trials run in one fpsim.sum call over the products; otherwise
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
    (0.9887, 6.52, 65931)
    >>> fm.measure_vrr(576, fpsim.AccumSpec("binary64"), trials=100, m_p=5).variance_lost
    0.0
    """
    spec = _as_spec(spec) if spec is not None else None
    if spec is None:
        raise TypeError("measure_vrr needs spec: an AccumSpec, an accumulator Format or an int m_acc")
    ci = _check_ci(ci)
    seed = _check_seed(seed)
    if operands is not None:
        shat, s, counts, n, T = _operand_sums(operands, n, trials, spec, seed)
        dist, m_p, nzr = "operands", None, 1.0
    else:
        if n is None:
            raise TypeError("measure_vrr needs n (the accumulation length) unless operands are given")
        if trials is None:
            raise TypeError("measure_vrr needs trials (an integer >= 2) unless operands are given")
        n = _int("n", n, 1)
        T = _int("trials", trials, 2)
        dist = _check_dist(dist)
        m_p = _check_m_p(m_p)
        nzr = _check_nzr(nzr)
        X = _draw(n, T, dist, m_p, nzr, seed)
        if spec.product is not None:
            quantize(X, spec.product, spec.product_rounding, seed=_sr_seed(seed), out=X)
        shat, st = fsum(X, spec, axis=0, stats=True, seed=_sr_seed(seed))
        s = fsum(X, _EXACT64, axis=0)
        counts = _counts(st)
    v, vci, vl, vlci = _estimate(shat, s, _n_eff(n, nzr), ci)
    return VRRMeasurement(n=n, trials=T, spec=repr(spec), dist=dist, m_p=m_p, nzr=nzr, vrr=v,
                          vrr_ci=vci, variance_lost=vl, variance_lost_ci=vlci,
                          stats=_swamp(counts), ci=ci, seed=seed, sums=_frozen(shat),
                          exact_sums=_frozen(s))


# ---------------------------------------------------------------- sweep

_COLUMNS = ("dist", "rounding", "chunk", "n", "m_acc", "vrr", "vrr_lo", "vrr_hi",
            "variance_lost", "vl_lo", "vl_hi", "vl_paper", "vl_full", "full", "partial",
            "additions")


@dataclass(frozen=True)
class SweepTable:
    """Rows of a :func:`sweep` (one dict per configuration, keys in ``columns``).

    ``vl_paper`` / ``vl_full``: :func:`fpsim.variance_lost` of the "paper" (full + partial
    swamping) and "full" models for the same n, m_acc, chunk, nzr and m_p (the product
    mantissa used, 52 for unrounded float64 products). ``full``, ``partial``,
    ``additions``: swamping counts summed over the trials.
    """

    rows: list
    params: dict = field(default_factory=dict)
    columns: tuple = _COLUMNS

    def __len__(self):
        return len(self.rows)

    def __str__(self):
        return self.format()

    def format(self, columns=None) -> str:
        """The rows as an aligned text table."""
        cols = list(columns or self.columns)
        cells = [[_fmt(r[c]) for c in cols] for r in self.rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(self.columns), lineterminator="\n")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({c: ("" if r[c] is None else r[c]) for c in self.columns})
        return buf.getvalue()

    def to_json(self) -> str:
        return json.dumps({"params": self.params, "rows": self.rows}, allow_nan=True)

    def knee(self, cutoff=50):
        """For each (n, chunk, rounding, dist): the smallest m_acc of the sweep whose measured
        variance lost is <= ln(cutoff) (``knee``; None if none is), the same rule applied to
        the upper and lower ends of the intervals (``knee_hi``: every m_acc from it on is
        below the cut-off at the interval's top, a conservative knee; ``knee_lo``:
        optimistic), and the analytical :func:`fpsim.min_macc` of the "paper" model.
        """
        cutoff = _real("cutoff", cutoff)
        if not 1.0 < cutoff < math.inf:
            raise ValueError(f"cutoff must satisfy 1 < cutoff < inf, got {cutoff!r}")
        limit = math.log(cutoff)
        groups = {}
        for r in self.rows:
            groups.setdefault((r["n"], r["chunk"], r["rounding"], r["dist"]), []).append(r)
        out = []
        for (n, chunk, rounding, dist), rows in groups.items():
            rows = sorted(rows, key=lambda r: r["m_acc"])

            def first(key):
                # smallest m_acc from which every larger m_acc of the sweep meets the cut-off
                best = None
                for r in reversed(rows):
                    if not r[key] <= limit:   # nan fails too
                        break
                    best = r["m_acc"]
                return best

            m_p = self.params.get("m_p")
            nzr = self.params.get("nzr", 1.0)
            ana = min_macc(n, m_p=_M_P_UNROUNDED if m_p is None else m_p,
                           chunk=chunk if chunk is not None and chunk < n else None, nzr=nzr,
                           cutoff=cutoff)
            out.append({"n": n, "chunk": chunk, "rounding": rounding, "dist": dist,
                        "knee": first("variance_lost"), "knee_lo": first("vl_lo"),
                        "knee_hi": first("vl_hi"), "min_macc": ana})
        return out


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:.6f}" if abs(v) < 1.5 and v != 0 and abs(v) > 0.5 else f"{v:.4g}"
    return str(v)


def _fsum_counts(X, spec, stats, seed=None):
    """fsum(X, spec, axis=0) and its swamping counts (zeros when stats is False)."""
    if stats:
        v, st = fsum(X, spec, axis=0, stats=True, seed=seed)
        return v, _counts(st)
    return fsum(X, spec, axis=0, seed=seed), np.zeros(4, np.int64)


def _continue_sum(Y, prev, spec, stats):
    """Sequential sum of Y's columns where Y[0] holds the previous results ``prev`` (set
    here) and Y[1:] the next addends: (values, counts of the new additions only)."""
    Y[0] = prev
    vals, c = _fsum_counts(Y, spec, stats)
    if stats:
        # s_1 = R(+0 + prev) = prev is exact (prev is a value of the format) and was
        # counted as an addition wherever prev is finite and non-zero: take it out again.
        c[0] -= int(np.count_nonzero(np.isfinite(prev) & (prev != 0.0)))
    return vals, c


def _with_head_row(A):
    """A copy of A below one spare first row (for _continue_sum)."""
    Y = np.empty((A.shape[0] + 1,) + A.shape[1:])
    Y[1:] = A
    return Y


def _chunk_layout(X, lo, hi, chunk):
    """The full chunks of X[lo:hi] as the columns of one (chunk, full*T) array (chunk c of
    trial t is X[lo + c*chunk : lo + (c+1)*chunk, t]), so that one kernel call sums them
    all; None if there is no full chunk."""
    T = X.shape[1]
    full = (hi - lo) // chunk
    if not full:
        return None
    return np.ascontiguousarray(
        X[lo:lo + full * chunk].reshape(full, chunk, T).transpose(1, 0, 2)).reshape(chunk, full * T)


def _chunk_sums(X, lo, hi, chunk, Z, spec, stats):
    """Level 1 of the chunked order over X[lo:hi]: the sums of chunks of ``chunk`` rows,
    each sequential from +0 (Z from _chunk_layout), shape (ceil((hi-lo)/chunk), T)."""
    T = X.shape[1]
    full, rem = divmod(hi - lo, chunk)
    parts, counts = [], np.zeros(4, np.int64)
    if full:
        v, c = _fsum_counts(Z, spec, stats)
        parts.append(v.reshape(full, T))
        counts += c
    if rem:
        v, c = _fsum_counts(X[lo + full * chunk:hi], spec, stats)
        parts.append(v.reshape(1, T))
        counts += c
    return np.concatenate(parts), counts


def _continuable(order) -> bool:
    """Orders whose sums over a longer prefix continue those over a shorter one."""
    return isinstance(order, Sequential) or (isinstance(order, Chunked)
                                             and isinstance(order.inner, Sequential))


def _prefix_sums(X, ns, specs, sr_seed, stats=True, tick=None):
    """results[k][i] = (s_hat, counts) of the accumulation of X[:ns[i]] under specs[k] (ns
    sorted), bit for bit equal to fsum(X[:n], spec) with its swamping counts.

    Sequential and chunked sums are continued from the previous length instead of starting
    over: [previous result; next rows] summed sequentially (the first addition, +0 + prev,
    is exact), and for chunks, only the chunks of the new rows are summed (when the
    previous length was a multiple of the chunk; otherwise that chunk size starts over).
    Lengths are the outer loop, so each segment of rows is copied once for all specs.
    Stochastic rounding, whose random streams depend on each addition's position, and the
    other orders are summed from scratch. ``tick(k, i)`` is called after each result.
    """
    tick = tick or (lambda k, i: None)
    results = [[None] * len(ns) for _ in specs]
    cont = []
    for k, spec in enumerate(specs):
        if spec.rounding == Rounding.SR or not _continuable(spec.order):
            for i, n in enumerate(ns):
                results[k][i] = _fsum_counts(X[:n], spec, stats, sr_seed)
                tick(k, i)
        else:
            cont.append(k)
    state = {k: (None, np.zeros(4, np.int64)) for k in cont}      # (prev, counts so far)
    chunks = sorted({specs[k].chunk for k in cont if isinstance(specs[k].order, Chunked)})
    prev_n = 0
    for i, n in enumerate(ns):
        Y = None                                   # [spare row; X[prev_n:n]], built once
        layouts = {}
        starts = {C: (prev_n if prev_n % C == 0 else 0) for C in chunks}
        for k in cont:
            spec = specs[k]
            prev, total = state[k]
            inner = AccumSpec(spec.acc, rounding=spec.rounding)
            if isinstance(spec.order, Sequential):
                if prev is None:
                    v, c = _fsum_counts(X[prev_n:n], inner, stats)
                else:
                    if Y is None:
                        Y = _with_head_row(X[prev_n:n])
                    v, c = _continue_sum(Y, prev, inner, stats)
            else:
                C, lo = spec.chunk, starts[spec.chunk]
                if lo == 0:                        # from the start (first or realigned)
                    prev, total = None, np.zeros(4, np.int64)
                if C not in layouts:
                    layouts[C] = _chunk_layout(X, lo, n, C)
                t, c = _chunk_sums(X, lo, n, C, layouts[C], inner, stats)
                outer = AccumSpec(spec.outer, rounding=spec.rounding)
                if prev is None:
                    v, c2 = _fsum_counts(t, outer, stats)
                else:
                    v, c2 = _continue_sum(_with_head_row(t), prev, outer, stats)
                c = c + c2
            total = total + c
            state[k] = (v, total)
            results[k][i] = (v, total.copy())
            tick(k, i)
        prev_n = n
    return results


def _exact_prefix_sums(X, ns, try_cheap):
    """The exact sums of X[:n] rounded once to float64, for each n of the sorted ns.

    A sequential sum in an e11m50 accumulator in which no addition was inexact (swamping
    counts all zero) *is* the exact sum, and is then a float64 value; so with products of
    few significant bits (``try_cheap``: m_p <= 30) that continued sum, on the kernels'
    fast path, is used wherever it carries this certificate. Other lengths are summed
    again in the Kulisch order, as measure_vrr always does.
    """
    if try_cheap:
        cheap = _prefix_sums(X, ns, [AccumSpec(Format(11, 50))], 0)[0]
    else:
        cheap = [(None, (0, 0, 0, 1))] * len(ns)
    return [s if counts[3] == 0 else fsum(X[:n], _EXACT64, axis=0)
            for n, (s, counts) in zip(ns, cheap)]


def _spec_for(m_acc, chunk, rounding, exp_bits):
    acc = accumulator(m_acc, exp_bits)
    if chunk is None:
        return AccumSpec(acc, rounding=rounding)
    return AccumSpec(acc, rounding=rounding, order="chunked", chunk=chunk)


def _analytic(n, m_acc, chunk, m_p, nzr, model):
    return float(variance_lost(n, m_acc, m_p=m_p, chunk=chunk if chunk is not None and chunk < n else None,
                               nzr=nzr, model=model))


def _check_list(name, values, check):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    values = [check(v) for v in values]
    if not values:
        raise ValueError(f"{name} must not be empty")
    return list(dict.fromkeys(values))      # unique, in order


def sweep(ns, m_accs, *, chunks=(None, 64), roundings=("rne",), dists=("gaussian",), trials=1000,
          m_p=None, exp_bits=6, nzr=1.0, seed=0, ci=0.95, stats=True, progress=None) -> SweepTable:
    """Measure the VRR over a grid of lengths, accumulator mantissas, chunk sizes, adder
    roundings and product distributions.

    Each distribution is drawn once, for the largest n (with the same seeding as
    :func:`measure_vrr`, so the products of length n are exactly those measure_vrr(n)
    draws), and every configuration (m_acc, chunk, rounding) is run on those same
    products: differences between configurations are not sampling noise. Sums of
    increasing n continue from the previous length (bit-identical to starting over),
    and each kernel call runs its trials in parallel.

    Parameters
    ----------
    ns : ints >= 1;  m_accs : ints in 0..52 ((1, exp_bits, m_acc) accumulators)
    chunks : None (a single sequential sum) and/or chunk lengths >= 1
    roundings : adder rounding modes (``"rne"``, ``"rtz"``, ...)
    dists : names from DISTRIBUTIONS
    trials, m_p, nzr, seed, ci : as in :func:`measure_vrr`
    exp_bits : accumulator exponent bits (1..11, 6 as in the paper)
    stats : count swamping (columns full, partial, additions; None without); counting
        slows the kernels down about 3x on long sums
    progress : callable(done, total), optional, called after each configuration (row)

    Returns
    -------
    SweepTable

    Examples
    --------
    >>> t = sweep([576, 1152], [5, 7, 9], chunks=(None,), trials=1000, m_p=5)
    >>> [(r["n"], r["m_acc"]) for r in t.rows][:4]
    [(576, 5), (576, 7), (576, 9), (1152, 5)]
    >>> [(k["n"], k["knee"], k["min_macc"]) for k in t.knee()]
    [(576, 7, 6), (1152, 7, 7)]
    """
    ns = sorted(_check_list("ns", ns, lambda v: _int("n", v, 1)))
    m_accs = sorted(_check_list("m_accs", m_accs, lambda v: _int("m_acc", v, 0, 52)))
    chunks = _check_list("chunks", chunks, lambda v: None if v is None else _int("chunk", v, 1))
    roundings = _check_list("roundings", roundings, lambda v: str(as_rounding(v, "rounding")))
    dists = _check_list("dists", dists, _check_dist)
    T = _int("trials", trials, 2)
    m_p = _check_m_p(m_p)
    exp_bits = _int("exp_bits", exp_bits, 1, 11)
    nzr = _check_nzr(nzr)
    seed = _check_seed(seed)
    ci = _check_ci(ci)
    progress = _check_progress(progress)
    if not isinstance(stats, (bool, np.bool_)):
        raise TypeError(f"stats must be True or False, got {stats!r:.60}")
    m_p_model = _M_P_UNROUNDED if m_p is None else m_p

    total = len(ns) * len(m_accs) * len(chunks) * len(roundings) * len(dists)
    done = 0
    rows = []
    # analytical values, once per (n, m_acc, chunk)
    ana = {}
    for chunk in chunks:
        for n in ns:
            c = chunk if chunk is not None and chunk < n else None
            for model in ("paper", "full"):
                vals = variance_lost(n, np.array(m_accs), m_p=m_p_model, chunk=c, nzr=nzr, model=model)
                for m, v in zip(m_accs, np.atleast_1d(vals)):
                    ana[(n, m, chunk, model)] = float(v)
    for dist in dists:
        X = _draw(ns[-1], T, dist, m_p, nzr, seed)
        exact = _exact_prefix_sums(X, ns, m_p is not None and m_p <= 30)
        specs = [(rounding, chunk, m_acc, _spec_for(m_acc, chunk, rounding, exp_bits))
                 for rounding in roundings for chunk in chunks for m_acc in m_accs]

        def tick(k, i):
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)
        results = _prefix_sums(X, ns, [sp for *_, sp in specs], _sr_seed(seed), stats, tick)
        for (rounding, chunk, m_acc, _), res in zip(specs, results):
            for n, s, (shat, counts) in zip(ns, exact, res):
                v, (lo, hi), vl, (vl_lo, vl_hi) = _estimate(shat, s, _n_eff(n, nzr), ci)
                rows.append({"dist": dist, "rounding": rounding, "chunk": chunk, "n": n,
                             "m_acc": m_acc, "vrr": v, "vrr_lo": lo, "vrr_hi": hi,
                             "variance_lost": vl, "vl_lo": vl_lo, "vl_hi": vl_hi,
                             "vl_paper": ana[(n, m_acc, chunk, "paper")],
                             "vl_full": ana[(n, m_acc, chunk, "full")],
                             "full": int(counts[1]) if stats else None,
                             "partial": int(counts[2]) if stats else None,
                             "additions": int(counts[0]) if stats else None})
        del X
    order = {d: i for i, d in enumerate(dists)}
    rorder = {r: i for i, r in enumerate(roundings)}
    corder = {c: i for i, c in enumerate(chunks)}
    rows.sort(key=lambda r: (order[r["dist"]], rorder[r["rounding"]], corder[r["chunk"]], r["n"], r["m_acc"]))
    params = {"ns": ns, "m_accs": m_accs, "chunks": chunks, "roundings": roundings, "dists": dists,
              "trials": T, "m_p": m_p, "m_p_model": m_p_model, "exp_bits": exp_bits, "nzr": nzr,
              "seed": seed, "ci": ci, "stats": bool(stats)}
    return SweepTable(rows=rows, params=params)


# ---------------------------------------------------------------- Figure 2

def _dense_grid(lo, hi, per_octave=8):
    """Integers from lo to hi, geometrically spaced, per_octave points per doubling."""
    k = np.arange(0, math.ceil(per_octave * math.log2(hi / lo)) + 1)
    grid = np.unique(np.clip(np.round(lo * 2.0 ** (k / per_octave)), lo, hi).astype(np.int64))
    return [int(v) for v in grid]


@dataclass(frozen=True)
class Figure2Data:
    """The data of Sakr et al.'s Figure 2: variance lost against n, one curve per m_acc,
    for a single sum ("normal") and for chunks of ``chunk``.

    ``series``: one dict per (m_acc, chunk) with the measured points ``n``,
    ``variance_lost``, ``vl_lo``, ``vl_hi`` (interval at level ``ci``) and the analytical
    curve ``curve_n``, ``curve_paper`` (:func:`fpsim.variance_lost`, "paper" model, on a
    dense grid of n, 8 points per octave). ``cutoff``: the knee rule's cut-off (variance
    lost <= ln(cutoff)). ``table``: the underlying :class:`SweepTable`. ``seconds``: wall
    time of the measurement. A plotting layer draws exp(variance lost) (the paper's
    "normalized exponential variance lost") or the variance lost on log axes.
    """

    ns: list
    m_accs: list
    chunk: int
    trials: int
    m_p: int | None
    seed: int
    ci: float
    cutoff: float
    series: list
    table: SweepTable
    seconds: float

    def to_dict(self) -> dict:
        return {"ns": self.ns, "m_accs": self.m_accs, "chunk": self.chunk, "trials": self.trials,
                "m_p": self.m_p, "seed": self.seed, "ci": self.ci, "cutoff": self.cutoff,
                "series": self.series, "rows": self.table.rows, "seconds": self.seconds}


def figure2(*, ns=tuple(2 ** k for k in range(6, 17)), m_accs=range(4, 15), chunk=64, trials=1000,
            m_p=5, seed=0, ci=0.95, cutoff=50, stats=False, progress=None) -> Figure2Data:
    """Measure the Figure-2 grid of Sakr et al. (ICLR 2019): variance lost against n for
    each m_acc, with a single sum and with chunk-based accumulation, next to the "paper"
    model's curves. Gaussian products rounded to m_p bits (5: the exact product of two
    (1,5,2) FP8 operands), (1,6,m_acc) round-to-nearest accumulators.

    The default grid (n = 2^6..2^16, m_acc = 4..14, 1,000 trials a point) takes well under
    a minute on a 2-core machine (see docs/measured-vrr.md). ``stats=False`` (default)
    skips the swamping counts, which the figure does not use and which slow the kernels
    down about 3x on long sums.

    >>> f = figure2(ns=[64, 256], m_accs=[6, 8], trials=200)
    >>> [(s["m_acc"], s["chunk"], len(s["n"])) for s in f.series]
    [(6, None, 2), (8, None, 2), (6, 64, 2), (8, 64, 2)]
    """
    chunk = _int("chunk", chunk, 1)
    cutoff = _real("cutoff", cutoff)
    if not 1.0 < cutoff < math.inf:
        raise ValueError(f"cutoff must satisfy 1 < cutoff < inf, got {cutoff!r}")
    start = time.perf_counter()
    table = sweep(ns, m_accs, chunks=(None, chunk), trials=trials, m_p=m_p, seed=seed, ci=ci,
                  stats=stats, progress=progress)
    seconds = time.perf_counter() - start
    p = table.params
    m_p_model = p["m_p_model"]
    grid = _dense_grid(p["ns"][0], p["ns"][-1])
    series = []
    for c in (None, chunk):
        for m in p["m_accs"]:
            rows = [r for r in table.rows if r["chunk"] == c and r["m_acc"] == m]
            curve = [_analytic(n, m, c, m_p_model, 1.0, "paper") for n in grid]
            series.append({"m_acc": m, "chunk": c, "n": [r["n"] for r in rows],
                           "variance_lost": [r["variance_lost"] for r in rows],
                           "vl_lo": [r["vl_lo"] for r in rows], "vl_hi": [r["vl_hi"] for r in rows],
                           "curve_n": grid, "curve_paper": curve})
    return Figure2Data(ns=p["ns"], m_accs=p["m_accs"], chunk=chunk, trials=p["trials"], m_p=p["m_p"],
                       seed=p["seed"], ci=p["ci"], cutoff=cutoff, series=series, table=table,
                       seconds=seconds)


# ---------------------------------------------------------------- the docs' comparison

#: The grid of docs/measured-vrr.md (the design notes' "known numbers").
COMPARISON_NS = (576, 1152, 2304, 4608)
COMPARISON_M_ACCS = tuple(range(4, 11))


def comparison_grid(*, trials=20000, m_p=5, seed=0, progress=None) -> SweepTable:
    """The measured-vs-analytical grid of docs/measured-vrr.md: n = 576..4608, m_acc = 4..10,
    single sum and chunks of 64, round-to-nearest (rne) and truncating (rtz) adders."""
    return sweep(COMPARISON_NS, COMPARISON_M_ACCS, chunks=(None, 64), roundings=("rne", "rtz"),
                 trials=trials, m_p=m_p, seed=seed, progress=progress)


def comparison_markdown(table: SweepTable, cutoff=50) -> str:
    """Markdown tables (variance lost, measured [interval] vs "paper" and "full" models; the
    knees) of a :func:`comparison_grid` table."""
    def cell(r):
        return f"{r['variance_lost']:.3g} [{r['vl_lo']:.3g}, {r['vl_hi']:.3g}]"

    p = table.params
    out = [f"Measured with T = {p['trials']} trials, m_p = {p['m_p']}, seed = {p['seed']}, "
           f"{round(100 * p['ci'])}% intervals; accumulators (1,{p['exp_bits']},m_acc).", ""]
    by = {(r["rounding"], r["chunk"], r["n"], r["m_acc"]): r for r in table.rows}
    chunks = p["chunks"]
    for rounding in p["roundings"]:
        for chunk in chunks:
            label = "single sum" if chunk is None else f"chunks of {chunk}"
            out.append(f"**{rounding}, {label}**: variance lost n(1-VRR), measured [95% CI] / "
                       "paper model / full-swamping model / measured / paper")
            out.append("")
            out.append("| n | m_acc | measured | paper | full | meas/paper |")
            out.append("|---|---|---|---|---|---|")
            for n in p["ns"]:
                for m in p["m_accs"]:
                    r = by[(rounding, chunk, n, m)]
                    ratio = r["variance_lost"] / r["vl_paper"] if r["vl_paper"] > 0 else float("nan")
                    out.append(f"| {n} | {m} | {cell(r)} | {r['vl_paper']:.3g} | {r['vl_full']:.3g} "
                               f"| {ratio:.3g} |")
            out.append("")
    out.append(f"**Knees** (smallest m_acc with variance lost <= ln {cutoff:g}), as (single sum, "
               f"chunks of {chunks[-1]}); measured (conservative knee from the intervals' tops in "
               "brackets) / paper model:")
    out.append("")
    out.append("| n | " + " | ".join(f"{r} measured | {r} paper" for r in p["roundings"]) + " |")
    out.append("|---|" + "---|---|" * len(p["roundings"]))
    knees = {(k["rounding"], k["chunk"], k["n"]): k for k in table.knee(cutoff)}

    def show(v):
        return "-" if v is None else str(v)
    for n in p["ns"]:
        cells = []
        for rounding in p["roundings"]:
            ks = [knees[(rounding, c, n)] for c in chunks]
            cells.append("(" + ",".join(show(k["knee"]) for k in ks) + ") [("
                         + ",".join(show(k["knee_hi"]) for k in ks) + ")]")
            cells.append("(" + ",".join(str(k["min_macc"]) for k in ks) + ")")
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- calibration of the model

def paper_regime(n, m_acc, *, m_p, chunk=None, rounding="rne", exp_bits=6, nzr=1.0):
    """Whether (n, m_acc, m_p, chunk, rounding) lies in the regime where the "paper" model's
    assumptions hold well enough for docs/measured-vrr.md's calibrated error band:
    a round-to-nearest adder (``rne``/``rna``), products with m_p >= 5 fractional bits
    (None: float64 products, m_p = 52), the paper's 6 (or more) accumulator exponent bits,
    a model loss 0.5 <= variance_lost and 1 - VRR <= 2% (partial sums still close to
    N(0, i)), and n <= 2^16 (the calibrated lengths)."""
    rounding = str(as_rounding(rounding, "rounding"))
    m_p = _M_P_UNROUNDED if m_p is None else m_p
    if rounding not in ("rne", "rna") or m_p < 5 or exp_bits < 6 or n > 2 ** 16:
        return False
    vl = _analytic(n, m_acc, chunk, m_p, nzr, "paper")
    return 0.5 <= vl <= 0.02 * _n_eff(n, nzr)


#: The calibration grid of docs/measured-vrr.md (``python -m fpsim.measure calibrate``).
CALIBRATION = {"ns": (64, 128, 256, 512, 1024), "m_accs": tuple(range(3, 10)),
               "chunks": (None, 64), "trials": 100_000, "seed": 2019}


def calibration(*, trials=CALIBRATION["trials"], seed=CALIBRATION["seed"], progress=None):
    """Measured / "paper" variance lost on the calibration grid, in :func:`paper_regime`:
    every distribution with m_p = 5, Gaussian products with m_p = 10 and unrounded.
    Returns (rows, band): rows with the ratio and its interval, band = (lowest interval
    bottom, highest interval top) over the rows."""
    g = CALIBRATION
    runs = [(5, DISTRIBUTIONS), (10, ("gaussian",)), (None, ("gaussian",))]
    total = sum(len(g["ns"]) * len(g["m_accs"]) * len(g["chunks"]) * len(d) for _, d in runs)
    done = [0]

    def step(d, t):
        done[0] += 1
        if progress is not None:
            progress(done[0], total)
    rows = []
    for m_p, dists in runs:
        table = sweep(g["ns"], g["m_accs"], chunks=g["chunks"], dists=dists, trials=trials,
                      m_p=m_p, seed=seed, progress=step)
        for r in table.rows:
            c = r["chunk"] if r["chunk"] is not None and r["chunk"] < r["n"] else None
            if paper_regime(r["n"], r["m_acc"], m_p=m_p, chunk=c):
                v = r["vl_paper"]
                rows.append(dict(r, m_p=m_p, ratio=r["variance_lost"] / v,
                                 ratio_lo=r["vl_lo"] / v, ratio_hi=r["vl_hi"] / v))
    band = (min(r["ratio_lo"] for r in rows), max(r["ratio_hi"] for r in rows))
    return rows, band


# ---------------------------------------------------------------- command line

def _progress_bar(done, total, start=[None]):
    import sys
    if start[0] is None or done == 1:
        start[0] = time.perf_counter()
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"{time.perf_counter() - start[0]:.1f}s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(argv=None):
    """``python -m fpsim.measure compare|figure2|sweep``; see ``--help``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m fpsim.measure",
                                 description="Measured VRR (Monte Carlo swamping experiments).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare", help="the measured-vs-analytical table of docs/measured-vrr.md")
    c.add_argument("--trials", type=int, default=20000)
    c.add_argument("--seed", type=int, default=0)
    k = sub.add_parser("calibrate", help="measured/paper ratios on the calibration grid")
    k.add_argument("--trials", type=int, default=CALIBRATION["trials"])
    k.add_argument("--seed", type=int, default=CALIBRATION["seed"])
    k.add_argument("--json", help="write the rows to this file")
    f = sub.add_parser("figure2", help="the Figure-2 grid (prints timing and the knees)")
    f.add_argument("--trials", type=int, default=1000)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--json", help="write the data to this file")
    s = sub.add_parser("sweep", help="a sweep; prints the table (or CSV/JSON)")
    s.add_argument("--ns", type=lambda v: [int(x) for x in v.split(",")], required=True)
    s.add_argument("--m-accs", type=lambda v: [int(x) for x in v.split(",")], required=True)
    s.add_argument("--chunks", default="none,64")
    s.add_argument("--roundings", default="rne")
    s.add_argument("--dists", default="gaussian")
    s.add_argument("--trials", type=int, default=1000)
    s.add_argument("--m-p", type=lambda v: None if v == "none" else int(v), default=None)
    s.add_argument("--nzr", type=float, default=1.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--format", choices=("table", "csv", "json"), default="table")
    for p in (c, k, f, s):
        p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    bar = None if args.quiet else _progress_bar
    if args.cmd == "compare":
        table = comparison_grid(trials=args.trials, seed=args.seed, progress=bar)
        print(comparison_markdown(table))
    elif args.cmd == "calibrate":
        rows, band = calibration(trials=args.trials, seed=args.seed, progress=bar)
        cols = ("dist", "m_p", "chunk", "n", "m_acc", "variance_lost", "vl_paper", "ratio",
                "ratio_lo", "ratio_hi")
        print(SweepTable(rows=rows, columns=cols).format())
        ratios = sorted(r["ratio"] for r in rows)
        print(f"{len(rows)} cells in the regime; ratio measured/paper: median "
              f"{ratios[len(ratios) // 2]:.3g}, range of estimates {ratios[0]:.3g}..{ratios[-1]:.3g}, "
              f"band of the {round(100 * 0.95)}% intervals {band[0]:.3g}..{band[1]:.3g}")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"rows": rows, "band": band}, fh)
    elif args.cmd == "figure2":
        fig = figure2(trials=args.trials, seed=args.seed, progress=bar)
        print(f"figure2: {len(fig.table)} points, {fig.trials} trials each, {fig.seconds:.1f} s")
        for k in fig.table.knee(fig.cutoff):
            print(k)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(fig.to_dict(), fh)
    else:
        chunks = [None if x.lower() == "none" else int(x) for x in args.chunks.split(",")]
        table = sweep(args.ns, args.m_accs, chunks=chunks, roundings=args.roundings.split(","),
                      dists=args.dists.split(","), trials=args.trials, m_p=args.m_p, nzr=args.nzr,
                      seed=args.seed, progress=bar)
        print({"table": table.format, "csv": table.to_csv, "json": table.to_json}[args.format]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
