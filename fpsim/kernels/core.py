"""Scalar building blocks shared by every kernel: the one rounding choke point, error-free
transformations and the counter-based random stream.

Every operation in fpsim ends in :func:`round_value`, which rounds an exact real number
given as ``(hi + lo) * 2**shift`` into a format described by plain numbers:

    m      stored mantissa bits           emin   exponent of the smallest normal
    xmax   largest finite value           flav   0 ieee, 1 fn, 2 fnuz, 3 finite
    subn   subnormals on (1) / off (0)    sat    saturate on overflow (1) / not (0)
    mode   0 rne 1 rna 2 rtz 3 ru 4 rd 5 rto 6 sr
    r, k   for sr: a k-bit random integer (1 <= k <= 52)

``hi`` is a float64 near the exact value and ``lo`` the rest, ``|lo| <= ulp(hi)/2``; ``lo`` is
either exact or rounded to odd (then its last bit stands for "and something below"), which
keeps every comparison the rounding makes exact. ``shift`` scales out of float64's range so
that products and quotients of extreme values need no special cases.

Nothing here uses fastmath: reassociation or FMA contraction would change the very
roundings that are being simulated.
"""
import math

import numpy as np
from llvmlite import ir
from numba import boolean, float64, int64, types
from numba.core import cgutils
from numba.extending import intrinsic

from .codes import FINITE, FN, FNUZ, IEEE, RAZ, RD, RNA, RNE, RTO, RTZ, RU, SR  # noqa: F401
from .jit import inline, jit, scalar_entry

_SIGN = np.uint64(0x8000000000000000)
_TINY = 5e-324  # smallest float64: stands for "nonzero, far below anything compared with it"

F8, I8, B1 = float64, int64, boolean
#: (m, emin, xmax, flav, subn, sat, mode, r, k): a format, then how to round into it
ROUNDING_ARGS = (I8, I8, F8, I8, B1, B1, I8, I8, I8)


@intrinsic
def fma(typingctx, a, b, c):
    """Fused multiply-add a*b + c with one rounding (LLVM's llvm.fma, always correctly
    rounded: a hardware FMA where there is one, libm's fma otherwise)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        dbl = ir.DoubleType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(dbl, [dbl] * 3),
                                            "llvm.fma.f64")
        return builder.call(fn, args)

    return sig, codegen


# The bit views are LLVM bitcasts (intrinsics, not inlined Python functions): they sit at
# the bottom of every kernel, and Numba's inliner re-processes an inlined function's whole
# subtree at each call site, which made them a sizeable part of the compile time.
def _bit_view(name, accepts, via, result, llvm_type):
    """The typing function of an intrinsic ``name``(x) for x of Numba type ``accepts``: x
    converted to ``via``, then its 64 bits reinterpreted as ``result``."""
    def typer(typingctx, x):
        if not isinstance(x, accepts):
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(context.cast(builder, args[0], signature.args[0], via),
                                   llvm_type)

        return result(x), codegen

    typer.__name__ = typer.__qualname__ = name
    return typer


#: The bits of the float64 x as a uint64.
as_bits = intrinsic(_bit_view("as_bits", types.Float, types.float64, types.uint64,
                              ir.IntType(64)))
#: The float64 whose bits are the integer b (taken as 64 bits).
from_bits = intrinsic(_bit_view("from_bits", types.Integer, types.uint64, types.float64,
                                ir.DoubleType()))


@inline
def signbit(x):
    return (as_bits(x) & _SIGN) != 0


@inline
def two_sum(a, b):
    """Knuth's TwoSum: s = fl(a + b) and the exact error e, s + e == a + b -- unless e is
    NaN, which happens exactly when s overflows, an operand is inf or NaN, or, near
    2**1024, the intermediate bb = fl(s - a) overflows though s does not.

    That last case: bb's exact value b + (s - (a + b)) exceeds |b| by at most half an
    ulp of s, 2**970, so it rounds beyond DBL_MAX only for b = +-DBL_MAX, with a + b a tie
    in the top binade that rounds away from zero (a an odd multiple of 2**970 of the other
    sign, |a| < 2**1023; TestFloat's 0xffdffffffffdffff - 0xffefffffffffffff). No other
    operation overflows while s is finite. Callers whose b can be +-DBL_MAX use
    two_sum_scaled, or flag a NaN e for it; the six operations here stay as they are,
    since they sit on the latency chain of every vectorised step."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


@inline
def two_sum_scaled(a, b):
    """(s, e, shift) with (s + e) * 2**shift == a + b exactly for any finite a, b: TwoSum,
    or, when its e is NaN (fl(a + b) or its intermediate overflowed, see two_sum), TwoSum
    of a/2 and b/2 with shift 1 (|a + b| < 2**1025 always). Halving is
    exact there: either |a + b| > DBL_MAX, so both are at least 2**970, or b = +-DBL_MAX
    and a a multiple of 2**970. A predictable branch off the latency chain; an inf or NaN
    operand leaves s inf or NaN (and e NaN), as two_sum does."""
    s, e = two_sum(a, b)
    if e != e:
        s, e = two_sum(a * 0.5, b * 0.5)
        return s, e, 1
    return s, e, 0


@inline
def round_to_odd(x, err_sign):
    """The float64 round-to-odd of (x + something with sign err_sign, smaller than half
    an ulp of x): truncate toward zero, then set the last bit if inexact."""
    if err_sign == 0 or x == 0.0:
        return x
    b = as_bits(x)
    if (err_sign > 0) != (x > 0):  # exact value is closer to zero: step x toward zero
        b -= np.uint64(1)
    return from_bits(b | np.uint64(1))


@inline
def odd_bits(hi, lo):
    """round_to_odd for vector loops, branch-free: the bits of the float64 round-to-odd of
    the exact pair hi + lo (|lo| <= ulp(hi)/2). When hi is inf or NaN, lo is NaN: hi's
    bits are left alone (callers flag those lanes anyway)."""
    hb = as_bits(hi)
    nz = np.uint64(abs(lo) < math.inf and lo != 0.0)
    opp = (as_bits(lo) ^ hb) >> np.uint64(63)
    return (hb - (nz & opp)) | nz


@inline
def splitmix64(seed, index):
    """SplitMix64 output number index+1 of a generator started at state ``seed``:
    counter based, so an element's random bits depend only on (seed, index)."""
    # (all-unsigned arithmetic: numba turns mixed int64/uint64 arithmetic into float64)
    z = np.uint64(seed) + (np.uint64(index) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@inline
def sr_bits(seed, index, k):
    """The k-bit random integer that stochastic rounding of element ``index`` uses."""
    return np.int64(splitmix64(seed, index) >> np.uint64(64 - k))


@inline
def exponent_of(a):
    """floor(log2(a)) of a finite a > 0, subnormals included."""
    be = np.int64((as_bits(a) >> np.uint64(52)) & np.uint64(0x7FF))
    if be > 0:
        return be - 1023
    # a float64 subnormal: scaling by 2**64 is exact and makes it normal
    return np.int64((as_bits(a * 18446744073709551616.0) >> np.uint64(52)) & np.uint64(0x7FF)) - 1023 - 64


@inline
def magnitude_mode(mode, neg):
    """ru/rd become toward-zero or away-from-zero once the sign is known."""
    if mode == RU:
        return RTZ if neg else RAZ
    if mode == RD:
        return RAZ if neg else RTZ
    return mode


@scalar_entry(F8, F8, I8, I8, I8, B1, I8, I8, I8)
def round_magnitude(a, l, shift, m, emin, subn, mmode, r, k):
    """Round the magnitude (a + l) * 2**shift onto the grid of an m-bit format with
    unbounded exponent range above (overflow is the caller's business).

    a > 0 finite, |l| <= ulp(a)/2; mmode is a magnitude mode (rne, rna, rtz, RAZ, rto, sr).
    The value is located as (T + fr + lf) quanta: T an integer, fr in [0, 1] exact, lf the
    scaled lo; every decision below compares those three exactly.
    """
    ea = exponent_of(a)
    e_true = ea + shift
    if subn:
        eq = e_true if e_true > emin else emin
    else:
        # Rounded on the normal grid, then flushed below 2**emin: only values in the
        # binade just below 2**emin can survive (by rounding up to it).
        if e_true < emin - 1:
            return 0.0
        eq = e_true
    qexp = eq - m                     # exponent of the quantum, true scale
    qs = qexp - shift                 # ... in the scale of a
    b = as_bits(a)
    be = np.int64((b >> np.uint64(52)) & np.uint64(0x7FF))
    sig = b & np.uint64(0xFFFFFFFFFFFFF)
    if be > 0:
        sig |= np.uint64(0x10000000000000)
        le = be - 1075                # a == sig * 2**le
    else:
        le = np.int64(-1074)
    d = qs - le                       # number of discarded bits of sig (>= 0)
    if d == 0:
        t = np.int64(sig)
        dd = np.int64(0)
    elif d < 64:
        t = np.int64(sig >> np.uint64(d))
        dd = np.int64(sig & ((np.uint64(1) << np.uint64(d)) - np.uint64(1)))
    else:
        t = np.int64(0)
        dd = np.int64(sig)
    # fr = dd / 2**d, exact unless it underflows; keep "nonzero" alive for the modes
    fr = math.ldexp(float(dd), -d) if d < 1100 else 0.0
    if fr == 0.0 and dd != 0:
        fr = _TINY
    lf = math.ldexp(l, -qs) if l != 0.0 else 0.0
    if lf == 0.0 and l != 0.0:
        lf = _TINY if l > 0 else -_TINY
    if dd == 0 and lf < 0.0:
        # The value sits just below the grid point T: step down one grid point so that
        # the remainder is positive. At the bottom of a normal binade the step below is
        # half a quantum.
        if t == (np.int64(1) << m) and (e_true > emin or not subn):
            t = (np.int64(1) << (m + 1)) - 1
            qexp -= 1
            lf = lf * 2.0
        else:
            t -= 1
        fr = 1.0
        dd = np.int64(1)
        d = np.int64(0)
    inexact = fr != 0.0 or lf != 0.0
    inc = 0
    if inexact:
        if mmode == RNE or mmode == RNA:
            h = fr - 0.5
            if h > -lf:
                inc = 1
            elif h == -lf:
                inc = 1 if (mmode == RNA or (t & 1) == 1) else 0
        elif mmode == RAZ:
            inc = 1
        elif mmode == RTO:
            inc = 1 if (t & 1) == 0 else 0
        elif mmode == SR:
            # round away iff fr + lf > r / 2**k
            if d >= k:
                u = math.ldexp(float(r), -k)
                if fr > u or (fr == u and lf > 0.0):
                    inc = 1
            else:
                diff = float((dd << (k - d)) - r)
                if diff > -math.ldexp(lf, k):
                    inc = 1
        # rtz: inc stays 0
    if not subn and float(t + inc) < math.ldexp(1.0, emin - qexp):
        # below 2**emin: flush. Decided on the integer significand, since such a value
        # may lie on a grid finer than float64's subnormals (emin - qexp <= m + 2).
        return 0.0
    return math.ldexp(float(t + inc), qexp)


@inline
def overflow_magnitude(mmode, xmax, flav, sat):
    """Magnitude returned when the rounded result exceeds the largest finite value."""
    if sat or flav == FINITE:
        return xmax
    if flav == IEEE:
        if mmode == RTZ or mmode == RTO:
            return xmax
        return math.inf
    return math.nan


@inline
def infinite_input(neg, xmax, flav, sat):
    """An infinite operand or exact result: kept in ieee, NaN in fn/fnuz, max in finite."""
    if flav == IEEE and not sat:
        return -math.inf if neg else math.inf
    if sat or flav == FINITE:
        return -xmax if neg else xmax
    return math.nan


@inline
def signed_zero(neg, flav):
    if neg and flav != FNUZ:
        return -0.0
    return 0.0


@scalar_entry(F8, F8, I8, *ROUNDING_ARGS)
def round_value(hi, lo, shift, m, emin, xmax, flav, subn, sat, mode, r, k):
    """Round the exact value (hi + lo) * 2**shift into the format (see the module doc)."""
    if hi != hi:
        return math.nan
    neg = signbit(hi)
    a = abs(hi)
    if a == math.inf:
        return infinite_input(neg, xmax, flav, sat)
    if a == 0.0:
        return signed_zero(neg, flav)
    mm = magnitude_mode(mode, neg)
    res = round_magnitude(a, -lo if neg else lo, shift, m, emin, subn, mm, r, k)
    if res > xmax:
        res = overflow_magnitude(mm, xmax, flav, sat)
    if res == 0.0:
        return signed_zero(neg, flav)
    return -res if neg else res
