"""The fused Monte Carlo kernel: draw, accumulate and keep the exact sum in one pass.

A block of W trials runs as W lanes. Per tile of S products: the products are drawn into
a small buffer from the counter-based stream (``randoms.fill_products``), added to a
double-word reference (TwoSum, the error terms summed apart with a bound on their own
rounding), and then to the running sums of every configuration c (accumulator format
and chunk size; one rounding mode per kernel). At each length of ``ns`` the kernel
records every configuration's result, its swamping counts, and the reference with a
certificate that it is the exact sum rounded once to float64; the caller recomputes the
rare uncertified ones exactly. So a sweep over n draws every product once.

The per-configuration step is that of the MAC kernels: the lean bit-trick step (RNE,
RTZ) or the fast one (every other mode, stochastic rounding included, with the streams
of ``fpsim.sum(X, spec, axis=0)``: trial t is output element t), and the general path
for a lane whose result is not a normal number. Chunked sums fold each completed chunk
into the running total; at a length that ends inside a chunk, the open chunk is folded
into a copy. Step indices follow ``sequential.sequential_tile``: the k-th product of a
chunked sum is addition k + k // chunk, the fold of chunk q addition (q + 1)(chunk + 1) - 1.
"""
import math

import numpy as np
from numba import prange

from .bittrick import fast_add, lean_round_bits
from .codes import SR
from .core import as_bits, from_bits, odd_bits, sr_bits, two_sum
from .jit import inline, jit, parallel, variant_factory
from .macstep import add, finite, is_exact_add, scratch_flags, stream
from .randoms import draw_scratch, fill_products, trial_keys

#: Trials per block (lanes) and products per tile.
LANES = 256
TILE_ROWS = 32


@jit
def _general(old, p, fm, c, mode, ri, k, cnt, j, stats):
    """R(old + p) by the general path, counted like the MAC kernels count it (compiled
    once per mode and called: the rare lane needs no inlined copy at every step site)."""
    f = (np.int64(fm[0, c]), np.int64(fm[1, c]), fm[2, c], np.int64(fm[3, c]), fm[4, c] != 0.0)
    res = add(old, p, f, mode, ri, k)
    if stats and p != 0.0 and finite(old, p):
        if not is_exact_add(old, p, res, f):
            if res == old:
                cnt[0, j] += 1
            else:
                cnt[1, j] += 1
        cnt[3, j] += 1
    return res


@inline
def _step(row, p, w, bp, fm, c, idx, srk, k, cnt, flags, mode, lean, stats):
    """row[j] = R(row[j] + p[j]) for the w lanes, addition index idx of each lane's stream:
    the vector step, then the general path for the lanes it flagged."""
    any_bad = False
    for j in range(w):
        old = row[j]
        x = p[j]
        if lean:
            hi, lo = two_sum(old, x)
            rb, bad = lean_round_bits(odd_bits(hi, lo), bp[0], bp[1], bp[2], bp[3], mode)
            res = from_bits(rb)
            exact = (lo == 0.0) & (res == hi)
        else:
            ri = sr_bits(srk[j], idx, k) if mode == SR else np.int64(0)
            res, bad, exact = fast_add(old, x, bp[0], bp[1], bp[2], bp[3], mode, ri, k)
        if stats:
            nz = np.int64(x != 0.0) & (1 - np.int64(bad))
            lost = nz & (1 - np.int64(exact))
            same = np.int64(res == old)
            cnt[0, j] += lost & same
            cnt[1, j] += lost & (1 - same)
            cnt[3, j] += nz             # inexact (row 2) is full + partial: see _record
        flags[j] = bad
        any_bad |= bad
        row[j] = old if bad else res
    if any_bad:
        for j in range(w):
            if flags[j]:
                ri = sr_bits(srk[j], idx, k) if mode == SR else np.int64(0)
                # the mode as a run-time int64, not a literal: one compiled general path
                # serves every variant
                row[j] = _general(row[j], p[j], fm, c, np.int64(mode), ri, k, cnt, j,
                                  np.bool_(stats))


@jit
def _fold(row, p, w, bp, fm, c, idx, srk, k, cnt, flags, mode, lean, stats):
    """``_step`` for the additions of chunk sums (once a chunk, not once a product):
    called, so that the kernel holds one inlined copy of the step, not three."""
    _step(row, p, w, bp, fm, c, idx, srk, k, cnt, flags, mode, lean, stats)


@jit
def _add_to_reference(hi, lo, bnd, buf, rows, w):
    """Add rows of buf to the lanes' double-word reference hi + lo (TwoSum, the errors
    summed in lo), bnd summing |lo| for the certificate (one compiled copy for every
    variant of the kernel)."""
    for r in range(rows):
        p = buf[r]
        for j in range(w):
            h, e = two_sum(hi[j], p[j])
            hi[j] = h
            l2 = lo[j] + e
            lo[j] = l2
            bnd[j] += abs(l2)


@jit
def _record(shat, counts, j0, w, total, cnt):
    """shat[j0 + j] and counts[j0 + j] of the w lanes from the running total and counts.
    The steps keep full (row 0), partial (1) and additions (3); an inexact addition is
    exactly one of full and partial, so row 2 is their sum."""
    for j in range(w):
        shat[j0 + j] = total[j]
        counts[j0 + j, 0] = cnt[0, j]
        counts[j0 + j, 1] = cnt[1, j]
        counts[j0 + j, 2] = cnt[0, j] + cnt[1, j]
        counts[j0 + j, 3] = cnt[3, j]


@jit
def _certify(hi, lo, bound):
    """(r, ok): r = fl(hi + lo); ok when r is certainly the exact sum S rounded to nearest,
    where |S - (hi + lo)| <= bound: the distance of hi + lo from r plus the bound stays
    strictly inside half the float64 spacing on that side of r."""
    r, e = two_sum(hi, lo)
    if r == 0.0 or not math.isfinite(r):
        return r, False
    rb = as_bits(r) & np.uint64(0x7FFFFFFFFFFFFFFF)
    ex = rb >> np.uint64(52)
    if ex <= np.uint64(60):
        return r, False                       # too small for the half-spacing formula
    half = from_bits((ex - np.uint64(53)) << np.uint64(52))      # 2^(E - 53)
    if rb & np.uint64(0xFFFFFFFFFFFFF) == np.uint64(0) and (e < 0.0) != (r < 0.0) and e != 0.0:
        half *= 0.5                           # |r| a power of two, S below it: finer grid
    return r, abs(e) + bound < half


@jit
def _block(b, seed, srseed, t0, T, dist, sh, nzr, ns, chunks, bp, fm, k, zn, fn, ze, fe,
           shat, exact, certified, counts, mode, lean, stats):
    """Trials t0 + b*LANES ... of the block b (see the module doc)."""
    j0 = b * LANES
    w = min(LANES, T - j0)
    C = chunks.shape[0]
    keys = trial_keys(seed, t0 + j0, w)
    srk = np.empty(w, np.uint64)
    for j in range(w):                # trial t is output element t of fpsim.sum(X, axis=0)
        srk[j] = stream(srseed, t0 + j0 + j, 0)
    total = np.zeros((C, w))
    part = np.zeros((C, w))
    cnt = np.zeros((C, 4, w), np.int64)
    hi = np.zeros(w)
    lo = np.zeros(w)
    bnd = np.zeros(w)
    buf = np.empty((TILE_ROWS, w))
    flags = scratch_flags(w)
    scratch = draw_scratch(w)
    tmp = np.empty(w)
    tcnt = np.zeros((4, w), np.int64)
    i = np.int64(0)              # not a literal: fill_products compiles once
    for jn in range(ns.shape[0]):
        stop = ns[jn]
        while i < stop:
            rows = min(TILE_ROWS, stop - i)
            fill_products(buf, rows, i, w, keys, dist, sh, nzr, zn, fn, ze, fe, scratch)
            _add_to_reference(hi, lo, bnd, buf, rows, w)
            for c in range(C):
                chunk = chunks[c]
                bpc = (bp[0, c], bp[1, c], bp[2, c], bp[3, c])
                for r in range(rows):
                    kk = i + r
                    q = kk // chunk if chunk != 0 else 0
                    dest = total[c] if chunk == 0 else part[c]
                    _step(dest, buf[r], w, bpc, fm, c, np.uint64(kk + q), srk, k, cnt[c],
                          flags, mode, lean, stats)
                    if chunk != 0 and (kk + 1) % chunk == 0:
                        _fold(total[c], part[c], w, bpc, fm, c, np.uint64(kk + 1 + q), srk, k,
                              cnt[c], flags, mode, lean, stats)
                        for j in range(w):
                            part[c, j] = 0.0
            i += rows
        for c in range(C):
            chunk = chunks[c]
            if chunk != 0 and stop % chunk != 0:
                # the open chunk folds into a copy: the running state stays as it is
                bpc = (bp[0, c], bp[1, c], bp[2, c], bp[3, c])
                for j in range(w):
                    tmp[j] = total[c, j]
                    for q4 in (0, 1, 3):
                        tcnt[q4, j] = cnt[c, q4, j]
                _fold(tmp, part[c], w, bpc, fm, c, np.uint64(stop + stop // chunk), srk, k,
                      tcnt, flags, mode, lean, stats)
                _record(shat[jn, c], counts[jn, c], j0, w, tmp, tcnt)
            else:
                _record(shat[jn, c], counts[jn, c], j0, w, total[c], cnt[c])
        for j in range(w):
            # |error of lo| <= sum of half-ulps of its partial sums <= 2^-53 sum |lo_i|;
            # twice that covers the rounding of bnd itself
            r, ok = _certify(hi[j], lo[j], bnd[j] * 2.0 ** -52)
            exact[jn, j0 + j] = r
            certified[jn, j0 + j] = ok


@variant_factory
def mc_kernel(mode: int, lean: bool, stats: bool):
    """The fused kernel for one adder rounding ``mode`` (lean: the RNE/RTZ bit-trick step)
    with or without swamping counts, every block of trials in parallel. Arguments (plain
    arrays and numbers): seed, srseed (uint64), t0, T, dist code, sh (uint64: 52 - m_p),
    nzr, ns (sorted int64 lengths), chunks (int64 per configuration, 0: a single sum),
    bp (uint64 (4, C): the step's bit-trick parameters), fm (float64 (5, C): FormatParams
    per configuration), k (sr bits), the ziggurat tables, and the outputs shat (J, C, T),
    exact (J, T), certified (J, T), counts (J, C, T, 4)."""
    MODE, LEAN, STATS = mode, lean, stats

    @parallel
    def run(seed, srseed, t0, T, dist, sh, nzr, ns, chunks, bp, fm, k, zn, fn, ze, fe, shat,
            exact, certified, counts):
        for b in prange((T + LANES - 1) // LANES):
            # np.int64: the parfor types its index int64 but lowers it uint64, and _block
            # would be compiled for both
            _block(np.int64(b), seed, srseed, t0, T, dist, sh, nzr, ns, chunks, bp, fm, k, zn,
                   fn, ze, fe, shat, exact, certified, counts, MODE, LEAN, STATS)

    return run


@parallel
def draw_block(out, seed, t0, dist, sh, nzr, zn, fn, ze, fe):
    """out[i, j] = product i of trial t0 + j (the products ``mc_kernel`` draws)."""
    n, T = out.shape
    for b in prange((T + LANES - 1) // LANES):
        j0 = b * LANES
        w = min(LANES, T - j0)
        keys = trial_keys(seed, t0 + j0, w)
        buf = np.empty((TILE_ROWS, w))
        scratch = draw_scratch(w)
        for i in range(0, n, TILE_ROWS):
            rows = min(TILE_ROWS, n - i)
            fill_products(buf, rows, i, w, keys, dist, sh, nzr, zn, fn, ze, fe, scratch)
            for r in range(rows):
                for j in range(w):
                    out[i + r, j0 + j] = buf[r, j]
