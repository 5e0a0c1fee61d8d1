"""matmul(A, B, spec, init=C): C broadcastable to the result (BLAS's D = A·B + C); each
element equals the dot product started from its element of C, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import fpsim
from fpsim import AccumSpec, BlockFMA, Chunked

SPECS = [AccumSpec("fp16"), AccumSpec("fp16", order=Chunked(4, outer="fp32")),
         AccumSpec("fp16", order="pairwise"), AccumSpec("fp16", order="kahan"),
         AccumSpec("fp16", order="exact"), AccumSpec("fp32", order=BlockFMA(4, 12)),
         AccumSpec("e8m13", rounding="rtz", order=Chunked(8, inner=BlockFMA(4, 13),
                                                          outer="fp32")),
         AccumSpec("bf16", rounding="sr")]


def _bits(x):
    return np.asarray(x, np.float64).view(np.uint64)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_each_element_is_its_dot(spec):
    rng = np.random.default_rng(1)
    A = fpsim.quantize(rng.standard_normal((3, 10)), "fp16")
    B = fpsim.quantize(rng.standard_normal((10, 4)), "fp16")
    C = fpsim.quantize(rng.standard_normal((3, 4)) * 4, spec.start_format)
    C[0, 0] = -0.0
    got = fpsim.matmul(A, B, spec, init=C, seed=5)
    for i in range(3):
        for j in range(4):
            want = fpsim.matmul(A[i:i + 1], B[:, j:j + 1], spec, init=float(C[i, j]), seed=5)
            if str(spec.rounding) == "sr":
                continue         # another element's stream: compared below on one element
            assert _bits(got[i, j]) == _bits(want[0, 0]), (i, j, float(C[i, j]).hex())
    one = fpsim.matmul(A[:1], B[:, :1], spec, init=C[:1, :1], seed=5)
    assert _bits(one) == _bits(fpsim.matmul(A[:1], B[:, :1], spec, init=float(C[0, 0]), seed=5))


def test_broadcasting_and_shapes():
    spec = AccumSpec("fp32")
    rng = np.random.default_rng(2)
    A = fpsim.quantize(rng.standard_normal((2, 3, 5)), "fp16")
    B = fpsim.quantize(rng.standard_normal((5, 4)), "fp16")
    row = np.array([1.0, -2.0, 0.5, 0.0])
    full = np.broadcast_to(row, (2, 3, 4)).copy()
    assert np.array_equal(_bits(fpsim.matmul(A, B, spec, init=row)),
                          _bits(fpsim.matmul(A, B, spec, init=full)))
    col = np.array([[1.0], [2.0], [3.0]])
    got = fpsim.matmul(A, B, spec, init=col)
    assert _bits(got[1, 2, 3]) == _bits(fpsim.dot(A[1, 2], B[:, 3], spec, init=3.0))
    # 1-D operands: the result drops their axis, and so does C
    v = fpsim.matmul(A[0, 0], B, spec, init=row)
    assert v.shape == (4,)
    assert _bits(v[1]) == _bits(fpsim.dot(A[0, 0], B[:, 1], spec, init=-2.0))
    assert _bits(fpsim.dot(A[0, 0], B[:, 1], spec, init=np.array(-2.0))) == _bits(v[1])
    s = fpsim.sum(np.ones((6, 3)), spec, axis=0, init=[0.5, 1.0, 2.0])
    assert s.tolist() == [6.5, 7.0, 8.0]


def test_refusals():
    spec = AccumSpec("fp16")
    A = np.ones((2, 3))
    B = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"init must hold values of the accumulator format "
                                         r"e5m10 .*0\.1 at index \(1, 2\)"):
        fpsim.matmul(A, B, spec, init=np.array([[0.0] * 4, [0.0, 0.0, 0.1, 0.0]]))
    with pytest.raises(ValueError, match=r"init must broadcast to the shape of the result "
                                         r"\(2, 4\).*\(3,\)"):
        fpsim.matmul(A, B, spec, init=np.zeros(3))
    with pytest.raises(TypeError, match="init"):
        fpsim.matmul(A, B, spec, init=np.array([True]))
    with pytest.raises(ValueError, match="e8m23"):
        fpsim.matmul(A, B, AccumSpec("fp16", order=Chunked(2, outer="fp32")),
                     init=np.full(4, 2.0**-150))       # below binary32's subnormals
    # fnuz: -0 starts the sum as +0, as with a scalar init
    r = fpsim.matmul(A, B, AccumSpec("e5m2fnuz"), init=np.full((2, 4), -0.0))
    assert not np.signbit(r).any()
