"""A Kulisch-style fixed-point accumulator: exact sums of float64 values times powers of
two, in an array of int64 words, and the one rounding of such a sum into a format.

30-bit digits in int64 words cover every product of float64 values exactly: the lowest bit
of an exact product is at 2**-2304 or above, the highest below 2**2100. Each addend adds
less than 2**30 to a word, so words cannot overflow before 2**32 additions. Used by the
exact order (exact.py); a fixed-point block step (a hardware block-FMA) is the same
accumulator with a coarser lowest digit.
"""
import numpy as np

from .core import as_bits, round_value, two_sum
from .jit import inline

DIGIT = 30
_DMASK = (1 << DIGIT) - 1
BASE_EXP = -2400
NDIG = (2100 - BASE_EXP) // DIGIT + 4


@inline
def new_words():
    return np.zeros(NDIG, np.int64)


@inline
def split_float(x):
    """x == sig * 2**e with sig a signed integer of at most 53 bits."""
    b = as_bits(x)
    be = np.int64((b >> np.uint64(52)) & np.uint64(0x7FF))
    sig = np.int64(b & np.uint64(0xFFFFFFFFFFFFF))
    if be > 0:
        sig |= np.int64(1) << 52
        e = be - 1075
    else:
        e = np.int64(-1074)
    return (-sig if x < 0 else sig), e


@inline
def add_scaled(words, x, shift):
    """words += the finite float64 x times 2**shift, exactly."""
    sig, e = split_float(x)
    pos = e + shift - BASE_EXP
    d = pos // DIGIT
    r = pos - d * DIGIT
    u = -sig if sig < 0 else sig                     # < 2**53
    low = (u & ((np.int64(1) << (DIGIT - r)) - 1)) << r   # < 2**30
    rest = u >> (DIGIT - r)                          # < 2**(23 + r)
    if sig < 0:
        words[d] -= low
        words[d + 1] -= rest & _DMASK
        words[d + 2] -= rest >> DIGIT
    else:
        words[d] += low
        words[d + 1] += rest & _DMASK
        words[d + 2] += rest >> DIGIT


@inline
def _carry(words):
    """Propagate carries: every word but the top one into [0, 2**30)."""
    for d in range(NDIG - 1):
        c = words[d] >> DIGIT                        # arithmetic shift: floor division
        words[d] -= c << DIGIT
        words[d + 1] += c


@inline
def round_words(words, zero, f, mode, ri, k):
    """The exact value of ``words`` rounded once into format f (a FormatParams or the
    same five numbers); ``zero`` is the signed zero to round when the sum is exactly 0.
    The words are normalised in place."""
    _carry(words)
    neg = words[NDIG - 1] < 0
    if neg:
        for d in range(NDIG):
            words[d] = -words[d]
        _carry(words)
    top = -1
    for d in range(NDIG - 1, -1, -1):
        if words[d] != 0:
            top = d
            break
    if top < 0:
        return round_value(zero, 0.0, 0, f[0], f[1], f[2], f[3], f[4], False, mode, 0, k)
    top = max(top, 2)
    # value = (w[top]*2**60 + w[top-1]*2**30 + w[top-2] + below) * 2**(30*(top-2) + BASE)
    v = (words[top] << DIGIT) + words[top - 1]       # < 2**60: fits an int64
    vh = float(v)                                    # one rounding; the error is exact:
    lo = float(((v - np.int64(vh)) << DIGIT) + words[top - 2])
    hi, lo = two_sum(vh * 2.0**DIGIT, lo)
    for d in range(top - 3, -1, -1):
        if words[d] != 0:
            # Something below the last integer unit: every grid point and midpoint the
            # rounding compares with is a multiple of 2**7 units, so "a half unit more"
            # stands in for it exactly.
            lo = lo + 0.5
            break
    if neg:
        hi, lo = -hi, -lo
    return round_value(hi, lo, (top - 2) * DIGIT + BASE_EXP, f[0], f[1], f[2], f[3], f[4],
                       False, mode, ri, k)
