"""Exact reference of every accumulation order of semantics.md section 4 (for the MAC engine).

``ref_dot(a, b, *, acc, product=None, rounding="rne", product_rounding="rne",
order="sequential", chunk=None, outer=None, init=0.0, seed=None, sr_bits=52, element=0)``
-> ``(value, counts)``;  ``ref_matmul(A, B, **same keywords)`` -> (list of rows, counts)

- ``a``, ``b``: equal-length sequences of float64 carriers (used exactly as given, never
  re-quantized).  ``acc``, ``product``, ``outer``: formats given as ``(e, m, bias, flavour,
  subnormals)`` tuples or objects read only through those fields.
- Products: ``product=None`` -> the exact product a_i * b_i (fused, FMA style: one rounding per
  MAC); otherwise p_i = R_product(a_i * b_i) with ``product_rounding`` (multiplier then adder).
  Special cases follow IEEE (0 * inf = NaN ...); an exact product keeps the XOR sign on zero.
- R_acc(x) rounds the exact x into ``acc`` with ``rounding`` (no saturation: the plain overflow
  rules of the format).  Every addition is exact then rounded once; the sign of an exact zero sum
  follows IEEE (+0 unless both addends are zeros of the same sign; -0 under rd).
- ``init`` (the c of semantics.md) is used exactly as given; it is not pre-rounded.  With n = 0
  every order returns R_acc(init) (R_outer(init) for chunked; under sr, see below).

Orders (n products p_1..p_n):

- ``sequential``: s_0 = init; s_i = R_acc(s_{i-1} + p_i).
- ``chunked``: consecutive chunks of ``chunk`` = C products (the last may be shorter); chunk j is
  summed sequentially from +0 in ``acc`` giving t_j; then S_0 = init, S_j = R_outer(S_{j-1} + t_j)
  with ``outer`` (default ``acc``) and the same ``rounding``.  (With C >= n this equals sequential
  only when init is +0, since the single chunk sum is then added to init once more.)
  ``order`` may also be an order value (read only through ``name``, ``size``, ``inner``,
  ``outer``), whose ``inner`` may be chunked again: each chunk is then summed by the inner
  chunked order from +0 (chunks of the inner size, their sums added in the inner ``outer``),
  to any depth; every rounding draws the next addition index in that program order.
- ``pairwise``: tree(lo, hi) over [lo, hi): a single element is the (rounded or exact) product
  p_lo; otherwise split at mid = lo + (hi - lo) // 2 and return R_acc(tree(lo, mid) +
  tree(mid, hi)).  Note: with exact products a single-element tree is the *exact* product (it is
  rounded only when it meets another addend, or at the end).  The result is R_acc(init + tree(0, n)).
- ``kahan``: s = init, c = +0; for each p: y = R(p - c); t = R(s + y); c = R(R(t - s) - y); s = t;
  every R is R_acc.  Result s.
- ``exact``: R_acc(init + p_1 + ... + p_n) computed exactly (one rounding).  If a NaN or an
  infinity is involved, the IEEE sum of the specials decides (inf + -inf = NaN).

Stochastic rounding (docs/semantics.md, "Random streams"; ``rounding`` and/or
``product_rounding`` = "sr", which then needs ``seed``): the dot product is output element
``element`` = o of its matmul, with addition stream A_o = splitmix64(seed, 2o) and product stream
P_o = splitmix64(seed, 2o + 1) (:func:`.stream.mac_stream`).  The product p_k (k = 0..n-1) is
rounded with r = sr_random(P_o, k, sr_bits).  The roundings into ``acc``/``outer`` are numbered
t = 0, 1, ... in the order the definitions above perform them, and rounding t uses
r = sr_random(A_o, t, sr_bits): sequential t = k; chunked: chunk c's additions, then its outer
addition; pairwise: post-order (left subtree, right subtree, node), then R(init + tree);
kahan: y, t, R(t - s), c (four per step); exact: its single rounding t = 0.  Here a counter does
the numbering, one increment per rounding, in program order.  With n = 0 the orders other than
exact perform no rounding: init is returned, and under sr it must be a value of the format
(ValueError otherwise), since no draw is defined for it.

Counts, over the additions s' = R(s + p) of the main chain with p != 0 and both s and p finite
(additions involving inf/NaN are not counted):
  inexact: s' != s + p exactly (an overflow of a finite sum counts as inexact);
  full (full swamping): s' == s;
  partial (partial swamping): s' != s and s' != s + p.
Which additions form the main chain:
  sequential: every s_i = R(s_{i-1} + p_i) (s = s_{i-1}, p = p_i);
  chunked: every in-chunk addition (s = running chunk sum, p = p_i) and every outer addition
    (s = S_{j-1}, p = t_j);
  pairwise: every internal node (s = left subtree value, p = right subtree value) and the final
    R(init + tree) (s = init, p = tree);
  kahan: only the t = R(s + y) additions (s = s, p = y);
  exact: none (all counts 0).
"""
from __future__ import annotations

from .arith import exact_add, exact_mul
from .rounding import Real, format_params, round_real
from .stream import batch_seed, mac_stream, sr_random

__all__ = ["ref_dot", "ref_matmul", "ORDERS"]

ORDERS = ("sequential", "chunked", "pairwise", "kahan", "exact")


class _Draws:
    """The k-bit draws of one stream, handed out by index (None when the mode is not sr)."""

    def __init__(self, state, mode, k):
        self.state, self.mode, self.k = state, mode, k

    def __call__(self, index):
        return sr_random(self.state, index, self.k) if self.mode == "sr" else None


class _Acc:
    """Rounding into one format, with the swamping counters; every rounding takes the next
    draw of the addition stream (a counter shared by acc and outer: program order)."""

    def __init__(self, fmt, mode, counts, draws, counter):
        self.p = format_params(fmt)
        self.mode = mode
        self.counts = counts
        self.draws = draws
        self.counter = counter          # a one-element list, shared

    def R(self, x: Real) -> Real:
        t = self.counter[0]
        self.counter[0] += 1
        return Real.of(round_real(x, *self.p, self.mode, r=self.draws(t), k=self.draws.k))

    def add(self, s: Real, p: Real, count: bool) -> Real:
        exact = exact_add(s, p, self.mode)
        s2 = self.R(exact)
        if count and s.is_finite and p.is_finite and not p.is_zero:
            inexact = not s2.same_value(exact)
            full = s2.same_value(s)
            self.counts["inexact"] += inexact
            self.counts["full"] += full
            self.counts["partial"] += inexact and not full
        return s2

    def sub(self, s: Real, p: Real) -> Real:
        return self.R(exact_add(s, -p, self.mode))

    def unrounded(self, x: Real) -> Real:
        """The result of a sum with no addition (n = 0): R(x) with no draw, which under sr
        is defined only for a value of the format (any draw leaves it unchanged)."""
        if self.mode != "sr":
            return self.R(x)
        v = Real.of(round_real(x, *self.p, "rtz"))
        if not v.same_value(x) and not x.is_nan:
            raise ValueError("under sr, init must be a value of the format when there are "
                             "no products")
        return v


def ref_dot(a, b, *, acc, product=None, rounding="rne", product_rounding="rne",
            order="sequential", chunk=None, outer=None, init=0.0, seed=None, sr_bits=52,
            element=0):
    """Exact reference dot product; returns ``(value as float, counts dict)``."""
    if len(a) != len(b):
        raise ValueError("a and b must have the same length")
    order, levels = _order(order, chunk, outer)
    k = 52 if sr_bits is None else int(sr_bits)
    if not 1 <= k <= 52:
        raise ValueError(f"sr_bits must be in 1..52, got {sr_bits}")
    stochastic = rounding == "sr" or (product is not None and product_rounding == "sr")
    if stochastic and seed is None:
        raise ValueError("stochastic rounding needs the seed")
    counts = dict(full=0, partial=0, inexact=0)
    add_draws = _Draws(mac_stream(seed, element, "add") if stochastic else 0, rounding, k)
    prod_draws = _Draws(mac_stream(seed, element, "product") if stochastic else 0,
                        product_rounding, k)
    counter = [0]
    A = _Acc(acc, rounding, counts, add_draws, counter)

    prods = []
    for i, (x, y) in enumerate(zip(a, b)):
        p = exact_mul(x, y)
        if product is not None:
            p = Real.of(round_real(p, *format_params(product), product_rounding,
                                   r=prod_draws(i), k=k))
        prods.append(p)
    init = Real.of(init)
    n = len(prods)

    if order == "sequential":
        s = init
        if n == 0:
            s = A.unrounded(s)
        for p in prods:
            s = A.add(s, p, True)
        return _out(s), counts

    if order == "chunked":
        def chunked(terms, levels, start):
            """Chunks of levels[0]'s size summed by the next level (or sequentially in acc,
            from +0), their sums added from ``start`` in levels[0]'s format."""
            C, fmt = levels[0]
            O = _Acc(fmt if fmt is not None else acc, rounding, counts, add_draws, counter)
            S = start
            if not terms:
                return O.unrounded(S)
            for j in range(0, len(terms), C):
                part = terms[j:j + C]
                if len(levels) > 1:
                    t = chunked(part, levels[1:], Real.zero(False))
                else:
                    t = Real.zero(False)
                    for p in part:
                        t = A.add(t, p, True)
                S = O.add(S, t, True)
            return S

        return _out(chunked(prods, levels, init)), counts

    if order == "pairwise":
        def tree(lo, hi):
            if hi - lo == 1:
                return prods[lo]
            mid = lo + (hi - lo) // 2
            left = tree(lo, mid)
            right = tree(mid, hi)
            return A.add(left, right, True)

        if n == 0:
            return _out(A.unrounded(init)), counts
        return _out(A.add(init, tree(0, n), True)), counts

    if order == "kahan":
        s = init
        c = Real.zero(False)
        if n == 0:
            s = A.unrounded(s)
        for p in prods:
            y = A.sub(p, c)
            t = A.add(s, y, True)
            c = A.sub(A.sub(t, s), y)
            s = t
        return _out(s), counts

    # exact
    total = init
    for p in prods:
        total = exact_add(total, p, rounding)
    return _out(A.R(total)), counts


def _order(order, chunk, outer):
    """(name, chunk levels) from an order name with ``chunk``/``outer``, or from an order
    value read only through its fields ``name``, ``size``, ``inner``, ``outer`` (nesting:
    ``inner`` is another chunked order or a sequential one). Levels run outermost first as
    (chunk length, format or None for acc)."""
    if isinstance(order, str):
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        if order != "chunked":
            return order, []
        if chunk is None or int(chunk) < 1:
            raise ValueError(f"chunked order needs chunk >= 1, got {chunk!r}")
        return order, [(int(chunk), outer)]
    name = order.name
    if name not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if name != "chunked":
        return name, []
    levels = []
    node = order
    while node.name == "chunked":
        levels.append((int(node.size), node.outer))
        node = node.inner
    if node.name != "sequential":
        raise ValueError(f"chunks are summed sequentially or by chunks, got inner {node.name}")
    if levels and chunk is not None and int(chunk) != levels[0][0]:
        raise ValueError(f"chunk={chunk} contradicts the order's chunk {levels[0][0]}")
    if levels and outer is not None and levels[0][1] is not None and outer != levels[0][1]:
        raise ValueError(f"outer={outer!r} contradicts the order's outer {levels[0][1]!r}")
    if levels and levels[0][1] is None:
        levels[0] = (levels[0][0], outer)
    return name, levels


def ref_matmul(A, B, *, seed=None, batch=0, **kw):
    """Reference of a 2-D ``fpsim.matmul(A, B, spec, seed=seed)`` (A: M rows of K values, B: K
    rows of N values): element (i, j) is ``ref_dot(A[i], column j of B, element=i*N + j)``;
    ``batch`` = b > 0 computes batch b of a batched product (seed replaced by
    :func:`.stream.batch_seed`).  Returns (rows as lists of floats, summed counts)."""
    A = [list(map(float, row)) for row in A]
    B = [list(map(float, row)) for row in B]
    K = len(A[0]) if A else 0
    if any(len(row) != K for row in A) or len(B) != K:
        raise ValueError("matmul: inner dimensions differ")
    N = len(B[0]) if B else 0
    if seed is not None:
        seed = batch_seed(seed, batch)
    total = dict(full=0, partial=0, inexact=0)
    out = []
    for i, row in enumerate(A):
        vals = []
        for j in range(N):
            v, c = ref_dot(row, [B[kk][j] for kk in range(K)], seed=seed, element=i * N + j,
                           **kw)
            vals.append(v)
            for name in total:
                total[name] += c[name]
        out.append(vals)
    return out, total


def _out(x: Real) -> float:
    if x.is_nan:
        return float("nan")
    if x.is_inf:
        return float("-inf") if x.neg else float("inf")
    v = float(x.value())
    return -0.0 if (v == 0 and x.neg) else v
