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

- ``blockfma`` (an order value with ``name == "blockfma"`` and the fields ``group`` = G,
  ``align_bits`` = w, ``term_rounding``, ``align_exponent``, ``rounding``; also as the innermost
  ``inner`` of a chunked order, whose chunks it then sums from +0): the products, in blocks of G
  from the first (the last may be shorter), each block a step c <- R(sum of the terms) from
  c = init, with the terms c and the block's exact products a_j*b_j.  e(x) = floor(log2|x|) of a
  nonzero value.  E = the largest alignment exponent of the nonzero terms: e(c) for c, e(a)+e(b)
  for a product (``align_exponent="product"``: e(a*b)).  Each term t is rounded sign-magnitude
  to an integer multiple of u = 2**(E - w): |t|/u rounded to an integer with ``term_rounding``
  (rtz, rne, rna, rto on the magnitude; ru/rd by the sign of t).  Those are added exactly and the
  sum rounded once into ``acc`` with ``rounding`` (None: the dot's rounding).  An exactly zero
  sum is -0 if every term is -0, else +0, or -0 under rd unless every term is +0.  With an
  infinite or NaN term, the step's result is R(IEEE sum of those terms).  Each step is one
  rounding (one draw of the addition stream).  Counts: one per nonzero finite product term of a
  finite step, inexact when rounding it lost bits, full when it became 0, partial otherwise.

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

from fractions import Fraction

from .arith import exact_add, exact_mul
from .rounding import Real, format_params, round_real
from .stream import batch_seed, mac_stream, sr_random

__all__ = ["ref_dot", "ref_matmul", "ORDERS"]

ORDERS = ("sequential", "chunked", "pairwise", "kahan", "exact", "blockfma")


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
    block = _block_of(order)
    order, levels = _order(order, chunk, outer)
    k = 52 if sr_bits is None else int(sr_bits)
    if not 1 <= k <= 52:
        raise ValueError(f"sr_bits must be in 1..52, got {sr_bits}")
    step_mode = rounding if block is None or block.rounding is None else str(block.rounding)
    stochastic = (rounding == "sr" or step_mode == "sr"
                  or (product is not None and product_rounding == "sr"))
    if stochastic and seed is None:
        raise ValueError("stochastic rounding needs the seed")
    counts = dict(full=0, partial=0, inexact=0)
    add_draws = _Draws(mac_stream(seed, element, "add") if stochastic else 0, rounding, k)
    prod_draws = _Draws(mac_stream(seed, element, "product") if stochastic else 0,
                        product_rounding, k)
    counter = [0]
    A = _Acc(acc, rounding, counts, add_draws, counter)
    AB = _Acc(acc, step_mode, counts,
              _Draws(mac_stream(seed, element, "add") if stochastic else 0, step_mode, k), counter)

    prods = []
    for i, (x, y) in enumerate(zip(a, b)):
        p = exact_mul(x, y)
        if product is not None:
            p = Real.of(round_real(p, *format_params(product), product_rounding,
                                   r=prod_draws(i), k=k))
        prods.append(p)
    init = Real.of(init)
    n = len(prods)
    pairs = [(Real.of(x), Real.of(y)) for x, y in zip(a, b)]

    def block_chain(lo, hi, c):
        """The block steps over products lo..hi-1 from c."""
        for kb in range(lo, hi, block.group):
            c = _block_step(c, pairs[kb:min(kb + block.group, hi)],
                            prods[kb:min(kb + block.group, hi)], block, AB, counts)
        return c

    if order == "blockfma":
        s = init if n else A.unrounded(init)
        return _out(block_chain(0, n, s)), counts

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
                elif block is not None:
                    lo = part[0]            # terms are product indices here
                    t = block_chain(lo, lo + len(part), Real.zero(False))
                else:
                    t = Real.zero(False)
                    for p in part:
                        t = A.add(t, p, True)
                S = O.add(S, t, True)
            return S

        terms = list(range(n)) if block is not None else prods
        return _out(chunked(terms, levels, init)), counts

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


def _block_of(order):
    """The blockfma order value of ``order`` (itself or its innermost inner), or None."""
    node = order
    while not isinstance(node, str) and node.name == "chunked":
        node = node.inner
    return None if isinstance(node, str) or node.name != "blockfma" else node


def _e(x: Fraction) -> int:
    """floor(log2 x) of a Fraction x > 0, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** e > x:
        e -= 1
    while Fraction(2) ** (e + 1) <= x:
        e += 1
    return e


def _round_int(x: Fraction, neg: bool, mode: str) -> int:
    """The magnitude x >= 0 rounded to an integer by ``mode`` for a term of sign ``neg``."""
    n = x.numerator // x.denominator
    rem = x - n
    if rem == 0:
        return n
    if mode == "ru":
        mode = "rtz" if neg else "raz"
    elif mode == "rd":
        mode = "raz" if neg else "rtz"
    if mode == "rtz":
        return n
    if mode == "raz":
        return n + 1
    if mode == "rto":
        return n | 1
    half = Fraction(1, 2)
    if mode == "rna":
        return n + 1 if rem >= half else n
    if mode == "rne":
        return n + 1 if rem > half or (rem == half and n % 2 == 1) else n
    raise ValueError(f"term rounding {mode!r}")


def _block_step(c, pairs, prods, block, R, counts):
    """One block step: c and the products ``prods`` (of the operand pairs ``pairs``)."""
    terms = [c] + list(prods)
    if any(not t.is_finite for t in terms):
        special = None
        for t in terms:
            if not t.is_finite:
                special = t if special is None else exact_add(special, t)
        return R.R(special)
    exps = []
    if not c.is_zero:
        exps.append(_e(c.mag))
    for (x, y), p in zip(pairs, prods):
        if p.is_zero:
            continue
        exps.append(_e(p.mag) if str(block.align_exponent) == "product"
                    else _e(x.mag) + _e(y.mag))
    mode = str(block.term_rounding)
    total = Fraction(0)
    if exps:
        u = Fraction(2) ** (max(exps) - int(block.align_bits))
        for idx, t in enumerate(terms):
            if t.is_zero:
                continue
            q = _round_int(t.mag / u, t.neg, mode)
            total += -q * u if t.neg else q * u
            if idx > 0:
                counts["additions"] = counts.get("additions", 0) + 1
                if q * u != t.mag:
                    counts["inexact"] += 1
                    if q == 0:
                        counts["full"] += 1
                    else:
                        counts["partial"] += 1
    if total == 0:
        all_neg = all(t.is_zero and t.neg for t in terms)
        all_pos = all(t.is_zero and not t.neg for t in terms)
        neg = all_neg or (R.mode == "rd" and not all_pos)
        return R.R(Real.zero(neg))
    return R.R(Real.of(total))


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
    if node.name not in ("sequential", "blockfma"):
        raise ValueError(f"chunks are summed sequentially, by blocks or by chunks, got inner "
                         f"{node.name}")
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
