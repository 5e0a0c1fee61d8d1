"""Grids of measured VRRs: :func:`sweep` and its :class:`SweepTable`.

Every configuration (m_acc, chunk, rounding) of a sweep runs on the same products (the
counter-based stream of :mod:`.draws`), so differences between configurations are not
sampling noise, and a row equals :func:`fpsim.measure_vrr` of its configuration bit for
bit (tested). The work is a list of independent tasks, (distribution, rounding) x
block of trials, each one call of the fused kernel (:mod:`.montecarlo`), run here or on
an executor (:mod:`.tasks`) and merged in trial order: the table does not depend on who
ran what.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from .._args import (check_bool, check_callback, check_ci, check_cutoff, check_int,
                     check_nzr, check_seed, check_trials)
from ..accumulate import AccumSpec
from ..formats import accumulator
from ..rounding import as_rounding
from ..text import csv_text, table, to_json
from .draws import check_dist, check_m_p, model_m_p, sr_seed
from .estimator import estimate, n_eff
from .montecarlo import TrialResults, run_trials
from .tasks import run_tasks
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


#: Trials per task of a sweep: one call of the fused kernel (which runs its trials in
#: parallel blocks of LANES); any other value gives the same table.
TRIAL_BLOCK = 8192


def trial_blocks(trials, block):
    """[(t0, t1), ...]: the trials cut into consecutive blocks of at most ``block``."""
    return [(t0, min(t0 + block, trials)) for t0 in range(0, trials, block)]


def _task(job, task):
    """One task of a sweep: the trial block (t0, t1) of every spec of one (dist, rounding)
    (module-level, so that processes and Dask workers can run it)."""
    specs, ns, m_p, nzr, seed, stats = job
    dist, rounding, t0, t1 = task
    return run_trials(specs[(dist, rounding)], ns, t0, t1, dist=dist, m_p=m_p, nzr=nzr,
                      seed=seed, srseed=sr_seed(seed), stats=stats)


def _unique_list(name, values, check):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    values = [check(v) for v in values]
    if not values:
        raise ValueError(f"{name} must not be empty")
    return list(dict.fromkeys(values))      # unique, in order


def sweep(ns, m_accs, *, chunks=(None, 64), roundings=("rne",), dists=("gaussian",), trials=1000,
          m_p=None, exp_bits=6, nzr=1.0, seed=0, ci=0.95, stats=True, progress=None,
          executor=None, block=TRIAL_BLOCK) -> SweepTable:
    """Measure the VRR over a grid of lengths, accumulator mantissas, chunk sizes, adder
    roundings and product distributions.

    Every configuration (m_acc, chunk, rounding) is run on the same products (those
    :func:`fpsim.measure_vrr` draws with the same seed), so differences between
    configurations are not sampling noise, and a row equals measure_vrr of its
    configuration bit for bit. The work is cut into tasks, one per (distribution,
    rounding, block of trials); a task runs the fused Monte Carlo kernel once, drawing each
    product once for every m_acc, chunk and n (the sums of the shorter lengths are the
    longer sums' prefixes). Trial t depends only on (seed, t), so the table is
    bit-identical whatever runs the tasks: this process (default), threads, processes or
    a Dask cluster.

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
    progress : callable(done, total), optional: trials measured so far (of every
        distribution and rounding), called as tasks finish
    executor : None, a concurrent.futures.Executor or a dask.distributed.Client
        Where the tasks run (:func:`fpsim.analysis.tasks.run_tasks`); None: in this
        process, its kernels multithreaded. Dask is imported only when given a client.
    block : int >= 1
        Trials per task (the table does not depend on it).

    Returns
    -------
    SweepTable

    Examples
    --------
    >>> t = sweep([576, 1152], [5, 7, 9], chunks=(None,), trials=1000, m_p=5)
    >>> [(r["n"], r["m_acc"]) for r in t.rows][:4]
    [(576, 5), (576, 7), (576, 9), (1152, 5)]
    >>> [(k["n"], k["knee"], k["min_macc"]) for k in t.knee()]
    [(576, 5, 6), (1152, 7, 7)]
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
    block = check_int(block, "block", 1, note=" (trials per task)")
    m_p_model = model_m_p(m_p)

    # analytical values, once per (n, m_acc, chunk)
    ana = {}
    for chunk in chunks:
        for n in ns:
            for model in ("paper", "full"):
                vals = variance_lost(n, np.array(m_accs), m_p=m_p_model, chunk=_model_chunk(chunk, n),
                                     nzr=nzr, model=model)
                for m, v in zip(m_accs, np.atleast_1d(vals)):
                    ana[(n, m, chunk, model)] = float(v)
    cells = [(chunk, m_acc) for chunk in chunks for m_acc in m_accs]
    specs = {(d, r): [spec_for(m, c, r, exp_bits) for c, m in cells] for d in dists
             for r in roundings}
    tasks = [(d, r, t0, t1) for d in dists for r in roundings for t0, t1 in trial_blocks(T, block)]
    results = run_tasks(partial(_task, (specs, ns, m_p, nzr, seed, stats)), tasks,
                        executor=executor, progress=progress, weights=[t[3] - t[2] for t in tasks])
    rows = []
    for dist in dists:
        for rounding in roundings:
            res = TrialResults.concatenate([r for t, r in zip(tasks, results)
                                            if t[:2] == (dist, rounding)])
            for k, (chunk, m_acc) in enumerate(cells):
                for j, n in enumerate(ns):
                    v, (lo, hi), vl, (vl_lo, vl_hi) = estimate(res.shat[j, k], res.exact[j, k],
                                                               n_eff(n, nzr), ci)
                    c = res.counts[j, k].sum(axis=0)
                    rows.append({"dist": dist, "rounding": rounding, "chunk": chunk, "n": n,
                                 "m_acc": m_acc, "vrr": v, "vrr_lo": lo, "vrr_hi": hi,
                                 "variance_lost": vl, "vl_lo": vl_lo, "vl_hi": vl_hi,
                                 "vl_paper": ana[(n, m_acc, chunk, "paper")],
                                 "vl_full": ana[(n, m_acc, chunk, "full")],
                                 "full": int(c[1]) if stats else None,
                                 "partial": int(c[2]) if stats else None,
                                 "additions": int(c[0]) if stats else None})
    order = {d: i for i, d in enumerate(dists)}
    rorder = {r: i for i, r in enumerate(roundings)}
    corder = {c: i for i, c in enumerate(chunks)}
    rows.sort(key=lambda r: (order[r["dist"]], rorder[r["rounding"]], corder[r["chunk"]], r["n"], r["m_acc"]))
    params = {"ns": ns, "m_accs": m_accs, "chunks": chunks, "roundings": roundings, "dists": dists,
              "trials": T, "m_p": m_p, "m_p_model": m_p_model, "exp_bits": exp_bits, "nzr": nzr,
              "seed": seed, "ci": ci, "stats": bool(stats)}
    return SweepTable(rows=rows, params=params)
