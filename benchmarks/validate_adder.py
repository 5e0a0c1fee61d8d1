"""Validation grid of the adder model (fpsim.analysis.adder) against Monte Carlo.

Two steps, so that the slow one runs once in the background:

``python benchmarks/validate_adder.py measure [--out FILE] [--only NAME ...]``
    runs the measurement sweeps below with :func:`fpsim.sweep` (bit-accurate engine,
    ``stats=False``) and writes every row to a JSON file (default
    ``benchmarks/validate_adder.json``), one sweep at a time, so an interrupted run keeps
    what it finished. Each sweep draws its products once and continues the sums from one n
    to the next, so a sweep costs one pass over its largest n per configuration.

``python benchmarks/validate_adder.py compare [--in FILE] [--markdown] [--roundings R ...]``
    (the measurement behind docs/theory.md is committed as
    ``benchmarks/validate_adder.json.gz``: ``--in benchmarks/validate_adder.json.gz``)
    evaluates the adder model and the paper model on every measured cell and prints the
    agreement summary: the ratio measured / model where the measurement resolves the loss,
    the worst cells, the knees.

The sweeps (trials chosen per sweep so that n * trials stays bounded; the estimator's
interval says which cells resolve the loss):

=========  ===========================================================================
core       Gaussian products, m_p = 5; n = 64 ... 4096; m_acc 3..14; single sums and
           chunks of 16/64/256; all six rounding modes; T = 20,000
long       the same at n = 16,384 and 65,536, T = 1,000 (only large losses resolve)
dists      uniform, Laplace, Gaussian-product and Gaussian products at m_p = 2, 5, 10;
           n = 64 ... 4096, m_acc 3..12, single sums and chunks of 64; rne, rna, rtz,
           ru, sr; T = 10,000
unrounded  the four distributions unrounded (m_p = None, float64 products: the engine's
           slow path); n = 64 ... 1024; rne, rna, rtz, sr; T = 4,000
sparse     Gaussian m_p = 5 with nzr = 0.5; n = 256 ... 4096; rne, rtz; T = 10,000
=========  ===========================================================================
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
import time

from pathlib import Path

if __package__ in (None, ""):                 # run as a script: the repository root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fpsim

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "validate_adder.json")
MODES = ("rne", "rna", "rtz", "ru", "rd", "sr")


def sweeps():
    """(name, sweep keyword arguments, extra fields) of the grid."""
    out = [("core", dict(ns=[64, 256, 576, 1024, 2304, 4096], m_accs=range(3, 15),
                         chunks=(None, 16, 64, 256), roundings=MODES, dists=("gaussian",),
                         trials=20000, m_p=5, seed=14), {}),
           ("long", dict(ns=[16384, 65536], m_accs=range(3, 15), chunks=(None, 16, 64, 256),
                         roundings=MODES, dists=("gaussian",), trials=1000, m_p=5, seed=15), {})]
    for m_p in (2, 5, 10):
        dists = ("gaussian", "uniform", "laplace", "gaussian_product")
        if m_p == 5:
            dists = dists[1:]                 # Gaussian m_p = 5 is the core sweep
        out.append((f"dists-mp{m_p}", dict(ns=[64, 256, 1024, 4096], m_accs=range(3, 13),
                                             chunks=(None, 64), roundings=("rne", "rna", "rtz", "ru", "sr"),
                                             dists=dists, trials=10000, m_p=m_p, seed=16), {}))
    out.append(("unrounded", dict(ns=[64, 256, 1024], m_accs=range(3, 12), chunks=(None, 64),
                                  roundings=("rne", "rna", "rtz", "sr"),
                                  dists=("gaussian", "uniform", "laplace", "gaussian_product"),
                                  trials=4000, m_p=None, seed=17), {}))
    out.append(("sparse", dict(ns=[256, 1024, 4096], m_accs=range(3, 13), chunks=(None, 64),
                               roundings=("rne", "rtz"), dists=("gaussian",), trials=10000, m_p=5,
                               nzr=0.5, seed=18), {}))
    return out


def measure(path, only=None):
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    for name, kwargs, extra in sweeps():
        if (only and name not in only) or name in data:
            continue
        t0 = time.perf_counter()
        table = fpsim.sweep(stats=False, **kwargs)
        rows = []
        for r in table.rows:
            row = {k: r[k] for k in ("dist", "rounding", "chunk", "n", "m_acc", "vrr", "vrr_lo",
                                     "vrr_hi", "variance_lost", "vl_lo", "vl_hi")}
            row.update(m_p=kwargs["m_p"], nzr=kwargs.get("nzr", 1.0), trials=kwargs["trials"],
                       seed=kwargs["seed"], **extra)
            rows.append(row)
        data[name] = {"seconds": time.perf_counter() - t0, "rows": rows,
                      "args": {k: (list(v) if isinstance(v, (range, tuple)) else v)
                               for k, v in kwargs.items()}}
        with open(path + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)
        print(f"{name}: {len(rows)} rows in {data[name]['seconds']:.0f} s", flush=True)
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--out", default=DEFAULT)
    m.add_argument("--only", nargs="*")
    c = sub.add_parser("compare")
    c.add_argument("--in", dest="inp", default=DEFAULT)
    c.add_argument("--markdown", action="store_true")
    c.add_argument("--rows", help="also write the rows with the model values (JSON) here")
    c.add_argument("--from-rows", help="read those rows instead of evaluating the models")
    c.add_argument("--roundings", nargs="*", choices=MODES,
                   help="compare only the cells of these roundings (e.g. ru rd)")
    c.add_argument("--cells", help="write the property test's regime cells (JSON) here "
                                   "(tests/data/adder_regime_cells.json)")
    args = ap.parse_args(argv)
    if args.cmd == "measure":
        measure(args.out, args.only)
        return 0
    from benchmarks.compare_adder import compare, model_rows, regime_cells, _progress
    opener = gzip.open if args.inp.endswith(".gz") else open
    with opener(args.inp, "rt") as f:
        data = json.load(f)
    if args.roundings:
        data = {name: dict(block, rows=[r for r in block["rows"] if r["rounding"] in args.roundings])
                for name, block in data.items()}
    if args.from_rows:
        with open(args.from_rows) as f:
            rows = json.load(f)
    else:
        rows = model_rows(data, _progress)
    if args.cells:
        with open(args.cells, "w") as f:
            json.dump({"source": "python benchmarks/validate_adder.py compare --cells FILE",
                       "cells": regime_cells(rows)}, f, indent=0)
    if args.rows:
        with open(args.rows, "w") as f:
            json.dump(rows, f)
    print(compare(data, markdown=args.markdown, rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
