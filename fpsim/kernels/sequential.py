"""The sequential order and the (nested) chunked orders: tiles of independent running sums.

``sequential_pass`` advances a row of sums over products k0..k1-1, s_j = R(s_j + p_kj);
``plain_tile`` runs it once per tile, ``chunked_tile`` inside the order's chunk levels
(``plan.ChunkLevels``). The tier (``plan.MacOptions.tier``, chosen by the API) picks the
loop, at compile time (``sequential_kernels``):

- LEAN / DIRECT: the modes are compile-time constants, so LLVM vectorises the step; steps
  alternate between two arrays, so a flagged lane (a result that is not a normal number
  of the format) is simply recomputed by the general path from the untouched source.
  DIRECT (RNE, proof in fpsim/accumulate.py ``direct_rne_safe``) drops TwoSum and
  round-to-odd as well.
- FAST: TwoSum, round-to-odd at 53 bits, bit trick, with the mode at run time (every mode,
  swamping counts); flagged lanes go to the general path.
- GENERAL: the exact scalar path (fma_one / add_one) for every step.
"""
import math

import numpy as np
from numba import prange

from .bittrick import fast_add, fast_params, fast_round_bits, lean_params
from .codes import DIRECT, FAST, GENERAL, LEAN, SR
from .core import as_bits, from_bits, sr_bits
from .elementwise import fma_one
from .jit import FIRST, by_literal, inline, jit, parallel, variant_factory
from .macstep import (TILE, add, count, finite, general_mac, is_exact_add, is_exact_fma,
                      lean_mac, lean_variant, product, scratch_flags, stream)

_ZERO = np.uint64(0)


@inline
def _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, rounded, mode, pmode, direct):
    """Steps k0..k1-1 for a row of independent sums, s[j] = R(s[j] + R_p(A[i,k] B[k,j])),
    with the modes as constants so that LLVM vectorises the step. Each step reads one of
    s, s2 and writes the other; a lane that needs the general path (result not a normal
    number, or inf/NaN) is flagged and redone from the source array, where its old value
    is still intact: no select in the common step."""
    width = j1 - j0
    pp = lean_params(pf)
    ap = lean_params(acc)
    if width == 1:
        # one dot product (dot, or a matrix-vector product): a plain scalar chain, its
        # latency is the limit; the rare general step is a predictable branch
        x = s[0]
        for kk in range(k0, k1):
            a = A[i, kk]
            b = B[kk, j0]
            res, bad = lean_mac(a, b, x, rounded, pp, ap, mode, pmode, direct)
            if bad:
                res = general_mac(a, b, x, acc, pf, rounded, mode, pmode)
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
            res, bad = lean_mac(a, brow[jj], src[jj], rounded, pp, ap, mode, pmode, direct)
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
                    dst[jj] = general_mac(a, brow[jj], src[jj], acc, pf, rounded, mode, pmode)
    if (k1 - k0) % 2 == 1:
        for jj in range(width):
            s[jj] = s2[jj]


def _lean_pass(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, opt, stats, tstep, n_cols,
               tier, rounded, lean_mode):
    """LEAN and DIRECT: the products, if rounded at all, round in the adder's mode."""
    _lean_body(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, rounded, lean_mode, lean_mode,
               tier == DIRECT)


def _checked_pass(A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, opt, stats, tstep, n_cols,
                  tier, rounded, lean_mode):
    """FAST (the bit trick, flagged lanes by the general path) and GENERAL: every mode,
    stochastic rounding, swamping counts."""
    fast = tier == FAST
    mode = opt.mode
    pmode = opt.product_mode
    k = opt.sr_bits
    seed = opt.seed
    want_stats = opt.stats
    width = np.uint64(j1 - j0)
    ash, amask, alo, axmax = fast_params(acc)
    psh, pmask, plo, pxmax = fast_params(pf)
    rounded_products = pf[0] >= 0
    obase = np.uint64(i * n_cols + j0)            # flat index of output element (i, j0)
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
                    rp = sr_bits(stream(seed, obase + jj, 1), kk, k) if pmode == SR else np.int64(0)
                    pb, pbad = fast_round_bits(as_bits(p), psh, pmask, plo, pxmax, pmode, rp, k)
                    p = from_bits(pb)
                ri = sr_bits(stream(seed, obase + jj, 0), t, k) if mode == SR else np.int64(0)
                res, bad, exact = fast_add(s[jj], p, ash, amask, alo, axmax, mode, ri, k)
                bad = bad | pbad
                if want_stats and not bad and p != 0.0:
                    count(stats, jj, s[jj], res, exact)
                flags[jj] = bad
                any_bad |= bad
                s[jj] = res if not bad else s[jj]
        if any_bad or not fast:
            for jj in range(width):
                if fast and not flags[jj]:
                    continue
                j = np.uint64(j0) + jj
                ri = sr_bits(stream(seed, obase + jj, 0), t, k) if mode == SR else np.int64(0)
                b = B[kk, j]
                old = s[jj]
                if rounded_products:
                    rp = sr_bits(stream(seed, obase + jj, 1), kk, k) if pmode == SR else np.int64(0)
                    p = product(a, b, pf, pmode, rp, k)
                    res = add(old, p, acc, mode, ri, k)
                    if want_stats and p != 0.0 and finite(old, p):
                        count(stats, jj, old, res, is_exact_add(old, p, res, acc))
                else:
                    res = fma_one(a, b, old, acc[0], acc[1], acc[2], acc[3], acc[4], False, mode,
                                  ri, k)
                    if want_stats and a != 0.0 and b != 0.0 and finite(a, b) and math.isfinite(old):
                        count(stats, jj, old, res, is_exact_fma(a, b, old, res, acc))
                s[jj] = res


#: s[j] = R(s[j] + R_p(A[i, kk] B[kk, j0 + j])) for kk in [k0, k1), in order; s2 and flags
#: are scratch of the same length. The t-th rounded addition of this pass draws index
#: tstep + t of its element's addition stream (stochastic rounding). Arguments:
#: (A, B, i, j0, j1, k0, k1, s, s2, flags, acc, pf, opt, stats, tstep, n_cols, tier,
#: rounded, lean_mode); the variant's tier, a literal at every call, selects the loop, so
#: a lean call types and compiles the lean loop alone.
sequential_pass = by_literal("sequential_pass", 16, {GENERAL: _checked_pass,
                                                      FAST: _checked_pass,
                                                      LEAN: _lean_pass, DIRECT: _lean_pass})


@jit
def _fold(total, part, levels, d, width, flags, acc, pf, opt, stats, obase, t):
    """total[j] = R_d(total[j] + part[j]): one addition of chunk level d (format and fast
    flag from ``levels``), index t of the element's addition stream."""
    mode = opt.mode
    k = opt.sr_bits
    f = (levels.man_bits[d], levels.emin[d], levels.xmax[d], levels.flavour[d],
         levels.subnormals[d])
    lane_fast = levels.fast[d]
    any_bad = not lane_fast
    if lane_fast:
        # through the fast path (its operands are float64 values)
        osh, omask, olo, oxmax = fast_params(f)
        for jj in range(np.uint64(width)):
            old = total[jj]
            res, bad, ex = fast_add(old, part[jj], osh, omask, olo, oxmax, mode, 0, 52)
            flags[jj] = bad
            any_bad |= bad
            total[jj] = old if bad else res
    if not any_bad:
        return
    for jj in range(width):
        if lane_fast and not flags[jj]:
            continue
        ri = sr_bits(stream(opt.seed, obase + jj, 0), t, k) if mode == SR else np.int64(0)
        old = total[jj]
        x = part[jj]
        res = add(old, x, f, mode, ri, k)
        if opt.stats and x != 0.0 and finite(old, x):
            count(stats, jj, old, res, is_exact_add(old, x, res, f))
        total[jj] = res


@jit
def plain_tile(A, B, out, i, j0, j1, init, acc, pf, opt, stats, tier, rounded, lean_mode):
    """out[i, j0:j1] in the sequential order, each sum starting from its element of init
    (an array shaped like out); stats += counts."""
    K = A.shape[1]
    w = j1 - j0
    s = np.empty(w)
    s2 = np.empty(w)
    flags = scratch_flags(w)
    for jj in range(w):
        s[jj] = init[i, j0 + jj]
    # start and step counter as int64 values, not literal 0s: Numba compiles a callee anew
    # for each literal argument, and the pass is the costliest function to compile
    start = np.int64(0)
    sequential_pass(A, B, i, j0, j1, start, K, s, s2, flags, acc, pf, opt, stats, start,
                    B.shape[1], tier, rounded, lean_mode)
    for jj in range(w):
        out[i, j0 + jj] = s[jj]


@jit
def chunked_tile(A, B, out, i, j0, j1, init, levels, acc, pf, opt, stats, tier, rounded,
                 lean_mode):
    """out[i, j0:j1] in a (nested) chunked order: ``plain_tile`` with chunk levels.

    The levels run as an odometer: the innermost chunk is summed from +0 by
    ``sequential_pass``, its sum folded into the level above, and every level whose chunk
    ends there folded into its parent in turn. One counter t numbers every rounded addition
    of an output element in execution order (in-chunk and fold additions alike): the
    index of its stochastic-rounding draw."""
    K = A.shape[1]
    N = B.shape[1]
    w = j1 - j0
    s = np.empty(w)
    s2 = np.empty(w)
    flags = scratch_flags(w)
    D = levels.size.shape[0]
    obase = np.uint64(i * N + j0)
    totals = np.zeros((D, w))             # level d's running sum; level 0 starts at init
    for jj in range(w):
        totals[0, jj] = init[i, j0 + jj]
    ends = np.empty(D, np.int64)          # where the current chunk of each level ends
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
        sequential_pass(A, B, i, j0, j1, pos, k1, s, s2, flags, acc, pf, opt, stats, t, N,
                        tier, rounded, lean_mode)
        t += k1 - pos
        pos = k1
        _fold(totals[D - 1], s, levels, D - 1, w, flags, acc, pf, opt, stats, obase, t)
        t += 1
        d = D - 1
        while d > 0 and pos == ends[d - 1]:
            # level d - 1's chunk is complete: its level-d sum goes up one level
            _fold(totals[d - 1], totals[d], levels, d - 1, w, flags, acc, pf, opt, stats, obase, t)
            t += 1
            for jj in range(w):
                totals[d, jj] = 0.0
            d -= 1
        for dd in range(D):               # open the next chunk of every level that ended
            if ends[dd] == pos:
                top = np.int64(K) if dd == 0 else ends[dd - 1]
                ends[dd] = min(pos + levels.size[dd], top)
    for jj in range(w):
        out[i, j0 + jj] = totals[0, jj]


def variant_of(acc, pf, opt, levels) -> tuple:
    """The compile-time variant of a call: (tier, products rounded, lean mode, chunked),
    the middle two from ``macstep.lean_variant``."""
    _, rounded, mode = lean_variant(pf, opt)
    return (int(opt.tier), rounded, mode, bool(levels.size.shape[0] > 0))


@variant_factory
def sequential_kernels(variant: tuple):
    """(one tile, every tile in parallel) specialised for ``variant`` (``variant_of``).

    The closures capture the variant as plain constants: Numba prunes the branch on
    CHUNKED_ before typing, and passes the rest on as literal arguments, which
    ``sequential_pass`` turns into the one loop the variant runs (``jit.by_literal``).
    Capturing plain constants only keeps the closures cacheable on disk, one entry per
    variant (a closure over another compiled function is not: Numba hashes what it
    captures into the cache key)."""
    TIER_, ROUNDED_, MODE_, CHUNKED_ = variant

    @jit
    def one_tile(A, B, out, init, levels, acc, pf, opt, stats):
        if CHUNKED_:
            chunked_tile(A, B, out, FIRST, FIRST, B.shape[1], init, levels, acc, pf, opt, stats[0],
                         TIER_, ROUNDED_, MODE_)
        else:
            plain_tile(A, B, out, FIRST, FIRST, B.shape[1], init, acc, pf, opt, stats[0], TIER_,
                       ROUNDED_, MODE_)

    @parallel
    def all_tiles(A, B, out, init, levels, acc, pf, opt, stats):
        M = A.shape[0]
        N = B.shape[1]
        ntj = (N + TILE - 1) // TILE
        for tile in prange(M * ntj):
            i = tile // ntj
            j0 = (tile % ntj) * TILE
            j1 = min(j0 + TILE, N)
            if CHUNKED_:
                chunked_tile(A, B, out, i, j0, j1, init, levels, acc, pf, opt, stats[tile],
                             TIER_, ROUNDED_, MODE_)
            else:
                plain_tile(A, B, out, i, j0, j1, init, acc, pf, opt, stats[tile], TIER_,
                           ROUNDED_, MODE_)

    return one_tile, all_tiles
