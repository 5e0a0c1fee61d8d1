"""fpsim.Format: derived numbers of every preset against numpy/ml_dtypes finfo, parsing,
names, repr, hashing and every refused input."""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings

import fpsim
import reference as ref
from fpsim import Format, formats
from helpers import P, formats_st

FINFO = {
    "binary64": np.finfo(np.float64), "binary32": np.finfo(np.float32),
    "binary16": np.finfo(np.float16), "bfloat16": ml_dtypes.finfo(ml_dtypes.bfloat16),
    "fp8_e4m3fn": ml_dtypes.finfo(ml_dtypes.float8_e4m3fn),
    "fp8_e5m2": ml_dtypes.finfo(ml_dtypes.float8_e5m2),
    "fp8_e4m3fnuz": ml_dtypes.finfo(ml_dtypes.float8_e4m3fnuz),
    "fp8_e5m2fnuz": ml_dtypes.finfo(ml_dtypes.float8_e5m2fnuz),
    "fp6_e3m2": ml_dtypes.finfo(ml_dtypes.float6_e3m2fn),
    "fp6_e2m3": ml_dtypes.finfo(ml_dtypes.float6_e2m3fn),
    "fp4_e2m1": ml_dtypes.finfo(ml_dtypes.float4_e2m1fn),
}


@pytest.mark.parametrize("name", list(FINFO))
def test_preset_numbers_vs_finfo(name):
    fmt = getattr(formats, name)
    fi = FINFO[name]
    assert fmt.max == float(fi.max), (name, fmt.max, fi.max)
    assert fmt.smallest_normal == float(fi.smallest_normal)
    assert fmt.smallest_subnormal == float(fi.smallest_subnormal)
    assert fmt.eps == float(fi.eps)
    assert fmt.bits == fi.bits
    assert fmt.exp_bits == fi.nexp and fmt.man_bits == fi.nmant
    assert fmt.emin == fi.minexp                     # finfo.minexp: exponent of smallest_normal
    assert fmt.max == math.ldexp(float(fi.max) / 2.0**fmt.emax, fmt.emax)
    assert 1 <= fmt.max / 2.0**fmt.emax < 2            # max lies in the binade of emax


def test_preset_numbers_by_hand():
    assert formats.fp8_e4m3fn.max == 448.0 and formats.fp8_e5m2.max == 57344.0
    assert formats.fp8_e4m3fnuz.max == 240.0 and formats.fp8_e5m2fnuz.max == 57344.0
    assert formats.fp6_e3m2.max == 28.0 and formats.fp6_e2m3.max == 7.5 and formats.fp4_e2m1.max == 6.0
    assert formats.fp8_e4m3fnuz.bias == 8 and formats.fp8_e5m2fnuz.bias == 16
    tf = formats.tf32
    assert (tf.exp_bits, tf.man_bits, tf.bits, tf.bias) == (8, 10, 19, 127)
    assert tf.max == (2 - 2.0**-10) * 2.0**127
    assert tf.smallest_normal == 2.0**-126 and tf.smallest_subnormal == 2.0**-136
    assert formats.paper_fp8 == Format(5, 2)
    assert fpsim.accumulator(9) == Format(6, 9)
    assert fpsim.accumulator(9, exp_bits=5) == Format(5, 9)


@settings(max_examples=200)
@given(fmt=formats_st())
def test_derived_numbers_vs_reference(fmt):
    """max, emin, emax, smallest_* from the reference's definitions (exact)."""
    p = P(fmt)
    e, m, bias, flavour, sub = p
    assert fmt.emin == 1 - bias
    assert fmt.emax == ref.emax(*p)
    assert Fraction(fmt.max) == ref.max_value(*p)
    assert fmt.smallest_normal == math.ldexp(1, 1 - bias)
    assert fmt.smallest_subnormal == (math.ldexp(1, 1 - bias - m) if sub else math.ldexp(1, 1 - bias))
    assert fmt.eps == math.ldexp(1, -m)
    assert fmt.bits == 1 + e + m and fmt.precision == m + 1
    assert fmt.has_inf == (flavour == "ieee")
    assert fmt.has_nan == (ref.canonical_nan_code(*p) is not None)
    assert fmt.has_negative_zero == (flavour != "fnuz")
    # the name reads back, and equality/hash follow the fields
    assert Format.parse(fmt.name) == fmt
    assert hash(Format.parse(fmt.name)) == hash(fmt)
    assert fmt.name in repr(fmt)


@pytest.mark.parametrize("text,expected", [
    ("e5m10", Format(5, 10)), ("fp16", formats.binary16), ("binary16", formats.binary16),
    ("half", formats.binary16), ("bfloat16", formats.bfloat16), ("bf16", formats.bfloat16),
    ("e4m3fn", formats.fp8_e4m3fn), ("float8_e4m3fn", formats.fp8_e4m3fn),
    ("float8_e5m2fnuz", formats.fp8_e5m2fnuz), ("e4m3fnuz", formats.fp8_e4m3fnuz),
    ("float4_e2m1fn", formats.fp4_e2m1), ("float6_e3m2fn", formats.fp6_e3m2),
    ("e2m1finite", formats.fp4_e2m1), ("E5M2", formats.fp8_e5m2), (" e5m2 ", formats.fp8_e5m2),
    ("e5m10_b3", Format(5, 10, bias=3)), ("e5m10_nosub", Format(5, 10, subnormals=False)),
    ("e5m10_b-3_nosub", Format(5, 10, bias=-3, subnormals=False)),
    ("tf32", formats.tf32), ("fp64", formats.binary64), ("float32", formats.binary32),
])
def test_parse(text, expected):
    assert Format.parse(text) == expected
    assert Format.parse(expected.name) == expected


def test_names_and_repr():
    assert formats.binary16.name == "e5m10" and str(formats.binary16) == "e5m10"
    assert formats.fp8_e4m3fn.name == "e4m3fn" and formats.fp8_e4m3fnuz.name == "e4m3fnuz"
    assert formats.fp4_e2m1.name == "e2m1finite"
    assert Format(5, 10, bias=3).name == "e5m10_b3"
    assert Format(5, 10, subnormals=False).name == "e5m10_nosub"
    assert Format(5, 10, bias=15) == formats.binary16 and Format(5, 10, bias=15).name == "e5m10"
    r = repr(Format(4, 3, flavour="fn"))
    assert "exp_bits=4" in r and "man_bits=3" in r and "'fn'" in r and "448" in r
    assert "subnormals=False" in repr(Format(5, 2, subnormals=False))
    assert "bias=3" in repr(Format(5, 2, bias=3))
    for fmt in [formats.binary16, formats.fp8_e4m3fnuz, formats.fp4_e2m1]:
        assert fmt.name in fmt.describe()


def test_hashable_frozen_value_type():
    d = {formats.binary16: "h", Format(4, 3, flavour="fn"): "f8"}
    assert d[Format(5, 10)] == "h" and d[Format.parse("float8_e4m3fn")] == "f8"
    assert len({Format(5, 10), Format(5, 10, bias=15), formats.fp16}) == 1
    assert Format(5, 10) != Format(5, 10, subnormals=False)
    assert Format(5, 10) != Format(5, 10, bias=14)
    assert Format(4, 3, flavour="fn") != Format(4, 3, flavour="fnuz")
    with pytest.raises(dataclasses.FrozenInstanceError):
        formats.binary16.man_bits = 3


def test_flavour_case_insensitive():
    assert Format(4, 3, flavour="FN") == formats.fp8_e4m3fn


@pytest.mark.parametrize("kwargs,exc,word", [
    (dict(exp_bits=0, man_bits=3), ValueError, "exp_bits"),
    (dict(exp_bits=12, man_bits=3), ValueError, "exp_bits"),
    (dict(exp_bits=-1, man_bits=3), ValueError, "exp_bits"),
    (dict(exp_bits=5, man_bits=-1), ValueError, "man_bits"),
    (dict(exp_bits=5, man_bits=53), ValueError, "man_bits"),
    (dict(exp_bits=11, man_bits=52, bias=0), ValueError, "bias"),       # emax = 2046 > 1023
    (dict(exp_bits=11, man_bits=52, bias=1024), ValueError, "bias"),    # emin = -1023 < -1022
    (dict(exp_bits=5, man_bits=10, bias=5000), ValueError, "bias"),
    (dict(exp_bits=5, man_bits=10, bias=-10**6), ValueError, "bias"),
    (dict(exp_bits=8, man_bits=23, bias=1100), ValueError, "bias"),
    (dict(exp_bits=1, man_bits=3), ValueError, "exp_bits"),             # e1 ieee: no normals
    (dict(exp_bits=5, man_bits=2, flavour="ocp"), ValueError, "flavour"),
    (dict(exp_bits=5, man_bits=2, flavour=3), TypeError, "flavour"),
    (dict(exp_bits=True, man_bits=2), TypeError, "exp_bits"),
    (dict(exp_bits=5, man_bits=False), TypeError, "man_bits"),
    (dict(exp_bits=5.0, man_bits=2), TypeError, "exp_bits"),
    (dict(exp_bits=5, man_bits=2.0), TypeError, "man_bits"),
    (dict(exp_bits=5, man_bits=2, bias=15.0), TypeError, "bias"),
    (dict(exp_bits=5, man_bits=2, bias=True), TypeError, "bias"),
    (dict(exp_bits="5", man_bits=2), TypeError, "exp_bits"),
    (dict(exp_bits=5, man_bits=2, subnormals=1), TypeError, "subnormals"),
    (dict(exp_bits=4, man_bits=0, flavour="fn"), ValueError, "man_bits"),
])
def test_bad_parameters(kwargs, exc, word):
    with pytest.raises(exc) as info:
        Format(**kwargs)
    assert word in str(info.value), str(info.value)


def test_bad_parameter_messages_give_the_value():
    with pytest.raises(ValueError, match="12"):
        Format(12, 3)
    with pytest.raises(ValueError, match="53"):
        Format(5, 53)
    with pytest.raises(ValueError, match="ocp"):
        Format(5, 2, flavour="ocp")


def test_extreme_valid_formats():
    """The whole binary64 range is allowed, and every value is a float64."""
    lo = Format(11, 52, bias=1023)
    assert lo.smallest_subnormal == 5e-324 and lo.max == np.finfo(np.float64).max
    tiny = Format(2, 52, bias=1023, flavour="finite")        # emin = -1022
    assert tiny.smallest_subnormal == 5e-324
    big = Format(3, 0, bias=-1016, flavour="finite")          # emax = 7 + 1016 = 1023
    assert big.max == 2.0**1023
    assert Format(1, 0, flavour="finite").max == 2.0 ** (1 - 0)   # e1: bias 0, codes 0 and 1
    with pytest.raises(ValueError):
        Format(3, 0, bias=-1017, flavour="finite")


@pytest.mark.parametrize("text", ["", "e5", "m2", "e5m", "float8", "e5m2xx", "e99m2", "e5m99",
                                  "e5m2_b", "fp7"])
def test_parse_errors(text):
    with pytest.raises(ValueError):
        Format.parse(text)


def test_parse_type_error():
    with pytest.raises(TypeError):
        Format.parse(16)


@pytest.mark.parametrize("fmt", [formats.binary16, formats.bfloat16, formats.fp8_e4m3fn,
                                 formats.fp8_e5m2, formats.fp8_e4m3fnuz, formats.fp6_e3m2,
                                 formats.fp4_e2m1, Format(4, 3, subnormals=False),
                                 Format(3, 0), Format(11, 52)], ids=lambda f: f.name)
def test_contains_is_membership(fmt):
    """Format.contains against the rounding: x is a value iff rtz leaves its bits alone
    (fnuz's -0 excepted: rtz maps it to +0), over every value of small formats, their
    float64 neighbours, and values just outside the range."""
    if fmt.bits <= 16:
        codes = np.arange(2 ** fmt.bits, dtype=np.uint64)
        vals = fpsim.decode(codes, fmt)
    else:
        vals = np.array([1.0, fmt.max, fmt.smallest_normal, fmt.smallest_subnormal, 3.0])
    vals = vals[~np.isnan(vals)]
    with np.errstate(over="ignore"):            # the neighbour of binary64's max is inf
        up, down = np.nextafter(vals, np.inf), np.nextafter(vals, -np.inf)
    probe = np.concatenate([vals, up, down,
                            [2 * fmt.max, fmt.smallest_subnormal / 2, np.inf, -np.inf, 5e-324]])
    probe = np.concatenate([probe, -probe])
    kept = fpsim.quantize(probe, fmt, "rtz").view(np.uint64) == probe.view(np.uint64)
    for x, same in zip(probe.tolist(), kept.tolist()):
        if x == 0.0 and fmt.flavour == "fnuz":
            same = math.copysign(1.0, x) > 0
        assert fmt.contains(x) == bool(same), (fmt.name, float(x).hex())
    assert fmt.contains(math.nan) == fmt.has_nan
