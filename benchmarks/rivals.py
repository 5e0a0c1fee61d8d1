"""The rivals, each wrapped as a timing Case (the team notes design/peers.md, in the shared material beside the repository).

Every adapter imports its library lazily; a library that is not installed, a format or
mode it cannot express, or a call that fails becomes ``Failed(reason)`` in the report,
never an error. The harness therefore runs with fpsim's runtime dependencies alone.

Operands are prepared outside the timed call (ml_dtypes gets float32 inputs: its
float64 casts round twice, peers.md). What each call does is stated in ``Case.note``.
"""
from __future__ import annotations

import importlib

import numpy as np

from benchmarks.timing import Case, Failed, Missing, NotApplicable

#: Display name -> importable module.
LIBRARIES = {"numpy": "numpy", "ml_dtypes": "ml_dtypes", "APyTypes": "apytypes",
             "gfloat": "gfloat", "pychop": "pychop"}

_cache: dict = {}


def load(name: str):
    """The module of rival ``name``, or raise Missing with the reason."""
    if name not in _cache:
        try:
            _cache[name] = importlib.import_module(LIBRARIES[name])
        except Exception as exc:  # ImportError, or a broken install
            _cache[name] = Missing(f"not installed ({type(exc).__name__}: {exc})")
    mod = _cache[name]
    if isinstance(mod, Missing):
        raise mod
    return mod


def version(name: str) -> str:
    """Version string of rival ``name``, or ``missing: <reason>``."""
    try:
        mod = load(name)
    except Missing as exc:
        return f"missing: {exc}"
    v = getattr(mod, "__version__", None)
    if v is None:
        try:
            from importlib.metadata import version as dist_version
            v = dist_version(LIBRARIES[name])
        except Exception:
            v = "unknown"
    return str(v)


def _guard(make):
    """Build a Case with ``make()``; Missing or any error becomes Failed."""
    try:
        return make()
    except Missing as exc:
        return Failed(str(exc), isinstance(exc, NotApplicable))
    except Exception as exc:
        return Failed(f"{type(exc).__name__}: {exc}")


# ---- formats as each rival spells them ---------------------------------------------------
#: (exp_bits, man_bits) of the IEEE-like formats (APyTypes, pychop can express only these).
IEEE_LIKE = {"binary16": (5, 10), "bfloat16": (8, 7), "e5m2": (5, 2)}
ML_DTYPES = {"bfloat16": "bfloat16", "e4m3fn": "float8_e4m3fn", "e5m2": "float8_e5m2",
             "e2m1": "float4_e2m1fn"}
GFLOAT = {"binary16": "format_info_binary16", "bfloat16": "format_info_bfloat16",
          "e4m3fn": "format_info_ocp_e4m3", "e5m2": "format_info_ocp_e5m2",
          "e2m1": "format_info_ocp_e2m1"}


def _not_ieee(lib, fmt):
    return NotApplicable(f"{lib} has IEEE-like formats only (inf at the top exponent); "
                   f"{fmt} is not one")


# ---- quantize -------------------------------------------------------------------------------
def quantize_cases(fmt: str, mode: str, x64: np.ndarray, x32: np.ndarray, small: int,
                   tiny: int) -> dict:
    """Rival cases for rounding ``x64`` into ``fmt`` with ``mode`` (rne, rtz, sr).

    Returns {label: (Case | Failed, result_fn)}; ``result_fn(n)`` gives the rival's result
    for the first n inputs as float64 (for the agreement check) and ``ref`` says which
    input fpsim must be compared on ("x64" or "x32").
    """
    out = {}
    n = x64.size

    def numpy_case():
        if fmt != "binary16":
            raise NotApplicable(f"numpy has no {fmt} dtype")
        if mode != "rne":
            raise NotApplicable("numpy casts round to nearest even only")
        return (Case(lambda: x64.astype(np.float16), n, "values", note="float64 → float16 astype"),
                lambda k: x64[:k].astype(np.float16).astype(np.float64), "x64")

    def ml_case():
        mld = load("ml_dtypes")
        if fmt not in ML_DTYPES:
            raise NotApplicable(f"ml_dtypes has no {fmt} type (numpy's float16 is the binary16 cast)")
        if mode != "rne":
            raise NotApplicable("ml_dtypes casts round to nearest even only")
        dt = getattr(mld, ML_DTYPES[fmt])
        return (Case(lambda: x32.astype(dt), n, "values", note=f"float32 → {ML_DTYPES[fmt]} astype"),
                lambda k: x32[:k].astype(dt).astype(np.float64), "x32")

    def apy_case():
        apy = load("APyTypes")
        if fmt not in IEEE_LIKE:
            raise _not_ieee("APyTypes", fmt)
        e, m = IEEE_LIKE[fmt]
        F = apy.APyFloatArray
        if mode == "rne":
            return (Case(lambda: F.from_float(x64, e, m), n, "values",
                         note=f"APyFloatArray.from_float(x, {e}, {m})"),
                    lambda k: F.from_float(x64[:k], e, m).to_numpy(), "x64")
        q = {"rtz": apy.QuantizationMode.TO_ZERO, "sr": apy.QuantizationMode.STOCH_WEIGHTED}[mode]
        return (Case(lambda: F.from_float(x64, 11, 52).cast(e, m, quantization=q), n, "values",
                     note=f"from_float(x, 11, 52).cast({e}, {m}, {q.name})"),
                lambda k: F.from_float(x64[:k], 11, 52).cast(e, m, quantization=q).to_numpy(),
                "x64")

    def gfloat_case():
        gf = load("gfloat")
        import gfloat.formats as gff
        if mode == "sr":
            raise NotApplicable("gfloat's stochastic rounding needs caller-drawn random bits; not timed")
        fi = getattr(gff, GFLOAT[fmt])
        rnd = {"rne": gf.RoundMode.TiesToEven, "rtz": gf.RoundMode.TowardZero}[mode]
        sat = fmt == "e2m1"                    # a 'finite' format: overflow saturates
        xs = x64[:small]
        return (Case(lambda: gf.round_ndarray(fi, xs, rnd=rnd, sat=sat), xs.size, "values",
                     note=f"round_ndarray({GFLOAT[fmt][12:]}), {xs.size:.0e} values"),
                lambda k: gf.round_ndarray(fi, x64[:k], rnd=rnd, sat=sat), "x64")

    def pychop_case():
        pc = load("pychop")
        if fmt not in IEEE_LIKE:
            raise _not_ieee("pychop", fmt)
        e, m = IEEE_LIKE[fmt]
        rmode = {"rne": 1, "rtz": 4, "sr": 5}[mode]
        ch = pc.Chop(exp_bits=e, sig_bits=m, rmode=rmode, subnormal=True)
        xs = x64[:tiny]
        return (Case(lambda: ch(xs), xs.size, "values",
                     note=f"Chop({e}, {m}, rmode={rmode}), {xs.size:.0e} values"),
                lambda k: np.asarray(ch(x64[:k]), dtype=np.float64), "x64")

    for label, make in (("numpy", numpy_case), ("ml_dtypes", ml_case), ("APyTypes", apy_case),
                        ("gfloat", gfloat_case), ("pychop", pychop_case)):
        out[label] = _guard(make)
    return out


# ---- elementwise ---------------------------------------------------------------------------
def elementwise_cases(op: str, a: np.ndarray, b: np.ndarray, small: int, tiny: int) -> dict:
    """Rival cases for ``op`` (add, mul, fma) of binary16 operands rounded to binary16, RNE."""
    n = a.size
    out = {}
    if op == "fma":
        reason = Failed("no fused multiply-add with a single rounding into binary16", na=True)
        return {lib: reason for lib in ("numpy", "APyTypes", "gfloat", "pychop")}
    npop = {"add": np.add, "mul": np.multiply}[op]

    def numpy_case():
        a16, b16 = a.astype(np.float16), b.astype(np.float16)
        return (Case(lambda: npop(a16, b16), n, "values", note="native float16 ufunc"),
                lambda k: npop(a16[:k], b16[:k]).astype(np.float64), "x64")

    def apy_case():
        apy = load("APyTypes")
        A = apy.APyFloatArray.from_float(a, 5, 10)
        B = apy.APyFloatArray.from_float(b, 5, 10)
        f = (lambda: A + B) if op == "add" else (lambda: A * B)
        return (Case(f, n, "values", note="APyFloatArray e5m10 operator"),
                lambda k: (A[:k] + B[:k] if op == "add" else A[:k] * B[:k]).to_numpy(), "x64")

    def gfloat_case():
        gf = load("gfloat")
        import gfloat.formats as gff
        fi = gff.format_info_binary16
        xa, xb = a[:small], b[:small]
        return (Case(lambda: gf.round_ndarray(fi, npop(xa, xb)), xa.size, "values",
                     note=f"float64 {op}, then round_ndarray; {xa.size:.0e} values"),
                lambda k: gf.round_ndarray(fi, npop(a[:k], b[:k])), "x64")

    def pychop_case():
        pc = load("pychop")
        ch = pc.Chop(exp_bits=5, sig_bits=10, rmode=1, subnormal=True)
        xa, xb = a[:tiny], b[:tiny]
        return (Case(lambda: ch(npop(xa, xb)), xa.size, "values",
                     note=f"float64 {op}, then Chop; {xa.size:.0e} values"),
                lambda k: np.asarray(ch(npop(a[:k], b[:k])), dtype=np.float64), "x64")

    for label, make in (("numpy", numpy_case), ("APyTypes", apy_case), ("gfloat", gfloat_case),
                        ("pychop", pychop_case)):
        out[label] = _guard(make)
    return out


# ---- matrix and dot products ----------------------------------------------------------------
def apytypes_matmul_case(A: np.ndarray, B: np.ndarray, what: str = "matmul"):
    """APyTypes, sequential, products rounded into the e5m10 RNE accumulator (peers.md)."""
    def make():
        apy = load("APyTypes")
        a = apy.APyFloatArray.from_float(A, 5, 10)
        b = apy.APyFloatArray.from_float(B, 5, 10)
        Q = apy.QuantizationMode.TIES_EVEN

        def f():
            with apy.APyFloatAccumulatorContext(exp_bits=5, man_bits=10, quantization=Q):
                return a @ b

        def result():
            r = f()
            return np.asarray(r.to_numpy() if hasattr(r, "to_numpy") else float(r), dtype=np.float64)

        work = A.shape[0] * A.shape[-1] * (B.shape[1] if B.ndim == 2 else 1) if A.ndim == 2 \
            else A.size
        return (Case(f, work, "MACs", note=f"{what} in APyFloatAccumulatorContext(5, 10, TIES_EVEN)"),
                result)
    return _guard(make)


def pychop_gemm_case(A: np.ndarray, B: np.ndarray):
    """pychop has no accumulator: chop the product and the sum after every step k
    (C = chop(C + chop(outer(A[:, k], B[k, :])))), which is the same arithmetic as fpsim
    sequential with product=binary16."""
    def make():
        pc = load("pychop")
        ch = pc.Chop(exp_bits=5, sig_bits=10, rmode=1, subnormal=True)
        M, K = A.shape
        N = B.shape[1]

        def f():
            C = np.zeros((M, N))
            for k in range(K):
                C = ch(C + ch(np.outer(A[:, k], B[k, :])))
            return C
        return (Case(f, M * K * N, "MACs", note=f"chop after every step, {M}x{K} by {K}x{N}"),
                lambda: np.asarray(f(), dtype=np.float64))
    return _guard(make)
