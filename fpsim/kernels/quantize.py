"""Array kernels: quantize (with a bit-trick fast path), the double-double quantize used
for inputs wider than float64, encode and decode."""
import math

import numpy as np
from numba import prange

from .bittrick import round_add
from .core import (RNE, RNA, RU, RD, RTO, SR, IEEE, FN, FNUZ, as_bits, from_bits,
                   round_value, sr_bits)
from .jit import inline, jit, parallel, variant_factory

_SIGN = np.uint64(0x8000000000000000)
_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
BLOCK = 4096
#: Up to this many elements of a block that pass 1 gives up on are found 64 lanes at a time
#: and rounded one by one (about 90 ns each, 1.3 us per block to find them) instead of by
#: the vectorised pass 2 over the whole block (about 8 us per block), measured on FP8.
SPARSE = 64


@inline
def _fast_bits(b, i, sh, mask, odd_bit, lo_be, xmax_bits, mode, seed, k):
    """(rounded bits, bad) for the float64 with bits b by the bit trick; bad: the result
    would not be a normal number of the format (zero, subnormal, overflow, inf, NaN)."""
    zero = np.uint64(0)
    ab = b & _ABS
    if mode == RTO:
        rb = (ab & ~mask) | (np.uint64((ab & mask) != zero) * odd_bit)
    else:
        ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
        rb = (ab + round_add(ab, (b & _SIGN) != zero, sh, mask, mode, ri, k)) & ~mask
    bad = np.uint64(ab < lo_be) | np.uint64(rb > xmax_bits)
    return rb | (b & _SIGN), bad


@inline
def _fast_consts(m, emin, xmax):
    sh = np.uint64(52 - m) if m < 52 else np.uint64(0)
    mask = (np.uint64(1) << sh) - np.uint64(1)
    lo_be = np.uint64(emin + 1023) << np.uint64(52)   # bits of the smallest target normal
    # the last kept bit, which round-to-odd sets; none with m = 0 (always odd)
    odd_bit = (mask + np.uint64(1)) if m > 0 else np.uint64(0)
    return sh, mask, odd_bit, lo_be, as_bits(xmax)


_FRAC = np.uint64((1 << 52) - 1)
_IMPLICIT = np.uint64(1 << 52)


@inline
def _below_normal_bits(b, i, m, emin, q, c, subn, fnuz, mode, seed, k):
    """(bits, ok) for the float64 with bits b where |b| < 2^emin, branch-free.

    With subnormals: the significand as an integer, sig * 2^(ef - 1075), loses its s
    lowest bits to the quantum q = 2^(emin - m) and is rounded up by the mode's rule on
    those bits (the same rules as round_add, on an integer instead of float64 bits);
    the result is exactly (kept + up) * q. Flushing formats round on the normal grid (the
    bit trick, c) and flush what stays below 2^emin. ok is False where this does not
    hold: sr with more than 63 lost bits, and float64 subnormals under flushing."""
    one = np.uint64(1)
    zero = np.uint64(0)
    ab = b & _ABS
    neg = (b & _SIGN) != zero
    ef = ab >> np.uint64(52)
    sig = (ab & _FRAC) | (_IMPLICIT if ef != zero else zero)
    s = np.int64(emin - m + 1075) - np.int64(max(ef, one))       # >= 53 - m >= 1
    # beyond 63 bits sig >> s is 0 and rem = sig; the clamp below 1 only keeps the shifts
    # defined for the elements of the block this result is not used for
    sc = np.uint64(min(max(s, 1), 63))
    kept = sig >> sc
    rem = sig & ((one << sc) - one)
    half = one << (sc - one)
    ok = True
    if mode == RNE:
        up = (rem > half) | ((rem == half) & ((kept & one) == one))
    elif mode == RNA:
        up = rem >= half
    elif mode == RU:
        up = (rem != zero) & (not neg)
    elif mode == RD:
        up = (rem != zero) & neg
    elif mode == RTO:
        kept = kept | np.uint64(rem != zero)
        up = False
    elif mode == SR:
        # up iff rem / 2^s > r / 2^k
        r = np.uint64(sr_bits(seed, i, k))
        uk = np.uint64(k)
        d = (sc - uk) if sc >= uk else zero
        ceil = (rem >> d) + np.uint64((rem & ((one << d) - one)) != zero)
        up = (r < ceil) if sc >= uk else ((rem << ((uk - sc) if sc < uk else zero)) > r)
        ok = s <= 63
    else:
        up = False
    sub = float(kept + np.uint64(up)) * q
    if subn:
        vb = as_bits(sub)
    else:
        rb, bad = _fast_bits(b, i, c[0], c[1], c[2], c[3], c[4], mode, seed, k)
        vb = rb if (rb & _ABS) >= c[3] else zero
        ok = (ef != zero) | (ab == zero)
    # the sign of x, on zeros too, except that fnuz has only +0
    vb = vb | ((b & _SIGN) if (vb != zero or not fnuz) else zero)
    return vb, ok


@inline
def _pass1_f64(xb, ob, start, stop, c, mode, seed, k):
    """Bit-trick pass over one block into float64 bits ob, keeping the input bits where
    the fast path gives up; returns the number of those."""
    bad = np.uint64(0)
    for i in range(start, stop):
        b = xb[i]
        rb, badi = _fast_bits(b, i, c[0], c[1], c[2], c[3], c[4], mode, seed, k)
        bad += badi
        ob[i] = rb if badi == np.uint64(0) else b
    return bad


@inline
def _pass1_f32(xb, out, start, stop, c, mode, seed, k):
    """The same into float32 carriers (exact where the fast path holds; the rest is
    redone by the caller); returns how many it gave up on."""
    bad = np.uint64(0)
    for i in range(start, stop):
        rb, badi = _fast_bits(xb[i], i, c[0], c[1], c[2], c[3], c[4], mode, seed, k)
        bad += badi
        out[i] = np.float32(from_bits(rb))
    return bad


@inline
def _pass2_mode(src, dst, todo, start, stop, m, emin, q, c, subn, fnuz, mode, seed, k, to_f32):
    """Round the elements below 2^emin of one block (branch-free); todo[i - start] is
    left True for the rest of what pass 1 gave up on (overflow, inf, NaN, and what
    _below_normal_bits cannot do). src holds the input bits where pass 1 gave up."""
    for i in range(start, stop):
        b = src[i]
        ab = b & _ABS
        vb, ok = _below_normal_bits(b, i, m, emin, q, c, subn, fnuz, mode, seed, k)
        if to_f32:
            # src is the input: redo pass 1's test to know where it gave up
            rb, badi = _fast_bits(b, i, c[0], c[1], c[2], c[3], c[4], mode, seed, k)
            below = (ab < c[3]) & ok
            todo[i - start] = (badi != np.uint64(0)) & (not below)
            if below:
                dst[i] = np.float32(from_bits(vb))
        else:
            below = (ab < c[3]) & ok
            todo[i - start] = (ab > c[4]) | ((ab < c[3]) & (not ok))
            dst[i] = vb if below else b


@jit
def _round_given_up(b, i, m, emin, xmax, flav, subn, sat, mode, seed, k, c, q):
    """Element i (input bits b) of a block where pass 1 gave up on only a few: rounded by
    _below_normal_bits below 2^emin where it can, else by the general rounding. Scalar and
    not inlined: it is the rare path of both block functions, called with the mode as a
    run-time value so that one compiled version serves every variant."""
    if (b & _ABS) < c[3]:
        vb, ok = _below_normal_bits(b, i, m, emin, q, c, subn, flav == FNUZ, mode, seed, k)
        if ok:
            return from_bits(vb)
    ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
    return round_value(from_bits(b), 0.0, 0, m, emin, xmax, flav, subn, sat, mode, ri, k)


@jit
def _quantize_block(x, xb, out, ob, start, stop, m, emin, xmax, flav, subn, sat, mode, seed,
                    k, c, q):
    """The float64 kernel's work on x[start:stop] (a plain function: the parallel kernel's
    body stays one call, which keeps Numba's parfor passes, and compile time, small)."""
    rare_mode = np.int64(mode)            # the rare path: one version for every variant
    fast = m < 52
    nbad = _pass1_f64(xb, ob, start, stop, c, mode, seed, k) if fast else np.uint64(1)
    if nbad == np.uint64(0):
        return
    # pass 1 left the input bits exactly where the result is outside [2^emin, xmax]
    if fast and nbad <= SPARSE:
        # a few (an FP8 block of Gaussian data has some subnormals): pass 3 alone
        span = c[4] - c[3]
        for g in range(start, stop, np.uint64(64)):
            h = min(g + np.uint64(64), stop)
            outside = False                # a vectorised test of 64 lanes at a time
            for i in range(g, h):
                outside |= ((ob[i] & _ABS) - c[3]) > span
            if not outside:
                continue
            for i in range(g, h):
                if ((ob[i] & _ABS) - c[3]) > span:
                    out[i] = _round_given_up(ob[i], i, m, emin, xmax, flav, subn, sat, rare_mode,
                                             seed, k, c, q)
        return
    todo = np.ones(stop - start, dtype=np.bool_)
    if fast:
        # many: pass 2, vectorised, for those below 2^emin (subnormals, zeros, flushing)
        _pass2_mode(ob, ob, todo, start, stop, m, emin, q, c, subn, flav == FNUZ, mode, seed,
                    k, False)
    for i in range(start, stop):
        if not todo[i - start]:
            continue
        ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
        xi = from_bits(ob[i]) if fast else x[i]      # the input bits where still to do
        out[i] = round_value(xi, 0.0, 0, m, emin, xmax, flav, subn, sat, mode, ri, k)


@jit
def _quantize_f32_block(x, xb, out, start, stop, m, emin, xmax, flav, subn, sat, mode, seed,
                        k, c, q):
    """The float32 kernel's work on one block."""
    rare_mode = np.int64(mode)            # the rare path: one version for every variant
    nbad = _pass1_f32(xb, out, start, stop, c, mode, seed, k)
    if nbad == np.uint64(0):
        return
    if nbad <= SPARSE:
        # pass 3 alone, as in _quantize_block. Pass 1 gave up where the input is below
        # 2^emin or the rounded value above xmax (then inf or NaN in float32: the
        # format's values just above xmax are float32 values)
        for g in range(start, stop, np.uint64(64)):
            h = min(g + np.uint64(64), stop)
            outside = False
            for i in range(g, h):
                outside |= ((xb[i] & _ABS) < c[3]) | (not abs(out[i]) <= xmax)
            if not outside:
                continue
            for i in range(g, h):
                if (xb[i] & _ABS) < c[3] or not abs(out[i]) <= xmax:
                    out[i] = np.float32(_round_given_up(xb[i], i, m, emin, xmax, flav, subn,
                                                        sat, rare_mode, seed, k, c, q))
        return
    todo = np.ones(stop - start, dtype=np.bool_)
    # passes 2 and 3 as in _quantize_block
    _pass2_mode(xb, out, todo, start, stop, m, emin, q, c, subn, flav == FNUZ, mode, seed, k,
                True)
    for i in range(start, stop):
        if not todo[i - start]:
            continue
        ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
        out[i] = np.float32(round_value(x[i], 0.0, 0, m, emin, xmax, flav, subn, sat, mode,
                                        ri, k))


@variant_factory
def quantize_kernels(mode: int, subnormals: bool):
    """(float64 carriers, float32 carriers): the quantize kernels of one rounding mode, for
    formats with or without subnormals.

    Both are captured constants, so they reach the block functions as literals and each
    variant compiles its own loops only: with the mode at run time, LLVM computes
    every mode's rounding (SplitMix64 included) and selects, about 2.7x slower, and
    compiling all seven modes' loops into one kernel took 26 s. Plain constants only are
    captured, which keeps both kernels cacheable on disk, one entry per mode.

    to_f64(x, out, m, emin, xmax, flav, sat, seed, k): out[i] = x[i] rounded into
    the format; x, out 1-D float64 (out may be x). Pass 1 (vectorised, branch-free)
    rounds each block with the bit trick and keeps the input bits where the result would
    not be a normal number of the format (zero, subnormal, overflow, inf, NaN); pass 2
    (vectorised) rounds those below 2^emin; pass 3 sends what is left (overflow, inf,
    NaN) through the general rounding. A block with at most SPARSE such elements skips
    pass 2: pass 3 takes them all.

    to_f32: the same with float32 carriers: out (float32) gets the rounded values, which
    the caller made sure float32 holds exactly (m <= 23 and the format's range inside
    float32's), so the conversion from float64 is exact. Half the bytes to write."""
    MODE_, SUBN_ = mode, subnormals

    @parallel
    def to_f64(x, out, m, emin, xmax, flav, sat, seed, k):
        n = x.size
        xb = x.view(np.uint64)
        ob = out.view(np.uint64)
        nblocks = (n + BLOCK - 1) // BLOCK
        c = _fast_consts(m, emin, xmax)
        q = math.ldexp(1.0, emin - m)          # the quantum below 2^emin
        for blk in prange(nblocks):
            # unsigned indices: no negative-index wraparound check, so the loops vectorise
            _quantize_block(x, xb, out, ob, np.uint64(blk * BLOCK),
                            np.uint64(min(blk * BLOCK + BLOCK, n)), m, emin, xmax, flav, SUBN_,
                            sat, MODE_, seed, k, c, q)

    @parallel
    def to_f32(x, out, m, emin, xmax, flav, sat, seed, k):
        n = x.size
        xb = x.view(np.uint64)
        nblocks = (n + BLOCK - 1) // BLOCK
        c = _fast_consts(m, emin, xmax)
        q = math.ldexp(1.0, emin - m)
        for blk in prange(nblocks):
            _quantize_f32_block(x, xb, out, np.uint64(blk * BLOCK),
                                np.uint64(min(blk * BLOCK + BLOCK, n)), m, emin, xmax, flav,
                                SUBN_, sat, MODE_, seed, k, c, q)

    return to_f64, to_f32


@parallel
def quantize_dd_kernel(hi, lo, shift, out, m, emin, xmax, flav, subn, sat, mode, seed, k):
    """out[i] = (hi[i] + lo[i]) * 2**shift[i] rounded once: for inputs wider than float64
    (int64 beyond 2**53, long double) split into a float64 pair with |lo| <= ulp(hi)/2,
    halved (shift 1) where the pair would overflow (fpsim._args.split_wide)."""
    for i in prange(hi.size):
        ri = sr_bits(seed, i, k) if mode == SR else np.int64(0)
        out[i] = round_value(hi[i], lo[i], shift[i], m, emin, xmax, flav, subn, sat, mode, ri, k)


@parallel
def encode_kernel(x, codes, e, m, emin, flav, nan_code):
    """Bit pattern of each value (values already in the format; NaN -> nan_code)."""
    top = np.uint64(e + m)
    for i in prange(x.size):
        xi = x[i]
        if xi != xi:
            codes[i] = nan_code
            continue
        b = as_bits(xi)
        s = (b >> np.uint64(63)) << top
        if flav == FNUZ:
            s = np.uint64(0) if xi == 0.0 else s
        ab = b & _ABS
        a = from_bits(ab)
        if a == np.inf:
            codes[i] = s | (((np.uint64(1) << np.uint64(e)) - np.uint64(1)) << np.uint64(m))
        elif a == 0.0:
            codes[i] = s
        else:
            be = np.int64(ab >> np.uint64(52))
            ea = be - 1023 if be > 0 else -1023  # value below float64's normals: subnormal code
            if ea < emin:
                # subnormal: integer multiple of the quantum 2**(emin - m)
                mant = np.uint64(np.int64(math.ldexp(a, m - emin)))
                codes[i] = s | mant
            else:
                mant = (ab >> np.uint64(52 - m)) & ((np.uint64(1) << np.uint64(m)) - np.uint64(1))
                codes[i] = s | (np.uint64(ea - emin + 1) << np.uint64(m)) | mant


@parallel
def decode_kernel(codes, out, e, m, emin, flav, subn):
    """Value of each bit pattern (codes < 2**(1+e+m))."""
    mmask = (np.uint64(1) << np.uint64(m)) - np.uint64(1)
    emask = (np.uint64(1) << np.uint64(e)) - np.uint64(1)
    top = np.uint64(e + m)
    for i in prange(codes.size):
        c = np.uint64(codes[i])
        neg = (c >> top) & np.uint64(1)
        ec = (c >> np.uint64(m)) & emask
        mant = c & mmask
        if flav == IEEE and ec == emask:
            v = np.inf if mant == 0 else np.nan
        elif flav == FN and ec == emask and mant == mmask:
            v = np.nan
        elif flav == FNUZ and neg == 1 and ec == 0 and mant == 0:
            v = np.nan
        elif ec == 0:
            # subnormal codes; a format without subnormals reads them as zero (DAZ)
            v = math.ldexp(float(mant), emin - m) if subn else 0.0
        else:
            v = math.ldexp(float(mant | (mmask + np.uint64(1))), np.int64(ec) - 1 + emin - m)
        out[i] = -v if neg == 1 else v
