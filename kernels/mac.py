"""Multiply-accumulate kernels: C[i, j] = dot(A[i, :], B[:, j]) under one accumulation spec.

Formats travel as plain tuples ``(m, emin, xmax, flav, subn)``; modes as ints (core.py).

Layout for SIMD: the inner loop runs over j, i.e. over *independent* dot products side by
side (a tile of TILE output columns of one row), so that each step k advances TILE
accumulators with the same instruction stream. Tiles run in parallel (prange).

Fast path (chosen per call, ``fast=True``, when every product a*b is exact in float64 and
the accumulator has m <= 50): s' = round(s + p) as
    TwoSum(s, p) -> (hi, lo); hi := round-to-odd of hi + lo at 53 bits; bit-trick rounding.
Rounding to odd first makes the second rounding exact for any target with at least two
bits fewer than float64 (Boldo & Melquiond, IEEE TC 2008). Elements whose result is not a
normal number of the format (zero, subnormal, overflow, inf, NaN), and stochastic
rounding of an inexact float64 sum, are flagged and redone by the general scalar path
(fma_one / add_one), which is exact for any float64 operands.

Lean loop (sequential and chunked, RNE/RTZ, no counts): the modes are compile-time
constants, the bit trick runs on the signed bits, and steps alternate between two
arrays so that a flagged lane is simply recomputed from the untouched source. With
``direct=True`` (RNE, narrow accumulator range and products; proof in
fpsim/accumulate.py ``direct_rne_safe``) TwoSum and round-to-odd are dropped as well.
"""
import math

import numpy as np
from numba import njit, prange

from .core import (FNUZ, RD, RNE, RTZ, SR, as_bits, exponent_of, fma, from_bits,
                   odd_bits, round_value, signbit, splitmix64,
                   sr_bits, two_sum, two_sum_scaled)
from .bittrick import _fast_add, _fast_params, _fast_round_bits
from .elementwise import add_one, fma_one, mul_one

SEQUENTIAL, CHUNKED, PAIRWISE, KAHAN, EXACT = 0, 1, 2, 3, 4
TILE = 256

_SIGN = np.uint64(0x8000000000000000)
_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)

jit = njit(cache=True, nogil=True)
inline = njit(cache=True, nogil=True, inline="always")
par = njit(cache=True, nogil=True, parallel=True)

# ---- random streams for stochastic rounding -------------------------------------------
# Output element o (flat index i*N + j) draws the bits of its t-th rounded addition from
# SplitMix64 stream splitmix64(seed, 2*o), and of the product of step k from stream
# splitmix64(seed, 2*o + 1), index k. So a result never depends on tiling or threads.


@inline
def _stream(seed, o, which):
    return splitmix64(seed, np.uint64(2) * np.uint64(o) + np.uint64(which))


# ---- lean rounding: RNE / RTZ on the signed bits ------------------------------------------
@inline
def _lean_params(f):
    """(sh, mask, lo2, span2): the bit-trick shift and mask of format f, and its normal
    range [2^emin, xmax] as magnitude bits shifted left by one (which drops the sign).
    Not for fnuz formats (callers keep those on the general path)."""
    sh, mask, lo_bits, xmax_bits = _fast_params(f)
    return sh, mask, lo_bits << _ONE, (xmax_bits - lo_bits) << _ONE


@inline
def _lean_round_bits(hb, sh, mask, lo2, span2, mode):
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
def _lean_mac(a, b, old, rounded, pp, ap, mode, pmode, direct):
    """(R(old + R_p(a*b)), bad) for the lean loop; pp, ap: _lean_params of the product
    and accumulator formats. With ``direct`` (RNE, see ``direct_rne_safe`` in
    fpsim/accumulate.py) the float64 sum is rounded as it is; otherwise TwoSum and
    round-to-odd make that second rounding exact."""
    p = a * b
    pbad = False
    if rounded:
        pb, pbad = _lean_round_bits(as_bits(p), pp[0], pp[1], pp[2], pp[3], pmode)
        p = from_bits(pb)
    if direct:
        rb, bad = _lean_round_bits(as_bits(old + p), ap[0], ap[1], ap[2], ap[3], mode)
        return from_bits(rb), bad | pbad
    res, bad = _lean_add(old, p, ap, mode)
    return res, bad | pbad


@inline
def _lean_add(x, y, ap, mode):
    """(R(x + y), bad) for RNE/RTZ (a constant): TwoSum, round-to-odd at 53 bits (which
    makes the second rounding exact), then _lean_round_bits.

    TwoSum's error is NaN with a finite sum only for y = +-DBL_MAX (core.two_sum), which
    the lean steps never meet: y is a value of the accumulator (m <= 50), a product
    rounded into a format of m <= 51, or an exact product below 2**1022 (the ``fast``
    conditions of fpsim.accumulate), and DBL_MAX needs 53 significant bits."""
    hi, lo = two_sum(x, y)
    rb, bad = _lean_round_bits(odd_bits(hi, lo), ap[0], ap[1], ap[2], ap[3], mode)
    return from_bits(rb), bad


# ---- general (scalar) steps ------------------------------------------------------------
@inline
def _product(a, b, pf, pmode, rp, k):
    """Product rounded into the product format pf."""
    return mul_one(a, b, pf[0], pf[1], pf[2], pf[3], pf[4], False, pmode, rp, k)


@inline
def _add(s, p, f, mode, r, k):
    return add_one(s, p, f[0], f[1], f[2], f[3], f[4], False, mode, r, k)


@jit
def _is_exact_add(s, p, res, f):
    """Whether res == s + p exactly (for the swamping counts), by TwoSum. A NaN lo (see
    core.two_sum) means s + p is no float64 (beyond DBL_MAX, or a tie near 2**1024):
    inexact, rightly."""
    hi, lo = two_sum(s, p)
    return lo == 0.0 and hi == res and math.isfinite(hi)


@jit
def _is_exact_fma(a, b, s, res, f):
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
def _finite(x, y):
    return math.isfinite(x) and math.isfinite(y)


@inline
def _count(stats, s, res, exact):
    # full: the addend vanished; partial: it survived but not whole; inexact: any loss.
    # Only additions of two finite numbers with a nonzero addend are counted (callers).
    if not exact:
        stats[2] += 1
        if res == s:
            stats[0] += 1
        else:
            stats[1] += 1
    stats[3] += 1


# ---- sequential and chunked: tiles of independent dot products --------------------------
@inline
def _general_mac(a, b, old, acc, pf, rounded, mode, pmode):
    """R(old + R_p(a*b)) by the general scalar path (deterministic modes)."""
    if rounded:
        return _add(old, _product(a, b, pf, pmode, 0, 52), acc, mode, 0, 52)
    return fma_one(a, b, old, acc[0], acc[1], acc[2], acc[3], acc[4], False, mode, 0, 52)


@inline
def _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, rounded, mode, pmode, direct):
    """Steps k0..k1-1 for a row of independent sums, s[j] = R(s[j] + R_p(A[i,k] B[k,j])),
    with the modes as constants so that LLVM vectorises the step. Each step reads one of
    s, s2 and writes the other; a lane that needs the general path (result not a normal
    number, or inf/NaN) is flagged and redone from the source array, where its old value
    is still intact: no select in the common step.
    flags: scratch of a multiple of 8 lanes, False beyond width."""
    width = j1 - j0
    pp = _lean_params(pf)
    ap = _lean_params(acc)
    if width == 1:
        # one dot product (dot, or a matrix-vector product): a plain scalar chain, its
        # latency is the limit; the rare general step is a predictable branch
        x = s[0]
        for kk in range(k0, k1):
            a = A[i, kk]
            b = B[kk, j0]
            res, bad = _lean_mac(a, b, x, rounded, pp, ap, mode, pmode, direct)
            if bad:
                res = _general_mac(a, b, x, acc, pf, rounded, mode, pmode)
            x = res
        s[0] = x
        return
    for kk in range(k0, k1):
        a = A[i, kk]
        brow = B[kk, j0:j1]
        even = (kk - k0) % 2 == 0
        src = s if even else s2
        dst = s2 if even else s
        any_bad = False
        for jj in range(width):
            # a bad lane's dst is overwritten below, so no select is needed here
            res, bad = _lean_mac(a, brow[jj], src[jj], rounded, pp, ap, mode, pmode, direct)
            flags[jj] = bad
            any_bad |= bad
            dst[jj] = res
        if any_bad:
            # rare: redo the flagged lanes from their untouched source values
            words = flags.view(np.uint64)          # eight lanes per test
            for w8 in range(len(words)):
                if words[w8] == _ZERO:
                    continue
                for jj in range(8 * w8, min(8 * w8 + 8, width)):
                    if not flags[jj]:
                        continue
                    dst[jj] = _general_mac(a, brow[jj], src[jj], acc, pf, rounded, mode, pmode)
    if (k1 - k0) % 2 == 1:
        for jj in range(width):
            s[jj] = s2[jj]


@jit
def _lean_pass(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, mode, pmode, direct):
    """_lean_body with the modes made constants (one vectorised loop per combination)."""
    rounded = pf[0] >= 0
    if direct:                             # RNE sums (and RNE products, if rounded)
        if rounded:
            _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, True, RNE, RNE, True)
        else:
            _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, False, RNE, RNE, True)
    elif rounded:
        if mode == RNE:
            _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, True, RNE, RNE, False)
        else:
            _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, True, RTZ, RTZ, False)
    elif mode == RNE:
        _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, False, RNE, RNE, False)
    else:
        _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, False, RTZ, RTZ, False)


@jit
def _chunk_pass(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, mode, pmode, k, seed,
                fast, direct, want_stats, stats, tstep, n_cols):
    """s[j] = sequential sum over kk in [k0, k1) of A[i, kk] * B[kk, j0 + j] into s[j];
    s2 and flags are scratch of the same length."""
    width = np.uint64(j1 - j0)
    ash, amask, alo, axmax = _fast_params(acc)
    psh, pmask, plo, pxmax = _fast_params(pf)
    rounded_products = pf[0] >= 0
    obase = np.uint64(i * n_cols + j0)            # flat index of output element (i, j0)
    # Modes whose decisions need no random bits and no counting get a lean loop with the
    # modes as constants, which LLVM vectorises; the rest share one general loop.
    if (fast and not want_stats and mode in (RNE, RTZ) and acc[3] != FNUZ
            and (not rounded_products or (pmode == mode and pf[3] != FNUZ))):
        direct = direct and mode == RNE and (not rounded_products or pmode == RNE)
        _lean_pass(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, mode, pmode, direct)
        return
    for kk in range(k0, k1):
        a = A[i, kk]
        brow = B[kk, j0:j1]
        t = tstep + (kk - k0)
        any_bad = False
        if fast:
            for jj in range(width):
                p = a * brow[jj]
                pbad = False
                if rounded_products:
                    # a*b is exact here, so even sr rounds it exactly by the bit trick
                    rp = sr_bits(_stream(seed, obase + jj, 1), kk, k) if pmode == SR else np.int64(0)
                    pb, pbad = _fast_round_bits(as_bits(p), psh, pmask, plo, pxmax, pmode, rp, k)
                    p = from_bits(pb)
                ri = sr_bits(_stream(seed, obase + jj, 0), t, k) if mode == SR else np.int64(0)
                res, bad, exact = _fast_add(s[jj], p, ash, amask, alo, axmax, mode, ri, k)
                bad = bad | pbad
                if want_stats and not bad and p != 0.0:
                    _count(stats, s[jj], res, exact)
                flags[jj] = bad
                any_bad |= bad
                s[jj] = res if not bad else s[jj]
        if any_bad or not fast:
            for jj in range(width):
                if fast and not flags[jj]:
                    continue
                j = np.uint64(j0) + jj
                ri = sr_bits(_stream(seed, obase + jj, 0), t, k) if mode == SR else np.int64(0)
                b = B[kk, j]
                old = s[jj]
                if rounded_products:
                    rp = sr_bits(_stream(seed, obase + jj, 1), kk, k) if pmode == SR else np.int64(0)
                    p = _product(a, b, pf, pmode, rp, k)
                    res = _add(old, p, acc, mode, ri, k)
                    if want_stats and p != 0.0 and _finite(old, p):
                        _count(stats, old, res, _is_exact_add(old, p, res, acc))
                else:
                    res = fma_one(a, b, old, acc[0], acc[1], acc[2], acc[3], acc[4], False, mode,
                                  ri, k)
                    if want_stats and a != 0.0 and b != 0.0 and _finite(a, b) and math.isfinite(old):
                        _count(stats, old, res, _is_exact_fma(a, b, old, res, acc))
                s[jj] = res


@inline
def _kahan_lean_step(a, brow, s, c, flags, width, rounded, pp, ap, mode, pmode):
    """One Kahan step for a row of independent sums, the four roundings by _lean_add;
    a lane with any of them flagged keeps s, c and is flagged for the general path."""
    any_bad = False
    for jj in range(width):
        p = a * brow[jj]
        pbad = False
        if rounded:
            pb, pbad = _lean_round_bits(as_bits(p), pp[0], pp[1], pp[2], pp[3], pmode)
            p = from_bits(pb)
        s0 = s[jj]
        c0 = c[jj]
        y, b1 = _lean_add(p, -c0, ap, mode)
        t, b2 = _lean_add(s0, y, ap, mode)
        d, b3 = _lean_add(t, -s0, ap, mode)
        cn, b4 = _lean_add(d, -y, ap, mode)
        bad = pbad | b1 | b2 | b3 | b4
        flags[jj] = bad
        any_bad |= bad
        s[jj] = s0 if bad else t
        c[jj] = c0 if bad else cn
    return any_bad


@jit
def _kahan_pass(A, B, i, j0, j1, K, s, c, flags, acc, pf, mode, pmode, k, seed, fast,
                want_stats, stats, n_cols):
    """Kahan's compensated sums of a tile of independent dot products, every operation
    rounded into acc: y = R(p - c); t = R(s + y); c = R(R(t - s) - y); s = t.
    The four roundings of a step go through the fast path together; an element with any
    of them flagged redoes its whole step in the general path."""
    width = np.uint64(j1 - j0)
    rounded = pf[0] >= 0
    obase = np.uint64(i * n_cols + j0)
    lean = (fast and not want_stats and mode in (RNE, RTZ) and acc[3] != FNUZ
            and (not rounded or (pmode == mode and pf[3] != FNUZ)))
    pp = _lean_params(pf)
    ap = _lean_params(acc)
    for kk in range(K):
        a = A[i, kk]
        brow = B[kk, j0:j1]
        any_bad = False
        if lean:
            # the modes as constants, so that each variant is one straight vector loop
            if rounded:
                if mode == RNE:
                    any_bad = _kahan_lean_step(a, brow, s, c, flags, width, True, pp, ap, RNE, RNE)
                else:
                    any_bad = _kahan_lean_step(a, brow, s, c, flags, width, True, pp, ap, RTZ, RTZ)
            elif mode == RNE:
                any_bad = _kahan_lean_step(a, brow, s, c, flags, width, False, pp, ap, RNE, RNE)
            else:
                any_bad = _kahan_lean_step(a, brow, s, c, flags, width, False, pp, ap, RTZ, RTZ)
        if lean and not any_bad:
            continue
        for jj in range(width):
            if lean and not flags[jj]:
                continue
            o = obase + jj
            b = B[kk, j0 + jj]
            if rounded:
                rp = sr_bits(_stream(seed, o, 1), kk, k) if pmode == SR else np.int64(0)
                p = _product(a, b, pf, pmode, rp, k)
            else:
                p = a * b                  # exact: the caller checked the operands
            t0 = np.uint64(4 * kk)
            st = _stream(seed, o, 0)
            r1 = sr_bits(st, t0, k) if mode == SR else np.int64(0)
            r2 = sr_bits(st, t0 + _ONE, k) if mode == SR else np.int64(0)
            r3 = sr_bits(st, t0 + np.uint64(2), k) if mode == SR else np.int64(0)
            r4 = sr_bits(st, t0 + np.uint64(3), k) if mode == SR else np.int64(0)
            s0 = s[jj]
            y = _add(p, -c[jj], acc, mode, r1, k)
            t = _add(s0, y, acc, mode, r2, k)
            if want_stats and y != 0.0 and _finite(s0, y):
                _count(stats, s0, t, _is_exact_add(s0, y, t, acc))
            d = _add(t, -s0, acc, mode, r3, k)
            c[jj] = _add(d, -y, acc, mode, r4, k)
            s[jj] = t


@inline
def _lean_products(a, brow, v, flags, width, pp, pmode):
    """v[j] = R_p(a * brow[j]) (exact products, pmode RNE/RTZ a constant); flags the
    lanes whose product leaves the normal range of the product format."""
    any_bad = False
    for jj in range(width):
        pb, bad = _lean_round_bits(as_bits(a * brow[jj]), pp[0], pp[1], pp[2], pp[3], pmode)
        v[jj] = from_bits(pb)
        flags[jj] = bad
        any_bad |= bad
    return any_bad


@inline
def _pairwise_lean_node(left, right, flags, width, ap, mode):
    """left[j] = R(left[j] + right[j]) for a row of independent sums (mode a constant);
    a flagged lane keeps left[j] for the general path."""
    any_bad = False
    for jj in range(width):
        x = left[jj]
        r, bad = _lean_add(x, right[jj], ap, mode)
        flags[jj] = bad
        any_bad |= bad
        left[jj] = x if bad else r
    return any_bad


@jit
def _pairwise_tile(A, B, i, j0, j1, K, init, res, flags, acc, pf, mode, pmode, k, seed, fast,
                   want_stats, stats, n_cols):
    """Pairwise sums of a tile of independent dot products: a balanced tree over [0, K),
    [lo, hi) split at lo + (hi - lo) // 2, every internal node rounded into acc, then
    res = R(init + tree). The tree is the same for every column, so each node is one
    vectorised pass over the tile (explicit post-order stack, no recursion)."""
    width = j1 - j0
    rounded = pf[0] >= 0
    obase = i * n_cols + j0
    lean = fast and not want_stats and mode in (RNE, RTZ) and acc[3] != FNUZ
    lean_leaves = fast and rounded and pmode in (RNE, RTZ) and pf[3] != FNUZ
    ap = _lean_params(acc)
    pp = _lean_params(pf)
    depth = 130
    slo = np.empty(depth, np.int64)
    shi = np.empty(depth, np.int64)
    sst = np.zeros(depth, np.int64)
    vals = np.empty((depth, width))
    sp = 1
    vp = 0
    slo[0] = 0
    shi[0] = K
    counter = 0                            # rounded additions so far, in post-order
    uw = np.uint64(width)
    while sp > 0:
        top = sp - 1
        l0 = slo[top]
        h0 = shi[top]
        if h0 - l0 == 1:                   # leaf: the products of step l0
            a = A[i, l0]
            v = vals[vp]
            brow = B[l0, j0:j1]
            if not rounded:
                for jj in range(uw):
                    v[jj] = a * brow[jj]
            elif lean_leaves:
                # a*b is exact: the bit trick rounds it unless it leaves the normal range
                # of the product format (those lanes are flagged and done below)
                if pmode == RNE:
                    any_bad = _lean_products(a, brow, v, flags, uw, pp, RNE)
                else:
                    any_bad = _lean_products(a, brow, v, flags, uw, pp, RTZ)
                if any_bad:
                    for jj in range(width):
                        if flags[jj]:
                            v[jj] = _product(a, brow[jj], pf, pmode, 0, k)
            else:
                for jj in range(width):
                    rp = sr_bits(_stream(seed, obase + jj, 1), l0, k) if pmode == SR else np.int64(0)
                    v[jj] = _product(a, brow[jj], pf, pmode, rp, k)
            vp += 1
            sp -= 1
            continue
        if sst[top] == 0:
            mid = l0 + (h0 - l0) // 2
            sst[top] = 1
            slo[sp] = mid
            shi[sp] = h0
            sst[sp] = 0
            slo[sp + 1] = l0
            shi[sp + 1] = mid
            sst[sp + 1] = 0
            sp += 2
            continue
        left = vals[vp - 2]
        right = vals[vp - 1]
        any_bad = False
        if lean:
            if mode == RNE:
                any_bad = _pairwise_lean_node(left, right, flags, uw, ap, RNE)
            else:
                any_bad = _pairwise_lean_node(left, right, flags, uw, ap, RTZ)
        if any_bad or not lean:
            for jj in range(width):
                if lean and not flags[jj]:
                    continue
                ri = sr_bits(_stream(seed, obase + jj, 0), counter, k) if mode == SR else np.int64(0)
                x = left[jj]
                y = right[jj]
                r = _add(x, y, acc, mode, ri, k)
                if want_stats and y != 0.0 and _finite(x, y):
                    _count(stats, x, r, _is_exact_add(x, y, r, acc))
                left[jj] = r
        counter += 1
        vp -= 1
        sp -= 1
    tree = vals[0]
    for jj in range(width):
        ri = sr_bits(_stream(seed, obase + jj, 0), counter, k) if mode == SR else np.int64(0)
        t = tree[jj]
        r = _add(init, t, acc, mode, ri, k)
        if want_stats and t != 0.0 and _finite(init, t):
            _count(stats, init, r, _is_exact_add(init, t, r, acc))
        res[jj] = r


@jit
def _chunked_tile(A, B, out, i, j0, j1, init, sequential, chunk, acc, outer, pf, mode, pmode, k,
                  seed, fast, direct, want_stats, st):
    """out[i, j0:j1] in the sequential or chunked order (st += counts)."""
    K = A.shape[1]
    N = B.shape[1]
    w = j1 - j0
    s = np.empty(w)
    s2 = np.empty(w)
    tot = np.empty(w)
    flags = np.zeros((w + 7) // 8 * 8, dtype=np.bool_)   # whole uint64 words
    if sequential:
        for jj in range(w):
            s[jj] = init
        # start and step counter as int64 values, not literal 0s: Numba compiles a callee
        # anew for each literal argument, and this pass is the costliest to compile
        start = np.int64(0)
        _chunk_pass(A, B, i, j0, j1, start, K, s, s2, flags, acc, pf, mode, pmode, k, seed,
                    fast, direct, want_stats, st, start, N)
        for jj in range(w):
            out[i, j0 + jj] = s[jj]
        return
    osh, omask, olo, oxmax = _fast_params(outer)
    # the outer sum of chunked takes the lean fast path on the same terms as the chunks
    outer_fast = (fast and not want_stats and outer[0] <= 50 and (mode == RNE or mode == RTZ))
    for jj in range(w):
        tot[jj] = init
    nchunks = (K + chunk - 1) // chunk
    for c in range(nchunks):
        k0 = c * chunk
        k1 = min(k0 + chunk, K)
        for jj in range(w):
            s[jj] = 0.0
        # addition counter t: chunk c's additions come after c chunks and c outer adds
        _chunk_pass(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, mode, pmode, k, seed,
                    fast, direct, want_stats, st, k0 + c, N)
        t = k1 + c
        any_bad = not outer_fast
        if outer_fast:
            # the outer sum through the fast path too (its operands are float64 values)
            for jj in range(np.uint64(w)):
                old = tot[jj]
                res, bad, ex = _fast_add(old, s[jj], osh, omask, olo, oxmax, mode, 0, 52)
                flags[jj] = bad
                any_bad |= bad
                tot[jj] = old if bad else res
        if not any_bad:
            continue
        for jj in range(w):
            if outer_fast and not flags[jj]:
                continue
            j = j0 + jj
            ri = sr_bits(_stream(seed, i * N + j, 0), t, k) if mode == SR else np.int64(0)
            old = tot[jj]
            res = _add(old, s[jj], outer, mode, ri, k)
            if want_stats and s[jj] != 0.0 and _finite(old, s[jj]):
                _count(st, old, res, _is_exact_add(old, s[jj], res, outer))
            tot[jj] = res
    for jj in range(w):
        out[i, j0 + jj] = tot[jj]


@jit
def _other_tile(A, B, out, i, j0, j1, init, pairwise, acc, pf, mode, pmode, k, seed, fast,
                want_stats, st):
    """out[i, j0:j1] in the pairwise or kahan order (st += counts)."""
    K = A.shape[1]
    N = B.shape[1]
    w = j1 - j0
    s = np.empty(w)
    flags = np.zeros((w + 7) // 8 * 8, dtype=np.bool_)
    if pairwise:
        if K == 0:
            for jj in range(w):
                s[jj] = init
        else:
            _pairwise_tile(A, B, i, j0, j1, K, init, s, flags, acc, pf, mode, pmode, k, seed,
                           fast, want_stats, st, N)
    else:
        c = np.zeros(w)
        for jj in range(w):
            s[jj] = init
        _kahan_pass(A, B, i, j0, j1, K, s, c, flags, acc, pf, mode, pmode, k, seed, fast,
                    want_stats, st, N)
    for jj in range(w):
        out[i, j0 + jj] = s[jj]


# One parallel kernel per family of orders, each a one-call prange body: Numba compiles a
# parallel kernel together with everything it calls, so a single kernel for all orders
# took minutes to compile, and every user paid for the orders they never use.
@par
def _chunked_tiles(A, B, out, init, sequential, chunk, acc, outer, pf, mode, pmode, k, seed,
                   fast, direct, want_stats, stats):
    M = A.shape[0]
    N = B.shape[1]
    ntj = (N + TILE - 1) // TILE
    for tile in prange(M * ntj):
        j0 = (tile % ntj) * TILE
        _chunked_tile(A, B, out, tile // ntj, j0, min(j0 + TILE, N), init, sequential, chunk,
                      acc, outer, pf, mode, pmode, k, seed, fast, direct, want_stats,
                      stats[tile])


@par
def _other_tiles(A, B, out, init, pairwise, acc, pf, mode, pmode, k, seed, fast, want_stats,
                 stats):
    M = A.shape[0]
    N = B.shape[1]
    ntj = (N + TILE - 1) // TILE
    for tile in prange(M * ntj):
        j0 = (tile % ntj) * TILE
        _other_tile(A, B, out, tile // ntj, j0, min(j0 + TILE, N), init, pairwise, acc, pf,
                    mode, pmode, k, seed, fast, want_stats, stats[tile])


def mac_tiles(A, B, out, init, order, chunk, acc, outer, pf, mode, pmode, k, seed, fast,
              direct, want_stats, stats):
    """out[i, j] for the orders that run as tiles of independent dot products: sequential,
    chunked, pairwise, kahan; stats[tile] += counts. (Dispatch only: the kernels are
    _chunked_tiles and _other_tiles.)"""
    one_tile = A.shape[0] == 1 and B.shape[1] <= TILE     # a dot product: no threads to wake
    if order in (SEQUENTIAL, CHUNKED):
        if one_tile:
            _chunked_tile(A, B, out, 0, 0, B.shape[1], init, order == SEQUENTIAL, chunk, acc,
                          outer, pf, mode, pmode, k, seed, fast, direct, want_stats, stats[0])
        else:
            _chunked_tiles(A, B, out, init, order == SEQUENTIAL, chunk, acc, outer, pf, mode,
                           pmode, k, seed, fast, direct, want_stats, stats)
    elif one_tile:
        _other_tile(A, B, out, 0, 0, B.shape[1], init, order == PAIRWISE, acc, pf, mode, pmode,
                    k, seed, fast, want_stats, stats[0])
    else:
        _other_tiles(A, B, out, init, order == PAIRWISE, acc, pf, mode, pmode, k, seed, fast,
                     want_stats, stats)


# ---- exact: one dot product at a time -----------------------------------------------------
@inline
def _prod_value(a, b, pf, pmode, seed, o, kk, k):
    """Leaf of pairwise / addend of kahan: the product, rounded into pf if pf[0] >= 0;
    an exact product that float64 cannot hold is refused by the caller (fast=False)."""
    if pf[0] >= 0:
        rp = sr_bits(_stream(seed, o, 1), kk, k) if pmode == SR else np.int64(0)
        return _product(a, b, pf, pmode, rp, k)
    return a * b


@par
def mac_exact(A, B, out, init, acc, pf, mode, pmode, k, seed):
    """out[i, j] for order exact: the exact sum rounded once, one element per task."""
    M, K = A.shape
    N = B.shape[1]
    for o in prange(M * N):
        i = o // N
        j = o % N
        out[i, j] = _exact_dot(A, B, i, j, K, init, acc, pf, mode, pmode, k, seed, o)


# ---- exact: a Kulisch-style fixed-point accumulator ------------------------------------
# 30-bit digits in int64 words cover every product of float64 values exactly: the lowest
# bit of an exact product is at 2**-2304 or above, the highest below 2**2100. Each addend
# adds less than 2**30 to a word, so words cannot overflow before 2**32 additions.
_DIGIT = 30
_DMASK = (1 << _DIGIT) - 1
_BASE_EXP = -2400
_NDIG = (2100 - _BASE_EXP) // _DIGIT + 4


@inline
def _split_float(x):
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
def _kulisch_add(words, x, shift):
    """Add the float64 x times 2**shift, exactly."""
    sig, e = _split_float(x)
    pos = e + shift - _BASE_EXP
    d = pos // _DIGIT
    r = pos - d * _DIGIT
    u = -sig if sig < 0 else sig                     # < 2**53
    low = (u & ((np.int64(1) << (_DIGIT - r)) - 1)) << r   # < 2**30
    rest = u >> (_DIGIT - r)                         # < 2**(23 + r)
    if sig < 0:
        words[d] -= low
        words[d + 1] -= rest & _DMASK
        words[d + 2] -= rest >> _DIGIT
    else:
        words[d] += low
        words[d + 1] += rest & _DMASK
        words[d + 2] += rest >> _DIGIT


@inline
def _carry(words):
    """Propagate carries: every word but the top one into [0, 2**30)."""
    for d in range(_NDIG - 1):
        c = words[d] >> _DIGIT                       # arithmetic shift: floor division
        words[d] -= c << _DIGIT
        words[d + 1] += c


@jit
def _exact_dot(A, B, i, j, K, init, acc, pf, mode, pmode, k, seed, o):
    """The exact sum of init and all products, rounded once into acc."""
    words = np.zeros(_NDIG, np.int64)
    special = 0.0                 # sum of the infinite/NaN terms, IEEE rules
    has_special = False
    all_neg_zero = True           # IEEE zero signs, added one term after another: an exact
    all_pos_zero = True           # zero is -0 iff every term was -0 (rd: unless all were +0)
    for kk in range(-1, K):
        if kk < 0:
            hi, lo, shift = init, 0.0, 0
        elif pf[0] >= 0:
            hi, lo, shift = _prod_value(A[i, kk], B[kk, j], pf, pmode, seed, o, kk, k), 0.0, 0
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
        _kulisch_add(words, hi, shift)
        if lo != 0.0:
            _kulisch_add(words, lo, shift)
    f = acc
    if has_special:
        return round_value(special, 0.0, 0, f[0], f[1], f[2], f[3], f[4], False, mode, 0, k)
    _carry(words)
    neg = words[_NDIG - 1] < 0
    if neg:
        for d in range(_NDIG):
            words[d] = -words[d]
        _carry(words)
    top = -1
    for d in range(_NDIG - 1, -1, -1):
        if words[d] != 0:
            top = d
            break
    if top < 0:
        z = -0.0 if (all_neg_zero or (mode == RD and not all_pos_zero)) else 0.0
        return round_value(z, 0.0, 0, f[0], f[1], f[2], f[3], f[4], False, mode, 0, k)
    top = max(top, 2)
    # value = (w[top]*2**60 + w[top-1]*2**30 + w[top-2] + below) * 2**(30*(top-2) + BASE)
    v = (words[top] << _DIGIT) + words[top - 1]      # < 2**60: fits an int64
    vh = float(v)                                    # one rounding; the error is exact:
    lo = float(((v - np.int64(vh)) << _DIGIT) + words[top - 2])
    hi, lo = two_sum(vh * 2.0**_DIGIT, lo)
    for d in range(top - 3, -1, -1):
        if words[d] != 0:
            # Something below the last integer unit: every grid point and midpoint the
            # rounding compares with is a multiple of 2**7 units, so "a half unit more"
            # stands in for it exactly.
            lo = lo + 0.5
            break
    if neg:
        hi, lo = -hi, -lo
    ri = sr_bits(_stream(seed, o, 0), 0, k) if mode == SR else np.int64(0)
    return round_value(hi, lo, (top - 2) * _DIGIT + _BASE_EXP, f[0], f[1], f[2], f[3], f[4],
                       False, mode, ri, k)


@njit(cache=True, nogil=True)
def operand_range(x):
    """(largest significand width in bits, smallest and largest exponent) over the finite
    nonzero values of x; (0, 0, 0) when there are none. Decides, once per call, whether
    every product of two operands is exact in float64.

    One vectorised pass over the bits: the smallest number of trailing zeros of the
    normal values' significands is that of their OR, and the exponents reduce by min/max;
    float64 subnormals (no implicit bit) are rare and go through a scalar pass."""
    bits = np.ascontiguousarray(x).reshape(-1).view(np.uint64)
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
