"""Orders of accumulation as values: what sums what, in which format, in which order.

An order is a small frozen value; orders compose (a :class:`Chunked` order holds the order
that sums each chunk), and an :class:`~fpsim.AccumSpec` holds one. The strings of earlier
versions stay as sugar: ``AccumSpec(acc, order="chunked", chunk=64)`` is
``AccumSpec(acc, order=Chunked(64))``.

>>> import fpsim
>>> fpsim.Chunked(128, inner=fpsim.Chunked(16))
Chunked(128, inner=Chunked(16))
>>> spec = fpsim.AccumSpec("fp16", order=fpsim.Chunked(64, outer="fp32"))
>>> spec.order
Chunked(64, outer=e8m23)
>>> str(spec.order), spec.order.name
('chunked(64)', 'chunked')

The exact semantics of each order (and of its random stream under stochastic rounding) are
in docs/semantics.md, section 4.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from ._args import check_choice, check_int
from .formats import Format, as_format
from .rounding import Rounding, as_rounding

__all__ = ["Order", "Sequential", "Chunked", "Pairwise", "Kahan", "Exact", "BlockFMA",
           "ORDER_NAMES", "as_order"]


class Order:
    """Base of the order values. ``name``: the order's family, as the strings spell it."""

    name = ""

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def resolve(self, acc: Format) -> "Order":
        """This order with every format left open (``None``) set to ``acc``."""
        return self

    def levels(self) -> tuple:
        """((size, outer format), ...) of the chunk levels, outermost first; () unless
        chunked."""
        return ()

    def innermost(self) -> "Order":
        """The order that sums the innermost chunks (the order itself unless chunked)."""
        return self


@dataclass(frozen=True, repr=False)
class Sequential(Order):
    """s_i = R(s_{i-1} + p_i) in index order, from ``init``."""

    name = "sequential"

    def __repr__(self) -> str:
        return "Sequential()"


@dataclass(frozen=True, repr=False)
class Pairwise(Order):
    """A balanced tree: [lo, hi) split at lo + (hi - lo) // 2, every internal node rounded;
    the result is R(init + tree)."""

    name = "pairwise"

    def __repr__(self) -> str:
        return "Pairwise()"


@dataclass(frozen=True, repr=False)
class Kahan(Order):
    """Kahan's compensated summation, every operation rounded into the accumulator."""

    name = "kahan"

    def __repr__(self) -> str:
        return "Kahan()"


@dataclass(frozen=True, repr=False)
class Exact(Order):
    """The exact sum of init and every product, rounded once (a Kulisch accumulator)."""

    name = "exact"

    def __repr__(self) -> str:
        return "Exact()"


@dataclass(frozen=True, init=False, repr=False)
class BlockFMA(Order):
    """A hardware block-FMA (a tensor core's step): the running sum c and the next
    ``group`` = G exact products are added in one fused step. E is the largest alignment
    exponent of the nonzero terms (c: its exponent; a product a*b: e(a) + e(b), the sum of
    the operands' exponents, or with ``align_exponent="product"`` the exponent of a*b);
    every term is rounded with ``term_rounding`` (sign-magnitude; default ``"rtz"``,
    truncation) to a multiple of 2**(E - ``align_bits``); the rounded terms are added
    exactly and the sum rounded once into the accumulator, with ``rounding`` (default: the
    spec's). Blocks start at the first product (of the chunk, as ``inner`` of
    :class:`Chunked`); the last may be shorter. Exponents are floor(log2|x|) of the values.

    >>> import numpy as np, fpsim
    >>> spec = fpsim.AccumSpec("fp32", order=fpsim.BlockFMA(16, 25), rounding="rtz")
    >>> a = np.array([1.0] + [2.0**-26] * 15)      # below the grid 2**(0 - 25): truncated
    >>> float(fpsim.dot(a, np.ones(16), spec))
    1.0
    >>> float(fpsim.dot(a, np.ones(16), spec.replace(order=fpsim.Exact())))
    1.0000001192092896
    """

    group: int
    align_bits: int
    term_rounding: Rounding
    align_exponent: str
    rounding: Rounding | None

    name = "blockfma"

    def __init__(self, group, align_bits, term_rounding="rtz", align_exponent="operands",
                 rounding=None):
        group = check_int(group, "group", 1, 4096, note=" (products per block step)")
        align_bits = check_int(align_bits, "align_bits", 0, 60,
                               note=" (bits kept below the largest exponent)")
        if align_bits + 3 + group.bit_length() > 63:
            raise ValueError(f"align_bits + bit_length(group) must be at most 60 (the step "
                             f"adds in 64-bit integers), got align_bits={align_bits}, "
                             f"group={group}")
        term_rounding = as_rounding(term_rounding, "term_rounding")
        if term_rounding == Rounding.SR:
            raise ValueError("term_rounding must be a deterministic mode (rtz, rne, rna, ru, "
                             "rd, rto), got 'sr'")
        align_exponent = check_choice(align_exponent, "align_exponent",
                                      ("operands", "product"))
        rounding = None if rounding is None else as_rounding(rounding, "rounding")
        for k, v in (("group", group), ("align_bits", align_bits),
                     ("term_rounding", term_rounding), ("align_exponent", align_exponent),
                     ("rounding", rounding)):
            object.__setattr__(self, k, v)

    def __repr__(self) -> str:
        parts = [str(self.group), str(self.align_bits)]
        if self.term_rounding != Rounding.RTZ:
            parts.append(f"term_rounding={str(self.term_rounding)!r}")
        if self.align_exponent != "operands":
            parts.append(f"align_exponent={self.align_exponent!r}")
        if self.rounding is not None:
            parts.append(f"rounding={str(self.rounding)!r}")
        return f"BlockFMA({', '.join(parts)})"

    def __str__(self) -> str:
        return f"blockfma({self.group}, w={self.align_bits})"


@dataclass(frozen=True, init=False, repr=False)
class Chunked(Order):
    """Consecutive chunks of ``size`` products (the last may be shorter), each summed from
    +0 by ``inner`` (sequentially in the accumulator, by default; another ``Chunked`` nests);
    the chunk sums are then added one after another, from ``init``, in ``outer`` (default:
    the accumulator format) with the accumulator's rounding.

    >>> import fpsim
    >>> fpsim.Chunked(64, outer="bf16")
    Chunked(64, outer=e8m7)
    """

    size: int
    inner: Order
    outer: Format | None

    name = "chunked"

    def __init__(self, size, inner=None, outer=None):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise TypeError(f"size (the chunk length) must be an integer >= 1, got {size!r}")
        size = operator.index(size)
        if size < 1:
            raise ValueError(f"size (the chunk length) must be an integer >= 1, got {size}")
        inner = Sequential() if inner is None else inner
        if not isinstance(inner, (Sequential, Chunked, BlockFMA)):
            raise ValueError(f"inner must be Sequential(), BlockFMA(...) or Chunked(...) (the "
                             f"order that sums each chunk), got {inner!r}")
        if isinstance(inner, Chunked) and inner.size >= size:
            raise ValueError(f"inner chunks must be shorter than the chunks they split: "
                             f"Chunked({size}, inner=Chunked({inner.size}))")
        outer = None if outer is None else as_format(outer, "outer")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "outer", outer)

    def __repr__(self) -> str:
        parts = [str(self.size)]
        if not isinstance(self.inner, Sequential):
            parts.append(f"inner={self.inner!r}")
        if self.outer is not None:
            parts.append(f"outer={self.outer.name}")
        return f"Chunked({', '.join(parts)})"

    def __str__(self) -> str:
        if isinstance(self.inner, Sequential):
            return f"chunked({self.size})"
        return f"chunked({self.size}, inner={self.inner})"

    def resolve(self, acc: Format) -> "Chunked":
        return Chunked(self.size, self.inner.resolve(acc),
                       acc if self.outer is None else self.outer)

    def levels(self) -> tuple:
        return ((self.size, self.outer),) + self.inner.levels()

    def innermost(self) -> Order:
        """The order that sums the innermost chunks."""
        node = self.inner
        while isinstance(node, Chunked):
            node = node.inner
        return node


#: The order families by name (the string sugar of ``AccumSpec(order=...)``).
ORDER_NAMES = {"sequential": Sequential, "chunked": Chunked, "pairwise": Pairwise,
               "kahan": Kahan, "exact": Exact}


def as_order(order, chunk=None, outer=None) -> Order:
    """An :class:`Order` from a value, or from the string sugar with ``chunk`` and
    ``outer``; refuses ``chunk``/``outer`` where they mean nothing."""
    if isinstance(order, Order):
        if chunk is not None or outer is not None:
            raise ValueError(f"chunk and outer go inside the order value, e.g. "
                             f"Chunked({chunk or 64}, outer=...), not beside order={order!r}")
        return order
    if not isinstance(order, str):
        raise TypeError(f"order must be an order value (fpsim.Sequential(), fpsim.Chunked(64), "
                        f"...) or one of the strings {list(ORDER_NAMES)}, got {order!r}")
    name = order.lower()
    if name not in ORDER_NAMES:
        raise ValueError(f"order must be one of {list(ORDER_NAMES)}, got {order!r}")
    if name == "chunked":
        if chunk is None:
            raise ValueError("order='chunked' needs chunk, the chunk length (an integer >= 1)")
        try:
            return Chunked(chunk, outer=outer)
        except (TypeError, ValueError) as exc:
            raise type(exc)(str(exc).replace("size (the chunk length)", "chunk")) from None
    if chunk is not None:
        raise ValueError(f"chunk is only used with order='chunked', got chunk={chunk!r} "
                         f"with order={order!r}")
    if outer is not None:
        raise ValueError(f"outer is only used with order='chunked', got outer={outer!r} "
                         f"with order={order!r}")
    return ORDER_NAMES[name]()
