"""Counter-based random products for the Monte Carlo kernels (docs/semantics.md, "The
Monte Carlo stream").

Every random number is a pure function of (seed, stream, trial, index): the 64-bit word
``splitmix64(trial_key(seed, stream, t), i)`` with ``trial_key = splitmix64(splitmix64(seed,
stream), t)``. So trial t's products are the same whichever block, thread or worker
computes them, and the first n products of a trial do not depend on how many follow.

Streams: VALUES (the draw), FACTOR (the second normal of ``gaussian_product``), MASK (the
sparsity), and VALUES_RETRY / FACTOR_RETRY, the rare extra words of the ziggurat's slow
path for element i: ``splitmix64(splitmix64(trial_key(seed, retry stream, t), i), a)``,
a = 0, 1, ...

Normal and exponential variates come from a 256-layer ziggurat (Marsaglia & Tsang, "The
Ziggurat Method for Generating Random Variables", J. Stat. Softw. 5(8), 2000), tables
computed here from the density: one word gives the layer (bits 0-7), the sign (bit 8) and
a 53-bit uniform (bits 11-63); about 99% of draws take the branch-free fast path, the
rest the exact slow path (wedge and tail tests), so the variates follow the density
exactly up to the 53-bit uniforms.
"""
import math

import numpy as np

from .core import as_bits, from_bits, splitmix64
from .jit import inline, jit

# stream numbers (docs/semantics.md); 3 is the seed of stochastic rounding (analysis.draws)
VALUES, FACTOR, MASK, VALUES_RETRY, FACTOR_RETRY = 0, 1, 2, 4, 5

# distribution codes, in the order of fpsim.analysis.draws.DISTRIBUTIONS
GAUSSIAN, UNIFORM, LAPLACE, GAUSSIAN_PRODUCT = 0, 1, 2, 3

LAYERS = 256
_U53 = 2.0 ** -53
_SQRT3 = math.sqrt(3.0)
_LAPLACE_SCALE = 1.0 / math.sqrt(2.0)
_M8 = np.uint64(255)
_S8 = np.uint64(8)
_S11 = np.uint64(11)
_ONE = np.uint64(1)


# ---- the ziggurat tables, from the density ----------------------------------------------
def _normal_f(x):
    return math.exp(-0.5 * x * x)


def _normal_inv(y):
    return math.sqrt(-2.0 * math.log(y))


def _normal_tail(r):                  # integral of exp(-x^2/2) from r to infinity
    return math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))


def _exp_f(x):
    return math.exp(-x)


def _exp_inv(y):
    return -math.log(y)


def _exp_tail(r):
    return math.exp(-r)


def _layers(r, f, inv, tail):
    """(x, v, overshoot): the layer edges x[0..N] for base edge r, the common area v, and
    how far the top layer's recursion ends from f(0) = 1 (0 for the right r)."""
    v = r * f(r) + tail(r)
    x = np.empty(LAYERS + 1)
    x[0] = v / f(r)
    x[1] = r
    for i in range(1, LAYERS - 1):
        y = f(x[i]) + v / x[i]
        if y >= 1.0:
            return x, v, 1.0 + (LAYERS - i)          # r too small: the layers ran out
        x[i + 1] = inv(y)
    x[LAYERS] = 0.0
    return x, v, f(x[LAYERS - 1]) + v / x[LAYERS - 1] - 1.0


def ziggurat_tables(kind: str):
    """(x, f(x), r) of the 256-layer ziggurat for ``"normal"`` (exp(-x^2/2)) or
    ``"exponential"`` (exp(-x)): layer i spans [0, x[i]) and lies under the density on
    [0, x[i+1]); r = x[1] is where the tail starts. r solves the top layer's equation by
    bisection (Marsaglia & Tsang give 3.6541528853610088 and 7.69711747013104972)."""
    f, inv, tail, lo, hi = {"normal": (_normal_f, _normal_inv, _normal_tail, 2.0, 5.0),
                            "exponential": (_exp_f, _exp_inv, _exp_tail, 5.0, 10.0)}[kind]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _layers(mid, f, inv, tail)[2] > 0.0:
            lo = mid                                   # the top layer overshoots: larger r
        else:
            hi = mid
        if hi - lo <= 4e-16 * hi:
            break
    x, _, _ = _layers(hi, f, inv, tail)
    fx = np.array([f(v) for v in x])
    fx[LAYERS] = 1.0
    return x, fx, hi


# ---- keys and draws ----------------------------------------------------------------------
@inline
def trial_key(seed, stream, t):
    """The key of trial t's words in ``stream``."""
    return splitmix64(splitmix64(seed, stream), t)


@inline
def _unit(w):
    """The 53-bit uniform in [0, 1) of word w (its top 53 bits)."""
    return np.float64(w >> _S11) * _U53


@jit
def zig_slow(w, base, zx, zf, normal):
    """The exact draw for word w whose fast path failed: the wedge and tail tests, then
    new attempts with the words splitmix64(base, a), a = 0, 1, ... (``base``: the element's
    retry key). Symmetric: bit 8 of the accepted attempt's word is the sign."""
    a = np.uint64(0)
    r = zx[1]
    while True:
        layer = np.int64(w & _M8)
        sign = -1.0 if (w >> _S8) & _ONE else 1.0
        x = _unit(w) * zx[layer]
        if x < zx[layer + 1]:
            return sign * x
        if layer == 0:
            if normal:
                while True:
                    # Marsaglia's tail: x = -ln(u1)/r, accept when -2 ln(u2) > x^2
                    t = -math.log(1.0 - _unit(splitmix64(base, a))) / r
                    y = -math.log(1.0 - _unit(splitmix64(base, a + _ONE)))
                    a += np.uint64(2)
                    if 2.0 * y > t * t:
                        return sign * (r + t)
            t = -math.log(1.0 - _unit(splitmix64(base, a)))
            return sign * (r + t)                      # the exponential is memoryless
        u = _unit(splitmix64(base, a))
        a += _ONE
        fx = math.exp(-0.5 * x * x) if normal else math.exp(-x)
        if zf[layer] + u * (zf[layer + 1] - zf[layer]) < fx:
            return sign * x
        w = splitmix64(base, a)
        a += _ONE


@inline
def fill_symmetric(row, keys, rkeys, i, width, zx, zf, normal, scratch):
    """row[:width] = ziggurat draws of index i for the trials keyed by keys, in three
    passes, because a loop that loads from a table by a computed index is not vectorised:
    the words, layers and signed uniforms over every lane (a vector loop); the fast path,
    two table loads per lane, collecting the lanes it rejects (a short scalar loop); the
    slow path for those. ``scratch``: (layers int64, signed uniforms float64, rejected
    int64), each of length >= width. The value is the fast path's: ±U(w) x_L is the sign
    applied to U(w) x_L, since rounding is symmetric."""
    layers, su, rejected = scratch
    for j in range(width):
        w = splitmix64(keys[j], i)
        layers[j] = np.int64(w & _M8)
        u = _unit(w)
        su[j] = -u if (w >> _S8) & _ONE else u
    nrej = 0
    for j in range(width):
        layer = layers[j]
        x = su[j] * zx[layer]
        row[j] = x
        rejected[nrej] = j
        nrej += np.int64(abs(x) >= zx[layer + 1])
    for q in range(nrej):
        j = rejected[q]
        row[j] = zig_slow(splitmix64(keys[j], i), splitmix64(rkeys[j], i), zx, zf, normal)


@jit
def draw_scratch(width):
    """The scratch arrays of ``fill_products`` for ``width`` lanes."""
    return (np.empty(width, np.int64), np.empty(width), np.empty(width, np.int64),
            np.empty(width))


@inline
def round_mantissa(x, sh, half):
    """x rounded (RNE) to 52 - sh fractional mantissa bits in float64's exponent range,
    i.e. into e11m(52 - sh) with its subnormals; sh = 0 leaves x alone. half = 2^(sh-1)."""
    b = as_bits(x)
    odd = (b >> sh) & _ONE
    mask = (half << _ONE) - _ONE
    rb = (b + (half - _ONE) + odd) & ~mask
    return from_bits(rb) if sh != np.uint64(0) else x


@jit
def fill_products(buf, rows, i0, width, keys, dist, sh, nzr, zn, fn, ze, fe, scratch):
    """buf[r, j] = product i0 + r of trial j (r < rows, j < width): the draw of ``dist``,
    rounded to 52 - sh mantissa bits, zeroed where the mask word's uniform >= nzr.
    keys: the (5, width) trial keys of streams VALUES, FACTOR, MASK, VALUES_RETRY,
    FACTOR_RETRY; zn, fn / ze, fe: the normal / exponential ziggurat tables; scratch: the
    arrays of ``draw_scratch(width)``."""
    half = (_ONE << sh) >> _ONE
    zig = (scratch[0], scratch[1], scratch[2])
    factor = scratch[3]
    for r in range(rows):
        i = np.uint64(i0 + r)
        row = buf[r]
        if dist == UNIFORM:
            for j in range(width):
                # (w >> 10) 2^-53 - 1 is exact and uniform on [-1, 1) in steps of 2^-53
                u = np.float64(splitmix64(keys[0, j], i) >> np.uint64(10)) * _U53 - 1.0
                row[j] = _SQRT3 * u
        elif dist == LAPLACE:
            fill_symmetric(row, keys[0], keys[3], i, width, ze, fe, False, zig)
            for j in range(width):
                row[j] *= _LAPLACE_SCALE
        else:
            fill_symmetric(row, keys[0], keys[3], i, width, zn, fn, True, zig)
            if dist == GAUSSIAN_PRODUCT:
                fill_symmetric(factor, keys[1], keys[4], i, width, zn, fn, True, zig)
                for j in range(width):
                    row[j] *= factor[j]
        if sh != np.uint64(0):
            for j in range(width):
                row[j] = round_mantissa(row[j], sh, half)
        if nzr < 1.0:
            for j in range(width):
                if _unit(splitmix64(keys[2, j], i)) >= nzr:
                    row[j] = 0.0


@jit
def trial_keys(seed, t0, width):
    """The (5, width) keys of trials t0 .. t0 + width - 1 (rows: the streams of
    ``fill_products``)."""
    keys = np.empty((5, width), np.uint64)
    streams = (VALUES, FACTOR, MASK, VALUES_RETRY, FACTOR_RETRY)
    for s in range(5):
        for j in range(width):
            keys[s, j] = trial_key(seed, np.uint64(streams[s]), np.uint64(t0 + j))
    return keys
