"""The stochastic-rounding random stream, in pure Python (SplitMix64, counter based).

For the output element with flat C-order index i (after broadcasting) and the integer seed s
(0 <= s < 2**64)::

    z = (s + (i + 1) * 0x9E3779B97F4A7C15) mod 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) mod 2**64
    z ^= z >> 31
    r = z >> (64 - k)                      # the k-bit random integer, 1 <= k <= 52

The MAC engine (docs/semantics.md, "Random streams"): output element o of a 2-D product owns
the addition stream with state ``splitmix64(s, 2*o)`` and the product stream with state
``splitmix64(s, 2*o + 1)`` (:func:`mac_stream`); batch b > 0 of a batched matmul replaces s by
:func:`batch_seed`, NumPy's ``SeedSequence([s, b]).generate_state(1, uint64)[0]`` written out
here in plain integers (O'Neill's seed_seq_fe hash, pool of four 32-bit words).
"""
from __future__ import annotations

__all__ = ["splitmix64", "sr_random", "sr_stream", "mac_stream", "batch_seed"]

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


def mac_stream(seed: int, o: int, which: str) -> int:
    """State of the MAC stream of output element o: ``which`` is "add" (the roundings of the
    additions, numbered in program order) or "product" (the product of step k uses index k)."""
    if which not in ("add", "product"):
        raise ValueError(f"which must be 'add' or 'product', got {which!r}")
    if o < 0:
        raise ValueError(f"element index must be >= 0, got {o}")
    return splitmix64(seed, (2 * o + (which == "product")) & _MASK)


# ---- NumPy's SeedSequence, for the seeds of batches b > 0 ------------------------------------
_M32 = 2**32 - 1
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4


def _words32(n: int) -> list:
    """A non-negative integer as 32-bit words, lowest first ([0] for 0)."""
    out = [n & _M32]
    n >>= 32
    while n:
        out.append(n & _M32)
        n >>= 32
    return out


def batch_seed(seed: int, b: int) -> int:
    """The seed that batch b of a batched matmul uses in place of ``seed``."""
    if b == 0:
        return seed
    entropy = _words32(seed) + _words32(b)
    mult = _INIT_A

    def hashmix(v):
        nonlocal mult
        v ^= mult
        mult = (mult * _MULT_A) & _M32
        v = (v * mult) & _M32
        return v ^ (v >> 16)

    def mix(x, y):
        r = (_MIX_L * x - _MIX_R * y) & _M32
        return r ^ (r >> 16)

    pool = [hashmix(entropy[i] if i < len(entropy) else 0) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, len(entropy)):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    out = []
    mult = _INIT_B
    for i in range(2):                       # two 32-bit words, little-endian: one uint64
        v = pool[i % _POOL] ^ mult
        mult = (mult * _MULT_B) & _M32
        v = (v * mult) & _M32
        out.append(v ^ (v >> 16))
    return out[0] | (out[1] << 32)
