"""Shared test configuration.

- ``tests/`` is put on ``sys.path`` so that the independent reference imports as ``reference``
  and the helpers as ``helpers``.
- Hypothesis profiles: ``ci`` (default; derandomized, so every run draws the same examples and CI
  is stable, no deadline because the first call of a Numba kernel compiles it) and ``dev``
  (random, more examples).  Select with ``HYPOTHESIS_PROFILE=dev``.
"""
from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large])
settings.register_profile(
    "dev", deadline=None, print_blob=True, max_examples=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
