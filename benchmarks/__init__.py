"""fpsim's benchmarks: throughput against the rival libraries (``run.py``) and
microbenchmarks of dot-product error (``accuracy.py``).

Regenerate ``docs/benchmarks.md`` and ``docs/figures/bench_*.png`` with
``python benchmarks/run.py``; see ``docs/benchmarks.md`` for the method.
"""
