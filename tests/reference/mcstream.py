"""The Monte Carlo product stream, in pure Python, written from docs/semantics.md ("The
Monte Carlo stream"), sharing no code with fpsim's kernels.

Product i of trial t for a seed s:

    key(stream) = splitmix64(splitmix64(s, stream), t)
    w = splitmix64(key(0), i)                        the value's word
    uniform:  sqrt(3) * ((w >> 10) 2^-53 - 1)
    gaussian: ziggurat(w, retry words splitmix64(splitmix64(key(4), i), a)), normal tables
    laplace:  ziggurat(...) with the exponential tables, times 1/sqrt(2)
    gaussian_product: the gaussian times the gaussian of stream 1 (retries: stream 5)
    then rounded to nearest-even at m_p fractional bits (float64's exponent range), and
    zeroed if (splitmix64(key(2), i) >> 11) 2^-53 >= nzr.

ziggurat(w): layer L = w & 255, sign bit 8, U = (w >> 11) 2^-53, x = U X[L]; accept x if
x < X[L+1]; else layer 0 samples the tail beyond r = X[1], any other layer accepts x if
F[L] + u (F[L+1] - F[L]) < f(x) for the next retry word's uniform u; a rejected draw
starts over with the next retry word. The tables (X, F) are data, passed in.
"""
from __future__ import annotations

import math

from .stream import splitmix64

__all__ = ["product"]

_U53 = 2.0 ** -53


def _unit(w):
    return (w >> 11) * _U53


def _ziggurat(w, retry, X, F, normal):
    a = 0

    def nxt():
        nonlocal a
        v = splitmix64(retry, a)
        a += 1
        return v

    while True:
        layer = w & 255
        sign = -1.0 if (w >> 8) & 1 else 1.0
        x = _unit(w) * X[layer]
        if x < X[layer + 1]:
            return sign * x
        if layer == 0:
            r = X[1]
            if normal:
                while True:
                    t = -math.log(1.0 - _unit(nxt())) / r
                    y = -math.log(1.0 - _unit(nxt()))
                    if 2.0 * y > t * t:
                        return sign * (r + t)
            return sign * (r - math.log(1.0 - _unit(nxt())))
        u = _unit(nxt())
        f = math.exp(-0.5 * x * x) if normal else math.exp(-x)
        if F[layer] + u * (F[layer + 1] - F[layer]) < f:
            return sign * x
        w = nxt()


def _round(x, m_p):
    """x rounded to nearest-even at m_p fractional bits, float64's exponent range."""
    if x == 0.0 or m_p is None:
        return x
    m, e = math.frexp(abs(x))                 # |x| = m 2^e, m in [1/2, 1)
    q = max(e - 1, -1022) - m_p               # the spacing's exponent (subnormals: fixed)
    k = abs(x) / 2.0 ** q                     # exact: a power-of-two scaling
    lo = math.floor(k)
    frac = k - lo
    n = lo + 1 if frac > 0.5 or (frac == 0.5 and lo % 2 == 1) else lo
    return math.copysign(n * 2.0 ** q, x)


def product(seed, t, i, dist, m_p, nzr, normal_tables, exp_tables):
    """Product i of trial t (see the module doc)."""
    key = [splitmix64(splitmix64(seed, s), t) for s in range(6)]
    w = splitmix64(key[0], i)
    if dist == "uniform":
        x = math.sqrt(3.0) * ((w >> 10) * _U53 - 1.0)
    elif dist == "laplace":
        x = _ziggurat(w, splitmix64(key[4], i), *exp_tables, False) * (1.0 / math.sqrt(2.0))
    else:
        x = _ziggurat(w, splitmix64(key[4], i), *normal_tables, True)
        if dist == "gaussian_product":
            x *= _ziggurat(splitmix64(key[1], i), splitmix64(key[5], i), *normal_tables, True)
    x = _round(x, m_p)
    if nzr < 1.0 and _unit(splitmix64(key[2], i)) >= nzr:
        x = 0.0
    return x
