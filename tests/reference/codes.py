"""Slow reference of the bit encodings (one value at a time) and of exhaustive value lists.

code = sign << (e+m) | exponent_code << m | mantissa.

- exponent code 0: zero / subnormal, value mantissa * 2**(emin - m), emin = 1 - bias;
- otherwise normal: (2**m + mantissa) * 2**(exponent_code - bias - m);
- ``ieee``: exponent code all ones is inf (mantissa 0) or NaN (mantissa != 0);
- ``fn``: exponent and mantissa all ones is NaN (either sign), every other code a number;
- ``fnuz``: the code 1 << (e+m) (the "negative zero") is the only NaN;
- ``finite``: every code is a number.

Canonical NaN codes (what encode produces): ieee: sign 0, exponent all ones, mantissa
1 << (m-1) (none for m = 0: encode raises); fn: all ones with sign 0; fnuz: 1 << (e+m);
finite: none (encode raises).

Codes whose exponent code is 0 decode to their subnormal value whatever the ``subnormals`` flag
(the flag is a property of the arithmetic, not of the encoding); :func:`representable_values`
is the list of values rounding can produce, which excludes them when subnormals are off.
"""
from __future__ import annotations

import math
from fractions import Fraction

from .rounding import FLAVOURS, emax, max_significand

__all__ = ["code_dtype", "decode_one", "encode_one", "all_values", "representable_values",
           "canonical_nan_code"]

NAN = float("nan")
INF = float("inf")


def code_dtype(e, m):
    """Smallest of uint8/16/32/64 (as a NumPy dtype name) holding 1 + e + m bits."""
    bits = 1 + e + m
    for width in (8, 16, 32, 64):
        if bits <= width:
            return f"uint{width}"
    raise ValueError(bits)


def decode_one(code: int, e, m, bias, flavour, subnormals=True) -> float:
    """Value of one code as a Python float (exact)."""
    bits = 1 + e + m
    if not 0 <= code < 2**bits:
        raise ValueError(f"code {code} outside [0, 2**{bits})")
    sign = code >> (e + m)
    ecode = (code >> m) & (2**e - 1)
    mant = code & (2**m - 1)
    top = 2**e - 1
    if flavour == "ieee" and ecode == top:
        if mant == 0:
            return -INF if sign else INF
        return NAN
    if flavour == "fn" and ecode == top and mant == 2**m - 1:
        return NAN
    if flavour == "fnuz" and code == 1 << (e + m):
        return NAN
    if ecode == 0:
        mag = math.ldexp(mant, 1 - bias - m)
    else:
        mag = math.ldexp(2**m + mant, ecode - bias - m)
    return -mag if sign else mag


def canonical_nan_code(e, m, bias, flavour, subnormals=True):
    """The code encode() gives NaN, or None when the format has no NaN code."""
    if flavour == "ieee":
        if m == 0:
            return None
        return (2**e - 1) << m | 1 << (m - 1)
    if flavour == "fn":
        return 2 ** (e + m) - 1
    if flavour == "fnuz":
        return 1 << (e + m)
    return None


def encode_one(x: float, e, m, bias, flavour, subnormals=True) -> int:
    """Code of one value; raises ValueError if ``x`` is not a value of the format.
    -0.0 encodes to the sign-1 zero, except in ``fnuz`` (no -0) where it encodes to 0."""
    x = float(x)
    if math.isnan(x):
        c = canonical_nan_code(e, m, bias, flavour)
        if c is None:
            raise ValueError(f"{x!r}: the format has no NaN code")
        return c
    sign = 1 if math.copysign(1.0, x) < 0 else 0
    if math.isinf(x):
        if flavour != "ieee":
            raise ValueError(f"{x!r}: the format has no infinity")
        return sign << (e + m) | (2**e - 1) << m
    if x == 0:
        if flavour == "fnuz":
            return 0
        return sign << (e + m)
    a = Fraction(abs(x))
    e_min = 1 - bias
    if a < Fraction(2) ** e_min:
        if not subnormals:
            raise ValueError(f"{x!r} is subnormal and the format has subnormals off")
        s = a / Fraction(2) ** (e_min - m)
        if s.denominator != 1:
            raise ValueError(f"{x!r} is not a multiple of the subnormal quantum")
        return sign << (e + m) | int(s)
    E = math.floor(math.log2(a))                   # refined exactly below
    while Fraction(2) ** E > a:
        E -= 1
    while Fraction(2) ** (E + 1) <= a:
        E += 1
    s = a / Fraction(2) ** (E - m)
    if s.denominator != 1:
        raise ValueError(f"{x!r} needs more than {m} mantissa bits")
    s = int(s)
    if E > emax(e, m, bias, flavour) or (E == emax(e, m, bias, flavour)
                                         and s > max_significand(e, m, bias, flavour)):
        raise ValueError(f"{x!r} is above the largest finite value")
    return sign << (e + m) | (E + bias) << m | (s - 2**m)


def all_values(e, m, bias, flavour, subnormals=True):
    """``[(code, value)]`` for every code 0 .. 2**(1+e+m) - 1 (use only for small formats)."""
    return [(c, decode_one(c, e, m, bias, flavour)) for c in range(2 ** (1 + e + m))]


def representable_values(e, m, bias, flavour, subnormals=True):
    """Sorted list of the distinct finite values rounding can return (non-negative only;
    zero once), i.e. every finite code's magnitude, without the nonzero subnormals when
    subnormals are off.  Fine up to ~20 bits."""
    vals = set()
    for c in range(2 ** (e + m)):                  # sign 0 codes
        v = decode_one(c, e, m, bias, flavour)
        if math.isnan(v) or math.isinf(v):
            continue
        if not subnormals and 0 < v < math.ldexp(1.0, 1 - bias):
            continue
        vals.add(v)
    return sorted(vals)


assert set(FLAVOURS) == {"ieee", "fn", "fnuz", "finite"}
