"""What hardware accumulation does to long sums: relative error against K, and the
measured VRR, of specs such as the :mod:`fpsim.hardware` presets.

Every trial is one dot product a·b of K operands rounded into ``operand`` (a batched
``fpsim.matmul``, so a block-FMA order sees the operands themselves: its alignment uses
their exponents), compared with the exact sum of the same products.

>>> from fpsim import AccumSpec, hardware
>>> from fpsim.analysis.hardware import error_vs_k
>>> rows = error_vs_k({"fast": hardware.preset("hopper-fp8-fast"),
...                    "fp32": AccumSpec("fp32")}, [256], trials=4)
>>> [(r["name"], r["K"]) for r in rows]
[('fast', 256), ('fp32', 256)]
>>> rows[0]["median_relative_error"] > rows[1]["median_relative_error"]
True
"""
from __future__ import annotations

import numpy as np

from .._args import check_int, check_seed, check_trials
from ..accumulate import AccumSpec, matmul
from ..quantize import quantize
from .estimator import estimate

__all__ = ["error_vs_k", "measured_vrr"]

_EXACT = AccumSpec("binary64", order="exact")


def _operands(K, trials, operand, positive, seed):
    rng = np.random.default_rng(seed)
    if positive:
        a, b = rng.uniform(0.0, 1.0, (2, trials, K))
    else:
        a, b = rng.standard_normal((2, trials, K))
    return quantize(a, operand), quantize(b, operand)


def _sums(spec, a, b):
    return matmul(a[:, None, :], b[:, :, None], spec)[:, 0, 0]


def error_vs_k(specs: dict, Ks, *, trials=64, operand="e4m3fn", positive=True, seed=0):
    """Rows {name, K, median_relative_error, max_relative_error} for every spec of
    ``specs`` ({name: AccumSpec}) and K of ``Ks``: ``trials`` dot products of K operands
    drawn uniform on (0, 1) (``positive``: no cancellation, so swamping shows) or Gaussian,
    rounded into ``operand``; the same operands for every spec."""
    trials = check_trials(trials)
    seed = check_seed(seed)
    rows = []
    for K in Ks:
        K = check_int(K, "K", 1)
        a, b = _operands(K, trials, operand, positive, seed + K)
        exact = _sums(_EXACT, a, b)
        for name, spec in specs.items():
            rel = np.abs(_sums(spec, a, b) - exact) / np.abs(exact)
            rows.append({"name": name, "K": K,
                         "median_relative_error": float(np.median(rel)),
                         "max_relative_error": float(np.max(rel))})
    return rows


def measured_vrr(spec, K, *, trials=400, operand="e4m3fn", seed=0, ci=0.95) -> dict:
    """{vrr, vrr_ci, variance_lost, variance_lost_ci} of ``spec`` on ``trials`` dot products
    of K zero-mean Gaussian operands rounded into ``operand`` (the paired estimator of
    :mod:`fpsim.analysis.estimator`, against the exact sums of the same products)."""
    K = check_int(K, "K", 1)
    trials = check_trials(trials)
    a, b = _operands(K, trials, operand, False, check_seed(seed))
    v, vci, vl, vlci = estimate(_sums(spec, a, b), _sums(_EXACT, a, b), K, ci)
    return {"vrr": v, "vrr_ci": vci, "variance_lost": vl, "variance_lost_ci": vlci}
