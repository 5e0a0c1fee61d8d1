"""fpsim.quantize against the exact reference (and numpy.float16, ml_dtypes, MPFR), bit for bit."""
from __future__ import annotations

import math
from fractions import Fraction

import gmpy2
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fpsim
import reference as ref
from fpsim import Format, formats
from helpers import (EIGHT_BIT_OR_LESS, MODES, SEED, SMALL_PRESETS, P, assert_same_bits,
                     formats_st, interesting_points, ref_quantize, same_bits,
                     structured_values, values_st, variant)

# numpy/ml_dtypes casts of out-of-range points warn; the overflow is what is being tested
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")

SIXTEEN = {k: v for k, v in SMALL_PRESETS.items() if v.bits == 16}

_POINTS = {}


def points(fmt, **kw):
    key = (fmt, tuple(sorted(kw.items())))
    if key not in _POINTS:
        x = interesting_points(fmt, **kw)
        if fmt.flavour == "finite":                  # NaN into a finite format is an error
            x = x[~np.isnan(x)]
        _POINTS[key] = x
    return _POINTS[key]


def check(x, fmt, mode, *, saturate=False, seed=SEED, k=52, what=""):
    sr_kw = dict(seed=seed, sr_bits=k) if mode == "sr" else {}
    got = fpsim.quantize(x, fmt, mode, saturate=saturate, **sr_kw)
    exp = ref_quantize(x, fmt, mode, saturate=saturate, seed=seed, k=k)
    assert_same_bits(got, exp, x, f"quantize(x, {fmt.name}, {mode}, saturate={saturate}"
                                  f"{', sr_bits=%d' % k if mode == 'sr' else ''}) {what}")
    if fits_float32(fmt):            # the float32-carrier kernel, against the same reference
        got32 = fpsim.quantize(x, fmt, mode, saturate=saturate, dtype=np.float32, **sr_kw)
        assert got32.dtype == np.float32
        assert_same_bits(got32, exp, x, f"quantize(x, {fmt.name}, {mode}, saturate={saturate}, "
                                        f"dtype=float32) {what}")


def fits_float32(fmt):
    return fmt.man_bits <= 23 and fmt.emax <= 127 and fmt.emin - fmt.man_bits >= -149


# ---------------------------------------------------------------------------------------------
# exhaustive: every value, midpoint, midpoint +- 1 ulp, both signs, all modes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SIXTEEN else n
                                  for n in SMALL_PRESETS])   # the 16-bit ones: slow
def test_exhaustive_presets(name, mode):
    fmt = SMALL_PRESETS[name]
    kw = {"with_values_ulp": True} if fmt.bits <= 8 else {}
    check(points(fmt, **kw), fmt, mode)


@pytest.mark.parametrize("subnormals", [True, False])
@pytest.mark.parametrize("saturate", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(EIGHT_BIT_OR_LESS))
def test_exhaustive_small_variants(name, mode, saturate, subnormals):
    fmt = variant(EIGHT_BIT_OR_LESS[name], subnormals=subnormals)
    check(points(fmt, with_values_ulp=True, below=4), fmt, mode, saturate=saturate)


@pytest.mark.slow                  # exhaustive over 16-bit formats
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SIXTEEN))
def test_sixteen_bit_variants(name, mode):
    """16-bit formats with saturate=True / subnormals off: every point where the flag matters
    (near and beyond max; below 4 * 2**emin) plus a fixed random sample of the rest."""
    base = SIXTEEN[name]
    rng = np.random.default_rng(1)
    x = points(base)
    sample = rng.choice(x, 4000, replace=False)
    big = x[np.abs(x) >= base.max / 4]
    check(np.concatenate([big, sample]), base, mode, saturate=True, what="(saturate)")
    nosub = variant(base, subnormals=False)
    y = points(nosub, below=4)
    small = y[np.abs(y) < 4 * nosub.smallest_normal]
    check(np.concatenate([small, sample]), nosub, mode, what="(subnormals off)")


@pytest.mark.parametrize("k", [1, 3, 11])
@pytest.mark.parametrize("name", ["fp8_e5m2", "fp8_e4m3fn", "fp4_e2m1"])
def test_exhaustive_sr_bits(name, k):
    fmt = SMALL_PRESETS[name]
    check(points(fmt, with_values_ulp=True), fmt, "sr", k=k, seed=12345)


# ---------------------------------------------------------------------------------------------
# other oracles
# ---------------------------------------------------------------------------------------------
def test_binary16_vs_numpy_float16():
    """numpy's float64 -> float16 cast is correctly rounded (RNE, overflow to inf)."""
    x = points(formats.binary16)
    assert_same_bits(fpsim.quantize(x, "binary16"), x.astype(np.float16).astype(np.float64), x,
                     "quantize(x, binary16) vs numpy float16")


def test_binary16_vs_numpy_random():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(20000) * 10.0 ** rng.integers(-9, 6, 20000),
                        rng.uniform(-70000, 70000, 5000)])
    assert_same_bits(fpsim.quantize(x, formats.binary16), x.astype(np.float16).astype(np.float64),
                     x, "quantize(random, binary16) vs numpy float16")


ML = {"bfloat16": ml_dtypes.bfloat16, "fp8_e4m3fn": ml_dtypes.float8_e4m3fn,
      "fp8_e5m2": ml_dtypes.float8_e5m2, "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
      "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "fp6_e3m2": ml_dtypes.float6_e3m2fn,
      "fp6_e2m3": ml_dtypes.float6_e2m3fn, "fp4_e2m1": ml_dtypes.float4_e2m1fn}


@pytest.mark.parametrize("name", list(ML))
def test_vs_ml_dtypes_float32_inputs(name):
    """ml_dtypes rounds float32 -> format correctly (RNE); fed float32-exact inputs only (its
    float64 path rounds twice).  For the 'finite' MX types ml_dtypes saturates like fpsim;
    inf into them is excluded (ml_dtypes' choice there is not ours to copy)."""
    fmt = SMALL_PRESETS[name]
    x = points(fmt, with_values_ulp=True)
    x32 = x.astype(np.float32)
    keep = (x32.astype(np.float64) == x) | np.isnan(x)
    if fmt.flavour == "finite":
        keep &= np.isfinite(x)
    x = x[keep]
    expected = x.astype(np.float32).astype(ML[name]).astype(np.float64)
    assert_same_bits(fpsim.quantize(x, fmt), expected, x, f"quantize(x, {name}) vs ml_dtypes")


def _mpfr_round(x: float, fmt) -> float:
    """RNE into an ieee format with MPFR: MPFR writes x = 0.1b.. * 2**exp, so its exponent is
    one more than IEEE's: emax_mpfr = emax + 1 and emin_mpfr = (emin - m) + 1 (the exponent of
    the smallest subnormal, 2**(emin-m), plus one).  For the default bias this is peers.md's
    recipe emax = 2**(e-1), emin = 3 - 2**(e-1) - m."""
    e, m, bias, flavour, sub = P(fmt)
    assert flavour == "ieee" and sub
    e_min, e_max = 1 - bias, ref.emax(*P(fmt))
    ctx = gmpy2.context(precision=m + 1, emax=e_max + 1, emin=e_min - m + 1, subnormalize=True,
                        round=gmpy2.RoundToNearest)
    exact = gmpy2.mpfr(x, 53)                       # exact
    with ctx:
        y = gmpy2.mul(exact, 1)                      # one rounding + subnormalization
    return float(y)


def test_mpfr_recipe_matches_float16():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 6, 2000)
    exp = x.astype(np.float16).astype(np.float64)
    got = np.array([_mpfr_round(v, formats.binary16) for v in x])
    assert_same_bits(got, exp, x, "MPFR recipe vs numpy float16")


@settings(max_examples=60)
@given(fmt=formats_st(min_e=2, min_m=0, flavours=("ieee",), subnormals=(True,)), data=st.data())
def test_hypothesis_vs_mpfr(fmt, data):
    x = np.concatenate([
        np.array(data.draw(st.lists(values_st(fmt), min_size=1, max_size=10)), dtype=np.float64),
        structured_values(fmt, data.draw(st.integers(0, 2**32 - 1)), 60)])
    x = x[np.isfinite(x) & (x != 0)]
    assert x.size > 0
    exp = np.array([_mpfr_round(v, fmt) for v in x])
    assert_same_bits(fpsim.quantize(x, fmt), exp, x, f"quantize(x, {fmt!r}) vs MPFR")


# ---------------------------------------------------------------------------------------------
# Hypothesis over formats, modes, saturate
# ---------------------------------------------------------------------------------------------
@settings(max_examples=300)
@given(fmt=formats_st(), mode=st.sampled_from(MODES), saturate=st.booleans(),
       k=st.sampled_from([52, 52, 1, 7]), data=st.data())
def test_hypothesis_vs_reference(fmt, mode, saturate, k, data):
    x = np.concatenate([
        np.array(data.draw(st.lists(values_st(fmt), min_size=1, max_size=10)), dtype=np.float64),
        structured_values(fmt, data.draw(st.integers(0, 2**32 - 1)), 150)])
    if fmt.flavour == "finite":
        x = x[~np.isnan(x)]
    check(x, fmt, mode, saturate=saturate, k=k, seed=data.draw(st.integers(0, 2**64 - 1)))


@pytest.mark.parametrize("mode", MODES)
def test_binary64_is_identity(mode):
    """quantize into binary64 returns every float64 unchanged, in every mode."""
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 2**63, 20000, dtype=np.uint64) | (
        rng.integers(0, 2, 20000, dtype=np.uint64) << np.uint64(63))
    x = bits.view(np.float64)
    x = np.concatenate([x[np.isfinite(x)], [0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308,
                                            -1.7976931348623157e308, 2.2250738585072014e-308,
                                            np.nextafter(2.2250738585072014e-308, 0)]])
    kw = dict(seed=SEED) if mode == "sr" else {}
    assert_same_bits(fpsim.quantize(x, formats.binary64, mode, **kw), x, x,
                     f"quantize(x, binary64, {mode})")
    sp = np.array([np.inf, -np.inf, np.nan])
    assert_same_bits(fpsim.quantize(sp, formats.binary64, mode, **kw), sp, sp, "specials")
    mx = 1.7976931348623157e308
    assert_same_bits(fpsim.quantize(sp, formats.binary64, mode, saturate=True, **kw),
                     np.array([mx, -mx, np.nan]), sp, "specials, saturate")


# ---------------------------------------------------------------------------------------------
# inputs: dtypes, shapes, scalars, errors
# ---------------------------------------------------------------------------------------------
def test_float32_input_is_exact():
    x32 = np.array([1.125, 1.0 + 2**-20, 3e-5, -7.5e4, 1e-40], dtype=np.float32)
    x64 = x32.astype(np.float64)
    for mode in ("rne", "ru", "rd", "rto"):
        assert_same_bits(fpsim.quantize(x32, "e5m2", mode), ref_quantize(x64, formats.fp8_e5m2, mode),
                         x64, f"float32 input {mode}")


@pytest.mark.parametrize("mode", ["rne", "rna", "rtz", "ru", "rd", "rto"])
def test_int_inputs_rounded_once(mode):
    """Integers beyond 2**53 are rounded once from their exact value."""
    ints = [2**53 + 1, -(2**53 + 1), 2**60 + 2**8 + 1, 2**62 + 1, 3, -5, 0, 2**63 - 1, -(2**63)]
    x = np.array(ints, dtype=np.int64)
    got = fpsim.quantize(x, formats.binary64, mode)
    exp = np.array([ref.round_to_format(v, *P(formats.binary64), mode) for v in ints])
    assert_same_bits(got, exp, x.astype(np.float64), f"int64 -> binary64 {mode}")
    got = fpsim.quantize(x, formats.binary16, mode)
    exp = np.array([ref.round_to_format(v, *P(formats.binary16), mode) for v in ints])
    assert_same_bits(got, exp, x.astype(np.float64), f"int64 -> binary16 {mode}")


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                    reason="long double is not the 64-bit-significand extended type here")
@pytest.mark.parametrize("mode", MODES)
def test_long_double_near_and_beyond_float64_max(mode):
    """Long doubles near and beyond 2**1024, rounded once from their exact value: those from
    DBL_MAX + 2**970 on, whose float64 conversion overflows, used to be taken as inf (rtz
    gave inf where max is right, sr always went up)."""
    L = np.longdouble
    M, q, u = L(1.7976931348623157e308), np.ldexp(L(1), 969), np.ldexp(L(1), 960)
    two1024 = np.ldexp(L(1), 1024)
    pos = [M + j * q for j in range(-3, 4)] + [M + 2 * q - u, M + 2 * q + u, two1024 - u,
           two1024, two1024 + np.ldexp(L(1), 1000), L("1e400"), L("1e4000"),
           np.ldexp(L(3), 1022) + np.ldexp(L(1), 968) + u, np.ldexp(L(1), 1023), np.ldexp(L(1), 1023) - u,
           L(Format(11, 50).max) + np.ldexp(L(1), 972) + u, L(np.inf)]
    x = np.array(pos + [-v for v in pos], dtype=np.longdouble)

    def exact(v):
        return float(v) if not np.isfinite(v) else Fraction(*v.as_integer_ratio())

    for fmt in (formats.binary64, Format(11, 50), Format(11, 44), Format(5, 10),
                Format(10, 52, bias=0, flavour="finite"), Format(10, 52, bias=0, flavour="fnuz")):
        for saturate in (False, True):
            got = fpsim.quantize(x, fmt, mode, saturate=saturate, seed=SEED)
            exp = np.array([ref.round_to_format(exact(v), *P(fmt), mode, saturate=saturate,
                                                r=ref.sr_random(SEED, i) if mode == "sr" else None)
                            for i, v in enumerate(x)])
            bad = np.flatnonzero(~same_bits(got, exp))      # inputs in hex: beyond float64
            assert bad.size == 0, "\n".join(
                [f"long double -> {fmt.name} {mode} saturate={saturate}: {bad.size} of "
                 f"{x.size} results differ from the reference"]
                + [f"  [flat {i}] input {np.format_float_scientific(x[i], precision=20)}: "
                   f"expected {float(exp[i]).hex()}, got {float(got[i]).hex()}" for i in bad[:12]])


def test_scalar_and_shapes():
    s = fpsim.quantize(1.1, "fp16")
    assert isinstance(s, np.float64) and float(s) == float(np.float16(1.1))
    x = np.linspace(-3, 3, 24).reshape(2, 3, 4)
    q = fpsim.quantize(x, formats.fp8_e4m3fn)
    assert q.shape == (2, 3, 4) and q.dtype == np.float64
    assert_same_bits(q, ref_quantize(x, formats.fp8_e4m3fn, "rne"), x, "3-D")
    q = fpsim.quantize(np.asfortranarray(x), formats.fp8_e4m3fn)
    assert_same_bits(q, ref_quantize(x, formats.fp8_e4m3fn, "rne"), x, "Fortran order")
    assert fpsim.quantize(np.empty((0, 3)), "e5m2").shape == (0, 3)
    assert fpsim.quantize([1, 2, 3], "e5m2").dtype == np.float64
    assert fpsim.quantize(3, "e5m2") == 3.0


def test_sr_stream_follows_c_order_and_broadcast_shape():
    """Element i of the C-order flattening uses SplitMix64 number i+1, whatever the memory order."""
    rng = np.random.default_rng(5)
    x = 1.0 + rng.integers(1, 4, (6, 7)) * 2**-4          # e5m2: quantum 0.25, inexact
    for arr in (x, np.asfortranarray(x), x.T.copy().T):
        got = fpsim.quantize(arr, formats.fp8_e5m2, "sr", seed=99)
        assert_same_bits(got, ref_quantize(x, formats.fp8_e5m2, "sr", seed=99), x, "sr C order")


def test_errors():
    with pytest.raises(ValueError):
        fpsim.quantize(np.nan, formats.fp4_e2m1)
    with pytest.raises(ValueError):
        fpsim.quantize([1.0, np.nan], "fp6_e3m2")
    with pytest.raises(TypeError):
        fpsim.quantize("1.0", "fp16")
    with pytest.raises(TypeError):
        fpsim.quantize([object()], "fp16")
    with pytest.raises(TypeError):
        fpsim.quantize(np.array([1 + 2j]), "fp16")
    with pytest.raises((ValueError, TypeError)):
        fpsim.quantize(1.0, "fp16", "nearest_odd_ish")
    with pytest.raises((ValueError, TypeError)):
        fpsim.quantize(1.0, "e99m2")
    with pytest.raises(ValueError):
        fpsim.quantize(1.0, "fp16", "sr", seed=0, sr_bits=0)
    with pytest.raises(ValueError):
        fpsim.quantize(1.0, "fp16", "sr", seed=0, sr_bits=53)
    with pytest.raises(ValueError):
        fpsim.quantize(1.0, "fp16", "sr", seed=-1)
    with pytest.raises(ValueError):
        fpsim.quantize(1.0, "fp16", "sr", seed=2**64)


# ---------------------------------------------------------------------------------------------
# stochastic rounding
# ---------------------------------------------------------------------------------------------
def test_sr_reproducible_and_seed_dependent():
    x = np.full(4096, 1.0 + 2**-3)                    # e5m2 tie: F = 1/2
    a = fpsim.quantize(x, "e5m2", "sr", seed=1)
    b = fpsim.quantize(x, "e5m2", "sr", seed=1)
    c = fpsim.quantize(x, "e5m2", "sr", seed=2)
    assert_same_bits(a, b, x, "same seed")
    assert not np.array_equal(a, c), "seeds 1 and 2 gave identical streams"
    assert set(np.unique(a)) == {1.0, 1.25}
    # a seedless call still returns one of the two neighbours
    assert set(np.unique(fpsim.quantize(x, "e5m2", "sr"))) <= {1.0, 1.25}


@pytest.mark.parametrize("seed", [2**63, 2**63 + 12345, 2**64 - 1, 0, 2**63 - 1])
def test_sr_seeds_over_the_whole_range(seed):
    """Every seed 0 <= s < 2**64 is valid, also after the kernel has run with small seeds (a
    JIT specialised on int64 must not refuse seeds >= 2**63)."""
    x = np.full(64, 1.0 + 2**-3 + 2**-6)
    fpsim.quantize(x, formats.fp8_e5m2, "rne")               # a call with the default seed first
    fpsim.quantize(x, formats.fp8_e5m2, "sr", seed=1)
    got = fpsim.quantize(x, formats.fp8_e5m2, "sr", seed=seed)
    assert_same_bits(got, ref_quantize(x, formats.fp8_e5m2, "sr", seed=seed), x, f"seed {seed:#x}")
    got = fpsim.quantize(x, formats.fp8_e5m2, "sr", seed=np.uint64(seed))
    assert_same_bits(got, ref_quantize(x, formats.fp8_e5m2, "sr", seed=seed), x,
                     f"seed np.uint64({seed:#x})")


@pytest.mark.parametrize("k,F,expected_p", [
    (52, Fraction(3, 10), None),        # P(up) = F (F has <= 52 bits after float64 rounding)
    (52, Fraction(1, 1000), None),
    (3, Fraction(3, 10), Fraction(3, 8)),  # P(up) = ceil(F * 2**k) / 2**k
    (2, Fraction(1, 10), Fraction(1, 4)),
])
@pytest.mark.parametrize("sign", [1, -1])
def test_sr_unbiased(k, F, expected_p, sign):
    """Fraction rounded away from zero over N draws (fixed seed) is within 5 binomial sigmas of
    P = ceil(F 2**k) / 2**k: |count - N P| <= 5 sqrt(N P (1 - P)).  For a true P the chance of
    a 5-sigma miss is < 1e-6, and the seed is fixed, so the test is deterministic."""
    fmt = formats.binary16
    x = sign * float(1 + F * 2**-10)                   # quantum of [1, 2) is 2**-10
    Fx = (Fraction(abs(x)) - 1) * 2**10                  # the exact discarded fraction
    p = Fraction(math.ceil(Fx * 2**k), 2**k)              # P(up): Fx rounded up to k bits
    assert p == (Fx if expected_p is None else expected_p)
    N = 200_000
    got = fpsim.quantize(np.full(N, x), fmt, "sr", seed=2024, sr_bits=k)
    lo, hi = sign * 1.0, sign * (1 + 2**-10)
    assert np.all((got == lo) | (got == hi))
    count = int(np.sum(got == hi))
    mean, sigma = N * float(p), math.sqrt(N * float(p) * (1 - float(p)))
    assert abs(count - mean) <= 5 * sigma, (x.hex(), k, count, mean, sigma)
    # and the mean value is unbiased (for k = 52 it is x itself)
    if k == 52:
        assert abs(got.mean() - x) <= 5 * sigma / N * 2**-10 + 1e-15


@pytest.mark.parametrize("fmt", [Format(5, 0), Format(8, 0, flavour="finite"),
                                 Format(8, 0, bias=128, flavour="finite"), Format(3, 0, flavour="fnuz")],
                         ids=lambda f: f.name)
def test_m0_ties_and_round_to_odd(fmt):
    """man_bits = 0: the grid is the powers of two; the lower neighbour 2**E of a tie has
    integer significand t = 1 (odd), so rne goes up to 2**(E+1) (as ml_dtypes' float8_e8m0fnu,
    gfloat and MPFR at precision 1 do), and rto keeps 2**E -- whatever the parity of E or of
    the exponent code."""
    E = np.arange(-3, 4)
    ties = 1.5 * 2.0**E
    x = np.concatenate([ties, -ties, 1.25 * 2.0**E])
    for mode in ("rne", "rto"):
        check(x, fmt, mode, what="(m = 0)")
    assert fpsim.quantize(1.5, fmt) == 2.0 and fpsim.quantize(3.0, fmt) == 4.0
    assert fpsim.quantize(2.5, fmt, "rto") == 2.0


# ---------------------------------------------------------------------------------------------
# float32 carriers
# ---------------------------------------------------------------------------------------------
def test_float32_carriers_vs_numpy_float16():
    rng = np.random.default_rng(5)
    x = np.concatenate([points(formats.binary16), rng.standard_normal(100_001) * 300])
    got = fpsim.quantize(x, formats.binary16, dtype=np.float32)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert_same_bits(got, x.astype(np.float16).astype(np.float64), x, "float32 carriers vs numpy")
    out = np.empty(x.shape, np.float32)
    assert fpsim.quantize(x, "binary16", dtype="float32", out=out) is out
    assert_same_bits(out, got, x, "float32 carriers, out=")


def test_float32_carriers_wide_inputs():
    # int64 beyond 2**53 takes the double-double kernel; the carrier is then converted
    x = np.array([2**60 + 1, -(2**62) - 3, 7], dtype=np.int64)
    got = fpsim.quantize(x, formats.bfloat16, "rtz", dtype=np.float32)
    assert got.dtype == np.float32
    assert_same_bits(got, fpsim.quantize(x, formats.bfloat16, "rtz"), x, "wide inputs")


@pytest.mark.parametrize("dtype, fmt, exc, words", [
    (np.float16, "binary16", ValueError, "dtype must be numpy.float64 or numpy.float32"),
    ("nonsense", "binary16", TypeError, "dtype must be"),
    (np.float32, "binary64", ValueError, "man_bits <= 23"),
    (np.float32, "e8m23fn", ValueError, "emax <= 127"),
    (np.float32, Format(8, 10, bias=141), ValueError, "emin - man_bits >= -149"),
])
def test_float32_carriers_refused(dtype, fmt, exc, words):
    with pytest.raises(exc, match=words):
        fpsim.quantize([1.0], fmt, dtype=dtype)


def test_float32_carriers_out_must_match():
    with pytest.raises(ValueError, match="out must be a float32"):
        fpsim.quantize(np.ones(3), "binary16", dtype=np.float32, out=np.empty(3))


# ---------------------------------------------------------------------------------------------
# below 2^emin: the vectorised second pass (subnormal grid, flushing), next to the scalar one
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("subnormals", [True, False])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["fp8_e4m3fn", "fp4_e2m1", "fp8_e5m2fnuz", "bfloat16"])
def test_below_normal_range_random(name, mode, subnormals):
    """Random magnitudes from float64's smallest subnormal up to just above 2^emin (where
    rounding reaches the normal range), both signs, mixed into blocks with normal values
    and specials so that every pass of the kernel runs; sr with several bit counts."""
    fmt = variant(getattr(formats, name), subnormals=subnormals)
    rng = np.random.default_rng(17)
    n = 6000
    mags = np.ldexp(rng.uniform(1, 2, n), rng.integers(-1074, fmt.emin + 1, n))
    mags[::7] = np.ldexp(rng.uniform(1, 2, mags[::7].size), rng.integers(fmt.emin - fmt.man_bits - 3, fmt.emin + 1, mags[::7].size))
    x = mags * rng.choice([-1.0, 1.0], n)
    x[::11] = rng.standard_normal(x[::11].size)
    x[5::97] = 0.0
    x[6::97] = -0.0
    x[7::97] = np.inf
    if fmt.flavour != "finite":
        x[8::97] = np.nan
    for k in ([52, 3] if mode == "sr" else [52]):
        check(x, fmt, mode, k=k, what="below-normal mix")


@pytest.mark.parametrize("subnormals", [True, False])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["fp8_e4m3fn", "fp4_e2m1", "fp8_e5m2fnuz"])
def test_blocks_with_few_and_many_out_of_range(name, mode, subnormals):
    """A block with at most SPARSE elements outside the normal range skips the vectorised
    second pass (they are found 64 lanes at a time and rounded one by one); one more and
    it runs. Blocks of normal values with 1, SPARSE and SPARSE + 1 such elements (below
    2^emin, zeros, overflow, inf, NaN) at random places, on both sides of that switch."""
    from fpsim.kernels.quantize import BLOCK, SPARSE
    fmt = variant(getattr(formats, name), subnormals=subnormals)
    rng = np.random.default_rng(23)
    blocks = []
    for count in (1, SPARSE, SPARSE + 1):
        x = np.ldexp(rng.uniform(1, 1.5, BLOCK), rng.integers(fmt.emin, fmt.emax + 1, BLOCK))
        where = rng.choice(BLOCK, count, replace=False)
        odd = np.ldexp(rng.uniform(1, 2, count), rng.integers(fmt.emin - fmt.man_bits - 3, fmt.emin, count))
        odd[::5] = 0.0
        odd[1::5] = fmt.max * 4
        odd[2::7] = np.inf
        if fmt.flavour != "finite":
            odd[3::7] = np.nan
        x[where] = odd
        blocks.append(x * rng.choice([-1.0, 1.0], BLOCK))
    x = np.concatenate(blocks)
    for k in ([52, 3] if mode == "sr" else [52]):
        check(x, fmt, mode, k=k, what="sparse/dense blocks")
