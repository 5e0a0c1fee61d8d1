"""Orders as values (fpsim.orders): construction, the string sugar, and nested chunked orders
against the exact reference, bit for bit (values and swamping counts)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fpsim
from fpsim import AccumSpec, Chunked, Exact, Kahan, Pairwise, Sequential, formats
from reference import ref_dot


def bits(x):
    return np.asarray(x, np.float64).view(np.uint64)


def check(a, b, spec, init=0.0, seed=None):
    got, got_st = fpsim.dot(a, b, spec, init=init, stats=True, seed=seed)
    lean = fpsim.dot(a, b, spec, init=init, seed=seed)
    want, cnt = ref_dot(list(map(float, a)), list(map(float, b)), acc=spec.acc,
                        product=spec.product, rounding=str(spec.rounding),
                        product_rounding=str(spec.product_rounding), order=spec.order,
                        init=init, seed=seed)
    for name, v in (("stats", got), ("lean", lean)):
        assert bits(v) == bits(want), (
            f"{spec} ({name}): got {float(v).hex()} want {float(want).hex()}\n"
            f" a={[float(x).hex() for x in a]}\n b={[float(x).hex() for x in b]}")
    assert (got_st.full, got_st.partial, got_st.inexact) == (
        cnt["full"], cnt["partial"], cnt["inexact"]), (spec, got_st, cnt)


# ---- construction -----------------------------------------------------------------------
def test_string_sugar_is_the_value():
    acc = formats.binary16
    assert AccumSpec(acc, order="chunked", chunk=64) == AccumSpec(acc, order=Chunked(64))
    assert AccumSpec(acc, order="chunked", chunk=8, outer="fp32") == AccumSpec(
        acc, order=Chunked(8, outer=formats.binary32))
    for name, value in (("sequential", Sequential()), ("pairwise", Pairwise()),
                        ("kahan", Kahan()), ("exact", Exact())):
        assert AccumSpec(acc, order=name).order == value
        assert AccumSpec(acc, order=name.upper()).order.name == name
    spec = AccumSpec(acc, order=Chunked(128, inner=Chunked(16)))
    assert spec.chunk == 128 and spec.outer == acc
    assert spec.order.inner == Chunked(16, outer=acc)        # open formats resolve to acc
    assert spec.order.levels() == ((128, acc), (16, acc))


def test_order_values_print():
    assert repr(Chunked(64, inner=Chunked(8), outer="bf16")) == \
        "Chunked(64, inner=Chunked(8), outer=e8m7)"
    assert str(Chunked(64, inner=Chunked(8))) == "chunked(64, inner=chunked(8))"
    assert f"{Sequential():>12s}" == "  sequential"
    assert hash(Chunked(4)) == hash(Chunked(4)) and Chunked(4) != Chunked(5)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(order="chunked"), ValueError, "needs chunk"),
    (dict(order="chunked", chunk=0), ValueError, "chunk must be an integer >= 1, got 0"),
    (dict(order="chunked", chunk=2.0), TypeError, "chunk must be an integer"),
    (dict(order="sequential", chunk=4), ValueError, "chunk is only used with order='chunked'"),
    (dict(order="pairwise", outer="fp32"), ValueError, "outer is only used"),
    (dict(order=Chunked(8), chunk=8), ValueError, "go inside the order value"),
    (dict(order="zigzag"), ValueError, "order must be one of"),
    (dict(order=3), TypeError, "order must be an order value"),
])
def test_bad_orders(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        AccumSpec("fp16", **kwargs)


@pytest.mark.parametrize("make, exc, match", [
    (lambda: Chunked(16, inner=Chunked(16)), ValueError, "shorter than the chunks"),
    (lambda: Chunked(16, inner=Pairwise()), ValueError, "inner must be Sequential"),
    (lambda: Chunked(True), TypeError, "size"),
    (lambda: Chunked(-3), ValueError, "size"),
    (lambda: Chunked(8, outer="nonsense"), ValueError, "outer"),
])
def test_bad_order_values(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ---- nested chunks against the reference -------------------------------------------------
NESTED = [
    AccumSpec(fpsim.accumulator(6), order=Chunked(16, inner=Chunked(4))),
    AccumSpec(fpsim.accumulator(5), order=Chunked(12, inner=Chunked(5), outer="fp16")),
    AccumSpec("e5m2", order=Chunked(32, inner=Chunked(8, inner=Chunked(3), outer="e5m3"),
                                     outer="bf16"), rounding="rtz"),
    AccumSpec("bf16", order=Chunked(64, inner=Chunked(16)), product="e5m2"),
    AccumSpec(fpsim.accumulator(4), order=Chunked(10, inner=Chunked(4)), rounding="ru"),
    AccumSpec(fpsim.accumulator(4), order=Chunked(10, inner=Chunked(4)), rounding="sr",
              sr_bits=6),
    AccumSpec("e4m3fnuz", order=Chunked(9, inner=Chunked(2))),
]


@pytest.mark.parametrize("spec", NESTED, ids=repr)
@pytest.mark.parametrize("n", [0, 1, 4, 15, 16, 17, 100, 257])
def test_nested_chunks_match_the_reference(spec, n):
    rng = np.random.default_rng(n)
    a = fpsim.quantize(rng.standard_normal(n) * 4, "e5m2")
    b = fpsim.quantize(rng.standard_normal(n), "e5m2")
    check(a, b, spec, seed=11 if spec.rounding == fpsim.Rounding.SR else None)


def test_nested_chunks_inside_a_matmul_equal_their_dots():
    spec = NESTED[2]
    rng = np.random.default_rng(3)
    A = fpsim.quantize(rng.standard_normal((3, 300)), "e5m2")
    B = fpsim.quantize(rng.standard_normal((300, 300)), "e5m2")     # two tiles of columns
    C, st = fpsim.matmul(A, B, spec, stats="elements")
    for i, j in ((0, 0), (2, 299), (1, 257)):
        v, s1 = fpsim.dot(A[i], B[:, j], spec, stats=True)
        assert bits(C[i, j]) == bits(v)
        assert (int(st.full[i, j]), int(st.partial[i, j])) == (s1.full, s1.partial)


def test_one_level_of_nesting_is_not_plain_chunking():
    """Negative control: the nesting is really computed (it changes the result here)."""
    a = np.ones(64)
    nested = AccumSpec(fpsim.accumulator(3), order=Chunked(32, inner=Chunked(8)))
    flat = AccumSpec(fpsim.accumulator(3), order=Chunked(32))
    assert float(fpsim.dot(a, a, nested)) == 64.0      # 8-term chains stay exact
    assert float(fpsim.dot(a, a, flat)) != 64.0        # 32-term chains swamp at 16


@st.composite
def nested_cases(draw):
    n = draw(st.integers(0, 80))
    e, m = draw(st.integers(3, 8)), draw(st.integers(1, 8))
    acc = fpsim.Format(e, m)
    sizes = sorted(draw(st.lists(st.integers(1, 40), min_size=1, max_size=3, unique=True)),
                   reverse=True)
    order = None
    for s in reversed(sizes):
        outer = draw(st.sampled_from([None, acc, fpsim.Format(e, m + 2)]))
        order = Chunked(s, inner=order, outer=outer)
    mode = draw(st.sampled_from(["rne", "rtz", "rna", "ru", "rd"]))
    vals = st.floats(-64, 64, allow_nan=False, width=16)
    a = np.array(draw(st.lists(vals, min_size=n, max_size=n)), dtype=float)
    b = np.array(draw(st.lists(vals, min_size=n, max_size=n)), dtype=float)
    return a, b, AccumSpec(acc, order=order, rounding=mode)


@settings(max_examples=150)
@given(nested_cases())
def test_nested_chunks_hypothesis(case):
    a, b, spec = case
    check(a, b, spec)
