"""Shared test configuration.

- ``tests/`` is put on ``sys.path`` so that the independent reference imports as ``reference``
  and the helpers as ``helpers``.
- Under pytest-xdist (``-n``, the default: pyproject.toml), each worker process gets its
  share of the cores for Numba's threads (at least 2, which the thread-count tests need),
  so that the workers' kernels do not oversubscribe the machine.
- Hypothesis profiles: ``ci`` (default; derandomized, so every run draws the same examples and CI
  is stable, no deadline because the first call of a Numba kernel compiles it) and ``dev``
  (random, more examples).  Select with ``HYPOTHESIS_PROFILE=dev``.
"""
from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if os.environ.get("PYTEST_XDIST_WORKER_COUNT") and "NUMBA_NUM_THREADS" not in os.environ:
    # before any test imports Numba, which reads it once
    os.environ["NUMBA_NUM_THREADS"] = str(max(2, (os.cpu_count() or 2)
                                              // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large])
settings.register_profile(
    "dev", deadline=None, print_blob=True, max_examples=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session):
    """With FPSIM_VARIANT_LOG=DIR, write the kernel variants and signatures this process
    built to DIR/<pid>.json (every xdist worker writes its own), for variant_coverage.py."""
    log_dir = os.environ.get("FPSIM_VARIANT_LOG")
    if not log_dir:
        return
    import json
    from fpsim.kernels.jit import built_variants
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, f"{os.getpid()}.json"), "w") as f:
        json.dump(built_variants(), f)
