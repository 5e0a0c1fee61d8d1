"""PyTorch bridge: training GEMMs through fpsim's bit-accurate accumulators, with autograd.

Optional (the ``[torch]`` extra); ``import fpsim`` never imports it. A layer's three
training GEMMs run through :func:`fpsim.matmul`, each under its own :class:`AccumSpec`,
named as :func:`fpsim.predict` names them (Sakr et al., ICLR 2019):

====  ===================================  ==========================  ===========
GEMM  what it computes                     n, convolution              n, linear
====  ===================================  ==========================  ===========
FWD   the output, from input and weight    C_in/groups * k_h * k_w     in_features
BWD   grad_input, from grad_output, weight C_out/groups * k_h * k_w    out_features
GRAD  grad_weight, from grad_output, input batch * H_out * W_out       batch
====  ===================================  ==========================  ===========

A spec is an :class:`AccumSpec` (or an accumulator format) for all three GEMMs, or a
:class:`GemmSpecs` naming one per GEMM and the formats the operands (input, weight) and
the gradients (grad_output) are rounded into before they enter a GEMM, round to nearest
even: the paper's set-up is ``GemmSpecs(spec, operands="e5m2", gradients="e5m2")`` with
``spec = AccumSpec(fpsim.accumulator(m_acc), order=fpsim.Chunked(64))``. The rounding is
a straight-through estimator: backward treats it as the identity, and BWD and GRAD use the
rounded weight and input saved by the forward pass. Parameters stay in the tensor's dtype
(master weights); the optimiser updates them as usual.

What each GEMM is, exactly (every element is one :func:`fpsim.dot` in this order):

- ``matmul(a, b)``: FWD ``a @ b`` (n = K); BWD ``grad_a = g @ b^T`` (n = N); GRAD
  ``grad_b = a^T @ g`` (n = M). Where an operand was broadcast over batch dimensions, its
  gradient sums over them inside the same dot product: the broadcast index is the outer
  loop of the contraction (batch-major), not a second sum. ``linear(x, w)`` is
  ``matmul(x, w^T)``; its GRAD contracts over every leading dimension of x (n = batch).
- ``conv2d``: im2col. FWD sums over (c, i, j) of the kernel window, channel-major, zeros
  of the padding included, as an im2col GEMM has them. GRAD sums over (sample, output
  row, output column) in that order. BWD is the transposed convolution computed as a
  convolution of grad_output, dilated by the stride and padded, with the flipped kernel:
  each element of grad_input is one sum over (o, i', j'), i' = k_h - 1 - i, of
  C_out/groups * k_h * k_w products, the zeros that the stride and the padding leave
  included (so n is the one :func:`fpsim.predict` uses). Groups are separate GEMMs.
- The bias is added to the GEMM's result in the tensor's dtype (one rounding of that
  dtype, not emulated); its gradient is a sum of the rounded grad_output under the GRAD
  spec, over the same indices as GRAD (n = batch, or batch * H_out * W_out).

Tensors are float32 or float64, on the CPU. Inputs reach the kernels as float64 carriers
(float32 values are exact in float64, and rounding into ``operands``/``gradients`` writes
the carriers directly). Results come back in the input dtype: float32 only when every
value of the result format (``spec.start_format``: the accumulator, or the outer format
of a chunked order) is a float32, so the conversion is exact; otherwise the call is
refused (use float64 tensors). Stochastic rounding draws each call's seed from torch's
generator, so ``torch.manual_seed`` reproduces a run (the random streams are those of
the 2-D calls the bridge makes, below, not those of one :func:`fpsim.matmul` of the
batched operands).

Batches never loop in Python: a linear layer is one 2-D :func:`fpsim.matmul` per GEMM
(leading dimensions folded into the rows), a convolution one per GEMM and group, and the
longer side of each product goes along the columns, which the kernels run side by side
(C^T = B^T A^T: the same dot products). Only a ``matmul`` of two batched operands leaves
the batch to :func:`fpsim.matmul`.

>>> import torch, fpsim, fpsim.torch as ft
>>> spec = ft.GemmSpecs(fpsim.AccumSpec(fpsim.accumulator(4)), operands="e5m2",
...                     gradients="e5m2")
>>> layer = ft.Linear(16, 4, spec=spec)
>>> layer(torch.ones(2, 16)).dtype
torch.float32
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .accumulate import AccumSpec, matmul as _fmatmul, sum as _fsum
from .formats import Format, as_format
from .quantize import quantize
from .rounding import Rounding

__all__ = ["GemmSpecs", "as_gemm_specs", "fits_float32", "matmul", "linear", "conv2d",
           "Linear", "Conv2d", "emulate", "GEMMS"]

#: The names of the three training GEMMs, as fpsim.predict uses them.
GEMMS = ("FWD", "BWD", "GRAD")

_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


# ------------------------------------------------------------------ specs

def _accum_spec(value, name) -> AccumSpec:
    if isinstance(value, AccumSpec):
        return value
    if isinstance(value, (Format, str)):
        return AccumSpec(value)
    raise TypeError(f"{name} must be a fpsim.AccumSpec or an accumulator Format, got "
                    f"{type(value).__name__} {value!r:.60}")


@dataclass(frozen=True)
class GemmSpecs:
    """The accumulator of each training GEMM, and the formats GEMM inputs are rounded into.

    Parameters
    ----------
    fwd : AccumSpec or Format or str
        The FWD GEMM (the layer's output).
    bwd, grad : AccumSpec or Format or str, optional
        The BWD (grad_input) and GRAD (grad_weight) GEMMs; default: ``fwd``.
    operands : Format or str, optional
        Input and weight are rounded into it (RNE) before FWD, and the rounded values are
        the ones BWD and GRAD use. ``None``: used as they are.
    gradients : Format or str, optional
        grad_output is rounded into it (RNE) before BWD and GRAD. ``None``: as it is.

    >>> import fpsim
    >>> GemmSpecs("e6m8", grad=fpsim.AccumSpec("e6m8", order=fpsim.Chunked(64)),
    ...           operands="e5m2")    # doctest: +NORMALIZE_WHITESPACE
    GemmSpecs(fwd=AccumSpec(acc=e6m8, product=exact, rounding=rne, order=Sequential()),
              bwd=AccumSpec(acc=e6m8, product=exact, rounding=rne, order=Sequential()),
              grad=AccumSpec(acc=e6m8, product=exact, rounding=rne, order=Chunked(64, outer=e6m8)),
              operands=e5m2, gradients=None)
    """

    fwd: AccumSpec
    bwd: AccumSpec
    grad: AccumSpec
    operands: Format | None = None
    gradients: Format | None = None

    def __init__(self, fwd, bwd=None, grad=None, *, operands=None, gradients=None):
        fwd = _accum_spec(fwd, "fwd")
        bwd = fwd if bwd is None else _accum_spec(bwd, "bwd")
        grad = fwd if grad is None else _accum_spec(grad, "grad")
        operands = None if operands is None else as_format(operands, "operands")
        gradients = None if gradients is None else as_format(gradients, "gradients")
        for name, value in (("fwd", fwd), ("bwd", bwd), ("grad", grad),
                            ("operands", operands), ("gradients", gradients)):
            object.__setattr__(self, name, value)

    def __repr__(self):
        return (f"GemmSpecs(fwd={self.fwd!r}, bwd={self.bwd!r}, grad={self.grad!r}, "
                f"operands={self.operands.name if self.operands else None}, "
                f"gradients={self.gradients.name if self.gradients else None})")

    def of(self, gemm: str) -> AccumSpec:
        """The spec of ``gemm``: "FWD", "BWD" or "GRAD"."""
        if gemm not in GEMMS:
            raise ValueError(f"gemm must be one of {', '.join(GEMMS)}, got {gemm!r}")
        return {"FWD": self.fwd, "BWD": self.bwd, "GRAD": self.grad}[gemm]


def as_gemm_specs(spec) -> GemmSpecs:
    """``spec`` as a :class:`GemmSpecs`: an AccumSpec (or accumulator format) serves all
    three GEMMs, without rounding the operands."""
    if isinstance(spec, GemmSpecs):
        return spec
    if isinstance(spec, (AccumSpec, Format, str)):
        return GemmSpecs(spec)
    raise TypeError(f"spec must be a fpsim.AccumSpec, an accumulator Format or a "
                    f"fpsim.torch.GemmSpecs, got {type(spec).__name__} {spec!r:.60}")


def fits_float32(fmt: Format) -> bool:
    """Whether float32 holds every value of ``fmt`` exactly (significand, largest
    exponent and finest quantum; infinities and NaN float32 has).

    >>> import fpsim
    >>> fits_float32(fpsim.accumulator(10)), fits_float32(fpsim.formats.binary64)
    (True, False)
    """
    return fmt.man_bits <= 23 and fmt.emax <= 127 and fmt.emin - fmt.man_bits >= -149


# ------------------------------------------------------------------ tensors <-> carriers

def _tensor(t, name) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on device {t.device}; fpsim.torch runs on the CPU only "
                         "(move it with .cpu())")
    if t.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {t.layout}")
    if t.dtype not in _DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype} (fpsim carries "
                        "values exactly in float64; convert with .float() or .double())")
    return t


def _same_dtype(tensors: dict) -> torch.dtype:
    dtypes = {name: t.dtype for name, t in tensors.items() if t is not None}
    if len(set(dtypes.values())) > 1:
        raise TypeError("tensors must share one dtype, got "
                        + ", ".join(f"{n} {d}" for n, d in dtypes.items()))
    return next(iter(dtypes.values()))


def _check_results(specs: GemmSpecs, dtype: torch.dtype, gemms=GEMMS):
    """Refuse float32 results of an accumulator whose values float32 cannot hold."""
    if dtype != torch.float32:
        return
    for gemm in gemms:
        fmt = specs.of(gemm).start_format
        if not fits_float32(fmt):
            raise ValueError(
                f"the {gemm} spec sums into {fmt.name}, whose values float32 cannot hold "
                "exactly (needs man_bits <= 23, emax <= 127, emin - man_bits >= -149): use "
                "float64 tensors (e.g. model.double()) or an accumulator that fits float32")


def _carriers(t: torch.Tensor, fmt: Format | None) -> np.ndarray:
    """The values of ``t`` (rounded into ``fmt`` when given) as a numpy array: a view of
    the tensor's memory when nothing is rounded, fresh float64 carriers otherwise."""
    arr = t.detach().resolve_neg().resolve_conj().numpy()
    if fmt is None:
        return arr
    return quantize(arr, fmt)


def _result(arr: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A float64 result as a tensor of ``dtype`` (exact: checked by _check_results)."""
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=_DTYPES[dtype]))


def _seed(spec: AccumSpec):
    """A seed from torch's generator for stochastic rounding (None otherwise), so that
    torch.manual_seed reproduces the random streams."""
    if Rounding.SR in (spec.rounding, spec.product_rounding if spec.product else None):
        return int(torch.randint(0, 2**62, (), dtype=torch.int64))
    return None


def _mm(A, B, spec) -> np.ndarray:
    """fpsim.matmul under ``spec`` with batches folded into one 2-D call where one side
    is 2-D (every element is the same dot product either way)."""
    if A.ndim == 2 and B.ndim == 2:
        if A.shape[0] > B.shape[1]:
            # the kernels run a tile of columns side by side: put the longer side there
            # (C^T = B^T A^T has the same dot products, element for element)
            return _fmatmul(B.T, A.T, spec, seed=_seed(spec)).T
        return _fmatmul(A, B, spec, seed=_seed(spec))
    if B.ndim == 2:                                  # (..., M, K) @ (K, N): batch into rows
        C = _mm(A.reshape(-1, A.shape[-1]), B, spec)
        return C.reshape(A.shape[:-1] + (B.shape[1],))
    if A.ndim == 2:                                  # (M, K) @ (..., K, N): into columns
        K, N = B.shape[-2:]
        Bf = np.moveaxis(B, -2, 0).reshape(K, -1)    # columns in (batch, n) order
        C = _mm(A, Bf, spec).reshape((A.shape[0],) + B.shape[:-2] + (N,))
        return np.moveaxis(C, 0, -2)
    return _fmatmul(A, B, spec, seed=_seed(spec))


def _grad_of_operand(left, right, shape, spec) -> np.ndarray:
    """The gradient of an operand of ``shape`` (..., r, c): the GEMM ``left @ right``
    (batch + (r, n) @ batch + (n, c)), summed over the batch axes where the operand was
    broadcast inside the same dot products: those axes become the outer loop of the
    contraction (batch-major), not a second sum."""
    batch = np.broadcast_shapes(left.shape[:-2], right.shape[:-2])
    own = (1,) * (len(batch) - (len(shape) - 2)) + tuple(shape[:-2])
    reduced = [d for d in range(len(batch)) if own[d] == 1 and batch[d] != 1]
    if reduced:
        kept = [d for d in range(len(batch)) if d not in reduced]
        nb, nk = len(batch), len(kept)
        kshape = tuple(batch[d] for d in kept)
        R = int(np.prod([batch[d] for d in reduced]))
        axes = kept + reduced + [nb, nb + 1]
        L = np.broadcast_to(left, batch + left.shape[-2:]).transpose(axes)   # kept, red, r, n
        L = np.moveaxis(L, -2, nk).reshape(kshape + (left.shape[-2], R * left.shape[-1]))
        Rt = np.broadcast_to(right, batch + right.shape[-2:]).transpose(axes)
        Rt = Rt.reshape(kshape + (R * right.shape[-2], right.shape[-1]))
        left, right = np.ascontiguousarray(L), np.ascontiguousarray(Rt)
    return _mm(left, right, spec).reshape(own + tuple(shape[-2:])).reshape(shape)


# ------------------------------------------------------------------ autograd functions

def _keep(ctx, tensors, arrays, fmt):
    """Save the inputs for backward: the tensors (torch checks they are not modified in
    place meanwhile) and, when they were rounded, the rounded carriers."""
    ctx.save_for_backward(*tensors)
    ctx.rounded = arrays if fmt is not None else None


def _kept(ctx):
    """The carriers that forward used (views of the saved tensors when not rounded)."""
    if ctx.rounded is not None:
        return ctx.rounded
    return tuple(_carriers(t, None) for t in ctx.saved_tensors)


def _add_bias(y: torch.Tensor, bias, dim: int) -> torch.Tensor:
    """y + bias along axis ``dim``, in the tensor's dtype (not emulated)."""
    if bias is None:
        return y
    shape = [1] * y.ndim
    shape[dim] = -1
    return y + bias.detach().reshape(shape)


def _bias_grad(G: np.ndarray, dim: int, spec: AccumSpec, dtype) -> torch.Tensor:
    """The bias gradient: the sum of the (rounded) grad_output over every axis but
    ``dim``, in C order (sample-major), under the GRAD spec."""
    G = np.moveaxis(G, dim, -1)
    G = G.reshape(-1, G.shape[-1])
    return _result(np.atleast_1d(_fsum(G, spec, axis=0, seed=_seed(spec))), dtype)


class _MatMul(torch.autograd.Function):
    """a @ b (+ bias along the last axis: linear)."""

    @staticmethod
    def forward(ctx, a, b, bias, specs):
        A = _carriers(a, specs.operands)
        B = _carriers(b, specs.operands)
        ctx.specs = specs
        _keep(ctx, (a, b), (A, B), specs.operands)
        return _add_bias(_result(_mm(A, B, specs.fwd), a.dtype), bias, -1)

    @staticmethod
    def backward(ctx, g):
        specs = ctx.specs
        (a, b), (A, B) = ctx.saved_tensors, _kept(ctx)
        G = _carriers(g.contiguous(), specs.gradients)
        ga = gb = gbias = None
        if ctx.needs_input_grad[0]:
            ga = _result(_grad_of_operand(G, np.swapaxes(B, -1, -2), a.shape, specs.bwd),
                         g.dtype)
        if ctx.needs_input_grad[1]:
            gb = _result(_grad_of_operand(np.swapaxes(A, -1, -2), G, b.shape, specs.grad),
                         g.dtype)
        if ctx.needs_input_grad[2]:
            gbias = _bias_grad(G, G.ndim - 1, specs.grad, g.dtype)
        return ga, gb, gbias, None


def _pair(value, name, low):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return pair


def _im2col(X, k, dilation, padding, stride) -> np.ndarray:
    """(N, C*kh*kw, L) columns of X (N, C, H, W): torch's unfold on the float64 carriers
    (it only moves values and zeros, so nothing is rounded)."""
    return F.unfold(torch.from_numpy(np.ascontiguousarray(X)), k, dilation=dilation,
                    padding=padding, stride=stride).numpy()


class _Conv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, bias, specs, stride, padding, dilation, groups):
        X = _carriers(x, specs.operands)
        Wt = _carriers(w, specs.operands)
        N, C, H, W_ = X.shape
        O, Cg, kh, kw = Wt.shape
        Og = O // groups
        cols = _im2col(X, (kh, kw), dilation, padding, stride)          # N, C*kh*kw, L
        Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        Wo = (W_ + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        L = Ho * Wo
        kk = Cg * kh * kw
        rows = []          # per group: (N*L, kk), rows in (sample, position) order
        out = np.empty((N, O, L))
        for g in range(groups):
            A = np.ascontiguousarray(cols[:, g * kk:(g + 1) * kk, :].transpose(0, 2, 1)).reshape(N * L, kk)
            rows.append(A)
            Bm = Wt[g * Og:(g + 1) * Og].reshape(Og, kk).T
            out[:, g * Og:(g + 1) * Og, :] = _mm(A, Bm, specs.fwd).reshape(N, L, Og).transpose(0, 2, 1)
        ctx.specs, ctx.rows = specs, rows             # the columns are fresh copies
        _keep(ctx, (w,), (Wt,), specs.operands)
        ctx.geometry = (x.shape, stride, padding, dilation, groups, Ho, Wo)
        return _add_bias(_result(out.reshape(N, O, Ho, Wo), x.dtype), bias, 1)

    @staticmethod
    def backward(ctx, g):
        specs, rows, (Wt,) = ctx.specs, ctx.rows, _kept(ctx)
        xshape, stride, padding, dilation, groups, Ho, Wo = ctx.geometry
        N, C, H, W_ = xshape
        O, Cg, kh, kw = Wt.shape
        Og = O // groups
        G = _carriers(g.contiguous(), specs.gradients)                 # N, O, Ho, Wo
        gx = gw = gbias = None
        if ctx.needs_input_grad[2]:
            gbias = _bias_grad(G, 1, specs.grad, g.dtype)
        if ctx.needs_input_grad[1]:                                    # GRAD: n = N*Ho*Wo
            Gr = G.reshape(N, O, Ho * Wo)
            parts = []
            for gi in range(groups):
                Gg = np.ascontiguousarray(Gr[:, gi * Og:(gi + 1) * Og, :].transpose(1, 0, 2)).reshape(Og, -1)
                parts.append(_mm(Gg, rows[gi], specs.grad))
            gw = _result(np.concatenate(parts).reshape(Wt.shape), g.dtype)
        if ctx.needs_input_grad[0]:                                    # BWD: n = Og*kh*kw
            # grad_output dilated by the stride, padded so that a stride-1 correlation
            # with the flipped kernel gives grad_input (negative padding crops)
            Gd = np.zeros((N, O, (Ho - 1) * stride[0] + 1, (Wo - 1) * stride[1] + 1))
            Gd[:, :, ::stride[0], ::stride[1]] = G
            pads = []
            for size, k, s, p, d, length in ((W_, kw, stride[1], padding[1], dilation[1], Gd.shape[3]),
                                             (H, kh, stride[0], padding[0], dilation[0], Gd.shape[2])):
                top = d * (k - 1) - p
                pads += [top, size + d * (k - 1) - length - top]
            Gp = F.pad(torch.from_numpy(Gd), pads).numpy()
            cols = _im2col(Gp, (kh, kw), dilation, (0, 0), (1, 1))      # N, O*kh*kw, H*W
            kk = Og * kh * kw
            Wf = Wt[:, :, ::-1, ::-1]                                   # flipped kernel
            out = np.empty((N, C, H * W_))
            for gi in range(groups):
                A = np.ascontiguousarray(cols[:, gi * kk:(gi + 1) * kk, :].transpose(0, 2, 1)).reshape(-1, kk)
                Bm = Wf[gi * Og:(gi + 1) * Og].transpose(0, 2, 3, 1).reshape(kk, Cg)
                out[:, gi * Cg:(gi + 1) * Cg, :] = _mm(A, Bm, specs.bwd).reshape(N, H * W_, Cg).transpose(0, 2, 1)
            gx = _result(out.reshape(xshape), g.dtype)
        return gx, gw, gbias, None, None, None, None, None


# ------------------------------------------------------------------ the functions

def _layer_args(fn, spec, x, weight, bias):
    """The checked (specs, x, weight, bias, dtype) of a layer function."""
    if spec is None:
        raise TypeError(f"{fn}: spec is required (an AccumSpec or a GemmSpecs)")
    specs = as_gemm_specs(spec)
    x, weight = _tensor(x, "x"), _tensor(weight, "weight")
    if bias is not None:
        bias = _tensor(bias, "bias")
    return specs, x, weight, bias, _same_dtype({"x": x, "weight": weight, "bias": bias})


def matmul(a, b, spec) -> torch.Tensor:
    """``a @ b`` (torch.matmul's shape rules) with FWD, BWD (grad of ``a``) and GRAD (grad
    of ``b``) under ``spec`` (an AccumSpec for all three, or a :class:`GemmSpecs`).

    >>> import torch, fpsim, fpsim.torch as ft
    >>> a = torch.ones(1, 8); b = torch.ones(8, 2); b[0, 0] = 64.0
    >>> ft.matmul(a, b, fpsim.AccumSpec("e5m2")).tolist()     # each 1 after 64 is swamped
    [[64.0, 8.0]]
    """
    specs = as_gemm_specs(spec)
    a, b = _tensor(a, "a"), _tensor(b, "b")
    dtype = _same_dtype({"a": a, "b": b})
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: a and b must have at least one dimension, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: a has shape {tuple(a.shape)}, b "
                         f"has shape {tuple(b.shape)} (need a.shape[-1] == b.shape[-2])")
    try:
        torch.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except RuntimeError:
        raise ValueError(f"matmul: batch dimensions do not broadcast: a {tuple(a.shape)}, "
                         f"b {tuple(b.shape)}") from None
    _check_results(specs, dtype)
    out = _MatMul.apply(a2, b2, None, specs)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out


def linear(x, weight, bias=None, spec=None) -> torch.Tensor:
    """``x @ weight^T + bias`` as torch.nn.functional.linear, its three GEMMs under
    ``spec`` (FWD n = in_features, BWD n = out_features, GRAD n = the product of x's
    leading dimensions); the bias gradient is summed under the GRAD spec.

    >>> import torch, fpsim, fpsim.torch as ft
    >>> x = torch.randn(4, 8, requires_grad=True); w = torch.randn(3, 8, requires_grad=True)
    >>> y = ft.linear(x, w, None, fpsim.AccumSpec("binary32", order="exact"))
    >>> bool((y == (x.double() @ w.double().T).float()).all())    # exact, rounded once
    True
    """
    specs, x, weight, bias, dtype = _layer_args("linear", spec, x, weight, bias)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: x's last dimension must equal in_features = "
                         f"{weight.shape[1]}, got x of shape {tuple(x.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got "
                         f"{tuple(bias.shape)}")
    _check_results(specs, dtype)
    lead = x.shape[:-1]
    y = _MatMul.apply(x.reshape(-1, x.shape[-1]), weight.t(), bias, specs)
    return y.reshape(lead + (weight.shape[0],))


def conv2d(x, weight, bias=None, spec=None, stride=1, padding=0, dilation=1,
           groups=1) -> torch.Tensor:
    """A 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) whose three
    GEMMs run under ``spec``: FWD n = C_in/groups·k_h·k_w, BWD n = C_out/groups·k_h·k_w,
    GRAD n = batch·H_out·W_out (the module docstring gives the exact orders).

    ``x`` is (N, C_in, H, W), ``weight`` (C_out, C_in/groups, k_h, k_w); ``stride``,
    ``padding`` (zeros) and ``dilation`` are ints or pairs.

    >>> import torch, fpsim, fpsim.torch as ft
    >>> x = torch.ones(1, 1, 4, 4); w = torch.ones(2, 1, 3, 3)
    >>> ft.conv2d(x, w, None, fpsim.AccumSpec("e5m2"), padding=1)[0, 0].tolist()
    [[4.0, 6.0, 6.0, 4.0], [6.0, 8.0, 8.0, 6.0], [6.0, 8.0, 8.0, 6.0], [4.0, 6.0, 6.0, 4.0]]
    """
    specs, x, weight, bias, dtype = _layer_args("conv2d", spec, x, weight, bias)
    stride = _pair(stride, "stride", 1)
    dilation = _pair(dilation, "dilation", 1)
    if padding == "valid":
        padding = 0
    if isinstance(padding, str):
        raise ValueError(f"conv2d: padding must be an int, a pair or 'valid', got {padding!r}")
    padding = _pair(padding, "padding", 0)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"conv2d: groups must be an integer >= 1, got {groups!r}")
    if x.ndim != 4:
        raise ValueError(f"conv2d: x must be 4-D (N, C_in, H, W), got shape {tuple(x.shape)}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (C_out, C_in/groups, k_h, k_w), got "
                         f"shape {tuple(weight.shape)}")
    O, Cg, kh, kw = weight.shape
    if O % groups or x.shape[1] != Cg * groups:
        raise ValueError(f"conv2d: groups={groups} must divide C_out={O} and C_in = "
                         f"groups * weight.shape[1] = {Cg * groups}, got x with "
                         f"{x.shape[1]} channels")
    if bias is not None and tuple(bias.shape) != (O,):
        raise ValueError(f"conv2d: bias must have shape ({O},), got {tuple(bias.shape)}")
    for axis, size, k in ((0, x.shape[2], kh), (1, x.shape[3], kw)):
        if size + 2 * padding[axis] < dilation[axis] * (k - 1) + 1:
            raise ValueError(f"conv2d: the padded input ({size} + 2*{padding[axis]}) is "
                             f"smaller than the dilated kernel ({dilation[axis] * (k - 1) + 1})")
    _check_results(specs, dtype)
    return _Conv2d.apply(x, weight, bias, specs, stride, padding, dilation, groups)


# ------------------------------------------------------------------ modules

def _copy_layer(cls, module, spec, attributes):
    """A ``cls`` with ``module``'s attributes and its very Parameter objects."""
    new = cls.__new__(cls)
    nn.Module.__init__(new)
    for name in attributes:
        setattr(new, name, getattr(module, name))
    new.weight = module.weight
    new.register_parameter("bias", module.bias)
    new.spec = as_gemm_specs(spec)
    new.train(module.training)
    return new


class Linear(nn.Linear):
    """torch.nn.Linear whose GEMMs run under ``spec`` (see :func:`linear`).

    >>> import fpsim, fpsim.torch as ft
    >>> ft.Linear(8, 4, spec=fpsim.AccumSpec(fpsim.accumulator(6)))
    Linear(in_features=8, out_features=4, bias=True, spec=GemmSpecs(fwd=AccumSpec(acc=e6m6, product=exact, rounding=rne, order=Sequential()), bwd=AccumSpec(acc=e6m6, product=exact, rounding=rne, order=Sequential()), grad=AccumSpec(acc=e6m6, product=exact, rounding=rne, order=Sequential()), operands=None, gradients=None))
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, *, spec):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.spec = as_gemm_specs(spec)

    @classmethod
    def from_module(cls, module: nn.Linear, spec) -> "Linear":
        """An emulated copy of ``module`` sharing its parameters (the same Parameter
        objects, so an optimiser built on the original keeps working)."""
        return _copy_layer(cls, module, spec, ("in_features", "out_features"))

    def forward(self, x):
        return linear(x, self.weight, self.bias, self.spec)

    def extra_repr(self):
        return f"{super().extra_repr()}, spec={self.spec!r}"


class Conv2d(nn.Conv2d):
    """torch.nn.Conv2d (zero padding) whose GEMMs run under ``spec`` (see :func:`conv2d`).

    >>> import fpsim, fpsim.torch as ft
    >>> ft.Conv2d(3, 8, 3, padding=1, spec=fpsim.AccumSpec("e6m6")).spec.fwd
    AccumSpec(acc=e6m6, product=exact, rounding=rne, order=Sequential())
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, spec):
        _check_conv_options(padding, padding_mode)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.spec = as_gemm_specs(spec)

    @classmethod
    def from_module(cls, module: nn.Conv2d, spec) -> "Conv2d":
        """An emulated copy of ``module`` sharing its parameters."""
        _check_conv_options(module.padding, module.padding_mode)
        return _copy_layer(cls, module, spec, (
            "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
            "transposed", "output_padding", "groups", "padding_mode",
            "_reversed_padding_repeated_twice"))

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.spec, self.stride, self.padding,
                      self.dilation, self.groups)

    def extra_repr(self):
        return f"{super().extra_repr()}, spec={self.spec!r}"


def _check_conv_options(padding, padding_mode):
    if padding_mode != "zeros":
        raise ValueError(f"fpsim.torch.Conv2d supports padding_mode='zeros' only, got "
                         f"{padding_mode!r}")
    if isinstance(padding, str) and padding != "valid":
        raise ValueError(f"fpsim.torch.Conv2d needs explicit padding (an int, a pair or "
                         f"'valid'), got {padding!r}")


def emulate(model: nn.Module, spec: AccumSpec | GemmSpecs | Mapping | Callable) -> nn.Module:
    """Swap every torch.nn.Linear and torch.nn.Conv2d of ``model`` in place for the
    emulated :class:`Linear` / :class:`Conv2d`, sharing the parameters.

    ``spec``: one spec for every layer; a mapping {module name: spec} (layers it does not
    name stay as they are); or a callable ``spec(name, module)`` returning a spec or
    ``None`` (leave that layer alone). Names are those of ``model.named_modules()``, the
    names to give :func:`fpsim.predict`'s layers so a prediction table maps onto the
    model. Layers already emulated get the new spec. Returns ``model`` (or the emulated
    layer when ``model`` itself is a Linear or Conv2d).

    >>> import torch, fpsim, fpsim.torch as ft
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> net = ft.emulate(net, lambda name, m: fpsim.AccumSpec("e6m5") if name == "2" else None)
    >>> [type(m).__module__ for m in net]
    ['torch.nn.modules.linear', 'torch.nn.modules.activation', 'fpsim.torch']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if callable(spec) and not isinstance(spec, (AccumSpec, GemmSpecs, Format, str)):
        choose = spec
    elif isinstance(spec, Mapping):
        unknown = set(spec) - {name for name, _ in model.named_modules()}
        if unknown:
            raise ValueError(f"spec names modules the model does not have: {sorted(unknown)}")
        choose = lambda name, module: spec.get(name)          # noqa: E731
    else:
        specs = as_gemm_specs(spec)
        choose = lambda name, module: specs                    # noqa: E731
    swaps = []
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            continue
        chosen = choose(name, module)
        if chosen is None:
            continue
        if isinstance(module, (Linear, Conv2d)):
            module.spec = as_gemm_specs(chosen)
            continue
        cls = Linear if isinstance(module, nn.Linear) else Conv2d
        swaps.append((name, cls.from_module(module, chosen)))
    for name, new in swaps:
        if name == "":
            return new
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, new)
    return model
