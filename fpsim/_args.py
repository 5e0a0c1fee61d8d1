"""Argument checking and unpacking shared by the public API (never by the kernels)."""
from __future__ import annotations

import numpy as np

from .formats import FLAVOUR_CODE, Format, as_format
from .rounding import Rounding, as_rounding

_MAX_SEED = 2**64


def format_params(fmt: Format) -> tuple:
    """The plain numbers a kernel needs: (m, emin, xmax, flavour code, subnormals)."""
    return (fmt.man_bits, fmt.emin, fmt.max, FLAVOUR_CODE[fmt.flavour], fmt.subnormals)


def float_array(x, name: str) -> np.ndarray:
    """x as a float64 array, refusing what is not real numbers. Values that float64 cannot
    hold exactly (int64 beyond 2**53, long double) must go through :func:`split_wide`."""
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(np.float64, copy=False)
    if kind in "iu":
        return arr.astype(np.float64)
    if kind == "b":
        raise TypeError(f"{name} must hold real numbers, got a boolean array")
    if kind == "c":
        raise TypeError(f"{name} must hold real numbers, got complex values (dtype {arr.dtype})")
    if kind == "O":
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must hold real numbers, got objects that are not "
                            f"(dtype object, first element {arr.flat[0]!r})") from None
    raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def kernel_input(a: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``a`` as a C-contiguous, read-only array of ``dtype`` for the kernels.

    Numba types read-only and writable arrays (and each memory layout) apart and compiles a
    kernel, with everything it calls, once per combination; handing every kernel its
    inputs in this one form keeps that to one compilation per kernel.
    """
    view = np.ascontiguousarray(a, dtype=dtype).view()
    view.flags.writeable = False
    return view


def split_wide(arr: np.ndarray):
    """(hi, lo, shift) arrays with (hi + lo) * 2**shift == arr exactly (hi, lo float64,
    shift int64), for integer arrays beyond 2**53 and long double; None when float64
    holds every value exactly.

    Long doubles from 2**1023 up are split halved (shift 1): fl64(x) overflows from
    DBL_MAX + 2**970 on, while x may still round to a finite value (rtz, rd, sr, and
    formats near 2**1024). Beyond 2**1024 every value rounds as 2**1024 does (it
    overflows in every format and mode, sr included), which then stands in for it."""
    if arr.dtype.kind in "iu" and arr.size:
        big = np.abs(arr.astype(np.float64)) > 2.0**53
        if not big.any():
            return None
        flat = arr.ravel()
        hi = flat.astype(np.float64)
        lo = np.array([float(int(v) - int(h)) for v, h in zip(flat.tolist(), hi.tolist())])
        return hi.reshape(arr.shape), lo.reshape(arr.shape), np.zeros(arr.shape, np.int64)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        top = np.ldexp(np.ones((), arr.dtype), 1024)
        halve = np.isfinite(arr) & (np.abs(arr) >= top / 2)
        x = np.where(halve, np.clip(arr, -top, top) / 2, arr)
        hi = x.astype(np.float64)
        lo = np.where(np.isfinite(hi), (x - hi.astype(arr.dtype)).astype(np.float64), 0.0)
        return hi, lo, halve.astype(np.int64)
    return None


def seed_value(seed, rounding: Rounding) -> int:
    if seed is None:
        # A fresh, unpredictable stream; pass a seed to reproduce it.
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0]) if rounding == Rounding.SR else 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer or None, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < _MAX_SEED:
        raise ValueError(f"seed must satisfy 0 <= seed < 2**64, got {seed}")
    return seed


def sr_bits_value(sr_bits) -> int:
    if sr_bits is None:
        return 52
    if isinstance(sr_bits, bool) or not isinstance(sr_bits, (int, np.integer)):
        raise TypeError(f"sr_bits must be an integer or None, got {sr_bits!r}")
    if not 1 <= sr_bits <= 52:
        raise ValueError(f"sr_bits must satisfy 1 <= sr_bits <= 52, got {sr_bits}")
    return int(sr_bits)


def rounding_args(rounding, seed, sr_bits) -> tuple:
    """(mode code, seed, k) for a kernel."""
    mode = as_rounding(rounding)
    return int(mode), seed_value(seed, mode), sr_bits_value(sr_bits)


def check_nan_for_finite(fmt: Format, values: np.ndarray, name: str, what: str = "contains NaN"):
    if fmt.flavour == "finite" and np.isnan(values).any():
        raise ValueError(f"{name} {what}, which the format {fmt.name} (flavour 'finite', no NaN "
                         "encoding) cannot represent")


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def result(out: np.ndarray, scalar: bool):
    """Hand back a numpy float64 scalar for scalar input, else the array."""
    return out[()] if scalar else out


__all__ = ["format_params", "float_array", "split_wide", "rounding_args", "as_format",
           "check_nan_for_finite", "check_bool", "result"]
