"""fpsim.torch: the forward pass and both gradients of matmul, linear and conv2d equal,
bit for bit, fpsim.matmul / fpsim.sum of the same operands under the same specs (the
operand matrices are built here by explicit index loops from the documented orders, not
by the bridge's im2col); with exact specs they agree with torch itself; bad input is
refused with the parameter named; emulate() swaps layers; fpsim train runs."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fpsim                                    # noqa: E402
import fpsim.torch as ft                        # noqa: E402
from fpsim import AccumSpec, Chunked            # noqa: E402

E5M2 = "e5m2"
#: narrow, chunked and mixed so that the order of every sum (and where padding and stride
#: zeros sit in it) shows in the bits
SPECS = ft.GemmSpecs(AccumSpec(fpsim.accumulator(2), order=Chunked(4)),
                     AccumSpec(fpsim.accumulator(3), order=Chunked(3)),
                     AccumSpec(fpsim.accumulator(2), order=Chunked(5)),
                     operands=E5M2, gradients=E5M2)
EXACT = AccumSpec("binary64", order="exact")


def q(t, fmt=E5M2):
    return fpsim.quantize(t.detach().double().numpy(), fmt)


def assert_bits(tensor, expected):
    """tensor (float32 or float64) equals the float64 array ``expected`` converted to its
    dtype, bit for bit (the conversion is exact: the accumulators fit float32)."""
    got = tensor.detach().numpy()
    want = np.asarray(expected).astype(got.dtype)
    assert got.shape == want.shape
    view = np.uint32 if got.dtype == np.float32 else np.uint64
    bad = got.view(view) != want.view(view)
    assert not bad.any(), (f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}: "
                           f"{got[bad][0].hex() if got.dtype == np.float64 else float(got[bad][0])!r} "
                           f"vs {float(want[bad][0])!r}")


def grads(y, inputs, seed=1):
    gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    return gy, torch.autograd.grad(y, inputs, gy)


def randn(*shape, seed, dtype=torch.float32):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype,
                       requires_grad=True)


# ------------------------------------------------------------------ bit for bit

def test_linear_equals_fpsim_matmul():
    x, w, b = randn(2, 3, 9, seed=0), randn(4, 9, seed=1), randn(4, seed=2)
    y = ft.linear(x, w, b, SPECS)
    gy, (gx, gw, gb) = grads(y, (x, w, b))
    X, W, G = q(x).reshape(6, 9), q(w), q(gy).reshape(6, 4)
    fwd = fpsim.matmul(X, W.T, SPECS.fwd).astype(np.float32) + b.detach().numpy()
    assert_bits(y, fwd.reshape(2, 3, 4))
    assert_bits(gx, fpsim.matmul(G, W, SPECS.bwd).reshape(2, 3, 9))     # n = out_features
    assert_bits(gw, fpsim.matmul(G.T, X, SPECS.grad))                   # n = batch = 6
    assert_bits(gb, fpsim.sum(G, SPECS.grad, axis=0))
    # negative control: the narrow specs do change the result
    assert not np.array_equal(fpsim.matmul(X, W.T, SPECS.fwd), X @ W.T)


def _conv_operands(X, Wt, G, stride, padding, dilation, groups):
    """Per group: the FWD/GRAD rows (n, y, x) x (c, i, j), the FWD weight matrix, the
    GRAD grad_output matrix (o, (n, y, x)), and the BWD rows (n, yy, xx) x (o, i', j')
    with the flipped-kernel matrix, by explicit loops over the documented index maps."""
    N, C, H, W_ = X.shape
    O, Cg, kh, kw = Wt.shape
    Og = O // groups
    (s0, s1), (p0, p1), (d0, d1) = stride, padding, dilation
    Ho, Wo = G.shape[2:]
    Xp = np.pad(X, ((0, 0), (0, 0), (p0, p0), (p1, p1)))

    def g_at(n, o, t0, t1):                     # grad_output dilated by the stride
        if t0 < 0 or t1 < 0 or t0 % s0 or t1 % s1 or t0 // s0 >= Ho or t1 // s1 >= Wo:
            return 0.0
        return G[n, o, t0 // s0, t1 // s1]

    out = []
    for g in range(groups):
        A = np.array([[Xp[n, g * Cg + c, y * s0 + i * d0, x * s1 + j * d1]
                       for c in range(Cg) for i in range(kh) for j in range(kw)]
                      for n in range(N) for y in range(Ho) for x in range(Wo)])
        Bf = np.array([[Wt[g * Og + o, c, i, j] for o in range(Og)]
                       for c in range(Cg) for i in range(kh) for j in range(kw)])
        Gm = np.array([[G[n, g * Og + o, y, x] for n in range(N) for y in range(Ho)
                        for x in range(Wo)] for o in range(Og)])
        Ab = np.array([[g_at(n, g * Og + o, yy + p0 - (kh - 1 - i) * d0, xx + p1 - (kw - 1 - j) * d1)
                        for o in range(Og) for i in range(kh) for j in range(kw)]
                       for n in range(N) for yy in range(H) for xx in range(W_)])
        Bb = np.array([[Wt[g * Og + o, c, kh - 1 - i, kw - 1 - j] for c in range(Cg)]
                       for o in range(Og) for i in range(kh) for j in range(kw)])
        out.append((A, Bf, Gm, Ab, Bb))
    return out


GEOMETRIES = [  # stride, padding, dilation, groups, kernel
    ((1, 1), (0, 0), (1, 1), 1, (3, 3)),
    ((2, 2), (1, 1), (1, 1), 1, (3, 2)),
    ((1, 1), (2, 1), (2, 1), 2, (3, 3)),
    ((2, 1), (1, 0), (1, 2), 4, (2, 3)),
]


@pytest.mark.parametrize("stride, padding, dilation, groups, kernel", GEOMETRIES)
def test_conv2d_equals_fpsim_matmul(stride, padding, dilation, groups, kernel):
    N, C, H, W_, O = 2, 4, 5, 6, 4
    x = randn(N, C, H, W_, seed=3)
    w = randn(O, C // groups, *kernel, seed=4)
    b = randn(O, seed=5)
    y = ft.conv2d(x, w, b, SPECS, stride, padding, dilation, groups)
    gy, (gx, gw, gb) = grads(y, (x, w, b))
    assert y.shape == torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups).shape
    X, Wt, G = q(x), q(w), q(gy)
    Og, Cg = O // groups, C // groups
    Ho, Wo = y.shape[2:]
    fwd = np.empty((N, O, Ho, Wo))
    bwd = np.empty((N, C, H, W_))
    grad = np.empty(Wt.shape)
    for g, (A, Bf, Gm, Ab, Bb) in enumerate(_conv_operands(X, Wt, G, stride, padding,
                                                           dilation, groups)):
        fwd[:, g * Og:(g + 1) * Og] = fpsim.matmul(A, Bf, SPECS.fwd).reshape(N, Ho, Wo, Og).transpose(0, 3, 1, 2)
        grad[g * Og:(g + 1) * Og] = fpsim.matmul(Gm, A, SPECS.grad).reshape(Og, Cg, *kernel)
        bwd[:, g * Cg:(g + 1) * Cg] = fpsim.matmul(Ab, Bb, SPECS.bwd).reshape(N, H, W_, Cg).transpose(0, 3, 1, 2)
    assert_bits(y, fwd.astype(np.float32) + b.detach().numpy()[:, None, None])
    assert_bits(gw, grad)
    assert_bits(gx, bwd)
    assert_bits(gb, fpsim.sum(G.transpose(0, 2, 3, 1).reshape(-1, O), SPECS.grad, axis=0))


def test_batched_matmul_equals_fpsim_matmul():
    """b (3, 5, 6) broadcast over a's leading axis: grad_b sums over it inside the same
    dot products (batch-major); a 2-D a broadcast over b's batch likewise."""
    a, b = randn(2, 3, 4, 5, seed=6), randn(3, 5, 6, seed=7)
    y = ft.matmul(a, b, SPECS)
    gy, (ga, gb) = grads(y, (a, b))
    A, B, G = q(a), q(b), q(gy)
    assert_bits(y, fpsim.matmul(A, B, SPECS.fwd))
    assert_bits(ga, fpsim.matmul(G, np.swapaxes(B, -1, -2), SPECS.bwd))
    want = [fpsim.matmul(np.concatenate([A[r, k].T for r in range(2)], axis=1),
                         np.concatenate([G[r, k] for r in range(2)], axis=0), SPECS.grad)
            for k in range(3)]
    assert_bits(gb, np.stack(want))

    a2 = randn(4, 5, seed=8)
    y = ft.matmul(a2, b, SPECS)
    gy, (ga2,) = grads(y, (a2,))
    G = q(gy)
    assert_bits(y, fpsim.matmul(q(a2), B, SPECS.fwd))
    assert_bits(ga2, fpsim.matmul(np.concatenate(list(G), axis=1),
                                  np.concatenate([B[k].T for k in range(3)], axis=0), SPECS.bwd))


# ------------------------------------------------------------------ exact specs = torch

def _ints(*shape, seed):
    """Small integers as float64: every sum of their products is exact, in torch too."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-3, 4, shape, generator=g).double().requires_grad_()


@pytest.mark.parametrize("stride, padding, dilation, groups, kernel", GEOMETRIES)
def test_exact_conv2d_equals_torch(stride, padding, dilation, groups, kernel):
    x, w, b = _ints(2, 4, 5, 6, seed=1), _ints(4, 4 // groups, *kernel, seed=2), _ints(4, seed=3)
    y = ft.conv2d(x, w, b, EXACT, stride, padding, dilation, groups)
    y0 = torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups)
    assert torch.equal(y, y0)
    gy = torch.randint(-3, 4, y.shape, generator=torch.Generator().manual_seed(4)).double()
    for mine, theirs in zip(torch.autograd.grad(y, (x, w, b), gy),
                            torch.autograd.grad(y0, (x, w, b), gy)):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize("sa, sb", [((2, 3, 4, 5), (3, 5, 2)), ((4, 5), (3, 5, 2)),
                                    ((2, 1, 4, 5), (3, 5, 2)), ((5,), (5,)), ((4, 5), (5,))])
def test_exact_matmul_equals_torch(sa, sb):
    a, b = _ints(*sa, seed=5), _ints(*sb, seed=6)
    y, y0 = ft.matmul(a, b, EXACT), a @ b
    assert torch.equal(y, y0)
    gy = torch.randint(-3, 4, y.shape, generator=torch.Generator().manual_seed(7)).double()
    for mine, theirs in zip(torch.autograd.grad(y, (a, b), gy), torch.autograd.grad(y0, (a, b), gy)):
        assert torch.equal(mine, theirs)


def test_gradcheck_with_exact_specs():
    """torch.autograd.gradcheck (finite differences, its default tolerances) on random
    float64 operands: each result is the exact sum rounded once to float64."""
    x, w, b = (randn(*s, seed=k, dtype=torch.float64) for k, s in
               enumerate([(1, 2, 4, 3), (2, 2, 2, 2), (2,)]))
    assert torch.autograd.gradcheck(
        lambda x, w, b: ft.conv2d(x, w, b, EXACT, stride=2, padding=1), (x, w, b))
    x, w, b = randn(3, 5, seed=4, dtype=torch.float64), randn(2, 5, seed=5, dtype=torch.float64), \
        randn(2, seed=6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x, w, b: ft.linear(x, w, b, EXACT), (x, w, b))


# ------------------------------------------------------------------ dtypes and errors

def test_float32_carries_only_accumulators_it_holds():
    x, w = randn(2, 3, seed=0), randn(4, 3, seed=1)
    with pytest.raises(ValueError, match="float32 cannot hold.*float64 tensors"):
        ft.linear(x, w, None, AccumSpec("binary64"))
    with pytest.raises(ValueError, match="GRAD spec sums into e11m30"):
        ft.linear(x, w, None, ft.GemmSpecs("e6m5", grad=AccumSpec("e6m5", order=Chunked(4, outer="e11m30"))))
    y = ft.linear(x.double(), w.double(), None, AccumSpec("binary64"))
    assert y.dtype == torch.float64
    assert ft.linear(x, w, None, AccumSpec("binary32")).dtype == torch.float32
    assert ft.fits_float32(fpsim.formats.bfloat16) and not ft.fits_float32(fpsim.Format(11, 10))


def test_bad_input_is_refused_with_the_parameter_named():
    x, w = torch.ones(2, 3), torch.ones(4, 3)
    spec = AccumSpec("e6m5")
    cases = [
        (lambda: ft.linear(torch.ones(2, 3, device="meta"), w, None, spec), ValueError, "x is on device meta"),
        (lambda: ft.linear(x.half(), w.half(), None, spec), TypeError, "x must be float32 or float64"),
        (lambda: ft.linear(x.int(), w, None, spec), TypeError, "x must be float32"),
        (lambda: ft.linear(x, w.double(), None, spec), TypeError, "share one dtype"),
        (lambda: ft.linear(x, torch.ones(4, 5), None, spec), ValueError, "in_features = 5"),
        (lambda: ft.linear(x, w, torch.ones(3), spec), ValueError, "bias must have shape"),
        (lambda: ft.linear(x.numpy(), w, None, spec), TypeError, "x must be a torch.Tensor"),
        (lambda: ft.linear(x, w, None, None), TypeError, "spec is required"),
        (lambda: ft.linear(x, w, None, 3), TypeError, "spec must be"),
        (lambda: ft.matmul(x, w, spec), ValueError, "inner dimensions differ"),
        (lambda: ft.matmul(torch.ones(2, 2, 3), torch.ones(3, 3, 1), spec), ValueError, "do not broadcast"),
        (lambda: ft.conv2d(torch.ones(1, 4, 5, 5), torch.ones(2, 3, 3, 3), None, spec), ValueError, "groups=1 must divide"),
        (lambda: ft.conv2d(torch.ones(4, 5, 5), torch.ones(2, 4, 3, 3), None, spec), ValueError, "x must be 4-D"),
        (lambda: ft.conv2d(torch.ones(1, 4, 2, 2), torch.ones(2, 4, 3, 3), None, spec), ValueError, "smaller than the dilated kernel"),
        (lambda: ft.conv2d(torch.ones(1, 4, 5, 5), torch.ones(2, 4, 3, 3), None, spec, stride=0), ValueError, "stride must be >= 1"),
        (lambda: ft.conv2d(torch.ones(1, 4, 5, 5), torch.ones(2, 4, 3, 3), None, spec, padding="same"), ValueError, "padding must be"),
        (lambda: ft.GemmSpecs("e6m5", operands="e99m2"), ValueError, "exp_bits must satisfy"),
        (lambda: ft.Conv2d(1, 2, 3, padding_mode="reflect", spec=spec), ValueError, "padding_mode"),
    ]
    for call, exc, message in cases:
        with pytest.raises(exc, match=message):
            call()


def test_stochastic_rounding_follows_torch_manual_seed():
    spec = AccumSpec(fpsim.accumulator(2), rounding="sr")
    x, w = randn(8, 64, seed=0), randn(4, 64, seed=1)
    torch.manual_seed(3)
    y1 = ft.linear(x, w, None, spec)
    torch.manual_seed(3)
    y2 = ft.linear(x, w, None, spec)
    y3 = ft.linear(x, w, None, spec)               # the generator moved on
    assert torch.equal(y1, y2) and not torch.equal(y1, y3)


# ------------------------------------------------------------------ modules

def test_emulate_swaps_layers_and_shares_parameters():
    from torch import nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Sequential(nn.Linear(2 * 16, 3)))
    params = list(net.parameters())
    out = ft.emulate(net, {"0": SPECS, "3.0": AccumSpec("e6m4")})
    assert out is net and isinstance(net[0], ft.Conv2d) and isinstance(net[3][0], ft.Linear)
    assert all(p is q for p, q in zip(net.parameters(), params))      # optimisers keep working
    x = torch.randn(2, 1, 4, 4)
    want = ft.linear(torch.relu(ft.conv2d(x, net[0].weight, net[0].bias, SPECS, padding=1)).flatten(1),
                     net[3][0].weight, net[3][0].bias, AccumSpec("e6m4"))
    assert torch.equal(net(x), want)
    ft.emulate(net, lambda name, m: AccumSpec("e6m7") if isinstance(m, nn.Linear) else None)
    assert net[3][0].spec.fwd.acc.man_bits == 7 and net[0].spec is SPECS
    with pytest.raises(ValueError, match="does not have"):
        ft.emulate(net, {"nope": SPECS})
    lone = ft.emulate(nn.Linear(3, 2), AccumSpec("e6m4"))
    assert isinstance(lone, ft.Linear) and lone.spec.fwd.acc.man_bits == 4
    assert set(dict(ft.Linear(3, 2, bias=False, spec=SPECS).named_parameters())) == {"weight"}


# ------------------------------------------------------------------ the experiment

def test_fpsim_train_quick(tmp_path, capsys):
    """The command runs every step (tiny: 64 images, one epoch) and its runs are
    reproducible: the same seed gives the same curves bit for bit."""
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from fpsim.app import train
    from fpsim.app.cli import main
    assert main(["train", "--quick", "--quiet", "--offsets", "0,3", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "binary32 accumulator" in printed and "predicted - 3, chunks of 64" in printed
    result = json.loads((tmp_path / "train.json").read_text())
    assert [r["label"] for r in result["results"]][:3] == [
        "float32 (plain torch)", "binary32 accumulator", "predicted, single sums"]
    rows = {(r["layer"], r["gemm"]): r for r in result["prediction"]}
    assert rows[("conv1", "GRAD")]["n"] == 32 * 64 and rows[("fc", "FWD")]["n"] == 128
    assert rows[("conv2", "BWD")]["n"] == 8 * 9
    assert os.path.getsize(tmp_path / "figures" / "training.png") > 10_000
    assert "Training with emulated accumulators" in (tmp_path / "training.md").read_text()
    specs = train.configurations(_table(result), [3])[2]["specs"]      # predicted - 3
    cfg = {**train.SETTINGS["quick"], "batch": 32}
    with train.threads(1):
        runs = [train.train_one(specs, train.load_digits(64), 0, {**cfg, "epochs": 1})
                for _ in range(2)]
    assert runs[0] == runs[1]


def _table(result):
    from fpsim import PredictionRow, PredictionTable
    rows = tuple(PredictionRow(**r) for r in result["prediction"])
    return PredictionTable("custom", 32, 64, 5, 1.0, 50.0, "paper", rows)


@pytest.mark.parametrize("name", ["fpsim.torch", "fpsim.app.train"])
def test_docstring_examples(name):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
