"""Rounding values into a format, and converting between values and bit patterns."""
from __future__ import annotations

import numpy as np

from ._args import (as_format, check_bool, check_nan_for_finite, float_array, format_params,
                    kernel_input, result, rounding_args, split_wide)
from .kernels.quantize import decode_kernel, encode_kernel, quantize_dd_kernel, quantize_kernels

__all__ = ["quantize", "encode", "decode", "code_dtype"]


def quantize(x, fmt, rounding="rne", *, saturate=False, seed=None, sr_bits=None, out=None,
             dtype=np.float64):
    """Round ``x`` into ``fmt`` (one rounding, exactly as defined in the docs).

    Parameters
    ----------
    x : array_like of float64, float32, float16, integers or long double, or a scalar
        Each value is rounded once from its exact value (never through float32).
    fmt : Format or str
        Target format, e.g. ``fpsim.formats.binary16`` or ``"e4m3fn"``.
    rounding : str or Rounding
        ``rne`` (default), ``rna``, ``rtz``, ``ru``, ``rd``, ``rto`` or ``sr``.
    saturate : bool
        Clamp overflow (and infinities) to ±max in every flavour, as OCP's saturating
        conversion does. Without it: ieee → ±inf (±max for rtz/rto and the toward-zero
        direction of ru/rd), fn/fnuz → NaN, finite → ±max.
    seed, sr_bits : int, optional
        For ``sr``: the random stream's seed (element i uses SplitMix64 number i+1) and the
        number of random bits k (1..52, default 52).
    out : ndarray, optional
        Where to write the result (same shape as ``x``, dtype ``dtype``); may be ``x``
        itself (in place).
    dtype : numpy.float64 (default) or numpy.float32
        The carrier type. float32 carriers hold the values of formats with
        ``man_bits <= 23`` whose range lies within float32's (binary16, bfloat16, the fp8,
        fp6 and fp4 formats...) exactly, in half the memory; other formats are refused.

    Returns
    -------
    ndarray of ``dtype`` (a numpy scalar for a scalar): the carriers of the rounded values.

    Examples
    --------
    >>> import fpsim
    >>> fpsim.quantize([1.0 + 2**-11, 1.0 + 3 * 2**-11, 70000.0], "fp16").tolist()
    [1.0, 1.001953125, inf]
    >>> float(fpsim.quantize(0.1, "e4m3fn", "rtz"))
    0.09375
    >>> float(fpsim.quantize(500.0, "e4m3fn", saturate=True))
    448.0
    """
    fmt = as_format(fmt)
    saturate = check_bool(saturate, "saturate")
    mode, seed, k = rounding_args(rounding, seed, sr_bits)
    arr = np.asarray(x)
    scalar = arr.ndim == 0
    wide = split_wide(arr)
    values = float_array(arr, "x") if wide is None else wide[0]
    check_nan_for_finite(fmt, values, "x")
    m, emin, xmax, flav, subn = format_params(fmt)
    carrier = _carrier_dtype(dtype, fmt)
    if out is None:
        res = np.empty(values.shape, dtype=carrier)
    else:
        if not isinstance(out, np.ndarray) or out.dtype != carrier or out.shape != values.shape:
            raise ValueError(f"out must be a {carrier} ndarray of shape {values.shape}, got "
                             f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}")
        if not out.flags.c_contiguous:
            raise ValueError("out must be C-contiguous")
        res = out
    src = kernel_input(values).reshape(-1)
    dst = res.reshape(-1)
    if wide is None:
        to_f64, to_f32 = quantize_kernels(int(mode), bool(subn))
        kernel = to_f32 if carrier == np.float32 else to_f64
        kernel(src, dst, m, emin, xmax, flav, saturate, np.uint64(seed), k)
    else:
        lo = kernel_input(wide[1]).reshape(-1)
        shift = kernel_input(wide[2], np.int64).reshape(-1)
        wide_dst = dst if carrier == np.float64 else np.empty(dst.shape)
        quantize_dd_kernel(src, lo, shift, wide_dst, m, emin, xmax, flav, subn, saturate, mode,
                           np.uint64(seed), k)
        if wide_dst is not dst:
            dst[...] = wide_dst        # exact: float32 holds every value of the format
    return result(res, scalar and out is None)


def _carrier_dtype(dtype, fmt) -> np.dtype:
    """The carrier dtype of quantize: float64, or float32 where it holds fmt exactly."""
    try:
        carrier = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32, got {dtype!r}") from None
    if carrier == np.float64:
        return carrier
    if carrier != np.float32:
        raise ValueError(f"dtype must be numpy.float64 or numpy.float32, got {carrier}")
    # every finite value exact in float32: significand, top and the finest quantum
    if fmt.man_bits > 23 or fmt.emax > 127 or fmt.emin - fmt.man_bits < -149:
        raise ValueError(
            f"dtype=float32 needs a format whose values float32 holds exactly (man_bits <= 23, "
            f"emax <= 127, emin - man_bits >= -149); {fmt.name} has man_bits={fmt.man_bits}, "
            f"emax={fmt.emax}, emin={fmt.emin}")
    return carrier


def code_dtype(fmt) -> np.dtype:
    """Smallest unsigned integer dtype that holds a code of ``fmt``."""
    bits = as_format(fmt).bits
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if bits <= np.dtype(dt).itemsize * 8:
            return np.dtype(dt)
    raise AssertionError("unreachable: a format has at most 64 bits")


def _nan_code(fmt) -> int:
    e, m = fmt.exp_bits, fmt.man_bits
    if not fmt.has_nan:
        return 0                         # never used: NaN input is refused first
    if fmt.flavour == "ieee":
        return ((2**e - 1) << m) | (1 << (m - 1))
    if fmt.flavour == "fn":
        return (1 << (e + m)) - 1
    if fmt.flavour == "fnuz":
        return 1 << (e + m)
    return 0


def encode(x, fmt):
    """Bit patterns (sign | exponent code | mantissa) of values already in ``fmt``.

    NaN becomes the format's canonical NaN code. A value that ``fmt`` cannot represent
    exactly is an error: round it first with :func:`quantize`.

    >>> import fpsim
    >>> [hex(c) for c in fpsim.encode([1.0, -2.0, 448.0, float("nan")], "e4m3fn")]
    ['0x38', '0xc0', '0x7e', '0x7f']
    """
    fmt = as_format(fmt)
    arr = np.asarray(x)
    scalar = arr.ndim == 0
    values = kernel_input(float_array(arr, "x")).reshape(-1)
    nan = np.isnan(values)
    if nan.any() and not fmt.has_nan:
        raise ValueError(f"x contains NaN, which the format {fmt.name} cannot encode "
                         f"(flavour {fmt.flavour!r}{', man_bits=0' if fmt.flavour == 'ieee' else ''})")
    q = quantize(values, fmt, "rtz")
    bad = ~((q.view(np.uint64) == values.view(np.uint64)) | nan)
    if fmt.flavour == "fnuz":
        bad &= ~(values == 0.0)          # -0 encodes as the only zero
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"x[{i}] = {values[i]!r} ({float(values[i]).hex()}) is not a value of "
                         f"{fmt.name}; round it first with fpsim.quantize")
    codes = np.empty(values.shape, dtype=np.uint64)
    encode_kernel(values, codes, fmt.exp_bits, fmt.man_bits, fmt.emin,
                  format_params(fmt)[3], np.uint64(_nan_code(fmt)))
    codes = codes.astype(code_dtype(fmt)).reshape(arr.shape)
    return codes[()] if scalar else codes


def decode(codes, fmt):
    """Values (float64) of bit patterns of ``fmt``; every NaN code decodes to NaN.

    >>> import fpsim
    >>> fpsim.decode([0x3C00, 0x7BFF, 0x0001], "fp16").tolist()
    [1.0, 65504.0, 5.960464477539063e-08]
    """
    fmt = as_format(fmt)
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {arr.dtype}")
    scalar = arr.ndim == 0
    flat = arr.reshape(-1)
    if flat.size and (flat.min() < 0 or int(flat.max()) >= 2**fmt.bits):
        bad = flat[(flat < 0) | (flat.astype(np.uint64) >= np.uint64(2**fmt.bits) if fmt.bits < 64 else flat < 0)]
        raise ValueError(f"codes must satisfy 0 <= code < 2**{fmt.bits} for {fmt.name}, got {int(bad[0])}")
    out = np.empty(flat.shape, dtype=np.float64)
    decode_kernel(kernel_input(flat, np.uint64), out, fmt.exp_bits, fmt.man_bits,
                  fmt.emin, format_params(fmt)[3], fmt.subnormals)
    out = out.reshape(arr.shape)
    return out[()] if scalar else out
