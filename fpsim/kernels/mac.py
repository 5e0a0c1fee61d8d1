"""Entry point of the multiply-accumulate kernels: C[i, j] = dot(A[i, :], B[:, j]) under one
typed plan (plan.py), dispatched to the family of the order:

  sequential.py  sequential and (nested) chunked      pairwise.py  the pairwise tree
  kahan.py       Kahan's compensated sum              exact.py     exact, rounded once
  blockfma.py    block-FMA steps (and chunked levels around them)

A new order family is a new file with a ``*_tile`` (one tile of independent sums) and a
``*_tiles`` (every tile, in parallel) and one entry in ``run_mac``. A single tile (a dot
product, a matrix-vector product) runs without waking the thread pool.
"""
from .blockfma import blockfma_kernels
from .macstep import TILE, lean_variant
from .plan import NO_BLOCK
from .exact import exact_tiles
from .kahan import kahan_kernels
from .pairwise import pairwise_kernels, variant_of as pairwise_variant
from .sequential import sequential_kernels, variant_of as sequential_variant

SEQUENTIAL, PAIRWISE, KAHAN, EXACT = "sequential", "pairwise", "kahan", "exact"
BLOCKFMA = "blockfma"

__all__ = ["run_mac", "TILE", "SEQUENTIAL", "PAIRWISE", "KAHAN", "EXACT", "BLOCKFMA"]


def run_mac(family, A, B, out, init, levels, plan, stats, block=NO_BLOCK, variant=None):
    """out = A @ B (2-D float64, C-contiguous) in ``family``; stats[tile] += counts (one
    row per tile of TILE columns; unused by the exact family, which counts nothing).
    ``init``: the start value of each sum, a float64 array shaped like ``out``.
    ``block`` (plan.BlockParams) and ``variant`` (term mode, alignment, fast loop,
    chunked: ``accumulate._block``) are the block-FMA family's."""
    acc, pf, opt = plan            # flat records: Numba's parallel kernels take no nesting
    one_tile = A.shape[0] == 1 and B.shape[1] <= TILE
    if family == SEQUENTIAL:
        one, every = sequential_kernels(sequential_variant(acc, pf, opt, levels))
        (one if one_tile else every)(A, B, out, init, levels, acc, pf, opt, stats)
    elif family == PAIRWISE:
        one, every = pairwise_kernels(pairwise_variant(opt))
        (one if one_tile else every)(A, B, out, init, acc, pf, opt, stats)
    elif family == KAHAN:
        one, every = kahan_kernels(lean_variant(pf, opt))
        (one if one_tile else every)(A, B, out, init, acc, pf, opt, stats)
    elif family == BLOCKFMA:
        one, every = blockfma_kernels(variant)
        (one if one_tile else every)(A, B, out, init, levels, acc, opt, block, stats)
    elif family == EXACT:
        exact_tiles(A, B, out, init, acc, pf, opt)
    else:
        raise ValueError(f"unknown MAC family {family!r}")
