"""Figures of the report and of ``fpsim sweep --plot`` (PNG, matplotlib's Agg canvas).

matplotlib is imported inside the functions, never at ``import fpsim``: it is an optional
dependency (``pip install 'fpsim-vrr[plot]'``). No pyplot and no global backend switch:
every figure is a :class:`matplotlib.figure.Figure` on its own Agg canvas, so the functions
are safe to call from any program, interactive or not.

Each function takes plain data (lists and dicts, see its docstring) and a path, and
returns the path written.
"""
from __future__ import annotations

import math
import os

__all__ = ["variance_lost_panels", "sweep_plot", "predicted_precision", "knee_check",
           "swamping"]

_DPI = 130
# variance lost below this is drawn on the floor of the log axis (with a down-triangle)
_FLOOR = 1e-2


def _figure(width, height):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("plotting needs matplotlib: pip install matplotlib "
                           f"(or pip install -e '.[plot]'); {exc}") from None
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    return path


def _colors(values):
    """One colour per value (viridis, dark = small), as a dict."""
    from matplotlib import colormaps
    cmap = colormaps["viridis"]
    values = sorted(set(values))
    k = max(len(values) - 1, 1)
    return {v: cmap(0.82 * i / k) for i, v in enumerate(values)}


def _log2_axis(ax, lo, hi):
    """Log-2 x axis with ticks at the powers of two in [lo, hi], labelled 2^k."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    ax.set_xscale("log", base=2)
    k0, k1 = math.floor(math.log2(lo)), math.ceil(math.log2(hi))
    step = max(1, (k1 - k0 + 9) // 10)
    ticks = [2.0 ** k for k in range(k0, k1 + 1, step)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"$2^{{{round(math.log2(x))}}}$"))
    ax.set_xlim(lo / 1.25, hi * 1.25)


def _cutoff_line(ax, cutoff, label=True):
    y = math.log(cutoff)
    ax.axhline(y, color="0.25", lw=1.0, ls=(0, (6, 3)), zorder=1,
               label=f"cut-off: variance lost = ln {cutoff:g} = {y:.2f}" if label else None)


def _measured(ax, n, vl, lo, hi, color, marker="o", label=None, floor=_FLOOR, size=5,
              fade=True):
    """Measured points with their intervals on a log y axis. Values <= floor sit on the
    floor as down-triangles; intervals reaching below it end at the floor. With ``fade``,
    points that the measurement does not resolve (interval reaching down to 0) are drawn
    faint, so that the eye follows the resolved ones."""
    import numpy as np
    n, vl, lo, hi = (np.asarray(v, dtype=float) for v in (n, vl, lo, hi))
    shown = np.maximum(vl, floor)
    below = vl <= floor
    lo_c = np.maximum(lo, floor * 0.999)
    hi_c = np.maximum(hi, floor)
    err = np.vstack([np.maximum(shown - lo_c, 0), np.maximum(hi_c - shown, 0)])
    resolved = lo > 0 if fade else np.ones(n.shape, bool)
    for sel, alpha in ((~below & resolved, 1.0), (~below & ~resolved, 0.35)):
        if sel.any():
            ax.errorbar(n[sel], shown[sel], yerr=err[:, sel], fmt=marker, ms=size, color=color,
                        mfc=color, mec="white", mew=0.6, elinewidth=1.0, capsize=2,
                        label=label if alpha == 1.0 else None, zorder=3, alpha=alpha)
    if below.any():
        ax.errorbar(n[below], shown[below], yerr=err[:, below], fmt="v", ms=size, color=color,
                    mfc="white", mec=color, elinewidth=1.0, capsize=2, zorder=3,
                    alpha=0.35 if fade else 1.0)


# ---------------------------------------------------------------- Figure 2 style panels

def variance_lost_panels(panels, path, *, cutoff=50.0, title=None, ylabel=None,
                         curve_label="analytical (full + partial)", alt_label=None):
    """Variance lost against n, one panel per entry of ``panels`` (side by side, shared y).

    ``panels``: list of ``{"title": str, "series": [...]}``; each series is a dict with
    ``m_acc``, optional analytical ``curve_n`` / ``curve_vl`` (drawn as a line, legend
    ``curve_label``) and ``curve_alt`` (a second model on the same n, dashed, legend
    ``alt_label``), optional measured ``n`` / ``vl`` / ``lo`` / ``hi`` (points with
    intervals).
    """
    import numpy as np
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = _figure(4.2 * ncols + 1.6, 4.0 * nrows + 0.6)
    grid = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    axes = list(grid.ravel())
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    axes = axes[:len(panels)]
    m_all = [s["m_acc"] for p in panels for s in p["series"]]
    colors = _colors(m_all)
    n_lo = min(min(s.get("curve_n") or s.get("n")) for p in panels for s in p["series"])
    n_hi = max(max(s.get("curve_n") or s.get("n")) for p in panels for s in p["series"])
    y_hi = 1.0
    for p in panels:
        for s in p["series"]:
            for key in ("hi", "vl"):
                vals = [v for v, n in zip(s.get(key) or [], s.get("n") or []) if np.isfinite(v)]
                if vals:
                    y_hi = max(y_hi, max(vals))
    y_hi = min(y_hi * 2.5, 1e6)
    ms = sorted(colors)
    # measured points of different m_acc at the same n are spread a little along x
    dodge = {m: 2.0 ** (0.07 * (i - (len(ms) - 1) / 2)) for i, m in enumerate(ms)}
    for ax, p in zip(axes, panels):
        for s in sorted(p["series"], key=lambda s: s["m_acc"]):
            c = colors[s["m_acc"]]
            if s.get("curve_n"):
                cn = np.asarray(s["curve_n"], float)
                cv = np.asarray(s["curve_vl"], float)
                keep = cv > _FLOOR / 10
                ax.plot(cn[keep], cv[keep], color=c, lw=1.6, zorder=2,
                        label=f"$m_{{acc}}$ = {s['m_acc']}")
                if s.get("curve_alt") is not None:
                    ca = np.asarray(s["curve_alt"], float)
                    keep = ca > _FLOOR / 10
                    ax.plot(cn[keep], ca[keep], color=c, lw=1.0, ls=(0, (2, 2)), alpha=0.8,
                            zorder=2)
            if s.get("n"):
                _measured(ax, np.asarray(s["n"], float) * dodge[s["m_acc"]], s["vl"], s["lo"],
                          s["hi"], c,
                          label=None if s.get("curve_n") else f"$m_{{acc}}$ = {s['m_acc']}")
        _cutoff_line(ax, cutoff, label=ax is axes[0])
        ax.set_yscale("log")
        ax.set_ylim(_FLOOR * 0.7, y_hi)
        _log2_axis(ax, n_lo, n_hi)
        ax.set_title(p["title"], fontsize=10)
        if ax in grid[-1] or nrows == 1:
            ax.set_xlabel("accumulation length n (products per sum)")
        ax.grid(True, which="major", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    for row in grid:
        row[0].set_ylabel(ylabel or "variance lost  n(1 − VRR)\n(units of one product's variance)")
    # one legend: m_acc colours, then the symbols
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colors[m], lw=1.6, label=f"$m_{{acc}}$ = {m}")
               for m in sorted(colors)]
    handles += [Line2D([], [], color="0.3", lw=1.6, label=curve_label)]
    if alt_label:
        handles += [Line2D([], [], color="0.3", lw=1.0, ls=(0, (2, 2)), label=alt_label)]
    handles += [Line2D([], [], color="0.3", marker="o", ls="none", label="measured, 95% CI"),
                Line2D([], [], color="0.3", marker="o", ls="none", alpha=0.35,
                       label="measured, CI reaches 0"),
                Line2D([], [], color="0.3", marker="v", mfc="white", ls="none", alpha=0.5,
                       label=f"measured ≤ {_FLOOR:g}"),
                Line2D([], [], color="0.25", ls=(0, (6, 3)), label=f"cut-off ln {cutoff:g}")]
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def sweep_plot(rows, path, *, cutoff=50.0, m_p=5, trials=None):
    """``fpsim sweep --plot``: the rows of a :class:`fpsim.SweepTable` as measured
    points, one panel per (chunk, rounding, dist), with the analytical curves of the
    full + partial model on a dense n grid."""
    import numpy as np
    from ..analysis.vrr import variance_lost
    keys = []
    for r in rows:
        k = (r["chunk"], r["rounding"], r["dist"])
        if k not in keys:
            keys.append(k)
    ns = sorted({r["n"] for r in rows})
    grid = np.unique(np.round(np.geomspace(ns[0], ns[-1], 60)).astype(int))
    panels = []
    for chunk, rounding, dist in keys:
        series = []
        sel = [r for r in rows if (r["chunk"], r["rounding"], r["dist"]) == (chunk, rounding, dist)]
        for m in sorted({r["m_acc"] for r in sel}):
            pts = sorted((r for r in sel if r["m_acc"] == m), key=lambda r: r["n"])
            s = {"m_acc": m, "n": [r["n"] for r in pts], "vl": [r["variance_lost"] for r in pts],
                 "lo": [r["vl_lo"] for r in pts], "hi": [r["vl_hi"] for r in pts]}
            if rounding == "rne":   # the model describes round-to-nearest adders only
                g = grid if chunk is None else grid[grid >= chunk]
                if g.size:
                    s["curve_n"] = g.tolist()
                    s["curve_vl"] = np.atleast_1d(variance_lost(
                        g, m, m_p=52 if m_p is None else m_p, chunk=chunk)).tolist()
            series.append(s)
        what = "single sum" if chunk is None else f"chunks of {chunk}"
        extra = "" if (rounding, dist) == ("rne", "gaussian") else f", {rounding} adder, {dist}"
        if rounding != "rne":
            extra += "\n(no model curve: the model assumes rne)"
        panels.append({"title": what + extra, "series": series})
    t = f", {trials} trials per point" if trials else ""
    return variance_lost_panels(panels, path, cutoff=cutoff,
                                title=f"Variance lost: measured vs analytical (m_p = {m_p}{t})")


# ---------------------------------------------------------------- predicted precision

_GEMM_MARKERS = {"FWD": "o", "BWD": "s", "GRAD": "^"}


def predicted_precision(curve, points, path, *, cutoff=50.0, chunk=64, m_p=5):
    """The precision rule m_acc(n) (single sum and chunked) with the GEMMs of the built-in
    networks on it.

    ``curve``: ``{"n": [...], "normal": [...], "chunked": [...]}``; ``points``: dicts with
    ``network``, ``gemm``, ``n``, ``m_acc``, ``m_acc_chunked``.
    """
    from matplotlib.lines import Line2D
    fig = _figure(8.4, 4.6)
    ax = fig.subplots()
    ax.step(curve["n"], curve["normal"], where="post", color="0.15", lw=1.6, zorder=2)
    ax.step(curve["n"], curve["chunked"], where="post", color="0.15", lw=1.4, ls="--", zorder=2)
    nets = []
    for p in points:
        if p["network"] not in nets:
            nets.append(p["network"])
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
    col = {net: palette[i % len(palette)] for i, net in enumerate(nets)}
    # small vertical offsets so that networks sharing an n stay visible
    off = {net: (i - (len(nets) - 1) / 2) * 0.16 for i, net in enumerate(nets)}
    seen = set()
    for p in points:
        key = (p["network"], p["gemm"], p["n"])
        if key in seen:
            continue
        seen.add(key)
        m = _GEMM_MARKERS[p["gemm"]]
        c = col[p["network"]]
        ax.plot(p["n"], p["m_acc"] + off[p["network"]], m, color=c, ms=6, mec="white",
                mew=0.5, zorder=3)
        if p["n"] > chunk:
            ax.plot(p["n"], p["m_acc_chunked"] + off[p["network"]], m, color=c, ms=6, mfc="white",
                    mec=c, mew=1.2, zorder=3)
    ax.set_xscale("log", base=10)
    ax.set_xlabel("accumulation length n (products per sum, log scale)")
    ax.set_ylabel("predicted accumulator mantissa $m_{acc}$ (bits)")
    ax.set_xlim(min(curve["n"]), max(curve["n"]))
    top = max(curve["normal"])
    ax.set_ylim(0, top + 1)
    ax.set_yticks(range(0, top + 2, 2))
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_title(f"Accumulator precision for the training GEMMs (m_p = {m_p}, "
                 f"exp(variance lost) ≤ {cutoff:g})", fontsize=10)
    handles = [Line2D([], [], color="0.15", lw=1.6, label="single sum (filled markers)"),
               Line2D([], [], color="0.15", lw=1.4, ls="--",
                      label=f"chunks of {chunk} (hollow markers)")]
    handles += [Line2D([], [], color=col[n], marker="o", ls="none", label=n) for n in nets]
    handles += [Line2D([], [], color="0.4", marker=m, ls="none", label=g)
                for g, m in _GEMM_MARKERS.items()]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False, ncol=1)
    return _save(fig, path)


# ---------------------------------------------------------------- knee check

def knee_check(groups, path, *, cutoff=50.0, model_label="analytical (full + partial)"):
    """Measured variance lost against m_acc around each predicted knee.

    ``groups``: list of dicts with ``n``, ``chunk``, ``knee`` (predicted m_acc), and lists
    ``m_acc``, ``vl``, ``lo``, ``hi`` (measured), ``model`` (analytical, same m_acc).
    One panel per group: two rows (single sum, chunked), one column per n.
    """
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator
    chunks = []
    for g in groups:
        if g["chunk"] not in chunks:
            chunks.append(g["chunk"])
    ns = sorted({g["n"] for g in groups})
    fig = _figure(2.2 * len(ns) + 1.4, 2.5 * len(chunks) + 0.9)
    axes = fig.subplots(len(chunks), len(ns), sharey=True, squeeze=False)
    y_lo, y_hi = _FLOOR, 1.0
    for g in groups:
        y_hi = max(y_hi, np.nanmax(np.asarray(g["hi"], float)), np.nanmax(np.asarray(g["model"], float)))
    y_hi = min(y_hi * 1.8, 1e4)
    for g in groups:
        ax = axes[chunks.index(g["chunk"])][ns.index(g["n"])]
        m = np.asarray(g["m_acc"])
        ax.plot(m, np.maximum(g["model"], _FLOOR / 10), color="0.45", lw=1.3, zorder=2)
        ok = np.asarray(g["vl"], float) <= math.log(cutoff)
        for sel, color in ((ok, "#2b8a3e"), (~ok, "#c92a2a")):
            if sel.any():
                _measured(ax, m[sel], np.asarray(g["vl"])[sel], np.asarray(g["lo"])[sel],
                          np.asarray(g["hi"])[sel], color)
        ax.axvline(g["knee"], color="#1c7ed6", lw=1.0, ls=":", zorder=1)
        _cutoff_line(ax, cutoff, label=False)
        ax.set_yscale("log")
        ax.set_ylim(y_lo * 0.7, y_hi)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, color="0.92", lw=0.6)
        ax.set_axisbelow(True)
        what = "single sum" if g["chunk"] is None else f"chunks of {g['chunk']}"
        ax.set_title(f"n = {g['n']}, {what}", fontsize=9)
    for row in axes:
        row[0].set_ylabel("variance lost\nn(1 − VRR)")
    for ax in axes[-1]:
        ax.set_xlabel("$m_{acc}$ (bits)")
    handles = [Line2D([], [], color="#2b8a3e", marker="o", ls="none", label="measured, meets cut-off"),
               Line2D([], [], color="#c92a2a", marker="o", ls="none", label="measured, above cut-off"),
               Line2D([], [], color="0.3", marker="o", ls="none", alpha=0.35,
                      label="faint: interval reaches 0"),
               Line2D([], [], color="0.45", lw=1.3, label=model_label),
               Line2D([], [], color="#1c7ed6", ls=":", label="predicted knee $m_{acc}$"),
               Line2D([], [], color="0.25", ls=(0, (6, 3)), label=f"cut-off ln {cutoff:g}")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3,
               fontsize=8, frameon=False)
    fig.suptitle("Measured variance lost around each predicted knee (95% CI)", fontsize=11)
    return _save(fig, path)


# ---------------------------------------------------------------- swamping illustration

def swamping(ones, gauss, path):
    """Two panels: a running sum of ones (``ones``: ``{"k": [...], "series": [{"label",
    "values"}, ...]}``, the exact sum is k) and the RMS error of running sums of Gaussian
    products (``gauss``: ``{"k": [...], "series": [{"label", "error"}, ...], "title"}``)."""
    fig = _figure(10.5, 4.3)
    ax1, ax2 = fig.subplots(1, 2)
    k = ones["k"]
    ax1.plot(k, k, color="0.15", lw=2.2, label="exact", zorder=2)
    styles = ["-", "-", "--", "--", ":"]
    colors = ["#c92a2a", "#e67700", "#1c7ed6", "#2b8a3e", "#862e9c"]
    for i, s in enumerate(ones["series"]):
        ax1.plot(k, s["values"], ls=styles[i % 5], color=colors[i % 5], lw=1.6,
                 label=s["label"], zorder=3)
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log", base=2)
    ax1.set_xlabel("number of ones added, k")
    ax1.set_ylabel("computed sum (log scale)")
    ax1.set_title("Summing ones: the sum stalls once 1 is half an ulp", fontsize=10)
    ax1.legend(fontsize=8, frameon=False, loc="upper left")
    ax1.grid(True, color="0.92", lw=0.6)
    kg = gauss["k"]
    for i, s in enumerate(gauss["series"]):
        ax2.plot(kg, s["error"], color=colors[(i * 2) % 5], lw=1.6, label=s["label"])
    ax2.set_ylim(bottom=0)
    ax2.set_xlim(0, max(kg))
    ax2.set_xlabel("products added, k")
    ax2.set_ylabel("RMS of (computed − exact) running sum\n(units of one product's std. dev.)")
    ax2.set_title(gauss.get("title", "Gaussian products"), fontsize=10, wrap=True)
    ax2.legend(fontsize=8, frameon=False, loc="upper left")
    ax2.grid(True, color="0.92", lw=0.6)
    return _save(fig, path)


def error_against_k(Ks, series, path):
    """Median relative error of dot products against their length K, one line per
    accumulator (``series``: ``[{"label", "median"}, ...]``); log-log, exact sums at the
    floor."""
    fig = _figure(6.4, 4.2)
    ax = fig.subplots()
    floor = 1e-9
    colors = ["#c92a2a", "#1c7ed6", "#2b8a3e", "#862e9c"]
    for i, s in enumerate(series):
        ax.plot(Ks, [max(v, floor) for v in s["median"]], marker="o", ms=3.5, lw=1.6,
                color=colors[i % len(colors)], label=s["label"])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor * 0.5)
    ax.set_xlabel("dot-product length K")
    ax.set_ylabel(f"median relative error (exact: plotted at {floor:g})")
    ax.set_title("Positive e4m3 operands: swamping on a tensor core", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.grid(True, color="0.92", lw=0.6)
    return _save(fig, path)
