"""The data of Sakr et al.'s Figure 2 (ICLR 2019): measured variance lost against n, one
curve per m_acc, for a single sum and for chunks, next to the analytical curves."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .._args import check_cutoff, check_int
from .sweep import SweepTable, analytic, sweep

__all__ = ["Figure2Data", "figure2"]


def _dense_grid(lo, hi, per_octave=8):
    """Integers from lo to hi, geometrically spaced, per_octave points per doubling."""
    k = np.arange(0, math.ceil(per_octave * math.log2(hi / lo)) + 1)
    grid = np.unique(np.clip(np.round(lo * 2.0 ** (k / per_octave)), lo, hi).astype(np.int64))
    return [int(v) for v in grid]


def _whole_chunks(grid, chunk):
    """The grid's n rounded to whole chunks (n >= chunk; shorter sums are one chunk): a
    short last chunk is a distribution of addends of its own, which the adder model
    computes afresh for each length (nine tenths of the report's model time went there),
    and a curve through whole chunks is the smooth one the measured points (whole chunks)
    lie on."""
    return sorted({n if n < chunk else chunk * max(1, round(n / chunk)) for n in grid})


@dataclass(frozen=True)
class Figure2Data:
    """The data of Sakr et al.'s Figure 2: variance lost against n, one curve per m_acc,
    for a single sum ("normal") and for chunks of ``chunk``.

    ``series``: one dict per (m_acc, chunk) with the measured points ``n``,
    ``variance_lost``, ``vl_lo``, ``vl_hi`` (interval at level ``ci``) and the analytical
    curve ``curve_n``, ``curve_paper`` (:func:`fpsim.variance_lost`, "paper" model, on a
    dense grid of n, 8 points per octave, rounded to whole chunks for chunks).
    ``cutoff``: the knee rule's cut-off (variance lost <= ln(cutoff)). ``table``: the underlying :class:`SweepTable`. ``seconds``: wall
    time of the measurement. A plotting layer draws exp(variance lost) (the paper's
    "normalized exponential variance lost") or the variance lost on log axes.
    """

    ns: list
    m_accs: list
    chunk: int
    trials: int
    m_p: int | None
    seed: int
    ci: float
    cutoff: float
    series: list
    table: SweepTable
    seconds: float

    def to_dict(self) -> dict:
        return {"ns": self.ns, "m_accs": self.m_accs, "chunk": self.chunk, "trials": self.trials,
                "m_p": self.m_p, "seed": self.seed, "ci": self.ci, "cutoff": self.cutoff,
                "series": self.series, "rows": self.table.rows, "seconds": self.seconds}


def figure2(*, ns=tuple(2 ** k for k in range(6, 17)), m_accs=range(4, 15), chunk=64, trials=1000,
            m_p=5, seed=0, ci=0.95, cutoff=50, stats=False, progress=None,
            executor=None) -> Figure2Data:
    """Measure the Figure-2 grid of Sakr et al. (ICLR 2019): variance lost against n for
    each m_acc, with a single sum and with chunk-based accumulation, next to the "paper"
    model's curves. Gaussian products rounded to m_p bits (5: the exact product of two
    (1,5,2) FP8 operands), (1,6,m_acc) round-to-nearest accumulators.

    The default grid (n = 2^6..2^16, m_acc = 4..14, 1,000 trials a point) takes about 2 s
    on a 2-core machine, 100,000 trials a point about 3 minutes (docs/measured-vrr.md). ``stats=False`` (default)
    skips the swamping counts, which the figure does not use and which slow the kernels
    down about 3x on long sums.

    >>> f = figure2(ns=[64, 256], m_accs=[6, 8], trials=200)
    >>> [(s["m_acc"], s["chunk"], len(s["n"])) for s in f.series]
    [(6, None, 2), (8, None, 2), (6, 64, 2), (8, 64, 2)]
    """
    chunk = check_int(chunk, "chunk", 1)
    cutoff = check_cutoff(cutoff)
    start = time.perf_counter()
    table = sweep(ns, m_accs, chunks=(None, chunk), trials=trials, m_p=m_p, seed=seed, ci=ci,
                  stats=stats, progress=progress, executor=executor)
    seconds = time.perf_counter() - start
    p = table.params
    grid = _dense_grid(p["ns"][0], p["ns"][-1])
    series = []
    for c in (None, chunk):
        curve_n = grid if c is None else _whole_chunks(grid, c)
        for m in p["m_accs"]:
            rows = [r for r in table.rows if r["chunk"] == c and r["m_acc"] == m]
            curve = [analytic(n, m, c, p["m_p_model"], 1.0, "paper") for n in curve_n]
            series.append({"m_acc": m, "chunk": c, "n": [r["n"] for r in rows],
                           "variance_lost": [r["variance_lost"] for r in rows],
                           "vl_lo": [r["vl_lo"] for r in rows], "vl_hi": [r["vl_hi"] for r in rows],
                           "curve_n": curve_n, "curve_paper": curve})
    return Figure2Data(ns=p["ns"], m_accs=p["m_accs"], chunk=chunk, trials=p["trials"], m_p=p["m_p"],
                       seed=p["seed"], ci=p["ci"], cutoff=cutoff, series=series, table=table,
                       seconds=seconds)
