"""Slow, obviously-right rounding of an exact real number into a format.

Independent of ``kernels/`` and of ``fpsim.rounding``: a format is read only through its plain
fields ``(exp_bits, man_bits, bias, flavour, subnormals)``, or given as those five numbers.
All arithmetic is exact rational arithmetic: a real is ``sign * n / d`` with Python integers
(the numerator and denominator of a :class:`fractions.Fraction`); no float operation takes part
in a rounding decision.  The result is built with ``math.ldexp(q, E)`` where ``q < 2**54`` is an
integer, which is exact.

The rules implemented (fpsim semantics, see ``docs/semantics.md`` and the test
brief) are, in order:

1. NaN -> NaN.  +-inf: ``ieee`` -> +-inf; ``fn``/``fnuz`` -> NaN; ``finite`` -> +-max; with
   ``saturate=True`` every flavour gives +-max.
2. |x| is rounded onto the grid "as if the exponent were unbounded above": for |x| in
   [2**E, 2**(E+1)) with E >= emin the quantum is 2**(E-m); below 2**emin the quantum is
   2**(emin-m).  With subnormals off the quantum is 2**(E-m) for every E (unbounded below too)
   and a result with |result| < 2**emin is then flushed to a signed zero.
3. Modes on the magnitude, with ``t = floor(|x| / q)`` (the truncated integer significand) and
   ``rem`` the discarded part:  rne: nearest, ties to even ``t``;  rna: nearest, ties away;
   rtz: toward zero;  ru/rd: away from zero iff inexact and the sign is +/-;  rto: away iff
   inexact and ``t`` even;  sr: away iff ``F > r / 2**k`` with ``F = rem / q``.
   Parity is that of ``t`` in the quantum of the binade of |x| (so the upper neighbour 2**(E+1),
   reached as ``t + 1 = 2**(m+1)``, counts as even).  For m = 0 this means a tie between 2**E and
   2**(E+1) rounds up under rne (as ml_dtypes' float8_e8m0fnu and gfloat do).
4. Overflow after rounding (|rounded| > max): ``saturate`` or ``finite`` -> +-max; ``fn``/``fnuz``
   -> NaN; ``ieee`` -> +-inf for rne/rna/sr and the away-from-zero direction of ru/rd, +-max for
   rtz/rto and the toward-zero direction of ru/rd.
5. A nonzero x that rounds to zero keeps its sign; ``fnuz`` has no -0 (every zero is +0).
"""
from __future__ import annotations

import math
import numbers
from fractions import Fraction

__all__ = [
    "FLAVOURS", "MODES", "Real", "format_params", "emin", "emax", "max_value", "max_significand",
    "round_to_format", "round_real",
]

FLAVOURS = ("ieee", "fn", "fnuz", "finite")
MODES = ("rne", "rna", "rtz", "ru", "rd", "rto", "sr")

NAN = float("nan")
INF = float("inf")


# ---------------------------------------------------------------------------------------------
# Format parameters (plain numbers only)
# ---------------------------------------------------------------------------------------------
def format_params(fmt):
    """``(e, m, bias, flavour, subnormals)`` from a tuple or from any object with the plain
    fields ``exp_bits, man_bits, bias, flavour, subnormals`` (e.g. ``fpsim.Format``).
    Only those fields are read; nothing of fpsim's logic is used."""
    if isinstance(fmt, tuple):
        if len(fmt) == 5:
            e, m, bias, flavour, subnormals = fmt
        elif len(fmt) == 2:                                 # (e, m): ieee, default bias
            e, m = fmt
            bias, flavour, subnormals = 2 ** (e - 1) - 1, "ieee", True
        else:
            raise ValueError(f"format tuple must be (e, m) or (e, m, bias, flavour, subnormals): {fmt!r}")
    else:
        e, m, bias, flavour, subnormals = (fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.flavour,
                                           fmt.subnormals)
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}")
    return int(e), int(m), int(bias), str(flavour), bool(subnormals)


def emin(e, m, bias, flavour, subnormals=True):
    """Exponent of the smallest normal: 1 - bias."""
    return 1 - bias


def emax(e, m, bias, flavour, subnormals=True):
    """Exponent of the largest finite value: top exponent code minus bias (ieee reserves it)."""
    top = 2**e - 1 - bias
    return top - 1 if flavour == "ieee" else top


def max_significand(e, m, bias, flavour, subnormals=True):
    """Integer significand M of the largest finite value, max = M * 2**(emax - m)."""
    if flavour == "fn":
        return 2 ** (m + 1) - 2          # the all-ones mantissa of the top code is NaN
    return 2 ** (m + 1) - 1


def max_value(e, m, bias, flavour, subnormals=True) -> Fraction:
    """Largest finite value as an exact Fraction."""
    return Fraction(max_significand(e, m, bias, flavour)) * Fraction(2) ** (emax(e, m, bias, flavour) - m)


# ---------------------------------------------------------------------------------------------
# An exact extended real with a signed zero
# ---------------------------------------------------------------------------------------------
class Real:
    """An exact extended real number: NaN, +-inf, or ``(-1)**neg * mag`` with ``mag`` a
    non-negative Fraction (``neg`` also carries the sign of a zero)."""

    __slots__ = ("kind", "neg", "mag")

    def __init__(self, kind: str, neg: bool = False, mag: Fraction = Fraction(0)):
        assert kind in ("nan", "inf", "fin")
        self.kind = kind
        self.neg = bool(neg)
        self.mag = Fraction(mag)
        assert self.mag >= 0

    # constructors --------------------------------------------------------------------------
    @staticmethod
    def nan() -> "Real":
        return Real("nan")

    @staticmethod
    def inf(neg: bool) -> "Real":
        return Real("inf", neg)

    @staticmethod
    def zero(neg: bool) -> "Real":
        return Real("fin", neg, Fraction(0))

    @staticmethod
    def of(x) -> "Real":
        """From a Python/NumPy float (exactly, signed zero kept), an int, a Fraction or a Real."""
        if isinstance(x, Real):
            return x
        if isinstance(x, Fraction):
            return Real("fin", x < 0, abs(x))
        if isinstance(x, numbers.Integral):       # Python and NumPy integers, exactly
            x = int(x)
            return Real("fin", x < 0, Fraction(abs(x)))
        x = float(x)                                # numpy scalars; float32 -> float64 is exact
        if math.isnan(x):
            return Real.nan()
        if math.isinf(x):
            return Real.inf(x < 0)
        neg = math.copysign(1.0, x) < 0
        n, d = abs(x).as_integer_ratio()
        return Real("fin", neg, Fraction(n, d))

    # queries --------------------------------------------------------------------------------
    @property
    def is_nan(self) -> bool:
        return self.kind == "nan"

    @property
    def is_inf(self) -> bool:
        return self.kind == "inf"

    @property
    def is_finite(self) -> bool:
        return self.kind == "fin"

    @property
    def is_zero(self) -> bool:
        return self.kind == "fin" and self.mag == 0

    def value(self) -> Fraction:
        """Signed exact value of a finite Real."""
        assert self.kind == "fin"
        return -self.mag if self.neg else self.mag

    def same_value(self, other: "Real") -> bool:
        """Equal as extended reals (NaN equals NaN here; the signs of zeros are ignored)."""
        if self.kind != other.kind:
            return False
        if self.kind == "nan":
            return True
        if self.kind == "inf":
            return self.neg == other.neg
        return self.value() == other.value()

    def __neg__(self) -> "Real":
        return Real(self.kind, not self.neg, self.mag)

    def __repr__(self) -> str:
        if self.kind == "nan":
            return "Real(nan)"
        if self.kind == "inf":
            return f"Real({'-' if self.neg else '+'}inf)"
        return f"Real({'-' if self.neg else '+'}{self.mag})"


# ---------------------------------------------------------------------------------------------
# Rounding
# ---------------------------------------------------------------------------------------------
def _floor_log2(n: int, d: int) -> int:
    """floor(log2(n / d)) for positive integers, exactly."""
    E = n.bit_length() - d.bit_length()          # n/d in [2**(E-1), 2**(E+1))
    # n/d < 2**E  <=>  n < d * 2**E
    if (n << max(0, -E)) < (d << max(0, E)):
        E -= 1
    return E


def _round_magnitude(n: int, d: int, neg: bool, e, m, bias, subnormals, mode, r, k):
    """Round n/d > 0 onto the grid that is unbounded above.  Returns (q, Eq) with the
    rounded magnitude q * 2**Eq (q an integer, possibly 0 or 2**(m+1))."""
    E = _floor_log2(n, d)
    e_min = 1 - bias
    Eq = (max(E, e_min) if subnormals else E) - m            # exponent of the quantum
    # s = (n/d) / 2**Eq = num / den;  t = floor(s), rem/den = fractional part in [0, 1)
    if Eq >= 0:
        num, den = n, d << Eq
    else:
        num, den = n << -Eq, d
    t, rem = divmod(num, den)
    inexact = rem != 0
    if mode == "rne":
        away = 2 * rem > den or (2 * rem == den and t % 2 == 1)
    elif mode == "rna":
        away = 2 * rem >= den
    elif mode == "rtz":
        away = False
    elif mode == "ru":
        away = inexact and not neg
    elif mode == "rd":
        away = inexact and neg
    elif mode == "rto":
        away = inexact and t % 2 == 0
    elif mode == "sr":
        if r is None:
            raise ValueError("mode 'sr' needs the random integer r")
        if not (1 <= k <= 52) or not (0 <= r < 2**k):
            raise ValueError(f"need 1 <= k <= 52 and 0 <= r < 2**k, got k={k}, r={r}")
        # F = rem/den > r / 2**k  <=>  rem * 2**k > r * den
        away = (rem << k) > r * den
    else:
        raise ValueError(f"unknown rounding mode {mode!r}")
    return t + (1 if away else 0), Eq


def round_real(x: Real, e, m, bias, flavour, subnormals, mode, *, saturate=False, r=None, k=52) -> float:
    """Round the exact extended real ``x`` into the format; returns a Python float
    (NaN, +-inf, +-0.0 included).  ``r`` is the k-bit random integer for ``mode='sr'``."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}")
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r}")
    e_max = emax(e, m, bias, flavour)
    M = max_significand(e, m, bias, flavour)
    fmax = math.ldexp(M, e_max - m)                 # exact: M < 2**53
    zero_neg_ok = flavour != "fnuz"

    if x.is_nan:
        return NAN
    if x.is_inf:
        if saturate or flavour == "finite":
            return -fmax if x.neg else fmax
        if flavour == "ieee":
            return -INF if x.neg else INF
        return NAN                                    # fn / fnuz: no infinity
    if x.mag == 0:
        return -0.0 if (x.neg and zero_neg_ok) else 0.0

    q, Eq = _round_magnitude(x.mag.numerator, x.mag.denominator, x.neg, e, m, bias, subnormals,
                             mode, r, k)
    # overflow:  q * 2**Eq > M * 2**(e_max - m)
    d_exp = Eq - (e_max - m)
    over = (q << d_exp) > M if d_exp >= 0 else q > (M << -d_exp)
    if over:
        if saturate or flavour == "finite":
            mag = fmax
        elif flavour in ("fn", "fnuz"):
            return NAN
        else:  # ieee
            toward_zero = (mode in ("rtz", "rto") or (mode == "ru" and x.neg)
                           or (mode == "rd" and not x.neg))
            mag = fmax if toward_zero else INF
        return -mag if x.neg else mag
    if q == 0:
        return -0.0 if (x.neg and zero_neg_ok) else 0.0
    if not subnormals:
        # flush: |result| < 2**emin  <=>  q * 2**Eq < 2**(1 - bias)
        e_min = 1 - bias
        below = (q << (Eq - e_min)) < 1 if Eq >= e_min else q < (1 << (e_min - Eq))
        if below:
            return -0.0 if (x.neg and zero_neg_ok) else 0.0
    mag = math.ldexp(q, Eq)                          # exact: q <= 2**(m+1) <= 2**53, in range
    return -mag if x.neg else mag


def round_to_format(x, e, m, bias, flavour, subnormals, mode="rne", *, saturate=False, r=None, k=52) -> float:
    """Round ``x`` (a float incl. +-0/inf/NaN, an int, a Fraction or a :class:`Real`) into the
    format ``(e, m, bias, flavour, subnormals)`` with ``mode``; returns a Python float.

    >>> round_to_format(1 + 2**-3, 5, 2, 15, "ieee", True, "rne")       # tie -> even (1.0)
    1.0
    >>> round_to_format(70000.0, 5, 2, 15, "ieee", True, "rne")
    inf
    """
    return round_real(Real.of(x), e, m, bias, flavour, subnormals, mode,
                      saturate=saturate, r=r, k=k)
