"""The block-FMA order (fpsim.BlockFMA) against the exact reference (tests/reference), alone
and inside Chunked: random and constructed cases, bits compared, failures printed in hex."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fpsim
from fpsim import AccumSpec, BlockFMA, Chunked
from reference.accumulate import ref_dot, ref_matmul

MODES = ["rne", "rna", "rtz", "ru", "rd", "rto"]


def _bits(x):
    x = float(x)
    return "nan" if math.isnan(x) else int(np.float64(x).view(np.uint64))


def check(A, B, spec, *, init=0.0, seed=None):
    """fpsim.matmul (with and without counts) against ref_matmul, bit for bit."""
    A = np.atleast_2d(np.asarray(A, float))
    B = np.asarray(B, float)
    B = B[:, None] if B.ndim == 1 else B
    got, st = fpsim.matmul(A, B, spec, init=init, stats=True, seed=seed)
    plain = fpsim.matmul(A, B, spec, init=init, seed=seed)
    want, cnt = ref_matmul(A.tolist(), B.tolist(), acc=spec.acc, rounding=str(spec.rounding),
                           order=spec.order, init=init, seed=seed)
    bad = []
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            for name, value in (("stats", got[i, j]), ("plain", plain[i, j])):
                if _bits(value) != _bits(want[i][j]):
                    bad.append(f"[{i},{j}] {name}: got {float(value).hex()}, want "
                               f"{float(want[i][j]).hex()}; a={[x.hex() for x in A[i]]} "
                               f"b={[float(x).hex() for x in B[:, j]]}")
    assert not bad, f"{spec}:\n" + "\n".join(bad[:6])
    assert (st.full, st.partial, st.inexact) == (cnt["full"], cnt["partial"], cnt["inexact"]), (
        spec, st, cnt)


def _operands(rng, fmt, shape, spread=6):
    x = rng.standard_normal(shape) * 2.0 ** rng.integers(-spread, spread + 1, shape)
    return fpsim.quantize(x, fmt)


@pytest.mark.parametrize("G,w", [(1, 5), (3, 8), (4, 25), (16, 25), (32, 13), (4, 40), (16, 50)])
@pytest.mark.parametrize("acc", ["fp32", "fp16", "e8m13"])
def test_random_alone(G, w, acc):
    rng = np.random.default_rng(G * 100 + w)
    A = _operands(rng, "fp16", (2, 37))
    B = _operands(rng, "fp16", (37, 5))
    for mode in ("rtz", "rne"):
        check(A, B, AccumSpec(acc, rounding=mode, order=BlockFMA(G, w)))


@pytest.mark.parametrize("inner", [BlockFMA(16, 25), BlockFMA(32, 13), BlockFMA(4, 6)])
def test_random_chunked(inner):
    rng = np.random.default_rng(inner.group)
    A = _operands(rng, "bf16", (2, 70))
    B = _operands(rng, "bf16", (70, 4))
    check(A, B, AccumSpec("e8m13", rounding="rtz", order=Chunked(24, inner=inner, outer="fp32")))
    check(A, B, AccumSpec("fp32", order=Chunked(40, inner=Chunked(20, inner=inner,
                                                                  outer="fp32"), outer="fp32")))
    # the step's own rounding (rtz) beside the outer additions' (rne): hopper-fp8's shape
    step = BlockFMA(inner.group, inner.align_bits, rounding="rtz")
    check(A, B, AccumSpec("e8m13", order=Chunked(32, inner=step, outer="fp32")), init=0.75)


@pytest.mark.parametrize("mode", MODES + ["sr"])
def test_every_final_rounding(mode):
    rng = np.random.default_rng(7)
    A = _operands(rng, "fp16", (2, 20))
    B = _operands(rng, "fp16", (20, 3))
    seed = 11 if mode == "sr" else None
    check(A, B, AccumSpec("e5m6", rounding=mode, order=BlockFMA(4, 9)), seed=seed)
    check(A, B, AccumSpec("e5m6", rounding=mode, order=Chunked(8, inner=BlockFMA(4, 9),
                                                               outer="fp16")), seed=seed)


@pytest.mark.parametrize("term", ["rne", "rna", "ru", "rd", "rto"])
def test_term_rounding(term):
    rng = np.random.default_rng(3)
    A = _operands(rng, "fp16", (2, 24))
    B = _operands(rng, "fp16", (24, 3))
    check(A, B, AccumSpec("fp32", rounding="rne", order=BlockFMA(8, 4, term_rounding=term)))
    # constructed ties on the grid: 1 + 2**-5 at w = 4 is half a unit
    check([1.0, 2.0**-5, -(2.0**-5), 3 * 2.0**-5], [1.0, 1.0, 1.0, 1.0],
          AccumSpec("fp32", order=BlockFMA(4, 4, term_rounding=term)))


def test_align_on_product():
    # 1.5 * 1.5 = 2.25: its significand lands in [2, 4); operands align at E = 0 and keep
    # c = 1.125, the product's exponent (1) truncates it to 1.0
    spec = AccumSpec("fp32", rounding="rtz", order=BlockFMA(1, 3))
    assert float(fpsim.dot([1.5], [1.5], spec, init=1.125)) == 3.375
    prod = AccumSpec("fp32", rounding="rtz", order=BlockFMA(1, 3, align_exponent="product"))
    assert float(fpsim.dot([1.5], [1.5], prod, init=1.125)) == 3.25
    rng = np.random.default_rng(5)
    A = _operands(rng, "fp16", (2, 33))
    B = _operands(rng, "fp16", (33, 3))
    check(A, B, AccumSpec("fp32", rounding="rtz", order=BlockFMA(16, 10, align_exponent="product")))
    check([1.5], [1.5], spec, init=1.125)
    check([1.5], [1.5], prod, init=1.125)


def test_swamped_terms_and_counts():
    # one large term, small ones below the grid: full swamping; partly below: partial
    a = [2.0**10, 2.0**-20, 3 * 2.0**-3, 1.0]          # grid 2**(10 - 12)
    spec = AccumSpec("fp32", rounding="rtz", order=BlockFMA(4, 12))
    v, st = fpsim.dot(a, [1.0] * 4, spec, stats=True)
    assert float(v) == 2.0**10 + 0.25 + 1.0
    assert (st.full, st.partial, st.additions) == (1, 1, 4)
    check(a, [1.0] * 4, spec)
    check(a, [1.0] * 4, AccumSpec("fp32", order=Chunked(2, inner=BlockFMA(4, 12))))


@pytest.mark.parametrize("mode", ["rne", "rtz", "rd", "ru"])
def test_zeros_and_cancellation(mode):
    spec = AccumSpec("fp32", rounding=mode, order=BlockFMA(4, 25))
    check([1.5, -1.5, 2.0, -2.0], [1.0] * 4, spec)                      # exact cancellation
    check([1.0, -1.0, 2.0**-40], [1.0] * 3, spec)                      # the tiny term is lost
    check([-0.0, 0.0, -0.0], [1.0, -1.0, 1.0], spec, init=-0.0)        # all -0
    check([-0.0, 0.0], [1.0, 1.0], spec, init=-0.0)                    # mixed zeros
    check([0.0, 0.0], [1.0, 1.0], spec)                                # all +0
    for init in (-0.0, 0.5):                                           # no products
        want, _ = ref_dot([], [], acc=spec.acc, rounding=mode, order=spec.order, init=init)
        assert _bits(fpsim.dot(np.zeros(0), np.zeros(0), spec, init=init)) == _bits(want)
    check([-0.0], [1.0], AccumSpec("fp32", rounding=mode,
                                   order=Chunked(1, inner=BlockFMA(4, 25))), init=-0.0)
    for fnuz in ("e4m3fnuz",):
        check([1.0, -1.0], [1.0, 1.0], AccumSpec(fnuz, rounding=mode, order=BlockFMA(2, 6)))


def test_overflow_and_specials():
    big = 65504.0
    for mode in MODES:
        spec = AccumSpec("fp16", rounding=mode, order=BlockFMA(2, 12))
        check([big, big], [1.0, 1.0], spec)
        check([-big, -big, big], [1.0, 1.0, 0.5], spec)
        check([math.inf, 1.0], [1.0, 1.0], spec)
        check([math.inf, 1.0, -math.inf], [1.0, 1.0, 1.0], spec)
        check([0.0, 1.0], [math.inf, 1.0], spec)                       # 0 * inf = NaN
        check([math.nan, 1.0], [1.0, 1.0], spec)
    check([big, big, 1.0], [1.0, 1.0, -1.0], AccumSpec("fp16", order=BlockFMA(1, 12)))
    check([1.0e4, 1.0e4], [10.0, 10.0], AccumSpec("e4m3fn", order=BlockFMA(2, 6)))


def test_subnormal_operands():
    rng = np.random.default_rng(9)
    sub = fpsim.quantize(rng.standard_normal((2, 20)) * 2.0**-20, "fp16")   # many subnormal
    B = _operands(rng, "fp16", (20, 3), spread=2)
    for acc in ("fp32", "fp16"):
        check(sub, B, AccumSpec(acc, rounding="rtz", order=BlockFMA(8, 25)))
        check(sub, B * 2.0**-10, AccumSpec(acc, rounding="rne", order=BlockFMA(8, 13)))
    check([2.0**-24, 2.0**-14], [2.0**-24, 1.0], AccumSpec("fp16", order=BlockFMA(2, 11)))


def test_many_lanes_and_tiles():
    # more columns than one tile and several rows: the parallel kernel
    rng = np.random.default_rng(13)
    A = _operands(rng, "bf16", (3, 40))
    B = _operands(rng, "bf16", (40, 300))
    spec = AccumSpec("fp32", rounding="rtz", order=BlockFMA(16, 25))
    got = fpsim.matmul(A, B, spec)
    for j in (0, 1, 255, 256, 299):
        for i in range(3):
            assert _bits(got[i, j]) == _bits(fpsim.dot(A[i], B[:, j], spec))
    check(A[:, :20], B[:20, 250:262], spec)


def test_refusals():
    with pytest.raises(ValueError, match="group"):
        BlockFMA(0, 25)
    with pytest.raises(TypeError, match="group"):
        BlockFMA(2.5, 25)
    with pytest.raises(ValueError, match="align_bits"):
        BlockFMA(16, -1)
    with pytest.raises(ValueError, match="align_bits"):
        BlockFMA(4096, 60)
    with pytest.raises(ValueError, match="term_rounding"):
        BlockFMA(16, 25, term_rounding="sr")
    with pytest.raises(ValueError, match="align_exponent"):
        BlockFMA(16, 25, align_exponent="max")
    with pytest.raises(ValueError, match="product=None"):
        AccumSpec("fp32", product="fp16", order=BlockFMA(16, 25))
    with pytest.raises(ValueError, match="float64 holds exactly"):
        fpsim.dot([0.1], [0.3], AccumSpec("fp32", order=BlockFMA(16, 25)))
    assert repr(BlockFMA(16, 25, term_rounding="rne", rounding="rtz")) == (
        "BlockFMA(16, 25, term_rounding='rne', rounding='rtz')")
    assert repr(Chunked(128, inner=BlockFMA(32, 13), outer="fp32")) == (
        "Chunked(128, inner=BlockFMA(32, 13), outer=e8m23)")


def test_measure_vrr_operands_align_on_operands():
    """measure_vrr(operands=...) equals fpsim.dot trial by trial for a block order too (the
    sum-of-products shortcut would align each product on its own exponent)."""
    from fpsim.analysis.measure import measure_vrr
    a = np.array([[1.5, 1.5], [1.5, 1.25], [1.75, 1.5]])
    b = np.full((3, 2), 1.5)
    spec = AccumSpec("fp32", rounding="rtz", order=BlockFMA(2, 2))
    m = measure_vrr(spec=spec, operands=(a, b))
    for t in range(3):
        assert m.sums[t] == float(fpsim.dot(a[t], b[t], spec))
    assert m.sums[0] == 4.5               # summing the products 2.25 would give 4.0
