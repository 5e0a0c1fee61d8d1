"""Every execution tier of the MAC kernels (general, fast, lean, direct) against the exact
reference, bit for bit, forced one by one through ``tier=`` (docs/architecture.md)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fpsim
from fpsim import AccumSpec, Chunked, Kahan, Pairwise, Sequential, formats
from fpsim.accumulate import best_tier, product_exactness
from fpsim.kernels.codes import DIRECT, FAST, GENERAL, LEAN, TIER_NAMES
from reference import ref_dot

TIERS = list(TIER_NAMES)


def bits(x):
    return np.asarray(x, np.float64).view(np.uint64)


def reference(a, b, spec, init=0.0):
    return ref_dot(list(map(float, a)), list(map(float, b)), acc=spec.acc, product=spec.product,
                   rounding=str(spec.rounding), product_rounding=str(spec.product_rounding),
                   order=spec.order.name, chunk=spec.chunk, outer=spec.outer, init=init)


def operands(n, fmt, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    a = fpsim.quantize(rng.standard_normal(n) * scale, fmt)
    b = fpsim.quantize(rng.standard_normal(n), fmt)
    # constructed trouble: a run of equal large terms (swamping), cancellation to zero,
    # values near the accumulator's overflow and underflow thresholds
    m = min(n, 4)
    a[:m] = [64.0, 1.0, -64.0, -1.0][:m]
    b[:m] = 1.0
    return a, b


SPECS = [
    AccumSpec("fp16"),                                               # direct
    AccumSpec("bf16"),                                               # lean
    AccumSpec("fp16", rounding="rtz"),                               # lean
    AccumSpec("fp16", rounding="ru"),                                # fast
    AccumSpec("fp16", rounding="sr"),                                # fast
    AccumSpec(fpsim.accumulator(6), order=Chunked(16)),              # direct, chunked
    AccumSpec("e5m2", order=Chunked(8, outer="fp16"), rounding="rtz"),
    AccumSpec("bf16", product="e5m2"),
    AccumSpec("bf16", product="e4m3fn", product_rounding="rtz"),     # fast: modes differ
    AccumSpec("fp16", order=Pairwise()),
    AccumSpec("fp16", order=Pairwise(), product="e5m2", product_rounding="rtz"),
    AccumSpec("bf16", order=Kahan()),
    AccumSpec("e4m3fnuz"),                                           # fnuz: fast
]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@pytest.mark.parametrize("n", [1, 37, 300])
def test_every_valid_tier_matches_the_reference(spec, n):
    a, b = operands(n, formats.fp8_e5m2, n)
    A = np.stack([a, a[::-1], -a])            # three rows: a matrix, several tiles' worth
    B = np.stack([b, b * 2.0, b[::-1]], axis=1)
    best = best_tier(spec, product_exactness(A, B), stats=False)
    for tier in TIERS[:best + 1]:
        got = fpsim.matmul(A, B, spec, seed=5, tier=tier)
        for i in range(3):
            for j in range(3):
                if spec.rounding == fpsim.Rounding.SR:
                    continue   # the reference's sr stream is checked in test_accumulate
                want, _ = reference(A[i], B[:, j], spec)
                assert bits(got[i, j]) == bits(want), (
                    f"{spec} tier={tier} [{i},{j}]: got {float(got[i, j]).hex()} "
                    f"want {float(want).hex()}")
        # every tier gives the same bits (sr included: the streams do not depend on it)
        assert np.array_equal(bits(got), bits(fpsim.matmul(A, B, spec, seed=5))), tier


@pytest.mark.parametrize("spec", SPECS[:9], ids=repr)
def test_counts_are_the_same_in_every_counting_tier(spec):
    a, b = operands(200, formats.fp8_e5m2, 3)
    want = fpsim.dot(a, b, spec, stats=True, seed=2, tier="general")
    got = fpsim.dot(a, b, spec, stats=True, seed=2, tier="fast")
    assert bits(got[0]) == bits(want[0]) and got[1] == want[1]


def test_the_cases_cover_every_tier():
    """Not vacuous: the specs above reach each tier as their fastest one."""
    a, b = operands(64, formats.fp8_e5m2, 0)
    reached = {best_tier(s, product_exactness(a, b), False) for s in SPECS}
    assert reached == {FAST, LEAN, DIRECT}
    wide = np.array([1 + 2.0**-40, 3.0])       # products not exact in float64
    assert best_tier(SPECS[0], product_exactness(wide, wide), False) == GENERAL
    assert best_tier(SPECS[0], product_exactness(a, b), True) == FAST


def test_a_tier_that_is_not_exact_is_refused():
    a, b = operands(16, formats.fp8_e5m2, 0)
    with pytest.raises(ValueError, match="not exact"):
        fpsim.dot(a, b, AccumSpec("fp16", rounding="ru"), tier="lean")
    with pytest.raises(ValueError, match="tier must be"):
        fpsim.dot(a, b, AccumSpec("fp16"), tier="turbo")
    wide = np.array([1 + 2.0**-40, 3.0])
    with pytest.raises(ValueError, match="not exact"):
        fpsim.dot(wide, wide, AccumSpec("fp16"), tier="fast")


def test_direct_tier_differs_from_a_wrong_shortcut():
    """The direct tier is only chosen where it is proven exact: for bfloat16 the plain
    RNE(fl64(s + p)) is wrong (docstring of direct_rne_safe), and bf16 gets lean."""
    s, p = 2.0**-100, 1 + 2.0**-8
    wrong = fpsim.quantize(s + p, "bf16")                 # double rounding
    right = fpsim.dot([s, p], [1.0, 1.0], AccumSpec("bf16"))
    assert float(wrong) != float(right) and not math.isnan(float(right))
    assert best_tier(AccumSpec("bf16"), product_exactness(np.array([s, p]), np.ones(2)),
                     False) == LEAN
