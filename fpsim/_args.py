"""Argument checking and unpacking, for the public API and the layers above it (never for
the kernels).

Every check of a parameter shared across fpsim (``n``, ``m_acc``, ``m_p``, ``chunk``,
``trials``, ``seed``, ``nzr``, ``ci``, ``cutoff``, ``dist``, ``model``, ...) is one of the
functions below, so a parameter is refused with one message wherever it is given (the
library, the analysis, the ``fpsim`` command): the parameter's name, the rule and the
value, as in ``n must satisfy n >= 1, got 0`` (ValueError) or ``trials must be an integer,
got float 2.5`` (TypeError).

>>> check_int(5, "m_acc", 0, 52)
5
>>> check_int(60, "m_acc", 0, 52)
Traceback (most recent call last):
...
ValueError: m_acc must satisfy 0 <= m_acc <= 52, got 60
>>> check_nzr(1.5)
Traceback (most recent call last):
...
ValueError: nzr must satisfy 0 < nzr <= 1 (the fraction of non-zero products), got 1.5
>>> check_choice("cauchy", "dist", ("gaussian", "uniform"))
Traceback (most recent call last):
...
ValueError: dist must be one of 'gaussian', 'uniform', got 'cauchy'
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from .formats import FLAVOUR_CODE, Format, as_format
from .kernels.plan import FormatParams
from .rounding import Rounding, as_rounding

_MAX_SEED = 2**64


# ---------------------------------------------------------------- the checks

def _shown(value) -> str:
    """A refused value in a message: its type and (at most 60 characters of) its repr."""
    return f"{type(value).__name__} {value!r:.60}"


def _symbol(name: str) -> str:
    """The name a rule uses: ``in_channels`` for ``Conv2d.in_channels``."""
    return name.rsplit(".", 1)[-1]


def _bound(value) -> str:
    if isinstance(value, int) and value >= 2**20 and value & (value - 1) == 0:
        return f"2**{value.bit_length() - 1}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rule(name, low=None, high=None, low_open=False, high_open=False) -> str:
    """``low <= name <= high`` (``<`` where open), or the one side given."""
    s = _symbol(name)
    lo = f"{_bound(low)} {'<' if low_open else '<='} " if low is not None else ""
    hi = f" {'<' if high_open else '<='} {_bound(high)}" if high is not None else ""
    if lo and not hi:          # one-sided: the parameter first (n >= 1)
        return f"{s} {'>' if low_open else '>='} {_bound(low)}"
    return f"{lo}{s}{hi}"


def check_int(value, name: str, low=None, high=None, *, high_open: bool = False,
              note: str = "", optional: bool = False):
    """``value`` as a Python int in [low, high] (``high`` excluded if ``high_open``; bools
    and floats refused); None passes when ``optional``. ``note`` explains the rule, e.g.
    ``" (the chunk length)"``."""
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer{' or None' if optional else ''}, got the "
                        f"bool {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer{' or None' if optional else ''}, got "
                        f"{_shown(value)}") from None
    if (low is not None and value < low) or (high is not None and (
            value >= high if high_open else value > high)):
        raise ValueError(f"{name} must satisfy {_rule(name, low, high, high_open=high_open)}"
                         f"{note}, got {value}")
    return int(value)


def check_ints(value, name: str, low, high, *, scalar: bool = False) -> np.ndarray:
    """``value`` (an integer or an array of them; whole floats allowed) as an int64 array
    with every element in [low, high]; ``scalar``: a single one."""
    if scalar and np.ndim(value) != 0:
        raise TypeError(f"{name} must be a single integer, got {_shown(value)}")
    arr = np.asarray(value)
    if arr.dtype.kind == "O":  # Python ints too large for int64 arrive as objects
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an integer or an array of integers, got {_shown(value)}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(f"{name} must be a whole number, got {arr[bad].flat[0].item()!r}")
    bad = (arr < low) | (arr > high)
    if bad.any():
        raise ValueError(f"{name} must satisfy {_rule(name, low, high)}, got "
                         f"{arr[bad].flat[0].item()!r}")
    return arr.astype(np.int64)


def check_real(value, name: str, low=None, high=None, *, low_open=False, high_open=False,
               note: str = "") -> float:
    """``value`` as a float in the interval from low to high (open ends where asked); NaN
    fails every rule."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a real number, got {_shown(value)}")
    v = float(value)
    ok = v == v
    if low is not None:
        ok = ok and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        raise ValueError(f"{name} must satisfy {_rule(name, low, high, low_open, high_open)}"
                         f"{note}, got {v!r}")
    return v


def check_choice(value, name: str, choices, *, fold_case: bool = False) -> str:
    """``value``, one of the strings ``choices`` (compared in lower case if ``fold_case``)."""
    shown = ", ".join(map(repr, choices))
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {shown}, got {_shown(value)}")
    key = value.lower() if fold_case else value
    if key not in choices:
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")
    return key


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_callback(value, name: str = "progress"):
    """A ``progress(done, total)`` callable, or None."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable {name}(done, total) or None, got {_shown(value)}")
    return value


def check_seed(seed, name: str = "seed", *, optional: bool = False):
    """A seed of the random streams: 0 <= seed < 2**64 (None passes when ``optional``)."""
    return check_int(seed, name, 0, _MAX_SEED, high_open=True, optional=optional)


def check_trials(trials, low: int = 2) -> int:
    """Monte Carlo trials: an integer >= 2 (a sample variance needs two)."""
    return check_int(trials, "trials", low)


def check_nzr(nzr) -> float:
    return check_real(nzr, "nzr", 0.0, 1.0, low_open=True, note=" (the fraction of non-zero products)")


def check_ci(ci) -> float:
    return check_real(ci, "ci", 0.0, 1.0, low_open=True, high_open=True, note=" (the confidence level)")


def check_cutoff(cutoff) -> float:
    return check_real(cutoff, "cutoff", 1.0, math.inf, low_open=True, high_open=True,
                      note=" (the cut-off on exp(variance lost))")


# ---------------------------------------------------------------- unpacking for the kernels

def format_params(fmt: Format) -> FormatParams:
    """The plain numbers a kernel needs: (m, emin, xmax, flavour code, subnormals)."""
    return FormatParams(fmt.man_bits, fmt.emin, float(fmt.max), FLAVOUR_CODE[fmt.flavour],
                        bool(fmt.subnormals))


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
    return check_seed(seed, optional=True)


def sr_bits_value(sr_bits) -> int:
    return 52 if sr_bits is None else check_int(sr_bits, "sr_bits", 1, 52, optional=True)


def rounding_args(rounding, seed, sr_bits) -> tuple:
    """(mode code, seed, k) for a kernel."""
    mode = as_rounding(rounding)
    return int(mode), seed_value(seed, mode), sr_bits_value(sr_bits)


def check_nan_for_finite(fmt: Format, values: np.ndarray, name: str, what: str = "contains NaN"):
    if fmt.flavour == "finite" and np.isnan(values).any():
        raise ValueError(f"{name} {what}, which the format {fmt.name} (flavour 'finite', no NaN "
                         "encoding) cannot represent")


def result(out: np.ndarray, scalar: bool):
    """Hand back a numpy float64 scalar for scalar input, else the array."""
    return out[()] if scalar else out


__all__ = ["check_int", "check_ints", "check_real", "check_choice", "check_bool", "check_callback",
           "check_seed", "check_trials", "check_nzr", "check_ci", "check_cutoff",
           "format_params", "float_array", "kernel_input", "split_wide", "seed_value",
           "sr_bits_value", "rounding_args", "as_format", "as_rounding", "check_nan_for_finite",
           "result"]
