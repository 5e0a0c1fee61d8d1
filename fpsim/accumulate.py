"""Dot products, sums and matrix products with a configurable accumulator.

One :class:`AccumSpec` value fixes the whole algorithm (product rounding, accumulator
format and rounding, order of accumulation); :func:`dot`, :func:`sum` and :func:`matmul`
all take it, so any element of ``matmul`` equals the corresponding ``dot`` bit for bit.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._args import (as_format, float_array, format_params, kernel_input, seed_value,
                    sr_bits_value)
from .formats import Format
from .orders import BlockFMA, Chunked, Exact, Kahan, Order, Pairwise, Sequential, as_order
from .rounding import Rounding, as_rounding
from .kernels.codes import DIRECT, FAST, GENERAL, LEAN, TIER_NAMES
from .kernels.mac import BLOCKFMA, SEQUENTIAL, TILE, run_mac
from .kernels.operands import operand_range
from .kernels.plan import (EXACT_PRODUCTS, NO_BLOCK, BlockParams, MacOptions, MacPlan,
                           chunk_levels)

__all__ = ["AccumSpec", "SwampStats", "dot", "sum", "matmul", "ProductExactness",
           "product_exactness", "best_tier", "mac_plan"]

@dataclass(frozen=True)
class AccumSpec:
    """How a dot product is accumulated.

    Parameters
    ----------
    acc : Format or str
        Accumulator format: every addition is rounded into it.
    product : Format or str, optional
        ``None`` (default): exact, fused products (one rounding per multiply-accumulate,
        FMA style). A format: each product is first rounded into it (multiplier, then
        adder: two roundings per MAC), as APyTypes' accumulator context does.
    rounding : str or Rounding
        Rounding of the adder (``rne`` default; ``rtz`` models truncating hardware).
    product_rounding : str or Rounding, optional
        Rounding of the multiplier; default: the same as ``rounding``.
    order : Order or str
        An order value (:mod:`fpsim.orders`): ``Sequential()`` (default), ``Chunked(size,
        inner=..., outer=...)``, ``Pairwise()``, ``Kahan()``, ``Exact()``; or its name as
        a string, with ``chunk`` and ``outer`` for ``"chunked"``.
    chunk : int, optional
        Chunk length C >= 1 for ``order="chunked"`` (string sugar only).
    outer : Format or str, optional
        Format of the inter-chunk sum for ``order="chunked"`` (string sugar only).
    sr_bits : int, optional
        Random bits k for stochastic rounding (1..52, default 52).

    Examples
    --------
    >>> import fpsim
    >>> fpsim.AccumSpec("fp16", order="chunked", chunk=64)
    AccumSpec(acc=e5m10, product=exact, rounding=rne, order=Chunked(64, outer=e5m10))
    >>> fpsim.AccumSpec("fp16", order=fpsim.Chunked(128, inner=fpsim.Chunked(16)))
    AccumSpec(acc=e5m10, product=exact, rounding=rne, order=Chunked(128, inner=Chunked(16, outer=e5m10), outer=e5m10))
    """

    acc: Format
    product: Format | None = None
    rounding: Rounding = Rounding.RNE
    product_rounding: Rounding | None = None
    order: Order = Sequential()
    sr_bits: int | None = None

    def __init__(self, acc, *, product=None, rounding="rne", product_rounding=None,
                 order="sequential", chunk=None, outer=None, sr_bits=None):
        acc = as_format(acc, "acc")
        product = None if product is None else as_format(product, "product")
        rounding = as_rounding(rounding, "rounding")
        product_rounding = rounding if product_rounding is None else as_rounding(
            product_rounding, "product_rounding")
        order = as_order(order, chunk, outer).resolve(acc)
        if isinstance(order.innermost(), BlockFMA) and product is not None:
            raise ValueError(f"order={order!r} adds exact products (product=None); got "
                             f"product={product.name}")
        sr_bits = sr_bits_value(sr_bits) if sr_bits is not None else None
        for name, value in (("acc", acc), ("product", product), ("rounding", rounding),
                            ("product_rounding", product_rounding), ("order", order),
                            ("sr_bits", sr_bits)):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        parts = [f"acc={self.acc.name}",
                 f"product={self.product.name if self.product else 'exact'}",
                 f"rounding={self.rounding}"]
        if self.product is not None and self.product_rounding != self.rounding:
            parts.append(f"product_rounding={self.product_rounding}")
        parts.append(f"order={self.order!r}")
        if self.sr_bits is not None:
            parts.append(f"sr_bits={self.sr_bits}")
        return f"AccumSpec({', '.join(parts)})"

    @property
    def chunk(self) -> int | None:
        """The chunk length of a chunked order (its outermost level), else ``None``."""
        return self.order.size if isinstance(self.order, Chunked) else None

    @property
    def outer(self) -> Format | None:
        """The format the chunk sums are added in (outermost level), else ``None``."""
        return self.order.outer if isinstance(self.order, Chunked) else None

    @property
    def start_format(self) -> Format:
        """The format the running sum starts in (``outer`` for chunked)."""
        return self.outer if isinstance(self.order, Chunked) else self.acc

    def replace(self, **changes) -> "AccumSpec":
        """This spec with some fields changed (``order`` as a value or a string)."""
        fields = dict(acc=self.acc, product=self.product, rounding=self.rounding,
                      product_rounding=(self.product_rounding if self.product is not None
                                        and self.product_rounding != self.rounding else None),
                      order=self.order, sr_bits=self.sr_bits)
        fields.update(changes)
        return AccumSpec(**fields)


@dataclass(frozen=True)
class SwampStats:
    """Counts over the additions s' = R(s + p) with p != 0 of one call.

    ``full``: the addend vanished (s' == s); ``partial``: it survived but not whole
    (s' != s and s' != s + p exactly); ``inexact`` = full + partial. Ints for a call's
    totals (``stats=True``); int64 arrays shaped like the result with ``stats="elements"``.

    >>> import fpsim
    >>> _, st = fpsim.sum([[64.0, 1.0], [1.0, 1.0]], fpsim.AccumSpec("e5m2"), axis=0,
    ...                   stats="elements")
    >>> st.full.tolist(), st.additions.tolist()
    ([1, 0], [2, 2])
    """

    additions: int
    full: int
    partial: int
    inexact: int

    @property
    def full_fraction(self) -> float:
        return _fraction(self.full, self.additions)

    @property
    def partial_fraction(self) -> float:
        return _fraction(self.partial, self.additions)


def _fraction(count, additions):
    if np.ndim(additions) == 0:
        return count / additions if additions else 0.0
    return np.divide(count, additions, out=np.zeros(np.shape(additions)),
                     where=np.asarray(additions) > 0)


def _as_spec(spec) -> AccumSpec:
    if isinstance(spec, AccumSpec):
        return spec
    if isinstance(spec, (Format, str)):
        return AccumSpec(spec)
    raise TypeError(f"spec must be a fpsim.AccumSpec (or an accumulator Format), got {spec!r}")


def _check_init(init, spec: AccumSpec):
    """init as a float (a number) or a float64 array (anything array-like), each value one
    of the format the sum starts in; fnuz's -0 becomes +0."""
    if isinstance(init, (bool, np.bool_)) or not isinstance(
            init, (int, float, np.integer, np.floating, np.ndarray, list, tuple)):
        raise TypeError(f"init must be a real number or an array of them, got {init!r:.60}")
    if isinstance(init, (np.ndarray, list, tuple)):
        return _check_init_array(init, spec)
    value = float(init)
    fmt = spec.start_format
    if fmt.flavour == "finite" and value != value:
        raise ValueError(f"init is NaN, which {fmt.name} cannot represent")
    if not (value != value) and not fmt.contains(value):
        if not (value == 0.0 and fmt.flavour == "fnuz"):
            raise ValueError(f"init must be a value of the accumulator format {fmt.name}, got "
                             f"{value!r}; round it first with fpsim.quantize")
    if value == 0.0 and fmt.flavour == "fnuz":
        value = 0.0                      # fnuz has one zero: -0 starts the sum as +0
    return value


def _check_init_array(init, spec: AccumSpec) -> np.ndarray:
    arr = np.asarray(init)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"init must be a real number or an array of real numbers, got an "
                        f"array of dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    fmt = spec.start_format
    # each distinct value once (by bits: -0 and the NaNs are values of their own)
    uniq, first = np.unique(arr.reshape(-1).view(np.uint64), return_index=True)
    for bits, at in zip(uniq.view(np.float64), first):
        v = float(bits)
        ok = fmt.contains(v) or (v == 0.0 and fmt.flavour == "fnuz")
        if not ok or (v != v and fmt.flavour == "finite"):
            where = np.unravel_index(at, arr.shape) if arr.ndim else ()
            raise ValueError(f"init must hold values of the accumulator format {fmt.name} "
                             f"(each element), got {v!r} at index {tuple(map(int, where))}; "
                             f"round it first with fpsim.quantize")
    if fmt.flavour == "fnuz":
        arr = np.where(arr == 0.0, 0.0, arr)
    return arr


def _init_blocks(init, shape, full, name="init"):
    """init (a float, or an array broadcastable to the result ``shape``) as a float64 array
    of shape ``full`` (the result with the axes a 1-D operand drops put back)."""
    if not isinstance(init, np.ndarray):
        return None
    try:
        c = np.broadcast_to(init, shape)
    except ValueError:
        raise ValueError(f"{name} must broadcast to the shape of the result {shape} (BLAS's "
                         f"D = A·B + C), got shape {init.shape}") from None
    return c.reshape(full)


class ProductExactness(NamedTuple):
    """What :func:`product_exactness` finds about the products a*b of two operand arrays.

    ``exact``: whether float64 holds every product exactly (then a multiply-accumulate
    may take the float64 product as the exact one). ``width``: an upper bound on the
    significand width of those products in bits (0 when an operand has no finite nonzero
    value).

    It has no truth value (``bool()`` raises TypeError): test ``.exact``, since a pair is
    always true.
    """

    exact: bool
    width: int

    def __bool__(self):
        raise TypeError("ProductExactness has no truth value; test its .exact field")


def _operand_range(x) -> tuple:
    """operands.operand_range of the values of x (any shape)."""
    return operand_range(np.ascontiguousarray(x, dtype=np.float64).reshape(-1).view(np.uint64))


def product_exactness(A, B) -> ProductExactness:
    """Whether every product of a value of ``A`` and a value of ``B`` is exact in float64,
    and a bound on the products' significand width, from the operands' significand widths
    and exponents (one pass over each array; any pairing of the values is covered).

    Exact means: the significands multiply within 53 bits (or one operand's are all
    powers of two) and the product stays a normal float64 (exponent sum within -1020..1020).

    >>> import numpy as np
    >>> product_exactness(np.array([1.5, -3.0]), np.array([0.25, 5.0]))
    ProductExactness(exact=True, width=5)
    >>> product_exactness(np.array([0.1]), np.array([0.3])).exact
    False
    """
    wa, lo_a, hi_a = _operand_range(A)
    wb, lo_b, hi_b = _operand_range(B)
    if wa == 0 or wb == 0:
        return ProductExactness(True, 0)
    # significands multiply exactly within 53 bits (a power of two times anything is
    # exact); the product stays a normal float64
    exact = ((wa + wb <= 53 or min(wa, wb) == 1)
             and lo_a + lo_b >= -1020 and hi_a + hi_b <= 1020)
    return ProductExactness(bool(exact), int(max(wa, wb) if min(wa, wb) == 1 else wa + wb))


def direct_rne_safe(acc: Format, product_width: int) -> bool:
    """Whether RNE(s + p) may be computed as RNE(fl64(s + p)) without TwoSum, for s a
    value of ``acc`` and p a float64 of at most ``product_width`` significant bits.

    Double rounding can only go wrong when x = s + p is not a float64 and fl64(x) lands
    on a rounding decision point of ``acc`` (a midpoint, for RNE) other than x. Results
    that overflow or fall below the normal range take the general path anyway, so let
    |x| < 2^(emax+1). Write m = acc.man_bits, w = product_width.

    1. x inexact in float64 means its lowest set bit lies below 2^(top(x) - 52), top(x)
       <= emax. s has no bits below 2^(emin - m); if emax - emin + m <= 52 those are all
       within float64's window, so the low bit is p's: |p| < 2^(top(x) - 53 + w).
    2. Then |fl64(x) - s| < 2^(top(x) - 52 + w), while the midpoints of acc nearest s are
       at least 2^(top(x) - m - 3) away (s is within a binade of x; the ulp below a power
       of two is half). With w + m <= 49 fl64(x) cannot be a midpoint.

    Binary16 accumulators qualify (15 + 14 + 10 = 39) with binary16 operands' exact
    products (w = 22) or rounded ones (w = 11); bfloat16 and binary32 do not: with
    s = 2^-100 and p = 1 + 2^-8, fl64(x) = p is a bfloat16 midpoint but x is above it.
    """
    return (acc.emax - acc.emin + acc.man_bits <= 52
            and product_width + acc.man_bits <= 49)


_LEAN_MODES = (Rounding.RNE, Rounding.RTZ)


def _family(order: Order) -> str:
    if isinstance(order.innermost(), BlockFMA):
        return BLOCKFMA
    return SEQUENTIAL if isinstance(order, (Sequential, Chunked)) else order.name


def _block(spec: AccumSpec, A, B, stats) -> tuple:
    """(BlockParams, kernel variant) of a block-FMA spec; (NO_BLOCK, None) otherwise. The
    variant is (term mode, aligned on the product, fast loop, chunked levels around the
    blocks); its fast loop (kernels/blockfma.py) needs truncated terms aligned on the
    operands, no counts, G + 1 terms summing below 2**53, and finite operands whose
    nonzero values lie within 2**+-300."""
    blk = spec.order.innermost()
    if not isinstance(blk, BlockFMA):
        return NO_BLOCK, None
    mode = spec.rounding if blk.rounding is None else blk.rounding
    fast = (blk.term_rounding == Rounding.RTZ and blk.align_exponent == "operands"
            and not stats and blk.align_bits + 3 + (blk.group + 1).bit_length() <= 53)
    if fast:
        for x in (A, B):
            _, lo, hi = _operand_range(x)
            fast = fast and -300 <= lo and hi <= 300 and bool(np.isfinite(x).all())
    return (BlockParams(blk.group, blk.align_bits, int(mode)),
            (int(blk.term_rounding), blk.align_exponent == "product", bool(fast),
             spec.order is not blk))


def best_tier(spec: AccumSpec, exactness: ProductExactness, stats: bool) -> int:
    """The fastest execution tier (``kernels.codes``: GENERAL < FAST < LEAN < DIRECT) that
    is exact for ``spec`` on operands with ``exactness``; every slower tier gives the same
    bits (the tests run each one)."""
    if isinstance(spec.order.innermost(), (Exact, BlockFMA)):
        return GENERAL
    if not (exactness.exact and spec.acc.man_bits <= 50
            and (spec.product is None or spec.product.man_bits <= 51)):
        return GENERAL
    if stats or spec.rounding not in _LEAN_MODES or spec.acc.flavour == "fnuz":
        return FAST
    pairwise = isinstance(spec.order, Pairwise)
    if spec.product is not None and not pairwise and (
            spec.product_rounding != spec.rounding or spec.product.flavour == "fnuz"):
        return FAST
    if pairwise or isinstance(spec.order, Kahan):
        return LEAN
    # RNE needs no TwoSum when double rounding is proven harmless; init is a value of the
    # format the sum starts in (checked), chunks start at 0
    width = spec.product.man_bits + 1 if spec.product is not None else exactness.width
    if spec.rounding == Rounding.RNE and direct_rne_safe(spec.acc, width):
        return DIRECT
    return LEAN


def _tier_value(tier, best: int) -> int:
    if tier is None:
        return best
    if not isinstance(tier, str) or tier.lower() not in TIER_NAMES:
        raise ValueError(f"tier must be None or one of {list(TIER_NAMES)}, got {tier!r}")
    code = TIER_NAMES.index(tier.lower())
    if code > best:
        raise ValueError(f"tier={tier!r} is not exact for this call; the fastest exact tier "
                         f"is {TIER_NAMES[best]!r}")
    return code


def mac_plan(spec: AccumSpec, exactness: ProductExactness, *, stats: bool, seed: int,
             tier=None) -> tuple:
    """(family, ChunkLevels, MacPlan) of ``spec`` for a call: the one place where the
    kernels' algorithm and tier are decided."""
    tier = _tier_value(tier, best_tier(spec, exactness, stats))
    rounded = spec.product is not None
    lean_products = (rounded and tier >= FAST and spec.product_rounding in _LEAN_MODES
                     and spec.product.flavour != "fnuz")
    plan = MacPlan(format_params(spec.acc),
                   format_params(spec.product) if rounded else EXACT_PRODUCTS,
                   MacOptions(int(spec.rounding), int(spec.product_rounding),
                              sr_bits_value(spec.sr_bits), np.uint64(seed), tier, bool(stats),
                              bool(lean_products)))
    levels = spec.order.levels()
    # the chunk sums take the fast path on the same terms as the lean chunks
    fold_fast = [tier >= LEAN and f.man_bits <= 50 for _, f in levels]
    return (_family(spec.order),
            chunk_levels([(size, format_params(f)) for size, f in levels], fold_fast), plan)


def _mac2d(A, B, spec: AccumSpec, init, stats, seed: int, tier=None) -> tuple:
    """C = A @ B (2-D, float64, contiguous) under spec, each sum from its element of init
    (a float or an (M, N) array); returns (C, counts): counts[4] in total, or
    counts[M, N, 4] per element with stats="elements"."""
    M = A.shape[0]
    N = B.shape[1]
    out = np.empty((M, N))
    init = kernel_input(np.broadcast_to(np.float64(init), (M, N)))
    exactness = product_exactness(A, B)
    blockfma = isinstance(spec.order.innermost(), BlockFMA)
    if (blockfma or isinstance(spec.order, (Pairwise, Kahan))) and spec.product is None \
            and not exactness.exact:
        raise ValueError(
            f"order={spec.order if blockfma else spec.order.name!r} with exact products "
            "needs operands whose products "
            "float64 holds exactly (significand widths adding up to at most 53 bits, no "
            "underflow)" + ("" if blockfma else
                            "; pass product=<a format> to round the products first"))
    family, levels, plan = mac_plan(spec, exactness, stats=bool(stats), seed=seed, tier=tier)
    ntj = (N + TILE - 1) // TILE
    lanes = TILE if stats == "elements" else 1
    counts = np.zeros((builtins.max(M * ntj, 1), lanes, 4), np.int64)
    block, variant = _block(spec, A, B, stats)
    run_mac(family, A, B, out, init, levels, plan, counts, block, variant)
    if stats == "elements":
        return out, counts[:M * ntj].reshape(M, ntj * TILE, 4)[:, :N]
    return out, counts.sum(axis=(0, 1))


def _stats(total) -> SwampStats:
    """SwampStats of counts [..., 4] (full, partial, inexact, additions): ints for totals,
    int64 arrays of the result's shape per element."""
    if total.ndim == 1:
        full, partial, inexact, additions = (int(v) for v in total)
    else:
        full, partial, inexact, additions = (np.ascontiguousarray(total[..., c]) for c in range(4))
    return SwampStats(additions=additions, full=full, partial=partial, inexact=inexact)


def _stats_value(stats):
    if stats is True or stats is False or stats == "elements":
        return stats
    if isinstance(stats, (bool, np.bool_)):
        return bool(stats)
    raise ValueError(f"stats must be False, True (totals) or 'elements' (per result "
                     f"element), got {stats!r}")


def _operand(x, name):
    arr = float_array(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    return arr


def matmul(A, B, spec, *, init=0.0, stats=False, seed=None, tier=None):
    """Matrix product under ``spec`` with NumPy's ``matmul`` shape rules (1-D operands are
    promoted and the added axis removed; leading batch axes broadcast).

    Element [..., i, j] equals ``dot(A[..., i, :], B[..., :, j], spec)`` bit for bit,
    whatever the blocking. Operands are used as given (carriers already in their formats).
    For ``sr``, output element o of batch b draws from SplitMix64 streams derived from
    ``seed``; docs/semantics.md ("Random streams") says which draw each rounding uses.

    ``init`` is the start value of every sum (BLAS's D = A·B + C): a number, or an array
    broadcastable to the result; each value must be one of the format the sum starts in
    (``spec.start_format``), else ValueError.

    Returns the product, and a :class:`SwampStats` with ``stats=True`` (totals) or
    ``stats="elements"`` (int64 arrays shaped like the product, one count per element).
    ``tier`` forces a
    slower execution tier of the kernels (``"general"``, ``"fast"``, ``"lean"``,
    ``"direct"``; default: the fastest exact one) for testing and benchmarking: the bits
    are the same by design, and a tier that is not exact for the call is refused.

    >>> import numpy as np, fpsim
    >>> spec = fpsim.AccumSpec("e5m2", order="sequential")
    >>> A = np.ones((1, 8)); B = np.ones((8, 2)); B[0, 0] = 64.0
    >>> fpsim.matmul(A, B, spec).tolist()     # 64 + 1 + ... : each 1 is swamped
    [[64.0, 8.0]]
    >>> fpsim.matmul(A, B, spec, init=[[0.0, -8.0]]).tolist()
    [[64.0, 0.0]]
    """
    spec = _as_spec(spec)
    init = _check_init(init, spec)
    stats = _stats_value(stats)
    stochastic = Rounding.SR in (spec.rounding, spec.product_rounding if spec.product else None)
    seed = seed_value(seed, Rounding.SR if stochastic else spec.rounding)
    A = _operand(A, "A")
    B = _operand(B, "B")
    a2 = A[None, :] if A.ndim == 1 else A
    b2 = B[:, None] if B.ndim == 1 else B
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: A has shape {A.shape}, B has shape "
                         f"{B.shape} (need A.shape[-1] == B.shape[-2])")
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions do not broadcast: A {A.shape}, B {B.shape}") from None
    nbatch = int(np.prod(batch, dtype=np.int64))
    full = batch + (a2.shape[-2], b2.shape[-1])
    # the result's shape: the axes of 1-D operands removed, as NumPy does
    shape = tuple(s for ax, s in enumerate(full)
                  if not (A.ndim == 1 and ax == len(full) - 2)
                  and not (B.ndim == 1 and ax == len(full) - 1))
    inits = _init_blocks(init, shape, full)
    if inits is not None:
        inits = inits.reshape((nbatch,) + full[-2:])
    a3 = np.broadcast_to(a2, batch + a2.shape[-2:]).reshape((nbatch,) + a2.shape[-2:])
    b3 = np.broadcast_to(b2, batch + b2.shape[-2:]).reshape((nbatch,) + b2.shape[-2:])
    outs = []
    counts = []
    for bi in range(a3.shape[0]):
        # batch b > 0 uses its own seed so that no two outputs share a random stream
        bseed = seed if bi == 0 else int(np.random.SeedSequence([seed, bi]).generate_state(1, np.uint64)[0])
        c, cnt = _mac2d(kernel_input(a3[bi]), kernel_input(b3[bi]), spec,
                        init if inits is None else inits[bi], stats, bseed, tier)
        outs.append(c)
        counts.append(cnt)
    C = np.stack(outs).reshape(batch + (a2.shape[-2], b2.shape[-1]))
    if stats == "elements":
        total = np.stack(counts).reshape(C.shape + (4,))
    else:
        total = np.sum(counts, axis=0) if counts else np.zeros(4, np.int64)
    if A.ndim == 1:
        C = C[..., 0, :]
        total = total[..., 0, :, :] if stats == "elements" else total
    if B.ndim == 1:
        C = C[..., 0]
        total = total[..., 0, :] if stats == "elements" else total
    if C.ndim == 0:
        C = C[()]
    return (C, _stats(total)) if stats else C


def dot(a, b, spec, *, init=0.0, stats=False, seed=None, tier=None):
    """Dot product of two 1-D arrays under ``spec``: a chain of multiply-accumulates.

    >>> import fpsim
    >>> spec = fpsim.AccumSpec(fpsim.formats.accumulator(4))      # (1, 6, 4) accumulator
    >>> value, st = fpsim.dot([1.0] * 40, [1.0] * 40, spec, stats=True)
    >>> float(value), st.full                  # stuck at 32: the last 8 ones vanish
    (32.0, 8)
    """
    a = _operand(a, "a")
    b = _operand(b, "b")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot takes 1-D arrays, got shapes {a.shape} and {b.shape}; use matmul")
    if a.shape != b.shape:
        raise ValueError(f"dot: lengths differ: a has {a.shape[0]} elements, b has {b.shape[0]}")
    return matmul(a, b, spec, init=init, stats=stats, seed=seed, tier=tier)


def sum(x, spec, *, axis=-1, init=0.0, stats=False, seed=None, tier=None):
    """Sum of ``x`` along ``axis`` under ``spec`` (the addends are the values of x
    themselves: ``spec.product`` is not applied). Sums along the other axes run side by
    side, which is how Monte Carlo trials are vectorised.

    >>> import numpy as np, fpsim
    >>> float(fpsim.sum(np.full(4096, 1.0), fpsim.AccumSpec("bfloat16")))
    256.0
    >>> float(fpsim.sum(np.full(4096, 1.0), fpsim.AccumSpec("bfloat16", order="chunked", chunk=64)))
    4096.0
    """
    spec = _as_spec(spec)
    if spec.product is not None:
        spec = spec.replace(product=None)
    X = float_array(x, "x")
    if X.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {axis!r}")
    if not -X.ndim <= axis < X.ndim:
        raise ValueError(f"axis must satisfy {-X.ndim} <= axis < {X.ndim} for x of shape {X.shape}, got {axis}")
    Xk = np.moveaxis(X, axis, 0)
    rest = Xk.shape[1:]
    K = Xk.shape[0]
    B = np.ascontiguousarray(Xk.reshape(K, -1))
    if isinstance(init, (np.ndarray, list, tuple)):
        init = _init_blocks(_check_init(init, spec), rest, (B.shape[1],))
    res = matmul(np.ones(K), B, spec, init=init, stats=stats, seed=seed, tier=tier)
    if stats:
        res, st = res
        if stats == "elements":
            st = SwampStats(*(np.asarray(v).reshape(rest) for v in
                              (st.additions, st.full, st.partial, st.inexact)))
    res = np.asarray(res).reshape(rest)
    res = res[()] if res.ndim == 0 else res
    return (res, st) if stats else res
