"""fpsim's benchmarks: throughput against the rival libraries (``run.py``) and
microbenchmarks of dot-product error (``accuracy.py``); standalone scripts time the Monte
Carlo trial kernel (``bench_trials.py``) and the analytical model (``bench_analytical.py``).

Regenerate ``docs/benchmarks.md`` and ``docs/figures/bench_*.png`` with
``python benchmarks/run.py``; see ``docs/benchmarks.md`` for the method.
"""
