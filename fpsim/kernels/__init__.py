"""Numba JIT kernels of fpsim (installed as ``fpsim.kernels``).

Plain arrays and numbers in, no objects and no validation: the Python API in
``fpsim`` checks arguments, unpacks formats into numbers and picks the kernel.
"""
