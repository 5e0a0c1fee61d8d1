"""Throughput of an emulated training step (fpsim.torch) against plain torch, on the CPU.

Run: ``python benchmarks/bench_torch.py [--batch 64] [--repeat 7] [--threads 1,2]
[--json FILE]``

One step is forward, backward and an SGD update of the ``fpsim train`` network (conv 1->8,
conv 8->16, max pool, fc 256->10, on 8x8 images). Configurations: plain float32 torch, and
every GEMM emulated with (1,5,2) operands and gradients and a binary32 accumulator, an
(1,6,9) accumulator, and (1,6,6) in chunks of 64 (the largest single-sum and chunked m_acc
that fpsim.predict gives this network at batch 64). Each configuration runs two untimed
steps first (warm-up: Numba compilation or cache loading is never timed), then the
configurations take turns ``--repeat`` times (interleaved, so a change of machine load
hits them alike); the table shows the median time per step with the spread (min-max),
the emulated multiply-accumulates per second (every product the GEMMs compute, padding
zeros included) and the ratio to plain torch's median. torch runs on one thread (its
threads and Numba's would compete for the cores); ``--threads`` sets Numba's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numba
import torch
import torch.nn.functional as F

import fpsim
import fpsim.torch as ft
from fpsim.app.train import make_model


def _macs(model, x):
    """Multiply-accumulates of one training step's GEMMs: FWD and GRAD of every layer,
    BWD of every layer but the first (its input needs no gradient)."""
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append((m, i[0].shape, o.shape)))
             for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    total = 0
    for k, (m, ins, outs) in enumerate(shapes):
        if isinstance(m, torch.nn.Conv2d):
            kk = m.kernel_size[0] * m.kernel_size[1]
            fwd = outs.numel() * m.in_channels // m.groups * kk
            bwd = ins.numel() * m.out_channels // m.groups * kk
        else:
            fwd = bwd = outs.numel() * m.in_features
        total += 2 * fwd + (bwd if k else 0)
    return total


def _configs():
    acc = fpsim.accumulator
    return [("plain torch (float32)", None),
            ("binary32 accumulator", fpsim.AccumSpec("binary32")),
            ("(1,6,9) single sums", fpsim.AccumSpec(acc(9))),
            ("(1,6,6) chunks of 64", fpsim.AccumSpec(acc(6), order=fpsim.Chunked(64)))]


def bench(batch=64, repeat=7, threads=1):
    torch.set_num_threads(1)
    if threads:
        numba.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 1, 8, 8, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    steps = {}
    for label, spec in _configs():
        torch.manual_seed(0)
        model = make_model()
        if spec is not None:
            ft.emulate(model, ft.GemmSpecs(spec, operands="e5m2", gradients="e5m2"))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def step(model=model, opt=opt):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        for _ in range(2):
            step()
        steps[label] = step
    times = {label: [] for label in steps}
    for _ in range(repeat):
        for label, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[label].append(time.perf_counter() - t0)
    macs = _macs(make_model(), x)
    base = statistics.median(times["plain torch (float32)"])
    rows = []
    for label, ts in times.items():
        med = statistics.median(ts)
        rows.append({"config": label, "threads": threads, "batch": batch, "median_s": med,
                     "min_s": min(ts), "max_s": max(ts), "mac_per_s": macs / med,
                     "vs_torch": med / base})
    return rows, macs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", default="1,2", help="Numba threads, e.g. 1,2")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    all_rows = []
    print(f"one training step of the fpsim train CNN, batch {args.batch}; torch "
          f"{torch.__version__}, Numba {numba.__version__}, {os.cpu_count()} CPUs, load "
          f"average {os.getloadavg()[0]:.1f}; median of {args.repeat} [min-max]")
    for threads in [int(t) for t in args.threads.split(",")]:
        rows, macs = bench(args.batch, args.repeat, threads)
        all_rows += rows
        print(f"\nNumba threads {threads}; {macs / 1e6:.1f} million MACs per step")
        print(f"{'configuration':24s} {'ms per step':>24s} {'M MAC/s':>9s} {'x torch':>8s}")
        for r in rows:
            spread = f"{1e3 * r['median_s']:.1f} [{1e3 * r['min_s']:.1f}-{1e3 * r['max_s']:.1f}]"
            print(f"{r['config']:24s} {spread:>24s} {r['mac_per_s'] / 1e6:9.1f} "
                  f"{r['vs_torch']:8.1f}")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(all_rows, fh, indent=1)


if __name__ == "__main__":
    main()
