"""Elementwise arithmetic in a format: the exact result of the operands, rounded once."""
from __future__ import annotations

import numpy as np

from ._args import (as_format, check_bool, check_nan_for_finite, float_array, format_params,
                    kernel_input, rounding_args)
from .kernels.elementwise import binary_kernel, fma_kernel, sqrt_kernel

__all__ = ["add", "sub", "mul", "div", "fma", "sqrt"]

_OPS = {"add": 0, "mul": 1, "div": 2}


def _run(kernel_call, operands, names, fmt, rounding, saturate, seed, sr_bits, what):
    fmt = as_format(fmt)
    saturate = check_bool(saturate, "saturate")
    mode, seed, k = rounding_args(rounding, seed, sr_bits)
    arrays = [float_array(x, n) for x, n in zip(operands, names)]
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(f"{n}{a.shape}" for n, a in zip(names, arrays))
        raise ValueError(f"operands could not be broadcast together: {shapes}") from None
    scalar = all(a.ndim == 0 for a in arrays)
    shape = arrays[0].shape
    flat = [kernel_input(a).reshape(-1) for a in arrays]
    out = np.empty(flat[0].size, dtype=np.float64)
    kernel_call(*flat, out, *format_params(fmt), saturate, mode, np.uint64(seed), k)
    check_nan_for_finite(fmt, out, "the result", f"of {what} contains NaN")
    out = out.reshape(shape)
    return out[()] if scalar else out


def _binary(name, doc_example):
    op = _OPS[name]

    def f(a, b, fmt, rounding="rne", *, saturate=False, seed=None, sr_bits=None):
        return _run(lambda x, y, *rest: binary_kernel(op, x, y, *rest), (a, b), ("a", "b"),
                    fmt, rounding, saturate, seed, sr_bits, name)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"""``{name}(a, b)`` computed exactly and rounded once into ``fmt``.

    Operands are float64 values (they need not be in ``fmt``) and broadcast like NumPy.
    ``rounding``, ``saturate``, ``seed`` and ``sr_bits`` as in :func:`fpsim.quantize`
    (for ``sr``, element i of the broadcast result uses random number i).

    >>> import fpsim
{doc_example}
    """
    return f


add = _binary("add", """    >>> float(fpsim.add(1.0, 2**-11, "fp16"))            # a tie: to even
    1.0
    >>> float(fpsim.add(1.0, 2**-11 + 2**-40, "fp16"))   # one rounding, no double rounding
    1.0009765625""")
mul = _binary("mul", """    >>> float(fpsim.mul(3.0, 1/3, "fp32", "rtz"))
    0.9999999403953552""")
div = _binary("div", """    >>> float(fpsim.div(1.0, 3.0, "bfloat16"))
    0.333984375""")


def sub(a, b, fmt, rounding="rne", *, saturate=False, seed=None, sr_bits=None):
    """``a - b`` computed exactly and rounded once into ``fmt`` (see :func:`add`).

    >>> import fpsim
    >>> float(fpsim.sub(1.0, 2**-30, "fp32", "rd"))
    0.9999999403953552
    """
    nb = np.negative(float_array(b, "b"))
    return _run(lambda x, y, *rest: binary_kernel(0, x, y, *rest), (a, nb), ("a", "b"),
                fmt, rounding, saturate, seed, sr_bits, "sub")


def fma(a, b, c, fmt, rounding="rne", *, saturate=False, seed=None, sr_bits=None):
    """Fused multiply-add ``a*b + c``: the exact result rounded once into ``fmt``.

    >>> import fpsim
    >>> float(fpsim.fma(1 + 2**-10, 1 - 2**-10, -1.0, "fp16"))   # exact -2**-20
    -9.5367431640625e-07
    """
    return _run(fma_kernel, (a, b, c), ("a", "b", "c"), fmt, rounding, saturate, seed, sr_bits,
                "fma")


def sqrt(a, fmt, rounding="rne", *, saturate=False, seed=None, sr_bits=None):
    """Square root rounded once into ``fmt``; sqrt(-0) = -0, sqrt(x < 0) = NaN.

    >>> import fpsim
    >>> float(fpsim.sqrt(2.0, "bfloat16"))
    1.4140625
    """
    return _run(sqrt_kernel, (a,), ("a",), fmt, rounding, saturate, seed, sr_bits, "sqrt")
