"""The typed description of a MAC algorithm that the API hands to the kernels.

Plain named tuples of numbers and arrays (Numba types them as records): the API
(``fpsim.accumulate``) builds them once per call from an ``AccumSpec`` and the operands,
including the execution tier; the kernels read fields by name and decide nothing again.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class FormatParams(NamedTuple):
    """A format as the kernels see it."""

    man_bits: int        # stored mantissa bits m (-1: "no rounding", see EXACT_PRODUCTS)
    emin: int            # exponent of the smallest normal
    xmax: float          # largest finite value
    flavour: int         # codes.IEEE / FN / FNUZ / FINITE
    subnormals: bool


#: The product "format" of fused (exact) products: nothing rounds them.
EXACT_PRODUCTS = FormatParams(-1, 0, 0.0, 0, False)


class MacOptions(NamedTuple):
    """How a MAC call rounds and runs, besides its formats."""

    mode: int                    # the adder's rounding (codes.RNE ...)
    product_mode: int            # the multiplier's rounding
    sr_bits: int                 # k random bits for stochastic rounding
    seed: np.uint64              # of the random streams (docs/semantics.md)
    tier: int                    # codes.GENERAL / FAST / LEAN / DIRECT
    stats: bool                  # count swamping
    lean_products: bool          # products round by the bit trick with a constant mode


class MacPlan(NamedTuple):
    """Everything a MAC kernel needs besides the operands and the chunk levels. The
    kernels take its three fields as three arguments (Numba's parallel kernels accept
    flat records only)."""

    acc: FormatParams            # the accumulator
    product: FormatParams        # the product format, or EXACT_PRODUCTS
    options: MacOptions


class ChunkLevels(NamedTuple):
    """The levels of a (possibly nested) chunked order, outermost first; empty arrays for
    the sequential order. Level d adds, from +0 (from ``init`` for d = 0), the sums of the
    consecutive chunks of ``size[d]`` products of its own chunk, rounding into its format;
    ``fast[d]``: those additions may take the fast path."""

    size: np.ndarray             # int64
    man_bits: np.ndarray         # int64
    emin: np.ndarray             # int64
    xmax: np.ndarray             # float64
    flavour: np.ndarray          # int64
    subnormals: np.ndarray       # bool
    fast: np.ndarray             # bool


def chunk_levels(levels, fast) -> ChunkLevels:
    """ChunkLevels from ((size, FormatParams), ...) and one fast flag per level."""
    def column(values, dtype):
        return np.array(list(values), dtype=dtype).reshape(-1)
    return ChunkLevels(column((s for s, _ in levels), np.int64),
                       column((f.man_bits for _, f in levels), np.int64),
                       column((f.emin for _, f in levels), np.int64),
                       column((f.xmax for _, f in levels), np.float64),
                       column((f.flavour for _, f in levels), np.int64),
                       column((f.subnormals for _, f in levels), np.bool_),
                       column(fast, np.bool_))


class BlockParams(NamedTuple):
    """The block-FMA order's step (kernels/blockfma.py); the term mode and the alignment
    kind are compile-time constants of the kernel variant, not fields."""

    group: int                   # products per step, G
    align_bits: int              # terms are rounded to multiples of 2**(E - align_bits)
    mode: int                    # the rounding of the step's sum into the accumulator


#: The BlockParams of the orders that are not block-FMA.
NO_BLOCK = BlockParams(1, 0, 0)
