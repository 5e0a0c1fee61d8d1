"""The Kahan order: compensated summation with every operation rounded into the
accumulator, y = R(p - c); t = R(s + y); c = R(R(t - s) - y); s = t, for a tile of
independent dot products. Tiers: LEAN runs the four roundings of a step with the modes as
constants; a lane with any of them flagged, and every lane otherwise, takes the general path.
"""
import numpy as np
from numba import prange

from .bittrick import lean_add, lean_round_bits, lean_params
from .codes import LEAN, RNE, RTZ, SR
from .core import as_bits, from_bits, sr_bits
from .jit import inline, jit, parallel
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


@jit
def _kahan_pass(A, B, i, j0, j1, K, s, c, flags, acc, pf, opt, stats, n_cols):
    """Kahan's compensated sums of a tile of independent dot products, every operation
    rounded into acc: y = R(p - c); t = R(s + y); c = R(R(t - s) - y); s = t.
    The four roundings of a step go through the fast path together; an element with any
    of them flagged redoes its whole step in the general path."""
    mode = opt.mode
    pmode = opt.product_mode
    k = opt.sr_bits
    seed = opt.seed
    want_stats = opt.stats
    width = np.uint64(j1 - j0)
    rounded = pf[0] >= 0
    obase = np.uint64(i * n_cols + j0)
    lean = opt.tier >= LEAN
    pp = lean_params(pf)
    ap = lean_params(acc)
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
                rp = sr_bits(stream(seed, o, 1), kk, k) if pmode == SR else np.int64(0)
                p = product(a, b, pf, pmode, rp, k)
            else:
                p = a * b                  # exact: the caller checked the operands
            t0 = np.uint64(4 * kk)
            st = stream(seed, o, 0)
            r1 = sr_bits(st, t0, k) if mode == SR else np.int64(0)
            r2 = sr_bits(st, t0 + _ONE, k) if mode == SR else np.int64(0)
            r3 = sr_bits(st, t0 + np.uint64(2), k) if mode == SR else np.int64(0)
            r4 = sr_bits(st, t0 + np.uint64(3), k) if mode == SR else np.int64(0)
            s0 = s[jj]
            y = add(p, -c[jj], acc, mode, r1, k)
            t = add(s0, y, acc, mode, r2, k)
            if want_stats and y != 0.0 and finite(s0, y):
                count(stats, jj, s0, t, is_exact_add(s0, y, t, acc))
            d = add(t, -s0, acc, mode, r3, k)
            c[jj] = add(d, -y, acc, mode, r4, k)
            s[jj] = t


@jit
def kahan_tile(A, B, out, i, j0, j1, init, acc, pf, opt, stats):
    """out[i, j0:j1] in the Kahan order (stats += counts)."""
    N = B.shape[1]
    w = j1 - j0
    s = np.empty(w)
    c = np.zeros(w)
    for jj in range(w):
        s[jj] = init[i, j0 + jj]
    _kahan_pass(A, B, i, j0, j1, A.shape[1], s, c, scratch_flags(w), acc, pf, opt, stats, N)
    for jj in range(w):
        out[i, j0 + jj] = s[jj]


@parallel
def kahan_tiles(A, B, out, init, acc, pf, opt, stats):
    """Every tile of out = A @ B in parallel; stats[tile] += its counts."""
    M = A.shape[0]
    N = B.shape[1]
    ntj = (N + TILE - 1) // TILE
    for tile in prange(M * ntj):
        j0 = (tile % ntj) * TILE
        kahan_tile(A, B, out, tile // ntj, j0, min(j0 + TILE, N), init, acc, pf, opt, stats[tile])
