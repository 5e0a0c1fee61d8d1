"""Kernel policy: no fastmath anywhere (it would reorder or fuse the very roundings that
are simulated), and one compiled signature per kernel."""
import importlib
import pkgutil

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

import fpsim
import fpsim.kernels


def dispatchers():
    for info in pkgutil.iter_modules(fpsim.kernels.__path__):
        module = importlib.import_module(f"fpsim.kernels.{info.name}")
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                yield f"{info.name}.{name}", obj


KERNELS = sorted(dispatchers())


def test_kernels_found():
    assert len(KERNELS) > 20


@pytest.mark.parametrize("name, kernel", KERNELS, ids=[k for k, _ in KERNELS])
def test_no_fastmath(name, kernel):
    assert not kernel.targetoptions.get("fastmath"), name


def _layouts(x):
    """x as the API may receive it: writable, read-only, Fortran-ordered, strided, float32,
    broadcast (a read-only view with zero strides)."""
    ro = x.copy()
    ro.flags.writeable = False
    return [x, ro, np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2],
            x.astype(np.float32), np.broadcast_to(x[:1], x.shape)]


def test_one_compilation_per_kernel():
    """Whatever the layout and writability of the operands, each kernel runs under one
    signature: Numba compiles a kernel and all it calls once per signature, which for the
    MAC kernels takes most of a minute."""
    from fpsim.kernels import elementwise, quantize
    x = np.linspace(-3.0, 3.0, 64).reshape(8, 8)
    spec = fpsim.AccumSpec("fp16")
    for a in _layouts(x):
        fpsim.decode(fpsim.encode(fpsim.quantize(a, "fp16"), "fp16"), "fp16")
        fpsim.add(a, x, "bfloat16")
        fpsim.dot(a[0], a[:, 1], spec)
        for b in _layouts(x)[:4]:
            fpsim.matmul(fpsim.quantize(a, "fp16"), b, spec)
    # the sequential family compiles per variant (kernels/sequential.py): the variant these
    # operands take, once each for one tile (dot) and for every tile (matmul)
    from fpsim.accumulate import mac_plan, product_exactness
    from fpsim.kernels.sequential import sequential_kernels, variant_of
    qa = fpsim.quantize(x, "fp16")
    _, _, plan = mac_plan(spec, product_exactness(qa, x), stats=False, seed=0)
    assert mac_plan(spec, product_exactness(x[0], x[:, 1]), stats=False, seed=0)[2] == plan
    one_tile, all_tiles = sequential_kernels(variant_of(*plan))
    kernels = {"quantize_kernel": quantize.quantize_kernel, "encode_kernel": quantize.encode_kernel,
               "decode_kernel": quantize.decode_kernel, "binary_kernel": elementwise.binary_kernel,
               "sequential all_tiles": all_tiles, "sequential one_tile": one_tile}
    for name, kernel in kernels.items():
        assert len(kernel.signatures) == 1, (name, kernel.signatures)
