"""Analytical variance retention ratio (VRR) of a reduced-precision accumulation.

The model is the swamping analysis of C. Sakr et al., "Accumulation Bit-Width Scaling
For Ultra-Low Precision Training Of Deep Networks", ICLR 2019 (arXiv:1901.06588), in the
form reconstructed in docs/theory.md (the paper's printed equations were not available):

* products p_1..p_n are iid N(0, 1) (VRR does not depend on the scale), the partial sum
  s_i is N(0, i) and independent of the next product;
* the accumulator keeps ``m_acc`` fractional mantissa bits, rounds to nearest and has
  enough exponent range; the products carry ``m_p`` fractional mantissa bits.

Adding p to s loses p entirely when |p| < ulp(s)/2 (full swamping) and loses its bits
below ulp(s) when the exponent gap exceeds m_acc - m_p (partial swamping, booked as
ulp(s)^2/12). Lost increments are uncorrelated, so
``VRR(n) = 1 - S(n)/n`` with ``S(n) = sum_{i=1}^{n-1} f(i)``, f(i) the expected variance
lost at the step that adds a product to s_i. The three ``model`` choices differ in f:

``"full"``    full swamping only;
``"paper"``   full + partial swamping (the paper's model, the default);
``"closed"``  full swamping with the threshold taken proportional to |s|,
              |p| < kappa 2^-m_acc |s|, which gives
              f(i) = (2/pi)(arctan t_i - t_i/(1 + t_i^2)), t_i = kappa 2^-m_acc sqrt(i).

A fourth model, ``"adder"``, is fpsim's own variance model of the real rounding adder
(every rounding mode, any accumulator format, sequential and chunked orders): see
:mod:`fpsim.analysis.adder`; the three functions below hand it over at their top.

``S(n)`` is summed term by term for the first 4096 steps and integrated beyond (the
midpoint Euler-Maclaurin rule on a logarithmic Gauss-Legendre grid), so the cost grows
with log n only.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._args import check_choice, check_cutoff, check_ints, check_nzr, check_real

__all__ = ["MODELS", "SWAMPING_MODELS", "KAPPA_RN", "vrr", "variance_lost", "min_macc"]

#: The swamping models (the reconstruction of Sakr et al. and two variants of it).
SWAMPING_MODELS = ("full", "paper", "closed")
#: Every model: the swamping models and fpsim's adder model (fpsim.analysis.adder).
MODELS = SWAMPING_MODELS + ("adder",)

#: Threshold factor of the ``"closed"`` model for a round-to-nearest adder, as quoted in
#: the design notes. It is the cube root of E[2^(-3(1+u))] = 7/(192 ln 2) (0.37468),
#: u uniform in [0, 1): the RN threshold ulp(s)/2 = 2^-(1+u) 2^-m_acc |s| averaged as the
#: small-threshold loss weighs it (its cube).
KAPPA_RN = 0.3746

_HEAD = 4096                      # steps summed term by term
# Binades k of |s| (2^k <= |s| < 2^(k+1)) in the sums over k. Below 2^-40, |s| lies with
# probability < 2^-40 and a step loses 2^80 times less than at the bulk (the loss falls at
# least like ulp^2); 2^39 is 2^7 standard deviations above the bulk for every n <= _N_MAX.
_BINADES = np.arange(-40, 40)
_N_MAX = 2 ** 62
_BITS_MAX = 1074                  # beyond it 2^-bits is 0 in float64
_PANEL = math.log(2.0) / 4        # width in ln x of a tail integration panel
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_SQRT2 = math.sqrt(2.0)

# numpy has no erf; math.erf / math.erfc are accurate to a few ulp.
_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _prob_between(a: float, b: float) -> float:
    """P(a <= |X| < b) for X ~ N(0, 1)."""
    za, zb = a / _SQRT2, b / _SQRT2
    if za > 1.0:  # an erf difference would cancel in the upper tail
        return math.erfc(za) - math.erfc(zb)
    return math.erf(zb) - math.erf(za)


def _g(a: float) -> float:
    """E[X^2 1{|X| < a}] for X ~ N(0, 1)."""
    if a < 1.0:
        # erf(a/sqrt2) - sqrt(2/pi) a exp(-a^2/2) cancels to O(a^3); sum its series instead:
        # sqrt(2/pi) sum_k (-1)^k a^(2k+3) / (2^k k! (2k+3)), 20 terms exact to 1 ulp at a = 1.
        total, power = 0.0, a ** 3
        for k in range(20):
            total += power / (2 * k + 3)
            power *= -a * a / (2 * (k + 1))
        return math.sqrt(2.0 / math.pi) * total
    return math.erf(a / _SQRT2) - math.sqrt(2.0 / math.pi) * a * math.exp(-a * a / 2.0)


@lru_cache(maxsize=None)
def _binade_loss(d: int, m_p: int, partial: bool) -> float:
    """Expected variance lost adding p ~ N(0, 1) to a sum whose ulp is 2^d."""
    loss = _g(math.ldexp(1.0, d - 1))  # full swamping: |p| < ulp/2
    if partial:
        # p survives but its bits below ulp are rounded away: |p| < 2^(d + m_p) means
        # E(p) - m_p < d, i.e. the exponent gap exceeds m_acc - m_p.
        # P(|p| >= 2^64) is 0 in float64, and ldexp would overflow for a huge m_p.
        top = math.ldexp(1.0, d + m_p) if d + m_p < 64 else math.inf
        loss += math.ldexp(1.0, 2 * d) / 12.0 * _prob_between(math.ldexp(1.0, d - 1), top)
    return loss


def _binade_probs(x: np.ndarray) -> np.ndarray:
    """P(2^k <= |s| < 2^(k+1)) for s ~ N(0, x) and k in _BINADES: shape (len(x), len(_BINADES))."""
    z = np.ldexp(1.0, np.append(_BINADES, _BINADES[-1] + 1)) / np.sqrt(2.0 * x)[:, None]
    lo, hi = slice(None, -1), slice(1, None)
    erf, erfc = _erf(z).astype(float), _erfc(z).astype(float)
    # erfc differences keep relative precision in the upper tail, erf differences near 0
    return np.where(z[:, lo] > 1.0, erfc[:, lo] - erfc[:, hi], erf[:, hi] - erf[:, lo])


@lru_cache(maxsize=1)
def _head_probs() -> np.ndarray:
    probs = _binade_probs(np.arange(1.0, _HEAD + 1))
    probs.flags.writeable = False
    return probs


def _closed_step(t: np.ndarray) -> np.ndarray:
    """(2/pi)(arctan t - t/(1+t^2)): the loss of a step with threshold t|Z| (Z = s/sqrt(x))."""
    # Below t = 0.05 the difference cancels; its series sum_k (-1)^(k+1) 2k/(2k+1) t^(2k+1)
    # converges to 1 ulp in 6 terms.
    ts = np.minimum(t, 0.05)
    series = sum((-1) ** (k + 1) * 2 * k / (2 * k + 1) * ts ** (2 * k + 1) for k in range(1, 7))
    direct = np.arctan(t) - t / (1.0 + t * t)
    return 2.0 / math.pi * np.where(t < 0.05, series, direct)


def _step_loss(x, m_acc, m_p, model, kappa, probs=None):
    """f(x) for each column (m_acc[c], m_p[c]): shape (len(x), len(m_acc))."""
    if model == "closed":
        return _closed_step(kappa * np.sqrt(x)[:, None] * np.ldexp(1.0, -m_acc)[None, :])
    if probs is None:
        probs = _binade_probs(x)
    partial = model == "paper"
    table = np.array([[_binade_loss(int(k - m), int(p), partial) for m, p in zip(m_acc, m_p)]
                      for k in _BINADES])
    return probs @ table


def _tail(n, rate):
    """sum_{i=_HEAD+1}^{n-1} rate(i) for each n > _HEAD + 1: shape (len(n), columns).

    By the midpoint Euler-Maclaurin rule the sum is the integral of rate over
    [_HEAD + 1/2, n - 1/2] up to -(rate'(n-1/2) - rate'(_HEAD+1/2))/24, a relative error
    below 1e-8 since rate varies on the scale of x itself. The integral runs over u = ln x
    on panels of width _PANEL, 8-point Gauss-Legendre each: whole panels are shared by
    all n and accumulated, the last partial panel is integrated per n.
    """
    u0, u = math.log(_HEAD + 0.5), np.log(n - 0.5)
    whole = ((u - u0) // _PANEL).astype(np.int64)
    lo = u0 + _PANEL * np.arange(whole.max())
    last = u0 + _PANEL * whole
    width = u - last
    nodes = np.concatenate([(lo[:, None] + _PANEL / 2 * (1 + _GL_X)).ravel(),
                            (last[:, None] + width[:, None] / 2 * (1 + _GL_X)).ravel()])
    x = np.exp(nodes)
    values = rate(x) * x[:, None]  # dx = x du
    values = values.reshape(lo.size + n.size, _GL_X.size, -1)
    panels = _PANEL / 2 * np.einsum("pqc,q->pc", values[:lo.size], _GL_W)
    cumulative = np.concatenate([np.zeros((1, panels.shape[1])), np.cumsum(panels, axis=0)])
    partial = width[:, None] / 2 * np.einsum("nqc,q->nc", values[lo.size:], _GL_W)
    return cumulative[whole] + partial


def _loss_sums(n, m_acc, m_p, model, kappa):
    """S(n) for 1-D arrays n (rows) and columns (m_acc[c], m_p[c]): shape (len(n), len(m_acc))."""
    def rate(x, probs=None):
        return _step_loss(x, m_acc, m_p, model, kappa, probs)

    steps = min(int(n.max()) - 1, _HEAD)
    probs = None if model == "closed" else _head_probs()[:steps]
    head = np.zeros((steps + 1, m_acc.size))
    head[1:] = np.cumsum(rate(np.arange(1.0, steps + 1), probs), axis=0)
    sums = head[np.minimum(n - 1, steps)]
    beyond = n > _HEAD + 1
    if beyond.any():
        sums[beyond] += _tail(n[beyond], rate)
    return sums


def _fraction(n, m_acc, m_p, model, kappa):
    """1 - VRR = S(n)/n, broadcast over n and m_acc; m_p=None means m_p = m_acc."""
    n, m_acc = np.broadcast_arrays(n, m_acc)
    shape = n.shape
    if n.size == 0:
        return np.zeros(shape)
    rows, row_of = np.unique(n.ravel(), return_inverse=True)
    cols, col_of = np.unique(m_acc.ravel(), return_inverse=True)
    col_mp = cols if m_p is None else np.full(cols.size, m_p)
    sums = _loss_sums(rows, cols, col_mp, model, kappa)
    return (sums[row_of, col_of] / rows[row_of]).reshape(shape)


def _effective(n, nzr):
    """The number of non-zero products nzr*n, rounded half up, at least 1."""
    return np.maximum(1, np.floor(nzr * n + 0.5)).astype(np.int64)


def _lost(n, m_acc, m_p, chunk, nzr, model, kappa):
    """(1 - VRR, n_eff) broadcast over n and m_acc."""
    if chunk is None:
        n_eff = _effective(n, nzr)
        return _fraction(n_eff, m_acc, m_p, model, kappa), n_eff
    # Level 1: chunks of `chunk` (sparse) products. Level 2: ceil(n/chunk) dense chunk
    # sums, each already rounded to m_acc bits, so their mantissa is m_acc.
    first = _fraction(_effective(chunk, nzr), m_acc, m_p, model, kappa)
    second = _fraction(-(-n // chunk), m_acc, None, model, kappa)
    # 1 - (1-a)(1-b), written so that tiny losses keep their relative precision
    return first + second - first * second, _effective(n, nzr)


# ---------------------------------------------------------------- argument checks

def _checked(n, m_acc, m_p, chunk, nzr, model, kappa):
    model = check_choice(model, "model", MODELS)
    n = check_ints(n, "n", 1, _N_MAX)
    m_acc = None if m_acc is None else check_ints(m_acc, "m_acc", 0, _BITS_MAX)
    m_p = int(check_ints(m_p, "m_p", 0, _BITS_MAX, scalar=True))
    nzr = check_nzr(nzr)
    kappa = check_real(kappa, "kappa", 0.0, math.inf, low_open=True, high_open=True)
    if chunk is not None:
        chunk = int(check_ints(chunk, "chunk", 1, _N_MAX, scalar=True))
        if n.size and chunk > n.min():
            raise ValueError(f"chunk must satisfy chunk <= n (use chunk=None for a single sum), "
                             f"got chunk={chunk} with n={int(n.min())}")
    return n, m_acc, m_p, chunk, nzr, model, kappa


def _output(values, *inputs):
    return float(values) if all(np.ndim(x) == 0 for x in inputs) else values


# ---------------------------------------------------------------- public API

def vrr(n, m_acc, *, m_p, chunk=None, nzr=1.0, model="paper", kappa=KAPPA_RN,
        dist="gaussian", rounding=None):
    """Variance retention ratio of an n-term accumulation with an m_acc-bit mantissa.

    Var(reduced-precision sum) / Var(exact sum) under the swamping model of Sakr et al.,
    ICLR 2019 (arXiv:1901.06588); see the module docstring and docs/theory.md.

    Parameters
    ----------
    n, m_acc : int or array of int
        Accumulation length (>= 1) and fractional mantissa bits of the accumulator (>= 0);
        broadcast against each other. Scalars in give a float out. ``m_acc`` may also be
        an :class:`~fpsim.AccumSpec` (its format, rounding and order: sequential or
        chunked); the swamping models take its mantissa and chunk, and need rne.
    m_p : int
        Fractional mantissa bits of the products (>= 0); only ``"paper"`` and ``"adder"``
        use it (``"adder"``: None for unrounded products).
    chunk : int, optional
        Chunk length n1, 1 <= chunk <= n: chunks of n1 products are summed, then the
        n2 = ceil(n / n1) chunk sums (a short last chunk counts as a full one), giving
        VRR(n1; m_p, m_acc) * VRR(n2; m_acc, m_acc). chunk = n equals no chunking.
    nzr : float
        Fraction of non-zero products, in (0, 1]: the sum behaves as one of
        n_eff = nzr*n products (rounded half up, at least 1); with chunks, each chunk
        holds round(nzr*chunk) of them and the chunk sums stay dense.
    model : {"full", "paper", "closed", "adder"}
        Full swamping only; full + partial swamping; arctan closed form; fpsim's adder
        model (:mod:`fpsim.analysis.adder`).
    kappa : float
        Threshold factor of the ``"closed"`` model (RN adder: 0.3746).
    dist, rounding
        ``"adder"`` only: the product distribution (as fpsim.measure_vrr draws it) and,
        with an int m_acc, the adder's rounding (default rne).

    Examples
    --------
    >>> round(vrr(576, 6, m_p=5), 4)
    0.9968
    >>> vrr([576, 4608], 6, m_p=5, chunk=64).round(4)
    array([0.9996, 0.9993])
    >>> round(vrr(10**6, 12, m_p=5, model="closed"), 5)
    0.99987
    """
    if model == "adder":
        return _adder_values("vrr", n, m_acc, m_p, chunk, nzr, dist, rounding)
    m_acc, chunk = _swamping_spec(m_acc, chunk, rounding)
    n, m_acc, m_p, chunk, nzr, model, kappa = _checked(n, m_acc, m_p, chunk, nzr, model, kappa)
    fraction, _ = _lost(n, m_acc, m_p, chunk, nzr, model, kappa)
    return _output(1.0 - fraction, n, m_acc)


def variance_lost(n, m_acc, *, m_p, chunk=None, nzr=1.0, model="paper", kappa=KAPPA_RN,
                  dist="gaussian", rounding=None):
    """Variance lost by an accumulation, in units of one product's variance: n_eff (1 - VRR).

    Same arguments as :func:`vrr` (Sakr et al., ICLR 2019); computed without forming
    1 - VRR, so tiny losses keep their relative precision. Negative values (``"adder"``
    only): the adder gains variance (round-to-nearest-away, stochastic rounding).

    Examples
    --------
    >>> round(variance_lost(576, 6, m_p=5), 2)
    1.82
    >>> variance_lost(2304, [5, 6, 7], m_p=5, chunk=64).round(2)
    array([4.92, 1.21, 0.28])
    """
    if model == "adder":
        return _adder_values("lost", n, m_acc, m_p, chunk, nzr, dist, rounding)
    m_acc, chunk = _swamping_spec(m_acc, chunk, rounding)
    n, m_acc, m_p, chunk, nzr, model, kappa = _checked(n, m_acc, m_p, chunk, nzr, model, kappa)
    fraction, n_eff = _lost(n, m_acc, m_p, chunk, nzr, model, kappa)
    return _output(n_eff * fraction, n, m_acc)


def min_macc(n, *, m_p, chunk=None, nzr=1.0, cutoff=50, model="paper", m_max=52,
             kappa=KAPPA_RN, rounding="rne", dist="gaussian"):
    """Smallest accumulator mantissa m_acc that meets the variance-lost cut-off.

    The normalized exponential variance lost exp(n_eff (1 - VRR)) must be at most
    ``cutoff``, i.e. variance_lost <= ln(cutoff): the precision rule of Sakr et al.,
    ICLR 2019 (arXiv:1901.06588). The cut-off (> 1)
    is a parameter because the paper's value (remembered as 50) is uncertain. Other
    arguments as in :func:`vrr`; vectorised over n (an int in, an int out). Raises
    ValueError if no m_acc <= m_max meets the cut-off. With ``model="adder"`` the
    accumulators are fpsim.accumulator(m_acc) with ``rounding``, and a gain of variance
    counts like a loss (|variance lost| <= ln(cutoff), at m_acc and m_acc + 1).

    Examples
    --------
    >>> min_macc([576, 1152, 2304, 4608], m_p=5)
    array([6, 7, 8, 9])
    >>> min_macc([576, 1152, 2304, 4608], m_p=5, chunk=64)
    array([4, 5, 6, 6])
    >>> min_macc(10**7, m_p=5, chunk=64)
    17
    """
    if model == "adder":
        return _adder_min_macc(n, m_p, chunk, nzr, cutoff, m_max, rounding, dist)
    if rounding not in ("rne", None):
        raise ValueError(f"the swamping models describe a round-to-nearest-even adder; "
                         f"use model='adder' for rounding={rounding!r}")
    n, _, m_p, chunk, nzr, model, kappa = _checked(n, None, m_p, chunk, nzr, model, kappa)
    cutoff = check_cutoff(cutoff)
    m_max = int(check_ints(m_max, "m_max", 0, _BITS_MAX, scalar=True))
    fraction, n_eff = _lost(n[..., None], np.arange(m_max + 1), m_p, chunk, nzr, model, kappa)
    ok = n_eff * fraction <= math.log(cutoff)
    if not ok[..., -1].all():
        raise ValueError(f"no m_acc <= m_max={m_max} meets cutoff={cutoff:g} for "
                         f"n={int(n[~ok[..., -1]].flat[0])}; raise m_max or the cut-off")
    best = ok.argmax(axis=-1)
    return int(best) if best.ndim == 0 else best


# ---------------------------------------------------------------- the adder model
# (fpsim.analysis.adder; what follows only adapts the arguments of the three functions)

def _swamping_spec(spec, chunk, rounding):
    """(m_acc, chunk) for the swamping models from an int/array m_acc or an AccumSpec."""
    from ..accumulate import AccumSpec
    from ..orders import Chunked, Sequential
    if rounding not in (None, "rne"):
        raise ValueError(f"the swamping models describe a round-to-nearest-even adder; use "
                         f"model='adder' for rounding={rounding!r}")
    if not isinstance(spec, AccumSpec):
        return spec, chunk
    if chunk is not None:
        raise ValueError(f"chunk goes inside the AccumSpec's order, not beside it (got chunk={chunk!r})")
    if str(spec.rounding) != "rne":
        raise ValueError(f"the swamping models describe a round-to-nearest-even adder, the spec "
                         f"rounds {spec.rounding}; use model='adder'")
    order = spec.order
    if isinstance(order, Sequential):
        return spec.acc.man_bits, None
    if isinstance(order, Chunked) and isinstance(order.inner, Sequential) and order.outer == spec.acc:
        return spec.acc.man_bits, order.size
    raise ValueError(f"the swamping models cover sequential sums and one level of chunks "
                     f"summed in the accumulator, got {order!r}; use model='adder'")


def _adder_values(kind, n, spec, m_p, chunk, nzr, dist, rounding):
    """vrr ('vrr') or variance_lost ('lost') of the adder model, broadcast like the others."""
    from .adder import adder_variance_lost, adder_vrr, as_adder_spec
    from ..accumulate import AccumSpec
    fn = adder_vrr if kind == "vrr" else adder_variance_lost
    n = check_ints(n, "n", 1, _N_MAX)
    if isinstance(spec, AccumSpec):
        values = fn(n, as_adder_spec(spec, chunk, rounding), m_p=m_p, dist=dist, nzr=nzr)
        return _output(np.asarray(values, dtype=np.float64), n)
    m_acc = check_ints(spec, "m_acc", 0, 52)
    nb, mb = np.broadcast_arrays(n, m_acc)
    out = np.empty(nb.shape)
    for m in np.unique(mb):
        sel = mb == m
        out[sel] = fn(nb[sel], as_adder_spec(int(m), chunk, rounding), m_p=m_p, dist=dist, nzr=nzr)
    return _output(out, n, m_acc)


def _adder_min_macc(n, m_p, chunk, nzr, cutoff, m_max, rounding, dist):
    """min_macc under the adder model: the smallest m_acc with |variance lost| <= ln(cutoff)
    at m_acc and at m_acc + 1, searched from the paper model's answer (one table per m_acc
    tried, shared by every n)."""
    from .adder import adder_variance_lost, as_adder_spec
    n = check_ints(n, "n", 1, _N_MAX)
    cutoff = check_cutoff(cutoff)
    m_max = int(check_ints(m_max, "m_max", 0, _BITS_MAX, scalar=True))
    limit = math.log(cutoff)
    flat = [int(v) for v in n.ravel()]
    cache = {}

    def ok(m, ns):
        got = cache.setdefault(m, {})
        need = sorted({v for v in ns if v not in got})
        if need:
            vals = adder_variance_lost(np.array(need), as_adder_spec(m, chunk, rounding),
                                       m_p=m_p, dist=dist, nzr=nzr)
            got.update(zip(need, np.atleast_1d(vals)))
        return {v: bool(abs(got[v]) <= limit) for v in ns}   # nan: not met

    try:
        guess = np.atleast_1d(min_macc(np.array(flat), m_p=52 if m_p is None else m_p, nzr=nzr,
                                       cutoff=cutoff, m_max=m_max,
                                       chunk=None if chunk is None or chunk > min(flat) else chunk))
    except ValueError:
        guess = np.full(len(flat), m_max)
    state = {v: [int(g), None, None] for v, g in zip(flat, guess)}   # m, lowest ok, highest bad
    while True:
        todo = {}
        for v, (m, lo_ok, hi_bad) in state.items():
            if lo_ok is not None and (lo_ok == 0 or hi_bad == lo_ok - 1):
                continue
            todo.setdefault(m, []).append(v)
        if not todo:
            break
        for m, vs in todo.items():
            both = ok(m, vs) if m >= m_max else {v: a and b for (v, a), b in
                                                 zip(ok(m, vs).items(), ok(m + 1, vs).values())}
            for v in vs:
                st = state[v]
                if both[v]:
                    st[1] = m
                    st[0] = m - 1
                else:
                    st[2] = m if st[2] is None else max(st[2], m)
                    if m >= m_max:
                        raise ValueError(f"no m_acc <= m_max={m_max} meets cutoff={cutoff:g} for "
                                         f"n={v} under the adder model; raise m_max or the cut-off")
                    st[0] = m + 1
                if st[1] is not None and st[0] < 0:
                    st[2] = -1
    best = np.array([state[v][1] for v in flat]).reshape(n.shape)
    return int(best) if best.ndim == 0 else best
