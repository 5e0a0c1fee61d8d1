"""Test helpers: bit comparison with hex reports, reference over arrays, interesting points,
Hypothesis strategies for formats and values.  Only the reference (``reference``) decides what
is right; fpsim's Format is read through its plain fields."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import assume, strategies as st

import reference as ref
from fpsim import Format, formats

MODES = ref.MODES
FLAVOURS = ref.FLAVOURS
SEED = 0x5EED_F00D_1234_5678

SMALL_PRESETS = {
    "binary16": formats.binary16, "bfloat16": formats.bfloat16,
    "fp8_e4m3fn": formats.fp8_e4m3fn, "fp8_e5m2": formats.fp8_e5m2,
    "fp8_e4m3fnuz": formats.fp8_e4m3fnuz, "fp8_e5m2fnuz": formats.fp8_e5m2fnuz,
    "fp6_e3m2": formats.fp6_e3m2, "fp6_e2m3": formats.fp6_e2m3, "fp4_e2m1": formats.fp4_e2m1,
}
EIGHT_BIT_OR_LESS = {k: v for k, v in SMALL_PRESETS.items() if v.bits <= 8}


def P(fmt):
    """(e, m, bias, flavour, subnormals) of a Format."""
    return ref.format_params(fmt)


def variant(fmt, *, subnormals=None):
    """The same format with another subnormals flag."""
    if subnormals is None or subnormals == fmt.subnormals:
        return fmt
    return Format(fmt.exp_bits, fmt.man_bits, bias=fmt.bias, flavour=fmt.flavour,
                  subnormals=subnormals)


# ---------------------------------------------------------------------------------------------
# bit comparison
# ---------------------------------------------------------------------------------------------
def _hex(v) -> str:
    v = float(v)
    if math.isnan(v):
        return "nan"
    return f"{v.hex()} ({v!r})"


def same_bits(got, expected) -> np.ndarray:
    """Elementwise: identical float64 bit patterns, or both NaN."""
    g = np.asarray(got, dtype=np.float64)
    x = np.asarray(expected, dtype=np.float64)
    return (g.view(np.uint64) == x.view(np.uint64)) | (np.isnan(g) & np.isnan(x))


def assert_same_bits(got, expected, inputs, what: str, max_report: int = 12):
    """Assert bit identity; on failure list the first failing inputs and both results in hex.
    ``inputs`` is an array (one operand) or a tuple of arrays broadcast with the result."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != expected {expected.shape}"
    ok = same_bits(got, expected)
    if ok.all():
        return
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    ins = [np.broadcast_to(np.asarray(a, dtype=np.float64), got.shape).ravel() for a in inputs]
    bad = np.flatnonzero(~ok.ravel())
    lines = [f"{what}: {bad.size} of {ok.size} results differ from the reference"]
    for i in bad[:max_report]:
        args = ", ".join(_hex(a[i]) for a in ins)
        lines.append(f"  [flat {i}] input {args}: expected {_hex(expected.ravel()[i])}, "
                     f"got {_hex(got.ravel()[i])}")
    raise AssertionError("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# the reference over arrays
# ---------------------------------------------------------------------------------------------
def ref_quantize(x, fmt, mode, *, saturate=False, seed=SEED, k=52) -> np.ndarray:
    """Reference of fpsim.quantize over an array (C-order flat index i for sr)."""
    p = P(fmt)
    x = np.asarray(x, dtype=np.float64)
    flat = x.ravel()                                  # C order
    out = np.empty(flat.shape, dtype=np.float64)
    for i, v in enumerate(flat.tolist()):
        r = ref.sr_random(seed, i, k) if mode == "sr" else None
        out[i] = ref.round_to_format(v, *p, mode, saturate=saturate, r=r, k=k)
    return out.reshape(x.shape)


def ref_elementwise(name, args, fmt, mode, *, saturate=False, seed=SEED, k=52) -> np.ndarray:
    """Reference of fpsim.<name>(*args, fmt, ...) with NumPy broadcasting."""
    p = P(fmt)
    arrs = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args])
    shape = arrs[0].shape
    cols = [a.ravel().tolist() for a in arrs]          # ravel of a broadcast view is C order
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=np.float64)
    for i, vals in enumerate(zip(*cols)):
        r = ref.sr_random(seed, i, k) if mode == "sr" else None
        out[i] = ref.ref_op(name, vals, *p, mode, saturate=saturate, r=r, k=k)
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# interesting points of a format
# ---------------------------------------------------------------------------------------------
def _fin(v):
    return v if math.isfinite(v) else None


def grid(fmt, below=3, above=2):
    """Sorted non-negative float64 grid points around the format: 0, the subnormal grid (or,
    with subnormals off, the normal grid continued ``below`` binades under 2**emin), every normal
    value, and the grid continued ``above`` binades beyond emax (what 'unbounded above'
    rounds to).  Values beyond float64's range are dropped."""
    e, m, bias, flavour, sub = P(fmt)
    e_min, e_max = 1 - bias, ref.emax(e, m, bias, flavour)
    pts = {0.0}
    if sub:
        pts.update(math.ldexp(j, e_min - m) for j in range(2**m))
    else:
        for E in range(e_min - below, e_min):
            if E - m >= -1074:
                pts.update(math.ldexp(2**m + j, E - m) for j in range(2**m))
    for E in range(e_min, e_max + above + 1):
        for j in range(2**m):
            try:
                pts.add(math.ldexp(2**m + j, E - m))
            except OverflowError:
                pass
    return sorted(v for v in pts if math.isfinite(v))


SPECIALS = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
            -2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e-300,
            -1e-300, 1e300, -1e300, 1.0, -1.0]


def interesting_points(fmt, *, with_values_ulp=False, below=3, above=2) -> np.ndarray:
    """Every grid point, every midpoint between consecutive grid points, each midpoint +-1
    float64 ulp (optionally each grid point +-1 ulp too), both signs, and the specials."""
    g = np.array(grid(fmt, below, above), dtype=np.float64)
    mids = (g[:-1] + g[1:]) / 2                        # exact for these formats (<= m+2 bits)
    assert np.all((mids > g[:-1]) & (mids < g[1:]))
    parts = [g, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf)]
    if with_values_ulp:
        parts += [np.nextafter(g, np.inf), np.nextafter(g[1:], -np.inf)]
    pos = np.concatenate(parts)
    return np.concatenate([pos, -pos, np.array(SPECIALS)])


# ---------------------------------------------------------------------------------------------
# Hypothesis strategies
# ---------------------------------------------------------------------------------------------
@st.composite
def formats_st(draw, min_e=1, max_e=11, min_m=0, max_m=52, flavours=FLAVOURS,
               subnormals=(True, False)):
    """Any valid Format: e, m, flavour, bias (default, default +- a few, or anywhere binary64's
    range allows), subnormals on/off."""
    # the edges (tiny e, m = 0 or 1, m = 52) are where kernels break: weight them up
    e = draw(st.one_of(st.integers(min_e, max_e),
                       st.sampled_from([v for v in (1, 2, 3, 5, 8, 11) if min_e <= v <= max_e]
                                       or [min_e])))
    m = draw(st.one_of(st.integers(min_m, max_m),
                       st.sampled_from([v for v in (0, 1, 2, 3, 10, 23, 51, 52)
                                        if min_m <= v <= max_m] or [min_m])))
    flavour = draw(st.sampled_from(flavours))
    assume(not (flavour == "ieee" and e == 1))
    assume(not (flavour == "fn" and m == 0))
    default = 2 ** (e - 1) - 1 + (1 if flavour == "fnuz" else 0)
    top = 2**e - 1 - (1 if flavour == "ieee" else 0)
    lo, hi = max(top - 1023, -(2**12)), 1023          # emax <= 1023, emin = 1 - bias >= -1022
    assume(lo <= hi)
    bias = draw(st.one_of(st.just(default),
                          st.integers(-4, 4).map(lambda d: default + d),
                          st.sampled_from([lo, hi]),
                          st.integers(lo, hi)))
    assume(lo <= bias <= hi)
    sub = draw(st.sampled_from(subnormals))
    return Format(e, m, bias=bias, flavour=flavour, subnormals=sub)


def frac_to_float(x: Fraction) -> float:
    """Nearest float64 (ties to even) of an exact Fraction, inf beyond range."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


@st.composite
def values_st(draw, fmt):
    """A float64 built from the format's code points: a grid point, a midpoint, a quarter
    point, +-1..3 float64 ulps from those, or a special/huge/tiny value; random sign."""
    e, m, bias, flavour, sub = P(fmt)
    e_min, e_max = 1 - bias, ref.emax(e, m, bias, flavour)
    kind = draw(st.sampled_from(["grid", "grid", "grid", "special", "float"]))
    if kind == "special":
        return draw(st.sampled_from(SPECIALS))
    if kind == "float":
        return draw(st.floats(allow_nan=True, allow_infinity=True))
    # a grid point t * 2**Eq (t may be 2**(m+1): the next binade)
    E = draw(st.one_of(st.integers(e_min - 3, e_min + 2), st.integers(e_max - 2, e_max + 2),
                       st.integers(e_min - m - 3, e_max + 2)))
    if E < e_min and sub:
        Eq = e_min - m
        t = draw(st.one_of(st.integers(0, 2**m), st.sampled_from([0, 1, 2**m - 1, 2**m])))
    else:
        Eq = E - m
        t = draw(st.one_of(st.integers(2**m, 2 ** (m + 1)),
                           st.sampled_from([2**m, 2**m + 1, 2 ** (m + 1) - 1, 2 ** (m + 1) - 2])))
    where = draw(st.sampled_from(["point", "mid", "mid", "quarter", "three_quarters"]))
    off = {"point": Fraction(0), "mid": Fraction(1, 2), "quarter": Fraction(1, 4),
           "three_quarters": Fraction(3, 4)}[where]
    x = (t + off) * Fraction(2) ** Eq
    v = frac_to_float(x)
    ulps = draw(st.sampled_from([0, 0, 1, -1, 2, -3]))
    for _ in range(abs(ulps)):
        v = float(np.nextafter(v, math.copysign(math.inf, ulps)))
    if draw(st.booleans()):
        v = -v
    return v


def structured_values(fmt, seed: int, n: int = 200) -> np.ndarray:
    """``n`` float64 inputs built from the format's code points (deterministic in ``seed``):
    grid points (subnormal, normal, near emin, near emax, beyond max, the first unbounded-below
    binades), midpoints, quarter points, each possibly moved by 1..3 float64 ulps, plus specials,
    huge/tiny values and raw random bit patterns; random signs.  Drawing one seed per Hypothesis
    example gives many interesting points per (format, mode) example."""
    import random
    rnd = random.Random(seed)
    e, m, bias, flavour, sub = P(fmt)
    e_min, e_max = 1 - bias, ref.emax(e, m, bias, flavour)
    out = []
    for _ in range(n):
        kind = rnd.random()
        if kind < 0.08:
            out.append(rnd.choice(SPECIALS))
            continue
        if kind < 0.13:
            v = np.uint64(rnd.getrandbits(64)).view(np.float64)
            out.append(float(v))
            continue
        E = rnd.choice([rnd.randint(e_min - 3, e_min + 2), rnd.randint(e_max - 2, e_max + 2),
                        rnd.randint(e_min - m - 3, e_max + 2), e_min - 1, e_max, e_max + 1])
        if E < e_min and sub:
            Eq = e_min - m
            t = rnd.choice([rnd.randint(0, 2**m), 0, 1, 2**m - 1, 2**m])
        else:
            Eq = E - m
            t = rnd.choice([rnd.randint(2**m, 2 ** (m + 1)), 2**m, 2**m + 1,
                            2 ** (m + 1) - 1, 2 ** (m + 1) - 2])
        off = rnd.choice([Fraction(0), Fraction(1, 2), Fraction(1, 2), Fraction(1, 4),
                          Fraction(3, 4), Fraction(rnd.getrandbits(20), 2**20)])
        v = frac_to_float((t + off) * Fraction(2) ** Eq)
        ulps = rnd.choice([0, 0, 0, 1, -1, 2, -3])
        for _ in range(abs(ulps)):
            v = float(np.nextafter(v, math.copysign(math.inf, ulps)))
        out.append(-v if rnd.random() < 0.5 else v)
    return np.array(out, dtype=np.float64)
