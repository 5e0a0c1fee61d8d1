"""Accumulation presets of real hardware: an :class:`~fpsim.AccumSpec` per GPU, format and
library path, each with the source it comes from and what it was checked against.

>>> from fpsim import hardware
>>> hardware.preset("hopper-mma-f16-f32")
AccumSpec(acc=e8m23, product=exact, rounding=rtz, order=BlockFMA(16, 25))
>>> hardware.preset("hopper-fp8-fast", split=2816).order
Chunked(2816, inner=BlockFMA(32, 13, rounding='rtz'), outer=e8m23)
>>> "hopper-fp8" in hardware.presets()
True

The tensor-core presets are one block step (or a chain of them) of the order
:class:`~fpsim.BlockFMA`: the products of a block and the accumulator aligned to the
largest operand-exponent sum, truncated ``w`` bits below it, added exactly and rounded once.
The library presets add what cuBLAS/CUTLASS do around the tensor cores: promotion into
binary32 every N products, split-K parts added left to right in binary32, the rounding of
the result into the output format. cuBLAS chooses the split-K part length from the shape
(and the library version), so ``split`` is the caller's to give; the defaults are the
lengths seen for 16-column outputs on an H200 (docs/hardware.md).
"""
from __future__ import annotations

from typing import NamedTuple

from ._args import check_choice, check_int
from .accumulate import AccumSpec
from .orders import BlockFMA, Chunked

__all__ = ["Preset", "preset", "presets"]

_KM = "the H100 and H200 {} vectors of Khattak & Mikaitis (arXiv:2512.07004)"
_STUDY = "issue 17's study of H200 captures; Khattak & Mikaitis, arXiv:2512.07004"
#: a chunk longer than any sum: its one addition rounds the result into ``outer``
_WHOLE = 2**40


class Preset(NamedTuple):
    """What :func:`presets` lists for one name."""

    inputs: str          # the operand format(s)
    operand: str         # the operand format, for rounding random operands (fpsim dot)
    model: str           # what the spec does, in words
    source: str          # where the model comes from
    checked: str         # what it reproduces, bit for bit (docs/hardware.md has the counts)


_PRESETS = {
    "hopper-mma-f16-f32": Preset(
        "binary16", "fp16",
        "one block of 16 products + C, w = 25, terms truncated, rtz into binary32",
        _STUDY,
        "H200 WMMA m16n16k16 f16 -> f32 captures; " + _KM.format("fp16 (binary32 output)")),
    "hopper-mma-bf16-f32": Preset(
        "bfloat16", "bf16",
        "one block of 16 products + C, w = 25, terms truncated, rtz into binary32",
        _STUDY,
        "H200 WMMA m16n16k16 bf16 -> f32 captures; " + _KM.format("bf16")),
    "hopper-mma-f16-f16": Preset(
        "binary16", "fp16",
        "one block of 16 products + C, w = 25, rounded rne straight into binary16",
        _STUDY,
        "H200 WMMA m16n16k16 f16 -> f16 captures; "
        + _KM.format("fp16 (binary16 output, C rounded rne into binary16)")),
    "hopper-mma-tf32-f32": Preset(
        "tf32", "tf32",
        "blocks of 4 products, chained (k = 8: two steps), w = 25, rtz into binary32",
        _STUDY,
        "H200 WMMA m16n16k8 tf32 captures; " + _KM.format("tf32")),
    "hopper-fp8-fast": Preset(
        "e4m3 (e5m2)", "e4m3fn",
        "blocks of 32, w = 13, rtz into a 14-bit accumulator (e8m13), chained over K "
        "(torch._scaled_mm use_fast_accum=True); split=N: parts of N added in binary32",
        _STUDY,
        "H200 torch._scaled_mm captures, use_fast_accum=True, K = 16 to 16384 (split=2816 "
        "at 16384); " + _KM.format("E4M3 and E5M2 (C = 0)")),
    "hopper-fp8": Preset(
        "e4m3 (e5m2)", "e4m3fn",
        "the fast chain restarted every 128 products, each chunk added into binary32 (rne): "
        "CUTLASS/cuBLAS promotion", "issue 17's study of H200 captures",
        "H200 torch._scaled_mm captures, use_fast_accum=False, K = 16 to 16384"),
    "hopper-cublas-f16": Preset(
        "binary16", "fp16",
        "chains of 16-product blocks (w = 25, rtz) in binary32; split=N: parts of N added "
        "left to right in binary32 (rne); the result rounded rne into binary16 "
        "(output='fp32': not)", "issue 17's study of H200 captures",
        "H200 torch.mm captures, half and binary32 outputs, K = 64 to 16384"),
    "hopper-cublas-bf16": Preset(
        "bfloat16", "bf16", "as hopper-cublas-f16, the result rounded rne into bfloat16",
        "issue 17's study of H200 captures",
        "H200 torch.mm captures, half and binary32 outputs, K = 64 to 16384"),
}

_KM_MODEL = ("Khattak & Mikaitis, arXiv:2512.07004: the published {} model (FMA size {}, {} extra "
             "alignment bits beyond binary32's 23, so w = {}; final rounding rtz, rne into binary16)")
_KM_CHECK = "the {} vectors of Khattak & Mikaitis (arXiv:2512.07004)"
for _gen, _gpus, _G, _neab, _forms in (
        ("volta", "V100", 4, 0, (("f16-f32", "binary16", "fp16"), ("f16-f16", "binary16", "fp16"))),
        ("ampere", "A100 and A2", 8, 1, (("f16-f32", "binary16", "fp16"),
                                          ("bf16-f32", "bfloat16", "bf16"),
                                          ("f16-f16", "binary16", "fp16"),
                                          ("tf32-f32", "tf32", "tf32")))):
    for _form, _inputs, _op in _forms:
        _g = 4 if _op == "tf32" else _G
        _out = "binary16 (rne)" if _form.endswith("f16") and _form != "bf16-f32" else "binary32 (rtz)"
        _PRESETS[f"{_gen}-mma-{_form}"] = Preset(
            _inputs, _op, f"one block of {_g} products + C, w = {23 + _neab}, terms truncated, "
                          f"rounded once into {_out}",
            _KM_MODEL.format(_gpus, _g, _neab, 23 + _neab),
            _KM_CHECK.format(f"{_gpus} {_op}" + (" (binary16 output, C rounded rne into "
                                                  "binary16)" if "binary16 (rne)" in _out else "")))

del _gen, _gpus, _G, _neab, _forms, _form, _inputs, _op, _g, _out


def presets() -> dict:
    """{name: :class:`Preset`} of every preset, with its model, source and checks."""
    return dict(_PRESETS)


def preset(name: str, **overrides) -> AccumSpec:
    """The :class:`~fpsim.AccumSpec` of preset ``name`` (see :func:`presets`).

    ``split=N`` (fp8 and cuBLAS presets): split-K parts of N products, each summed as the
    preset sums, added left to right in binary32 with rne. ``output`` (cuBLAS presets):
    the format the result is rounded into, ``"fp16"``/``"bf16"`` (default, torch.mm's half
    result) or ``"fp32"`` (the binary32 sum). Any other keyword is an AccumSpec field,
    replaced in the result (``AccumSpec.replace``).

    >>> from fpsim import hardware
    >>> hardware.preset("hopper-cublas-bf16", split=1408).order.inner
    Chunked(1408, inner=BlockFMA(16, 25, rounding='rtz'), outer=e8m23)
    """
    name = check_choice(name, "name", tuple(_PRESETS))
    split = overrides.pop("split", None)
    output = overrides.pop("output", None)
    if split is not None and not (name.startswith("hopper-fp8") or "cublas" in name):
        raise ValueError(f"split is a split-K part length for the fp8 and cuBLAS presets, "
                         f"not for {name!r}")
    if output is not None and "cublas" not in name:
        raise ValueError(f"output is the result format of the cuBLAS presets, not of {name!r}")
    if name.startswith(("volta-", "ampere-")):
        w = 23 if name.startswith("volta-") else 24
        G = 4 if name.startswith("volta-") or "tf32" in name else 8
        acc, mode = ("fp16", "rne") if name.endswith("f16-f16") else ("fp32", "rtz")
        spec = AccumSpec(acc, rounding=mode, order=BlockFMA(G, w))
    elif name in ("hopper-mma-f16-f32", "hopper-mma-bf16-f32"):
        spec = AccumSpec("fp32", rounding="rtz", order=BlockFMA(16, 25))
    elif name == "hopper-mma-f16-f16":
        spec = AccumSpec("fp16", rounding="rne", order=BlockFMA(16, 25))
    elif name == "hopper-mma-tf32-f32":
        spec = AccumSpec("fp32", rounding="rtz", order=BlockFMA(4, 25))
    elif name == "hopper-fp8-fast":
        if split is None:
            spec = AccumSpec("e8m13", rounding="rtz", order=BlockFMA(32, 13))
        else:
            split = _split(split, 32)
            spec = AccumSpec("e8m13", order=Chunked(split, inner=BlockFMA(32, 13, rounding="rtz"),
                                                    outer="fp32"))
    elif name == "hopper-fp8":
        order = Chunked(128, inner=BlockFMA(32, 13, rounding="rtz"), outer="fp32")
        if split is not None:
            order = Chunked(_split(split, 129), inner=order, outer="fp32")
        spec = AccumSpec("e8m13", order=order)
    else:
        half = "fp16" if name == "hopper-cublas-f16" else "bf16"
        output = half if output is None else check_choice(output, "output", (half, "fp32"))
        block = BlockFMA(16, 25, rounding="rtz")
        order = block if split is None else Chunked(_split(split, 17), inner=block,
                                                     outer="fp32")
        if output != "fp32":
            order = Chunked(_WHOLE, inner=order, outer=output)
            spec = AccumSpec("fp32", order=order)
        elif split is None:
            spec = AccumSpec("fp32", rounding="rtz", order=order)
        else:
            spec = AccumSpec("fp32", order=order)
    return spec.replace(**overrides) if overrides else spec


def _split(split, low):
    return check_int(split, "split", low, _WHOLE - 1, high_open=False,
                     note=" (the split-K part length, in products)")
