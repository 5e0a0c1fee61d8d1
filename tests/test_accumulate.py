"""The MAC engine (dot, sum, matmul) against the exact reference of every order.

Bits are compared (NaN as "both NaN"); failures print the operands in hex."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fpsim
from fpsim import AccumSpec, Format
from reference.accumulate import ref_dot

ORDERS = ["sequential", "chunked", "pairwise", "kahan", "exact"]
DET_MODES = ["rne", "rna", "rtz", "ru", "rd", "rto"]


def same_bits(x, y):
    x, y = float(x), float(y)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return np.float64(x).view(np.uint64) == np.float64(y).view(np.uint64)


def hexs(v):
    return "[" + ", ".join(float(t).hex() for t in v) + "]"


def check(a, b, spec, *, init=0.0, counts=True):
    """fpsim.dot with and without counts (two kernel paths) against the reference."""
    got, st_ = fpsim.dot(np.asarray(a, float), np.asarray(b, float), spec, init=init, stats=True)
    lean = fpsim.dot(np.asarray(a, float), np.asarray(b, float), spec, init=init)
    want, cnt = ref_dot(list(map(float, a)), list(map(float, b)), acc=spec.acc,
                        product=spec.product, rounding=str(spec.rounding),
                        product_rounding=str(spec.product_rounding), order=spec.order,
                        chunk=spec.chunk, outer=spec.outer, init=init)
    for path, value in (("stats=True", got), ("stats=False", lean)):
        assert same_bits(value, want), (
            f"{spec} init={init!r} {path}\n a={hexs(a)}\n b={hexs(b)}\n got "
            f"{float(value).hex()} want {float(want).hex()}")
    if counts:
        assert (st_.full, st_.partial, st_.inexact) == (cnt["full"], cnt["partial"], cnt["inexact"]), (
            f"{spec}\n a={hexs(a)}\n b={hexs(b)}\n got {st_} want {cnt}")


# ---- strategies ----------------------------------------------------------------------
@st.composite
def acc_formats(draw, wide=False):
    e = draw(st.integers(2, 11 if wide else 8))
    m = draw(st.integers(0, 52 if wide else 14))
    flavour = draw(st.sampled_from(["ieee", "ieee", "fn", "fnuz", "finite"]))
    if flavour == "fn" and m == 0:
        m = 1
    if e == 11:
        flavour = "ieee"           # the other flavours would reach 2**1024
    return Format(e, m, flavour=flavour, subnormals=draw(st.booleans()))


@st.composite
def operands(draw, n, fmt):
    """n values of fmt: code points (not raw floats) so that ties, subnormals and the top
    binade are hit, plus signed zeros and, rarely, inf/NaN."""
    vals = []
    for _ in range(n):
        kind = draw(st.integers(0, 19))
        if kind == 0:
            vals.append(draw(st.sampled_from([0.0, -0.0])))
        elif kind == 1 and fmt.has_inf:
            vals.append(draw(st.sampled_from([math.inf, -math.inf, math.nan])))
        else:
            e = draw(st.integers(fmt.emin - fmt.man_bits, fmt.emax))
            mant = draw(st.integers(0, 2 ** min(fmt.man_bits, 20) - 1))
            v = math.ldexp(1.0 + mant / 2 ** min(fmt.man_bits, 20), e)
            v = float(fpsim.quantize(v, fmt, "rtz"))
            if not math.isfinite(v):
                v = fmt.max
            vals.append(-v if draw(st.booleans()) else v)
    return vals


@st.composite
def cases(draw, wide=False):
    acc = draw(acc_formats(wide))
    opfmt = draw(st.sampled_from([fpsim.formats.fp8_e5m2, fpsim.formats.fp8_e4m3fn,
                                  fpsim.formats.binary16, fpsim.formats.bfloat16]
                                 + ([fpsim.formats.binary32, fpsim.formats.binary64] if wide else [])))
    n = draw(st.integers(0, 40))
    a = draw(operands(n, opfmt))
    b = draw(operands(n, opfmt))
    order = draw(st.sampled_from(ORDERS))
    product = draw(st.sampled_from([None, None, acc, fpsim.formats.binary16,
                                    Format(6, 4)]))
    mode = draw(st.sampled_from(DET_MODES))
    kw = {}
    if order == "chunked":
        kw["chunk"] = draw(st.integers(1, 9))
        if draw(st.booleans()):
            kw["outer"] = draw(acc_formats())
    spec = AccumSpec(acc, product=product, rounding=mode, order=order, **kw)
    return a, b, spec


@pytest.mark.slow                  # 200 random cases, the cross product
@settings(max_examples=200)
@given(cases())
def test_orders_match_reference(case):
    a, b, spec = case
    if spec.order.name in ("pairwise", "kahan") and spec.product is None:
        # these orders take exact products only where fpsim proves float64 holds each one
        # exactly (test_wide_formats_match_reference sees the refusals); these operands' fit
        assert all(Fraction(x) * Fraction(y) == x * y
                   for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)), (a, b)
    check(a, b, spec)


@settings(max_examples=100)
@given(cases(wide=True))
def test_wide_formats_match_reference(case):
    a, b, spec = case
    try:
        check(a, b, spec)
    except ValueError as err:
        # pairwise/kahan with exact products of wide operands is refused, never wrong
        assert spec.order.name in ("pairwise", "kahan") and "exactly" in str(err)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("mode", DET_MODES)
def test_random_vectors_each_order_and_mode(order, mode):
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 3, 17, 64, 65, 130):
        a = fpsim.quantize(rng.standard_normal(n) * 4, "fp16")
        b = fpsim.quantize(rng.standard_normal(n), "e5m2")
        kw = {"chunk": 16} if order == "chunked" else {}
        for product in (None, fpsim.formats.binary16):
            spec = AccumSpec(fpsim.formats.accumulator(7), product=product, rounding=mode,
                             order=order, **kw)
            check(a, b, spec)


def test_init_is_the_start_value():
    spec = AccumSpec(Format(6, 4))
    check([1.0, 2.0], [1.0, 1.0], spec, init=64.0)
    check([], [], AccumSpec(Format(6, 4), order="chunked", chunk=2, outer=Format(8, 7)), init=-3.0)


# ---- matmul is dot, whatever the tiling ------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
def test_matmul_elements_equal_dot(order):
    rng = np.random.default_rng(3)
    A = fpsim.quantize(rng.standard_normal((5, 70)), "e5m2")
    B = fpsim.quantize(rng.standard_normal((70, 300)), "e5m2")   # more than one column tile
    B[3, 7] = np.inf
    B[:, 11] = 0.0
    kw = {"chunk": 8} if order == "chunked" else {}
    spec = AccumSpec(Format(6, 6), order=order, **kw)
    C = fpsim.matmul(A, B, spec)
    for i in range(A.shape[0]):
        for j in (0, 7, 11, 127, 128, 299):
            d = fpsim.dot(A[i], B[:, j], spec)
            assert same_bits(C[i, j], d), (i, j, C[i, j], d)


def test_matmul_shapes_follow_numpy():
    spec = AccumSpec("fp32")
    rng = np.random.default_rng(0)
    A = fpsim.quantize(rng.standard_normal((2, 3, 4)), "fp16")
    B = fpsim.quantize(rng.standard_normal((4, 5)), "fp16")
    v = fpsim.quantize(rng.standard_normal(4), "fp16")
    for x, y in ((A, B), (A[0], B), (v, B), (A, v), (v, v), (A[0], B[None])):
        assert fpsim.matmul(x, y, spec).shape == np.matmul(x, y).shape
    # fp32 accumulation of fp16 products of short vectors is exact here: equals float64
    np.testing.assert_array_equal(fpsim.matmul(A, B, AccumSpec("fp64")), np.matmul(A, B))


def test_sum_vectorises_over_other_axes():
    rng = np.random.default_rng(1)
    X = fpsim.quantize(rng.standard_normal((50, 6)), "e4m3fn")
    spec = AccumSpec(Format(5, 5), order="chunked", chunk=8)
    s = fpsim.sum(X, spec, axis=0)
    for j in range(6):
        assert same_bits(s[j], fpsim.dot(X[:, j], np.ones(50), spec))


# ---- swamping counts on constructed cases -----------------------------------------------
def test_full_swamping_is_counted():
    # 1.0 then addends below half an ulp of 1.0 in a 4-bit mantissa (ulp 1/16)
    spec = AccumSpec(Format(6, 4))
    a = [1.0] + [2.0**-6] * 10
    v, st_ = fpsim.dot(a, np.ones(11), spec, stats=True)
    assert float(v) == 1.0
    assert (st_.full, st_.partial, st_.inexact, st_.additions) == (10, 0, 10, 11)


def test_partial_swamping_is_counted():
    # 1 + 3/32 in m=4: the addend survives as 1/16 or 1/8, never whole
    spec = AccumSpec(Format(6, 4))
    v, st_ = fpsim.dot([1.0, 3 / 32], [1.0, 1.0], spec, stats=True)
    assert float(v) == 1.125 and (st_.full, st_.partial) == (0, 1)


def test_chunking_rescues_swamped_ones():
    spec_seq = AccumSpec(fpsim.formats.accumulator(6))
    spec_chk = AccumSpec(fpsim.formats.accumulator(6), order="chunked", chunk=64)
    ones = np.ones(4096)
    assert float(fpsim.sum(ones, spec_seq)) == 128.0      # 2**(6+1): 1 is then a tie, to even
    assert float(fpsim.sum(ones, spec_chk)) == 4096.0


# ---- stochastic rounding -------------------------------------------------------------
def test_sr_is_reproducible_and_tiling_independent():
    rng = np.random.default_rng(5)
    A = fpsim.quantize(rng.standard_normal((3, 40)), "e5m2")
    B = fpsim.quantize(rng.standard_normal((40, 260)), "e5m2")
    spec = AccumSpec(Format(6, 3), rounding="sr", order="chunked", chunk=7)
    C1 = fpsim.matmul(A, B, spec, seed=11)
    C2 = fpsim.matmul(A, B, spec, seed=11)
    assert np.array_equal(C1.view(np.uint64), C2.view(np.uint64))
    assert not np.array_equal(C1, fpsim.matmul(A, B, spec, seed=12))
    for order in ORDERS:
        kw = {"chunk": 5} if order == "chunked" else {}
        s = AccumSpec(Format(6, 3), rounding="sr", order=order, **kw)
        C = fpsim.matmul(A[:1], B[:, :3], s, seed=3)
        # element (0, j) of a matmul depends only on (seed, its flat index j)
        C_big = fpsim.matmul(A[:1], B, s, seed=3)
        assert np.array_equal(C.view(np.uint64), C_big[:, :3].view(np.uint64)), order


def test_sr_sum_is_unbiased():
    # 1 + 1/64 in a 3-bit mantissa: E[result] = exact sum; binomial tolerance, fixed seed
    spec = AccumSpec(Format(6, 3), rounding="sr")
    x = np.tile(np.array([[1.0], [1 / 64]]), (1, 20000))
    s = fpsim.sum(x, spec, axis=0, seed=99)
    p = (1 / 64) / (1 / 8)                          # probability of rounding up
    mean_up = np.mean(s == 1.125)
    sigma = math.sqrt(p * (1 - p) / x.shape[1])
    assert abs(mean_up - p) < 5 * sigma
    assert set(np.unique(s)) <= {1.0, 1.125}


# ---- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(order="chunked"), ValueError, "chunk"),
    (dict(order="chunked", chunk=0), ValueError, "chunk"),
    (dict(order="chunked", chunk=-3), ValueError, "chunk"),
    (dict(order="chunked", chunk=2.5), TypeError, "chunk"),
    (dict(order="sequential", outer="fp32"), ValueError, "outer"),
    (dict(order="sequential", chunk=4), ValueError, "chunk"),
    (dict(order="blocked"), ValueError, "order"),
    (dict(rounding="nearest_odd"), ValueError, "rounding"),
    (dict(product=3), TypeError, "product"),
])
def test_bad_spec(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        AccumSpec("fp16", **kwargs)


@pytest.mark.parametrize("a, b, exc, words", [
    (np.ones(3), np.ones(4), ValueError, "lengths"),
    (np.ones((2, 2)), np.ones(2), ValueError, "1-D"),
    (np.array(["a", "b"]), np.ones(2), TypeError, "real numbers"),
    (np.ones(2, complex), np.ones(2), TypeError, "complex"),
    (np.array([object(), 1], dtype=object), np.ones(2), TypeError, "real numbers"),
])
def test_bad_operands(a, b, exc, words):
    with pytest.raises(exc, match=words):
        fpsim.dot(a, b, AccumSpec("fp16"))


def test_bad_matmul_shapes_and_init():
    with pytest.raises(ValueError, match="inner dimensions"):
        fpsim.matmul(np.ones((2, 3)), np.ones((4, 2)), AccumSpec("fp16"))
    with pytest.raises(ValueError, match="init"):
        fpsim.dot(np.ones(2), np.ones(2), AccumSpec("fp16"), init=0.1)


def test_ieee_specials_flow_through():
    spec = AccumSpec("fp16")
    assert math.isnan(fpsim.dot([np.inf, -np.inf], [1.0, 1.0], spec))
    assert fpsim.dot([np.inf, 1.0], [1.0, 1.0], spec) == np.inf
    assert fpsim.dot([60000.0, 60000.0], [1.0, 1.0], spec) == np.inf        # overflow
    assert fpsim.dot([60000.0, 60000.0], [1.0, 1.0], AccumSpec("fp16", rounding="rtz")) == 65504.0
    assert math.isnan(fpsim.dot([240.0, 240.0], [1.0, 1.0], AccumSpec("e4m3fnuz")))


# ---- APyTypes: products rounded into the accumulator format, sequential, RNE ----------
@pytest.mark.parametrize("e, m", [(5, 10), (8, 7), (5, 2), (4, 3), (6, 5), (8, 23), (3, 4)])
def test_matches_apytypes_accumulator_context(e, m):
    apy = pytest.importorskip("apytypes")
    rng = np.random.default_rng(1000 * e + m)
    fmt = Format(e, m)
    # scaled so that sums overflow now and then in the narrow formats, and go subnormal
    A = fpsim.quantize(rng.standard_normal((6, 97)) * rng.choice([1e-3, 1.0, 30.0], (6, 97)), fmt)
    B = fpsim.quantize(rng.standard_normal((97, 5)), fmt)
    a = apy.APyFloatArray.from_float(A, exp_bits=e, man_bits=m)
    b = apy.APyFloatArray.from_float(B, exp_bits=e, man_bits=m)
    with apy.APyFloatAccumulatorContext(exp_bits=e, man_bits=m,
                                        quantization=apy.QuantizationMode.TIES_EVEN):
        want = (a @ b).to_numpy()
    got = fpsim.matmul(A, B, AccumSpec(fmt, product=fmt))
    bad = got.view(np.uint64) != want.view(np.uint64)
    bad &= ~(np.isnan(got) & np.isnan(want))
    assert not bad.any(), f"{int(bad.sum())} mismatches, first at {np.argwhere(bad)[0]}"


# ---- the direct RNE path: no TwoSum where double rounding is proven harmless ----------------
def test_direct_rne_conditions():
    from fpsim.accumulate import direct_rne_safe
    f = fpsim.formats
    assert direct_rne_safe(f.binary16, 22) and direct_rne_safe(f.binary16, 11)
    assert direct_rne_safe(f.fp8_e5m2, 22) and direct_rne_safe(f.fp8_e4m3fn, 22)
    assert not direct_rne_safe(f.binary16, 40)        # 40 + 10 > 49: a product too wide
    assert not direct_rne_safe(f.bfloat16, 16)        # 127 + 126 + 7 > 52: range too wide
    assert not direct_rne_safe(f.binary32, 22)


def test_double_rounding_where_the_direct_path_would_fail():
    # p = 1.25 * (1 + 2^-6) = 1 + 2^-2 + 2^-6 + 2^-8 is a bfloat16 midpoint whose lower
    # neighbour is even; s = 2^-100 puts the exact sum just above it, so RNE goes up,
    # although fl64(s + p) = p would tie to even (down).
    spec = AccumSpec(fpsim.formats.bfloat16)
    got = fpsim.dot([1.25], [1 + 2**-6], spec, init=2.0**-100)
    assert float(got) == 1 + 2**-2 + 2**-6 + 2**-7, float(got).hex()
    check([1.25], [1 + 2**-6], spec, init=2.0**-100)


@st.composite
def direct_cases(draw):
    """Accumulators with a narrow exponent range under RNE: the specs that take the
    direct path, with operands spread over every binade (large exponent gaps)."""
    e = draw(st.integers(2, 5))
    flavour = draw(st.sampled_from(["ieee", "fn", "finite"]))
    m = draw(st.integers(1 if flavour == "fn" else 0, 12))
    acc = Format(e, m, flavour=flavour, subnormals=draw(st.booleans()))
    opfmt = draw(st.sampled_from([fpsim.formats.fp8_e5m2, fpsim.formats.fp8_e4m3fn,
                                  fpsim.formats.binary16]))
    n = draw(st.integers(0, 40))
    product = draw(st.sampled_from([None, acc, fpsim.formats.binary16]))
    order = draw(st.sampled_from(["sequential", "chunked"]))
    kw = {"chunk": draw(st.integers(1, 9))} if order == "chunked" else {}
    spec = AccumSpec(acc, product=product, order=order, **kw)
    return draw(operands(n, opfmt)), draw(operands(n, opfmt)), spec


@settings(max_examples=200)
@given(direct_cases())
def test_direct_path_matches_reference(case):
    from fpsim.accumulate import direct_rne_safe
    a, b, spec = case
    width = spec.product.man_bits + 1 if spec.product is not None else 22
    assert direct_rne_safe(spec.acc, width)
    check(a, b, spec)
    # and as elements of a matmul, next to other rows and columns (the tiled kernel)
    a, b = np.asarray(a, float), np.asarray(b, float)
    C = fpsim.matmul(np.stack([a, b]), np.stack([b, a, b], axis=1), spec)
    assert same_bits(C[0, 0], fpsim.dot(a, b, spec)) and same_bits(C[1, 1], fpsim.dot(b, a, spec))


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("stats", [False, True])
def test_fnuz_has_no_negative_zero(order, stats):
    # init -0.0 is accepted as fnuz's zero; neither it nor -0 products may leave a -0
    kw = {"chunk": 2} if order == "chunked" else {}
    spec = AccumSpec(fpsim.formats.fp8_e4m3fnuz, order=order, **kw)
    for a in ([], [-0.0], [0.0, -0.0]):
        r = fpsim.dot(np.array(a), np.ones(len(a)), spec, init=-0.0, stats=stats)
        r = r[0] if stats else r
        assert same_bits(r, 0.0), (order, a, float(r))


def _py_operand_range(values):
    """Significand width (odd numerator of the exact ratio) and floor(log2|v|), in Python."""
    w, lo, hi = 0, None, None
    for v in values:
        v = float(v)
        if v == 0.0 or not math.isfinite(v):
            continue
        num, _ = abs(v).as_integer_ratio()
        num //= num & -num                     # the odd part: integers keep their zeros
        top = math.frexp(abs(v))[1] - 1
        w = max(w, num.bit_length())
        lo = top if lo is None else min(lo, top)
        hi = top if hi is None else max(hi, top)
    return (0, 0, 0) if w == 0 else (w, lo, hi)


@pytest.mark.parametrize("seed", range(6))
def test_operand_range_matches_python(seed):
    from fpsim.accumulate import _operand_range as operand_range   # on the flat bits
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    bits = rng.integers(0, 2**63, n, dtype=np.uint64) >> rng.integers(0, 64, n).astype(np.uint64)
    x = bits.view(np.float64) * rng.choice([-1.0, 1.0], n)
    x[::5] = fpsim.quantize(rng.standard_normal(x[::5].size), "fp16")
    if n > 10:
        x[3], x[4], x[5] = np.inf, np.nan, 5e-324 * (seed + 1)
    want = _py_operand_range(x)
    assert tuple(int(t) for t in operand_range(x)) == want
    assert tuple(int(t) for t in operand_range(x.reshape(-1, 1)[::2])) == _py_operand_range(x[::2])


def test_product_exactness_is_a_named_result_without_truth_value():
    from fpsim.accumulate import ProductExactness, product_exactness
    exact = product_exactness(fpsim.quantize(np.linspace(-3, 3, 50), "e5m2"), np.full(50, 0.75))
    assert exact == ProductExactness(exact=True, width=5) and exact.exact is True
    gauss = np.random.default_rng(1).standard_normal(50)
    inexact = product_exactness(gauss, gauss)
    assert inexact.exact is False and inexact.width > 53
    assert product_exactness(gauss, np.full(50, 2.0 ** -3)).exact      # a power of two: exact
    assert not product_exactness(np.array([2.0 ** -600]), np.array([2.0 ** -500])).exact
    assert product_exactness(np.zeros(3), gauss) == (True, 0)
    # a pair is always true: the result refuses a truth test instead of passing it
    with pytest.raises(TypeError, match=r"\.exact"):
        bool(inexact)


# ---- the top of binary64's range ---------------------------------------------------------
DBL_MAX = 1.7976931348623157e308
#: an odd multiple of 2**970 in [2**1022, 2**1023): x + DBL_MAX is a float64 tie that rounds
#: up, so TwoSum(x, DBL_MAX)'s intermediate fl(s - x) = fl(DBL_MAX + 2**970) overflows
X_TIE = float.fromhex("-0x1.ffffffffdffffp+1022")        # TestFloat's 0xffdffffffffdffff


def _top_vectors():
    """(a, b) dot products whose partial sums pass near 2**1023..2**1024: a tie against
    DBL_MAX as first, second and later term, in both signs; cancellations back from the
    top; sums that overflow (inf or max by mode) and come back; near ties."""
    M, x = DBL_MAX, X_TIE
    h = 2.0**970
    vecs = [
        ([x, M], [1.0, 1.0]),
        ([M, x], [1.0, 1.0]),
        ([-x, -M], [1.0, 1.0]),
        ([x, 1.0, M], [1.0, 2.0**-1000, 1.0]),                        # a sticky bit far below
        ([2.0**1022, -3 * h, M, -M, M], [1.0] * 5),
        ([x, M, x, M, -M], [1.0] * 5),
        ([M, M, -M, -M], [1.0] * 4),                                    # overflow, then back
        ([-M, -h, M], [1.0] * 3),
        ([M, h, -h, h], [1.0] * 4),                                     # ties at max
        ([2.0**1023, 2.0**1022, 2.0**1021, -M], [1.0] * 4),
        ([x, M, 2.0**969], [1.0] * 3),
        ([x * 0.5, M], [2.0, 1.0]),                                     # products at the top
        ([3.0, x], [2.0**1021 + 5 * h, 0.25]),
    ]
    return vecs


def _top_specs(order):
    """Accumulators reaching 2**1024 (binary64 and wide e11 formats, one with DBL_MAX), with
    exact products, or products rounded into binary64 / the accumulator."""
    kw = {"chunk": 2} if order == "chunked" else {}
    f64 = fpsim.formats.binary64
    for acc in (f64, Format(11, 50), Format(11, 44), Format(5, 52, bias=-993)):
        for product in (None, f64, acc):
            if product is None and order in ("pairwise", "kahan"):
                continue                       # refused: these products are not exact in float64
            yield acc, product, kw
    if order == "chunked":
        yield Format(11, 44), None, {"chunk": 3, "outer": f64}
        yield f64, f64, {"chunk": 3, "outer": Format(11, 50)}


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("mode", DET_MODES)
def test_top_of_binary64_range(order, mode):
    for acc, product, kw in _top_specs(order):
        spec = AccumSpec(acc, product=product, rounding=mode, order=order, **kw)
        for a, b in _top_vectors():
            check(a, b, spec)
            check(b, a, spec)


def test_top_of_binary64_range_exact_step_counted_exact():
    """init -DBL_MAX plus the 54-bit product 3 * y = N * 2**970 with N = 3 (mod 4): the
    MAC's result r = N * 2**970 - DBL_MAX is exact, and so counted, although inside the
    check TwoSum(r, DBL_MAX) meets the tie fl(N * 2**970), which rounds up; and exact
    steps whose product or r - s overflows float64."""
    y = math.ldexp(2**52 + 1, 970)                     # N = 3 * (2**52 + 1) = 3 (mod 4)
    for mode in DET_MODES:
        spec = AccumSpec(fpsim.formats.binary64, rounding=mode)
        check([3.0], [y], spec, init=-DBL_MAX)
        check([3.0, 1.0], [y, X_TIE], spec, init=-DBL_MAX)
        check([-3.0], [y], spec, init=DBL_MAX)
        # products beyond float64's range that the running sum brings back, exactly:
        # 2**1024 - DBL_MAX = 2**971, 1.5 * DBL_MAX - DBL_MAX = DBL_MAX / 2
        check([2.0**512], [2.0**512], spec, init=-DBL_MAX)
        check([DBL_MAX, -DBL_MAX], [1.5, 0.5], spec, init=-DBL_MAX)


@st.composite
def top_lean_cases(draw):
    """e11 accumulators (m <= 50) with exact products below 2**1021 that sum up to near
    2**1024: the lean (vectorised) step of sequential / chunked / kahan / pairwise, RNE or
    RTZ, with ties and overflow at the top."""
    acc = Format(11, draw(st.sampled_from([50, 48, 44, 23])))
    n = draw(st.integers(1, 24))
    a = [math.ldexp(draw(st.integers(2**20, 2**21 - 1)), draw(st.integers(990, 999)))
         * draw(st.sampled_from([1.0, 1.0, -1.0])) for _ in range(n)]
    b = [math.ldexp(draw(st.integers(1, 2**31 - 1)) | 1, -31 + draw(st.integers(-3, 1)))
         for _ in range(n)]
    order = draw(st.sampled_from(["sequential", "chunked", "pairwise", "kahan"]))
    kw = {"chunk": draw(st.integers(1, 5))} if order == "chunked" else {}
    spec = AccumSpec(acc, rounding=draw(st.sampled_from(["rne", "rtz"])), order=order, **kw)
    return a, b, spec


@settings(max_examples=100)
@given(top_lean_cases())
def test_top_of_range_lean_step(case):
    a, b, spec = case
    check(a, b, spec)
    # and side by side in a matmul (the vectorised lean loop): columns b, -b, 2b
    a, b = np.asarray(a), np.asarray(b)
    B = np.stack([b, -b, b * 2], axis=1)
    C = fpsim.matmul(a[None, :], B, spec)[0]
    for j in range(3):
        want, _ = ref_dot(a.tolist(), B[:, j].tolist(), acc=spec.acc, rounding=str(spec.rounding),
                          order=spec.order, chunk=spec.chunk, outer=spec.outer)
        assert same_bits(C[j], want), (spec, j, hexs(a), hexs(B[:, j]), float(C[j]).hex(), want)
