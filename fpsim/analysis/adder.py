"""The adder model: the variance of a sum computed by a real rounding adder.

fpsim's own model (docs/theory.md, "The adder model"), beside the reconstruction of Sakr et
al. (ICLR 2019) in :mod:`fpsim.analysis.vrr`. With s_i = R(s_{i-1} + p_i) the running sum
(R: the accumulator's rounding, any mode), p_i iid and independent of the past,
x = s_{i-1} + p_i and v_i = E[s_i^2], mu_i = E[s_i]:

    v_i  = v_{i-1} + E[p^2] + 2 mu_{i-1} E[p] + Delta2_i,    Delta2_i = E[R(x)^2 - x^2],
    mu_i = mu_{i-1} + E[p] + Delta1_i,                       Delta1_i = E[R(x) - x],

exactly. The one approximation (the closure) is the distribution of s_{i-1} that Delta is
averaged over: a Gaussian of mean mu_{i-1} and variance v_{i-1} - mu_{i-1}^2 placed on the
accumulator's grid (each grid value weighted by the Gaussian mass of its round-to-nearest
cell). The first step adds p_1 to an exact zero and is exact. For ru and rd, whose drift
skews the sum, the recursion also carries w_i = E[s_i^3] (with Delta3 = E[R(x)^3 - x^3] to
leading order, 3 E[x^2 e]) and the closure adds to the Gaussian kappa_3/6 times its third
difference in the mean (docs/theory.md, "The skewed closure of the drifting roundings").

Delta is computed by quadrature (no Monte Carlo), split by the size of the addend relative
to the running sum's binade k (|s| in [2^k, 2^(k+1)), ulp u = 2^(k-m)):

* **|p| < 2^(k-1)** (the addend is small: full and partial swamping, rounding noise, the
  binade boundaries, ties): x stays within binades k-1..k+1 and R(x) = s + (p rounded on
  a grid tied to s), so the sum over the 2^m grid values of binade k reduces to a few sums
  of the closure weights (all, alternating, and the strips next to the binade edges, whose
  weights are Taylor-expanded) times moments over the addends that do not depend on the
  Gaussian: exact up to the closure, the Taylor remainder and Euler-Maclaurin terms.
* **|p| >= 2^(k-1)** (addend and sum comparable): the rounding error is averaged as if the
  residue of x modulo its ulp were uniform over the values that the two operands' grids
  allow (none: exact; two: one dropped bit; ...). This region carries a small part of the
  variance (the sum is rarely as small as one addend).

Delta depends on the Gaussian only through (mu, v); for the symmetric modes (rne, rna, rtz,
sr) with symmetric addends mu = 0 and Delta2 is tabulated once per (format, rounding,
addends) on a logarithmic grid of v, for ru/rd on a grid in (log v, mu / sigma) filled
where the walk goes; the recursion over i then costs O(log n) beyond its first few
thousand steps. Chunked orders run the recursion once per level: the chunk sums
of one level, Gaussians on their grid with the variance (and mean) reached by the level
below, are the addends of the next.

Only numpy is used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..accumulate import AccumSpec
from ..formats import Format, accumulator
from ..orders import Chunked, Sequential
from ..rounding import as_rounding
from .._args import check_ints, check_nzr
from .draws import DISTRIBUTIONS, check_dist, check_m_p

__all__ = ["ROUNDINGS", "DISTRIBUTIONS", "adder_moments", "adder_variance_lost",
           "adder_vrr", "as_adder_spec"]

#: The adder roundings the model covers.
ROUNDINGS = ("rne", "rna", "rtz", "ru", "rd", "sr")
#: Product distributions (zero mean, unit variance), as fpsim.measure_vrr draws them.
# R_mode(-y) = -R_mirror(y)
_MIRROR = {"rne": "rne", "rna": "rna", "rtz": "rtz", "ru": "rd", "rd": "ru", "sr": "sr"}
# Cells of the closure: a grid value s (binade ulp u, spacing below it ub) receives the
# Gaussian mass of [s - ub/2, s + u/2): the round-to-nearest cells of every mode.

_SQRT2 = math.sqrt(2.0)
_SQRT3 = math.sqrt(3.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_TAYLOR = 12                      # degree of the Taylor expansion of the weights in a strip
_DIRECT_BITS = 9                  # accumulators with m <= this sum their weights directly
_ATOM_RES = 8                     # addends on a grid coarser than u / 2^this are kept atomic
_TAIL = 1e-22                     # product mass below which a binade is left out
_GL = {k: np.polynomial.legendre.leggauss(k) for k in (4, 6, 8, 16, 24)}
_erfc_scalar = np.frompyfunc(math.erfc, 1, 1)


def _erfc(x):
    return np.asarray(_erfc_scalar(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def _upper(z):
    """P(Z > z) for Z ~ N(0, 1), with relative precision in both tails."""
    return 0.5 * _erfc(np.asarray(z) / _SQRT2)


def _phi(z):
    return np.exp(-0.5 * np.square(z)) / _SQRT2PI


def _hermite(z, D):
    """Probabilists' Hermite polynomials He_0..He_D at z: shape (D + 1,) + z.shape."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty((D + 1,) + z.shape)
    out[0] = 1.0
    if D >= 1:
        out[1] = z
    for d in range(2, D + 1):
        out[d] = z * out[d - 1] - (d - 1) * out[d - 2]
    return out


def _gauss_derivs(s, mu, tau, D):
    """d^d/ds^d of the N(mu, tau^2) density at s, d = 0..D: shape (D + 1,) + broadcast."""
    z = (s - mu) / tau
    he = _hermite(z, D)
    base = _phi(z) / tau
    for d in range(D + 1):
        he[d] *= (-1.0) ** d * base / tau ** d
    return he


# ---------------------------------------------------------------- rounding errors

def _err(mode, f, floor_odd, tie):
    """Moments (E[e], E[e^2]) of e = rho(y) - y, rho rounding y >= 0 to an integer in
    ``mode`` (applied to a positive number), with f = frac(y), floor_odd = floor(y) odd,
    tie = (f == 1/2 exactly). Stochastic rounding: expectation over its random bits."""
    f = np.asarray(f, dtype=np.float64)
    if mode in ("rne", "rna"):
        e = np.where(f < 0.5, -f, 1.0 - f)
        if mode == "rne":
            e = np.where(tie, np.where(floor_odd, 0.5, -0.5), e)
        return e, e * e
    if mode in ("rtz", "rd"):
        return -f, f * f
    if mode == "ru":
        e = np.where(f > 0.0, 1.0 - f, 0.0)
        return e, e * e
    if mode == "sr":
        return np.zeros_like(f), f * (1.0 - f)
    raise ValueError(mode)


def _residue_moments(mode, N):
    """(a1, a2) = (E[e]/U, E[e^2]/U^2) for x > 0 whose residue modulo its ulp U is uniform
    over N equally spaced values (N = inf: continuous; N <= 1: x is exact)."""
    N = np.asarray(N, dtype=np.float64)
    fin = np.isfinite(N)
    Nf = np.where(fin & (N > 1), N, 2.0)
    inv = np.where(fin, 1.0 / Nf, 0.0)
    # sums over the residues i/N, i = 0..N-1 (N a power of two >= 2)
    sq_all = (1.0 - inv) * (2.0 - inv) / 6.0                # (1/N) sum (i/N)^2 = (N-1)(2N-1)/(6N^2)
    lin_all = (1.0 - inv) / 2.0                             # (1/N) sum i/N
    M = Nf / 2.0 - 1.0                                      # rne: 2 sum_{i=1}^{N/2-1} i^2 + N^2/4
    near = np.where(fin, (M * (M + 1) * (2 * M + 1) / 3.0 + Nf * Nf / 4.0) / Nf ** 3, 1.0 / 12.0)
    if mode == "rne":
        a1, a2 = np.zeros_like(N), near
    elif mode == "rna":
        a1, a2 = 0.5 * inv, near
    elif mode in ("rtz", "rd"):
        a1, a2 = -lin_all, sq_all
    elif mode == "ru":
        a1, a2 = lin_all, sq_all
    elif mode == "sr":
        a1, a2 = np.zeros_like(N), lin_all - sq_all
    else:
        raise ValueError(mode)
    exact = fin & (N <= 1)
    return np.where(exact, 0.0, a1), np.where(exact, 0.0, a2)


def _binade(x):
    """floor(log2 |x|) for x != 0, exactly."""
    _, e = np.frexp(np.abs(x))
    return e.astype(np.int64) - 1


# ---------------------------------------------------------------- addend distributions

def _gp_parts(t):
    """Density K0(t)/pi, P(|XY| <= t) and P(|XY| > t) for the product of two standard
    normals, t >= 0, from K0(t) = int_0^inf exp(-t cosh w) dw, int_0^t K0 =
    int_0^inf (1 - exp(-t cosh w))/cosh w dw and int_t^inf K0 = int_0^inf exp(-t cosh w)/cosh w dw
    (trapezoidal rule in w: the integrands are analytic, so it converges geometrically)."""
    t = np.asarray(t, dtype=np.float64)
    h = 0.05
    w = np.arange(0.0, 46.0, h)
    cw = np.cosh(w)
    wt = np.full(w.size, h)
    wt[0] = h / 2
    flat = t.ravel()
    out = np.empty((3, flat.size))
    for a in range(0, flat.size, 2048):
        tt = flat[a:a + 2048, None]
        ex = np.exp(-tt * cw)
        out[0, a:a + 2048] = (ex @ wt) / math.pi
        out[1, a:a + 2048] = 2.0 / math.pi * ((-np.expm1(-tt * cw) / cw) @ wt)
        out[2, a:a + 2048] = 2.0 / math.pi * ((ex / cw) @ wt)
    return tuple(o.reshape(t.shape) for o in out)


@lru_cache(maxsize=1)
def _gp_table():
    """ln(K0(t)/pi) and its derivative in ln t, -t K1(t)/K0(t), on a grid of ln t (for
    cubic Hermite interpolation; K1(t) = int_0^inf cosh w exp(-t cosh w) dw)."""
    lt = np.linspace(math.log(1e-300), math.log(80.0), 60001)
    t = np.exp(lt)
    h = 0.05
    w = np.arange(0.0, 46.0, h)
    cw = np.cosh(w)
    wt = np.full(w.size, h)
    wt[0] = h / 2
    f = np.empty(t.size)
    d = np.empty(t.size)
    for a in range(0, t.size, 2048):
        ex = np.exp(-t[a:a + 2048, None] * cw)
        f[a:a + 2048] = (ex @ wt) / math.pi
        d[a:a + 2048] = -t[a:a + 2048] * ((ex * cw) @ wt) / math.pi
    return lt, np.log(f), d / f


def _gp_density(a):
    """K0(a)/pi for a >= 0: cubic Hermite interpolation of its logarithm in ln a."""
    lt, f, d = _gp_table()
    a = np.asarray(a, dtype=np.float64)
    x = np.log(np.clip(a, 1e-300, None))
    h = lt[1] - lt[0]
    i = np.clip(((x - lt[0]) / h).astype(np.int64), 0, lt.size - 2)
    s = (x - lt[i]) / h
    s2, s3 = s * s, s * s * s
    val = ((2 * s3 - 3 * s2 + 1) * f[i] + (s3 - 2 * s2 + s) * h * d[i]
           + (-2 * s3 + 3 * s2) * f[i + 1] + (s3 - s2) * h * d[i + 1])
    return np.where(a >= 80.0, 0.0, np.exp(val))


def _dist_pdf(dist, x):
    """Density of a zero-mean, unit-variance product distribution at x (symmetric)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    if dist == "gaussian":
        return _phi(a)
    if dist == "uniform":
        return np.where(a < _SQRT3, 1.0 / (2.0 * _SQRT3), 0.0)
    if dist == "laplace":
        return np.exp(-_SQRT2 * a) / _SQRT2
    return _gp_density(a)


def _dist_tail(dist, a):
    """P(|p| >= a) for a >= 0, with relative precision in the tail."""
    a = np.asarray(a, dtype=np.float64)
    if dist == "gaussian":
        return 2.0 * _upper(a)
    if dist == "uniform":
        return np.clip(1.0 - a / _SQRT3, 0.0, 1.0)
    if dist == "laplace":
        return np.exp(-_SQRT2 * a)
    return _gp_parts(a)[2]


def _dist_between(dist, lo, hi):
    """P(lo <= |p| < hi), 0 <= lo <= hi."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if dist == "gaussian_product":
        _, c_lo, t_lo = _gp_parts(lo)
        _, c_hi, t_hi = _gp_parts(hi)
    elif dist == "gaussian":
        c_lo, c_hi = 1.0 - 2.0 * _upper(lo), 1.0 - 2.0 * _upper(hi)
        t_lo, t_hi = 2.0 * _upper(lo), 2.0 * _upper(hi)
    else:
        t_lo, t_hi = _dist_tail(dist, lo), _dist_tail(dist, hi)
        c_lo, c_hi = 1.0 - t_lo, 1.0 - t_hi
    # differences of the cdf near 0, of the tail beyond 1 (each keeps its precision there)
    return np.maximum(np.where(lo > 1.0, t_lo - t_hi, c_hi - c_lo), 0.0)


#: Points x > 0 where a density is not smooth (quadrature panels break there).
_BREAKS = {"gaussian": (), "uniform": (_SQRT3,), "laplace": (), "gaussian_product": ()}


class _Addend:
    """The distribution of the addends p, binade by binade (|p| in [2^q, 2^(q+1)),
    q_lo <= q <= q_hi): ``atoms(q)`` gives the values (both signs) and masses if the
    addends live on a grid of spacing ``lattice(q)`` = 2^(q - lattice_bits), else None;
    ``density`` is the (signed) density used where the grid is fine enough to be treated as
    continuous; ``breaks`` are points where it is not smooth; ``mean`` and ``second`` are
    E[p] and E[p^2] (zeros included)."""

    def __init__(self, key, q_lo, q_hi, lattice_bits, density, atoms, mean, second, breaks=()):
        self.key = key
        self.q_lo, self.q_hi = q_lo, q_hi
        self.lattice_bits = lattice_bits
        self.density = density
        self._atoms = atoms
        self._cache = {}
        self.mean = mean
        self.second = second
        self.breaks = tuple(breaks)

    def lattice(self, q):
        if self.lattice_bits is None:
            return np.zeros(np.shape(q))
        return np.ldexp(1.0, np.asarray(q) - self.lattice_bits)

    def cell_edges(self, q):
        """[lo, hi) covered by binade q: its atoms' round-to-nearest cells on a grid (the
        first reaches a quarter spacing below 2^q), the binade itself otherwise."""
        lo, hi = 2.0 ** q, 2.0 ** (q + 1)
        if self.lattice_bits is None:
            return lo, hi
        return lo - float(self.lattice(q)) / 4, hi - float(self.lattice(q + 1)) / 4

    def mass(self, q):
        """P(|p| in binade q), by quadrature of the density (cached)."""
        key = ("mass", q)
        if key not in self._cache:
            lo, hi = self.cell_edges(q)
            x, w = _panels(lo, hi, hi - lo, self.breaks, 8)
            self._cache[key] = float(w @ (self.density(x) + self.density(-x)))
        return self._cache[key]

    def atoms(self, q):
        if self._atoms is None:
            return None
        if q not in self._cache:
            self._cache[q] = self._atoms(q)
        return self._cache[q]

    def mirrored(self):
        """The distribution of -p."""
        if self.mean == 0.0:
            return self
        dens, atoms = self.density, self.atoms
        return _Addend(self.key + ("mirrored",), self.q_lo, self.q_hi, self.lattice_bits,
                       lambda x: dens(-np.asarray(x)),
                       lambda q: (lambda a: (-a[0][::-1], a[1][::-1]))(atoms(q)),
                       -self.mean, self.second, self.breaks)


def _top_binade(tail, start):
    """The smallest q >= start with tail(2^(q+1)) <= _TAIL."""
    q = start
    while float(tail(2.0 ** (q + 1))) > _TAIL:
        q += 1
    return q


@lru_cache(maxsize=64)
def _products(dist, m_p, nzr):
    """Products of ``dist`` rounded (rne, as fpsim.measure_vrr rounds them) to m_p
    fractional bits, or unrounded (m_p None); each zero with probability 1 - nzr (an atom
    at 0, which adds nothing to the sum)."""
    q_hi = _top_binade(lambda a: _dist_tail(dist, a), -2)
    q_lo = -40

    def density(x):
        return nzr * _dist_pdf(dist, x)

    if m_p is None:
        return _Addend(("products", dist, None, nzr), q_lo, q_hi, None, density, None, 0.0,
                       nzr, _BREAKS[dist])

    def atoms(q):
        i = np.arange(2 ** m_p, dtype=np.float64)
        vals = np.ldexp(1.0 + i * 2.0 ** -m_p, q)
        step = 2.0 ** (q - m_p)
        lo = vals - step / 2
        lo[0] = vals[0] - step / 4            # the spacing below 2^q is step/2
        mass = nzr * 0.5 * _dist_between(dist, lo, vals + step / 2)
        return np.concatenate([-vals[::-1], vals]), np.concatenate([mass[::-1], mass])

    add = _Addend(("products", dist, m_p, nzr), q_lo, q_hi, m_p, density, atoms, 0.0, 0.0,
                  _BREAKS[dist])
    add.second = sum(float(w @ (v * v)) for v, w in (add.atoms(q) for q in range(q_lo, q_hi + 1)))
    return add


def _grid_cells(q, bits):
    """The values of binade q of a grid with ``bits`` fractional bits, and the centres and
    widths of their round-to-nearest cells (the spacing halves below 2^q)."""
    vals = np.ldexp(1.0 + np.arange(2 ** bits, dtype=np.float64) * 2.0 ** -bits, q)
    step = 2.0 ** (q - bits)
    width = np.full(vals.size, step)
    center = vals.copy()
    width[0], center[0] = 0.75 * step, vals[0] + step / 8
    return vals, center, width


def _grid_gaussian(man_bits, emin, mu, var):
    """Chunk sums as addends: N(mu, var) placed on the grid of a format with ``man_bits``
    fractional bits (round-to-nearest cells, as the closure places the running sum)."""
    tau = math.sqrt(var)

    def density(x):
        return _phi((np.asarray(x, dtype=np.float64) - mu) / tau) / tau

    q_hi = _top_binade(lambda a: _upper((a - abs(mu)) / tau), int(math.floor(math.log2(tau))) - 2)
    q_lo = max(emin, q_hi - 64)

    def atoms(q):
        vals, center, width = _grid_cells(q, man_bits)
        return (np.concatenate([-vals[::-1], vals]),
                np.concatenate([(density(-center) * width)[::-1], density(center) * width]))

    return _Addend(("grid", man_bits, emin, mu, var), q_lo, q_hi, man_bits, density, atoms,
                   mu, var + mu * mu)


# ---------------------------------------------------------------- quadrature nodes

def _panels(lo, hi, width, breaks, order):
    """Gauss-Legendre nodes and weights on [lo, hi) split into panels of ``width`` (and at
    ``breaks``)."""
    n = max(1, int(round((hi - lo) / width)))
    edges = lo + (hi - lo) * np.arange(n + 1) / n
    inside = [b for b in breaks if lo < b < hi]
    if inside:
        edges = np.unique(np.concatenate([edges, inside]))
    x, w = _GL[order]
    a, b = edges[:-1, None], edges[1:, None]
    return ((a + b) / 2 + (b - a) / 2 * x).ravel(), ((b - a) / 2 * w).ravel()


def _continuum_nodes(add, q, cell):
    """Nodes (both signs) and masses for binade q of the addends treated as continuous,
    panels aligned to multiples of ``cell`` (the rounding errors are polynomial inside a
    panel). A grid's binade is integrated over the union of its atoms' cells, which
    straddle the powers of two, so that atoms and densities of neighbouring binades
    neither overlap nor leave a gap."""
    lo, hi = add.cell_edges(q)
    if cell >= hi - lo:
        x, w = _panels(lo, hi, hi - lo, add.breaks, 8)
    else:
        inner = cell * np.arange(math.ceil(lo / cell), math.floor(hi / cell) + 1)
        edges = np.unique(np.concatenate([[lo, hi], inner[(inner > lo) & (inner < hi)],
                                          [b for b in add.breaks if lo < b < hi]]))
        xg, wg = _GL[6]
        a, b = edges[:-1, None], edges[1:, None]
        x, w = ((a + b) / 2 + (b - a) / 2 * xg).ravel(), ((b - a) / 2 * wg).ravel()
    return (np.concatenate([-x[::-1], x]),
            np.concatenate([(add.density(-x) * w)[::-1], add.density(x) * w]))


# ---------------------------------------------------------------- power sums

_BERNOULLI = [1.0, -0.5, 1 / 6, 0.0, -1 / 30, 0.0, 1 / 42, 0.0, -1 / 30, 0.0, 5 / 66, 0.0,
              -691 / 2730, 0.0, 7 / 6, 0.0, -3617 / 510, 0.0, 43867 / 798, 0.0, -174611 / 330]


def _power_sums(L, E):
    """P_e(L) = sum_{l=0}^{L-1} l^e for e = 0..E (Faulhaber): shape (E + 1,) + L.shape."""
    L = np.asarray(L, dtype=np.float64)
    Lp = L[None, :] ** np.arange(E + 2)[:, None]                  # L^0 .. L^(E+1)
    out = np.empty((E + 1,) + L.shape)
    for e in range(E + 1):
        c = np.array([math.comb(e + 1, i) * _BERNOULLI[i] for i in range(e + 1)]) / (e + 1)
        out[e] = c @ Lp[e + 1 - np.arange(e + 1)]
    return out


_BINOM = np.array([[math.comb(d, e) for e in range(24)] for d in range(24)], dtype=np.float64)


def _progression_sums(first, step, count, D):
    """sum_{l=0}^{count-1} (first + step l)^d for d = 0..D: shape (D + 1,) + count.shape."""
    P = _power_sums(count, D)                                     # (D+1, X)
    first = np.broadcast_to(np.asarray(first, dtype=np.float64), np.shape(count))
    powers = first[None, :] ** np.arange(D + 1)[:, None]          # first^j, (D+1, X)
    coef = _BINOM[:D + 1, :D + 1] * float(step) ** np.arange(D + 1)[None, :]   # C(d,e) step^e
    # out[d] = sum_e coef[d, e] first^(d-e) P[e]
    out = np.zeros((D + 1,) + np.shape(count))
    for e in range(D + 1):
        out[e:] += coef[e:, e, None] * powers[:D + 1 - e] * P[e]
    return out


# ---------------------------------------------------------------- one side of the sum

_NB = 4 + 2 * (_TAYLOR + 1) + 1          # basis: W0 W1 A0 A1, a_0..a_D, b_0..b_D, dw0
_IA = 4
_IB = 4 + _TAYLOR + 1
_IW = _NB - 1


class _Side:
    """Delta for a running sum s > 0 in one format and rounding (``mode`` rounds positive
    x; negative x are rounded by its mirror), with addends ``add``; the sum's other sign is
    the mirrored side. ``evaluate(mu, tau)`` gives the contributions of s > 0 under the
    closure N(mu, tau^2) to Delta2 = E[R(x)^2 - x^2] and Delta1 = E[R(x) - x]."""

    def __init__(self, m, emin, mode, add):
        self.m, self.emin, self.mode, self.add = m, emin, mode, add
        self.k_lo = max(emin + 1, add.q_lo + 1)
        self._high = {}
        self._low = None
        self._stacked = None

    # ---- addends smaller than half the binade: exact sums over the grid ----------------

    def _addends_below(self, k):
        """(p, mass, exact) of every addend with |p| < 2^(k-1)."""
        add, u = self.add, 2.0 ** (k - self.m)
        parts = []
        for q in range(add.q_lo, min(add.q_hi, k - 2) + 1):
            if add.mass(q) < 1e-18:
                continue                          # s small next to |p|, p rare: nothing
            atoms = add.atoms(q)
            # a grid's values are kept as atoms where ties are frequent (grids coarser than
            # u 2^-_ATOM_RES) and in the binades that start with one: 2^q = u/4 (a tie of
            # the binade below) and u/2 (a tie of binade k)
            if atoms is not None and (float(add.lattice(q)) >= u * 2.0 ** -_ATOM_RES
                                      or k - self.m - 2 <= q <= k - self.m - 1):
                parts.append((atoms[0], atoms[1], True))
            else:
                x, w = _continuum_nodes(add, q, u / 2)
                parts.append((x, w, False))
        if not parts:
            return np.zeros(0), np.zeros(0), np.zeros(0, bool)
        p = np.concatenate([a for a, _, _ in parts])
        w = np.concatenate([b for _, b, _ in parts])
        ex = np.concatenate([np.full(a.size, c) for a, _, c in parts])
        keep = w > 0
        return p[keep], w[keep], ex[keep]

    def high(self, k):
        """(M2, M1): moments over the small addends that multiply the basis of binade k."""
        if k not in self._high:
            self._high[k] = self._high_moments(k)
        return self._high[k]

    def _high_moments(self, k):
        m, mode, D = self.m, self.mode, _TAYLOR
        u, N = 2.0 ** (k - m), 2 ** m
        M2, M1 = np.zeros(_NB), np.zeros(_NB)
        p, P, exact = self._addends_below(k)
        if p.size == 0:
            return M2, M1
        y = p / u
        fl = np.floor(y)
        f = y - fl
        rne = mode == "rne"
        # an rne tie rounds by the parity of j + floor(y): its mean error goes into the
        # alternating sums, 2 u tcoef (-1)^j, tcoef = (-1)^(floor(y)+1) / 2
        tie = exact & (f == 0.5) & rne
        e1, e2 = _err(mode, f, np.zeros(f.shape, bool), np.zeros(f.shape, bool))
        e1 = np.where(tie, 0.0, e1)
        odd_fl = (fl % 2) != 0
        tcoef = np.where(tie, np.where(odd_fl, 0.5, -0.5), 0.0)
        # binade-k formula over all j: sum_j w_j [2 (s_j + p) u e1(j) + u^2 e2]
        M2[1] = P @ (2 * u * e1)
        M2[0] = P @ (2 * u * e1 * p + u * u * e2)
        M2[3] = P @ (2 * u * tcoef)
        M2[2] = P @ (2 * u * tcoef * p)
        M1[0] = P @ (u * e1)
        M1[2] = P @ (u * tcoef)
        # top strip: p > 0, the T = floor(y) largest grid values carry x into binade k+1
        top = (p > 0) & (fl >= 1)
        if top.any():
            pt, Pt, ft, Tt = p[top], P[top], f[top], fl[top]
            e1t, e2t, tt, ext = e1[top], e2[top], tie[top], exact[top]
            Tu, inv = np.unique(Tt, return_inverse=True)   # the sums over i depend on T only
            for r in range(4):                    # r = (T - i) mod 4
                c = np.mod(Tu - r, 4)
                first = np.where(c == 0, 4.0, c)
                count = np.where(Tu >= first, np.floor((Tu - first) / 4) + 1, 0.0)
                S = _progression_sums(first, 4, count, D + 1)
                fz = ft / 2 if r % 2 == 0 else (1 + ft) / 2
                tz = ext & (ft == 0.0) & (r % 2 == 1)
                h1, h2 = _err(mode, fz, np.full(fz.shape, r >= 2), tz)
                eps1 = e1t + np.where(tt, 0.5 if r % 2 else -0.5, 0.0)
                g1 = 4 * u * h1 - 2 * u * eps1
                g0 = 4 * u * u * h2 - u * u * e2t
                base = np.bincount(inv, Pt * ((2.0 ** (k + 1) + pt) * g1 + g0), Tu.size)
                lin = np.bincount(inv, Pt * u * g1, Tu.size)
                drift = np.bincount(inv, Pt * (2 * u * h1 - u * eps1), Tu.size)
                M2[_IA:_IA + D + 1] += S[:D + 1] @ base - S[1:] @ lin
                M1[_IA:_IA + D + 1] += S[:D + 1] @ drift
        # bottom strip: p < 0, the T' = -floor(y) smallest grid values drop x into binade k-1
        bot = p < 0
        if bot.any():
            pb, Pb, fb, Tb = p[bot], P[bot], f[bot], -fl[bot]
            e1b, e2b, tb, exb, oddb = e1[bot], e2[bot], tie[bot], exact[bot], odd_fl[bot]
            two = 2 * fb
            fl2 = np.floor(two)
            f2 = two - fl2
            l1, l2 = _err(mode, f2, fl2 == 1, exb & (f2 == 0.5))
            Tu, inv = np.unique(Tb, return_inverse=True)
            for r in range(2):                    # r = j mod 2
                count = np.where(Tu - 1 >= r, np.floor((Tu - 1 - r) / 2) + 1, 0.0)
                S = _progression_sums(np.full(Tu.shape, float(r)), 2, count, D + 1)
                even = (r + oddb.astype(int)) % 2 == 0        # (j + floor(y)) even
                eps1 = e1b + np.where(tb, np.where(even, -0.5, 0.5), 0.0)
                b1 = u * l1 - 2 * u * eps1
                b0 = u * u * l2 / 4 - u * u * e2b
                full = Pb * ((2.0 ** k + pb) * b1 + b0)
                drift = Pb * (u / 2 * l1 - u * eps1)
                base = np.bincount(inv, full, Tu.size)
                lin = np.bincount(inv, Pb * u * b1, Tu.size)
                M2[_IB:_IB + D + 1] += S[:D + 1] @ base + S[1:] @ lin
                M1[_IB:_IB + D + 1] += S[:D + 1] @ np.bincount(inv, drift, Tu.size)
                if r == 0:
                    M2[_IW] += full.sum()
                    M1[_IW] += drift.sum()
        return M2, M1

    # ---- addends comparable with the sum ------------------------------------------------
    # Exact where affordable: every grid value s_j of binade k against the addends with
    # |p| >= 2^(k-1) (grids finer than 2^-(m+6) of a binade coarsened to it), rounded
    # exactly. Elsewhere (wide accumulators with fine addends, where this region carries a
    # share of the variance ~ 2^-2m) the residue of x modulo its ulp is taken as uniform
    # over the values the two operands' grids allow.

    _EXACT_BUDGET = 1e7          # grid values x addends per binade for the exact sums

    def _low_region(self):
        """Per binade k of s with addends |p| >= 2^(k-1): ("grid", k, h2, h1) with the
        exact expectations at the 2^m grid values, or ("nodes", s, ds, h2, h1) under
        uniform residues."""
        if self._low is None:
            self._low = self._build_low()
        return self._low

    def _coarse_atoms(self, q, bits):
        """Addends of binade q (both signs) on a grid of ``bits`` fractional bits: the
        distribution's own atoms if it is that coarse, else its density on that grid."""
        add = self.add
        if add.lattice_bits is not None and add.lattice_bits <= bits:
            return add.atoms(q)
        vals, center, width = _grid_cells(q, bits)
        if add.breaks:            # a density edge inside a cell: integrate the cell
            lo, hi = center - width / 2, center + width / 2
            xg, wg = _GL[8]
            nodes = (lo + hi)[:, None] / 2 + (hi - lo)[:, None] / 2 * xg
            pos = (add.density(nodes) * wg).sum(axis=1) * (hi - lo) / 2
            neg = (add.density(-nodes) * wg).sum(axis=1) * (hi - lo) / 2
        else:
            pos, neg = add.density(center) * width, add.density(-center) * width
        return np.concatenate([-vals[::-1], vals]), np.concatenate([neg[::-1], pos])

    def _low_addends(self, q):
        add = self.add
        atoms = add.atoms(q)
        if atoms is not None and atoms[0].size <= 128:
            return atoms[0], atoms[1]
        lo, hi = add.cell_edges(q)
        x, w = _panels(lo, hi, (hi - lo) / 2, add.breaks, 8)
        return (np.concatenate([-x[::-1], x]),
                np.concatenate([(add.density(-x) * w)[::-1], add.density(x) * w]))

    def _build_low(self):
        m, add = self.m, self.add
        bits = m + 6
        out = []
        # exact sums for the binades of s within 2^8 of the addends' scale (below, s is
        # rarely found, and x is essentially the addend rounded)
        k_exact = int(math.floor(math.log2(math.sqrt(add.second)))) - 8
        left = 0.4 * self._EXACT_BUDGET
        lat_bits = bits if add.lattice_bits is None else min(bits, add.lattice_bits)
        for k in range(add.q_hi + 1, self.k_lo - 1, -1):
            qs = range(max(add.q_lo, k - 1), add.q_hi + 1)
            cost = 2 ** m * len(qs) * 2 ** (lat_bits + 1)
            if k >= k_exact and cost <= min(self._EXACT_BUDGET, left):
                left -= cost
                out.append(self._low_exact(k, qs, bits))
            else:
                out.append(self._low_uniform(k, qs))
        return out

    def _low_exact(self, k, qs, bits):
        m, emin = self.m, self.emin
        u = 2.0 ** (k - m)
        s = 2.0 ** k + u * np.arange(2 ** m)
        h2 = np.zeros(s.size)
        h1 = np.zeros(s.size)
        for q in qs:
            p, P = self._coarse_atoms(q, bits)
            keep = P > 0
            p, P = p[keep], P[keep]
            for a in range(0, s.size, max(1, 2 ** 22 // max(p.size, 1))):
                x = s[a:a + 2 ** 22 // max(p.size, 1), None] + p[None, :]
                d1, d2 = _round_moments(x, m, emin, self.mode)
                h2[a:a + x.shape[0]] += d2 @ P
                h1[a:a + x.shape[0]] += d1 @ P
        return ("grid", k, h2, h1)

    def _low_uniform(self, k, qs):
        m, emin, add = self.m, self.emin, self.add
        u = 2.0 ** (k - m)
        s, ds = _panels(2.0 ** k, 2.0 ** (k + 1), 2.0 ** k / 2, (), 16)
        h2 = np.zeros(s.size)
        h1 = np.zeros(s.size)
        for q in qs:
            p, P = self._low_addends(q)
            lat = float(add.lattice(q))
            x = s[:, None] + p[None, :]
            nz = x != 0
            xa = np.where(nz, np.abs(x), 1.0)
            U = np.ldexp(1.0, np.maximum(_binade(xa), emin) - m)
            delta = min(u, lat) if lat > 0 else 0.0
            Nres = U / delta if delta > 0 else np.full(U.shape, np.inf)
            pos = x > 0
            a1, a2 = _residue_moments(self.mode, Nres)
            if _MIRROR[self.mode] != self.mode:
                a1n, a2n = _residue_moments(_MIRROR[self.mode], Nres)
                a1, a2 = np.where(pos, a1, a1n), np.where(pos, a2, a2n)
            h2 += np.where(nz, 2 * xa * U * a1 + U * U * a2, 0.0) @ P
            h1 += np.where(nz, np.where(pos, 1.0, -1.0) * U * a1, 0.0) @ P
        return ("nodes", s, ds, h2, h1)

    # ---- the Gaussian's part ------------------------------------------------------------

    def _basis(self, ks, mu, tau):
        """Basis of the binades ``ks`` for the closures N(mu, tau^2): shape (V, K, _NB)."""
        m, D = self.m, _TAYLOR
        ks = np.asarray(ks, dtype=np.float64)
        u, N = np.ldexp(1.0, (ks - m).astype(np.int64)), 2 ** m
        a, b = np.ldexp(1.0, ks.astype(np.int64)), np.ldexp(2.0, ks.astype(np.int64))
        mu, tau = mu[:, None], tau[:, None]                      # (V, 1) against (K,)
        B = np.zeros(np.broadcast(mu, a).shape + (_NB,))
        w0 = 0.75 * u * _phi((a + u / 8 - mu) / tau) / tau       # (V, K)
        rho_a = _gauss_derivs(a, mu, tau, D + 1)                 # (D+2, V, K)
        rho_b = _gauss_derivs(b, mu, tau, D + 1)
        dw0 = w0 - u * rho_a[0]
        if m <= _DIRECT_BITS:
            j = np.arange(N)
            sg = a[:, None] + u[:, None] * j                     # (K, N)
            w = u[:, None] * _phi((sg[None] - mu[..., None]) / tau[..., None]) / tau[..., None]
            w[:, :, 0] = w0
            alt = np.where(j % 2 == 0, 1.0, -1.0)
            B[..., 0] = w.sum(axis=2)
            B[..., 1] = np.einsum("vkn,kn->vk", w, sg)
            B[..., 2] = w @ alt
            B[..., 3] = np.einsum("vkn,kn->vk", w, sg * alt)
        else:
            B[..., :4] = self._euler_maclaurin(a, b, u, mu, tau, rho_a, rho_b)
            B[..., 0] += dw0
            B[..., 1] += dw0 * a
            B[..., 2] += dw0
            B[..., 3] += dw0 * a
        for d in range(D + 1):
            c = u ** (d + 1) / math.factorial(d)
            B[..., _IA + d] = c * (-1.0) ** d * rho_b[d]
            B[..., _IB + d] = c * rho_a[d]
        B[..., _IW] = dw0
        return B

    @staticmethod
    def _euler_maclaurin(a, b, u, mu, tau, rho_a, rho_b):
        """W0, W1, A0, A1 of the regular weights u rho(a + j u), j = 0..N-1 (N even)."""
        za, zb = (a - mu) / tau, (b - mu) / tau
        mass = np.where(za > 0, _upper(za) - _upper(zb), _upper(-zb) - _upper(-za))
        first = mu * mass + tau * (_phi(za) - _phi(zb))
        # derivatives in j of F = u rho(s) and G = u rho(s) s at both ends
        D = rho_a.shape[0] - 1
        def dF(rho, d):
            return u ** (d + 1) * rho[d]
        def dG(rho, s, d):
            return u ** (d + 1) * (s * rho[d] + (d * rho[d - 1] if d > 0 else 0.0))
        W0 = mass - 0.5 * (dF(rho_b, 0) - dF(rho_a, 0))
        W1 = first - 0.5 * (dG(rho_b, b, 0) - dG(rho_a, a, 0))
        for r, B2 in ((1, 1 / 6), (2, -1 / 30), (3, 1 / 42), (4, -1 / 30)):
            d = 2 * r - 1
            if d > D:
                break
            c = B2 / math.factorial(2 * r)
            W0 = W0 + c * (dF(rho_b, d) - dF(rho_a, d))
            W1 = W1 + c * (dG(rho_b, b, d) - dG(rho_a, a, d))
        A0 = 0.5 * (dF(rho_a, 0) - dF(rho_b, 0))
        A1 = 0.5 * (dG(rho_a, a, 0) - dG(rho_b, b, 0))
        for d, E in ((1, -0.5), (3, 0.25), (5, -0.5), (7, 17 / 8)):
            if d > D:
                break
            c = 0.5 * E / math.factorial(d)
            A0 = A0 + c * (dF(rho_a, d) - dF(rho_b, d))
            A1 = A1 + c * (dG(rho_a, a, d) - dG(rho_b, b, d))
        return np.stack([W0, W1, A0, A1], axis=-1)

    def evaluate(self, mu, tau):
        """(Delta2, Delta1) contributions of s > 0, arrays over the states (mu, tau)."""
        mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
        tau = np.atleast_1d(np.asarray(tau, dtype=np.float64))
        grid, _ = self._low_parts()
        width = 60 * 2 ** min(self.m, _DIRECT_BITS) + (grid[1].size if grid is not None else 0)
        step = max(1, int(4e6 // width))
        if mu.size > step:
            parts = [self._evaluate(mu[a:a + step], tau[a:a + step]) for a in range(0, mu.size, step)]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        return self._evaluate(mu, tau)

    def _evaluate(self, mu, tau):
        top = np.max(np.maximum(mu, 0) + 12 * tau)
        k_hi = int(math.floor(math.log2(top)))
        # binade k holds a share ~2^k/tau of s and ~2^k/sigma of the addends below 2^(k-1),
        # which change s^2 by ~2^2k: below 2^4k = 1e-18 tau sigma^3 nothing is left
        sig = math.sqrt(self.add.second)
        k_lo = max(self.k_lo, int(math.floor(math.log2(1e-18 * float(np.min(tau)) * sig ** 3) / 4)))
        ks = [k for k in range(k_lo, k_hi + 1) if self.high(k)[0].any() or self.high(k)[1].any()]
        d2 = np.zeros(mu.size)
        d1 = np.zeros(mu.size)
        if ks:
            M2 = np.stack([self.high(k)[0] for k in ks])
            M1 = np.stack([self.high(k)[1] for k in ks])
            B = self._basis(np.array(ks), mu, tau)
            d2 += np.einsum("vkb,kb->v", B, M2)
            d1 += np.einsum("vkb,kb->v", B, M1)
        grid, nodes = self._low_parts()
        if grid is not None:
            kg, H2, H1 = grid
            w = self._weights(kg, mu, tau)                       # (V, K, N)
            d2 += np.einsum("vkn,kn->v", w, H2)
            d1 += np.einsum("vkn,kn->v", w, H1)
        if nodes is not None:
            s, ds, h2, h1 = nodes
            w = _phi((s[None, :] - mu[:, None]) / tau[:, None]) / tau[:, None] * ds
            d2 += w @ h2
            d1 += w @ h1
        return d2, d1

    def _low_parts(self):
        """The low region stacked: ((ks, H2, H1) of the exact binades or None,
        (s, ds, h2, h1) of the uniform-residue nodes or None)."""
        if self._stacked is None:
            parts = self._low_region()
            g = [p for p in parts if p[0] == "grid"]
            n = [p for p in parts if p[0] == "nodes"]
            grid = (np.array([p[1] for p in g]), np.stack([p[2] for p in g]),
                    np.stack([p[3] for p in g])) if g else None
            nodes = tuple(np.concatenate([p[i] for p in n]) for i in range(1, 5)) if n else None
            self._stacked = (grid, nodes)
        return self._stacked

    def _weights(self, ks, mu, tau):
        """Closure weights of the 2^m grid values of the binades ks: shape (V, K, 2^m)."""
        ks = np.asarray(ks, dtype=np.int64)
        u = np.ldexp(1.0, ks - self.m)
        a = np.ldexp(1.0, ks)
        s = a[:, None] + u[:, None] * np.arange(2 ** self.m)
        mu, tau = mu[:, None, None], tau[:, None, None]
        w = u[:, None] * _phi((s[None] - mu) / tau) / tau
        w[:, :, 0] = 0.75 * u * _phi((a + u / 8 - mu[..., 0]) / tau[..., 0]) / tau[..., 0]
        return w


# ---------------------------------------------------------------- one adder

def _round_moments(x, m, emin, mode):
    """(E[R(x)] - x, E[R(x)^2] - x^2) for float64 values x (exact: x/ulp is exact)."""
    x = np.asarray(x, dtype=np.float64)
    nz = x != 0
    xa = np.where(nz, np.abs(x), 1.0)
    U = np.ldexp(1.0, np.maximum(_binade(xa), emin) - m)
    y = xa / U
    fl = np.floor(y)
    f = y - fl
    odd = (fl % 2) != 0
    pos = x > 0
    e1, e2 = _err(mode, f, odd, f == 0.5)
    if _MIRROR[mode] != mode:             # ru/rd: negative x round the other way
        e1n, e2n = _err(_MIRROR[mode], f, odd, f == 0.5)
        e1, e2 = np.where(pos, e1, e1n), np.where(pos, e2, e2n)
    d1 = np.where(nz, np.where(pos, 1.0, -1.0) * U * e1, 0.0)
    d2 = np.where(nz, 2 * xa * U * e1 + U * U * e2, 0.0)
    return d1, d2


class _Adder:
    """Delta1(mu, var), Delta2(mu, var) of one (format, rounding, addends): the two sides
    of the sum, the exact first step, and (symmetric case) a table in var."""

    def __init__(self, fmt, mode, add):
        self.fmt, self.mode, self.add = fmt, mode, add
        m, emin = fmt.man_bits, fmt.emin
        self.pos = _Side(m, emin, mode, add)
        madd = add.mirrored()
        if _MIRROR[mode] == mode and madd is add:
            self.neg = self.pos
        else:
            self.neg = _Side(m, emin, _MIRROR[mode], madd)
        self.symmetric = self.neg is self.pos
        self._table = None
        self.drift_table = _DriftTable(self)

    def delta(self, mu, var):
        mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
        tau = np.sqrt(np.atleast_1d(np.asarray(var, dtype=np.float64)))
        p2, p1 = self.pos.evaluate(mu, tau)
        if self.symmetric and not mu.any():
            return 2 * p2, np.zeros(mu.size)
        n2, n1 = self.neg.evaluate(-mu, tau)
        return p2 + n2, p1 - n1

    def first(self):
        """(E[R(p)] - E[p], E[R(p)^2] - E[p^2]) for the addition to an exact zero."""
        add, m, emin = self.add, self.fmt.man_bits, self.fmt.emin
        d1 = d2 = 0.0
        for q in range(add.q_lo, add.q_hi + 1):
            atoms = add.atoms(q)
            if atoms is not None:
                a1, a2 = _round_moments(atoms[0], m, emin, self.mode)
                d1 += float(atoms[1] @ a1)
                d2 += float(atoms[1] @ a2)
                continue
            lo, hi = 2.0 ** q, 2.0 ** (q + 1)
            U = 2.0 ** (max(q, emin) - m)
            x, w = _panels(lo, hi, min(hi - lo, U), add.breaks, 8)
            for sign, mode in ((1.0, self.mode), (-1.0, _MIRROR[self.mode])):
                a1, a2 = _residue_moments(mode, np.inf)
                P = add.density(sign * x) * w
                d1 += float(P @ np.full(x.size, sign * U * a1))
                d2 += float(P @ (2 * x * U * a1 + U * U * a2))
        return d1, d2

    # ---- the symmetric case: Delta2 tabulated against log var ---------------------------

    _PER_OCTAVE = 32

    def delta2_table(self, var):
        """Delta2(0, var) by interpolation in log var on a table extended on demand."""
        var = np.asarray(var, dtype=np.float64)
        lo, hi = float(np.min(var)), float(np.max(var))
        t = self._table
        if t is None or lo < t[0][0] or hi > t[0][-1]:
            self._extend(lo, hi)
            t = self._table
        return np.interp(np.log(var), t[1], t[2])

    def _extend(self, lo, hi):
        step = math.log(2.0) / self._PER_OCTAVE
        if self._table is not None:
            if hi > self._table[0][-1]:
                hi *= 4.0            # grow geometrically: a walk asks for a little more each time
            if lo < self._table[0][0]:
                lo /= 4.0
            lo, hi = min(lo, self._table[0][0]), max(hi, self._table[0][-1])
        g_lo = math.floor(math.log(lo) / step) - 2
        g_hi = math.ceil(math.log(hi) / step) + 2
        if self._table is not None:
            g_lo = min(g_lo, self._table[3])
            g_hi = max(g_hi, self._table[3] + self._table[1].size - 1)
        grid = np.arange(g_lo, g_hi + 1)
        known = {}
        if self._table is not None:
            for g, val in zip(range(self._table[3], self._table[3] + self._table[1].size),
                              self._table[2]):
                known[g] = val
        todo = np.array([g for g in grid if g not in known])
        if todo.size:
            for a in range(0, todo.size, 256):
                part = todo[a:a + 256]
                vals, _ = self.delta(np.zeros(part.size), np.exp(part * step))
                known.update(zip(part.tolist(), vals.tolist()))
        lv = grid * step
        self._table = (np.exp(lv), lv, np.array([known[g] for g in grid]), int(g_lo))


def _catmull_rom(t):
    """Weights of the 4 nodes around t in [0, 1) (C1 cubic through the two inner ones)."""
    t2 = t * t
    t3 = t2 * t
    return np.array([-0.5 * t + t2 - 0.5 * t3, 1.0 - 2.5 * t2 + 1.5 * t3,
                     0.5 * t + 2.0 * t2 - 1.5 * t3, -0.5 * t2 + 0.5 * t3])


# stencil of the differences in the mean: offsets in units of the standard deviation
_STENCIL = 0.5 * np.arange(-2, 3)


def _mean_derivatives(d2, d1):
    """From Delta2, Delta1 at mu + _STENCIL tau (last axis, 5 points): the six quantities of
    the skewed closure at mu, (Delta2, Delta1, tau^3 d3 Delta2, tau^3 d3 Delta1,
    tau d Delta1, tau^2 d2 Delta1) (dk: k-th derivative in mu at fixed tau), by central
    differences."""
    h = _STENCIL[3]

    def third(d):
        return (d[..., 4] - 2 * d[..., 3] + 2 * d[..., 1] - d[..., 0]) / (2 * h ** 3)

    return np.stack([d2[..., 2], d1[..., 2], third(d2), third(d1),
                     (d1[..., 3] - d1[..., 1]) / (2 * h),
                     (d1[..., 3] - 2 * d1[..., 2] + d1[..., 1]) / h ** 2])


class _DriftTable:
    """The six quantities of _mean_derivatives for a drifting adder at a state (mu, var),
    interpolated.

    The state is placed by its second moment v2 = mu^2 + var and its angle
    theta = atan2(mu, sqrt(var)); the quantities, divided by v2 (those of Delta2) or
    sqrt(v2) (those of Delta1), vary only log-periodically along a drift and are
    interpolated by Catmull-Rom in both coordinates on a fixed grid, 16 rows per octave of
    v2 and columns 1/32 rad apart. Nodes are computed in aligned 4 x 4 tiles when a query
    first needs them, so a value does not depend on the queries made before it. States
    within four columns of theta = +-pi/2 (a sum whose spread is almost nothing beside its
    mean) are evaluated directly."""

    ROW = math.log(2.0) / 16
    COL = 1.0 / 32
    TILE = 4
    _SCALE = np.array([2, 1, 2, 1, 1, 1])          # the power of sqrt(v2) in each quantity

    def __init__(self, adder):
        self.adder = adder
        self._tiles = {}
        self._cells = {}

    def direct(self, mu, tau):
        """The six quantities at arrays mu, tau by quadrature: shape (6,) + mu.shape."""
        mu, tau = np.asarray(mu, dtype=np.float64), np.asarray(tau, dtype=np.float64)
        at = mu[..., None] + _STENCIL * tau[..., None]
        var = np.repeat(np.square(tau).ravel(), _STENCIL.size)
        d2, d1 = self.adder.delta(at.ravel(), var)
        return _mean_derivatives(d2.reshape(at.shape), d1.reshape(at.shape))

    def _tile(self, G, H):
        tile = self._tiles.get((G, H))
        if tile is None:
            T = self.TILE
            r = np.exp((G * T + np.arange(T))[:, None] * (self.ROW / 2)) * np.ones((1, T))
            th = (H * T + np.arange(T))[None, :] * self.COL * np.ones((T, 1))
            tile = self.direct(r * np.sin(th), r * np.cos(th)) / r ** self._SCALE[:, None, None]
            self._tiles[(G, H)] = tile
        return tile

    def _cell(self, g0, h0):
        """The 4 x 4 nodes from (g0, h0): shape (6, 4, 4)."""
        cell = self._cells.get((g0, h0))
        if cell is None:
            T = self.TILE
            cell = np.empty((6, 4, 4))
            for i in range(4):
                for j in range(4):
                    g, h = g0 + i, h0 + j
                    cell[:, i, j] = self._tile(g // T, h // T)[:, g % T, h % T]
            self._cells[(g0, h0)] = cell
        return cell

    def __call__(self, mu, var):
        """The six quantities at mu (float), var (float > 0): an array of 6."""
        v2 = mu * mu + var
        x = math.log(v2) / self.ROW
        y = math.atan2(mu, math.sqrt(var)) / self.COL
        g0, h0 = math.floor(x) - 1, math.floor(y) - 1
        if abs(y) + 4 >= 0.5 * math.pi / self.COL:
            return self.direct(np.array(mu), np.array(math.sqrt(var)))
        wx, wy = _catmull_rom(x - g0 - 1), _catmull_rom(y - h0 - 1)
        return (self._cell(g0, h0) @ wy @ wx) * math.sqrt(v2) ** self._SCALE


@lru_cache(maxsize=256)
def _adder(fmt, mode, add_key_holder):
    return _Adder(fmt, mode, add_key_holder.add)


class _Key:
    """Hashable holder of an addend distribution (by its key) for the caches."""

    def __init__(self, add):
        self.add = add

    def __hash__(self):
        return hash(self.add.key)

    def __eq__(self, other):
        return isinstance(other, _Key) and other.add.key == self.add.key


def _get_adder(fmt, mode, add):
    return _adder(fmt, mode, _Key(add))


# ---------------------------------------------------------------- the recursion

_EXACT_STEPS = 4096          # steps iterated one by one (symmetric case)
_EXACT_STEPS_ASYM = 256      # (drifting roundings)
_RK_PER_E = 96               # Runge-Kutta steps per e-fold of i beyond
_RK_PER_E_ASYM = 48          # (drifting roundings)
_PARTIAL_EXACT = 16          # a short last chunk gets its own addends up to this many chunks
_STIFF = -1.0                # F' h below this: an exponential Euler step (stagnation)


def _run(adder, ns):
    """[(E[s_n], E[s_n^2]) for n in ns]: the recursion from +0, ns sorted, each >= 1."""
    add = adder.add
    d1, d2 = adder.first()
    mu, v2 = add.mean + d1, add.second + d2
    if adder.symmetric and add.mean == 0.0:
        return [(0.0, v) for v in _walk(lambda st: np.array([add.second + float(adder.delta2_table(
            max(st[0], 1e-300)))]), np.array([v2]), ns, _EXACT_STEPS, adder)]
    big = adder.fmt.max
    # E[p^3]: zero for the (symmetric) products; chunk sums are Gaussians of mean a, var b
    a, b2 = add.mean, add.second
    b3 = a ** 3 + 3 * a * (b2 - a * a)

    def F(st):
        m_, q_, c_ = st
        var = max(q_ - m_ * m_, 1e-300)
        tau = math.sqrt(var)
        if not math.isfinite(q_) or abs(m_) + 8 * tau > big:
            raise OverflowError
        dd2, dd1, t2, t1, g1, gg1 = adder.drift_table(m_, var)
        skew = (c_ - 3 * m_ * q_ + 2 * m_ ** 3) / (6 * tau ** 3)     # kappa_3 / (6 tau^3)
        e_s = m_ * dd1 + tau * g1                                   # E[s delta1(s)]
        e_ss = q_ * dd1 + 2 * m_ * tau * g1 + var * gg1             # E[s^2 delta1(s)]
        return np.array([a + dd1 + skew * t1,
                         b2 + 2 * m_ * a + dd2 + skew * t2,
                         3 * q_ * a + 3 * m_ * b2 + b3 + 3 * (e_ss + 2 * a * e_s + b2 * dd1)])

    # the first sum R(p_1): its third moment with the rounding error taken independent of p
    start = np.array([mu, v2, b3 + 3 * b2 * d1])
    return [(st[0], st[1]) for st in _walk_drifting(F, start, ns)]


def _walk_drifting(F, state, ns):
    """_walk for the moments (mean, second, third) of a drifting rounding. The drift can
    grow the sum geometrically (ru/rd: by ~2^-m of itself per step), where an ODE through
    the steps would be off by the square of the growth per step; so beyond the first steps
    each Runge-Kutta step of h integer steps integrates the field whose time-1 flow is the
    step map to second order, G = J^-1 log(1 + J) F ~ (1 - J/2 + J^2/3 - J^3/4) F (J the
    Jacobian of F, by differences), with h rho(J) <= 0.05 (rho: spectral radius); where that
    allows fewer than 16 steps, they are taken one at a time."""
    out = []
    i = 1
    k = state.size
    try:
        for n in ns:
            while i < n:
                f0 = F(state)
                if i < _EXACT_STEPS_ASYM:
                    state = state + f0
                    i += 1
                    continue
                J = np.empty((k, k))
                r = math.sqrt(max(state[1], 1e-300))
                for c in range(k):
                    d = np.zeros(k)
                    d[c] = 1e-5 * max(abs(state[c]), r ** (c + 1))   # moment c + 1 ~ r^(c+1)
                    J[:, c] = (F(state + d) - F(state - d)) / (2 * d[c])
                rate = float(np.max(np.abs(np.linalg.eigvals(J))))
                h = math.floor(min(i / _RK_PER_E_ASYM, 0.05 / rate if rate > 0 else math.inf, n - i))
                if h < 16 or rate > 0.2:          # (a step costs 10 evaluations of F)
                    state = state + f0
                    i += 1
                    continue
                L = np.eye(k) - J / 2 + J @ J / 3 - J @ J @ J / 4
                k1 = L @ f0
                k2 = L @ F(state + h / 2 * k1)
                k3 = L @ F(state + h / 2 * k2)
                k4 = L @ F(state + h * k3)
                state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
                i += h
            out.append(state.copy())
    except OverflowError:
        out += [np.full(k, math.nan)] * (len(ns) - len(out))
    return out


def _walk(F, state, ns, exact_steps, adder, per_e=_RK_PER_E):
    """The states after each n in ns of x_i = x_{i-1} + F(x_{i-1}) from x_1 = state (one
    component): one step at a time up to ``exact_steps``, then classical Runge-Kutta on
    dx/di = F(x) with steps of i/_RK_PER_E landing on every n (the recursion and the ODE
    differ by O(1/i) relative in the increments). Where the sum relaxes to a stagnation
    level faster than a step (F'(x) h < -1: rtz, whose drift toward zero balances the
    addends), where explicit Runge-Kutta would diverge, the step is exponential Euler,
    x + F (e^(F' h) - 1) / F', exact for a linear F and stable for any h. An overflow of
    the format gives nan states."""
    out = []
    i = 1
    targets = list(ns)
    if adder is not None:        # extend the table once to the range the walk will visit
        s2 = adder.add.second
        adder.delta2_table(np.array([max(state[0] * 0.5, 1e-300),
                                     2.0 * (state[0] + s2 * targets[-1])]))
    try:
        for n in targets:
            while i < min(n, exact_steps):
                state = state + F(state)
                i += 1
            t = float(i)
            while t < n:
                h = min(max(1.0, t / per_e), n - t)
                k1 = F(state)
                eps = 1e-4 * state
                slope = (F(state + eps) - F(state - eps)) / (2 * eps)
                if slope[0] * h < _STIFF:
                    state = state + k1 * np.expm1(slope * h) / slope
                    t += h
                    continue
                k2 = F(state + h / 2 * k1)
                k3 = F(state + h / 2 * k2)
                k4 = F(state + h * k3)
                state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
                t += h
            i = max(i, n)
            out.append(state[0])
    except OverflowError:
        out += [math.nan] * (len(targets) - len(out))
    return out


def _level_sums(lengths, levels, acc, mode, add):
    """{L: (mu, v2)} for sums of L addends ``add`` in the order of ``levels`` (((chunk
    size, format of that level's sums), ...), outermost first; empty: sequential in
    ``acc``), and the format the results live on."""
    lengths = sorted(set(int(L) for L in lengths))
    if not levels:
        return dict(zip(lengths, _run(_get_adder(acc, mode, add), lengths))), acc
    size, fmt = levels[0]
    plan = {L: (-(-L // size), L - (-(-L // size) - 1) * size) for L in lengths}
    inner, inner_fmt = _level_sums({size} | {r for _, r in plan.values()}, levels[1:], acc,
                                   mode, add)

    def addend(state):
        mu, v2 = state
        if not math.isfinite(v2):
            return None
        return _grid_gaussian(inner_fmt.man_bits, inner_fmt.emin, mu, max(v2 - mu * mu, 1e-300))

    full = addend(inner[size])
    out = {}
    nan = (math.nan, math.nan)
    # full chunks: counts (last == size) and counts - 1 (a short last chunk follows)
    steps = sorted({c if r == size else c - 1 for c, r in plan.values()} - {0})
    traj = dict(zip(steps, _run(_get_adder(fmt, mode, full), steps))) if full and steps else {}
    for L, (c, r) in plan.items():
        if r == size:
            out[L] = traj.get(c, nan)
            continue
        part = addend(inner[r])
        if part is None:
            out[L] = nan
        elif c == 1:
            out[L] = _run(_get_adder(fmt, mode, part), [1])[0]
        else:
            mu, v2 = traj.get(c - 1, nan)
            if not math.isfinite(v2):
                out[L] = nan
                continue
            var = max(v2 - mu * mu, 1e-300)
            if c - 1 <= _PARTIAL_EXACT:
                d2, d1 = _get_adder(fmt, mode, part).delta(np.array([mu]), np.array([var]))
            else:
                # many chunks: the last, shorter one's Delta from the full chunks' adder,
                # scaled by the ratio of the two chunk variances (one step of c)
                d2, d1 = _get_adder(fmt, mode, full).delta(np.array([mu]), np.array([var]))
                ratio = (part.second - part.mean ** 2) / (full.second - full.mean ** 2)
                d2, d1 = d2 * ratio, d1 * ratio
            out[L] = (mu + part.mean + float(d1[0]),
                      v2 + part.second + 2 * mu * part.mean + float(d2[0]))
    return out, fmt


# ---------------------------------------------------------------- public functions

@dataclass(frozen=True)
class AdderMoments:
    """What the adder model gives for one sum: ``mean`` and ``var`` of the computed sum,
    ``exact_var`` = n E[p^2] (the exact sum's variance), ``n_eff`` (non-zero products, as
    fpsim.variance_lost counts them)."""

    mean: float
    var: float
    exact_var: float
    n_eff: int

    @property
    def vrr(self) -> float:
        return self.var / self.exact_var

    @property
    def variance_lost(self) -> float:
        return self.n_eff * (1.0 - self.vrr)


def as_adder_spec(spec, chunk=None, rounding=None) -> AccumSpec:
    """The AccumSpec the adder model describes: an int m_acc is the (1, 6, m_acc)
    accumulator of fpsim.accumulator with ``rounding`` (default rne) and ``chunk``; an
    AccumSpec must have a sequential or chunked order, exact products and one of
    ROUNDINGS."""
    if isinstance(spec, AccumSpec):
        if chunk is not None:
            raise ValueError("chunk goes inside the AccumSpec's order (fpsim.Chunked(...)), "
                             f"not beside it; got chunk={chunk!r} with {spec!r}")
        if rounding is not None and str(as_rounding(rounding)) != str(spec.rounding):
            raise ValueError(f"rounding={rounding!r} contradicts the AccumSpec's rounding "
                             f"{spec.rounding}; leave it out with an AccumSpec")
        out = spec
    elif isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        if not 0 <= int(spec) <= 52:
            raise ValueError(f"m_acc must be in 0..52, got {int(spec)}")
        order = Sequential() if chunk is None else Chunked(int(chunk))
        out = AccumSpec(accumulator(int(spec)), rounding=rounding or "rne", order=order)
    else:
        raise TypeError(f"spec must be an int m_acc or a fpsim.AccumSpec, got {spec!r:.60}")
    if str(out.rounding) not in ROUNDINGS:
        raise ValueError(f"the adder model covers the roundings {', '.join(ROUNDINGS)}; "
                         f"got {out.rounding}")
    if out.product is not None:
        raise ValueError("the adder model takes the products as drawn (m_p, dist); "
                         "an AccumSpec with a product format is not covered")
    order = out.order
    while isinstance(order, Chunked):
        order = order.inner
    if not isinstance(order, Sequential):
        raise ValueError(f"the adder model covers sequential and chunked orders, got {out.order}")
    return out


def _levels(spec):
    out, order = [], spec.order
    while isinstance(order, Chunked):
        out.append((order.size, order.outer or spec.acc))
        order = order.inner
    return tuple(out)


def _check(spec, m_p, dist, nzr):
    return as_adder_spec(spec), check_m_p(m_p), check_dist(dist), check_nzr(nzr)


def _moments(ns, spec, m_p, dist, nzr):
    """[AdderMoments for n in ns] (ns: ints >= 1) of a checked spec."""
    add = _products(dist, m_p, nzr)
    levels = _levels(spec)
    mode, sign = str(spec.rounding), 1.0
    if mode == "rd":              # symmetric products: rd is ru mirrored (the mean flips)
        mode, sign = "ru", -1.0
    out = {}
    # a chunk as long as the sum or longer is one chunk (the order reduces to its inner one)
    groups = {}
    for n in ns:
        groups.setdefault(tuple(lv for lv in levels if lv[0] < n), []).append(n)
    for lv, group in groups.items():
        res, _ = _level_sums(group, lv, spec.acc, mode, add)
        for n in group:
            mu, v2 = res[n]
            out[n] = AdderMoments(mean=sign * mu, var=v2 - mu * mu, exact_var=n * add.second,
                                  n_eff=max(1, int(math.floor(nzr * n + 0.5))))
    return [out[n] for n in ns]


def adder_moments(n, spec, *, m_p=5, dist="gaussian", nzr=1.0) -> AdderMoments:
    """Mean and variance of the sum of n products under the adder model.

    ``spec``: an AccumSpec (sequential or chunked order, any of ROUNDINGS) or an int m_acc
    (the paper's (1, 6, m_acc) accumulator, round to nearest even). ``m_p``: products
    rounded (rne) to m_p fractional bits, None for unrounded; ``dist``: one of
    DISTRIBUTIONS; ``nzr``: the fraction of non-zero products. An accumulator that
    overflows (drifting roundings) gives nan.

    >>> r = adder_moments(4608, AccumSpec(accumulator(8), rounding="rtz"), m_p=5)
    >>> round(r.variance_lost)
    4150
    """
    spec, m_p, dist, nzr = _check(spec, m_p, dist, nzr)
    n = int(check_ints(n, "n", 1, 2**62, scalar=True))
    return _moments([n], spec, m_p, dist, nzr)[0]


def _per_n(field, n, spec, m_p, dist, nzr):
    """AdderMoments.<field> for every n of an int or an array of ints, shaped like n."""
    spec, m_p, dist, nzr = _check(spec, m_p, dist, nzr)
    arr = check_ints(n, "n", 1, 2**62)
    flat = [int(v) for v in arr.ravel()]
    uniq = sorted(set(flat))
    got = dict(zip(uniq, (getattr(r, field) for r in _moments(uniq, spec, m_p, dist, nzr))))
    vals = np.array([got[v] for v in flat]).reshape(arr.shape)
    return float(vals) if arr.ndim == 0 else vals


def adder_variance_lost(n, spec, *, m_p=5, dist="gaussian", nzr=1.0):
    """n_eff (1 - VRR) under the adder model, in units of one product's variance
    (negative: the adder gains variance); n an int or an array of ints."""
    return _per_n("variance_lost", n, spec, m_p, dist, nzr)


def adder_vrr(n, spec, *, m_p=5, dist="gaussian", nzr=1.0):
    """Var(computed sum) / Var(exact sum) under the adder model; n an int or an array."""
    return _per_n("vrr", n, spec, m_p, dist, nzr)
