"""What the operands of a product are made of: significand widths and exponent range,
read from the bits in one pass. The API decides from them, once per call, whether every
product of two operands is exact in float64 (and so which MAC tier may run)."""
import numpy as np

from .jit import jit

_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
_ONE = np.uint64(1)


@jit
def operand_range(bits):
    """(largest significand width in bits, smallest and largest exponent) over the finite
    nonzero float64 values whose bits are ``bits`` (1-D uint64: the caller's flat view of
    its array, so one signature serves every shape); (0, 0, 0) when there are none.
    Decides, once per call, whether every product of two operands is exact in float64.

    One vectorised pass over the bits: the smallest number of trailing zeros of the
    normal values' significands is that of their OR, and the exponents reduce by min/max;
    float64 subnormals (no implicit bit) are rare and go through a scalar pass."""
    frac = np.uint64((1 << 52) - 1)
    implicit = np.uint64(1 << 52)
    zero = np.uint64(0)
    sig_or = zero
    be_min = np.uint64(2047)
    be_max = zero
    n_sub = 0
    for i in range(bits.size):
        ab = bits[i] & _ABS
        be = ab >> np.uint64(52)
        normal = (be != zero) & (be != np.uint64(0x7FF))
        sig_or |= ((ab & frac) | implicit) if normal else zero
        be_min = min(be_min, be if normal else np.uint64(2047))
        be_max = max(be_max, be if normal else zero)
        n_sub += (be == zero) & (ab != zero)
    width = 0
    lo_exp = 1 << 30
    hi_exp = -(1 << 30)
    if sig_or != zero:
        tz = 0
        while (sig_or >> np.uint64(tz)) & _ONE == zero:
            tz += 1
        width = 53 - tz
        lo_exp = np.int64(be_min) - 1023
        hi_exp = np.int64(be_max) - 1023
    if n_sub:
        for i in range(bits.size):
            ab = bits[i] & _ABS
            if ab == zero or ab >> np.uint64(52) != zero:
                continue
            top = 63                                     # the significand is ab itself
            while (ab >> np.uint64(top)) == zero:
                top -= 1
            tz = 0
            while (ab >> np.uint64(tz)) & _ONE == zero:
                tz += 1
            width = max(width, top - tz + 1)
            lo_exp = min(lo_exp, top - 1074)
            hi_exp = max(hi_exp, top - 1074)
    if width == 0:
        return 0, 0, 0
    return width, lo_exp, hi_exp
