"""Elementwise arithmetic: the exact result of float64 operands, rounded once.

Each operation turns its exact result into ``(hi + lo) * 2**shift`` with error-free
transformations and hands it to :func:`core.round_value`:

- add/sub: TwoSum, halved where fl(a + b) or TwoSum's intermediate overflows near 2**1024
  (core.two_sum_scaled);
- mul: both significands scaled into [0.5, 1) by frexp, so the product is in [0.25, 1) and
  its TwoProduct error (one FMA) is exact whatever the operands' exponents;
- div: scaled quotient, exact remainder by FMA, lo = remainder / divisor rounded to odd;
- fma: exact product as above plus the scaled addend, summed exactly by a TwoSum cascade;
- sqrt: even exponent scaled out, exact residual by FMA.

add/sub and mul in RNE or RTZ into a format of at most 50 mantissa bits first take a
vectorised fast path (bittrick.py: the exact pair rounded to odd, then the bit trick); the
results that are not normal numbers of the format go through the general path above.
"""
import math

import numpy as np
from numba import prange

from .bittrick import fast_add, fast_mul, fast_params
from .core import (F8, FNUZ, I8, RD, RNE, ROUNDING_ARGS, RTZ, SR, fma, infinite_input,
                   round_to_odd, round_value, scalar_entry, signbit, signed_zero, sr_bits,
                   two_sum, two_sum_scaled)
from .jit import by_literal, inline, jit, parallel, variant_factory

BLOCK = 4096


@scalar_entry(F8, F8, I8, I8)
def exact_zero_sum(za, zb, flav, mode):
    """Sign of an exact zero sum: the common sign of two equal-signed zero addends,
    otherwise +0 (-0 when rounding toward -inf). IEEE 754 section 6.3."""
    na, nb = signbit(za), signbit(zb)
    if za == 0.0 and zb == 0.0 and na == nb:
        return signed_zero(na, flav)
    return signed_zero(mode == RD, flav)


@scalar_entry(F8, F8, *ROUNDING_ARGS)
def add_one(a, b, m, emin, xmax, flav, subn, sat, mode, r, k):
    # (s + e) * 2**sh == a + b: halved (sh = 1) where fl(a + b) overflowed, the exact sum
    # may not have, or where TwoSum's intermediate did (b = +-DBL_MAX, core.two_sum)
    s, e, sh = two_sum_scaled(a, b)
    if s != s:
        return math.nan
    if s == 0.0 and e == 0.0:
        return exact_zero_sum(a, b, flav, mode)
    return round_value(s, e, sh, m, emin, xmax, flav, subn, sat, mode, r, k)


@scalar_entry(F8, F8, *ROUNDING_ARGS)
def mul_one(a, b, m, emin, xmax, flav, subn, sat, mode, r, k):
    if a != a or b != b:
        return math.nan
    neg = signbit(a) != signbit(b)
    aa, ab = abs(a), abs(b)
    if math.isinf(aa) or math.isinf(ab):
        if aa == 0.0 or ab == 0.0:
            return math.nan
        return infinite_input(neg, xmax, flav, sat)
    if aa == 0.0 or ab == 0.0:
        return signed_zero(neg, flav)
    ma, ea = math.frexp(aa)
    mb, eb = math.frexp(ab)
    p = ma * mb
    pe = fma(ma, mb, -p)
    if neg:
        p, pe = -p, -pe
    return round_value(p, pe, ea + eb, m, emin, xmax, flav, subn, sat, mode, r, k)


@scalar_entry(F8, F8, *ROUNDING_ARGS)
def div_one(a, b, m, emin, xmax, flav, subn, sat, mode, r, k):
    if a != a or b != b:
        return math.nan
    neg = signbit(a) != signbit(b)
    aa, ab = abs(a), abs(b)
    if math.isinf(aa):
        if math.isinf(ab):
            return math.nan
        return infinite_input(neg, xmax, flav, sat)
    if math.isinf(ab):
        return signed_zero(neg, flav)
    if ab == 0.0:
        if aa == 0.0:
            return math.nan
        return infinite_input(neg, xmax, flav, sat)
    if aa == 0.0:
        return signed_zero(neg, flav)
    ma, ea = math.frexp(aa)
    mb, eb = math.frexp(ab)
    q = ma / mb                                   # in (0.5, 2)
    rem = fma(-q, mb, ma)                         # exact: ma == q*mb + rem
    lo = 0.0
    if rem != 0.0:
        lo = rem / mb
        err = fma(-lo, mb, rem)                   # sign of (rem/mb - lo), mb > 0
        lo = round_to_odd(lo, 1 if err > 0 else (-1 if err < 0 else 0))
    if neg:
        q, lo = -q, -lo
    return round_value(q, lo, ea - eb, m, emin, xmax, flav, subn, sat, mode, r, k)


@jit
def _sqrt_residual_sign(res, s, lo):
    """Sign of sqrt(ma) - (s + lo) where res = ma - s*s exactly: that of
    res - 2*s*lo - lo*lo, summed exactly enough to decide its sign."""
    p = 2.0 * s * lo
    pe = fma(2.0 * s, lo, -p)                 # 2*s*lo == p + pe exactly
    q = lo * lo
    qe = fma(lo, lo, -q)
    d1 = res - p                              # exact: res and p agree to ~2**-100
    s1, e1 = two_sum(d1, -pe)
    s2, e2 = two_sum(s1, -q)
    rest = (e1 + e2) - qe
    if s2 != 0.0 and abs(rest) < 0.5 * abs(s2):
        return 1 if s2 > 0.0 else -1
    total = s2 + rest
    return 1 if total > 0.0 else (-1 if total < 0.0 else 0)


@scalar_entry(F8, *ROUNDING_ARGS)
def sqrt_one(a, m, emin, xmax, flav, subn, sat, mode, r, k):
    if a != a or a < 0.0:
        return math.nan
    if a == 0.0:
        return signed_zero(signbit(a), flav)
    if math.isinf(a):
        return round_value(math.inf, 0.0, 0, m, emin, xmax, flav, subn, sat, mode, r, k)
    ma, ea = math.frexp(a)
    if ea & 1:
        ma *= 2.0
        ea -= 1
    s = math.sqrt(ma)                             # ma in [0.5, 2)
    res = fma(-s, s, ma)                          # exact residual ma - s*s
    lo = 0.0
    if res != 0.0:
        # sqrt(ma) - s = res / (sqrt(ma) + s) = res / (2s + lo): one refinement makes lo
        # good to about 2**-100 relative; then it is rounded to odd with the exact sign
        # of its error, so that comparisons with ties and grid points stay exact.
        lo0 = res / (2.0 * s)
        lo = res / (2.0 * s + lo0)
        lo = round_to_odd(lo, _sqrt_residual_sign(res, s, lo))
    return round_value(s, lo, ea // 2, m, emin, xmax, flav, subn, sat, mode, r, k)


@scalar_entry(F8, F8, F8, *ROUNDING_ARGS)
def fma_one(a, b, c, m, emin, xmax, flav, subn, sat, mode, r, k):
    if a != a or b != b or c != c:
        return math.nan
    neg = signbit(a) != signbit(b)
    aa, ab = abs(a), abs(b)
    if math.isinf(aa) or math.isinf(ab):
        if aa == 0.0 or ab == 0.0:
            return math.nan
        if math.isinf(c) and (c < 0) != neg:
            return math.nan
        return infinite_input(neg, xmax, flav, sat)
    if math.isinf(c):
        return round_value(c, 0.0, 0, m, emin, xmax, flav, subn, sat, mode, r, k)
    if aa == 0.0 or ab == 0.0:
        if c == 0.0:
            return exact_zero_sum(signed_zero(neg, 0), c, flav, mode)
        return round_value(c, 0.0, 0, m, emin, xmax, flav, subn, sat, mode, r, k)
    ma, ea = math.frexp(aa)
    mb, eb = math.frexp(ab)
    ph = ma * mb                                  # product = (ph + pl) * 2**sp, exactly
    pl = fma(ma, mb, -ph)
    sp = ea + eb
    if neg:
        ph, pl = -ph, -pl
    if c == 0.0:
        return round_value(ph, pl, sp, m, emin, xmax, flav, subn, sat, mode, r, k)
    mc, ec = math.frexp(c)
    gap = ec - sp
    if gap > 110:
        # the product lies below every bit of c that the rounding can see: a sticky bit
        lo = math.ldexp(math.copysign(1.0, ph), -1000)
        return round_value(mc, lo, ec, m, emin, xmax, flav, subn, sat, mode, r, k)
    if gap < -110:
        # c lies below the last bit of the exact product's low part: a sticky bit on it
        if pl == 0.0:
            lo = math.ldexp(math.copysign(1.0, mc), -1000)
        else:
            lo = round_to_odd(pl, 1 if mc > 0 else -1)
        return round_value(ph, lo, sp, m, emin, xmax, flav, subn, sat, mode, r, k)
    cs = math.ldexp(mc, gap)                      # c in the product's scale, exact
    u, v = two_sum(cs, ph)                        # exact sum of three terms as hi + y + x
    w, x = two_sum(v, pl)
    hi, y = two_sum(u, w)
    r1, r2 = two_sum(y, x)
    hi, l1 = two_sum(hi, r1)
    lo, l2 = two_sum(l1, r2)
    lo = round_to_odd(lo, 1 if l2 > 0 else (-1 if l2 < 0 else 0))
    if hi == 0.0 and lo == 0.0:
        return exact_zero_sum(ph, cs, flav, mode)
    if hi == 0.0:
        hi, lo = lo, 0.0
    return round_value(hi, lo, sp, m, emin, xmax, flav, subn, sat, mode, r, k)


@inline
def _fast_binary_pass(op, a, b, out, todo, start, stop, sh, mask, lo_bits, xmax_bits, mode):
    """a[i] + b[i] (op 0) or a[i] * b[i] (op 1) by the bit trick for i in [start, stop),
    with op and the mode (RNE or RTZ) constants so that the loop vectorises; todo[i - start]
    flags the results the general path must redo. Returns how many it flagged."""
    nbad = np.uint64(0)
    for i in range(start, stop):
        if op == 0:
            r, bad, exact = fast_add(a[i], b[i], sh, mask, lo_bits, xmax_bits, mode, 0, 52)
        else:
            r, bad = fast_mul(a[i], b[i], sh, mask, lo_bits, xmax_bits, mode)
        out[i] = r
        todo[i - start] = bad
        nbad += np.uint64(bad)
    return nbad


#: The fast-pass code of a binary variant that has none (div, other modes, wide formats).
NO_FAST = -1


def _add(a, b, m, emin, xmax, flav, subn, sat, mode, r, k, op):
    return add_one(a, b, m, emin, xmax, flav, subn, sat, mode, r, k)


def _mul(a, b, m, emin, xmax, flav, subn, sat, mode, r, k, op):
    return mul_one(a, b, m, emin, xmax, flav, subn, sat, mode, r, k)


def _div(a, b, m, emin, xmax, flav, subn, sat, mode, r, k, op):
    return div_one(a, b, m, emin, xmax, flav, subn, sat, mode, r, k)


#: (a, b, m, emin, xmax, flav, subn, sat, mode, r, k, op): the general path of op (a
#: literal: 0 add, 1 mul, 2 div), so a variant compiles its own operation only.
_general_op = by_literal("_general_op", 11, {0: _add, 1: _mul, 2: _div})


@jit
def _binary_block(op, a, b, out, start, stop, m, emin, xmax, flav, subn, sat, mode, seed, k,
                  fast):
    """binary_kernels' work on [start, stop): with ``fast`` RNE or RTZ (a literal, as is
    op) the vectorised fast pass first (exact: round to odd, then the bit trick), and the
    general path for every result that is not a normal number; with NO_FAST, the general
    path for everything."""
    todo = np.ones(stop - start, dtype=np.bool_)
    nbad = np.uint64(1)
    if fast != NO_FAST:
        sh, mask, lo_bits, xmax_bits = fast_params((m, emin, xmax, flav, subn))
        nbad = _fast_binary_pass(op, a, b, out, todo, start, stop, sh, mask, lo_bits,
                                 xmax_bits, fast)
    if nbad == np.uint64(0):
        return
    for i in range(start, stop):
        if not todo[i - start]:
            continue
        ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
        out[i] = _general_op(a[i], b[i], m, emin, xmax, flav, subn, sat, mode, ri, k, op)


def fast_mode(op, m, flav, mode) -> int:
    """The fast pass a binary operation takes: its mode (RNE or RTZ) for add/sub and mul
    into a format of at most 50 mantissa bits that is not fnuz, NO_FAST otherwise."""
    if op != 2 and m <= 50 and flav != FNUZ and mode in (RNE, RTZ):
        return int(mode)
    return NO_FAST


@variant_factory
def binary_kernels(op: int, fast: int):
    """The parallel kernel of one binary variant, out[i] = op(a[i], b[i]) for op 0 add,
    1 mul, 2 div (1-D, same length) with the fast pass ``fast`` (``fast_mode``): both
    captured constants, so a variant compiles its own loops only (docs/architecture.md)."""
    OP_, FAST_ = op, fast

    @parallel
    def kernel(a, b, out, m, emin, xmax, flav, subn, sat, mode, seed, k):
        n = out.size
        for blk in prange((n + BLOCK - 1) // BLOCK):
            # unsigned indices: no negative-index wraparound check, so the loops vectorise
            _binary_block(OP_, a, b, out, np.uint64(blk * BLOCK),
                          np.uint64(min(blk * BLOCK + BLOCK, n)), m, emin, xmax, flav, subn,
                          sat, mode, seed, k, FAST_)

    return kernel


def binary_kernel(op, a, b, out, m, emin, xmax, flav, subn, sat, mode, seed, k):
    """out[i] = op(a[i], b[i]) for op in 0 add, 1 mul, 2 div (1-D, same length), by the
    kernel of this call's variant (compiled on first use)."""
    binary_kernels(op, fast_mode(op, m, flav, mode))(a, b, out, m, emin, xmax, flav, subn,
                                                      sat, mode, seed, k)


@parallel
def fma_kernel(a, b, c, out, m, emin, xmax, flav, subn, sat, mode, seed, k):
    for i in prange(out.size):
        ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
        out[i] = fma_one(a[i], b[i], c[i], m, emin, xmax, flav, subn, sat, mode, ri, k)


@parallel
def sqrt_kernel(a, out, m, emin, xmax, flav, subn, sat, mode, seed, k):
    for i in prange(out.size):
        ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
        out[i] = sqrt_one(a[i], m, emin, xmax, flav, subn, sat, mode, ri, k)
