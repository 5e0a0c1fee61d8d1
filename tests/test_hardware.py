"""fpsim.hardware presets, bit for bit against real GPU results:

- the H200 calibration subset in tests/data/h200 (every pattern set, every K; see
  make_subset.py there): WMMA, torch._scaled_mm FP8 and cuBLAS half GEMMs;
- the block-step vectors of Khattak & Mikaitis (H100 and H200), read from
  $FPSIM_SHARED/data/tensor-core-validation or <repo>/../shared/data/...; skipped when
  absent.

Failures print the element, the operands' row and column and both bit patterns in hex."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import fpsim
from fpsim import hardware

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "h200"


def _shared() -> Path | None:
    for root in (os.environ.get("FPSIM_SHARED"), REPO.parent / "shared"):
        if root and (Path(root) / "data" / "tensor-core-validation").is_dir():
            return Path(root) / "data" / "tensor-core-validation"
    return None


def _dec(bits, fmt):
    return fpsim.decode(np.asarray(bits).astype(np.int64), fmt)


def _compare(got, want_bits, fmt, what):
    got_bits = fpsim.encode(got, fmt).astype(np.int64)
    want_bits = np.asarray(want_bits).astype(np.int64)
    bad = np.argwhere(got_bits != want_bits)
    report = [f"{tuple(int(i) for i in ix)}: got {got_bits[tuple(ix)]:#x}, want "
              f"{want_bits[tuple(ix)]:#x}" for ix in bad[:8]]
    assert not len(bad), f"{what}: {len(bad)} of {want_bits.size} differ\n" + "\n".join(report)
    return want_bits.size


WMMA = [("wmma_f16_f32", "fp16", "fp32", "hopper-mma-f16-f32"),
        ("wmma_bf16_f32", "bf16", "fp32", "hopper-mma-bf16-f32"),
        ("wmma_f16_f16", "fp16", "fp16", "hopper-mma-f16-f16"),
        ("wmma_tf32_f32", "fp32", "fp32", "hopper-mma-tf32-f32")]


@pytest.mark.parametrize("name,infmt,outfmt,preset", WMMA, ids=[w[3] for w in WMMA])
def test_wmma_calibration(name, infmt, outfmt, preset):
    z = np.load(DATA / f"{name}.npz")
    spec = hardware.preset(preset)
    sets = sorted({k.rsplit("_", 2)[0] for k in z.files})
    assert sets == ["random", "structured", "swamp", "ties", "wide"]
    for s in sets:
        A, B = _dec(z[f"{s}_a_bits"], infmt), _dec(z[f"{s}_b_bits"], infmt)
        C = _dec(z[f"{s}_c_bits"], outfmt)
        _compare(fpsim.matmul(A, B, spec, init=C), z[f"{s}_d_bits"], outfmt, f"{preset} {s}")


#: the split-K part lengths cuBLAS chose for these 16-column outputs (docs/hardware.md)
def _cublas_split(K):
    return None if K <= 1024 else 1408


def _fast_split(K):
    return 2816 if K >= 16384 else None


def test_fp8_calibration():
    z = np.load(DATA / "fp8_scaled_mm.npz")
    keys = sorted({"_".join(k.split("_")[:3]) for k in z.files})
    Ks = sorted({int(k.split("_")[1][1:]) for k in keys})
    assert Ks == [16, 32, 64, 128, 256, 512, 1024, 4096, 16384]
    assert {k.split("_")[2] for k in keys} == {"positive", "random", "structured", "swamp"}
    n = 0
    for k in keys:
        K = int(k.split("_")[1][1:])
        A, B = _dec(z[f"{k}_a_bits"], "e4m3fn"), _dec(z[f"{k}_b_bits"], "e4m3fn")
        n += _compare(fpsim.matmul(A, B, hardware.preset("hopper-fp8")),
                      z[f"{k}_d_fast0_bits"], "fp32", f"hopper-fp8 {k}")
        fast = hardware.preset("hopper-fp8-fast", split=_fast_split(K))
        n += _compare(fpsim.matmul(A, B, fast), z[f"{k}_d_fast1_bits"], "fp32",
                      f"hopper-fp8-fast {k}")
    assert n == 2 * len(keys) * 8


@pytest.mark.parametrize("half", ["f16", "bf16"])
def test_cublas_calibration(half):
    z = np.load(DATA / "cublas_half.npz")
    keys = sorted({"_".join(k.split("_")[:3]) for k in z.files if k.startswith(half + "_")})
    Ks = sorted({int(k.split("_")[1][1:]) for k in keys})
    assert Ks == [64, 256, 1024, 4096, 16384], keys
    fmt = "fp16" if half == "f16" else "bf16"
    name = f"hopper-cublas-{half}"
    for k in keys:
        K = int(k.split("_")[1][1:])
        A, B = _dec(z[f"{k}_a_bits"], fmt), _dec(z[f"{k}_b_bits"], fmt)
        out = fpsim.matmul(A, B, hardware.preset(name, split=_cublas_split(K)))
        f32 = fpsim.matmul(A, B, hardware.preset(name, split=_cublas_split(K), output="fp32"))
        _compare(f32, z[f"{k}_d_f32out_bits"], "fp32", f"{name} {k} binary32 output")
        for red in ("red0", "red1"):
            _compare(out, z[f"{k}_d_{red}_bits"], fmt, f"{name} {k} {red}")


VECTORS = [("fp16", "hopper-mma-f16-f32", "d_fp32"), ("bf16", "hopper-mma-bf16-f32", "d_fp32"),
           ("tf32", "hopper-mma-tf32-f32", "d_fp32"), ("fp16", "hopper-mma-f16-f16", "d_fp16"),
           ("E4M3", "hopper-fp8-fast", "d_fp32"), ("E5M2", "hopper-fp8-fast", "d_fp32")]


@pytest.mark.parametrize("gpu", ["H100", "H200"])
@pytest.mark.parametrize("fmt,name,out", VECTORS, ids=[f"{v[1]}-{v[0]}" for v in VECTORS])
def test_validation_vectors(gpu, fmt, name, out):
    root = _shared()
    if root is None:
        pytest.skip("tensor-core-validation vectors absent (set FPSIM_SHARED)")
    z = np.load(root / f"{gpu}_{fmt}.npz")
    a, b = _dec(z["a"], "fp32"), _dec(z["b"], "fp32")
    c = _dec(z["c_fp32"], "fp32")
    spec = hardware.preset(name)
    if fmt in ("E4M3", "E5M2"):
        c = np.zeros_like(c)                 # the WGMMA recording used c = 0 (README there)
    elif spec.acc != fpsim.formats.binary32:
        c = fpsim.quantize(c, spec.acc)      # C enters in the accumulator format
    got = fpsim.matmul(a[:, None, :], b[:, :, None], spec, init=c[:, None, None])[:, 0, 0]
    assert _compare(got, z[out], "fp32", f"{gpu} {fmt} {name}") == 5000


OTHER = [("V100", "fp16", "volta-mma-f16-f32", "d_fp32"),
         ("V100", "fp16", "volta-mma-f16-f16", "d_fp16")]
OTHER += [(gpu, fmt, f"ampere-mma-{name}", out) for gpu in ("A100", "A2") for fmt, name, out in (
    ("fp16", "f16-f32", "d_fp32"), ("fp16", "f16-f16", "d_fp16"), ("bf16", "bf16-f32", "d_fp32"),
    ("tf32", "tf32-f32", "d_fp32"))]


@pytest.mark.parametrize("gpu,fmt,name,out", OTHER, ids=[f"{o[0]}-{o[2]}" for o in OTHER])
def test_other_gpus_vectors(gpu, fmt, name, out):
    """The presets built from Khattak & Mikaitis's published parameters, on their GPUs'
    recorded vectors."""
    root = _shared()
    if root is None:
        pytest.skip("tensor-core-validation vectors absent (set FPSIM_SHARED)")
    z = np.load(root / f"{gpu}_{fmt}.npz")
    a, b = _dec(z["a"], "fp32"), _dec(z["b"], "fp32")
    spec = hardware.preset(name)
    c = fpsim.quantize(_dec(z["c_fp32"], "fp32"), spec.acc)
    got = fpsim.matmul(a[:, None, :], b[:, :, None], spec, init=c[:, None, None])[:, 0, 0]
    assert _compare(got, z[out], "fp32", f"{gpu} {fmt} {name}") == 5000


def test_listing_and_refusals():
    listed = hardware.presets()
    assert set(listed) >= {"hopper-mma-f16-f32", "hopper-mma-bf16-f32", "hopper-mma-f16-f16",
                           "hopper-mma-tf32-f32", "hopper-fp8-fast", "hopper-fp8",
                           "hopper-cublas-f16", "hopper-cublas-bf16"}
    assert all(p.source and p.checked for p in listed.values())
    with pytest.raises(ValueError, match="name must be one of"):
        hardware.preset("volta")
    with pytest.raises(ValueError, match="split"):
        hardware.preset("hopper-mma-f16-f32", split=64)
    with pytest.raises(ValueError, match="split must satisfy"):
        hardware.preset("hopper-fp8", split=64)
    with pytest.raises(ValueError, match="output must be one of"):
        hardware.preset("hopper-cublas-f16", output="bf16")
    assert hardware.preset("hopper-fp8", sr_bits=8).sr_bits == 8
