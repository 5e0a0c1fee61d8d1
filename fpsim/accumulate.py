"""Dot products, sums and matrix products with a configurable accumulator.

One :class:`AccumSpec` value fixes the whole algorithm (product rounding, accumulator
format and rounding, order of accumulation); :func:`dot`, :func:`sum` and :func:`matmul`
all take it, so any element of ``matmul`` equals the corresponding ``dot`` bit for bit.
"""
from __future__ import annotations

import builtins
import operator
from dataclasses import dataclass

import numpy as np

from ._args import (as_format, float_array, format_params, kernel_input, seed_value,
                    sr_bits_value)
from .formats import Format
from .quantize import quantize
from .rounding import Rounding, as_rounding
from .kernels.mac import (CHUNKED, EXACT, KAHAN, PAIRWISE, SEQUENTIAL, TILE, mac_exact,
                          mac_tiles, operand_range)

__all__ = ["AccumSpec", "SwampStats", "ORDERS", "dot", "sum", "matmul"]

#: Accumulation orders; a new one (e.g. a hardware block-FMA) is one more entry here and
#: one more kernel branch, not a new API.
ORDERS = {"sequential": SEQUENTIAL, "chunked": CHUNKED, "pairwise": PAIRWISE,
          "kahan": KAHAN, "exact": EXACT}

_NO_PRODUCT = (-1, 0, 0.0, 0, False)   # "exact products" for the kernels


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
    order : {"sequential", "chunked", "pairwise", "kahan", "exact"}
        ``sequential``: s_i = R(s_{i-1} + p_i) in index order. ``chunked``: sums of
        ``chunk`` consecutive products (each from +0, sequentially), then those chunk sums
        added sequentially in ``outer`` (default ``acc``). ``pairwise``: balanced tree,
        [lo, hi) split at lo + (hi - lo)//2, every internal node rounded; the result is
        R(init + tree). ``kahan``: Kahan's compensated summation, every operation rounded
        into ``acc``. ``exact``: the exact sum rounded once (Kulisch accumulator).
    chunk : int, optional
        Chunk length C >= 1 for ``chunked``.
    outer : Format or str, optional
        Format of the inter-chunk sum for ``chunked``.
    sr_bits : int, optional
        Random bits k for stochastic rounding (1..52, default 52).

    Examples
    --------
    >>> import fpsim
    >>> spec = fpsim.AccumSpec("fp16", order="chunked", chunk=64)
    >>> spec
    AccumSpec(acc=e5m10, product=exact, rounding=rne, order=chunked, chunk=64, outer=e5m10)
    """

    acc: Format
    product: Format | None = None
    rounding: Rounding = Rounding.RNE
    product_rounding: Rounding | None = None
    order: str = "sequential"
    chunk: int | None = None
    outer: Format | None = None
    sr_bits: int | None = None

    def __init__(self, acc, *, product=None, rounding="rne", product_rounding=None,
                 order="sequential", chunk=None, outer=None, sr_bits=None):
        acc = as_format(acc, "acc")
        product = None if product is None else as_format(product, "product")
        rounding = as_rounding(rounding, "rounding")
        product_rounding = rounding if product_rounding is None else as_rounding(
            product_rounding, "product_rounding")
        if not isinstance(order, str):
            raise TypeError(f"order must be a string, one of {list(ORDERS)}, got {order!r}")
        order = order.lower()
        if order not in ORDERS:
            raise ValueError(f"order must be one of {list(ORDERS)}, got {order!r}")
        if order == "chunked":
            if chunk is None:
                raise ValueError("order='chunked' needs chunk, the chunk length (an integer >= 1)")
            if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)):
                raise TypeError(f"chunk must be an integer >= 1, got {chunk!r}")
            chunk = operator.index(chunk)
            if chunk < 1:
                raise ValueError(f"chunk must be an integer >= 1, got {chunk}")
            outer = acc if outer is None else as_format(outer, "outer")
        else:
            if chunk is not None:
                raise ValueError(f"chunk is only used with order='chunked', got chunk={chunk!r} "
                                 f"with order={order!r}")
            if outer is not None:
                raise ValueError(f"outer is only used with order='chunked', got outer={outer!r} "
                                 f"with order={order!r}")
        sr_bits = sr_bits_value(sr_bits) if sr_bits is not None else None
        for name, value in (("acc", acc), ("product", product), ("rounding", rounding),
                            ("product_rounding", product_rounding), ("order", order),
                            ("chunk", chunk), ("outer", outer), ("sr_bits", sr_bits)):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        parts = [f"acc={self.acc.name}",
                 f"product={self.product.name if self.product else 'exact'}",
                 f"rounding={self.rounding}"]
        if self.product is not None and self.product_rounding != self.rounding:
            parts.append(f"product_rounding={self.product_rounding}")
        parts.append(f"order={self.order}")
        if self.order == "chunked":
            parts += [f"chunk={self.chunk}", f"outer={self.outer.name}"]
        if self.sr_bits is not None:
            parts.append(f"sr_bits={self.sr_bits}")
        return f"AccumSpec({', '.join(parts)})"

    @property
    def start_format(self) -> Format:
        """The format the running sum starts in (``outer`` for chunked)."""
        return self.outer if self.order == "chunked" else self.acc


@dataclass(frozen=True)
class SwampStats:
    """Counts over the additions s' = R(s + p) with p != 0 of one call.

    ``full``: the addend vanished (s' == s); ``partial``: it survived but not whole
    (s' != s and s' != s + p exactly); ``inexact`` = full + partial.
    """

    additions: int
    full: int
    partial: int
    inexact: int

    @property
    def full_fraction(self) -> float:
        return self.full / self.additions if self.additions else 0.0

    @property
    def partial_fraction(self) -> float:
        return self.partial / self.additions if self.additions else 0.0


def _as_spec(spec) -> AccumSpec:
    if isinstance(spec, AccumSpec):
        return spec
    if isinstance(spec, (Format, str)):
        return AccumSpec(spec)
    raise TypeError(f"spec must be a fpsim.AccumSpec (or an accumulator Format), got {spec!r}")


def _check_init(init, spec: AccumSpec) -> float:
    if isinstance(init, bool) or not isinstance(init, (int, float, np.integer, np.floating)):
        raise TypeError(f"init must be a real number, got {init!r}")
    value = float(init)
    fmt = spec.start_format
    if fmt.flavour == "finite" and value != value:
        raise ValueError(f"init is NaN, which {fmt.name} cannot represent")
    if not (value != value) and quantize(value, fmt, "rtz").view(np.uint64) != np.float64(value).view(np.uint64):
        if not (value == 0.0 and fmt.flavour == "fnuz"):
            raise ValueError(f"init must be a value of the accumulator format {fmt.name}, got "
                             f"{value!r}; round it first with fpsim.quantize")
    if value == 0.0 and fmt.flavour == "fnuz":
        value = 0.0                      # fnuz has one zero: -0 starts the sum as +0
    return value


def _products_exact_in_float64(A, B) -> tuple:
    """(whether every product a*b is exact in float64, an upper bound on the significand
    width of those products in bits)."""
    wa, lo_a, hi_a = operand_range(A)
    wb, lo_b, hi_b = operand_range(B)
    if wa == 0 or wb == 0:
        return True, 0
    # significands multiply exactly within 53 bits (a power of two times anything is
    # exact); the product stays a normal float64
    exact = ((wa + wb <= 53 or min(wa, wb) == 1)
             and lo_a + lo_b >= -1020 and hi_a + hi_b <= 1020)
    return exact, (max(wa, wb) if min(wa, wb) == 1 else wa + wb)


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


def _mac2d(A, B, spec: AccumSpec, init: float, stats: bool, seed: int) -> tuple:
    """C = A @ B (2-D, float64, contiguous) under spec; returns (C, counts[4])."""
    M, K = A.shape
    N = B.shape[1]
    out = np.empty((M, N))
    acc = format_params(spec.acc)
    pf = format_params(spec.product) if spec.product is not None else _NO_PRODUCT
    k = sr_bits_value(spec.sr_bits)
    mode, pmode = int(spec.rounding), int(spec.product_rounding)
    order = ORDERS[spec.order]
    exact_products, product_width = _products_exact_in_float64(A, B)
    if order in (PAIRWISE, KAHAN) and spec.product is None and not exact_products:
        raise ValueError(
            f"order={spec.order!r} with exact products needs operands whose products "
            "float64 holds exactly (significand widths adding up to at most 53 bits, no "
            "underflow); pass product=<a format> to round the products first")
    if order == EXACT:
        counts = np.zeros((1, 4), np.int64)          # the exact order rounds once: no counts
        mac_exact(A, B, out, init, acc, pf, mode, pmode, k, np.uint64(seed))
    else:
        fast = (exact_products and spec.acc.man_bits <= 50
                and (spec.product is None or spec.product.man_bits <= 51))
        # RNE needs no TwoSum when double rounding is proven harmless; init is a value of
        # the format the sum starts in (checked), chunks start at 0
        if spec.product is not None:
            product_width = spec.product.man_bits + 1
        direct = (fast and spec.rounding == Rounding.RNE and direct_rne_safe(spec.acc, product_width)
                  and (spec.product is None or spec.product_rounding == Rounding.RNE))
        ntiles = M * ((N + TILE - 1) // TILE)
        counts = np.zeros((builtins.max(ntiles, 1), 4), np.int64)
        outer = format_params(spec.outer) if order == CHUNKED else acc
        mac_tiles(A, B, out, init, order, spec.chunk or 1, acc, outer, pf, mode, pmode, k,
                  np.uint64(seed), fast, direct, stats, counts)
    return out, counts.sum(axis=0)


def _stats(total) -> SwampStats:
    full, partial, inexact, additions = (int(v) for v in total)
    return SwampStats(additions=additions, full=full, partial=partial, inexact=inexact)


def _operand(x, name):
    arr = float_array(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    return arr


def matmul(A, B, spec, *, init=0.0, stats=False, seed=None):
    """Matrix product under ``spec`` with NumPy's ``matmul`` shape rules (1-D operands are
    promoted and the added axis removed; leading batch axes broadcast).

    Element [..., i, j] equals ``dot(A[..., i, :], B[..., :, j], spec)`` bit for bit,
    whatever the blocking. Operands are used as given (carriers already in their formats).
    For ``sr``, output element o of batch b draws from SplitMix64 streams derived from
    ``seed``; docs/semantics.md ("Random streams") says which draw each rounding uses.

    Returns the product, and a :class:`SwampStats` with ``stats=True``.

    >>> import numpy as np, fpsim
    >>> spec = fpsim.AccumSpec("e5m2", order="sequential")
    >>> A = np.ones((1, 8)); B = np.ones((8, 2)); B[0, 0] = 64.0
    >>> fpsim.matmul(A, B, spec).tolist()     # 64 + 1 + ... : each 1 is swamped
    [[64.0, 8.0]]
    """
    spec = _as_spec(spec)
    init = _check_init(init, spec)
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
    a3 = np.broadcast_to(a2, batch + a2.shape[-2:]).reshape((nbatch,) + a2.shape[-2:])
    b3 = np.broadcast_to(b2, batch + b2.shape[-2:]).reshape((nbatch,) + b2.shape[-2:])
    outs = []
    total = np.zeros(4, np.int64)
    for bi in range(a3.shape[0]):
        # batch b > 0 uses its own seed so that no two outputs share a random stream
        bseed = seed if bi == 0 else int(np.random.SeedSequence([seed, bi]).generate_state(1, np.uint64)[0])
        c, cnt = _mac2d(kernel_input(a3[bi]), kernel_input(b3[bi]), spec, init,
                        stats, bseed)
        outs.append(c)
        total += cnt
    C = np.stack(outs).reshape(batch + (a2.shape[-2], b2.shape[-1]))
    if A.ndim == 1:
        C = C[..., 0, :]
    if B.ndim == 1:
        C = C[..., 0]
    if C.ndim == 0:
        C = C[()]
    return (C, _stats(total)) if stats else C


def dot(a, b, spec, *, init=0.0, stats=False, seed=None):
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
    return matmul(a, b, spec, init=init, stats=stats, seed=seed)


def sum(x, spec, *, axis=-1, init=0.0, stats=False, seed=None):
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
        spec = AccumSpec(spec.acc, rounding=spec.rounding, order=spec.order, chunk=spec.chunk,
                         outer=spec.outer, sr_bits=spec.sr_bits)
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
    res = matmul(np.ones(K), B, spec, init=init, stats=stats, seed=seed)
    if stats:
        res, st = res
    res = np.asarray(res).reshape(rest)
    res = res[()] if res.ndim == 0 else res
    return (res, st) if stats else res
