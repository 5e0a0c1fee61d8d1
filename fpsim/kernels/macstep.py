"""One multiply-accumulate step, shared by every MAC family (sequential.py, pairwise.py,
kahan.py): the random streams, the lean and general steps, and the swamping counts.

Layout for SIMD, common to the families: a tile is TILE output columns of one row, i.e.
TILE *independent* dot products side by side, so each step k advances TILE accumulators
with the same instruction stream; tiles run in parallel (prange).
"""
import math

import numpy as np

from .bittrick import lean_add, lean_round_bits
from .codes import LEAN, RNE
from .core import as_bits, exponent_of, fma, from_bits, splitmix64, two_sum, two_sum_scaled
from .elementwise import add_one, mul_one
from .jit import by_literal, inline, jit

#: Output columns per tile.
TILE = 256


# ---- random streams for stochastic rounding -------------------------------------------
# Output element o (flat index i*N + j) draws the bits of its t-th rounded addition from
# SplitMix64 stream splitmix64(seed, 2*o), and of the product of step k from stream
# splitmix64(seed, 2*o + 1), index k. So a result never depends on tiling or threads.
@inline
def stream(seed, o, which):
    return splitmix64(seed, np.uint64(2) * np.uint64(o) + np.uint64(which))


# ---- the lean step: modes as compile-time constants ------------------------------------
def lean_variant(pf, opt) -> tuple:
    """(lean, products rounded, lean mode): the constants a family's lean loop is compiled
    for (its products, if rounded, round in the adder's mode); fixed for the other tiers,
    whose loop takes the modes at run time and so compiles once."""
    if opt.tier >= LEAN:
        return (True, bool(pf.man_bits >= 0), int(opt.mode))
    return (False, False, RNE)


@jit
def lean_mac(a, b, old, rounded, pp, ap, mode, pmode, direct):
    """(R(old + R_p(a*b)), bad) for the lean loops; pp, ap: lean_params of the product
    and accumulator formats. With ``direct`` (RNE, see ``direct_rne_safe`` in
    fpsim/accumulate.py) the float64 sum is rounded as it is; otherwise TwoSum and
    round-to-odd make that second rounding exact."""
    p = a * b
    pbad = False
    if rounded:
        pb, pbad = lean_round_bits(as_bits(p), pp[0], pp[1], pp[2], pp[3], pmode)
        p = from_bits(pb)
    if direct:
        rb, bad = lean_round_bits(as_bits(old + p), ap[0], ap[1], ap[2], ap[3], mode)
        return from_bits(rb), bad | pbad
    res, bad = lean_add(old, p, ap, mode)
    return res, bad | pbad


# ---- the general (scalar) step ------------------------------------------------------------
@inline
def product(a, b, pf, pmode, rp, k):
    """The product rounded into the product format pf."""
    return mul_one(a, b, pf[0], pf[1], pf[2], pf[3], pf[4], False, pmode, rp, k)


@inline
def add(s, p, f, mode, r, k):
    """R(s + p) into format f."""
    return add_one(s, p, f[0], f[1], f[2], f[3], f[4], False, mode, r, k)


def _general_mac_exact(a, b, old, acc, pf, rounded, mode, pmode):
    # a*b is exact in float64 (the lean tiers' condition), so R(old + a*b) is an addition
    return add(old, a * b, acc, mode, 0, 52)


def _general_mac_rounded(a, b, old, acc, pf, rounded, mode, pmode):
    return add(old, product(a, b, pf, pmode, 0, 52), acc, mode, 0, 52)


#: (a, b, old, acc, pf, rounded, mode, pmode): R(old + R_p(a*b)) by the general scalar
#: path (deterministic modes), the rare lane of the lean loops, whose products are exact
#: in float64. ``rounded`` (a literal) chooses the body, so a loop with exact products
#: does not compile the product rounding.
general_mac = by_literal("general_mac", 5, {False: _general_mac_exact,
                                             True: _general_mac_rounded})


# ---- swamping counts ------------------------------------------------------------------
@jit
def is_exact_add(s, p, res, f):
    """Whether res == s + p exactly (for the swamping counts), by TwoSum. A NaN lo (see
    core.two_sum) means s + p is no float64 (beyond DBL_MAX, or a tie near 2**1024):
    inexact, rightly."""
    hi, lo = two_sum(s, p)
    return lo == 0.0 and hi == res and math.isfinite(hi)


@jit
def is_exact_fma(a, b, s, res, f):
    """Whether res == s + a*b exactly for nonzero finite a, b: res - s (TwoSum) against the
    exact product. A product too tiny for float64 is compared in the scale of frexp."""
    ph = a * b
    d, e, sh = two_sum_scaled(res, -s)
    if not math.isfinite(d):
        return False
    if sh:
        # near 2**1024 (res - s or its TwoSum overflowed): d + e is (res - s) / 2, and
        # a/2 is exact, as |a*b| > 2**969 unless res is inexact anyway
        ha = 0.5 * a
        hp = ha * b
        return d == hp and e == fma(ha, b, -hp)
    if abs(ph) >= 2.0**-960 and math.isfinite(ph):
        return d == ph and e == fma(a, b, -ph)
    # |a*b| < 2**-960: res and s are multiples of 2**-1074 far below that, so an exact
    # res has res - s == a*b with d exact (e == 0) and of the product's magnitude.
    if e != 0.0 or d == 0.0 or abs(d) >= 2.0**-958:
        return False
    ma, ea = math.frexp(a)
    mb, eb = math.frexp(b)
    hp = ma * mb
    if fma(ma, mb, -hp) != 0.0:
        return False
    sp = ea + eb
    ed = exponent_of(abs(d))
    if ed - sp < -3 or ed - sp > 0:
        return False
    return math.ldexp(d, -sp) == hp


@inline
def finite(x, y):
    return math.isfinite(x) and math.isfinite(y)


@inline
def count(stats, lane, s, res, exact):
    """One addition s -> res into the counts [full, partial, inexact, additions] of lane
    ``lane`` of ``stats`` (2-D: one row per lane of the tile, or a single row for the whole
    tile). full: the addend vanished; partial: it survived but not whole; inexact: any
    loss. Only additions of two finite numbers with a nonzero addend are counted (callers)."""
    row = stats[np.int64(lane) if stats.shape[0] > 1 else np.int64(0)]
    if not exact:
        row[2] += 1
        if res == s:
            row[0] += 1
        else:
            row[1] += 1
    row[3] += 1


@inline
def scratch_flags(width):
    """Per-lane flags in whole uint64 words (eight lanes per test), False beyond width."""
    return np.zeros((width + 7) // 8 * 8, dtype=np.bool_)
