"""The Kahan order: compensated summation with every operation rounded into the
accumulator, y = R(p - c); t = R(s + y); c = R(R(t - s) - y); s = t, for a tile of
independent dot products. Tiers: LEAN runs the four roundings of a step with the modes as
constants (one compiled variant per mode and product rounding, ``kahan_kernels``); a lane
with any of them flagged, and every lane otherwise, takes the general path.
"""

import numpy as np
from numba import prange

from .bittrick import lean_add, lean_round_bits, lean_params
from .codes import SR
from .core import as_bits, from_bits, sr_bits
from .jit import FIRST, by_literal, inline, jit, parallel, variant_factory
from .macstep import TILE, add, count, finite, is_exact_add, product, scratch_flags, stream

_ONE = np.uint64(1)


@inline
def _kahan_lean_step(a, brow, s, c, flags, width, rounded, pp, ap, mode, pmode):
    """One Kahan step for a row of independent sums, the four roundings by lean_add;
    a lane with any of them flagged keeps s, c and is flagged for the general path."""
    any_bad = False
    for jj in range(width):
        p = a * brow[jj]
        pbad = False
        if rounded:
            pb, pbad = lean_round_bits(as_bits(p), pp[0], pp[1], pp[2], pp[3], pmode)
            p = from_bits(pb)
        s0 = s[jj]
        c0 = c[jj]
        y, b1 = lean_add(p, -c0, ap, mode)
        t, b2 = lean_add(s0, y, ap, mode)
        d, b3 = lean_add(t, -s0, ap, mode)
        cn, b4 = lean_add(d, -y, ap, mode)
        bad = pbad | b1 | b2 | b3 | b4
        flags[jj] = bad
        any_bad |= bad
        s[jj] = s0 if bad else t
        c[jj] = c0 if bad else cn
    return any_bad


@inline
def _kahan_general_step(a, b, kk, jj, s, c, acc, pf, opt, stats, o):
    """Lane jj's step kk by the general path (any mode, counts); o: its output element."""
    mode = opt.mode
    pmode = opt.product_mode
    k = opt.sr_bits
    if pf[0] >= 0:
        rp = sr_bits(stream(opt.seed, o, 1), kk, k) if pmode == SR else np.int64(0)
        p = product(a, b, pf, pmode, rp, k)
    else:
        p = a * b                          # exact: the caller checked the operands
    t0 = np.uint64(4 * kk)
    st = stream(opt.seed, o, 0)
    r1 = sr_bits(st, t0, k) if mode == SR else np.int64(0)
    r2 = sr_bits(st, t0 + _ONE, k) if mode == SR else np.int64(0)
    r3 = sr_bits(st, t0 + np.uint64(2), k) if mode == SR else np.int64(0)
    r4 = sr_bits(st, t0 + np.uint64(3), k) if mode == SR else np.int64(0)
    s0 = s[jj]
    y = add(p, -c[jj], acc, mode, r1, k)
    t = add(s0, y, acc, mode, r2, k)
    if opt.stats and y != 0.0 and finite(s0, y):
        count(stats, jj, s0, t, is_exact_add(s0, y, t, acc))
    d = add(t, -s0, acc, mode, r3, k)
    c[jj] = add(d, -y, acc, mode, r4, k)
    s[jj] = t


def _kahan_lean_pass(A, B, i, j0, j1, K, s, c, flags, acc, pf, opt, stats, n_cols, lean,
                     rounded, lean_mode):
    """The lean tier: the four roundings of a step by lean_add with the modes as
    constants, one straight vector loop; a flagged lane redoes its step in general."""
    width = np.uint64(j1 - j0)
    obase = np.uint64(i * n_cols + j0)
    pp = lean_params(pf)
    ap = lean_params(acc)
    for kk in range(K):
        a = A[i, kk]
        if _kahan_lean_step(a, B[kk, j0:j1], s, c, flags, width, rounded, pp, ap, lean_mode,
                            lean_mode):
            for jj in range(width):
                if flags[jj]:
                    _kahan_general_step(a, B[kk, j0 + jj], kk, jj, s, c, acc, pf, opt, stats,
                                        obase + jj)


def _kahan_general_pass(A, B, i, j0, j1, K, s, c, flags, acc, pf, opt, stats, n_cols, lean,
                        rounded, lean_mode):
    """Every step of every lane by the general path."""
    obase = np.uint64(i * n_cols + j0)
    for kk in range(K):
        a = A[i, kk]
        for jj in range(np.uint64(j1 - j0)):
            _kahan_general_step(a, B[kk, j0 + jj], kk, jj, s, c, acc, pf, opt, stats,
                                obase + jj)


#: (A, B, i, j0, j1, K, s, c, flags, acc, pf, opt, stats, n_cols, lean, rounded,
#: lean_mode): Kahan's compensated sums of a tile of independent dot products, every
#: operation rounded into acc: y = R(p - c); t = R(s + y); c = R(R(t - s) - y); s = t.
#: ``lean`` (a literal) chooses the loop (``jit.by_literal``).
kahan_pass = by_literal("kahan_pass", 14, {True: _kahan_lean_pass,
                                           False: _kahan_general_pass})


@jit
def kahan_tile(A, B, out, i, j0, j1, init, acc, pf, opt, stats, lean, rounded, lean_mode):
    """out[i, j0:j1] in the Kahan order (stats += counts)."""
    w = j1 - j0
    s = np.empty(w)
    c = np.zeros(w)
    for jj in range(w):
        s[jj] = init[i, j0 + jj]
    kahan_pass(A, B, i, j0, j1, A.shape[1], s, c, scratch_flags(w), acc, pf, opt, stats,
               B.shape[1], lean, rounded, lean_mode)
    for jj in range(w):
        out[i, j0 + jj] = s[jj]


@variant_factory
def kahan_kernels(variant: tuple):
    """(one tile, every tile in parallel) for ``variant`` = (lean, products rounded, lean
    mode): ``macstep.lean_variant``, the pattern of sequential.sequential_kernels."""
    LEAN_, ROUNDED_, MODE_ = variant

    @jit
    def one_tile(A, B, out, init, acc, pf, opt, stats):
        kahan_tile(A, B, out, FIRST, FIRST, B.shape[1], init, acc, pf, opt, stats[0], LEAN_,
                   ROUNDED_, MODE_)

    @parallel
    def all_tiles(A, B, out, init, acc, pf, opt, stats):
        M = A.shape[0]
        N = B.shape[1]
        ntj = (N + TILE - 1) // TILE
        for tile in prange(M * ntj):
            j0 = (tile % ntj) * TILE
            kahan_tile(A, B, out, tile // ntj, j0, min(j0 + TILE, N), init, acc, pf, opt,
                       stats[tile], LEAN_, ROUNDED_, MODE_)

    return one_tile, all_tiles
