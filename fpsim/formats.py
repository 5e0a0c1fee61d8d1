"""Floating-point formats: the :class:`Format` value type and named presets.

A format is (sign bit, ``exp_bits`` = e, ``man_bits`` = m, ``bias``, flavour, subnormals).
Flavours follow the names ml_dtypes uses:

========  ===============================================================  ==============================
flavour   special values                                                   largest finite
========  ===============================================================  ==============================
ieee      top exponent code: inf (mantissa 0), NaN (mantissa != 0)         (2 - 2^-m) * 2^emax, emax = 2^e - 2 - bias
fn        no inf; only the all-ones code (per sign) is NaN                 (2 - 2^(1-m)) * 2^emax, emax = 2^e - 1 - bias
fnuz      no inf, no -0; the single NaN is 1000...0; default bias + 1      (2 - 2^-m) * 2^emax, emax = 2^e - 1 - bias
finite    no inf and no NaN: every code is a number (OCP MX fp6/fp4)       (2 - 2^-m) * 2^emax, emax = 2^e - 1 - bias
========  ===============================================================  ==============================

Every value of every supported format (1 <= e <= 11, 0 <= m <= 52) is exactly a float64.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field

from .kernels import codes

__all__ = [
    "Format", "FLAVOURS", "accumulator", "PRESETS",
    "binary64", "fp64", "binary32", "fp32", "tf32", "binary16", "fp16", "bfloat16",
    "fp8_e4m3fn", "fp8_e5m2", "fp8_e4m3fnuz", "fp8_e5m2fnuz",
    "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "paper_fp8",
]

FLAVOURS = codes.FLAVOUR_NAMES

# Kernel codes for the flavours (plain ints travel into the Numba kernels).
FLAVOUR_CODE = {name: code for code, name in enumerate(FLAVOURS)}

_FLOAT64_EMIN = -1022
_FLOAT64_EMAX = 1023


def _check_int(name: str, value, lo: int, hi: int) -> int:
    """An integer parameter in [lo, hi]; bools and floats are refused."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r} of type "
                        f"{type(value).__name__}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} must satisfy {lo} <= {name} <= {hi}, got {value}")
    return value


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: sign bit, ``exp_bits`` exponent bits, ``man_bits``
    stored mantissa bits.

    Parameters
    ----------
    exp_bits : int, 1..11
    man_bits : int, 0..52
    bias : int, optional
        Exponent bias; default ``2**(exp_bits-1) - 1`` (one more for ``fnuz``). The whole
        range, smallest subnormal to largest finite, must lie inside binary64's.
    flavour : {"ieee", "fn", "fnuz", "finite"}
        Where infinities and NaN live (see the module docstring).
    subnormals : bool
        With ``False``, results below ``smallest_normal`` flush to signed zero; the
        rounding is done on the normal grid first (as if the exponent were unbounded),
        so a value that rounds up to ``smallest_normal`` is kept.

    Examples
    --------
    >>> from fpsim import Format
    >>> f = Format(5, 10)
    >>> f.name, f.max, f.smallest_normal, f.smallest_subnormal, f.eps
    ('e5m10', 65504.0, 6.103515625e-05, 5.960464477539063e-08, 0.0009765625)
    >>> Format.parse("e4m3fn").max
    448.0
    >>> Format(4, 3, flavour="fnuz").max
    240.0
    """

    exp_bits: int
    man_bits: int
    bias: int | None = None
    flavour: str = "ieee"
    subnormals: bool = True
    _default_bias: bool = field(default=True, init=False, repr=False, compare=False)

    def __post_init__(self):
        e = _check_int("exp_bits", self.exp_bits, 1, 11)
        m = _check_int("man_bits", self.man_bits, 0, 52)
        if not isinstance(self.flavour, str):
            raise TypeError(f"flavour must be a string, one of {FLAVOURS}, got {self.flavour!r}")
        flavour = self.flavour.lower()
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, got {self.flavour!r}")
        if not isinstance(self.subnormals, (bool,)):
            raise TypeError(f"subnormals must be a bool, got {self.subnormals!r}")
        default_bias = 2 ** (e - 1) - 1 + (1 if flavour == "fnuz" else 0)
        if self.bias is None:
            bias = default_bias
        else:
            bias = _check_int("bias", self.bias, -(2**12), 2**12)
        object.__setattr__(self, "exp_bits", e)
        object.__setattr__(self, "man_bits", m)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "flavour", flavour)
        object.__setattr__(self, "_default_bias", bias == default_bias)
        if flavour == "ieee" and e == 1:
            raise ValueError(
                "flavour='ieee' with exp_bits=1 leaves no normal numbers (exponent code 0 is "
                "subnormal, code 1 is inf/NaN); use exp_bits >= 2 or flavour 'fn'/'fnuz'/'finite'")
        if flavour == "fn" and m == 0:
            raise ValueError(
                "flavour='fn' needs man_bits >= 1: with man_bits=0 the NaN code would take the "
                "whole top binade; use flavour 'ieee', 'fnuz' or 'finite'")
        if self.emin < _FLOAT64_EMIN or self.emax > _FLOAT64_EMAX:
            raise ValueError(
                f"bias={bias} puts the normal exponents [{self.emin}, {self.emax}] of e{e}m{m} "
                f"outside binary64's [{_FLOAT64_EMIN}, {_FLOAT64_EMAX}]; every value must be a float64")

    # ---- derived numbers, named like numpy.finfo -------------------------------------
    @property
    def bits(self) -> int:
        """Total storage width: 1 + exp_bits + man_bits."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def precision(self) -> int:
        """Significand bits p = man_bits + 1."""
        return self.man_bits + 1

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number, 1 - bias."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite number."""
        top = 2**self.exp_bits - 1 - self.bias
        return top - 1 if self.flavour == "ieee" else top

    @property
    def max(self) -> float:
        """Largest finite value."""
        m = self.man_bits
        frac = 2.0 - 2.0 ** (1 - m) if self.flavour == "fn" else 2.0 - 2.0**-m
        return math.ldexp(frac, self.emax)

    @property
    def smallest_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def smallest_subnormal(self) -> float:
        """Smallest positive value (the smallest normal when subnormals are off)."""
        if not self.subnormals:
            return self.smallest_normal
        return math.ldexp(1.0, self.emin - self.man_bits)

    @property
    def eps(self) -> float:
        """Distance from 1.0 to the next larger value, 2**-man_bits."""
        return math.ldexp(1.0, -self.man_bits)

    @property
    def has_inf(self) -> bool:
        return self.flavour == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.flavour != "finite" and not (self.flavour == "ieee" and self.man_bits == 0)

    @property
    def has_negative_zero(self) -> bool:
        return self.flavour != "fnuz"

    def contains(self, x: float) -> bool:
        """Whether the float ``x`` is a value of this format (exactly, sign of zero, inf
        and NaN included), decided from its bits in Python: no kernel is compiled.

        >>> from fpsim import formats
        >>> formats.binary16.contains(65504.0), formats.binary16.contains(1 + 2**-11)
        (True, False)
        >>> formats.fp8_e4m3fnuz.contains(-0.0), formats.fp8_e4m3fn.contains(float("inf"))
        (False, False)
        """
        x = float(x)
        if math.isnan(x):
            return self.has_nan
        if math.isinf(x):
            return self.has_inf
        if x == 0.0:
            return self.has_negative_zero or math.copysign(1.0, x) > 0
        a = abs(x)
        if a > self.max:
            return False
        frac, e = math.frexp(a)                 # a = frac * 2**e, frac in [0.5, 1)
        if e - 1 < self.emin and not self.subnormals:
            return False
        quantum = max(e - 1, self.emin) - self.man_bits
        # a is a multiple of 2**quantum iff frac * 2**(e - quantum) is an integer; that
        # scaling is exact (at most 53 bits up), and below 1 a nonzero value is not one
        return e - quantum >= 1 and math.ldexp(frac, e - quantum).is_integer()

    @property
    def name(self) -> str:
        """Short name such as ``e5m10``, ``e4m3fn``, ``e3m2finite``; ``Format.parse``
        reads it back."""
        suffix = {"ieee": "", "fn": "fn", "fnuz": "fnuz", "finite": "finite"}[self.flavour]
        s = f"e{self.exp_bits}m{self.man_bits}{suffix}"
        if not self._default_bias:
            s += f"_b{self.bias}"
        if not self.subnormals:
            s += "_nosub"
        return s

    def __repr__(self) -> str:
        parts = [f"exp_bits={self.exp_bits}", f"man_bits={self.man_bits}"]
        if not self._default_bias:
            parts.append(f"bias={self.bias}")
        if self.flavour != "ieee":
            parts.append(f"flavour={self.flavour!r}")
        if not self.subnormals:
            parts.append("subnormals=False")
        return f"Format({', '.join(parts)})  # {self.name}, max={self.max!r}"

    def __str__(self) -> str:
        return self.name

    def describe(self) -> str:
        """Multi-line summary: e, m, bias, range and where NaN/inf live."""
        nan = {"ieee": "exp all ones, mantissa != 0" if self.man_bits else "none",
               "fn": "all ones (S.1111.111)", "fnuz": "1000...0 (negative zero code)",
               "finite": "none"}[self.flavour]
        return (f"{self.name}: e={self.exp_bits} m={self.man_bits} bias={self.bias} "
                f"bits={self.bits} flavour={self.flavour}\n"
                f"  max={self.max!r} smallest_normal={self.smallest_normal!r} "
                f"smallest_subnormal={self.smallest_subnormal!r} eps={self.eps!r}\n"
                f"  inf: {'exp all ones, mantissa 0' if self.has_inf else 'none'}; NaN: {nan}")

    # ---- parsing -----------------------------------------------------------------------
    _PATTERN = re.compile(
        r"^(?:float\d*_?)?e(?P<e>\d+)m(?P<m>\d+)(?P<fl>fnuz|fn|finite|fi)?"
        r"(?:_b(?P<bias>-?\d+))?(?P<nosub>_nosub)?$")

    @classmethod
    def parse(cls, text: str) -> "Format":
        """Format from a name: a preset (``"fp16"``, ``"bfloat16"``, ml_dtypes names such as
        ``"float8_e4m3fn"``) or the pattern ``e<E>m<M>[fn|fnuz|finite][_b<bias>][_nosub]``.

        >>> Format.parse("e5m2") == Format(5, 2)
        True
        >>> Format.parse("float4_e2m1fn").flavour     # ml_dtypes' name of the OCP MX type
        'finite'
        """
        if isinstance(text, Format):
            return text
        if not isinstance(text, str):
            raise TypeError(f"format name must be a string, got {text!r}")
        key = text.strip().lower()
        if key in PRESETS:
            return PRESETS[key]
        m = cls._PATTERN.match(key)
        if m is None:
            raise ValueError(
                f"cannot parse format name {text!r}: expected a preset ({', '.join(sorted(PRESETS))}) "
                "or e<E>m<M>[fn|fnuz|finite][_b<bias>][_nosub], e.g. 'e5m10', 'e4m3fn'")
        fl = {"fn": "fn", "fnuz": "fnuz", "finite": "finite", "fi": "finite", None: "ieee"}[m["fl"]]
        bias = int(m["bias"]) if m["bias"] is not None else None
        return cls(int(m["e"]), int(m["m"]), bias=bias, flavour=fl, subnormals=m["nosub"] is None)


def as_format(fmt, name: str = "fmt") -> Format:
    """Accept a Format or a name; raise TypeError otherwise."""
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str):
        try:
            return Format.parse(fmt)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    raise TypeError(f"{name} must be a fpsim.Format or a format name such as 'e5m10', got {fmt!r}")


def accumulator(man_bits: int, exp_bits: int = 6) -> Format:
    """The (1, exp_bits, man_bits) accumulator of Sakr et al. (ICLR 2019); 6 exponent bits
    by default, as in the paper.

    >>> accumulator(9).name
    'e6m9'
    """
    return Format(exp_bits, man_bits)


binary64 = fp64 = Format(11, 52)
binary32 = fp32 = Format(8, 23)
tf32 = Format(8, 10)
binary16 = fp16 = Format(5, 10)
bfloat16 = Format(8, 7)
fp8_e4m3fn = Format(4, 3, flavour="fn")
fp8_e5m2 = Format(5, 2)
fp8_e4m3fnuz = Format(4, 3, flavour="fnuz")
fp8_e5m2fnuz = Format(5, 2, flavour="fnuz")
fp6_e3m2 = Format(3, 2, flavour="finite")
fp6_e2m3 = Format(2, 3, flavour="finite")
fp4_e2m1 = Format(2, 1, flavour="finite")
#: The paper's (1, 5, 2) operand format (FP8 with 5 exponent and 2 mantissa bits).
paper_fp8 = fp8_e5m2

PRESETS = {
    "binary64": binary64, "fp64": binary64, "float64": binary64, "double": binary64,
    "binary32": binary32, "fp32": binary32, "float32": binary32, "single": binary32,
    "tf32": tf32,
    "binary16": binary16, "fp16": binary16, "float16": binary16, "half": binary16,
    "bfloat16": bfloat16, "bf16": bfloat16,
    "fp8_e4m3fn": fp8_e4m3fn, "float8_e4m3fn": fp8_e4m3fn,
    "fp8_e5m2": fp8_e5m2, "float8_e5m2": fp8_e5m2,
    "fp8_e4m3fnuz": fp8_e4m3fnuz, "float8_e4m3fnuz": fp8_e4m3fnuz,
    "fp8_e5m2fnuz": fp8_e5m2fnuz, "float8_e5m2fnuz": fp8_e5m2fnuz,
    # ml_dtypes spells the OCP MX element types with "fn" although they have no NaN at all.
    "fp6_e3m2": fp6_e3m2, "float6_e3m2fn": fp6_e3m2,
    "fp6_e2m3": fp6_e2m3, "float6_e2m3fn": fp6_e2m3,
    "fp4_e2m1": fp4_e2m1, "float4_e2m1fn": fp4_e2m1,
}
