"""fpsim: bit-accurate simulation of reduced-precision floating-point arithmetic and
accumulation, with the variance retention ratio (VRR) analysis of Sakr et al. (ICLR 2019).

Layers: ``fpsim`` (this API: validation, shapes, kernel choice) - ``fpsim.kernels`` (Numba
JIT kernels on plain arrays and numbers) - ``tests/reference`` (an exact, slow reference
used only by the tests).
"""
from . import formats, hardware
from .accumulate import AccumSpec, SwampStats, dot, matmul, sum
from .arith import add, div, fma, mul, sqrt, sub
from .formats import Format, accumulator
from .orders import BlockFMA, Chunked, Exact, Kahan, Order, Pairwise, Sequential
from .analysis.compare import paper_regime
from .analysis.draws import DISTRIBUTIONS, draw_products
from .analysis.figure import Figure2Data, figure2
from .analysis.measure import VRRMeasurement, measure_vrr
from .analysis.sweep import SweepTable, sweep
from .quantize import code_dtype, decode, encode, quantize
from .analysis.predict import (Conv2d, Linear, PredictionRow, PredictionTable, network_layers,
                               networks, predict)
from .rounding import Rounding
from .analysis.vrr import KAPPA_RN, MODELS, min_macc, variance_lost, vrr

__version__ = "0.1.0"

__all__ = [
    "Format", "Rounding", "formats", "hardware", "accumulator",
    "quantize", "encode", "decode", "code_dtype",
    "add", "sub", "mul", "div", "fma", "sqrt",
    "AccumSpec", "SwampStats", "dot", "sum", "matmul",
    "Order", "Sequential", "Chunked", "Pairwise", "Kahan", "Exact", "BlockFMA",
    "vrr", "variance_lost", "min_macc", "KAPPA_RN", "MODELS",
    "predict", "networks", "network_layers", "Conv2d", "Linear", "PredictionTable", "PredictionRow",
    "measure_vrr", "VRRMeasurement", "sweep", "SweepTable", "figure2", "Figure2Data",
    "draw_products", "DISTRIBUTIONS", "paper_regime",
]
