"""fpsim.encode / fpsim.decode: exhaustive round trips, bit patterns against the reference and
ml_dtypes, canonical NaN codes, dtypes, errors."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fpsim
import reference as ref
from fpsim import Format, formats
from helpers import SMALL_PRESETS, P, assert_same_bits, formats_st

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")

VIEW = {"binary16": np.float16, "bfloat16": ml_dtypes.bfloat16,
        "fp8_e4m3fn": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2,
        "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz, "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
        "fp6_e3m2": ml_dtypes.float6_e3m2fn, "fp6_e2m3": ml_dtypes.float6_e2m3fn,
        "fp4_e2m1": ml_dtypes.float4_e2m1fn}


def all_codes(fmt):
    return np.arange(2**fmt.bits, dtype=ref.code_dtype(fmt.exp_bits, fmt.man_bits))


@pytest.mark.parametrize("name", list(SMALL_PRESETS))
def test_decode_all_codes_vs_reference_and_ml_dtypes(name):
    fmt = SMALL_PRESETS[name]
    codes = all_codes(fmt)
    got = fpsim.decode(codes, fmt)
    exp = np.array([v for _, v in ref.all_values(*P(fmt))])
    assert got.dtype == np.float64 and got.shape == codes.shape
    assert_same_bits(got, exp, codes.astype(np.float64), f"decode(all codes, {name}) vs reference")
    with np.errstate(invalid="ignore"):
        peer = codes.view(VIEW[name]).astype(np.float64)
    assert_same_bits(got, peer, codes.astype(np.float64), f"decode(all codes, {name}) vs .view")


@pytest.mark.parametrize("name", list(SMALL_PRESETS))
def test_encode_decode_round_trip_all_codes(name):
    fmt = SMALL_PRESETS[name]
    codes = all_codes(fmt)
    values = fpsim.decode(codes, fmt)
    back = fpsim.encode(values, fmt)
    assert back.dtype == codes.dtype and back.shape == codes.shape
    nan = np.isnan(values)
    canon = ref.canonical_nan_code(*P(fmt))
    expected = codes.copy()
    if canon is not None:
        expected[nan] = canon
    bad = np.flatnonzero(back != expected)
    assert bad.size == 0, [(hex(int(codes[i])), float(values[i]).hex(), hex(int(back[i])),
                            hex(int(expected[i]))) for i in bad[:10]]
    # and against the reference's encoder, value by value
    ref_codes = [ref.encode_one(v, *P(fmt)) for v in values.tolist()]
    assert back.tolist() == ref_codes


@pytest.mark.parametrize("fmt,code", [
    (formats.fp8_e4m3fn, 0x7F), (formats.fp8_e4m3fnuz, 0x80), (formats.fp8_e5m2fnuz, 0x80),
    (formats.fp8_e5m2, 0x7E), (formats.binary16, 0x7E00), (formats.bfloat16, 0x7FC0),
    (formats.binary32, 0x7FC00000), (formats.binary64, 0x7FF8000000000000),
    (Format(3, 1), 0b0_111_1), (Format(4, 3, flavour="fn", bias=3), 0x7F),
])
def test_canonical_nan_codes(fmt, code):
    c = fpsim.encode(np.array([np.nan, -np.nan]), fmt)
    assert c.tolist() == [code, code], [hex(v) for v in c.tolist()]
    assert code == ref.canonical_nan_code(*P(fmt))
    assert math.isnan(fpsim.decode(code, fmt))


@pytest.mark.parametrize("fmt,dtype", [
    (formats.fp4_e2m1, np.uint8), (formats.fp8_e5m2, np.uint8), (Format(4, 4), np.uint16),
    (formats.binary16, np.uint16), (formats.bfloat16, np.uint16), (formats.tf32, np.uint32),
    (formats.binary32, np.uint32), (Format(8, 24), np.uint64), (formats.binary64, np.uint64)])
def test_code_dtype(fmt, dtype):
    assert fpsim.encode(np.array([1.0, 2.0]), fmt).dtype == dtype
    assert fpsim.code_dtype(fmt) == dtype
    assert np.dtype(ref.code_dtype(fmt.exp_bits, fmt.man_bits)) == dtype


def test_binary32_and_binary64_bits_match_numpy():
    rng = np.random.default_rng(4)
    x32 = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x32 = x32[~np.isnan(x32)]
    assert np.array_equal(fpsim.encode(x32.astype(np.float64), formats.binary32), x32.view(np.uint32))
    assert_same_bits(fpsim.decode(x32.view(np.uint32), formats.binary32), x32.astype(np.float64),
                     x32.astype(np.float64), "decode binary32")
    x64 = rng.integers(0, 2**64 - 1, 20000, dtype=np.uint64, endpoint=True).view(np.float64)
    x64 = x64[~np.isnan(x64)]
    assert np.array_equal(fpsim.encode(x64, formats.binary64), x64.view(np.uint64))
    assert_same_bits(fpsim.decode(x64.view(np.uint64), formats.binary64), x64, x64, "decode binary64")


@settings(max_examples=150)
@given(fmt=formats_st(), data=st.data())
def test_hypothesis_codes(fmt, data):
    """Random codes of random formats: decode equals the reference; encode inverts it."""
    bits = fmt.bits
    codes = data.draw(st.lists(st.one_of(st.integers(0, 2**bits - 1),
                                         st.sampled_from([0, 1, 2**fmt.man_bits, 2**bits - 1,
                                                          2 ** (bits - 1), 2 ** (bits - 1) - 1])),
                               min_size=1, max_size=30))
    p = P(fmt)
    if not fmt.subnormals:                    # codes with exponent code 0 and mantissa != 0 are
        codes = [c for c in codes             # not values of a format without subnormals
                 if (c >> fmt.man_bits) & (2**fmt.exp_bits - 1) != 0 or c & (2**fmt.man_bits - 1) == 0]
        if not codes:
            return
    arr = np.array(codes, dtype=ref.code_dtype(fmt.exp_bits, fmt.man_bits))
    got = fpsim.decode(arr, fmt)
    exp = np.array([ref.decode_one(c, *p) for c in codes])
    assert_same_bits(got, exp, arr.astype(np.float64), f"decode {fmt!r}")
    assert fmt.has_nan or not np.isnan(exp).any(), fmt
    back = fpsim.encode(got, fmt)
    assert back.tolist() == [ref.encode_one(v, *p) for v in exp.tolist()], fmt


def test_scalar_and_shape():
    c = fpsim.encode(1.0, "e4m3fn")
    assert np.ndim(c) == 0 and int(c) == 0x38 and c.dtype == np.uint8
    v = fpsim.decode(0x38, "e4m3fn")
    assert np.ndim(v) == 0 and float(v) == 1.0
    x = fpsim.decode(np.arange(256, dtype=np.uint8).reshape(16, 16), formats.fp8_e5m2)
    assert x.shape == (16, 16)
    assert fpsim.encode(x, formats.fp8_e5m2).shape == (16, 16)
    assert fpsim.decode(np.array([0x3C00], dtype=np.int64), "fp16")[0] == 1.0   # any int dtype


def test_negative_zero():
    assert int(fpsim.encode(-0.0, formats.fp8_e5m2)) == 0x80
    assert int(fpsim.encode(-0.0, formats.fp4_e2m1)) == 0x8
    assert int(fpsim.encode(-0.0, formats.fp8_e4m3fn)) == 0x80
    assert math.copysign(1, fpsim.decode(0x80, formats.fp8_e5m2)) == -1


def test_negative_zero_fnuz_encodes_to_zero():
    """fnuz has no -0: -0.0 (what a user may hold) encodes to the only zero, code 0 (as
    ml_dtypes' cast does), not to 0x80, which is NaN."""
    assert int(fpsim.encode(-0.0, formats.fp8_e4m3fnuz)) == 0
    assert np.array(-0.0, np.float32).astype(ml_dtypes.float8_e4m3fnuz).view(np.uint8) == 0


def test_subnormal_rounding_up_to_normal_encodes_validly():
    for fmt in SMALL_PRESETS.values():
        x = np.nextafter(fmt.smallest_normal, 0)
        q = fpsim.quantize(x, fmt)
        assert q == fmt.smallest_normal
        assert int(fpsim.encode(q, fmt)) == 1 << fmt.man_bits


@pytest.mark.parametrize("fmt,value", [
    (formats.fp8_e5m2, 1.1), (formats.fp8_e5m2, 1.125), (formats.fp8_e5m2, 65536.0),
    (formats.fp8_e5m2, 2.0**-17), (formats.fp8_e4m3fn, 480.0), (formats.fp8_e4m3fn, np.inf),
    (formats.fp8_e4m3fnuz, -np.inf), (formats.fp4_e2m1, 5.0), (formats.fp4_e2m1, np.inf),
    (formats.binary16, 1e-8), (formats.bfloat16, 1.0 + 2**-8),
])
def test_encode_refuses_unrepresentable(fmt, value):
    x = np.array([1.0, value, 2.0])
    with pytest.raises(ValueError) as info:
        fpsim.encode(x, fmt)
    msg = str(info.value)
    assert repr(float(value)) in msg or float(value).hex() in msg, msg


def test_encode_nan_without_nan_code():
    with pytest.raises(ValueError):
        fpsim.encode(np.nan, Format(5, 0))               # ieee, m = 0: no NaN code
    with pytest.raises(ValueError):
        fpsim.encode(np.nan, formats.fp4_e2m1)            # finite: no NaN


def test_decode_errors():
    with pytest.raises(ValueError):
        fpsim.decode(256, formats.fp8_e5m2)
    with pytest.raises(ValueError):
        fpsim.decode(np.array([0, 16]), formats.fp4_e2m1)
    with pytest.raises(ValueError):
        fpsim.decode(np.array([2**16]), formats.binary16)
    with pytest.raises(ValueError):
        fpsim.decode(np.array([-1]), formats.fp8_e5m2)
    with pytest.raises(TypeError):
        fpsim.decode(np.array([1.0]), formats.fp8_e5m2)
    with pytest.raises(TypeError):
        fpsim.encode(["a"], formats.fp8_e5m2)


@pytest.mark.parametrize("fmt", [Format(2, 0), Format(5, 0), Format(11, 0)])
def test_encode_ieee_without_mantissa(fmt):
    """ieee with man_bits = 0 has no NaN code, but every number (and inf) still encodes."""
    vals = [0.0, -0.0, 1.0, -2.0, fmt.max, fmt.smallest_normal, np.inf, -np.inf]
    codes = fpsim.encode(np.array(vals), fmt)
    assert codes.tolist() == [ref.encode_one(v, *P(fmt)) for v in vals]
