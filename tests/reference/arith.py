"""Exact elementwise operations on float64 operands, each rounded once (slow reference).

``exact_add/sub/mul/div/fma/sqrt`` return the exact result as a :class:`Real` (signed zeros and
IEEE special cases included; the sign of an exact zero sum depends on the rounding mode, hence the
``mode`` argument).  ``ref_op(name, args, e, m, bias, flavour, subnormals, mode, ...)`` rounds it
into the format.

Special cases (IEEE 754): NaN in -> NaN; inf - inf, 0 * inf, 0 / 0, inf / inf, sqrt(x < 0) -> NaN;
x / 0 (x != 0) -> +-inf (sign XOR); finite / inf -> +-0.  An exact zero sum x + y is +0, or -0
under ``rd``, except that two zeros of the same sign keep it (for fma the exact product a*b,
zero with sign XOR, and c).  mul/div signs are the XOR of the operand signs.  sqrt(-0) = -0.

sqrt is decided exactly without any float sqrt: with N = 1200 fractional bits,
Y = isqrt(floor(A * 4**N)) = floor(sqrt(A) * 2**N).  If Y**2 == A * 4**N the root is Y / 2**N;
otherwise it is irrational and lies strictly inside (Y, Y+1) / 2**N, and we use the midpoint
(2Y+1) / 2**(N+1) instead.  Every decision point of every rounding (grid points, ties, the
stochastic thresholds t*q + r*q/2**k, binade boundaries, max) is a multiple of
2**(-1074 - 52 - 1) at the finest (subnormal quantum >= 2**-1074, or 2**(E-m) with E >= -538 for
a root of a float64, times 2**-k with k <= 52), hence of 2**-N: no decision point lies inside
the open interval, so the midpoint rounds exactly like the true root.
"""
from __future__ import annotations

import math
from fractions import Fraction

from .rounding import Real, round_real

__all__ = ["exact_add", "exact_sub", "exact_mul", "exact_div", "exact_fma", "exact_sqrt", "ref_op",
           "OPS"]

_SQRT_BITS = 1200


def _zero_sum_sign(x_neg: bool, x_zero: bool, y_neg: bool, y_zero: bool, mode: str) -> bool:
    """Sign of an exact-zero sum x + y (True = negative)."""
    if x_zero and y_zero and x_neg == y_neg:
        return x_neg
    return mode == "rd"


def exact_add(x, y, mode: str = "rne") -> Real:
    x, y = Real.of(x), Real.of(y)
    if x.is_nan or y.is_nan:
        return Real.nan()
    if x.is_inf and y.is_inf:
        return Real.inf(x.neg) if x.neg == y.neg else Real.nan()
    if x.is_inf:
        return x
    if y.is_inf:
        return y
    s = x.value() + y.value()
    if s == 0:
        return Real.zero(_zero_sum_sign(x.neg, x.is_zero, y.neg, y.is_zero, mode))
    return Real.of(s)


def exact_sub(x, y, mode: str = "rne") -> Real:
    return exact_add(x, -Real.of(y), mode)


def exact_mul(x, y) -> Real:
    x, y = Real.of(x), Real.of(y)
    if x.is_nan or y.is_nan:
        return Real.nan()
    neg = x.neg != y.neg
    if (x.is_inf and y.is_zero) or (y.is_inf and x.is_zero):
        return Real.nan()
    if x.is_inf or y.is_inf:
        return Real.inf(neg)
    return Real("fin", neg, x.mag * y.mag)


def exact_div(x, y) -> Real:
    x, y = Real.of(x), Real.of(y)
    if x.is_nan or y.is_nan:
        return Real.nan()
    neg = x.neg != y.neg
    if x.is_inf and y.is_inf:
        return Real.nan()
    if x.is_zero and y.is_zero:
        return Real.nan()
    if x.is_inf:
        return Real.inf(neg)
    if y.is_inf:
        return Real.zero(neg)
    if y.is_zero:
        return Real.inf(neg)
    return Real("fin", neg, x.mag / y.mag)


def exact_fma(a, b, c, mode: str = "rne") -> Real:
    """a * b + c with the exact product (the product's zero sign is the XOR)."""
    return exact_add(exact_mul(a, b), c, mode)


def exact_sqrt(x) -> Real:
    """sqrt(x) as a Real that rounds exactly like the true root (see the module docstring)."""
    x = Real.of(x)
    if x.is_nan:
        return Real.nan()
    if x.is_zero:
        return x                                     # sqrt(+-0) = +-0
    if x.neg:
        return Real.nan()
    if x.is_inf:
        return Real.inf(False)
    A = x.mag
    N = _SQRT_BITS
    scaled = A * Fraction(4) ** N
    M = scaled.numerator // scaled.denominator       # floor(A * 4**N)
    Y = math.isqrt(M)                                # floor(sqrt(A) * 2**N)
    if Y * Y == scaled:                              # exact root (scaled is then an integer)
        return Real("fin", False, Fraction(Y, 2**N))
    return Real("fin", False, Fraction(2 * Y + 1, 2 ** (N + 1)))


OPS = {
    "add": (2, lambda a, b, mode: exact_add(a, b, mode)),
    "sub": (2, lambda a, b, mode: exact_sub(a, b, mode)),
    "mul": (2, lambda a, b, mode: exact_mul(a, b)),
    "div": (2, lambda a, b, mode: exact_div(a, b)),
    "fma": (3, lambda a, b, c, mode: exact_fma(a, b, c, mode)),
    "sqrt": (1, lambda a, mode: exact_sqrt(a)),
}


def ref_op(name: str, args, e, m, bias, flavour, subnormals, mode="rne", *, saturate=False, r=None,
           k=52) -> float:
    """The reference result of ``fpsim.<name>(*args, fmt, mode, ...)`` for scalar operands."""
    arity, fn = OPS[name]
    if len(args) != arity:
        raise ValueError(f"{name} takes {arity} operands, got {len(args)}")
    exact = fn(*args, mode)
    return round_real(exact, e, m, bias, flavour, subnormals, mode, saturate=saturate, r=r, k=k)
