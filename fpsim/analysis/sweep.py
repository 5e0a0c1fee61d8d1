"""Grids of measured VRRs: :func:`sweep` and its :class:`SweepTable`.

A sweep draws the products once per distribution, for its largest n (:mod:`.draws`: the
first n rows of that draw are the draw for n), and runs every configuration (m_acc,
chunk, rounding) on those same products, so differences between configurations are not
sampling noise. Every accumulation goes through :func:`fpsim.sum` with the
configuration's :class:`~fpsim.AccumSpec`, the kernel's own orders; a row equals
:func:`fpsim.measure_vrr` of its configuration bit for bit (tested).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._args import (check_bool, check_callback, check_ci, check_cutoff, check_int,
                     check_nzr, check_seed, check_trials)
from ..accumulate import AccumSpec
from ..accumulate import sum as fsum
from ..formats import Format, accumulator
from ..orders import Sequential
from ..rounding import Rounding, as_rounding
from ..text import csv_text, table, to_json
from .draws import check_dist, check_m_p, draw, model_m_p, sr_seed
from .estimator import EXACT64, counts, estimate, n_eff
from .vrr import min_macc, variance_lost

__all__ = ["SweepTable", "sweep"]

_COLUMNS = ("dist", "rounding", "chunk", "n", "m_acc", "vrr", "vrr_lo", "vrr_hi",
            "variance_lost", "vl_lo", "vl_hi", "vl_paper", "vl_full", "full", "partial",
            "additions")


@dataclass(frozen=True)
class SweepTable:
    """Rows of a :func:`sweep` (one dict per configuration, keys in ``columns``).

    ``vl_paper`` / ``vl_full``: :func:`fpsim.variance_lost` of the "paper" (full + partial
    swamping) and "full" models for the same n, m_acc, chunk, nzr and m_p (the product
    mantissa used, 52 for unrounded float64 products). ``full``, ``partial``,
    ``additions``: swamping counts summed over the trials.
    """

    rows: list
    params: dict = field(default_factory=dict)
    columns: tuple = _COLUMNS

    def __len__(self):
        return len(self.rows)

    def __str__(self):
        return self.format()

    def format(self, columns=None) -> str:
        """The rows as an aligned text table (every column right-aligned)."""
        cols = list(columns or self.columns)
        return table(cols, [[_fmt(r[c]) for c in cols] for r in self.rows], align="r" * len(cols))

    def to_csv(self) -> str:
        return csv_text(self.columns, [[r[c] for c in self.columns] for r in self.rows])

    def to_json(self) -> str:
        return to_json({"params": self.params, "rows": self.rows})

    def knee(self, cutoff=50):
        """For each (n, chunk, rounding, dist): the smallest m_acc of the sweep whose measured
        variance lost is <= ln(cutoff) (``knee``; None if none is), the same rule applied to
        the upper and lower ends of the intervals (``knee_hi``: every m_acc from it on is
        below the cut-off at the interval's top, a conservative knee; ``knee_lo``:
        optimistic), and the analytical :func:`fpsim.min_macc` of the "paper" model.
        """
        cutoff = check_cutoff(cutoff)
        limit = math.log(cutoff)
        groups = {}
        for r in self.rows:
            groups.setdefault((r["n"], r["chunk"], r["rounding"], r["dist"]), []).append(r)
        out = []
        for (n, chunk, rounding, dist), rows in groups.items():
            rows = sorted(rows, key=lambda r: r["m_acc"])

            def first(key):
                # smallest m_acc from which every larger m_acc of the sweep meets the cut-off
                best = None
                for r in reversed(rows):
                    if not r[key] <= limit:   # nan fails too
                        break
                    best = r["m_acc"]
                return best

            ana = min_macc(n, m_p=model_m_p(self.params.get("m_p")), chunk=_model_chunk(chunk, n),
                           nzr=self.params.get("nzr", 1.0), cutoff=cutoff)
            out.append({"n": n, "chunk": chunk, "rounding": rounding, "dist": dist,
                        "knee": first("variance_lost"), "knee_lo": first("vl_lo"),
                        "knee_hi": first("vl_hi"), "min_macc": ana})
        return out


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:.6f}" if abs(v) < 1.5 and v != 0 and abs(v) > 0.5 else f"{v:.4g}"
    return str(v)


def _model_chunk(chunk, n):
    """The chunk the model is given: None for a single sum or a chunk covering the sum."""
    return chunk if chunk is not None and chunk < n else None


def analytic(n, m_acc, chunk, m_p, nzr, model):
    """:func:`fpsim.variance_lost` of a sweep cell (chunk as the sweep gives it)."""
    return float(variance_lost(n, m_acc, m_p=m_p, chunk=_model_chunk(chunk, n), nzr=nzr,
                               model=model))


def spec_for(m_acc, chunk, rounding, exp_bits=6):
    """The AccumSpec of a sweep cell: a (1, exp_bits, m_acc) accumulator, a single sum
    (chunk None) or chunks of ``chunk``."""
    acc = accumulator(m_acc, exp_bits)
    if chunk is None:
        return AccumSpec(acc, rounding=rounding)
    return AccumSpec(acc, rounding=rounding, order="chunked", chunk=chunk)


def _sum_counts(X, spec, stats, seed=None):
    """fpsim.sum(X, spec, axis=0) and its swamping counts (zeros when stats is False)."""
    if stats:
        v, st = fsum(X, spec, axis=0, stats=True, seed=seed)
        return v, counts(st)
    return fsum(X, spec, axis=0, seed=seed), np.zeros(4, np.int64)


def _continues(spec) -> bool:
    """Whether a sum under spec over X[:n'] continues the one over X[:n] (n < n'): a
    sequential sum is a left fold, and without stochastic rounding (whose random streams
    follow each addition's position) its steps do not depend on where it started."""
    return isinstance(spec.order, Sequential) and spec.rounding != Rounding.SR


def _continued(Y, prev, spec, stats):
    """The sequential sums of Y's columns with Y[0] = prev (set here), the results of the
    previous length, and Y[1:] the next addends: (values, counts of the new additions).

    The sum of [prev; next] from +0 is the sum of the whole prefix: its first step
    R(+0 + prev) = prev exactly (prev is a value of the accumulator), and the later steps
    are the prefix sum's own. That first step is counted as an addition where prev is
    finite and non-zero: taken out again. (Were prev -0, R(+0 + -0) would be +0; callers
    do not continue such a column.)
    """
    Y[0] = prev
    vals, c = _sum_counts(Y, spec, stats)
    if stats:
        c[0] -= int(np.count_nonzero(np.isfinite(prev) & (prev != 0.0)))
    return vals, c


def _negative_zero(x) -> bool:
    return bool((np.signbit(x) & (x == 0.0)).any())


def _sums_by_length(X, ns, specs, seed, stats, tick=lambda: None):
    """results[k][i] = (s_hat, counts): ``fpsim.sum(X[:ns[i]], specs[k], axis=0)`` and its
    swamping counts, for the sorted lengths ns, bit for bit.

    Chunked, pairwise, Kahan, exact and stochastically rounded sums are computed for each
    length from the start by the kernel's own order. Sequential sums continue from the
    previous length (:func:`_continued`): [previous results; the next rows], one copy of
    those rows for every such spec. ``tick()`` after each result.
    """
    results = [[None] * len(ns) for _ in specs]
    prev_n = 0
    for i, n in enumerate(ns):
        Y = None
        for k, spec in enumerate(specs):
            prev = results[k][i - 1] if i else None
            if prev is not None and _continues(spec) and not _negative_zero(prev[0]):
                if Y is None:
                    Y = np.empty((n - prev_n + 1, X.shape[1]))
                    Y[1:] = X[prev_n:n]
                v, c = _continued(Y, prev[0], spec, stats)
                c += prev[1]
            else:
                v, c = _sum_counts(X[:n], spec, stats, seed)
            results[k][i] = (v, c)
            tick()
        prev_n = n
    return results


def _exact_sums(X, ns, few_bits):
    """The exact sums of X[:n] rounded once to float64, for each n of the sorted ns.

    A sequential sum in an e11m50 accumulator in which no addition was inexact (swamping
    counts all zero) *is* the exact sum, and then a float64 value; so with products of few
    significant bits (``few_bits``: m_p <= 30) that sum, continued from length to length
    on the kernels' fast path, is used wherever it carries this certificate. Other lengths
    are summed in the Kulisch order, as measure_vrr always does.
    """
    if few_bits:
        cheap = _sums_by_length(X, ns, [AccumSpec(Format(11, 50))], 0, True)[0]
    else:
        cheap = [(None, (0, 0, 0, 1))] * len(ns)
    return [s if c[3] == 0 else fsum(X[:n], EXACT64, axis=0) for n, (s, c) in zip(ns, cheap)]


def _unique_list(name, values, check):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    values = [check(v) for v in values]
    if not values:
        raise ValueError(f"{name} must not be empty")
    return list(dict.fromkeys(values))      # unique, in order


def sweep(ns, m_accs, *, chunks=(None, 64), roundings=("rne",), dists=("gaussian",), trials=1000,
          m_p=None, exp_bits=6, nzr=1.0, seed=0, ci=0.95, stats=True, progress=None) -> SweepTable:
    """Measure the VRR over a grid of lengths, accumulator mantissas, chunk sizes, adder
    roundings and product distributions.

    Each distribution is drawn once, for the largest n (with the same seeding as
    :func:`fpsim.measure_vrr`, so the products of length n are exactly those
    measure_vrr(n) draws), and every configuration (m_acc, chunk, rounding) is run on those
    same products: differences between configurations are not sampling noise. Each
    length is summed by :func:`fpsim.sum` with the configuration's order (sequential sums
    continue from the previous length, bit-identical to starting over), and each kernel
    call runs its trials in parallel.

    Parameters
    ----------
    ns : ints >= 1;  m_accs : ints in 0..52 ((1, exp_bits, m_acc) accumulators)
    chunks : None (a single sequential sum) and/or chunk lengths >= 1
    roundings : adder rounding modes (``"rne"``, ``"rtz"``, ...)
    dists : names from DISTRIBUTIONS
    trials, m_p, nzr, seed, ci : as in :func:`fpsim.measure_vrr`
    exp_bits : accumulator exponent bits (1..11, 6 as in the paper)
    stats : count swamping (columns full, partial, additions; None without); counting
        slows the kernels down about 3x on long sums
    progress : callable(done, total), optional, called after each configuration (row)

    Returns
    -------
    SweepTable

    Examples
    --------
    >>> t = sweep([576, 1152], [5, 7, 9], chunks=(None,), trials=1000, m_p=5)
    >>> [(r["n"], r["m_acc"]) for r in t.rows][:4]
    [(576, 5), (576, 7), (576, 9), (1152, 5)]
    >>> [(k["n"], k["knee"], k["min_macc"]) for k in t.knee()]
    [(576, 7, 6), (1152, 7, 7)]
    """
    ns = sorted(_unique_list("ns", ns, lambda v: check_int(v, "n", 1)))
    m_accs = sorted(_unique_list("m_accs", m_accs, lambda v: check_int(v, "m_acc", 0, 52)))
    chunks = _unique_list("chunks", chunks, lambda v: check_int(v, "chunk", 1, optional=True))
    roundings = _unique_list("roundings", roundings, lambda v: str(as_rounding(v, "rounding")))
    dists = _unique_list("dists", dists, check_dist)
    T = check_trials(trials)
    m_p = check_m_p(m_p)
    exp_bits = check_int(exp_bits, "exp_bits", 1, 11)
    nzr = check_nzr(nzr)
    seed = check_seed(seed)
    ci = check_ci(ci)
    progress = check_callback(progress)
    stats = check_bool(stats, "stats")
    m_p_model = model_m_p(m_p)

    total = len(ns) * len(m_accs) * len(chunks) * len(roundings) * len(dists)
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    # analytical values, once per (n, m_acc, chunk)
    ana = {}
    for chunk in chunks:
        for n in ns:
            for model in ("paper", "full"):
                vals = variance_lost(n, np.array(m_accs), m_p=m_p_model, chunk=_model_chunk(chunk, n),
                                     nzr=nzr, model=model)
                for m, v in zip(m_accs, np.atleast_1d(vals)):
                    ana[(n, m, chunk, model)] = float(v)
    rows = []
    for dist in dists:
        X = draw(ns[-1], T, dist, m_p, nzr, seed)
        exact = _exact_sums(X, ns, m_p is not None and m_p <= 30)
        cells = [(rounding, chunk, m_acc) for rounding in roundings for chunk in chunks
                 for m_acc in m_accs]
        results = _sums_by_length(X, ns, [spec_for(m, c, r, exp_bits) for r, c, m in cells],
                                  sr_seed(seed), stats, tick)
        for (rounding, chunk, m_acc), res in zip(cells, results):
            for n, s, (shat, c) in zip(ns, exact, res):
                v, (lo, hi), vl, (vl_lo, vl_hi) = estimate(shat, s, n_eff(n, nzr), ci)
                rows.append({"dist": dist, "rounding": rounding, "chunk": chunk, "n": n,
                             "m_acc": m_acc, "vrr": v, "vrr_lo": lo, "vrr_hi": hi,
                             "variance_lost": vl, "vl_lo": vl_lo, "vl_hi": vl_hi,
                             "vl_paper": ana[(n, m_acc, chunk, "paper")],
                             "vl_full": ana[(n, m_acc, chunk, "full")],
                             "full": int(c[1]) if stats else None,
                             "partial": int(c[2]) if stats else None,
                             "additions": int(c[0]) if stats else None})
        del X
    order = {d: i for i, d in enumerate(dists)}
    rorder = {r: i for i, r in enumerate(roundings)}
    corder = {c: i for i, c in enumerate(chunks)}
    rows.sort(key=lambda r: (order[r["dist"]], rorder[r["rounding"]], corder[r["chunk"]], r["n"], r["m_acc"]))
    params = {"ns": ns, "m_accs": m_accs, "chunks": chunks, "roundings": roundings, "dists": dists,
              "trials": T, "m_p": m_p, "m_p_model": m_p_model, "exp_bits": exp_bits, "nzr": nzr,
              "seed": seed, "ci": ci, "stats": bool(stats)}
    return SweepTable(rows=rows, params=params)
