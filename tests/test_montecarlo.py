"""The fused Monte Carlo kernel and its stream (fpsim.kernels.randoms, fpsim.kernels.montecarlo,
fpsim.analysis.montecarlo): the products against a pure-Python reference of the documented
stream, their distributions, every result against fpsim.sum and the exact order bit for bit,
and results that do not depend on how the trials are split."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numba
import numpy as np
import pytest
from scipy import stats as sps

import fpsim
from fpsim.accumulate import sum as fsum
from fpsim.analysis.draws import column_seed, draw_products, sr_seed
from fpsim.trials import ziggurats
from fpsim.analysis.estimator import EXACT64
from fpsim.analysis.montecarlo import fused_kernel_of, run_trials
from fpsim.analysis.sweep import spec_for, sweep
from fpsim.kernels import randoms
from fpsim.kernels.montecarlo import _certify
from reference import mcstream


def _hex(x):
    return float(x).hex()


# ---- the stream ------------------------------------------------------------------------------
def test_ziggurat_tables_are_marsaglia_tsangs():
    for kind, r_published, f, tail in (
            ("normal", 3.6541528853610088, lambda x: math.exp(-x * x / 2),
             lambda r: math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))),
            ("exponential", 7.69711747013104972, lambda x: math.exp(-x), lambda r: math.exp(-r))):
        x, fx, r = randoms.ziggurat_tables(kind)
        assert abs(r - r_published) < 1e-13, (kind, r)
        v = r * f(r) + tail(r)
        # every layer has the same area v: x[i] (f(x[i+1]) - f(x[i])) for i >= 1
        areas = [x[i] * (fx[i + 1] - fx[i]) for i in range(1, randoms.LAYERS)]
        assert max(abs(a - v) for a in areas) < 1e-12 * v * 1e3
        assert x[randoms.LAYERS] == 0.0 and fx[randoms.LAYERS] == 1.0
        assert all(x[i] > x[i + 1] for i in range(randoms.LAYERS))


@pytest.mark.parametrize("dist", fpsim.DISTRIBUTIONS)
@pytest.mark.parametrize("m_p,nzr", [(None, 1.0), (5, 0.6), (0, 1.0), (10, 0.3)])
def test_products_are_the_documented_stream(dist, m_p, nzr):
    seed, t0, n, T = 2**63 + 12345, 1000, 300, 7
    zn, fn, ze, fe = ziggurats()
    X = draw_products(n, T, dist=dist, m_p=m_p, nzr=nzr, seed=seed, first_trial=t0)
    for j in range(T):
        for i in range(n):
            want = mcstream.product(seed, t0 + j, i, dist, m_p, nzr, (zn, fn), (ze, fe))
            got = X[i, j]
            assert np.float64(got).view(np.uint64) == np.float64(want).view(np.uint64), \
                f"{dist} m_p={m_p} trial {t0 + j} product {i}: {_hex(got)} != {_hex(want)}"


@pytest.mark.parametrize("dist", ["gaussian", "laplace"])
def test_ziggurat_wedges_and_tails_follow_the_stream(dist):
    # the draws above rarely leave the fast path: here, the indices whose first word is
    # rejected (wedge layers, and the tail of layer 0) are picked out and compared
    from reference.stream import splitmix64
    zn, fn, ze, fe = ziggurats()
    X_, seed, t = (zn if dist == "gaussian" else ze), 77, 3
    key0 = splitmix64(splitmix64(seed, 0), t)
    tail, wedge = [], []
    for i in range(40000):
        w = splitmix64(key0, i)
        layer = w & 255
        if (w >> 11) * 2.0 ** -53 * X_[layer] >= X_[layer + 1]:
            (tail if layer == 0 else wedge).append(i)
    assert len(tail) >= 5 and len(wedge) >= 100, (len(tail), len(wedge))
    X = draw_products(40000, 1, dist=dist, seed=seed, first_trial=t)[:, 0]
    for i in tail + wedge:
        want = mcstream.product(seed, t, i, dist, None, 1.0, (zn, fn), (ze, fe))
        assert X[i] == want, f"{dist} product {i}: {_hex(X[i])} != {_hex(want)}"
    assert max(abs(X[i]) for i in tail) > X_[1]        # tail draws lie beyond r


@pytest.mark.parametrize("dist,cdf", [("gaussian", sps.norm.cdf),
                                      ("uniform", sps.uniform(-math.sqrt(3), 2 * math.sqrt(3)).cdf),
                                      ("laplace", sps.laplace(0, 1 / math.sqrt(2)).cdf)])
def test_distributions_pass_kolmogorov_smirnov(dist, cdf):
    # 200,000 draws, fixed seed; at level 1e-4 the KS statistic stays below
    # sqrt(-ln(1e-4 / 2) / 2) / sqrt(N) ~ 0.0049 for a correct generator
    X = draw_products(1000, 200, dist=dist, seed=11).ravel()
    d = sps.kstest(X, cdf).statistic
    assert d < math.sqrt(-math.log(1e-4 / 2) / 2) / math.sqrt(X.size), (dist, d)


def test_tails_and_moments():
    X = draw_products(2000, 500, dist="gaussian", seed=3).ravel()       # 10^6 draws
    # P(|x| > r) with r the ziggurat's tail edge: the tail path must produce these
    r = ziggurats()[0][1]
    p = 2 * sps.norm.sf(r)
    k = int((np.abs(X) > r).sum())
    assert abs(k - p * X.size) < 5 * math.sqrt(p * X.size) + 1, k
    # gaussian_product: variance 1 (Var(x^2) = 9 - 1), E x^4 = 9; 4 sigma of the estimates
    Y = draw_products(2000, 500, dist="gaussian_product", seed=3).ravel()
    assert abs(Y.var() - 1) < 4 * math.sqrt((9 - 1) / Y.size)
    # Var(x^4) = E x^8 - 81 = 105^2 - 81
    assert abs((Y ** 4).mean() - 9) < 4 * math.sqrt((105 ** 2 - 81) / Y.size)


def test_sparsity_fraction():
    X = draw_products(1000, 100, nzr=0.25, seed=8)
    zeros = (X == 0).mean()
    assert abs(zeros - 0.75) < 4 * math.sqrt(0.25 * 0.75 / X.size)


# ---- the fused kernel against fpsim.sum and the exact order -------------------------------
_MODES = ["rne", "rtz", "rna", "ru", "rd", "rto", "sr"]


def _check(specs, ns, t0, t1, dist="gaussian", m_p=5, nzr=1.0, seed=3):
    res = run_trials(specs, ns, t0, t1, dist=dist, m_p=m_p, nzr=nzr, seed=seed,
                     srseed=sr_seed(seed))
    X = draw_products(max(ns), t1 - t0, dist=dist, m_p=m_p, nzr=nzr, seed=seed, first_trial=t0)
    base = column_seed(sr_seed(seed), t0)
    for j, n in enumerate(ns):
        exact = fsum(X[:n], EXACT64, axis=0)
        for c, spec in enumerate(specs):
            v, st = fsum(X[:n], spec, axis=0, stats="elements", seed=base)
            got = res.shat[j, c]
            bad = np.flatnonzero(v.view(np.uint64) != got.view(np.uint64))
            assert bad.size == 0, (f"{spec!r} n={n} trial {t0 + bad[0]}: {_hex(got[bad[0]])} "
                                   f"!= fpsim.sum's {_hex(v[bad[0]])}")
            want = np.stack([st.additions, st.full, st.partial, st.inexact], axis=1)
            np.testing.assert_array_equal(res.counts[j, c], want, err_msg=f"{spec!r} n={n}")
            eb = np.flatnonzero(exact.view(np.uint64) != res.exact[j, c].view(np.uint64))
            assert eb.size == 0, f"n={n} trial {t0 + eb[0]}: reference {_hex(res.exact[j, c, eb[0]])}"
    return res


@pytest.mark.parametrize("mode", _MODES)
def test_fused_equals_fsum_every_mode(mode):
    specs = [spec_for(m, c, mode) for m in (3, 8) for c in (None, 1, 5, 16)]
    assert all(fused_kernel_of(s) is not None for s in specs)
    _check(specs, [1, 4, 5, 16, 37, 80], 300, 300 + 300)


@pytest.mark.parametrize("fmt", [fpsim.Format(3, 2), "e4m3", "e5m2", fpsim.Format(2, 6, subnormals=False)])
def test_fused_general_path_subnormals_overflow(fmt):
    # tiny exponent ranges: sums leave the normal range (subnormal, overflow, saturation)
    specs = [fpsim.AccumSpec(fmt, rounding=r) for r in ("rne", "rtz", "ru", "sr")]
    specs += [fpsim.AccumSpec(fmt, rounding="rne", order="chunked", chunk=4)]
    _check(specs, [3, 10, 50], 0, 260, dist="laplace", m_p=3)


@pytest.mark.parametrize("dist", fpsim.DISTRIBUTIONS)
def test_fused_every_distribution_sparse_and_unrounded(dist):
    specs = [spec_for(6, None, "rne"), spec_for(6, 8, "rtz")]
    _check(specs, [20, 64], 7, 7 + 270, dist=dist, m_p=None, nzr=0.5)


def test_other_specs_take_fsum_over_the_same_products():
    specs = [fpsim.AccumSpec(fpsim.accumulator(5), order="pairwise"),
             fpsim.AccumSpec(fpsim.accumulator(5), order="kahan"),
             fpsim.AccumSpec("bfloat16", product="e4m3", product_rounding="rne"),
             spec_for(7, None, "rne")]
    assert [fused_kernel_of(s) is None for s in specs] == [True, True, True, False]
    res = run_trials(specs, [10, 40], 20, 80, m_p=None, seed=9, srseed=sr_seed(9))
    X = draw_products(40, 60, seed=9, first_trial=20)
    Xq = fpsim.quantize(X, "e4m3", "rne")
    for j, n in enumerate([10, 40]):
        np.testing.assert_array_equal(res.shat[j, 0], fsum(X[:n], specs[0], axis=0))
        np.testing.assert_array_equal(res.shat[j, 2], fsum(Xq[:n], specs[2], axis=0))
        # the reference of a spec with a product format sums the rounded products
        np.testing.assert_array_equal(res.exact[j, 2], fsum(Xq[:n], EXACT64, axis=0))
        np.testing.assert_array_equal(res.exact[j, 3], fsum(X[:n], EXACT64, axis=0))


# ---- the certificate of the double-word reference -----------------------------------------
def _rn(q: Fraction) -> float:
    """q rounded to nearest-even float64, from exact arithmetic."""
    x = float(q)                                   # Fraction -> float rounds correctly
    return x


@pytest.mark.parametrize("hi,lo_ulps,bound_ulps", [
    (1.0, 0.5, 0.0), (1.0, -0.25, 0.0), (1.0, -0.2, 0.01), (3.0, 0.49, 0.02), (3.0, 0.49, 0.0),
    (2.0, -0.24, 0.02), (2.0, -0.26, 0.0), (-2.0, 0.24, 0.02), (-2.0, 0.2, 0.0), (5.0, 0.0, 0.0),
    (7.0, 0.1, 0.3), (1.5, -0.5, 0.0)])
def test_certificate_never_certifies_a_wrong_rounding(hi, lo_ulps, bound_ulps):
    ulp = math.ulp(hi)
    lo = lo_ulps * ulp
    bound = bound_ulps * ulp
    r, ok = _certify(hi, lo, bound)
    if ok:
        # every S within the bound of hi + lo rounds to r
        for d in (-bound, 0.0, bound):
            s = Fraction(hi) + Fraction(lo) + Fraction(d)
            assert _rn(s) == r, (hi, lo, bound, r)
    exact_tie = abs(lo_ulps) == 0.5 or (abs(hi) in (2.0,) and lo_ulps == -0.25)
    if exact_tie:
        assert not ok
    if bound_ulps == 0.0 and abs(lo_ulps) < 0.2:
        assert ok                                  # far from a tie: certified


# ---- partition independence --------------------------------------------------------------
def test_blocks_threads_and_lengths_do_not_change_results():
    specs = [spec_for(6, None, "rne"), spec_for(6, 64, "sr"), spec_for(9, 16, "rtz"),
             fpsim.AccumSpec(fpsim.accumulator(6), order="pairwise")]
    ns = [100, 333, 1000]
    whole = run_trials(specs, ns, 0, 700, seed=5, srseed=sr_seed(5))
    parts = [run_trials(specs, ns, a, b, seed=5, srseed=sr_seed(5))
             for a, b in ((0, 1), (1, 257), (257, 700))]
    joined = type(whole).concatenate(parts)
    for k in ("shat", "counts", "exact"):
        np.testing.assert_array_equal(getattr(whole, k), getattr(joined, k), err_msg=k)
    # one length at a time (no prefix reuse) gives the same numbers
    for j, n in enumerate(ns):
        alone = run_trials(specs, [n], 0, 700, seed=5, srseed=sr_seed(5))
        np.testing.assert_array_equal(alone.shat[0], whole.shat[j])
        np.testing.assert_array_equal(alone.counts[0], whole.counts[j])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_trials(specs, ns, 0, 700, seed=5, srseed=sr_seed(5))
    finally:
        numba.set_num_threads(before)
    for k in ("shat", "counts", "exact"):
        np.testing.assert_array_equal(getattr(whole, k), getattr(one, k), err_msg=k)


def test_sweep_identical_whatever_runs_the_tasks():
    kw = dict(chunks=(None, 32), roundings=("rne", "sr"), dists=("gaussian", "uniform"),
              trials=600, m_p=5, seed=2)
    ref = sweep([64, 200], [5, 8], **kw)
    assert sweep([64, 200], [5, 8], block=77, **kw).rows == ref.rows
    with ThreadPoolExecutor(2) as ex:
        assert sweep([64, 200], [5, 8], block=100, executor=ex, **kw).rows == ref.rows
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert sweep([64, 200], [5, 8], **kw).rows == ref.rows
    finally:
        numba.set_num_threads(before)
    # and a row is measure_vrr of its configuration
    row = next(r for r in ref.rows if r["rounding"] == "sr" and r["chunk"] == 32 and r["n"] == 200
               and r["m_acc"] == 5 and r["dist"] == "uniform")
    m = fpsim.measure_vrr(200, spec_for(5, 32, "sr"), trials=600, m_p=5, seed=2, dist="uniform")
    assert (m.vrr, m.variance_lost, m.stats.full) == (row["vrr"], row["variance_lost"], row["full"])


def test_sweep_on_a_local_dask_cluster_is_bit_identical():
    pytest.importorskip("distributed")
    from fpsim.analysis.tasks import open_executor
    kw = dict(chunks=(None, 32), roundings=("rne", "rtz"), trials=700, m_p=5, seed=4, block=128)
    ref = sweep([50, 300], [4, 7], **kw)
    with open_executor(workers=2) as client:
        on_cluster = sweep([50, 300], [4, 7], executor=client, **kw)
        assert len(client.scheduler_info()["workers"]) == 2
    assert on_cluster.rows == ref.rows
