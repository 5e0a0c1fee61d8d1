"""The pairwise order: a balanced tree over [0, K), [lo, hi) split at lo + (hi - lo) // 2,
every internal node rounded into the accumulator, then R(init + tree).

The tree is the same for every column of a tile, so each node is one vectorised pass over
the tile's lanes (explicit post-order stack, no recursion). Tiers: LEAN nodes with the mode
as a constant; products by the bit trick where ``opt.lean_products``; the general path for
flagged lanes and for everything else. Each combination compiles on its own
(``pairwise_kernels``).
"""

import numpy as np
from numba import prange

from .bittrick import lean_add, lean_params, lean_round_bits
from .codes import LEAN, RNE, SR
from .core import as_bits, from_bits, sr_bits
from .jit import FIRST, inline, jit, parallel, variant_factory
from .macstep import TILE, add, count, finite, is_exact_add, product, scratch_flags, stream


@inline
def _lean_products(a, brow, v, flags, width, pp, pmode):
    """v[j] = R_p(a * brow[j]) (exact products, pmode RNE/RTZ a constant); flags the
    lanes whose product leaves the normal range of the product format."""
    any_bad = False
    for jj in range(width):
        pb, bad = lean_round_bits(as_bits(a * brow[jj]), pp[0], pp[1], pp[2], pp[3], pmode)
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
        r, bad = lean_add(x, right[jj], ap, mode)
        flags[jj] = bad
        any_bad |= bad
        left[jj] = x if bad else r
    return any_bad


@jit
def _pairwise_tree(A, B, i, j0, j1, K, init, res, flags, acc, pf, opt, stats, n_cols, lean,
                   lean_mode, lean_leaves, leaf_mode):
    """res[j] = R(init + tree) of the products of tile columns j0..j1-1 of row i. The
    variant (``variant_of``) comes as literals, so a tree compiles one lean node loop and
    one lean leaf loop at most."""
    mode = opt.mode
    pmode = opt.product_mode
    k = opt.sr_bits
    seed = opt.seed
    want_stats = opt.stats
    width = j1 - j0
    rounded = pf[0] >= 0
    obase = i * n_cols + j0
    ap = lean_params(acc)
    pp = lean_params(pf)
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
                if _lean_products(a, brow, v, flags, uw, pp, leaf_mode):
                    for jj in range(width):
                        if flags[jj]:
                            v[jj] = product(a, brow[jj], pf, pmode, 0, k)
            else:
                for jj in range(width):
                    rp = sr_bits(stream(seed, obase + jj, 1), l0, k) if pmode == SR else np.int64(0)
                    v[jj] = product(a, brow[jj], pf, pmode, rp, k)
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
            any_bad = _pairwise_lean_node(left, right, flags, uw, ap, lean_mode)
        if any_bad or not lean:
            for jj in range(width):
                if lean and not flags[jj]:
                    continue
                ri = sr_bits(stream(seed, obase + jj, 0), counter, k) if mode == SR else np.int64(0)
                x = left[jj]
                y = right[jj]
                r = add(x, y, acc, mode, ri, k)
                if want_stats and y != 0.0 and finite(x, y):
                    count(stats, jj, x, r, is_exact_add(x, y, r, acc))
                left[jj] = r
        counter += 1
        vp -= 1
        sp -= 1
    tree = vals[0]
    for jj in range(width):
        ri = sr_bits(stream(seed, obase + jj, 0), counter, k) if mode == SR else np.int64(0)
        t = tree[jj]
        c = init[i, j0 + jj]
        r = add(c, t, acc, mode, ri, k)
        if want_stats and t != 0.0 and finite(c, t):
            count(stats, jj, c, r, is_exact_add(c, t, r, acc))
        res[jj] = r


@jit
def pairwise_tile(A, B, out, i, j0, j1, init, acc, pf, opt, stats, lean, lean_mode,
                  lean_leaves, leaf_mode):
    """out[i, j0:j1] in the pairwise order (stats += counts)."""
    K = A.shape[1]
    N = B.shape[1]
    w = j1 - j0
    s = np.empty(w)
    if K == 0:
        for jj in range(w):
            s[jj] = init[i, j0 + jj]
    else:
        _pairwise_tree(A, B, i, j0, j1, K, init, s, scratch_flags(w), acc, pf, opt, stats, N,
                       lean, lean_mode, lean_leaves, leaf_mode)
    for jj in range(w):
        out[i, j0 + jj] = s[jj]


def variant_of(opt) -> tuple:
    """(lean nodes, their mode, lean leaves, their mode): the nodes are lean in the lean
    tier, the leaves (products rounded by the bit trick) where ``opt.lean_products``, also
    in the fast tier and in a mode of their own; a mode not used is fixed."""
    lean = bool(opt.tier >= LEAN)
    leaves = bool(opt.lean_products)
    return (lean, int(opt.mode) if lean else RNE, leaves, int(opt.product_mode) if leaves else RNE)


@variant_factory
def pairwise_kernels(variant: tuple):
    """(one tile, every tile in parallel) for ``variant`` (``variant_of``), the pattern of
    sequential.sequential_kernels."""
    LEAN_, MODE_, LEAVES_, LEAF_MODE_ = variant

    @jit
    def one_tile(A, B, out, init, acc, pf, opt, stats):
        pairwise_tile(A, B, out, FIRST, FIRST, B.shape[1], init, acc, pf, opt, stats[0], LEAN_,
                      MODE_, LEAVES_, LEAF_MODE_)

    @parallel
    def all_tiles(A, B, out, init, acc, pf, opt, stats):
        M = A.shape[0]
        N = B.shape[1]
        ntj = (N + TILE - 1) // TILE
        for tile in prange(M * ntj):
            j0 = (tile % ntj) * TILE
            pairwise_tile(A, B, out, tile // ntj, j0, min(j0 + TILE, N), init, acc, pf, opt,
                          stats[tile], LEAN_, MODE_, LEAVES_, LEAF_MODE_)

    return one_tile, all_tiles
