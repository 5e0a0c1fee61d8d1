"""Numba JIT kernels of fpsim: the bottom layer (docs/architecture.md).

Plain arrays, numbers and the flat records of ``plan.py`` in; no validation: the arithmetic
API in ``fpsim`` checks arguments, builds the plan and picks the tier. Nothing here imports
from the layers above.
"""
