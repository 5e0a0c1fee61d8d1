"""Rounding by the bit trick, the one home of it: quantize, elementwise and MAC fast paths.

A float64's magnitude bits plus a mode's constant (``round_add``), truncated at the
format's last bit, are the rounded magnitude; a carry into the exponent field is the right
binade change. ``fast_*`` take the mode at run time (any mode but rto in sums); ``lean_*``
take RNE or RTZ as a compile-time constant and work on the signed bits, for vector loops.

For the exact result of a sum or product held as a float64 pair (hi, lo), hi is first
rounded to odd at 53 bits, which makes the second rounding exact for any target with at
least two bits fewer than float64 (Boldo & Melquiond, IEEE TC 2008). Results that are not
normal numbers of the format come back flagged (``bad``) for the general path.
"""
import numpy as np

from .core import (FNUZ, RD, RNA, RNE, RTO, RU, SR, as_bits, fma, from_bits, odd_bits,
                   two_sum)
from .jit import inline

_SIGN = np.uint64(0x8000000000000000)
_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
#: Below this |a*b| the float64 error fma(a, b, -a*b) may itself be rounded (underflow).
_TINY_PRODUCT = 2.0 ** -969


@inline
def round_add(ab, neg, sh, mask, mode, ri, k):
    """The constant whose addition to a float64's magnitude bits, followed by truncation at
    bit ``sh``, rounds it in ``mode``: the carry out of the discarded bits is exactly the
    decision to round the magnitude up, and a carry into the exponent field is the right
    binade change. (rto is handled by the caller.)"""
    one = np.uint64(1)
    if mode == RNE:
        # half - 1, plus 1 when the kept significand is odd; with m = 0 bit sh is an
        # exponent bit and the significand is the implicit 1: always odd. Written without
        # a branch so that loops over elements stay one straight vector body.
        odd = ((ab >> sh) & one) | np.uint64(sh >= np.uint64(52))
        return (mask >> one) + odd
    if mode == RNA:
        return (mask >> one) + one                      # half
    if mode == RU:
        return np.uint64(0) if neg else mask
    if mode == RD:
        return mask if neg else np.uint64(0)
    if mode == SR:
        # carry iff the discarded bits, read as a fraction, exceed r / 2**k
        if sh >= k:
            return mask - (np.uint64(ri) << np.uint64(sh - k))
        return mask - (np.uint64(ri) >> np.uint64(k - sh))
    return np.uint64(0)                                 # rtz


@inline
def fast_params(f):
    m = f[0]
    sh = np.uint64(52 - m) if m < 52 else _ZERO
    mask = (_ONE << sh) - _ONE
    lo_bits = np.uint64(f[1] + 1023) << np.uint64(52)
    xmax_bits = as_bits(f[2])
    if f[3] == FNUZ:
        xmax_bits = _ZERO          # no fast path: fnuz zeros and NaN need the general one
    return sh, mask, lo_bits, xmax_bits


@inline
def fast_round_bits(hb, sh, mask, lo_bits, xmax_bits, mode, ri, k):
    """Bit-trick rounding of the float64 with bits hb; returns (bits, bad). An exact zero
    passes (float64 already gave it IEEE's sign) except under rd, where x + (-x) is -0;
    callers whose format has no -0 (fnuz) pass lo_bits with the top bit set to refuse
    zeros (see fast_params)."""
    ab = hb & _ABS
    if mode == RTO:
        # set the last kept bit if inexact; with m = 0 the significand is always odd
        odd_bit = (mask + _ONE) if sh < np.uint64(52) else _ZERO
        rb = (ab & ~mask) | (np.uint64((ab & mask) != _ZERO) * odd_bit)
    else:
        rb = (ab + round_add(ab, (hb & _SIGN) != _ZERO, sh, mask, mode, ri, k)) & ~mask
    bad = ((ab < lo_bits) & ((ab != _ZERO) | (mode == RD))) | (rb > xmax_bits)
    return rb | (hb & _SIGN), bad


@inline
def fast_add(s, p, sh, mask, lo_bits, xmax_bits, mode, ri, k):
    """(round(s + p), bad, exact) by TwoSum, round-to-odd and the bit trick. A NaN TwoSum
    error with a finite sum (p = +-DBL_MAX and a tie near 2**1024, core.two_sum) is
    flagged: the general path halves the operands."""
    hi, lo = two_sum(s, p)
    rb, bad = fast_round_bits(odd_bits(hi, lo), sh, mask, lo_bits, xmax_bits, mode, ri, k)
    bad = bad | (lo != lo)
    if mode == SR:
        bad = bad | (lo != 0.0)    # sr needs the exact fraction: let the general path do it
    res = from_bits(rb)
    return res, bad, (lo == 0.0) & (res == hi)


@inline
def fast_mul(a, b, sh, mask, lo_bits, xmax_bits, mode):
    """(round(a * b), bad) for a deterministic mode: the exact product as the pair
    (a*b, fma(a, b, -a*b)), rounded to odd, then the bit trick. Products below 2^-969,
    where that error may underflow, are flagged, zeros included."""
    hi = a * b
    rb, bad = fast_round_bits(odd_bits(hi, fma(a, b, -hi)), sh, mask, lo_bits, xmax_bits,
                               mode, 0, 52)
    return from_bits(rb), bad | (abs(hi) < _TINY_PRODUCT)


# ---- lean rounding: RNE / RTZ (a compile-time constant) on the signed bits -----------------
@inline
def lean_params(f):
    """(sh, mask, lo2, span2): the bit-trick shift and mask of format f, and its normal
    range [2^emin, xmax] as magnitude bits shifted left by one (which drops the sign).
    Not for fnuz formats (callers keep those on the general path)."""
    sh, mask, lo_bits, xmax_bits = fast_params(f)
    return sh, mask, lo_bits << _ONE, (xmax_bits - lo_bits) << _ONE


@inline
def lean_round_bits(hb, sh, mask, lo2, span2, mode):
    """Round the float64 with bits hb in mode RNE or RTZ (a constant); returns (bits, bad).

    Both modes are symmetric, so the bit trick runs on the signed bits: a carry out of
    the significand lands in the exponent, never in the sign (a finite float64 stops at
    inf's bits; a NaN whose carry wraps into the sign ends with exponent 0 and is flagged
    below like any tiny value). bad: the rounded magnitude is nonzero and outside
    [2^emin, xmax] -- subnormal, overflow, inf, NaN. Testing the rounded magnitude
    against 2^emin is safe: below 2^emin the normal grid is finer than the subnormal
    grid, and the finer rounding gives 2^emin only when the coarser one (or the flush
    rule, which rounds at the normal grid) gives 2^emin as well."""
    if mode == RNE:
        # half - 1, plus 1 when the kept significand is odd (always, for m = 0)
        odd = ((hb >> sh) & _ONE) | np.uint64(sh >= np.uint64(52))
        rb = (hb + (mask >> _ONE) + odd) & ~mask
    else:
        rb = hb & ~mask
    bad = (((rb << _ONE) - lo2) > span2) & ((hb & _ABS) != _ZERO)
    return rb, bad



@inline
def lean_add(x, y, ap, mode):
    """(R(x + y), bad) for RNE/RTZ (a constant): TwoSum, round-to-odd at 53 bits (which
    makes the second rounding exact), then lean_round_bits.

    TwoSum's error is NaN with a finite sum only for y = +-DBL_MAX (core.two_sum), which
    the lean steps never meet: y is a value of the accumulator (m <= 50), a product
    rounded into a format of m <= 51, or an exact product below 2**1022 (the ``fast``
    conditions of fpsim.accumulate), and DBL_MAX needs 53 significant bits."""
    hi, lo = two_sum(x, y)
    rb, bad = lean_round_bits(odd_bits(hi, lo), ap[0], ap[1], ap[2], ap[3], mode)
    return from_bits(rb), bad
