"""Kernel policy: no fastmath anywhere (it would reorder or fuse the very roundings that
are simulated)."""
import importlib
import pkgutil

import pytest
from numba.core.registry import CPUDispatcher

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
