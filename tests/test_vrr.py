"""Tests of fpsim.vrr: the analytical VRR of Sakr et al. (ICLR 2019).

The reference below evaluates each model's defining sum straight from
shared/design/vrr-model.md, term by term, with scipy (the regularized incomplete gamma
for E[X^2 1{|X|<a}], the normal CDF for the binade probabilities) and shares no code
with fpsim.vrr.
"""
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate, special

from fpsim.analysis.vrr import KAPPA_RN, SWAMPING_MODELS as MODELS, min_macc, variance_lost, vrr

LN50 = math.log(50)


# ---------------------------------------------------------------- reference

def ref_binade_loss(d, m_p, model):
    """Expected loss adding p ~ N(0,1) to a sum with ulp 2^d (vrr-model.md, formulas 1-2)."""
    half_ulp = 2.0 ** (d - 1)
    loss = special.gammainc(1.5, half_ulp ** 2 / 2)  # E[X^2 1{|X| < a}] = P(3/2, a^2/2)
    if model == "paper":
        p_partial = 2 * (special.ndtr(-half_ulp) - special.ndtr(-(2.0 ** (d + m_p))))
        loss += 4.0 ** d / 12 * p_partial
    return loss


@np.vectorize(otypes=[float])
def _closed_step_mp(t):
    with mpmath.workdps(40):
        t = mpmath.mpf(t)
        return float(2 / mpmath.pi * (mpmath.atan(t) - t / (1 + t * t)))


def ref_step_losses(i, m_acc, m_p, model, kappa=0.3746):
    """Expected variance lost at step i+1, for each i (rows) and m_acc (columns)."""
    i = np.asarray(i, dtype=float)[:, None]
    if model == "closed":
        t = kappa * 2.0 ** -np.asarray(m_acc, dtype=float)[None, :] * np.sqrt(i)
        direct = 2 / np.pi * (np.arctan(t) - t / (1 + t * t))
        small = t < 0.01  # the difference cancels there: evaluate it with 40 digits
        direct[small] = _closed_step_mp(t[small])
        return direct
    k = np.arange(-60, 60)
    # P(2^k <= |s_i| < 2^(k+1)), s_i ~ N(0, i)
    probs = 2 * (special.ndtr(-(2.0 ** k) / np.sqrt(i)) - special.ndtr(-(2.0 ** (k + 1)) / np.sqrt(i)))
    table = np.array([[ref_binade_loss(kk - m, m_p, model) for m in m_acc] for kk in k])
    return probs @ table


def ref_variance_lost(ns, m_acc, m_p, model, block=10_000):
    """n (1 - VRR) = sum_{i=1}^{n-1} (step loss), summed directly: shape (len(ns), len(m_acc))."""
    out, total, start = {}, np.zeros(len(m_acc)), 1
    for n in sorted(ns):
        for lo in range(start, n, block):
            total = total + ref_step_losses(np.arange(lo, min(lo + block, n)), m_acc, m_p, model).sum(axis=0)
        start = max(start, n)
        out[n] = total.copy()
    return np.array([out[n] for n in ns])


# ---------------------------------------------------------------- each model against its sum

@pytest.mark.parametrize("model", MODELS)
def test_short_sums_equal_the_defining_sum(model):
    ns = [1, 2, 3, 17, 64, 576, 4096, 4097]
    ms = [0, 2, 5, 8, 12]
    expected = ref_variance_lost(ns, ms, 5, model)
    got = variance_lost(np.array(ns)[:, None], ms, m_p=5, model=model)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)
    np.testing.assert_allclose(vrr(np.array(ns)[:, None], ms, m_p=5, model=model),
                               1 - expected / np.array(ns)[:, None], rtol=1e-13)


@pytest.mark.parametrize("model", MODELS)
def test_long_sums_match_the_direct_sum(model):
    # beyond 4097 terms fpsim integrates the tail; the reference still sums every term
    ns = [4098, 4500, 20_000, 100_000]
    ms = [3, 8, 14]
    expected = ref_variance_lost(ns, ms, 5, model)
    got = variance_lost(np.array(ns)[:, None], ms, m_p=5, model=model)
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=0)


@pytest.mark.parametrize("m_acc", [6, 9])
def test_closed_form_tail_at_ten_million(m_acc):
    n = 10**7
    expected = sum(ref_step_losses(np.arange(lo, min(lo + 10**6, n)), [m_acc], 0, "closed").sum()
                   for lo in range(1, n, 10**6))
    assert variance_lost(n, m_acc, m_p=0, model="closed") == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("t", [0.01, 0.3746, 1.0, 5.0, 40.0])
def test_closed_step_is_the_swamping_integral(t):
    # One step with threshold |p| < t|Z|, Z ~ N(0,1): E[p^2 1{...}] = 2 int_0^inf phi(z) g(t z) dz,
    # g(a) = E[X^2 1{|X|<a}]. n = 2 has a single step, at i = 1, where t_1 = kappa.
    integral, _ = integrate.quad(
        lambda z: 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) * special.gammainc(1.5, (t * z) ** 2 / 2),
        0, np.inf, epsabs=0, epsrel=1e-12)
    assert variance_lost(2, 0, m_p=0, model="closed", kappa=t) == pytest.approx(integral, rel=1e-9)


@pytest.mark.parametrize("n", [10**4, 10**6, 10**8, 10**10])
def test_closed_form_small_t_law(n):
    # n(1 - VRR) ~ (8 kappa^3 / (15 pi)) 2^(-3 m_acc) n^(5/2) for small t; the sum
    # sum_{i<n} i^(3/2) = (2/5) n^(5/2) (1 - 5/(4n) + ...) sets the tolerance.
    m_acc = 30
    law = 8 * KAPPA_RN**3 / (15 * math.pi) * 2.0 ** (-3 * m_acc) * n**2.5
    assert variance_lost(n, m_acc, m_p=0, model="closed") / law == pytest.approx(1, abs=2 / n + 1e-9)


def test_kappa_is_the_cube_mean_rn_threshold():
    # ulp(s)/2 = 2^-(1+u) 2^-m_acc |s| with u = frac(log2|s|) ~ U[0,1); kappa^3 = E[2^(-3(1+u))]
    # = 7/(192 ln 2), kappa = 0.37468; vrr-model.md quotes it to four places, as 0.3746
    assert KAPPA_RN == pytest.approx((7 / (192 * math.log(2))) ** (1 / 3), abs=1e-4)


@pytest.mark.parametrize("n", [10**4, 10**6, 10**9, 2**60])
def test_closed_form_approximates_full_swamping(n):
    # with small thresholds the two differ only in how the RN threshold sits in the binade
    ms = np.arange(12, 50)
    ms = ms[KAPPA_RN * 2.0 ** -ms * math.sqrt(n) < 0.05]
    ratio = variance_lost(n, ms, m_p=0, model="closed") / variance_lost(n, ms, m_p=0, model="full")
    np.testing.assert_allclose(ratio, 1, rtol=0.01)


# ---------------------------------------------------------------- monotonicity

@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("chunk", [None, 2])
def test_more_bits_and_shorter_sums_never_lose_more(model, chunk):
    ns = np.array([2, 3, 10, 64, 576, 4095, 4096, 4097, 4098, 4099, 5000, 10**5, 10**6, 10**8, 10**12, 2**62])
    lost = variance_lost(ns[:, None], np.arange(60), m_p=5, chunk=chunk, model=model)
    assert (np.diff(lost, axis=1) <= 0).all()
    assert (np.diff(lost, axis=0) >= 0).all()
    assert (lost >= 0).all()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 10**12), grow=st.floats(1e-5, 10.0), m_acc=st.integers(0, 40),
       m_p=st.integers(0, 23), model=st.sampled_from(MODELS), chunk=st.sampled_from([None, 1, 7, 64]))
def test_monotone_in_n_m_acc_and_m_p(n, grow, m_acc, m_p, model, chunk):
    if chunk is not None and chunk > n:
        chunk = n
    longer = n + max(1, int(n * grow))
    opts = dict(chunk=chunk, model=model)
    lost = variance_lost(n, m_acc, m_p=m_p, **opts)
    assert variance_lost(n, m_acc + 1, m_p=m_p, **opts) <= lost
    assert variance_lost(longer, m_acc, m_p=m_p, **opts) >= lost
    if chunk is None:  # a longer product mantissa only exposes more bits to rounding
        assert variance_lost(n, m_acc, m_p=m_p + 1, **opts) >= lost
    assert 0.0 <= vrr(n, m_acc, m_p=m_p, **opts) <= 1.0


def test_paper_model_loses_at_least_full_swamping():
    ns = np.array([10, 576, 4608, 10**6])[:, None]
    ms = np.arange(30)
    assert (variance_lost(ns, ms, m_p=5) >= variance_lost(ns, ms, m_p=5, model="full")).all()


# ---------------------------------------------------------------- chunks and sparsity

@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("n, chunk", [(4608, 64), (100, 64), (65, 64), (10**7, 64), (10**7, 1000)])
def test_chunk_rule(model, n, chunk):
    # VRR_chunk(n; n1) = VRR(n1; m_p, m_acc) * VRR(ceil(n/n1); m_acc, m_acc)
    for m in range(2, 14):
        expected = vrr(chunk, m, m_p=5, model=model) * vrr(-(-n // chunk), m, m_p=m, model=model)
        assert vrr(n, m, m_p=5, chunk=chunk, model=model) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("model", MODELS)
def test_chunk_edge_cases(model):
    ms = np.arange(20)
    # chunk = n is one chunk: a single sum
    assert (vrr(576, ms, m_p=5, chunk=576, model=model) == vrr(576, ms, m_p=5, model=model)).all()
    # chunks of one product are exact; the n chunk sums carry m_acc bits
    np.testing.assert_allclose(vrr(576, ms, m_p=5, chunk=1, model=model),
                               [vrr(576, m, m_p=m, model=model) for m in ms], rtol=1e-15)


@pytest.mark.parametrize("n", [128, 576, 4608, 10**6])
def test_chunking_helps_up_to_the_knee(n):
    # (far above the knee the model books the second level's rounding, which has
    # m_p = m_acc, and chunking can lose more: see docs/theory.md)
    ms = np.arange(min_macc(n, m_p=5) + 1)
    assert (variance_lost(n, ms, m_p=5, chunk=64) < variance_lost(n, ms, m_p=5)).all()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("n, nzr, n_eff", [(1000, 0.5, 500), (5, 0.5, 3), (7, 0.5, 4), (3, 0.1, 1),
                                           (10**7, 0.3, 3 * 10**6)])
def test_sparsity_rule(model, n, nzr, n_eff):
    # n_eff = nzr * n rounded half up, at least 1
    ms = np.arange(16)
    assert (vrr(n, ms, m_p=5, nzr=nzr, model=model) == vrr(n_eff, ms, m_p=5, model=model)).all()
    assert (variance_lost(n, ms, m_p=5, nzr=nzr, model=model)
            == variance_lost(n_eff, ms, m_p=5, model=model)).all()


def test_sparsity_with_chunks():
    # each chunk of 64 holds 32 non-zero products; the 72 chunk sums stay dense
    for m in range(2, 14):
        expected = vrr(32, m, m_p=5) * vrr(72, m, m_p=m)
        assert vrr(4608, m, m_p=5, chunk=64, nzr=0.5) == pytest.approx(expected, rel=1e-13)
        assert variance_lost(4608, m, m_p=5, chunk=64, nzr=0.5) == pytest.approx(2304 * (1 - expected), rel=1e-9)


def test_one_product_loses_nothing():
    assert vrr(1, 0, m_p=0) == 1.0
    assert variance_lost(7, 0, m_p=0, nzr=0.1) == 0.0


# ---------------------------------------------------------------- min_macc

@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("chunk", [None, 64])
@pytest.mark.parametrize("cutoff", [10, 50, 1000])
def test_min_macc_is_the_smallest_meeting_the_cutoff(model, chunk, cutoff):
    ns = np.array([64, 100, 576, 4608, 10**5, 3 * 10**6, 10**9])
    if chunk is None:
        ns = np.concatenate([[1, 2, 10], ns])
    best = min_macc(ns, m_p=5, chunk=chunk, cutoff=cutoff, model=model)
    assert (variance_lost(ns, best, m_p=5, chunk=chunk, model=model) <= math.log(cutoff)).all()
    above = best > 0
    assert (variance_lost(ns[above], best[above] - 1, m_p=5, chunk=chunk, model=model) > math.log(cutoff)).all()


# vrr-model.md, "Known numbers": smallest m_acc with n(1-VRR) <= ln 50, m_p = 5, as (normal, chunk 64)
KNOWN = {"paper": [(6, 4), (7, 5), (8, 6), (9, 6)], "full": [(5, 4), (6, 4), (7, 4), (8, 5)]}


@pytest.mark.parametrize("model", sorted(KNOWN))
def test_known_numbers(model):
    ns = [576, 1152, 2304, 4608]
    normal = min_macc(ns, m_p=5, cutoff=50, model=model)
    chunked = min_macc(ns, m_p=5, cutoff=50, chunk=64, model=model)
    assert list(zip(normal.tolist(), chunked.tolist())) == KNOWN[model]


def test_product_mantissa_and_cutoff_move_the_answer_by_one_bit_at_most():
    # vrr-model.md: m_p from 2 to 23, or a cut-off from 10 to 100, moves m_acc by <= 1 bit
    # (for the FWD/BWD lengths of these networks; at n = 10^7 m_p moves it by 2)
    ns = [27, 144, 576, 1152, 2304, 4608, 11616, 10**5]
    for chunk in (None, 64):
        ns_c = [n for n in ns if chunk is None or n >= chunk]
        spread = min_macc(ns_c, m_p=23, chunk=chunk) - min_macc(ns_c, m_p=2, chunk=chunk)
        assert ((spread >= 0) & (spread <= 1)).all()
        spread = min_macc(ns_c, m_p=5, chunk=chunk, cutoff=10) - min_macc(ns_c, m_p=5, chunk=chunk, cutoff=100)
        assert ((spread >= 0) & (spread <= 1)).all()


def test_min_macc_of_a_long_sum_from_a_warm_cache():
    # (its speed is measured in benchmarks/bench_analytical.py)
    first = min_macc(10**7, m_p=2, chunk=64)  # caches the first 4096 steps
    best = min_macc(10**7, m_p=2, chunk=64)
    assert best == first
    assert variance_lost(10**7, best, m_p=2, chunk=64) <= LN50 < variance_lost(10**7, best - 1, m_p=2, chunk=64)


# ---------------------------------------------------------------- shapes and types

def test_scalars_give_python_numbers_and_arrays_broadcast():
    assert type(vrr(100, 4, m_p=5)) is float
    assert type(variance_lost(np.int64(100), np.int32(4), m_p=5)) is float
    assert type(min_macc(100, m_p=5)) is int
    assert vrr(np.array([[10], [100], [1000]]), np.arange(4), m_p=5).shape == (3, 4)
    assert variance_lost([10.0, 100.0], 4.0, m_p=5.0).shape == (2,)
    assert min_macc([[10, 100]], m_p=5).shape == (1, 2)
    assert vrr([], 3, m_p=5).shape == (0,)
    assert vrr(100, [3], m_p=5).shape == (1,)


def test_elementwise_pairs_match_scalar_calls():
    ns, ms = [10, 5000, 10**6, 10], [3, 9, 14, 3]
    assert vrr(ns, ms, m_p=5).tolist() == [vrr(n, m, m_p=5) for n, m in zip(ns, ms)]


# ---------------------------------------------------------------- bad input

BAD = [
    (vrr, (0, 3), {}, ValueError, r"^n must satisfy 1 <= n <= 2\*\*62, got 0"),
    (vrr, (-5, 3), {}, ValueError, r"^n must satisfy 1 <= n <= "),
    (vrr, (2.5, 3), {}, ValueError, r"^n must be a whole number, got 2.5"),
    (vrr, ([10, np.nan], 3), {}, ValueError, r"^n must be a whole number, got nan"),
    (vrr, (2.0**70, 3), {}, ValueError, r"^n must satisfy 1 <= n <= 2\*\*62, got "),
    (vrr, ("10", 3), {}, TypeError, r"^n must be an integer"),
    (vrr, (True, 3), {}, TypeError, r"^n must be an integer"),
    (vrr, (10, -1), {}, ValueError, r"^m_acc must satisfy 0 <= m_acc <= 1074, got -1"),
    (vrr, (10, 1.5), {}, ValueError, r"^m_acc must be a whole number"),
    (vrr, (10, 3), {"m_p": -1}, ValueError, r"^m_p must satisfy 0 <= m_p <= 1074, got -1"),
    (vrr, (10, 3), {"m_p": [2, 5]}, TypeError, r"^m_p must be a single integer"),
    (vrr, (10, 3), {"nzr": 0}, ValueError, r"^nzr must satisfy 0 < nzr <= 1"),
    (vrr, (10, 3), {"nzr": 1.5}, ValueError, r"^nzr must satisfy 0 < nzr <= 1.*1\.5"),
    (vrr, (10, 3), {"nzr": float("nan")}, ValueError, r"^nzr must satisfy"),
    (vrr, (10, 3), {"nzr": "half"}, TypeError, r"^nzr must be a real number"),
    (vrr, (10, 3), {"chunk": 0}, ValueError, r"^chunk must satisfy 1 <= chunk <= 2\*\*62, got 0"),
    (vrr, (10, 3), {"chunk": 11}, ValueError, r"^chunk must satisfy chunk <= n.*chunk=11.*n=10"),
    (vrr, ([100, 10], 3), {"chunk": 64}, ValueError, r"^chunk must satisfy chunk <= n.*n=10"),
    (vrr, (10, 3), {"model": "exact"}, ValueError, r"^model must be one of 'full', 'paper', 'closed', 'adder', got 'exact'"),
    (vrr, (10, 3), {"kappa": 0}, ValueError, r"^kappa must satisfy 0 < kappa < inf"),
    (variance_lost, (0, 3), {}, ValueError, r"^n must satisfy 1 <= n <= "),
    (variance_lost, (10, 3), {"model": "paper!"}, ValueError, r"^model must be one of"),
    (min_macc, (0,), {}, ValueError, r"^n must satisfy 1 <= n <= "),
    (min_macc, (1.5,), {}, ValueError, r"^n must be a whole number"),
    (min_macc, (100,), {"cutoff": 1}, ValueError, r"^cutoff must satisfy 1 < cutoff < inf.*got 1"),
    (min_macc, (100,), {"cutoff": 0.5}, ValueError, r"^cutoff must satisfy 1 < cutoff < inf"),
    (min_macc, (100,), {"chunk": 101}, ValueError, r"^chunk must satisfy chunk <= n"),
    (min_macc, (100,), {"m_max": -1}, ValueError, r"^m_max must satisfy 0 <= m_max <= 1074"),
    (min_macc, (100,), {"model": "nope"}, ValueError, r"^model must be one of 'full', 'paper', 'closed'"),
    (min_macc, (10**6,), {"m_max": 3}, ValueError, r"no m_acc <= m_max=3 meets cutoff=50 for n=1000000"),
]


@pytest.mark.parametrize("func, args, kwargs, error, message", BAD)
def test_bad_input(func, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        func(*args, **{"m_p": 5, **kwargs})


def test_m_p_is_required():
    with pytest.raises(TypeError, match="m_p"):
        vrr(10, 3)
