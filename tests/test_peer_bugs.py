"""Regression tests named after the confirmed bugs of peer tools (peers.md): fpsim must not
have them.  Each expected value is also checked against the exact reference."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

import fpsim
import reference as ref
from fpsim import Format, formats
from helpers import P, assert_same_bits, ref_quantize

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")


def q(x, fmt, mode="rne", **kw):
    return fpsim.quantize(np.asarray(x, dtype=np.float64), fmt, mode, **kw)


# ---- ml_dtypes 0.6.0: float64 -> fp8/bf16 rounds twice (through float32) -------------------
def test_ml_dtypes_double_rounding_e5m2():
    x = 1 + 2**-3 + 2**-52                       # just above the tie 1.125 between 1 and 1.25
    assert q(x, formats.fp8_e5m2) == 1.25
    assert ref.round_to_format(x, *P(formats.fp8_e5m2), "rne") == 1.25
    # (ml_dtypes 0.6.0 gives 1.0: float32(x) is the tie 1.125, which then goes to even)


@pytest.mark.parametrize("fmt", [formats.fp8_e5m2, formats.fp8_e4m3fn, formats.fp8_e4m3fnuz,
                                 formats.bfloat16, formats.fp4_e2m1])
def test_ml_dtypes_double_rounding_every_tie(fmt):
    """Every tie of the format +- 2**-30 relative (lost by a float32 intermediate) rounds once."""
    vals = np.array([v for v in ref.representable_values(*P(fmt)) if v > 0])
    mids = (vals[:-1] + vals[1:]) / 2
    x = np.concatenate([mids * (1 + 2.0**-30), mids * (1 - 2.0**-30)])
    assert_same_bits(q(x, fmt), ref_quantize(x, fmt, "rne"), x, f"near ties {fmt.name}")


# ---- pychop 0.6.2: e5m2 overflow gives 0.0 or the unrepresentable 65536 ----------------------
def test_pychop_e5m2_overflow():
    assert q(70000.0, formats.fp8_e5m2) == math.inf
    assert q(-70000.0, formats.fp8_e5m2) == -math.inf
    x = np.linspace(57344.0, 1e6, 5001)
    r = q(x, formats.fp8_e5m2)
    assert not np.any(r == 0.0) and not np.any(np.abs(r) == 65536.0)
    assert set(np.unique(r)) <= {57344.0, math.inf}
    assert q(70000.0, formats.fp8_e5m2, "rtz") == 57344.0
    assert q(70000.0, formats.fp8_e5m2, saturate=True) == 57344.0


def test_pychop_near_tie_subnormals():
    """Values one float64 ulp from a tie in the subnormal range."""
    fmt = formats.fp8_e5m2                        # subnormal quantum 2**-16
    ties = (np.arange(0, 4) + 0.5) * 2.0**-16
    x = np.concatenate([ties, np.nextafter(ties, 1), np.nextafter(ties, 0)])
    x = np.concatenate([x, -x])
    for mode in ("rne", "rna", "rto"):
        assert_same_bits(q(x, fmt, mode), ref_quantize(x, fmt, mode), x, f"subnormal ties {mode}")
    assert q(np.nextafter(0.5 * 2.0**-16, 1), fmt) == 2.0**-16
    assert q(np.nextafter(1.5 * 2.0**-16, 0), fmt) == 2.0**-16
    assert q(1.5 * 2.0**-16, fmt) == 2.0**-15


# ---- QPyTorch 0.3.0: "nearest" rounds ties away; overflow unhandled ---------------------------
def test_qpytorch_ties_to_even_and_overflow():
    assert q(1.125, formats.fp8_e5m2) == 1.0        # tie 1 / 1.25 -> even
    assert q(1.375, formats.fp8_e5m2) == 1.5        # tie 1.25 / 1.5 -> even
    assert q(-1.125, formats.fp8_e5m2) == -1.0
    assert q(1 + 2.0**-11, formats.binary16) == 1.0
    assert q(1 + 3 * 2.0**-11, formats.binary16) == 1 + 2.0**-9
    assert q(1e6, formats.binary16) == math.inf and q(-1e300, formats.fp8_e5m2) == -math.inf
    assert q(65520.0, formats.binary16) == math.inf           # tie beyond max -> inf
    assert q(np.nextafter(65520.0, 0), formats.binary16) == 65504.0


# ---- custom-float-quant 0.3.0: e4m3fn max 240, fp4 max 3, subnormals above a tie round down ---
def test_custom_float_quant_maxima():
    assert formats.fp8_e4m3fn.max == 448.0 and q(448.0, formats.fp8_e4m3fn) == 448.0
    assert q(450.0, formats.fp8_e4m3fn) == 448.0
    assert q(300.0, formats.fp8_e4m3fn) == 288.0
    assert q(1e4, formats.fp8_e4m3fn, saturate=True) == 448.0
    assert math.isnan(q(1e4, formats.fp8_e4m3fn))
    assert formats.fp4_e2m1.max == 6.0 and q(6.0, formats.fp4_e2m1) == 6.0
    assert q(5.5, formats.fp4_e2m1) == 6.0 and q(100.0, formats.fp4_e2m1) == 6.0
    assert q(-100.0, formats.fp4_e2m1) == -6.0


@pytest.mark.parametrize("fmt", [formats.fp8_e4m3fn, formats.fp4_e2m1, formats.fp8_e5m2,
                                 formats.fp6_e2m3])
def test_custom_float_quant_subnormals_above_tie_round_up(fmt):
    sq = fmt.smallest_subnormal
    ties = (np.arange(0, 2**fmt.man_bits) + 0.5) * sq
    above = np.nextafter(ties, np.inf)
    assert_same_bits(q(above, fmt), (np.arange(0, 2**fmt.man_bits) + 1) * sq, above,
                     f"just above subnormal ties, {fmt.name}")


# ---- APyTypes 0.5.1: a subnormal that rounds up to the smallest normal gives a bad encoding ----
@pytest.mark.parametrize("fmt", [formats.binary16, formats.bfloat16, formats.fp8_e4m3fn,
                                 formats.fp8_e5m2, formats.fp8_e4m3fnuz, formats.fp6_e3m2,
                                 formats.fp4_e2m1, Format(5, 10, bias=3), Format(8, 23)])
def test_apytypes_subnormal_rounding_to_normal_encodes(fmt):
    x = np.array([np.nextafter(fmt.smallest_normal, 0),
                  fmt.smallest_normal - 0.5 * fmt.smallest_subnormal])   # the tie -> even (up)
    r = q(x, fmt)
    assert np.all(r == fmt.smallest_normal)
    codes = fpsim.encode(r, fmt)
    assert codes.tolist() == [1 << fmt.man_bits] * 2
    assert np.all(fpsim.decode(codes, fmt) == fmt.smallest_normal)
    assert int(fpsim.encode(-r[0], fmt)) == (1 << (fmt.bits - 1)) | (1 << fmt.man_bits)


# ---- gfloat 0.5.2: rounding tiny values into E8M0 returns an unrepresentable value -------------
# OCP E8M0 (ml_dtypes float8_e8m0fnu): 8 exponent bits, no mantissa, no sign, no zero, values
# 2**-127 .. 2**127, NaN 0xFF.  fpsim has no unsigned type; Format(8, 0, bias=128, "finite")
# has exactly E8M0's values (exponent codes 1..255 -> 2**-127 .. 2**127) plus a sign and a zero
# (exponent code 0 with m = 0 is only zero), so it is the faithful model.  The default-bias e8m0
# (finite and ieee) and a no-subnormal variant are checked as well.
E8M0_LIKE = [Format(8, 0, bias=128, flavour="finite"), Format(8, 0, flavour="finite"),
             Format(8, 0, bias=128, flavour="finite", subnormals=False), Format(8, 0)]


@pytest.mark.parametrize("fmt", E8M0_LIKE, ids=lambda f: f.name)
@pytest.mark.parametrize("mode", ["rne", "rna", "rtz", "ru", "rd", "rto"])
def test_gfloat_e8m0_tiny_values(fmt, mode):
    rng = np.random.default_rng(8)
    x = np.concatenate([2.0 ** rng.uniform(-140, -110, 3000), [2.0**-127, 2.0**-126,
                        1.5 * 2.0**-127, 3 * 2.0**-128, 2.0**-128, 5e-324, 1e-300]])
    x = np.concatenate([x, -x])
    r = q(x, fmt, mode)
    allowed = {0.0} | set(ref.representable_values(*P(fmt)))
    assert all(abs(v) in allowed for v in r.tolist()), sorted(set(r.tolist()) - allowed)[:5]
    assert_same_bits(r, ref_quantize(x, fmt, mode), x, f"e8m0 tiny {mode}")
    assert np.all(fpsim.decode(fpsim.encode(r, fmt), fmt) == r)


def test_e8m0_model_vs_ml_dtypes():
    """Within E8M0's range, RNE into Format(8, 0, bias=128, 'finite') equals ml_dtypes'
    float8_e8m0fnu cast of float32 inputs (ties between 2**E and 2**(E+1) go up in both).
    Only float32 *normal* inputs: ml_dtypes 0.6.0 rounds float32 subnormals in
    (2**-127, 1.5 * 2**-127) up to 2**-126 (e.g. 1.1 * 2**-127), where 2**-127 is nearest; the
    reference and fpsim give 2**-127 (checked below)."""
    fmt = E8M0_LIKE[0]
    rng = np.random.default_rng(9)
    x = (2.0 ** rng.uniform(-126.0, 126.9, 5000)).astype(np.float32)
    x = np.concatenate([x, np.float32(1.5) * np.float32(2.0) ** np.arange(-126, 127, dtype=np.float32)])
    x = x[x >= np.float32(2.0**-126)]
    x64 = x.astype(np.float64)
    expected = x.astype(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    assert_same_bits(q(x64, fmt), expected, x64, "e8m0 model vs ml_dtypes float8_e8m0fnu")


def test_e8m0_float32_subnormal_inputs():
    """Where ml_dtypes' float8_e8m0fnu misrounds (float32 subnormal inputs), fpsim follows the
    exact reference: 1.1 * 2**-127 -> 2**-127, 1.6 * 2**-127 -> 2**-126."""
    fmt = E8M0_LIKE[0]
    x = np.array([1.1, 1.3, 1.49, 1.5, 1.6]) * 2.0**-127
    assert q(x, fmt).tolist() == [2.0**-127] * 3 + [2.0**-126] * 2
    assert_same_bits(q(x, fmt), ref_quantize(x, fmt, "rne"), x, "e8m0 float32-subnormal inputs")


# ---- APyTypes 0.5.1: .sum() ignores the accumulator context -------------------------------
def test_apytypes_sum_respects_the_accumulator():
    """fpsim.sum accumulates in the spec's format: 4096 ones in bfloat16 stall at 256
    (256 + 1 is a tie, to even), and in e6m4 at 32; equal to the exact reference."""
    ones = np.ones(4096)
    assert float(fpsim.sum(ones, fpsim.AccumSpec(formats.bfloat16))) == 256.0
    assert float(fpsim.sum(ones, fpsim.AccumSpec(Format(6, 4)))) == 32.0
    for acc in (formats.bfloat16, Format(6, 4), formats.binary16):
        got = fpsim.sum(ones[:600], fpsim.AccumSpec(acc))
        want, _ = ref.ref_dot([1.0] * 600, [1.0] * 600, acc=acc)
        assert float(got) == want


# ---- mptorch: its CPU Kahan GEMM shares one compensation term across output columns ----------
@pytest.mark.slow          # the first matmul call JIT-compiles the MAC kernel (~30 s when cold)
def test_mptorch_kahan_matmul_columns_are_independent():
    """Every element of a Kahan matmul equals the Kahan dot of its own row and column (its own
    compensation term), and the reference; the columns differ so a shared c would show."""
    rng = np.random.default_rng(12)
    acc = Format(5, 4)
    A = fpsim.quantize(rng.standard_normal((3, 40)), acc)
    B = fpsim.quantize(rng.standard_normal((40, 4)) * np.array([1.0, 1e-2, 1e2, 1.0]), acc)
    spec = fpsim.AccumSpec(acc, order="kahan")
    C = fpsim.matmul(A, B, spec)
    for i in range(3):
        for j in range(4):
            d = fpsim.dot(A[i], B[:, j], spec)
            want, _ = ref.ref_dot(A[i].tolist(), B[:, j].tolist(), acc=acc, order="kahan")
            assert_same_bits(C[i, j], want, A[i, 0], f"kahan matmul C[{i},{j}] vs reference")
            assert_same_bits(d, want, A[i, 0], f"kahan dot [{i},{j}] vs reference")
