"""The stochastic-rounding random stream, in pure Python (SplitMix64, counter based).

For the output element with flat C-order index i (after broadcasting) and the integer seed s
(0 <= s < 2**64)::

    z = (s + (i + 1) * 0x9E3779B97F4A7C15) mod 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) mod 2**64
    z ^= z >> 31
    r = z >> (64 - k)                      # the k-bit random integer, 1 <= k <= 52
"""
from __future__ import annotations

__all__ = ["splitmix64", "sr_random", "sr_stream"]

_MASK = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15


def splitmix64(seed: int, i: int) -> int:
    """64-bit output of SplitMix64 for element index i (i = 0 is the first element)."""
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    z = (seed + (i + 1) * _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return z


def sr_random(seed: int, i: int, k: int = 52) -> int:
    """The k-bit random integer r of element i."""
    if not 1 <= k <= 52:
        raise ValueError(f"k must be in 1..52, got {k}")
    return splitmix64(seed, i) >> (64 - k)


def sr_stream(seed: int, n: int, k: int = 52):
    """[r_0, ..., r_{n-1}]."""
    return [sr_random(seed, i, k) for i in range(n)]
