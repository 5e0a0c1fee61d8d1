"""The block-FMA order: the running sum c and the next G exact products added in one
fused fixed-point step, as tensor cores do (docs/semantics.md, section 4).

One step, for each output element:

1. E = the largest alignment exponent of the nonzero terms (c: floor(log2|c|); a product:
   floor(log2|a|) + floor(log2|b|), or floor(log2|a*b|) when aligned on the product);
2. every term is rounded (sign-magnitude, the term mode) to an integer multiple of
   2**(E - w): an int64, since a term is below 2**(E + 2) and w + 2 + log2(G + 1) <= 62
   (checked by the API);
3. the integers are added exactly and the sum rounded once into the accumulator
   (core.round_value, the step mode).

Products are float64 products, which the API has proven exact (product_exactness). The
lanes of a tile (TILE output columns of one row) run side by side: the exponent pass and
the term pass over a block are loops over lanes with the block's A value shared. A step
with an infinity or NaN, and an exactly zero sum (whose sign the terms decide), are rare
and redone for their lane by a scalar rescan.

Chunked orders whose innermost order is a BlockFMA run the same odometer as
sequential.py, with a block chain in place of the sequential pass (``blockfma_kernels``).
Each step is one rounding: index t of the element's addition stream under sr.
"""
import math

import numpy as np
from numba import prange

from .bittrick import fast_params, fast_round_bits
from .codes import RAZ, RD, RNA, RNE, RTO, SR
from .core import (as_bits, exponent_of, from_bits, magnitude_mode, round_value, signbit,
                   sr_bits)
from .jit import FIRST, by_literal, inline, jit, parallel, variant_factory
from .macstep import TILE, scratch_flags, stream
from .sequential import _fold

_NONE = np.int64(-(1 << 40))          # the exponent of "no nonzero term yet"
_M52 = np.uint64((1 << 52) - 1)


@inline
def _term(x, base, tmode):
    """(q, lost): the finite x rounded (sign-magnitude, mode tmode) to q * 2**base, q an
    int64; lost: whether bits were dropped."""
    bits = as_bits(x)
    be = np.int64((bits >> np.uint64(52)) & np.uint64(0x7FF))
    sig = np.int64(bits & _M52)
    if be > 0:
        sig |= np.int64(1) << 52
        e = be - 1075
    else:
        e = np.int64(-1074)
    sh = e - base
    neg = x < 0.0
    if sh >= 0:
        q = sig << sh
        lost = False
        rem = np.int64(0)
        half = np.int64(1)
    elif sh > -62:
        r = -sh
        q = sig >> r
        rem = sig & ((np.int64(1) << r) - 1)
        half = np.int64(1) << (r - 1)
        lost = rem != 0
    else:
        # far below the grid: less than half a unit (sig < 2**53 <= 2**(r - 1))
        q = np.int64(0)
        rem = np.int64(1)
        half = np.int64(2)
        lost = sig != 0
    if lost:
        mm = magnitude_mode(tmode, neg)
        if mm == RAZ:
            q += 1
        elif mm == RNE:
            if rem > half or (rem == half and (q & 1) == 1):
                q += 1
        elif mm == RNA:
            if rem >= half:
                q += 1
        elif mm == RTO:
            q |= 1
        # RTZ: truncated
    return (-q if neg else q), lost


@jit
def _rescan(A, B, i, j, k0, k1, c, mode):
    """(special, value) of a step of one lane: special True with the IEEE sum of the
    infinite/NaN terms as value, or False with the signed zero an exactly zero sum takes
    (-0 iff every term is -0; under rd, -0 unless every term is +0)."""
    sp = 0.0
    has = False
    all_neg = True
    all_pos = True
    for kk in range(k0 - 1, k1):
        x = c if kk < k0 else A[i, kk] * B[kk, j]
        if not math.isfinite(x):
            sp = sp + x if has else x
            has = True
        elif x == 0.0:
            if signbit(x):
                all_pos = False
            else:
                all_neg = False
        else:
            all_neg = False
            all_pos = False
    if has:
        return True, sp
    return False, (-0.0 if (all_neg or (mode == RD and not all_pos)) else 0.0)


@inline
def _trunc(x):
    """x truncated toward zero to an integer, for |x| < 2**52, by clearing the fraction
    bits (integer operations and a select: the loops around it vectorise)."""
    bits = as_bits(x)
    ex = np.int64((bits >> np.uint64(52)) & np.uint64(0x7FF)) - 1023
    sh = np.uint64(min(max(52 - ex, np.int64(0)), np.int64(52)))
    r = from_bits(bits & ~((np.uint64(1) << sh) - np.uint64(1)))
    return r if ex >= 0 else 0.0


@jit
def _general_block(A, B, i, j0, jlo, jhi, kb, ke, s, E, S, bad, acc, opt, blk, stats, t, obase,
                   tmode, product_align):
    """One block step (products kb..ke-1) of lanes jlo..jhi-1 by the general path: any term
    mode, either alignment, swamping counts, infinities and NaN."""
    w = blk.align_bits
    mode = blk.mode
    k = opt.sr_bits
    want_stats = opt.stats
    # pass 1: the largest alignment exponent per lane (c first)
    for jj in range(jlo, jhi):
        c = s[jj]
        bad[jj] = not math.isfinite(c)
        E[jj] = exponent_of(abs(c)) if (c != 0.0 and not bad[jj]) else _NONE
    for kk in range(kb, ke):
        a = A[i, kk]
        if a == 0.0:
            for jj in range(jlo, jhi):
                bad[jj] |= not math.isfinite(B[kk, j0 + jj])
            continue
        fa = math.isfinite(a)
        ea = exponent_of(abs(a)) if fa else np.int64(0)
        for jj in range(jlo, jhi):
            b = B[kk, j0 + jj]
            if b != 0.0 and math.isfinite(b) and fa:
                if product_align:
                    ex = exponent_of(abs(a * b))
                else:
                    ex = ea + exponent_of(abs(b))
                if ex > E[jj]:
                    E[jj] = ex
            elif not (fa and math.isfinite(b)):
                bad[jj] = True
    # pass 2: the terms on the grid 2**(E - w), added exactly
    for jj in range(jlo, jhi):
        c = s[jj]
        if c != 0.0 and not bad[jj]:
            S[jj], _ = _term(c, E[jj] - w, tmode)
        else:
            S[jj] = 0
    for kk in range(kb, ke):
        a = A[i, kk]
        if a == 0.0:
            continue
        for jj in range(jlo, jhi):
            p = a * B[kk, j0 + jj]
            if p != 0.0 and not bad[jj]:
                q, lost = _term(p, E[jj] - w, tmode)
                S[jj] += q
                if want_stats:
                    row = stats[np.int64(jj) if stats.shape[0] > 1 else np.int64(0)]
                    row[3] += 1
                    if lost:
                        row[2] += 1
                        if q == 0:
                            row[0] += 1
                        else:
                            row[1] += 1
    # the one rounding into the accumulator
    for jj in range(jlo, jhi):
        if bad[jj] or S[jj] == 0:
            special, v = _rescan(A, B, i, j0 + jj, kb, ke, s[jj], mode)
            if special or S[jj] == 0:
                s[jj] = round_value(v, 0.0, 0, acc[0], acc[1], acc[2], acc[3], acc[4],
                                    False, mode, 0, k)
                continue
        s[jj] = _finish(S[jj], E[jj] - w, acc, opt, mode, obase + jj, t)


@inline
def _finish(tot, base, acc, opt, mode, o, t):
    """R(tot * 2**base) into acc for a nonzero int64 tot (|tot| < 2**62: the float64 pair
    is exact)."""
    k = opt.sr_bits
    ri = sr_bits(stream(opt.seed, o, 0), t, k) if mode == SR else np.int64(0)
    hi = float(tot)
    lo = float(tot - np.int64(hi))
    return round_value(hi, lo, base, acc[0], acc[1], acc[2], acc[3], acc[4], False, mode, ri, k)


def _general_chain(A, B, i, j0, j1, k0, k1, s, E, S, F, bad, fix, scale, acc, opt, blk,
                   stats, tstep, n_cols, tmode, product_align, fast):
    """Every block by the general path (any term mode and alignment, swamping counts)."""
    width = j1 - j0
    obase = np.uint64(i * n_cols + j0)
    t = tstep
    for kb in range(k0, k1, blk.group):
        _general_block(A, B, i, j0, 0, width, kb, min(kb + blk.group, k1), s, E, S, bad, acc,
                       opt, blk, stats, t, obase, tmode, product_align)
        t += 1


def _fast_chain(A, B, i, j0, j1, k0, k1, s, E, S, F, bad, fix, scale, acc, opt, blk, stats,
                tstep, n_cols, tmode, product_align, fast):
    """The fast loop (``block_chain``), lanes it cannot take by the general path."""
    G = blk.group
    w = blk.align_bits
    mode = blk.mode
    k = opt.sr_bits
    width = j1 - j0
    obase = np.uint64(i * n_cols + j0)
    t = tstep
    ash, amask, alo, axmax = fast_params(acc)
    narrow = w <= 28
    for kb in range(k0, k1, G):
        ke = min(kb + G, k1)
        for jj in range(width):
            c = s[jj]
            ec = np.int64((as_bits(c) >> np.uint64(52)) & np.uint64(0x7FF)) - 1023
            bad[jj] = c != 0.0 and (ec < -600 or ec > 600)
            E[jj] = max(ec, np.int64(-700))
        for kk in range(kb, ke):
            ea = np.int64((as_bits(A[i, kk]) >> np.uint64(52)) & np.uint64(0x7FF)) - 1023
            for jj in range(width):
                eb = np.int64((as_bits(B[kk, j0 + jj]) >> np.uint64(52)) & np.uint64(0x7FF))
                E[jj] = max(E[jj], ea + eb - 1023)
        for jj in range(width):
            sc = from_bits(np.uint64(1023 + w - E[jj]) << np.uint64(52))
            scale[jj] = sc
            x = 0.0 if bad[jj] else s[jj] * sc
            F[jj] = _trunc(x)
        if narrow:
            # |term| < 2**(w + 2) <= 2**30: the int32 conversion truncates, and vectorises
            for kk in range(kb, ke):
                a = A[i, kk]
                for jj in range(width):
                    F[jj] += float(np.int32((a * B[kk, j0 + jj]) * scale[jj]))
        else:
            for kk in range(kb, ke):
                a = A[i, kk]
                for jj in range(width):
                    F[jj] += _trunc((a * B[kk, j0 + jj]) * scale[jj])
        for jj in range(width):
            scale[jj] = s[jj]                # c, for the zero-sum fix-up (s is overwritten)
        # the sum F * 2**(E - w) is an exact float64 (|F| < 2**53, E - w >= -760): the bit
        # trick rounds it once; zero sums, results outside the normal range and the
        # general lanes are fixed up below
        any_fix = False
        for jj in range(width):
            v = F[jj] * from_bits(np.uint64(1023 + E[jj] - w) << np.uint64(52))
            ri = sr_bits(stream(opt.seed, obase + jj, 0), t, k) if mode == SR else np.int64(0)
            rb, rbad = fast_round_bits(as_bits(v), ash, amask, alo, axmax, mode, ri, k)
            f = bad[jj] | rbad | (F[jj] == 0.0)
            fix[jj] = f
            any_fix |= f
            if not bad[jj]:
                s[jj] = from_bits(rb)
        if any_fix:
            for jj in range(width):
                if not fix[jj]:
                    continue
                if bad[jj]:
                    _general_block(A, B, i, j0, jj, jj + 1, kb, ke, s, E, S, bad, acc, opt,
                                   blk, stats, t, obase, tmode, product_align)
                elif F[jj] == 0.0:
                    _, v = _rescan(A, B, i, j0 + jj, kb, ke, scale[jj], mode)
                    s[jj] = round_value(v, 0.0, 0, acc[0], acc[1], acc[2], acc[3], acc[4],
                                        False, mode, 0, k)
                else:
                    ri = (sr_bits(stream(opt.seed, obase + jj, 0), t, k) if mode == SR
                          else np.int64(0))
                    s[jj] = round_value(F[jj], 0.0, E[jj] - w, acc[0], acc[1], acc[2],
                                        acc[3], acc[4], False, mode, ri, k)
        t += 1


#: (A, B, i, j0, j1, k0, k1, s, E, S, F, bad, fix, scale, acc, opt, blk, stats, tstep,
#: n_cols, tmode, product_align, fast): s[j] = the chain of block steps over products
#: k0..k1-1 (blocks of blk.group from k0, the last may be shorter), starting from s[j]; E,
#: S, F, bad, fix, scale: lane scratch. The step of block b draws index tstep + b of the
#: element's addition stream (sr).
#:
#: ``fast`` (a literal: ``jit.by_literal`` compiles only the chosen loop; the API sets it
#: for truncated terms aligned on the operands, no counts, finite operands with exponents
#: within +-300): exponents straight from the bits (a zero operand's -1023 never wins, as
#: every nonzero product's sum is at least -600, and E is kept at -700 or above), and
#: each term truncated as int64(p * 2**(w - E)): the scaling by a power of two is exact (or
#: underflows far below 1, which truncates to 0 all the same) and the conversion truncates
#: toward zero. A lane whose c is not a finite value within 2**+-600 takes the general
#: path. The truncated terms are whole numbers below 2**(w + 2), and the API allows this
#: loop only when G + 1 of them add up below 2**53: their float64 sum F is exact, and the
#: loop vectorises. With w <= 28 a term is below 2**30, and converting it to int32 (which
#: truncates) and back does the truncation in two vector instructions.
block_chain = by_literal("block_chain", 22, {False: _general_chain, True: _fast_chain})


@jit
def plain_block_tile(A, B, out, i, j0, j1, init, acc, opt, blk, stats, tmode, product_align,
                     fast):
    """out[i, j0:j1]: a block chain from init."""
    K = A.shape[1]
    w = j1 - j0
    s = np.empty(w)
    E = np.empty(w, np.int64)
    S = np.empty(w, np.int64)
    bad = np.empty(w, np.bool_)
    scale = np.empty(w)
    F = np.empty(w)
    flags = scratch_flags(w)
    for jj in range(w):
        s[jj] = init[i, j0 + jj]
    start = np.int64(0)
    block_chain(A, B, i, j0, j1, start, np.int64(K), s, E, S, F, bad, flags, scale, acc, opt,
                blk, stats, start, B.shape[1], tmode, product_align, fast)
    for jj in range(w):
        out[i, j0 + jj] = s[jj]


@jit
def chunked_block_tile(A, B, out, i, j0, j1, init, levels, acc, opt, blk, stats, tmode,
                       product_align, fast):
    """out[i, j0:j1]: chunked levels around block chains (the odometer of
    sequential.chunked_tile)."""
    K = A.shape[1]
    N = B.shape[1]
    w = j1 - j0
    s = np.empty(w)
    E = np.empty(w, np.int64)
    S = np.empty(w, np.int64)
    bad = np.empty(w, np.bool_)
    scale = np.empty(w)
    F = np.empty(w)
    flags = scratch_flags(w)
    D = levels.size.shape[0]
    obase = np.uint64(i * N + j0)
    G = blk.group
    totals = np.zeros((D, w))
    for jj in range(w):
        totals[0, jj] = init[i, j0 + jj]
    ends = np.empty(D, np.int64)
    parent_end = np.int64(K)
    for d in range(D):
        parent_end = min(levels.size[d], parent_end)
        ends[d] = parent_end
    pos = np.int64(0)
    t = np.int64(0)
    while pos < K:
        k1 = ends[D - 1]
        for jj in range(w):
            s[jj] = 0.0
        block_chain(A, B, i, j0, j1, pos, k1, s, E, S, F, bad, flags, scale, acc, opt, blk,
                    stats, t, N, tmode, product_align, fast)
        t += (k1 - pos + G - 1) // G
        pos = k1
        _fold(totals[D - 1], s, levels, D - 1, w, flags, acc, acc, opt, stats, obase, t)
        t += 1
        d = D - 1
        while d > 0 and pos == ends[d - 1]:
            _fold(totals[d - 1], totals[d], levels, d - 1, w, flags, acc, acc, opt, stats,
                  obase, t)
            t += 1
            for jj in range(w):
                totals[d, jj] = 0.0
            d -= 1
        for dd in range(D):
            if ends[dd] == pos:
                top = np.int64(K) if dd == 0 else ends[dd - 1]
                ends[dd] = min(pos + levels.size[dd], top)
    for jj in range(w):
        out[i, j0 + jj] = totals[0, jj]


@variant_factory
def blockfma_kernels(variant: tuple):
    """(one tile, every tile in parallel) for ``variant`` = (term mode, align on the
    product, fast, chunked): constants captured by the closures, so each variant compiles
    its own loop (the pattern of sequential.sequential_kernels)."""
    TMODE_, PRODUCT_, FAST_, CHUNKED_ = variant

    @jit
    def one_tile(A, B, out, init, levels, acc, opt, blk, stats):
        if CHUNKED_:
            chunked_block_tile(A, B, out, FIRST, FIRST, B.shape[1], init, levels, acc, opt, blk,
                               stats[0], TMODE_, PRODUCT_, FAST_)
        else:
            plain_block_tile(A, B, out, FIRST, FIRST, B.shape[1], init, acc, opt, blk, stats[0],
                             TMODE_, PRODUCT_, FAST_)

    @parallel
    def all_tiles(A, B, out, init, levels, acc, opt, blk, stats):
        M = A.shape[0]
        N = B.shape[1]
        ntj = (N + TILE - 1) // TILE
        for tile in prange(M * ntj):
            i = tile // ntj
            j0 = (tile % ntj) * TILE
            j1 = min(j0 + TILE, N)
            if CHUNKED_:
                chunked_block_tile(A, B, out, i, j0, j1, init, levels, acc, opt, blk,
                                   stats[tile], TMODE_, PRODUCT_, FAST_)
            else:
                plain_block_tile(A, B, out, i, j0, j1, init, acc, opt, blk, stats[tile],
                                 TMODE_, PRODUCT_, FAST_)

    return one_tile, all_tiles
