"""The model side of benchmarks/validate_adder.py: the adder model and the paper model on
every measured cell, and the agreement summary.

A cell is **resolved** when its 95% interval of the variance lost excludes zero and its
half-width is below half the measured value (a relative standard error under ~25%).
A resolved cell **agrees** when |measured - model| <= 0.2 |model| + (95% half-width): the
issue's "within 20% plus the sampling error". Knees (smallest m_acc with variance lost
<= ln 50, every larger m_acc too) are compared per (sweep, dist, m_p, rounding, chunk, n)
where the measured knee is resolved: the measured losses at the knee and one bit below
lie on either side of the cut-off beyond their intervals.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from fpsim import AccumSpec, Chunked, accumulator
from fpsim.analysis.adder import adder_variance_lost
from fpsim.analysis.vrr import variance_lost as paper_lost

LN50 = math.log(50)


def _spec(m_acc, chunk, rounding):
    order = "sequential" if chunk is None else Chunked(chunk)
    return AccumSpec(accumulator(m_acc), rounding=rounding, order=order)


def model_rows(data, progress=None):
    """Every measured row with 'adder' and 'paper' model values added."""
    groups = defaultdict(list)
    for sweep, block in data.items():
        for r in block["rows"]:
            r = dict(r, sweep=sweep)
            groups[(r["dist"], r["m_p"], r["nzr"], r["rounding"], r["chunk"], r["m_acc"])].append(r)
    out = []
    for i, ((dist, m_p, nzr, rounding, chunk, m_acc), rows) in enumerate(sorted(
            groups.items(), key=lambda kv: tuple(str(x) for x in kv[0]))):
        ns = sorted({r["n"] for r in rows})
        adder = adder_variance_lost(np.array(ns), _spec(m_acc, chunk, rounding), m_p=m_p,
                                    dist=dist, nzr=nzr)
        by_n = dict(zip(ns, np.atleast_1d(adder)))
        for r in rows:
            c = chunk if chunk is not None and chunk < r["n"] else None
            r["adder"] = float(by_n[r["n"]])
            r["paper"] = float(paper_lost(r["n"], m_acc, m_p=52 if m_p is None else m_p,
                                          chunk=c, nzr=nzr))
            out.append(r)
        if progress:
            progress(i + 1, len(groups))
    return out


def resolved(r):
    v, lo, hi = r["variance_lost"], r["vl_lo"], r["vl_hi"]
    if not all(map(math.isfinite, (v, lo, hi))):
        return False
    half = (hi - lo) / 2
    return (lo > 0 or hi < 0) and half < 0.5 * abs(v)


def agrees(r, model="adder", band=0.2):
    half = (r["vl_hi"] - r["vl_lo"]) / 2
    return abs(r["variance_lost"] - r[model]) <= band * abs(r[model]) + half


def _knees(rows):
    """{(group): (measured knee, resolved?, adder knee, paper knee)}."""
    groups = defaultdict(dict)
    for r in rows:
        groups[(r["sweep"], r["dist"], r["m_p"], r["nzr"], r["rounding"], r["chunk"],
                r["n"])][r["m_acc"]] = r
    out = {}
    for key, by_m in groups.items():
        ms = sorted(by_m)

        def knee(get):
            k = None
            for m in reversed(ms):
                v = get(by_m[m])
                if not (math.isfinite(v) and v <= LN50):
                    break
                k = m
            return k
        meas = knee(lambda r: r["variance_lost"])
        if meas is None or meas == ms[0]:
            continue                                  # no knee inside the grid
        at, below = by_m[meas], by_m.get(meas - 1)
        ok = at["vl_hi"] <= LN50 and below is not None and math.isfinite(below["vl_lo"]) \
            and below["vl_lo"] > LN50
        out[key] = (meas, ok, knee(lambda r: r["adder"]), knee(lambda r: r["paper"]))
    return out


def summary(rows):
    res = [r for r in rows if resolved(r)]
    lines = []
    ratio = lambda r, m: r["variance_lost"] / r[m] if r[m] else math.inf
    for model in ("adder", "paper"):
        ok = [r for r in res if agrees(r, model)]
        rs = np.array([ratio(r, model) for r in res])
        rs = rs[np.isfinite(rs)]
        lines.append(f"{model}: {len(ok)}/{len(res)} resolved cells agree within 20% + sampling "
                     f"error; measured/model median {np.median(rs):.3f}, "
                     f"5-95% {np.percentile(rs, 5):.3f}-{np.percentile(rs, 95):.3f}, "
                     f"range {rs.min():.3g}-{rs.max():.3g}")
    return lines, res


#: Where the adder model's closure holds (docs/theory.md, "Where the closure fails"):
#: any of its roundings (ru/rd with the skewed closure), products of m_p >= 5 bits (or
#: unrounded), m_acc from 4 to m_p + 5 (finer accumulators hold sums of few products
#: exactly on the products' lattice), single sums or chunks of 64 or more (sums of 16
#: coarse products sit on a lattice, too), and a moderate loss or gain:
#: 1 <= |variance lost| <= 5% of the non-zero products (for ru/rd: before the sum explodes).
REGIME = dict(roundings=("rne", "rna", "rtz", "sr", "ru", "rd"), m_p_min=5, m_acc_min=4, m_acc_above_m_p=5,
              chunk_min=64, lost_min=1.0, lost_max_fraction=0.05)
#: The band of measured / adder-model variance lost inside REGIME (tests/test_measure.py).
BAND = (0.8, 1.25)


def in_regime(r):
    """Whether the cell ``r`` (a row with its "adder" value) lies in REGIME."""
    g = REGIME
    m_p = 52 if r["m_p"] is None else r["m_p"]
    v = r["adder"]
    return (r["rounding"] in g["roundings"] and m_p >= g["m_p_min"]
            and g["m_acc_min"] <= r["m_acc"] <= m_p + g["m_acc_above_m_p"]
            and (r["chunk"] is None or r["chunk"] >= min(g["chunk_min"], r["n"]))
            and math.isfinite(v) and g["lost_min"] <= abs(v) <= g["lost_max_fraction"] * r["n"] * r["nzr"])


def calibration(rows):
    """(cells, misses): the resolved cells in REGIME and those whose 95% interval of
    measured / model misses BAND."""
    cells = [r for r in rows if resolved(r) and in_regime(r)]
    def interval(r):
        a, b = r["vl_lo"] / r["adder"], r["vl_hi"] / r["adder"]
        return min(a, b), max(a, b)
    misses = [r for r in cells if interval(r)[1] < BAND[0] or interval(r)[0] > BAND[1]]
    return cells, misses


def regime_cells(rows, n_max=1024):
    """The distinct measured configurations in REGIME with n <= n_max, for the property
    test: [n, m_acc, chunk, rounding, dist, m_p]."""
    keep = {(r["n"], r["m_acc"], r["chunk"] if r["chunk"] is not None and r["chunk"] < r["n"] else None,
             r["rounding"], r["dist"], r["m_p"])
            for r in rows if r["nzr"] == 1.0 and r["n"] <= n_max and in_regime(r)}
    return sorted(keep, key=lambda c: tuple(str(x) for x in c))


def _by(res, key):
    groups = defaultdict(list)
    for r in res:
        groups[key(r)].append(r)
    return groups


def _progress(done, total):
    import sys
    if done % 10 == 0 or done == total:
        print(f"  model: {done}/{total} configurations", file=sys.stderr, flush=True)


def compare(data, markdown=False, worst=25, rows=None):
    """The summary text; ``rows``: model_rows(data) if already computed."""
    rows = model_rows(data, _progress) if rows is None else rows
    lines, res = summary(rows)
    out = [f"{len(rows)} measured cells, {len(res)} resolved."] + lines
    out.append("")
    out.append("| group | resolved | agree (adder) | measured/adder: median [min, max] | agree (paper) | measured/paper median |")
    out.append("|---|---|---|---|---|---|")
    for key, rs in sorted(_by(res, lambda r: (r["rounding"], "single" if r["chunk"] is None
                                              else f"chunk {r['chunk']}")).items()):
        ra = np.array([r["variance_lost"] / r["adder"] for r in rs])
        rp = np.array([r["variance_lost"] / r["paper"] for r in rs if r["paper"]])
        out.append(f"| {key[0]}, {key[1]} | {len(rs)} | {sum(agrees(r) for r in rs)} | "
                   f"{np.median(ra):.3f} [{ra.min():.3f}, {ra.max():.3f}] | "
                   f"{sum(agrees(r, 'paper') for r in rs)} | "
                   f"{np.median(rp) if rp.size else float('nan'):.3g} |")
    out.append("")
    out.append("| products | resolved | agree (adder) | measured/adder: median [min, max] |")
    out.append("|---|---|---|---|")
    for key, rs in sorted(_by(res, lambda r: (r["dist"], str(r["m_p"]), r["nzr"])).items()):
        ra = np.array([r["variance_lost"] / r["adder"] for r in rs])
        out.append(f"| {key[0]}, m_p={key[1]}, nzr={key[2]} | {len(rs)} | {sum(agrees(r) for r in rs)} | "
                   f"{np.median(ra):.3f} [{ra.min():.3f}, {ra.max():.3f}] |")
    # worst cells: the largest excess over the band, in units of the sampling half-width
    def excess(r):
        half = (r["vl_hi"] - r["vl_lo"]) / 2
        return (abs(r["variance_lost"] - r["adder"]) - 0.2 * abs(r["adder"])) / max(half, 1e-300)
    bad = sorted(res, key=excess, reverse=True)[:worst]
    out.append("")
    out.append("Worst resolved cells (adder model):")
    out.append("")
    out.append("| sweep | dist | m_p | rounding | chunk | n | m_acc | measured [95% CI] | adder | meas/adder | paper |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in bad:
        out.append(f"| {r['sweep']} | {r['dist']} | {r['m_p']} | {r['rounding']} | {r['chunk']} | "
                   f"{r['n']} | {r['m_acc']} | {r['variance_lost']:.4g} [{r['vl_lo']:.4g}, "
                   f"{r['vl_hi']:.4g}] | {r['adder']:.4g} | {r['variance_lost'] / r['adder']:.3f} | "
                   f"{r['paper']:.4g} |")
    cells, misses = calibration(rows)
    ratios = np.array([r["variance_lost"] / r["adder"] for r in cells])
    out.append("")
    if not cells:
        out.append("In the closure's regime (REGIME): no resolved cells among these.")
    else:
        out.append(f"In the closure's regime (REGIME): {len(cells)} resolved cells, measured/adder "
                   f"median {np.median(ratios):.3f}, 2.5-97.5% {np.percentile(ratios, 2.5):.3f}-"
                   f"{np.percentile(ratios, 97.5):.3f}; {len(cells) - len(misses)} of them have a "
                   f"95% interval meeting the band [{BAND[0]}, {BAND[1]}], these {len(misses)} "
                   f"do not:")
    for r in misses:
        out.append(f"  {r['sweep']} {r['dist']} m_p={r['m_p']} {r['rounding']} chunk={r['chunk']} "
                   f"n={r['n']} m_acc={r['m_acc']}: measured {r['variance_lost']:.4g} "
                   f"[{r['vl_lo']:.4g}, {r['vl_hi']:.4g}], adder {r['adder']:.4g}")
    knees = _knees(rows)
    okk = {k: v for k, v in knees.items() if v[1]}
    same_a = sum(v[0] == v[2] for v in okk.values())
    same_p = sum(v[0] == v[3] for v in okk.values())
    out.append("")
    out.append(f"Knees (variance lost <= ln 50): {len(knees)} inside the grid, {len(okk)} resolved; "
               f"adder model equal at {same_a}/{len(okk)}, paper model at {same_p}/{len(okk)}.")
    diff = [(k, v) for k, v in okk.items() if v[0] != v[2]]
    for k, v in diff[:20]:
        out.append(f"  knee differs: {k}: measured {v[0]}, adder {v[2]}, paper {v[3]}")
    text = "\n".join(out)
    return text
