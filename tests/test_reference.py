"""Checks of the reference itself: hand-computed cases, and agreement with independent oracles
(numpy float16/float64, ml_dtypes code tables, MPFR).  No fpsim code is exercised here except
``fpsim.formats`` presets read through their plain fields."""
from __future__ import annotations

import math

import gmpy2
import ml_dtypes
import numpy as np
import pytest

import reference as ref
from helpers import P, SMALL_PRESETS, assert_same_bits

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")

E5M2 = (5, 2, 15, "ieee", True)
E4M3FN = (4, 3, 7, "fn", True)
E4M3FNUZ = (4, 3, 8, "fnuz", True)
FP4 = (2, 1, 1, "finite", True)
F16 = (5, 10, 15, "ieee", True)
F64 = (11, 52, 1023, "ieee", True)


def R(x, p, mode="rne", **kw):
    return ref.round_to_format(x, *p, mode, **kw)


def bits_equal(a, b):
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


# (x, format, {mode: expected}); sr given with r as a fraction of 2**52
HAND = [
    # e5m2 around 1: grid 1, 1.25, 1.5, 1.75; 1.125 is a tie with t = 4 (even)
    (1.125, E5M2, dict(rne=1.0, rna=1.25, rtz=1.0, ru=1.25, rd=1.0, rto=1.25)),
    (-1.125, E5M2, dict(rne=-1.0, rna=-1.25, rtz=-1.0, ru=-1.0, rd=-1.25, rto=-1.25)),
    # 1.375: tie between 1.25 (t = 5, odd) and 1.5
    (1.375, E5M2, dict(rne=1.5, rna=1.5, rtz=1.25, ru=1.5, rd=1.25, rto=1.25)),
    (1.125 + 2**-52, E5M2, dict(rne=1.25, rna=1.25, rtz=1.0, ru=1.25, rd=1.0, rto=1.25)),
    (1.125 - 2**-52, E5M2, dict(rne=1.0, rna=1.0, rtz=1.0, ru=1.25, rd=1.0, rto=1.25)),
    (1.25, E5M2, dict(rne=1.25, rna=1.25, rtz=1.25, ru=1.25, rd=1.25, rto=1.25)),
    # 1.75 + 1/8 = 1.875: tie between 1.75 (t = 7) and 2.0 (t + 1 = 8 = 2**(m+1), even)
    (1.875, E5M2, dict(rne=2.0, rna=2.0, rtz=1.75, ru=2.0, rd=1.75, rto=1.75)),
    # e5m2 max 57344 = 1.75 * 2**15, quantum 8192; 61440 is the tie to 65536 (overflow)
    (61440.0, E5M2, dict(rne=math.inf, rna=math.inf, rtz=57344.0, ru=math.inf, rd=57344.0,
                         rto=57344.0)),
    (-61440.0, E5M2, dict(rne=-math.inf, rna=-math.inf, rtz=-57344.0, ru=-57344.0,
                          rd=-math.inf, rto=-57344.0)),
    (61439.0, E5M2, dict(rne=57344.0, rna=57344.0, rtz=57344.0, ru=math.inf, rd=57344.0,
                         rto=57344.0)),
    (70000.0, E5M2, dict(rne=math.inf, rtz=57344.0, rto=57344.0)),
    (1e300, E5M2, dict(rne=math.inf, rtz=57344.0, ru=math.inf, rd=57344.0)),
    # subnormals: emin = -14, quantum 2**-16; 2**-17 is the tie between 0 and 2**-16
    (2.0**-17, E5M2, dict(rne=0.0, rna=2.0**-16, rtz=0.0, ru=2.0**-16, rd=0.0, rto=2.0**-16)),
    (-(2.0**-17), E5M2, dict(rne=-0.0, rna=-(2.0**-16), rtz=-0.0, ru=-0.0, rd=-(2.0**-16),
                            rto=-(2.0**-16))),
    (3 * 2.0**-17, E5M2, dict(rne=2.0**-15, rna=2.0**-15, rtz=2.0**-16, rto=2.0**-16)),
    (2.0**-17 + 2.0**-60, E5M2, dict(rne=2.0**-16)),
    (5e-324, E5M2, dict(rne=0.0, ru=2.0**-16, rto=2.0**-16, rd=0.0)),
    # largest subnormal 3 * 2**-16 and the smallest normal 2**-14 = 4 * 2**-16
    (3.5 * 2.0**-16, E5M2, dict(rne=2.0**-14, rtz=3 * 2.0**-16, rto=3 * 2.0**-16)),
    # e4m3fn: max 448 = 14 * 32, quantum 32 in [256, 512); 480 (t = 15) would be the NaN code.
    # 464 is the tie between 448 (t = 14, even) and 480: rne keeps 448; modes that go to 480
    # overflow, and overflow in fn is NaN whatever the mode (rtz of 500 truncates to 480 > max).
    (448.0, E4M3FN, dict(rne=448.0, rtz=448.0, ru=448.0)),
    (464.0, E4M3FN, dict(rne=448.0, rna=math.nan, rtz=448.0, rd=448.0, ru=math.nan,
                         rto=math.nan)),
    (463.9, E4M3FN, dict(rne=448.0, ru=math.nan, rto=math.nan)),
    (472.0, E4M3FN, dict(rne=math.nan, rtz=448.0)),
    (500.0, E4M3FN, dict(rne=math.nan, rtz=math.nan, rd=math.nan)),
    (math.inf, E4M3FN, dict(rne=math.nan, rtz=math.nan)),
    (-0.0, E4M3FN, dict(rne=-0.0)),
    # e4m3fnuz: max 240, no -0
    (-(2.0**-12), E4M3FNUZ, dict(rne=0.0, rtz=0.0, ru=0.0, rd=-(2.0**-10))),
    (-0.0, E4M3FNUZ, dict(rne=0.0, rd=0.0)),
    (248.0, E4M3FNUZ, dict(rne=math.nan, rtz=240.0)),
    # fp4 e2m1 (finite): 0, .5, 1, 1.5, 2, 3, 4, 6; overflow and inf saturate
    (5.0, FP4, dict(rne=4.0, rna=6.0, rtz=4.0, ru=6.0, rto=6.0)),   # 5 = tie 4 (t=2) / 6 (t=3)
    (7.0, FP4, dict(rne=6.0, rna=6.0, ru=6.0)),                     # tie 6 / 8 -> 8 overflows
    (100.0, FP4, dict(rne=6.0, rtz=6.0)),
    (-math.inf, FP4, dict(rne=-6.0)),
    (0.25, FP4, dict(rne=0.0, rna=0.5, rto=0.5)),
    (0.75, FP4, dict(rne=1.0, rna=1.0, rtz=0.5, rto=0.5)),          # 0.75: tie .5 (t=1) / 1
    # binary64 is the identity on float64
    (0.1, F64, dict(rne=0.1, rna=0.1, rtz=0.1, ru=0.1, rd=0.1, rto=0.1)),
    (5e-324, F64, dict(rne=5e-324, rtz=5e-324)),
]


@pytest.mark.parametrize("x,p,cases", HAND)
def test_hand_cases(x, p, cases):
    for mode, expected in cases.items():
        got = R(x, p, mode)
        assert bits_equal(got, expected), (x.hex(), p, mode, got, expected)


def test_sr_hand_cases():
    # 1.125 in e5m2: F = 1/2. Away iff F > r / 2**k.
    assert R(1.125, E5M2, "sr", r=2**51 - 1) == 1.25
    assert R(1.125, E5M2, "sr", r=2**51) == 1.0
    assert R(-1.125, E5M2, "sr", r=0) == -1.25
    assert R(1.0, E5M2, "sr", r=0) == 1.0                            # exact: never moves
    # k = 2: F = 0.3 -> away iff 0.3 > r/4 iff r in {0, 1}: P = 2/4 = ceil(0.3*4)/4
    x = 1 + 0.3 * 0.25
    assert [R(x, E5M2, "sr", r=r, k=2) for r in range(4)] == [1.25, 1.25, 1.0, 1.0]
    assert R(61440.0, E5M2, "sr", r=0) == math.inf
    assert R(2.0**-17, E5M2, "sr", r=0) == 2.0**-16


def test_subnormals_off_hand_cases():
    p = (5, 2, 15, "ieee", False)                      # grid continues below 2**-14, then flush
    assert R(2.0**-15, p) == 0.0
    assert bits_equal(R(-(2.0**-15), p), -0.0)
    assert R(2.0**-14, p) == 2.0**-14
    assert R(2.0**-14 - 2.0**-40, p) == 2.0**-14                 # rounds up to 2**emin: kept
    assert R(0.875 * 2.0**-14, p) == 0.0                        # on the grid below: 1.75*2**-15 -> flush
    assert R(0.9375 * 2.0**-14, p) == 2.0**-14                 # tie 1.75 / 2.0 * 2**-15 -> 2**-14
    assert R(0.9375 * 2.0**-14, p, "rtz") == 0.0
    assert R(2.0**-30, p, "ru") == 0.0                         # exact on the unbounded grid: flushed
    assert R(3 * 2.0**-32, p, "ru") == 0.0


def test_m0_ties_round_up():
    """m = 0: the lower neighbour 2**E has t = 1 (odd), so rne ties go up; as ml_dtypes' e8m0."""
    p = (8, 0, 127, "finite", True)
    assert R(1.5, p) == 2.0 and R(3.0, p) == 4.0 and R(0.75, p) == 1.0
    assert R(1.4, p) == 1.0 and R(1.5, p, "rto") == 1.0
    x = np.array([1.5, 3.0, 0.75, 1.4, 2.9, 6.0], dtype=np.float32)
    ml = x.astype(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    assert [R(float(v), p) for v in x] == ml.tolist()


def test_vs_numpy_float16_random():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(30000) * 10.0 ** rng.integers(-10, 6, 30000),
                        rng.uniform(-66000, 66000, 3000),
                        (rng.integers(0, 2**11, 3000) + 0.5) * 2.0 ** rng.integers(-25, 6, 3000)])
    exp = x.astype(np.float16).astype(np.float64)
    got = np.array([R(float(v), F16) for v in x])
    assert_same_bits(got, exp, x, "reference vs numpy float16")


@pytest.mark.parametrize("name,dt", [
    ("binary16", np.float16), ("bfloat16", ml_dtypes.bfloat16),
    ("fp8_e4m3fn", ml_dtypes.float8_e4m3fn), ("fp8_e5m2", ml_dtypes.float8_e5m2),
    ("fp8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz), ("fp8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz),
    ("fp6_e3m2", ml_dtypes.float6_e3m2fn), ("fp6_e2m3", ml_dtypes.float6_e2m3fn),
    ("fp4_e2m1", ml_dtypes.float4_e2m1fn)])
def test_decode_table_vs_ml_dtypes(name, dt):
    p = P(SMALL_PRESETS[name])
    bits = 1 + p[0] + p[1]
    codes = np.arange(2**bits, dtype=np.uint16 if bits > 8 else np.uint8)
    expected = codes.view(dt).astype(np.float64)
    got = np.array([v for _, v in ref.all_values(*p)])
    assert_same_bits(got, expected, codes.astype(np.float64), f"decode table {name}")
    # encode_one inverts decode_one (NaN codes -> the canonical one)
    nan_code = ref.canonical_nan_code(*p)
    for c, v in ref.all_values(*p):
        if math.isnan(v):
            assert ref.encode_one(v, *p) == nan_code
        elif p[3] == "fnuz" and v == 0:
            assert ref.encode_one(v, *p) == 0
        else:
            assert ref.encode_one(v, *p) == c, (name, hex(c), v)


def test_every_value_rounds_to_itself():
    for name, fmt in SMALL_PRESETS.items():
        p = P(fmt)
        modes = ("rne", "rtz", "ru", "rd", "rto") if fmt.bits <= 8 else ("rne", "rd")
        for _, v in ref.all_values(*p):
            for mode in modes:
                assert bits_equal(R(v, p, mode), v if not (p[3] == "fnuz" and v == 0) else 0.0), (name, v, mode)


def test_splitmix64_known_values():
    # first outputs of SplitMix64 (Vigna's splitmix64.c, state advanced before mixing)
    assert ref.splitmix64(0, 0) == 0xE220A8397B1DCDAF
    assert ref.splitmix64(1234567, 0) == 6457827717110365317
    assert ref.splitmix64(1234567, 1) == 3203168211198807973
    assert ref.sr_random(0, 0, 52) == 0xE220A8397B1DCDAF >> 12
    assert ref.sr_random(0, 0, 1) == 1


def test_ops_vs_numpy_float64():
    rng = np.random.default_rng(1)
    n = 3000
    a = rng.standard_normal(n) * 2.0 ** rng.integers(-1070, 1020, n)
    b = rng.standard_normal(n) * 2.0 ** rng.integers(-1070, 1020, n)
    sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 5e-324, 1.7976931348623157e308])
    a = np.concatenate([a, np.repeat(sp, sp.size), a[:50]])
    b = np.concatenate([b, np.tile(sp, sp.size), -a[:50]])
    with np.errstate(all="ignore"):
        for name, f in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                        ("div", np.divide)]:
            exp = f(a, b)
            got = np.array([ref.ref_op(name, (x, y), *F64) for x, y in zip(a.tolist(), b.tolist())])
            assert_same_bits(got, exp, (a, b), f"reference {name} vs numpy")
        exp = np.sqrt(a)
    got = np.array([ref.ref_op("sqrt", (x,), *F64) for x in a.tolist()])
    assert_same_bits(got, exp, a, "reference sqrt vs numpy")
    # rd: exact zero sum is -0
    assert bits_equal(ref.ref_op("add", (1.0, -1.0), *F64, "rd"), -0.0)
    assert bits_equal(ref.ref_op("sub", (-0.0, 0.0), *F64, "rne"), -0.0)
    assert bits_equal(ref.ref_op("add", (-0.0, 0.0), *F64, "rne"), 0.0)


@pytest.mark.parametrize("m", [0, 1, 2, 3, 10, 23, 30, 52])
def test_sqrt_vs_mpfr(m):
    rng = np.random.default_rng(m)
    xs = np.abs(rng.standard_normal(400)) * 2.0 ** rng.integers(-1074, 1000, 400)
    xs = xs[xs > 0]
    p = (11, m, 1023, "ieee", True)
    ctx = gmpy2.context(precision=m + 1, emax=1024, emin=-1022 - m + 1, subnormalize=True)
    for mode, rnd in [("rne", gmpy2.RoundToNearest), ("rtz", gmpy2.RoundToZero),
                      ("ru", gmpy2.RoundUp), ("rd", gmpy2.RoundDown)]:
        ctx.round = rnd
        for x in xs.tolist():
            xm = gmpy2.mpfr(x, 53)                 # outside ctx: its emin would flush x
            with ctx:
                exp = float(gmpy2.sqrt(xm))
            assert R(ref.exact_sqrt(x), p, mode) == exp, (x.hex(), m, mode)


def test_fma_vs_mpfr():
    rng = np.random.default_rng(9)
    n = 2000
    a = rng.standard_normal(n) * 2.0 ** rng.integers(-540, 510, n)
    b = rng.standard_normal(n) * 2.0 ** rng.integers(-540, 510, n)
    c = np.where(rng.random(n) < 0.5, -a * b, rng.standard_normal(n)) * (1 + 2.0**-30)
    ctx = gmpy2.context(precision=53, emax=1024, emin=-1073, subnormalize=True)
    for x, y, z in zip(a.tolist(), b.tolist(), c.tolist()):
        xm, ym, zm = gmpy2.mpfr(x, 53), gmpy2.mpfr(y, 53), gmpy2.mpfr(z, 53)
        with ctx:
            exp = float(gmpy2.fma(xm, ym, zm))
        got = ref.ref_op("fma", (x, y, z), *F64)
        assert bits_equal(got, exp), (x.hex(), y.hex(), z.hex(), got, exp)


# ---------------------------------------------------------------------------------------------
# accumulation reference, by hand (e5m2 accumulator: grid 1, 1.25, 1.5, 1.75 around 1)
# ---------------------------------------------------------------------------------------------
A5 = [1.0] * 5
B5 = [1.0, 0.125, 0.125, 0.125, 0.125]


@pytest.mark.parametrize("order,kw,value,counts", [
    # 1, then four ties 1 + 1/8 -> 1 (t = 4 even): full swamping each time
    ("sequential", {}, 1.0, dict(full=4, partial=0, inexact=4)),
    # chunks [1, 1/8] -> 1 (full), [1/8, 1/8] -> 1/4, [1/8]; outer 0+1, 1+1/4, 1.25+1/8 -> 1.5
    ("chunked", dict(chunk=2), 1.5, dict(full=1, partial=1, inexact=2)),
    # tree: ((1 + 1/8) -> 1 full) + (1/8 + (1/8 + 1/8)) = 1 + 3/8 -> 1.5 (partial)
    ("pairwise", {}, 1.5, dict(full=1, partial=1, inexact=2)),
    # kahan: c picks up the lost 1/8 and re-injects it
    ("kahan", {}, 1.5, dict(full=1, partial=1, inexact=2)),
    ("exact", {}, 1.5, dict(full=0, partial=0, inexact=0)),
    ("chunked", dict(chunk=5), 1.0, dict(full=4, partial=0, inexact=4)),
])
def test_ref_dot_hand(order, kw, value, counts):
    v, c = ref.ref_dot(A5, B5, acc=E5M2, order=order, **kw)
    assert v == value and c == counts, (order, v, c)


def test_ref_dot_products_and_specials():
    f32 = (8, 23, 127, "ieee", True)
    # 1.5 * 1.5 = 2.25: exact into binary32, or first rounded into e5m2 (tie -> 2.0)
    assert ref.ref_dot([1.5], [1.5], acc=f32)[0] == 2.25
    assert ref.ref_dot([1.5], [1.5], acc=f32, product=E5M2)[0] == 2.0
    assert ref.ref_dot([1.5], [1.5], acc=f32, product=E5M2, product_rounding="ru")[0] == 2.5
    # fused: 1 + 2**-30 * 2**-30 is lost in binary32 but not when accumulated exactly
    assert ref.ref_dot([1.0, 2.0**-30], [1.0, 2.0**-30], acc=f32)[0] == 1.0
    assert ref.ref_dot([1.0, 2.0**-30], [1.0, 2.0**-30], acc=f32, rounding="ru")[0] == float(
        np.nextafter(np.float32(1), np.float32(2)))
    # IEEE specials
    assert ref.ref_dot([math.inf, 1.0], [1.0, 1.0], acc=E5M2)[0] == math.inf
    assert math.isnan(ref.ref_dot([math.inf, -math.inf], [1.0, 1.0], acc=E5M2)[0])
    assert math.isnan(ref.ref_dot([math.inf], [0.0], acc=E5M2)[0])
    assert math.isnan(ref.ref_dot([1e5], [1.0], acc=E4M3FN)[0])      # overflow in fn -> NaN
    # signed zeros: +0 + (-0) = +0, -0 under rd, -0 + -0 = -0
    assert bits_equal(ref.ref_dot([-0.0], [1.0], acc=E5M2)[0], 0.0)
    assert bits_equal(ref.ref_dot([-0.0], [1.0], acc=E5M2, rounding="rd")[0], -0.0)
    assert bits_equal(ref.ref_dot([-0.0], [1.0], acc=E5M2, init=-0.0)[0], -0.0)
    assert bits_equal(ref.ref_dot([1.0, -1.0], [1.0, 1.0], acc=E5M2, order="exact", rounding="rd")[0], -0.0)
    # init is added exactly, n = 0 gives R(init)
    assert ref.ref_dot([], [], acc=E5M2, init=1.1)[0] == 1.0
    assert ref.ref_dot([0.125], [1.0], acc=E5M2, init=1.0, order="pairwise")[0] == 1.0
    # outer format of chunked: chunk sums 1.25 each, summed in binary32
    v, c = ref.ref_dot([1.0, 0.25] * 3, [1.0] * 6, acc=E5M2, order="chunked", chunk=2, outer=f32)
    assert v == 3.75 and c == dict(full=0, partial=0, inexact=0)


# ---------------------------------------------------------------------------------------------
# the MAC's random streams (docs/semantics.md, "Random streams"), by hand
# ---------------------------------------------------------------------------------------------
HALF = 2**51                      # 1 + 1/8 in e5m2 is F = 1/2 of a quantum: up iff r < 2**51


def _up(state, index):
    return ref.sr_random(state, index, 52) < HALF


@pytest.mark.parametrize("a, b, kw, index", [
    # sequential: 0+1, 1+0, 1+0 exact; the 4th addition (t = 3) decides
    ([1.0, 0.0, 0.0, 0.125], [1.0] * 4, dict(order="sequential"), 3),
    # chunked C=2: chunk 1 (c = 1) holds products 2, 3; product 3's addition is t = 3 + c = 4
    ([0.0, 0.0, 1.0, 0.125], [1.0] * 4, dict(order="chunked", chunk=2), 4),
    # ... and chunk 1's outer addition 1 + 1/8 is t = e_1 + c = 4 + 1 = 5
    ([1.0, 0.0, 0.125, 0.0], [1.0] * 4, dict(order="chunked", chunk=2), 5),
    # pairwise, post-order: (0,2) t = 0, (2,4) t = 1, root (0,4) = 1 + 1/8 t = 2, final t = 3
    ([1.0, 0.0, 0.0, 0.125], [1.0] * 4, dict(order="pairwise"), 2),
    # kahan: step 1's t = R(s + y) = 1 + 1/8 is 4k + 1 = 5
    ([1.0, 0.125], [1.0] * 2, dict(order="kahan"), 5),
    # exact: the one rounding is t = 0
    ([1.0, 0.125], [1.0] * 2, dict(order="exact"), 0),
])
def test_mac_sr_addition_index(a, b, kw, index):
    for seed in range(24):                   # the draws differ between indices for some seed
        for o in (0, 5):
            v, _ = ref.ref_dot(a, b, acc=E5M2, rounding="sr", seed=seed, element=o, **kw)
            want = 1.25 if _up(ref.splitmix64(seed, 2 * o), index) else 1.0
            assert v == want, (kw, seed, o, v)


def test_mac_sr_final_pairwise_and_product_index():
    for seed in range(24):
        # pairwise n = 3: nodes (1,3) t = 0 and (0,3) t = 1 exact, final 1 + 1/8 is t = n - 1 = 2
        v, _ = ref.ref_dot([0.0, 0.0, 0.125], [1.0] * 3, acc=E5M2, rounding="sr", seed=seed,
                           order="pairwise", init=1.0)
        assert v == (1.25 if _up(ref.splitmix64(seed, 0), 2) else 1.0)
        # the product of step 2 rounded into e5m2 under sr draws index 2 of SM(s, 2o + 1)
        for o in (0, 3):
            v, _ = ref.ref_dot([0.0, 0.0, 1.0], [1.0, 1.0, 1.125], acc=F16, product=E5M2,
                               rounding="rne", product_rounding="sr", seed=seed, element=o)
            assert v == (1.25 if _up(ref.splitmix64(seed, 2 * o + 1), 2) else 1.0)
    assert ref.mac_stream(7, 3, "add") == ref.splitmix64(7, 6)
    assert ref.mac_stream(7, 3, "product") == ref.splitmix64(7, 7)


def test_mac_sr_no_products_no_draw():
    assert ref.ref_dot([], [], acc=E5M2, rounding="sr", seed=1, init=1.25)[0] == 1.25
    with pytest.raises(ValueError, match="init"):
        ref.ref_dot([], [], acc=E5M2, rounding="sr", seed=1, init=1.1)
    with pytest.raises(ValueError, match="seed"):
        ref.ref_dot([1.0], [1.0], acc=E5M2, rounding="sr")


def test_batch_seed_is_numpy_seed_sequence():
    rng = np.random.default_rng(11)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**64 - 1] + [int(v) for v in rng.integers(0, 2**63, 20)]
    batches = [1, 2, 3, 2**32 - 1, 2**32 + 5, 2**70 + 1] + [int(v) for v in rng.integers(1, 10**6, 5)]
    for s in seeds:
        assert ref.batch_seed(s, 0) == s
        for b in batches:
            want = int(np.random.SeedSequence([s, b]).generate_state(1, np.uint64)[0])
            assert ref.batch_seed(s, b) == want, (s, b)


def test_top_of_binary64_vs_mpfr():
    """add/sub/fma whose exact results lie near 2**1024 (ties of binary64 against DBL_MAX,
    overflow by mode), against MPFR in the four directed/nearest modes, and the TestFloat
    level-1 vector f64_sub(0xffdffffffffdffff, 0xffefffffffffffff)."""
    M = 1.7976931348623157e308
    x = float.fromhex("0x1.ffffffffdffffp+1022")
    rng = np.random.default_rng(1024)
    xs = [x, 2.0**970, 3 * 2.0**970, 2.0**1022 + 2.0**970, 2.0**1023 - 2.0**970, 2.0**969,
          float(np.nextafter(x, 0)), float(np.nextafter(x, np.inf))]
    xs += [math.ldexp(int(v) | 1, 970) for v in rng.integers(2**51, 2**53, 6)]
    ys = [M, float(np.nextafter(M, 0)), 2.0**1023, 1.5 * 2.0**1023]
    pairs = [(sx * a, sy * b) for a in xs for b in ys for sx in (1, -1) for sy in (1, -1)]
    pairs += [(b, a) for a, b in pairs]
    triples = [(a, 1.0, b) for a, b in pairs] + [(3.0, a / 3, b) for a, b in pairs]
    triples += [(M, 2.0, -M), (M, 1.5, -M), (2.0**1023, 4.0, -1.5 * 2.0**1023),
                (M, 1 - 2.0**-53, -(2.0**970)), (-M, 2.0, M)]
    ctx = gmpy2.context(precision=53, emax=1024, emin=-1073, subnormalize=True)
    for mode, rnd in [("rne", gmpy2.RoundToNearest), ("rtz", gmpy2.RoundToZero),
                      ("ru", gmpy2.RoundUp), ("rd", gmpy2.RoundDown)]:
        ctx.round = rnd
        for name, cases, f in [("add", pairs, gmpy2.add), ("sub", pairs, gmpy2.sub),
                               ("fma", triples, gmpy2.fma)]:
            for args in cases:
                with ctx:
                    exp = float(f(*[gmpy2.mpfr(v, 53) for v in args]))
                got = ref.ref_op(name, args, *F64, mode)
                assert bits_equal(got, exp), (name, mode, [v.hex() for v in args], got, exp)
    tf = (-x, -M)                                          # TestFloat's bit patterns
    assert np.float64(tf[0]).view(np.uint64) == 0xFFDFFFFFFFFDFFFF
    assert np.float64(tf[1]).view(np.uint64) == 0xFFEFFFFFFFFFFFFF
    for mode, bits in [("rne", 0x7FE0000000010000), ("rtz", 0x7FE000000000FFFF),
                       ("ru", 0x7FE0000000010000), ("rd", 0x7FE000000000FFFF)]:
        got = ref.ref_op("sub", tf, *F64, mode)
        assert np.float64(got).view(np.uint64) == bits, (mode, float(got).hex())
