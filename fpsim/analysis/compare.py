"""The measured-against-analytical comparison of docs/measured-vrr.md, and the calibration
of the "paper" model's error band (``fpsim compare``, ``fpsim calibrate``)."""
from __future__ import annotations

from .._args import check_callback, check_seed, check_trials
from ..rounding import as_rounding
from ..text import table as render_table
from .draws import DISTRIBUTIONS, model_m_p
from .estimator import n_eff
from .sweep import SweepTable, analytic, sweep

__all__ = ["COMPARISON_NS", "COMPARISON_M_ACCS", "comparison_grid", "comparison_markdown",
           "paper_regime", "CALIBRATION", "calibration"]

#: The grid of docs/measured-vrr.md (the design notes' "known numbers").
COMPARISON_NS = (576, 1152, 2304, 4608)
COMPARISON_M_ACCS = tuple(range(4, 11))


def comparison_grid(*, trials=20000, m_p=5, seed=0, progress=None) -> SweepTable:
    """The measured-vs-analytical grid of docs/measured-vrr.md: n = 576..4608, m_acc = 4..10,
    single sum and chunks of 64, round-to-nearest (rne) and truncating (rtz) adders."""
    return sweep(COMPARISON_NS, COMPARISON_M_ACCS, chunks=(None, 64), roundings=("rne", "rtz"),
                 trials=trials, m_p=m_p, seed=seed, progress=progress)


def comparison_markdown(table: SweepTable, cutoff=50) -> str:
    """Markdown tables (variance lost, measured [interval] vs "paper" and "full" models; the
    knees) of a :func:`comparison_grid` table."""
    def cell(r):
        return f"{r['variance_lost']:.3g} [{r['vl_lo']:.3g}, {r['vl_hi']:.3g}]"

    p = table.params
    out = [f"Measured with T = {p['trials']} trials, m_p = {p['m_p']}, seed = {p['seed']}, "
           f"{round(100 * p['ci'])}% intervals; accumulators (1,{p['exp_bits']},m_acc).", ""]
    by = {(r["rounding"], r["chunk"], r["n"], r["m_acc"]): r for r in table.rows}
    chunks = p["chunks"]
    for rounding in p["roundings"]:
        for chunk in chunks:
            label = "single sum" if chunk is None else f"chunks of {chunk}"
            out.append(f"**{rounding}, {label}**: variance lost n(1-VRR), measured [95% CI] / "
                       "paper model / full-swamping model / measured / paper")
            out.append("")
            rows = []
            for n in p["ns"]:
                for m in p["m_accs"]:
                    r = by[(rounding, chunk, n, m)]
                    ratio = r["variance_lost"] / r["vl_paper"] if r["vl_paper"] > 0 else float("nan")
                    rows.append([n, m, cell(r), f"{r['vl_paper']:.3g}", f"{r['vl_full']:.3g}",
                                 f"{ratio:.3g}"])
            out.append(render_table(["n", "m_acc", "measured", "paper", "full", "meas/paper"], rows,
                             markdown=True))
            out.append("")
    out.append(f"**Knees** (smallest m_acc with variance lost <= ln {cutoff:g}), as (single sum, "
               f"chunks of {chunks[-1]}); measured (conservative knee from the intervals' tops in "
               "brackets) / paper model:")
    out.append("")
    knees = {(k["rounding"], k["chunk"], k["n"]): k for k in table.knee(cutoff)}

    def show(v):
        return "-" if v is None else str(v)
    rows = []
    for n in p["ns"]:
        cells = [n]
        for rounding in p["roundings"]:
            ks = [knees[(rounding, c, n)] for c in chunks]
            cells.append("(" + ",".join(show(k["knee"]) for k in ks) + ") [("
                         + ",".join(show(k["knee_hi"]) for k in ks) + ")]")
            cells.append("(" + ",".join(str(k["min_macc"]) for k in ks) + ")")
        rows.append(cells)
    headers = ["n"] + [f"{r} {what}" for r in p["roundings"] for what in ("measured", "paper")]
    out.append(render_table(headers, rows, markdown=True))
    return "\n".join(out) + "\n"


def paper_regime(n, m_acc, *, m_p, chunk=None, rounding="rne", exp_bits=6, nzr=1.0):
    """Whether (n, m_acc, m_p, chunk, rounding) lies in the regime where the "paper" model's
    assumptions hold well enough for docs/measured-vrr.md's calibrated error band:
    a round-to-nearest adder (``rne``/``rna``), products with m_p >= 5 fractional bits
    (None: float64 products, m_p = 52), the paper's 6 (or more) accumulator exponent bits,
    a model loss 0.5 <= variance_lost and 1 - VRR <= 2% (partial sums still close to
    N(0, i)), and n <= 2^16 (the calibrated lengths)."""
    rounding = str(as_rounding(rounding, "rounding"))
    m_p = model_m_p(m_p)
    if rounding not in ("rne", "rna") or m_p < 5 or exp_bits < 6 or n > 2 ** 16:
        return False
    vl = analytic(n, m_acc, chunk, m_p, nzr, "paper")
    return 0.5 <= vl <= 0.02 * n_eff(n, nzr)


#: The calibration grid of docs/measured-vrr.md (``fpsim calibrate``).
CALIBRATION = {"ns": (64, 128, 256, 512, 1024), "m_accs": tuple(range(3, 10)),
               "chunks": (None, 64), "trials": 100_000, "seed": 2019}


def calibration(*, trials=CALIBRATION["trials"], seed=CALIBRATION["seed"], progress=None):
    """Measured / "paper" variance lost on the calibration grid, in :func:`paper_regime`:
    every distribution with m_p = 5, Gaussian products with m_p = 10 and unrounded.
    Returns (rows, band): rows with the ratio and its interval, band = (lowest interval
    bottom, highest interval top) over the rows."""
    trials = check_trials(trials)
    seed = check_seed(seed)
    progress = check_callback(progress)
    g = CALIBRATION
    runs = [(5, DISTRIBUTIONS), (10, ("gaussian",)), (None, ("gaussian",))]
    total = sum(len(g["ns"]) * len(g["m_accs"]) * len(g["chunks"]) * len(d) for _, d in runs)
    done = 0

    def step(d, t):
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)
    rows = []
    for m_p, dists in runs:
        sweep_table = sweep(g["ns"], g["m_accs"], chunks=g["chunks"], dists=dists, trials=trials,
                            m_p=m_p, seed=seed, progress=step)
        for r in sweep_table.rows:
            if paper_regime(r["n"], r["m_acc"], m_p=m_p, chunk=r["chunk"]):
                v = r["vl_paper"]
                rows.append(dict(r, m_p=m_p, ratio=r["variance_lost"] / v,
                                 ratio_lo=r["vl_lo"] / v, ratio_hi=r["vl_hi"] / v))
    band = (min(r["ratio_lo"] for r in rows), max(r["ratio_hi"] for r in rows))
    return rows, band
