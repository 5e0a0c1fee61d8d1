"""Rounding by the bit trick, shared by the MAC and elementwise fast paths.

A float64's magnitude bits plus a mode's constant, truncated at the format's last bit, are
the rounded magnitude (quantize.py ``_round_add``); a carry into the exponent field is the
right binade change. For the exact result of a sum or product held as a float64 pair
(hi, lo), hi is first rounded to odd at 53 bits, which makes the second rounding exact for
any target with at least two bits fewer than float64 (Boldo & Melquiond, IEEE TC 2008).
Results that are not normal numbers of the format come back flagged (``bad``) for the
general path.
"""
import numpy as np
from numba import njit

from .core import FNUZ, RD, RTO, SR, as_bits, fma, from_bits, odd_bits, two_sum
from .quantize import _round_add

_SIGN = np.uint64(0x8000000000000000)
_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
#: Below this |a*b| the float64 error fma(a, b, -a*b) may itself be rounded (underflow).
_TINY_PRODUCT = 2.0 ** -969

inline = njit(cache=True, nogil=True, inline="always")


@inline
def _fast_params(f):
    m = f[0]
    sh = np.uint64(52 - m) if m < 52 else _ZERO
    mask = (_ONE << sh) - _ONE
    lo_bits = np.uint64(f[1] + 1023) << np.uint64(52)
    xmax_bits = as_bits(f[2])
    if f[3] == FNUZ:
        xmax_bits = _ZERO          # no fast path: fnuz zeros and NaN need the general one
    return sh, mask, lo_bits, xmax_bits


@inline
def _fast_round_bits(hb, sh, mask, lo_bits, xmax_bits, mode, ri, k):
    """Bit-trick rounding of the float64 with bits hb; returns (bits, bad). An exact zero
    passes (float64 already gave it IEEE's sign) except under rd, where x + (-x) is -0;
    callers whose format has no -0 (fnuz) pass lo_bits with the top bit set to refuse
    zeros (see _fast_params)."""
    ab = hb & _ABS
    if mode == RTO:
        # set the last kept bit if inexact; with m = 0 the significand is always odd
        odd_bit = (mask + _ONE) if sh < np.uint64(52) else _ZERO
        rb = (ab & ~mask) | (np.uint64((ab & mask) != _ZERO) * odd_bit)
    else:
        rb = (ab + _round_add(ab, (hb & _SIGN) != _ZERO, sh, mask, mode, ri, k)) & ~mask
    bad = ((ab < lo_bits) & ((ab != _ZERO) | (mode == RD))) | (rb > xmax_bits)
    return rb | (hb & _SIGN), bad


@inline
def _fast_add(s, p, sh, mask, lo_bits, xmax_bits, mode, ri, k):
    """(round(s + p), bad, exact) by TwoSum, round-to-odd and the bit trick. A NaN TwoSum
    error with a finite sum (p = +-DBL_MAX and a tie near 2**1024, core.two_sum) is
    flagged: the general path halves the operands."""
    hi, lo = two_sum(s, p)
    rb, bad = _fast_round_bits(odd_bits(hi, lo), sh, mask, lo_bits, xmax_bits, mode, ri, k)
    bad = bad | (lo != lo)
    if mode == SR:
        bad = bad | (lo != 0.0)    # sr needs the exact fraction: let the general path do it
    res = from_bits(rb)
    return res, bad, (lo == 0.0) & (res == hi)


@inline
def _fast_mul(a, b, sh, mask, lo_bits, xmax_bits, mode):
    """(round(a * b), bad) for a deterministic mode: the exact product as the pair
    (a*b, fma(a, b, -a*b)), rounded to odd, then the bit trick. Products below 2^-969,
    where that error may underflow, are flagged, zeros included."""
    hi = a * b
    rb, bad = _fast_round_bits(odd_bits(hi, fma(a, b, -hi)), sh, mask, lo_bits, xmax_bits,
                               mode, 0, 52)
    return from_bits(rb), bad | (abs(hi) < _TINY_PRODUCT)
