"""The exact order: the exact sum of init and every product, rounded once (fixedpoint.py),
one output element per parallel task."""
import math

import numpy as np
from numba import prange

from .codes import RD, SR
from .core import fma, round_value, signbit, sr_bits
from .fixedpoint import add_scaled, new_words, round_words
from .jit import jit, parallel
from .macstep import product, stream


@jit
def exact_dot(A, B, i, j, K, init, acc, pf, opt, o):
    """The exact sum of init and the products of row i and column j, rounded once into
    acc; o is the element's flat index (its random stream)."""
    mode = opt.mode
    k = opt.sr_bits
    words = new_words()
    special = 0.0                 # sum of the infinite/NaN terms, IEEE rules
    has_special = False
    all_neg_zero = True           # IEEE zero signs, added one term after another: an exact
    all_pos_zero = True           # zero is -0 iff every term was -0 (rd: unless all were +0)
    for kk in range(-1, K):
        if kk < 0:
            hi, lo, shift = init, 0.0, 0
        elif pf[0] >= 0:
            rp = (sr_bits(stream(opt.seed, o, 1), kk, k) if opt.product_mode == SR
                  else np.int64(0))
            hi, lo, shift = product(A[i, kk], B[kk, j], pf, opt.product_mode, rp, k), 0.0, 0
        else:
            a = A[i, kk]
            b = B[kk, j]
            if a == 0.0 or b == 0.0 or not (math.isfinite(a) and math.isfinite(b)):
                hi, lo, shift = a * b, 0.0, 0
            else:
                ma, ea = math.frexp(a)            # exact product (hi + lo) * 2**shift
                mb, eb = math.frexp(b)
                hi = ma * mb
                lo = fma(ma, mb, -hi)
                shift = ea + eb
        if not math.isfinite(hi):
            special = special + hi if has_special else hi
            has_special = True
            continue
        if hi == 0.0:
            if signbit(hi):
                all_pos_zero = False
            else:
                all_neg_zero = False
            continue
        all_neg_zero = False
        all_pos_zero = False
        add_scaled(words, hi, shift)
        if lo != 0.0:
            add_scaled(words, lo, shift)
    if has_special:
        return round_value(special, 0.0, 0, acc[0], acc[1], acc[2], acc[3], acc[4], False,
                           mode, 0, k)
    zero = -0.0 if (all_neg_zero or (mode == RD and not all_pos_zero)) else 0.0
    ri = sr_bits(stream(opt.seed, o, 0), 0, k) if mode == SR else np.int64(0)
    return round_words(words, zero, acc, mode, ri, k)


@parallel
def exact_tiles(A, B, out, init, acc, pf, opt):
    """out[i, j] for the exact order, one element per task."""
    M, K = A.shape
    N = B.shape[1]
    for o in prange(M * N):
        i = o // N
        j = o % N
        # np.int64: the loop index is typed int64 but lowered uint64 (one compile, not two)
        out[i, j] = exact_dot(A, B, i, j, K, init[i, j], acc, pf, opt, np.int64(o))
