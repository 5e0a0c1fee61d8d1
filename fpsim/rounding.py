"""Rounding modes.

========  =====================================================================
``rne``   round to nearest, ties to even (default; IEEE 754 roundTiesToEven)
``rna``   round to nearest, ties away from zero
``rtz``   toward zero (truncation, as hardware accumulators often do)
``ru``    toward +infinity
``rd``    toward -infinity
``rto``   round to odd: truncate, then set the last bit if inexact (free of double
          rounding when the result is rounded again to >= 2 fewer bits)
``sr``    stochastic: with F the exact discarded fraction of one quantum and r a
          uniform k-bit integer, the magnitude is rounded up iff F > r / 2**k, so
          P(up) = ceil(F * 2**k) / 2**k, which is exactly F whenever F has at most k
          bits (always for k = 52 and a float64 input in the normal range).
========  =====================================================================

Random bits for ``sr`` come from a counter-based generator (SplitMix64 of the seed and the
element index), so a result depends only on (seed, element position), never on threading.
"""
from __future__ import annotations

import enum

from .kernels import codes

__all__ = ["Rounding", "as_rounding"]


class Rounding(enum.IntEnum):
    """Rounding mode; every API accepts the member or its lower-case name.

    >>> from fpsim import Rounding
    >>> Rounding("rtz") is Rounding.RTZ, Rounding.RNE.value
    (True, 0)
    """

    RNE = codes.RNE
    RNA = codes.RNA
    RTZ = codes.RTZ
    RU = codes.RU
    RD = codes.RD
    RTO = codes.RTO
    SR = codes.SR

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, str):
            key = _ALIASES.get(value.strip().lower(), value.strip().lower())
            for member in cls:
                if member.name.lower() == key:
                    return member
        return None

    def __str__(self) -> str:
        return self.name.lower()


_ALIASES = {
    "nearest": "rne", "nearest_even": "rne", "ties_even": "rne",
    "nearest_away": "rna", "ties_away": "rna",
    "truncate": "rtz", "trunc": "rtz", "toward_zero": "rtz",
    "up": "ru", "ceil": "ru", "toward_positive": "ru",
    "down": "rd", "floor": "rd", "toward_negative": "rd",
    "odd": "rto", "stochastic": "sr",
}


def as_rounding(mode, name: str = "rounding") -> Rounding:
    """Accept a :class:`Rounding` or its name; raise ``ValueError``/``TypeError`` otherwise."""
    if isinstance(mode, Rounding):
        return mode
    if isinstance(mode, str):
        try:
            return Rounding(mode)
        except ValueError:
            pass
        valid = ", ".join(str(m) for m in Rounding)
        raise ValueError(f"{name} must be one of {valid}, got {mode!r}")
    raise TypeError(f"{name} must be a fpsim.Rounding or a mode name such as 'rne', got {mode!r}")
