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
    from fpsim.kernels.codes import RNE
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
    _, levels, plan = mac_plan(spec, product_exactness(qa, x), stats=False, seed=0)
    assert mac_plan(spec, product_exactness(x[0], x[:, 1]), stats=False, seed=0)[2] == plan
    one_tile, all_tiles = sequential_kernels(variant_of(*plan, levels))
    # the variants these calls take: rne into binary16 (subnormals), bfloat16 add's fast pass
    to_f64, _ = quantize.quantize_kernels(RNE, True)
    kernels = {"quantize_kernel": to_f64, "encode_kernel": quantize.encode_kernel,
               "decode_kernel": quantize.decode_kernel,
               "binary_kernel": elementwise.binary_kernels(0, elementwise.fast_mode(0, 7, 0, RNE)),
               "sequential all_tiles": all_tiles, "sequential one_tile": one_tile}
    for name, kernel in kernels.items():
        assert len(kernel.signatures) == 1, (name, kernel.signatures)


def test_by_literal_types_the_chosen_body_only():
    """by_literal's point: the body a literal does not choose is never typed (here it
    could not be: it adds a string to a float), and a run-time value is refused."""
    from numba import njit
    from numba.core.errors import TypingError
    from fpsim.kernels.jit import by_literal
    pick = by_literal("pick", 1, {0: lambda x, which: x + 1.0,
                                  1: lambda x, which: x + "untypeable"})
    assert njit(lambda x: pick(x, 0))(2.0) == 3.0
    with pytest.raises(TypingError):
        njit(lambda x: pick(x, 1))(2.0)
    with pytest.raises(TypingError):
        njit(lambda x, w: pick(x, w))(2.0, 0)


# a fresh process's prelude: `names` collects the functions it compiles (not those it loads)
_RECORD_COMPILES = r"""
import json, os, sys, time, numpy as np
from numba.core import event
names = []
class Names(event.Listener):
    def on_start(self, ev):
        names.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Names())
import fpsim
"""

_COMPILED = _RECORD_COMPILES + r"""
fpsim.dot(np.ones(64), np.ones(64), fpsim.AccumSpec("fp16"))
after_dot = list(names)
fpsim.matmul(np.ones((8, 64)), np.ones((64, 40)), fpsim.AccumSpec("fp16"))
print(json.dumps([after_dot, names]))
"""


def test_first_dot_compiles_its_variant_only_and_matmul_reuses_its_tile(tmp_path):
    """A first dot with a binary16 RNE accumulator, in a fresh process with an empty cache,
    compiles the lean pass of the plain tile and nothing of the other tiers or of the
    chunked orders (issue 15: that unused code was most of the first call's 15 s), and of
    the scalar general path only the addition it may need: not the fused multiply-add (its
    products are exact), nor at import the division or square root nobody called. A
    matmul of the same variant then compiles its parallel loop but not the tile again
    (``jit.FIRST``: a literal 0 row and column would make dot's tile a second version)."""
    import json
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _COMPILED], capture_output=True, text=True,
                         env=env, timeout=600, check=True)
    after_dot, after_matmul = json.loads(out.stdout.strip().splitlines()[-1])
    names = set(after_dot)
    assert after_matmul.count("plain_tile") == 1, sorted(after_matmul)
    assert any(n.endswith(".all_tiles") for n in after_matmul[len(after_dot):]), after_matmul
    assert {"_lean_pass", "plain_tile"} <= names, sorted(names)
    assert not names & {"_checked_pass", "chunked_tile", "_fold"}, sorted(names)
    assert "add_one" in names and not names & {"fma_one", "mul_one", "div_one", "sqrt_one"}, \
        sorted(names)


_TOGETHER = _RECORD_COMPILES + r"""
barrier = sys.argv[1]
open(os.path.join(barrier, str(os.getpid())), "w").close()
deadline = time.monotonic() + 120
while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
    time.sleep(0.01)
out = fpsim.quantize(np.linspace(-3, 3, 101), "fp8_e4m3fn", rounding="rto")
print(json.dumps([names, out.tolist()]))
"""


def test_processes_starting_together_compile_a_kernel_once(tmp_path):
    """Two fresh processes on one empty cache ask for the same variant at the same moment:
    one compiles it, the other waits and loads it (jit._compile_once), and both get the
    same values. Without the lock both compile (the quantize block takes seconds, so the
    two overlap)."""
    import json
    import os
    import subprocess
    import sys
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-c", _TOGETHER, str(barrier)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    (names_a, out_a), (names_b, out_b) = results
    assert out_a == out_b
    compiled = names_a.count("_quantize_block") + names_b.count("_quantize_block")
    assert compiled == 1, (sorted(names_a), sorted(names_b))


def test_inlined_helper_is_translated_once_and_closures_keep_their_constants():
    """The inlined-IR memo (jit._memoize_inlined_ir): a helper inlined into two callers
    is translated to IR once, and two closures of one code with different captured
    constants are two entries, each inlined with its own constant."""
    from numba import njit
    from fpsim.kernels import jit as kjit

    if not kjit.INLINE_MEMO_INSTALLED:
        pytest.skip("the inlined-IR memo is off (FPSIM_INLINE_MEMO=0 or another Numba)")

    def adder(c):
        @kjit.inline
        def add(x):
            return x + c
        return add

    one, two = adder(1.0), adder(2.0)
    before = len(kjit._INLINED_IR)
    assert njit(lambda x: one(x) * 2.0)(1.0) == 4.0
    assert njit(lambda x: one(x) - 1.0)(1.0) == 1.0
    assert len(kjit._INLINED_IR) == before + 1
    assert njit(lambda x: two(x) * 2.0)(1.0) == 6.0
    assert len(kjit._INLINED_IR) == before + 2


# a fresh process compiles one quantize variant and prints its machine code, without the
# variant's unique numbers (Numba numbers each function it translates, and the memo
# translates fewer)
_MACHINE_CODE = r"""
import re, sys, numpy as np, fpsim
from fpsim.kernels import jit, quantize
fpsim.quantize(np.linspace(-3, 3, 101), "fp8_e4m3fn", rounding="rtz")
print(jit.INLINE_MEMO_INSTALLED)
for sig in quantize._quantize_block.signatures:
    asm = quantize._quantize_block.inspect_asm(sig)
    asm = re.sub(r"B\d+v\d+B", "BvB", asm)
    print("\n".join(line for line in asm.splitlines()
                    if not line.lstrip().startswith((".file", ".loc", ".size", ".ascii"))))
"""


def test_inlined_ir_memo_leaves_the_machine_code_as_it_was(tmp_path):
    """The same variant compiled with the memo and without it (FPSIM_INLINE_MEMO=0), each
    in a fresh process on an empty cache, is the same machine code instruction for
    instruction (the block function, which inlines the rounding helpers at many sites)."""
    import os
    import subprocess
    import sys
    code = {}
    for memo in ("1", "0"):
        env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / memo), FPSIM_INLINE_MEMO=memo)
        out = subprocess.run([sys.executable, "-c", _MACHINE_CODE], capture_output=True,
                             text=True, env=env, timeout=600, check=True).stdout
        flag, _, code[memo] = out.partition("\n")
        assert flag == str(memo == "1"), out[:200]
    assert code["1"].count("\n") > 1000
    assert code["1"] == code["0"]


def test_scalar_entry_compiles_its_one_signature_on_first_use():
    """scalar_entry: nothing compiled when defined (import costs nothing), then exactly the
    declared signature, shared by Python calls and by compiled callers passing literals;
    arguments it cannot take are a TypeError, not a new compilation."""
    from numba import float64, int64, njit
    from fpsim.kernels.jit import scalar_entry

    @scalar_entry(float64, int64)
    def scaled(x, n):
        return x * n

    assert scaled.signatures == []
    assert scaled(1.5, 2) == 3.0
    assert njit(lambda: scaled(2.0, 3))() == 6.0
    assert scaled.signatures == [(float64, int64)]
    with pytest.raises(TypeError):
        scaled("x", 1)


def test_built_variants_and_their_coverage(tmp_path):
    """built_variants records each factory key and compiled signature; variant_coverage
    finds a mode, a carrier or a whole function that one run built and the other did not."""
    import json

    import variant_coverage as vc
    from fpsim.kernels.codes import RTZ
    from fpsim.kernels.jit import built_variants

    fpsim.quantize(np.ones(3), "fp16", rounding="rtz")
    built = built_variants()
    keys = [key for key, _ in built["fpsim.kernels.quantize.quantize_kernels"]]
    assert (RTZ, True) in keys, keys          # the mode, subnormals
    sigs = [s for _, ss in built["fpsim.kernels.quantize.quantize_kernels"] for s in ss]
    assert any("float64" in s[0] for s in sigs), sigs

    def log(name, rows):
        d = tmp_path / name
        d.mkdir()
        (d / "1.json").write_text(json.dumps(rows))
        return vc.load(str(d))

    q = "fpsim.kernels.quantize.quantize_kernels"
    f64, f32 = ["array(float64, 1d, C)"], ["array(float32, 1d, C)"]
    slow = log("slow", {q: [[[0, True], [f64]], [[4, False], [f32]]], "k.other": [[[], [["int64"]]]]})
    # each value of each key position and each argument type, not their products
    assert vc.missing(log("a", {q: [[[0, False], [f32]], [[4, True], [f64]]],
                                "k.other": [[[], [["int64"]]]]}), slow) == []
    assert vc.missing(log("b", {q: [[[0, True], [f64, f32]]], "k.other": [[[], [["int64"]]]]}),
                      slow) == [(q, "key", 0, "4"), (q, "key", 1, "false")]
    assert vc.missing(log("c", {q: [[[0, True], [f64]], [[4, False], [f64]]]}), slow) == [
        (q, "arg", 0, "array(float32, 1d, C)"),
        ("k.other", "arg", 0, "int64"), ("k.other", "built", -1, "")]


def test_variant_coverage_finds_a_function_compiled_twice(tmp_path):
    """doubles: two versions of one function whose types differ only in how an integer or
    flag is typed (a literal 0 against int64, a uint64 index against int64, a literal flag
    against bool) are reported; different literals (a body chosen by literal), different
    array types and different factory keys are not."""
    import variant_coverage as vc
    tile = "k.plain_tile"
    arr = "array(float64, 2d, C)"
    log = {tile: [[[], [[arr, "int64", "Literal[int](3)"],
                        [arr, "Literal[int](0)", "Literal[int](3)"],
                        [arr, "int64", "Literal[int](1)"]]]],
           "k.block": [[[], [["uint64", "bool"], ["int64", "bool"]]]],
           "k.flag": [[[], [["Literal[bool](True)"], ["bool"], ["Literal[bool](False)"]]]],
           "k.arrays": [[[], [["array(float64, 1d, C)"], ["array(float32, 1d, C)"]]]],
           "k.factory": [[[1], [["int64"]]], [[2], [["uint64"]]]]}
    assert vc.doubles(log) == [
        ("k.block", "[]", 0, "int64", "uint64"),
        ("k.flag", "[]", 0, "Literal[bool](False)", "bool"),
        ("k.flag", "[]", 0, "Literal[bool](True)", "bool"),
        (tile, "[]", 1, "Literal[int](0)", "int64"),
    ]
    assert vc.doubles({"k.arrays": log["k.arrays"], "k.factory": log["k.factory"]}) == []
