"""``fpsim report``: the project's main job as one reproducible document.

:func:`generate` writes, into one directory,

* ``report.md``: the predicted accumulator precision of the three built-in networks (single
  sum and chunks of 64), the paper's Figure 2 (variance lost against n: analytical curves
  and measured points), a measured check at every predicted knee and one bit below, and
  a short swamping illustration; all numbers in the text come from this run;
* ``figures/*.png``: the four figures the Markdown shows;
* ``report.json``: every number behind them, for machines;

and returns a :class:`ReportResult` whose ``summary`` is the one-screen digest that the
command prints. Everything runs on embedded defaults; ``quick=True`` uses fewer trials and
points (every section and figure is still made), for CI.

>>> from fpsim.app.report import SETTINGS
>>> sorted(SETTINGS)
['full', 'quick']
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .._args import check_seed, check_trials
from ..text import table as render_table, to_json

__all__ = ["SETTINGS", "ReportResult", "generate"]

_CUTOFF = 50.0
_CHUNK = 64
_M_P = 5
_EXP_BITS = 6

#: The embedded defaults. ``fig2_*``: the Figure-2 grid (n, m_acc, trials per point);
#: ``knee_*``: the lengths checked at their predicted knees and the trials per point;
#: ``swamp_*``: the illustration's lengths.
SETTINGS = {
    "full": {"fig2_ns": [2 ** k for k in range(6, 15)], "fig2_m_accs": [4, 6, 8, 10, 12],
             "fig2_trials": 100000, "knee_ns": [576, 1152, 2304, 4608], "knee_trials": 100000,
             "swamp_ones": 8192, "swamp_gauss": 4608, "swamp_trials": 32,
             "hw_Ks": [2 ** k for k in range(4, 15)], "hw_trials": 64},
    "quick": {"fig2_ns": [2 ** k for k in range(6, 13)], "fig2_m_accs": [4, 6, 8, 10],
              "fig2_trials": 5000, "knee_ns": [576, 2304], "knee_trials": 5000,
              "swamp_ones": 4096, "swamp_gauss": 2304, "swamp_trials": 12,
              "hw_Ks": [2 ** k for k in range(4, 11)], "hw_trials": 16},
}

# relative cost of the stages, for the progress bar
_WEIGHTS = {"full": {"predictions": 1, "figure 2": 15, "knee check": 40, "swamping": 2,
                     "tensor cores": 2, "figures": 4},
            "quick": {"predictions": 1, "figure 2": 2, "knee check": 2, "swamping": 1,
                      "tensor cores": 1, "figures": 3}}


@dataclass
class ReportResult:
    """What :func:`generate` wrote and found."""

    out_dir: str
    markdown: str
    json: str
    figures: list
    seconds: float
    summary: str
    data: dict = field(repr=False)


# ---------------------------------------------------------------- small helpers

def _g(x, digits=3):
    """A short number for text."""
    if x is None:
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _ci(v, lo, hi):
    return f"{_g(v)} [{_g(lo)}, {_g(hi)}]"


def _md_table(headers, rows, align=None):
    return render_table(headers, rows, align=align, markdown=True)


def _chunk_label(chunk):
    return "single sum" if chunk is None else f"chunks of {chunk}"


def _environment():
    import numba
    from .. import __version__
    return {"fpsim": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "machine": platform.machine(),
            "system": platform.system(), "cpus": os.cpu_count()}


# ---------------------------------------------------------------- the sections

def _predictions(cutoff):
    from ..analysis.predict import networks, predict
    from ..analysis.vrr import min_macc
    tables = {net: predict(net, chunk=_CHUNK, m_p=_M_P, cutoff=cutoff) for net in networks()}
    summary = []
    for net, t in tables.items():
        for gemm in ("FWD", "BWD", "GRAD"):
            sel = [r for r in t.rows if r.gemm == gemm]
            summary.append({"network": net, "batch": t.batch, "gemm": gemm,
                            "n_min": min(r.n for r in sel), "n_max": max(r.n for r in sel),
                            "m_acc": max(r.m_acc for r in sel),
                            "m_acc_chunked": max(r.m_acc_chunked for r in sel)})
    grid = np.unique(np.round(np.geomspace(16, 2 ** 23, 400)).astype(np.int64))
    normal = np.asarray(min_macc(grid, m_p=_M_P, cutoff=cutoff))
    chunked = normal.copy()
    longer = grid > _CHUNK
    chunked[longer] = min_macc(grid[longer], m_p=_M_P, chunk=_CHUNK, cutoff=cutoff)
    points = [{"network": net, "gemm": r.gemm, "n": r.n, "m_acc": r.m_acc,
               "m_acc_chunked": r.m_acc_chunked} for net, t in tables.items() for r in t.rows]
    return {"tables": tables, "summary": summary, "points": points,
            "curve": {"n": grid.tolist(), "normal": normal.tolist(), "chunked": chunked.tolist()}}


def _figure2(cfg, trials, seed, cutoff, progress, executor=None):
    from ..analysis.measure import figure2
    fig2 = figure2(ns=cfg["fig2_ns"], m_accs=cfg["fig2_m_accs"], chunk=_CHUNK, trials=trials,
                   m_p=_M_P, seed=seed, cutoff=cutoff, progress=progress, executor=executor)
    data = fig2.to_dict()
    _add_adder_model(data)
    # agreement where the measurement resolves the loss: the 95% interval excludes 0 and
    # its half-width is at most half the estimate; for the paper model ("agreement") and
    # the adder model ("agreement_adder")
    for key, col in (("agreement", "vl_paper"), ("agreement_adder", "vl_adder")):
        ratios = {None: [], _CHUNK: []}
        for r in data["rows"]:
            v = r["variance_lost"]
            if (math.isfinite(v) and r["vl_lo"] > 0 and r["vl_hi"] - r["vl_lo"] <= v
                    and r[col] > 0):
                ratios[r["chunk"]].append(v / r[col])
        agreement = {}
        for chunk, vals in ratios.items():
            if vals:
                agreement[_chunk_label(chunk)] = {"points": len(vals), "median": float(np.median(vals)),
                                                  "min": float(np.min(vals)), "max": float(np.max(vals))}
        data[key] = agreement
    return data


def _adder_lost(ns, m_acc, chunk):
    """The adder model's variance lost (fpsim.analysis.adder) for the report's products."""
    from ..analysis.vrr import variance_lost
    return np.atleast_1d(variance_lost(np.asarray(ns), m_acc, m_p=_M_P, chunk=chunk,
                                       model="adder")).tolist()


def _add_adder_model(data):
    """Figure-2 data: the adder model's curve beside the paper model's (``curve_adder``)
    and its value at every measured point (``vl_adder``)."""
    for srs in data["series"]:
        srs["curve_adder"] = _adder_lost(srs["curve_n"], srs["m_acc"], srs["chunk"])
    cells = {}
    for r in data["rows"]:
        cells.setdefault((r["m_acc"], r["chunk"]), set()).add(r["n"])
    values = {}
    for (m, chunk), ns in cells.items():
        ns = sorted(ns)
        values.update({(m, chunk, n): v for n, v in zip(ns, _adder_lost(ns, m, chunk))})
    for r in data["rows"]:
        r["vl_adder"] = values[(r["m_acc"], r["chunk"], r["n"])]


def _knee_check(cfg, trials, seed, cutoff, progress, executor=None):
    """Measured variance lost at m_acc = predicted knee - 1 .. knee + 1 for each n, for a
    single sum and for chunks; one sweep per chunk setting (every m_acc sees the same
    products)."""
    from ..analysis.measure import sweep
    from ..analysis.vrr import min_macc
    ns = cfg["knee_ns"]
    limit = math.log(cutoff)
    plan = []
    for chunk in (None, _CHUNK):
        # the knees predicted by the adder model (fpsim.analysis.adder); the paper model's
        # are reported beside them
        knees = {n: int(min_macc(n, m_p=_M_P, chunk=chunk, cutoff=cutoff, model="adder"))
                 for n in ns}
        m_accs = list(range(max(0, min(knees.values()) - 1), max(knees.values()) + 2))
        plan.append((chunk, knees, m_accs))
    # progress in trials, as the sweeps count it: one sweep per chunk setting
    total = trials * len(plan)
    done = [0]

    def sub(d, t):
        if progress is not None:
            progress(done[0] + d, total)

    groups, rows, knees_out = [], [], []
    for chunk, knees, m_accs in plan:
        table = sweep(ns, m_accs, chunks=(chunk,), trials=trials, m_p=_M_P,
                      exp_bits=_EXP_BITS, seed=seed, progress=sub, executor=executor)
        done[0] += trials
        measured_knees = {k["n"]: k for k in table.knee(cutoff)}
        for n in ns:
            sel = sorted((r for r in table.rows if r["n"] == n), key=lambda r: r["m_acc"])
            for r in sel:
                r["vl_adder"] = _adder_lost([n], r["m_acc"], chunk)[0]
            knee = knees[n]
            groups.append({"n": n, "chunk": chunk, "knee": knee,
                           "m_acc": [r["m_acc"] for r in sel],
                           "vl": [r["variance_lost"] for r in sel],
                           "lo": [r["vl_lo"] for r in sel], "hi": [r["vl_hi"] for r in sel],
                           "model": [r["vl_adder"] for r in sel]})
            at = {r["m_acc"]: r for r in sel}
            k_row, b_row = at.get(knee), at.get(knee - 1)
            verdict, clear = _verdict(k_row, b_row, limit)
            mk = measured_knees[n]
            knees_out.append({"n": n, "chunk": chunk, "predicted": knee,
                              "predicted_paper": int(min_macc(n, m_p=_M_P, chunk=chunk,
                                                              cutoff=cutoff)),
                              "measured": mk["knee"], "measured_conservative": mk["knee_hi"],
                              "measured_optimistic": mk["knee_lo"], "verdict": verdict,
                              "clear": clear,
                              "at_knee": _pick(k_row), "one_below": _pick(b_row)})
            rows.extend(sel)
    return {"trials": trials, "ns": ns, "groups": groups, "knees": knees_out, "rows": rows,
            "cutoff": cutoff}


def _pick(row):
    if row is None:
        return None
    return {k: row.get(k) for k in ("m_acc", "variance_lost", "vl_lo", "vl_hi", "vl_paper",
                                    "vl_adder", "vl_full", "full", "partial", "additions")}


def _verdict(k_row, b_row, limit):
    """(verdict, clear): does the measured variance lost cross the cut-off between
    knee - 1 and knee, as predicted? ``clear``: the intervals agree with the verdict."""
    if k_row is None:
        return "not measured", False
    k_ok = k_row["variance_lost"] <= limit
    b_ok = b_row is not None and b_row["variance_lost"] <= limit
    if k_ok and not b_ok:
        clear = k_row["vl_hi"] <= limit and (b_row is None or b_row["vl_lo"] > limit)
        return "crosses as predicted", clear
    if not k_ok:
        return "needs more bits than predicted", k_row["vl_lo"] > limit
    return "one bit less suffices", b_row["vl_hi"] <= limit


def _prefix_matrix(p, ks):
    """Column j holds p[:ks[j]] followed by zeros: summing the columns gives the result of
    every prefix in one call (an added zero changes neither a sum nor a chunk)."""
    idx = np.arange(p.size)[:, None]
    return np.where(idx < np.asarray(ks)[None, :], p[:, None], 0.0)


def _swamping(cfg, seed):
    from ..accumulate import AccumSpec, sum as fsum
    from ..formats import Format, accumulator, bfloat16, binary16
    from ..quantize import quantize

    # 1. ones
    n1 = cfg["swamp_ones"]
    ks = np.unique(np.round(np.geomspace(1, n1, 240)).astype(np.int64))
    ones = _prefix_matrix(np.ones(n1), ks)
    configs = [("fp16 (e5m10), sequential", AccumSpec(binary16)),
               ("bfloat16 (e8m7), sequential", AccumSpec(bfloat16)),
               (f"fp16, chunks of {_CHUNK}", AccumSpec(binary16, order="chunked", chunk=_CHUNK)),
               (f"bfloat16, chunks of {_CHUNK}", AccumSpec(bfloat16, order="chunked", chunk=_CHUNK))]
    ones_series, ones_rows = [], []
    for label, spec in configs:
        values = fsum(ones, spec, axis=0)
        final, st = fsum(np.ones(n1), spec, stats=True)
        ones_series.append({"label": label, "values": values.tolist()})
        stall = None
        if float(final) < n1:
            stall = float(final)
        ones_rows.append({"config": label, "n": n1, "result": float(final), "exact": float(n1),
                          "stalls_at": stall, "full": st.full, "partial": st.partial,
                          "additions": st.additions})

    # 2. sums of Gaussian products rounded to m_p bits: RMS running error over trials
    n2, trials = cfg["swamp_gauss"], cfg["swamp_trials"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 101]))
    p = quantize(rng.standard_normal((n2, trials)), Format(11, _M_P))
    kg = np.unique(np.round(np.linspace(0, n2, 97)[1:]).astype(np.int64))
    from ..analysis.vrr import min_macc
    knee = int(min_macc(n2, m_p=_M_P, cutoff=_CUTOFF))
    narrow = max(knee - 3, 2)
    gconfigs = [(f"m_acc = {narrow}, sequential", AccumSpec(accumulator(narrow, _EXP_BITS))),
                (f"m_acc = {narrow}, chunks of {_CHUNK}",
                 AccumSpec(accumulator(narrow, _EXP_BITS), order="chunked", chunk=_CHUNK)),
                (f"m_acc = {knee} (predicted knee), sequential",
                 AccumSpec(accumulator(knee, _EXP_BITS)))]
    exact_spec = AccumSpec("binary64", order="exact")
    sq = np.zeros((len(gconfigs), kg.size))
    for t in range(trials):      # one trial at a time keeps the prefix matrix small
        P = _prefix_matrix(p[:, t], kg)
        exact = fsum(P, exact_spec, axis=0)
        for c, (_, spec) in enumerate(gconfigs):
            sq[c] += (fsum(P, spec, axis=0) - exact) ** 2
    rms = np.sqrt(sq / trials)
    gauss_series, gauss_rows = [], []
    for c, (label, spec) in enumerate(gconfigs):
        _, st = fsum(p, spec, axis=0, stats=True)
        gauss_series.append({"label": label, "error": rms[c].tolist()})
        gauss_rows.append({"config": label, "n": n2, "trials": trials,
                           "rms_error": float(rms[c, -1]), "sum_std": math.sqrt(n2),
                           "full_per_sum": st.full / trials, "partial_per_sum": st.partial / trials,
                           "additions_per_sum": st.additions / trials})
    return {"ones": {"k": ks.tolist(), "series": ones_series, "rows": ones_rows},
            "gauss": {"k": kg.tolist(), "series": gauss_series, "rows": gauss_rows,
                      "knee": knee, "narrow": narrow,
                      "title": f"Sums of {n2} Gaussian products (m_p = {_M_P}) in "
                               f"(1,{_EXP_BITS},m_acc)\naccumulators: RMS error over {trials} sums"}}


# ---------------------------------------------------------------- figures

#: The accumulators of section 5: fast and promoted FP8 on Hopper, and an IEEE adder.
_TENSOR_CORE_SPECS = (("hopper-fp8-fast", "hopper-fp8-fast"), ("hopper-fp8", "hopper-fp8"),
                      ("binary32, sequential rne", None))


def _tensor_cores(cfg, seed):
    """Relative error against K of positive e4m3 dot products (fpsim.analysis.hardware)."""
    from ..accumulate import AccumSpec
    from ..analysis.hardware import error_vs_k
    from ..hardware import preset
    specs = {label: preset(name) if name else AccumSpec("fp32") for label, name in _TENSOR_CORE_SPECS}
    rows = error_vs_k(specs, cfg["hw_Ks"], trials=cfg["hw_trials"], seed=seed)
    return {"Ks": list(cfg["hw_Ks"]), "trials": cfg["hw_trials"], "operand": "e4m3fn",
            "series": [{"label": label,
                        "median": [r["median_relative_error"] for r in rows if r["name"] == label],
                        "max": [r["max_relative_error"] for r in rows if r["name"] == label]}
                       for label in specs]}


def _figures(data, fig_dir, cutoff):
    from . import plots
    os.makedirs(fig_dir, exist_ok=True)
    out = {}
    pred = data["predictions"]
    out["predicted"] = plots.predicted_precision(
        pred["curve"], pred["points"], os.path.join(fig_dir, "predicted.png"), cutoff=cutoff,
        chunk=_CHUNK, m_p=_M_P)
    f2 = data["figure2"]
    panels = []
    for chunk in (None, _CHUNK):
        series = []
        for s in f2["series"]:
            if s["chunk"] != chunk:
                continue
            series.append({"m_acc": s["m_acc"], "curve_n": s["curve_n"], "curve_vl": s["curve_adder"],
                           "curve_alt": s["curve_paper"],
                           "n": s["n"], "vl": s["variance_lost"], "lo": s["vl_lo"], "hi": s["vl_hi"]})
        panels.append({"title": _chunk_label(chunk), "series": series})
    out["figure2"] = plots.variance_lost_panels(
        panels, os.path.join(fig_dir, "figure2.png"), cutoff=cutoff,
        title=f"Figure 2: variance lost against n (Gaussian products, m_p = {_M_P}, "
              f"{f2['trials']} trials per point)",
        curve_label="adder model (fpsim)", alt_label="paper model (full + partial)")
    out["knee_check"] = plots.knee_check(data["knee_check"]["groups"],
                                         os.path.join(fig_dir, "knee_check.png"), cutoff=cutoff,
                                         model_label="adder model")
    sw = data["swamping"]
    out["swamping"] = plots.swamping(sw["ones"], sw["gauss"], os.path.join(fig_dir, "swamping.png"))
    tc = data["tensor_cores"]
    out["tensor_cores"] = plots.error_against_k(tc["Ks"], tc["series"],
                                                os.path.join(fig_dir, "tensor_cores.png"))
    return out


# ---------------------------------------------------------------- text

_SHORT_VERDICT = {"crosses as predicted": "as predicted",
                  "needs more bits than predicted": "needs more bits",
                  "one bit less suffices": "one bit fewer is enough", "not measured": "-"}


def _wrap(text, width=92, indent=""):
    import textwrap
    return textwrap.wrap(text, width=width, subsequent_indent=indent)


def _summary_text(data, md_path, seconds):
    """The terminal digest: fits one screen (about 30 lines of at most ~92 characters)."""
    lines = []
    mode = data["settings"]["mode"]
    lines.append(f"fpsim report ({mode} mode, seed {data['settings']['seed']}) in "
                 f"{seconds:.0f} s: {md_path}")
    lines.append("")
    lines += _wrap(f"Predicted accumulator mantissa m_acc, largest over each network's layers, "
                   f"single sum / chunks of {_CHUNK} (m_p = {_M_P}, cut-off {_CUTOFF:g}):")
    by = {(r["network"], r["gemm"]): r for r in data["predictions"]["summary"]}
    nets = list(dict.fromkeys(r["network"] for r in data["predictions"]["summary"]))
    rows = [[net] + [f"{by[(net, g)]['m_acc']} / {by[(net, g)]['m_acc_chunked']}"
                     for g in ("FWD", "BWD", "GRAD")] for net in nets]
    lines += ["  " + l for l in render_table(["network", "FWD", "BWD", "GRAD"], rows).splitlines()]
    lines.append("")
    f2 = data["figure2"]

    def agree(key):
        return "; ".join(f"{k} {v['median']:.2f} ({v['min']:.2f} to {v['max']:.2f}, "
                         f"{v['points']} points)" for k, v in f2[key].items()) \
            or "no point resolved at this number of trials"
    lines += _wrap(f"Figure 2: {len(f2['rows'])} measured points, {f2['trials']} trials each. "
                   "Measured / modelled variance lost, median over the resolved points: "
                   f"adder model {agree('agreement_adder')}; paper model {agree('agreement')}.")
    lines.append("")
    kc = data["knee_check"]
    lines += _wrap(f"Knee check, {kc['trials']} trials: measured variance lost (VL) at the "
                   f"m_acc the adder model predicts and one bit below; cut-off ln {_CUTOFF:g} = "
                   f"{math.log(_CUTOFF):.2f}; '?' = an interval straddles the cut-off:")
    krows = []
    for k in kc["knees"]:
        a, b = k["at_knee"], k["one_below"]
        krows.append([k["n"], "single" if k["chunk"] is None else f"chunk {k['chunk']}",
                      k["predicted"], _g(a["variance_lost"]) if a else "-",
                      _g(b["variance_lost"]) if b else "-", _g(k["measured"]),
                      _SHORT_VERDICT[k["verdict"]] + ("" if k["clear"] else " ?")])
    table = render_table(["n", "order", "predicted", "VL there", "VL 1 below", "measured knee",
                         "verdict"], krows)
    lines += ["  " + l for l in table.splitlines()]
    lines.append("")
    sw = data["swamping"]
    stalls = ", ".join(f"{r['config'].split(' (')[0]} stalls at {_g(r['stalls_at'])}"
                       for r in sw["ones"]["rows"] if r["stalls_at"] is not None)
    chunked = any(r["result"] == r["exact"] for r in sw["ones"]["rows"] if "chunks" in r["config"])
    lines += _wrap(f"Swamping: summing {sw['ones']['rows'][0]['n']} ones sequentially, {stalls}"
                   + (f"; with chunks of {_CHUNK} both are exact." if chunked else "."))
    tc = data["tensor_cores"]
    K = tc["Ks"][-1]
    lines.append("")
    lines += _wrap(f"Tensor cores (positive e4m3 operands, K = {K}): median relative error "
                   + ", ".join(f"{s['label']} {_g(s['median'][-1])}" for s in tc["series"]) + ".")
    lines.append("")
    names = [os.path.basename(p) for p in data["figures"].values()]
    lines.append(f"Figures in {os.path.join(os.path.dirname(md_path), 'figures')}: "
                 + ", ".join(names))
    return "\n".join(lines)


def _markdown(data, seconds):
    s = data["settings"]
    env = data["environment"]
    cut = s["cutoff"]
    L = math.log(cut)
    out = []
    w = out.append
    w("# fpsim report: accumulator precision for low-precision training\n")
    w(f"Generated {s['date']} by fpsim {env['fpsim']} in **{s['mode']}** mode (seed {s['seed']}) "
      f"in {seconds:.0f} s on {env['cpus']} CPUs ({env['system']} {env['machine']}, Python "
      f"{env['python']}, NumPy {env['numpy']}, Numba {env['numba']}). Reproduce with "
      f"`fpsim report{' --quick' if s['mode'] == 'quick' else ''}"
      f"{' --train' if 'train' in data else ''} --seed {s['seed']}`; "
      "every number below is in `report.json`.\n")
    w("The question: how many mantissa bits m_acc does the accumulator of a dot product need "
      "so that rounding (swamping) does not destroy the information in long sums? The answer "
      "follows the variance retention ratio (VRR) analysis of Sakr et al., *Accumulation "
      "Bit-Width Scaling For Ultra-Low Precision Training Of Deep Networks*, ICLR 2019 "
      "(arXiv:1901.06588), as reconstructed in `docs/theory.md`: the variance lost "
      "n(1 − VRR), in units of one product's variance, must stay below "
      f"ln {cut:g} = {L:.2f} (exp(variance lost) ≤ {cut:g}). Throughout: products of two "
      f"(1,5,2) FP8 operands, i.e. m_p = {_M_P} mantissa bits, accumulators (1,{_EXP_BITS},m_acc) "
      "with round-to-nearest-even adders, and chunk-based accumulation in chunks of "
      f"{_CHUNK}.\n")

    # summary
    w("## Summary\n")
    w("```\n" + data["summary_core"] + "\n```\n")

    # 1
    pred = data["predictions"]
    w("## 1. Predicted accumulator precision of the built-in networks\n")
    w("Smallest m_acc meeting the cut-off for the three GEMMs of training (FWD: n = C_in·k_h·k_w, "
      "BWD: n = C_out·k_h·k_w, GRAD: n = batch·H_out·W_out; for fully connected layers fan-in, "
      "fan-out, batch), largest over each network's layers, for a single sequential sum and "
      f"for chunks of {_CHUNK}. Model \"paper\" (full + partial swamping), m_p = {_M_P}, "
      "dense products (NZR = 1).\n")
    rows = [[r["network"], r["batch"], r["gemm"],
             f"{r['n_min']:,}" if r["n_min"] == r["n_max"] else f"{r['n_min']:,} – {r['n_max']:,}",
             r["m_acc"], r["m_acc_chunked"]] for r in pred["summary"]]
    w(_md_table(["network", "batch", "GEMM", "n", "m_acc, single sum", f"m_acc, chunks of {_CHUNK}"],
                rows, ["l", "r", "l", "r", "r", "r"]) + "\n")
    w("![Predicted m_acc against n](figures/predicted.png)\n")
    w("*The precision rule as a function of the accumulation length (solid: single sum, "
      f"dashed: chunks of {_CHUNK}); markers are the GEMMs of the built-in networks. Chunking "
      "saves about 3 bits for long sums; the GRAD GEMMs (n up to millions) set the "
      "requirement.*\n")
    for net, text in pred["text_tables"].items():
        w(f"<details><summary>Per-layer table: {net}</summary>\n\n```\n{text}\n```\n</details>\n")

    # 2
    f2 = data["figure2"]
    w("## 2. Figure 2: variance lost against accumulation length\n")
    w(f"Solid lines: fpsim's adder model (`docs/theory.md`, \"The adder model\"); dashed: "
      f"the paper model (full + partial swamping). Points: measured with "
      f"the bit-accurate simulator, {f2['trials']} trials per point (Gaussian products rounded "
      f"to m_p = {_M_P}, exact reference sum of the same products, paired variance ratio, 95% "
      "intervals by the delta method; `fpsim.sweep`). A curve crossing the dashed cut-off "
      "marks the length at which that m_acc stops being enough: the knee.\n")
    w("![Figure 2](figures/figure2.png)\n")
    if f2["agreement"] or f2.get("agreement_adder"):
        w("Measured / modelled variance lost over the *resolved* points (95% interval above "
          "0 and no wider than ±50% of the estimate):\n")
        w(_md_table(["model", "order", "points", "median ratio", "range"],
                    [[name, k, v["points"], f"{v['median']:.2f}", f"{v['min']:.2f} – {v['max']:.2f}"]
                     for name, key in (("adder", "agreement_adder"), ("paper", "agreement"))
                     for k, v in f2.get(key, {}).items()]) + "\n")
        w("A ratio above 1 means the simulated round-to-nearest adder loses more than the "
          "model books; `docs/theory.md` (\"Where the model is weak\") explains why (bias "
          "toward zero at binade boundaries).\n")
    w("Points at small losses scatter widely and can be negative (drawn as triangles on the "
      "floor): the Monte Carlo resolution of n(1 − VRR) is roughly 2·sqrt(n·Var(e)/T), with e "
      "the accumulated rounding error, so a loss of 1 at n in the thousands needs 10^4–10^5 "
      "trials.\n")

    # 3
    kc = data["knee_check"]
    w("## 3. Measured check at each predicted knee\n")
    w(f"For the FWD/BWD lengths of the networks, the variance lost measured at the m_acc "
      f"predicted by the adder model and one bit below ({kc['trials']} trials per point, every m_acc on the same "
      f"products). The prediction holds if the measured loss is at most ln {cut:g} = {L:.2f} at "
      "the predicted m_acc and above it one bit below. *Measured knee*: the smallest m_acc of "
      "the sweep from which every measured loss meets the cut-off; in brackets the same rule "
      "on the intervals' upper ends (conservative) and lower ends (optimistic).\n")
    rows = []
    for k in kc["knees"]:
        a, b = k["at_knee"], k["one_below"]
        rows.append([k["n"], _chunk_label(k["chunk"]), k["predicted"],
                     _ci(a["variance_lost"], a["vl_lo"], a["vl_hi"]) + f" (adder {_g(a['vl_adder'])}, paper {_g(a['vl_paper'])})" if a else "–",
                     _ci(b["variance_lost"], b["vl_lo"], b["vl_hi"]) + f" (adder {_g(b['vl_adder'])}, paper {_g(b['vl_paper'])})" if b else "–",
                     f"{_g(k['measured'])} [{_g(k['measured_conservative'])}, {_g(k['measured_optimistic'])}]",
                     k["verdict"] + ("" if k["clear"] else " (within noise)")])
    w(_md_table(["n", "order", "predicted m_acc", "variance lost at it [95% CI]",
                 "one bit below [95% CI]", "measured knee [cons., opt.]", "verdict"], rows,
                ["r", "l", "r", "r", "r", "r", "l"]) + "\n")
    w("![Knee check](figures/knee_check.png)\n")
    w("*Measured variance lost (points, 95% intervals; green: meets the cut-off, red: does "
      "not) and the adder model's value (grey line) against m_acc; the dotted blue line is the "
      "knee it predicts.*\n")
    verdicts = [k["verdict"] for k in kc["knees"]]
    counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
    clear = sum(k["clear"] for k in kc["knees"])
    w(f"Of {len(verdicts)} cases: " + ", ".join(f"{c} {v}" for v, c in counts.items())
      + f". {clear} of these verdicts are outside the noise (both intervals on the verdict's "
      "side of the cut-off); the others rest on point estimates whose intervals straddle it. "
      "More trials (`fpsim report --trials N`, or `fpsim measure`) narrow the intervals like "
      "1/sqrt(N). Known gap (`docs/theory.md`, \"Agreement, measured\"): the adder "
      "model's knee is the measured one in 124 of 140 validated cases; where it misses, it "
      "misses by a bit (for single round-to-nearest sums it can book up to about half the "
      "measured loss near the knee).\n")

    # 4
    sw = data["swamping"]
    w("## 4. Swamping in pictures\n")
    w("Left: adding ones one at a time. Once the ulp of the running sum is 2 (at 2^(m+1) for "
      "m mantissa bits), each 1 is exactly half an ulp and the tie rounds to the even neighbour, "
      "which is the sum itself: full swamping, and the sum stalls for good. Summing chunks of "
      f"{_CHUNK} first keeps every addend large enough. Right: the root-mean-square error of "
      "the running sum of Gaussian products, for an accumulator three bits below the "
      "predicted knee, the same accumulator with chunks, and the predicted knee.\n")
    w("![Swamping](figures/swamping.png)\n")
    rows = [[r["config"], r["n"], _g(r["result"], 6), _g(r["exact"], 6), r["full"], r["partial"]]
            for r in sw["ones"]["rows"]]
    w(_md_table(["summing ones", "n", "result", "exact", "full swamping", "partial swamping"],
                rows) + "\n")
    g = sw["gauss"]["rows"]
    rows = [[r["config"], _g(r["rms_error"]), _g(r["full_per_sum"]), _g(r["partial_per_sum"])]
            for r in g]
    w(_md_table([f"{g[0]['n']} Gaussian products ({g[0]['trials']} sums)",
                 "RMS error at the end (σ of a product)", "full swamping per sum",
                 "partial swamping per sum"], rows) + "\n")
    w(f"For scale: the exact sum's standard deviation is {_g(g[0]['sum_std'])}. *Full "
      "swamping*: s + p rounded back to s (the addend vanished); *partial*: the addend "
      "survived but lost low bits. The chunked accumulator makes a few more additions (the "
      "chunk sums) but swamps far less.\n")

    # 5
    tc = data["tensor_cores"]
    w("## 5. Tensor cores: swamping on real silicon\n")
    w(f"Median relative error of {tc['trials']} dot products of positive e4m3 operands "
      "(uniform on (0, 1), no cancellation, so only swamping and truncation cost accuracy) "
      "against their length K, through fpsim's models of two NVIDIA Hopper FP8 paths "
      "(`fpsim.hardware`, reproduced bit for bit on H200 captures: `docs/hardware.md`) and an "
      "IEEE binary32 adder. `hopper-fp8-fast` (`use_fast_accum=True`) chains blocks of 32 "
      "products into an accumulator of 13 fraction bits with truncation: its error grows with "
      "K. `hopper-fp8` adds every 128 products into binary32 (promotion): its error stays at "
      "the level of one block's truncation. (The library may split K itself, e.g. parts of "
      "2,816 at K = 16,384 for the captured shape; this chart uses no split.)\n")
    w("![Tensor cores](figures/tensor_cores.png)\n")
    rows = [[K] + [_g(s["median"][i]) for s in tc["series"]] for i, K in enumerate(tc["Ks"])]
    w(_md_table(["K"] + [s["label"] for s in tc["series"]], rows) + "\n")

    if "train" in data:
        from .train import markdown as _train_markdown
        w(_train_markdown(data["train"], heading="## 6.") + "\n")
        w(f"Reproduce this section alone with `fpsim train{' --quick' if s['mode'] == 'quick' else ''}`.\n")

    # 5
    w("## How this was computed, and how to trust it\n")
    w("- Every accumulation runs through fpsim's bit-accurate MAC engine (`fpsim.sum`, "
      "`fpsim.dot`): one rounding per addition, exactly as `docs/semantics.md` defines, "
      "tested bit for bit against an exact rational reference (`tests/reference`), MPFR, "
      "NumPy's float16 and ml_dtypes.\n"
      "- The analytical values come from `fpsim.vrr` (models, numerics and their tests: "
      "`docs/theory.md`); the measured ones from `fpsim.sweep` (estimator and intervals: "
      "`fpsim/analysis/estimator.py`).\n"
      "- Known limits: the model assumes round-to-nearest adders, zero-mean iid products and "
      "enough exponent range; the cut-off (50) is remembered from the paper and is a "
      "parameter (`fpsim predict --cutoff`).\n")
    w("Files: `report.md` (this page), `report.json` (all data), `figures/*.png`.\n")
    return "\n".join(out)


# ---------------------------------------------------------------- entry point

def _precompile(mode):
    """Run the last two stages (the swamping illustration, the tensor cores) on the fewest
    trials, for the kernels they compile: run in a second process by :func:`generate`, it
    fills Numba's cache while the first process compiles and runs Figure 2 and the knee
    check, so that on a fresh machine the two cores compile at once (the two halves take
    about as long). Its results are thrown away; the kernels are the same, since a
    kernel's variant depends on the accumulator and the array types, not on the sizes."""
    cfg = dict(SETTINGS[mode], swamp_trials=1, hw_trials=1)
    _swamping(cfg, 0)
    _tensor_cores(cfg, 0)


def _start_precompile(mode):
    """The :func:`_precompile` process, on one Numba thread, silent; None where it cannot
    start (then every kernel compiles in this process, as it would anyway)."""
    code = f"from fpsim.app.report import _precompile; _precompile({mode!r})"
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    try:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None


def _stop(proc):
    """End the precompile process if it still runs (the report is done or interrupted)."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:        # stuck: kill it, never leave it behind
            proc.kill()
            proc.wait()


def generate(out="report", *, quick=False, seed=0, progress=True, trials=None,
             cutoff=_CUTOFF, train=False, executor=None, precompile=True) -> ReportResult:
    """Compute the report and write ``report.md``, ``report.json`` and ``figures/`` into
    ``out``.

    Parameters
    ----------
    out : str or path
        Output directory (created if needed; existing report files are overwritten).
    quick : bool
        Fewer trials and points (CI); every section and figure is still made.
    seed : int
        Seed of every random draw.
    progress : bool or callable
        True: a progress bar on stderr when it is a terminal; False: none; a callable
        ``progress(done, total)`` receives the overall progress.
    trials : int, optional
        Trials per Monte Carlo point for both the Figure 2 grid and the knee check
        (default: the mode's, see :data:`SETTINGS`).
    cutoff : float
        The knee rule's cut-off on exp(variance lost).
    train : bool
        Add the training experiment (:mod:`fpsim.app.train`, its quick settings with
        ``quick``): needs PyTorch and scikit-learn (the ``[train]`` extra).
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Where the Monte Carlo tasks of Figure 2 and the knee check run (see
        :func:`fpsim.analysis.tasks.run_tasks`); None: in this process.
    precompile : bool
        Compile the kernels of the last two stages in a second process meanwhile
        (:func:`_precompile`): on a fresh machine, where compiling is most of the time,
        both cores compile. The numbers do not depend on it.

    Returns
    -------
    ReportResult
    """
    from .progress import Progress, Stages
    seed = check_seed(seed)
    trials = None if trials is None else check_trials(trials)
    out = os.fspath(out)
    mode = "quick" if quick else "full"
    cfg = SETTINGS[mode]
    start = time.perf_counter()
    if os.path.exists(out) and not os.path.isdir(out):
        raise OSError(f"cannot write the report into {out!r}: it exists and is not a directory")
    os.makedirs(out, exist_ok=True)
    fig_dir = os.path.join(out, "figures")

    if callable(progress):
        bar, outer = None, progress
    else:
        bar = Progress("report", enabled=None if progress else False)
        outer = bar
    weights = dict(_WEIGHTS[mode], **({"training": 60 if mode == "full" else 4} if train else {}))
    stages = Stages(outer, weights)
    warming = _start_precompile(mode) if precompile else None
    try:
        data = {"settings": {"mode": mode, "seed": int(seed), "cutoff": float(cutoff),
                             "chunk": _CHUNK, "m_p": _M_P, "exp_bits": _EXP_BITS,
                             "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
                             **cfg, "fig2_trials": trials or cfg["fig2_trials"],
                             "knee_trials": trials or cfg["knee_trials"]},
                "environment": _environment()}
        timings = {}

        t = time.perf_counter()
        cb = stages.stage("predictions")
        pred = _predictions(cutoff)
        cb(1, 1)
        timings["predictions"] = time.perf_counter() - t

        t = time.perf_counter()
        fig2 = _figure2(cfg, trials or cfg["fig2_trials"], seed, cutoff, stages.stage("figure 2"),
                        executor)
        timings["figure 2"] = time.perf_counter() - t

        t = time.perf_counter()
        knee = _knee_check(cfg, trials or cfg["knee_trials"], seed, cutoff,
                           stages.stage("knee check"), executor)
        timings["knee check"] = time.perf_counter() - t

        t = time.perf_counter()
        cb = stages.stage("swamping")
        swamp = _swamping(cfg, seed)
        cb(1, 1)
        timings["swamping"] = time.perf_counter() - t

        t = time.perf_counter()
        cb = stages.stage("tensor cores")
        tensor_cores = _tensor_cores(cfg, seed)
        cb(1, 1)
        timings["tensor cores"] = time.perf_counter() - t

        data["predictions"] = {
            "summary": pred["summary"], "points": pred["points"], "curve": pred["curve"],
            "tables": {net: json.loads(t.to_json()) for net, t in pred["tables"].items()},
            "text_tables": {net: str(t) for net, t in pred["tables"].items()}}
        data["figure2"] = fig2
        data["knee_check"] = knee
        data["swamping"] = swamp
        data["tensor_cores"] = tensor_cores

        t = time.perf_counter()
        cb = stages.stage("figures")
        data["figures"] = _figures(data, fig_dir, cutoff)
        cb(1, 1)
        timings["figures"] = time.perf_counter() - t

        if train:
            from . import train as _train
            t = time.perf_counter()
            data["train"] = _train.run(mode, progress=stages.stage("training"))
            data["figures"]["training"] = _train.figure(data["train"],
                                                        os.path.join(fig_dir, "training.png"))
            timings["training"] = time.perf_counter() - t
    finally:
        _stop(warming)
        if bar is not None:
            bar.close()

    seconds = time.perf_counter() - start
    data["timings"] = {k: round(v, 2) for k, v in timings.items()}
    data["seconds"] = round(seconds, 2)
    md_path = os.path.join(out, "report.md")
    json_path = os.path.join(out, "report.json")
    core = _summary_text(data, md_path, seconds)
    # the Markdown's summary block: the terminal digest without its first and last lines
    data["summary_core"] = "\n".join(core.splitlines()[2:-2])
    with open(md_path, "w", encoding="utf-8") as fh:
        fh.write(_markdown(data, seconds))
    with open(json_path, "w", encoding="utf-8") as fh:
        fh.write(to_json(data))
    return ReportResult(out_dir=out, markdown=md_path, json=json_path,
                        figures=list(data["figures"].values()), seconds=seconds, summary=core,
                        data=data)
