"""Accumulator precision for the three training GEMMs of every layer of a network.

Each layer runs three GEMMs in training, each with its own accumulation length n
(Sakr et al., "Accumulation Bit-Width Scaling For Ultra-Low Precision Training Of Deep
Networks", ICLR 2019, arXiv:1901.06588):

====  ==========================  ===========
GEMM  convolution                 linear
====  ==========================  ===========
FWD   C_in/groups * k_h * k_w     fan_in
BWD   C_out/groups * k_h * k_w    fan_out
GRAD  batch * H_out * W_out       batch
====  ==========================  ===========

:func:`predict` turns each n into the smallest accumulator mantissa m_acc that meets the
variance-lost cut-off (:func:`fpsim.vrr.min_macc`), for a single sum and for chunks.
The built-in networks and their shapes are documented in docs/theory.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._args import check_int
from ..text import csv_text, table, to_json
from .vrr import min_macc

__all__ = ["Conv2d", "Linear", "PredictionRow", "PredictionTable", "networks",
           "network_layers", "predict"]


def _pair(name, value):
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an integer or a pair (h, w), got {value!r}")
    return tuple(check_int(v, name, 1) for v in pair)


@dataclass(frozen=True)
class Conv2d:
    """A 2-D convolution, described by what sets its accumulation lengths.

    ``kernel_size`` and ``output_size`` are an int or a pair (h, w); stride, padding
    and input size matter only through ``output_size``.

    >>> Conv2d(64, 128, 3, 28).lengths(batch=256)
    {'FWD': 576, 'BWD': 1152, 'GRAD': 200704}
    """

    in_channels: int
    out_channels: int
    kernel_size: int | tuple[int, int]
    output_size: int | tuple[int, int]
    groups: int = 1
    name: str = ""

    def __post_init__(self):
        for field in ("in_channels", "out_channels", "groups"):
            check_int(getattr(self, field), f"Conv2d.{field}", 1)
        for field in ("kernel_size", "output_size"):
            object.__setattr__(self, field, _pair(f"Conv2d.{field}", getattr(self, field)))
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"Conv2d.groups must divide in_channels and out_channels, got "
                             f"groups={self.groups} for {self.in_channels} -> {self.out_channels}")

    def lengths(self, batch: int) -> dict[str, int]:
        """Accumulation length n of the FWD, BWD and GRAD GEMMs."""
        kh, kw = self.kernel_size
        h, w = self.output_size
        return {"FWD": self.in_channels // self.groups * kh * kw,
                "BWD": self.out_channels // self.groups * kh * kw,
                "GRAD": batch * h * w}


@dataclass(frozen=True)
class Linear:
    """A fully connected layer.

    >>> Linear(4096, 1000).lengths(batch=256)
    {'FWD': 4096, 'BWD': 1000, 'GRAD': 256}
    """

    in_features: int
    out_features: int
    name: str = ""

    def __post_init__(self):
        for field in ("in_features", "out_features"):
            check_int(getattr(self, field), f"Linear.{field}", 1)

    def lengths(self, batch: int) -> dict[str, int]:
        """Accumulation length n of the FWD, BWD and GRAD GEMMs."""
        return {"FWD": self.in_features, "BWD": self.out_features, "GRAD": batch}


# ---------------------------------------------------------------- built-in networks

def _out(size, kernel, stride=1, padding=0):
    """Output size of a convolution or pooling window."""
    return (size + 2 * padding - kernel) // stride + 1


def _resnet_stages(layers, c_in, size, widths, blocks, projection):
    """Basic-block stages; the first block of every stage but the first strides by 2.

    projection: a 1x1 stride-2 convolution on the shortcut where the shape changes
    (He et al.'s option B, torchvision); otherwise the parameter-free option A.
    """
    for stage, c in enumerate(widths, 1):
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 1 else 1
            out = _out(size, 3, stride, 1)
            prefix = f"layer{stage}.{block}"
            layers += [Conv2d(c_in, c, 3, out, name=f"{prefix}.conv1"),
                       Conv2d(c, c, 3, out, name=f"{prefix}.conv2")]
            if projection and (stride != 1 or c_in != c):
                layers.append(Conv2d(c_in, c, 1, _out(size, 1, stride), name=f"{prefix}.downsample"))
            c_in, size = c, out
    return layers


def _resnet32():
    # He et al. 2016, Sec. 4.2: 32x32 input, 6n+2 layers with n = 5, option A shortcuts.
    layers = [Conv2d(3, 16, 3, 32, name="conv1")]
    _resnet_stages(layers, 16, 32, (16, 32, 64), 5, projection=False)
    return layers + [Linear(64, 10, name="fc")]


def _resnet18():
    # He et al. 2016, Table 1 / torchvision: 224x224 input, 7x7/2 stem, 3x3/2 max pool.
    stem = _out(224, 7, 2, 3)
    layers = [Conv2d(3, 64, 7, stem, name="conv1")]
    _resnet_stages(layers, 64, _out(stem, 3, 2, 1), (64, 128, 256, 512), 2, projection=True)
    return layers + [Linear(512, 1000, name="fc")]


def _alexnet():
    # Krizhevsky et al. 2012 (Caffe bvlc_alexnet sizes: 227x227 input), without the
    # two-GPU grouping; 3x3/2 max pools after conv1, conv2 and conv5.
    c1 = _out(227, 11, 4)
    c2 = _out(_out(c1, 3, 2), 5, 1, 2)
    c3 = _out(_out(c2, 3, 2), 3, 1, 1)
    pooled = _out(c3, 3, 2)
    return [Conv2d(3, 96, 11, c1, name="conv1"),
            Conv2d(96, 256, 5, c2, name="conv2"),
            Conv2d(256, 384, 3, c3, name="conv3"),
            Conv2d(384, 384, 3, c3, name="conv4"),
            Conv2d(384, 256, 3, c3, name="conv5"),
            Linear(256 * pooled * pooled, 4096, name="fc6"),
            Linear(4096, 4096, name="fc7"),
            Linear(4096, 1000, name="fc8")]


# name: (layer builder, default batch size)
_NETWORKS = {"resnet32": (_resnet32, 128), "resnet18": (_resnet18, 256), "alexnet": (_alexnet, 256)}


def networks() -> tuple[str, ...]:
    """Names of the built-in networks.

    >>> networks()
    ('resnet32', 'resnet18', 'alexnet')
    """
    return tuple(_NETWORKS)


def _known(network):
    if network not in _NETWORKS:
        raise ValueError(f"network must be one of {', '.join(map(repr, _NETWORKS))} "
                         f"or a list of Conv2d/Linear layers, got {network!r}")
    return _NETWORKS[network]


def network_layers(network: str) -> list[Conv2d | Linear]:
    """The layers of a built-in network, in order.

    >>> network_layers("alexnet")[5]
    Linear(in_features=9216, out_features=4096, name='fc6')
    """
    return _known(network)[0]()


# ---------------------------------------------------------------- prediction

class PredictionRow(NamedTuple):
    """One GEMM of one layer: its accumulation length and predicted m_acc (single sum, chunked)."""

    layer: str
    gemm: str
    n: int
    m_acc: int
    m_acc_chunked: int


@dataclass(frozen=True, repr=False)
class PredictionTable:
    """Predicted accumulator mantissa per layer and GEMM, with the settings used."""

    network: str
    batch: int
    chunk: int
    m_p: int
    nzr: float
    cutoff: float
    model: str
    rows: tuple[PredictionRow, ...]

    def settings(self) -> dict:
        """The arguments the table was computed with."""
        return {"network": self.network, "batch": self.batch, "chunk": self.chunk,
                "m_p": self.m_p, "nzr": self.nzr, "cutoff": self.cutoff, "model": self.model}

    def __str__(self):
        title = " ".join(f"{k}={v}" for k, v in self.settings().items())
        headers = ("layer", "gemm", "n", "m_acc", f"m_acc(chunk {self.chunk})")
        return title + "\n" + table(headers, self.rows, align="llrrr")

    __repr__ = __str__

    def to_csv(self) -> str:
        """The rows as CSV with a header line (settings are not included)."""
        return csv_text(PredictionRow._fields, self.rows)

    def to_json(self) -> str:
        """Settings and rows as a JSON object; rows are objects keyed by column."""
        return to_json({**self.settings(), "rows": [row._asdict() for row in self.rows]})


def predict(network, *, batch=None, chunk=64, m_p=5, nzr=1.0, cutoff=50, model="paper",
            rounding="rne"):
    """Predict m_acc for the FWD, BWD and GRAD GEMMs of every layer of a network.

    Parameters
    ----------
    network : str or sequence of Conv2d / Linear
        A name from :func:`networks` or the layers of your own network.
    batch : int, optional
        Batch size (the GRAD length); defaults to the built-in network's (128 for
        resnet32, 256 for resnet18 and alexnet) and is required for your own layers.
    chunk : int
        Chunk length of the chunked column. A sum no longer than the chunk is one chunk,
        so its chunked m_acc equals the normal one.
    m_p : int
        Product mantissa bits. The default 5 is the exact product of two (1,5,2) FP8
        operands, the paper's setting: two 3-bit significands multiply to at most 6 bits.
    nzr, cutoff, model
        As in :func:`fpsim.vrr.min_macc` (Sakr et al., ICLR 2019); ``model="adder"`` is
        fpsim's model of the real rounding adder (:mod:`fpsim.analysis.adder`).
    rounding
        The adder's rounding, ``model="adder"`` only (the table's model reads
        ``"adder, rtz"`` for a rounding other than rne).

    Returns
    -------
    PredictionTable
        ``.rows`` (named tuples), an aligned text table as ``str()``, ``.to_csv()``,
        ``.to_json()``.

    Examples
    --------
    >>> table = predict("resnet18")
    >>> table.rows[3]
    PredictionRow(layer='layer1.0.conv1', gemm='FWD', n=576, m_acc=6, m_acc_chunked=4)
    >>> print(predict([Linear(512, 10, name="head")], batch=32))
    network=custom batch=32 chunk=64 m_p=5 nzr=1.0 cutoff=50.0 model=paper
    layer  gemm    n  m_acc  m_acc(chunk 64)
    head   FWD   512      6                4
    head   BWD    10      0                0
    head   GRAD   32      2                2
    """
    if isinstance(network, str):
        builder, default_batch = _known(network)
        name, layers = network, builder()
        batch = default_batch if batch is None else batch
    else:
        try:
            name, layers = "custom", list(network)
        except TypeError:
            raise TypeError(f"network must be a name or a sequence of Conv2d/Linear layers, "
                            f"got {type(network).__name__}") from None
        if not layers:
            raise ValueError("network must name a built-in network or hold at least one layer, got []")
        for i, layer in enumerate(layers):
            if not isinstance(layer, (Conv2d, Linear)):
                raise TypeError(f"network[{i}] must be a Conv2d or Linear, got {type(layer).__name__}")
        if batch is None:
            raise ValueError("batch must be given when network is a list of layers")
    batch = check_int(batch, "batch", 1)
    chunk = check_int(chunk, "chunk", 1)

    entries = [(layer.name or f"layer{i}", gemm, n)
               for i, layer in enumerate(layers) for gemm, n in layer.lengths(batch).items()]
    n = np.array([e[2] for e in entries], dtype=np.int64)
    options = dict(m_p=m_p, nzr=nzr, cutoff=cutoff, model=model)
    if rounding != "rne":                       # the adder model's rounding
        options["rounding"] = rounding
        model = f"{model}, {rounding}"
    normal = min_macc(n, **options)
    chunked = normal.copy()
    longer = n > chunk
    if longer.any():
        chunked[longer] = min_macc(n[longer], chunk=chunk, **options)
    rows = tuple(PredictionRow(layer, gemm, int(length), int(a), int(b))
                 for (layer, gemm, length), a, b in zip(entries, normal, chunked))
    return PredictionTable(name, batch, chunk, int(m_p), float(nzr), float(cutoff), model, rows)
