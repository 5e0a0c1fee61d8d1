"""The ``fpsim`` command: formats, rounding, small MAC experiments, the analytical and the
measured variance retention ratio, the per-layer precision prediction and the report.

Run ``fpsim --help`` or ``fpsim COMMAND --help``. Every command prints a readable table by
default and JSON (``--json``) or CSV (``--csv``) for machines. Exit status: 0 success,
1 runtime failure (e.g. a file that cannot be written), 2 invalid usage or argument values.
Errors are one line on stderr, ``fpsim: error: ...``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from fractions import Fraction

from .._args import (check_choice, check_cutoff, check_int, check_nan_for_finite, check_nzr,
                     check_seed, check_trials)
from ..text import csv_text, table, to_json

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line usage: reported on one line, exit status 2."""


# ------------------------------------------------------------------ argparse plumbing

class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the epilog's examples as written and show defaults."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=min(100, _terminal_width()))


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 100


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become :class:`UsageError` (one line, exit 2)
    instead of a usage dump and ``SystemExit``."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _library_type(parse, check, hint=""):
    """An argparse type: the text as ``parse`` reads it (None if it cannot), then ``check``ed
    as the library checks that parameter; a refusal is the library's message (with
    ``hint`` when the text could not be read), which argparse prefixes with the flag."""
    def read(text):
        value = parse(text)
        try:
            return check(text if value is None else value)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"{exc}{hint if value is None else ''}") from None
    read.__name__ = getattr(check, "__name__", "value")
    return read


def _read_format(text: str):
    from ..formats import Format
    return Format.parse(text)


def _read_rounding(text: str):
    from ..rounding import as_rounding
    return as_rounding(text)


_format_arg = _library_type(lambda t: None, _read_format)
_rounding_arg = _library_type(lambda t: None, _read_rounding)


def _read_int(text: str):
    """An integer as typed: 576, 1_000, 2^10 or 2**10; None if the text is not one."""
    t = text.strip().replace("_", "")
    try:
        if "^" in t or "**" in t:
            base, exp = t.replace("**", "^").split("^")
            return int(base) ** int(exp)
        return int(t)
    except ValueError:
        return None


def _read_real(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def _int_arg(name: str, low=None, high=None, *, check=None, none=()):
    """The argparse type of the integer parameter ``name`` (checked by ``check``, default
    the library's check of an integer in [low, high]); the words in ``none`` mean None."""
    check = check or (lambda v: check_int(v, name, low, high))

    def parse(text):
        return _read_int(text)
    typed = _library_type(parse, check, " (write e.g. 576 or 2^10)")
    if not none:
        return typed

    def read(text):
        return None if text.strip().lower() in none else typed(text)
    return read


def _real_arg(check):
    return _library_type(_read_real, check)


def _int_list(name: str, low: int, *, ranges: bool = False):
    """A comma-separated list of integers ``name`` (with ``ranges``: '4..12' inclusive too)."""
    one = _int_arg(name, low)

    def read(text):
        out = []
        for part in text.split(","):
            part = part.strip()
            if ranges and ".." in part:
                lo, hi = (one(p) for p in part.split("..", 1))
                if hi < lo:
                    raise argparse.ArgumentTypeError(f"empty range {part!r}: write low..high")
                out.extend(range(lo, hi + 1))
            elif part:
                out.append(one(part))
        return out
    return read


_NONE_WORDS = ("none", "exact", "-")          # --m-p: unrounded float64 products
_NO_CHUNK_WORDS = ("none", "no", "off", "-", "0")

_n_list = _int_list("n", 1)
_m_acc_list = _int_list("m_acc", 0, ranges=True)
_seed_arg = _int_arg("seed", check=check_seed)
_trials_arg = _int_arg("trials", check=check_trials)
_nzr_arg = _real_arg(check_nzr)
_cutoff_arg = _real_arg(check_cutoff)
_mp_arg = _int_arg("m_p", 0, none=_NONE_WORDS)
_chunk_arg = _int_arg("chunk", 1, none=_NO_CHUNK_WORDS)
_exp_bits_arg = _int_arg("exp_bits", 1, 11)


def _flatten(values):
    out = []
    for v in values:
        out.extend(v if isinstance(v, list) else [v])
    return out


def _unique(values):
    seen, out = set(), []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def _add_monte_carlo(p, trials, *, m_p=True, cutoff=True, plot=False, seed=0):
    """The flags every Monte Carlo command shares, and --json/--csv."""
    p.add_argument("--trials", type=_trials_arg, default=trials, help="Monte Carlo trials per point")
    if m_p:
        p.add_argument("--m-p", type=_mp_arg, default=5,
                       help="product mantissa bits ('none': float64 products)")
    if cutoff:
        p.add_argument("--cutoff", type=_cutoff_arg, default=50.0,
                       help="cut-off on exp(variance lost)")
    p.add_argument("--seed", type=_seed_arg, default=seed, help="random seed")
    if plot:
        p.add_argument("--plot", metavar="FILE",
                       help="also draw variance lost against n into FILE (PNG)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_output(p)


def _add_executor(p):
    """--scheduler / --workers: where the Monte Carlo tasks run (default: this process)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the trials on the Dask cluster of this running scheduler "
                        "('dask scheduler'), "
                        "e.g. tcp://host:8786 (needs the [dask] extra)")
    g.add_argument("--workers", type=_int_arg("workers", 1), metavar="N", default=None,
                   help="run the trials on a local Dask cluster of N worker processes")


def _executor(args):
    """The executor --scheduler/--workers ask for (fpsim.analysis.tasks.open_executor): a
    context manager yielding None (this process) or a Dask client."""
    from ..analysis.tasks import open_executor
    return open_executor(scheduler=args.scheduler, workers=args.workers)


def _add_output(p, csv_ok: bool = True):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="print JSON instead of a table")
    if csv_ok:
        g.add_argument("--csv", action="store_true", help="print CSV instead of a table")


# ------------------------------------------------------------------ output helpers

def _fmt_num(x, digits: int = 6) -> str:
    """A short human-readable number."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    return f"{x:.{digits}g}"


def _pow2(x: float) -> str:
    """'2^-24' for a power of two, else the shortest repr."""
    if x > 0:
        m, e = math.frexp(x)
        if m == 0.5:
            return f"2^{e - 1}"
    return repr(x)


def _records_csv(records) -> str:
    """CSV of a list of flat dicts (the keys of the first one are the header)."""
    return csv_text(list(records[0]), [list(r.values()) for r in records])


def _progress(args, label):
    from .progress import Progress
    return Progress(label, enabled=False if getattr(args, "quiet", False) else None)


# ------------------------------------------------------------------ fpsim formats

_PRESET_ORDER = ["binary64", "binary32", "tf32", "binary16", "bfloat16", "fp8_e4m3fn", "fp8_e5m2",
                 "fp8_e4m3fnuz", "fp8_e5m2fnuz", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1"]


def _where_special(f):
    inf = "top exp, M=0" if f.has_inf else "none"
    nan = {"ieee": "top exp, M!=0" if f.man_bits else "none",
           "fn": "S.1..1.1..1", "fnuz": "1.0..0.0..0 (-0)", "finite": "none"}[f.flavour]
    return inf, nan


def _format_record(name, f):
    inf, nan = _where_special(f)
    return {"name": name, "format": f.name, "bits": f.bits, "exp_bits": f.exp_bits,
            "man_bits": f.man_bits, "bias": f.bias, "flavour": f.flavour,
            "max": f.max, "smallest_normal": f.smallest_normal,
            "smallest_subnormal": f.smallest_subnormal, "eps": f.eps,
            "subnormals": f.subnormals, "inf": inf, "nan": nan}


def cmd_formats(args) -> int:
    from ..formats import PRESETS, accumulator, paper_fp8
    if args.names:
        items = [(t, _format_arg(t)) for t in args.names]
    else:
        items = [(n, PRESETS[n]) for n in _PRESET_ORDER]
        items += [("paper_fp8", paper_fp8), ("accumulator(9)", accumulator(9))]
    records = [_format_record(n, f) for n, f in items]
    headers = ["name", "format", "bits", "e", "m", "bias", "max", "min normal",
               "min subnormal", "eps", "inf", "NaN"]
    rows = []
    for r, (n, f) in zip(records, items):
        rows.append([n, r["format"], r["bits"], r["exp_bits"], r["man_bits"], r["bias"],
                     repr(f.max), _pow2(f.smallest_normal), _pow2(f.smallest_subnormal),
                     _pow2(f.eps), r["inf"], r["nan"]])
    if args.csv:
        sys.stdout.write(_records_csv(records))
        return EXIT_OK
    if args.json:
        print(to_json(records))
        return EXIT_OK
    print(table(headers, rows, align="ll" + "r" * 8 + "ll", rule=True))
    if not args.names:
        print("\naccumulator(m) is the paper's (1, 6, m) accumulator: "
              "fpsim.formats.accumulator(m) or the name e6m<m>.\n"
              "Any format parses from e<E>m<M>[fn|fnuz|finite][_b<bias>][_nosub], e.g. "
              "'fpsim formats e6m9 e4m3fnuz'.")
    return EXIT_OK


# ------------------------------------------------------------------ fpsim quantize

def _parse_value(text: str):
    """(float64 value, None) for a token float64 reads exactly (inf, nan, hex floats, zero),
    (None, exact Fraction) otherwise."""
    t = text.strip()
    low = t.lower().lstrip("+-")
    if low in ("inf", "infinity", "nan"):
        return float(t), None
    if low.startswith("0x"):
        try:
            return float.fromhex(t), None
        except ValueError:
            raise UsageError(f"cannot read {text!r} as a number") from None
    try:
        exact = Fraction(t)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"cannot read {text!r} as a number (decimal, fraction like 1/3, "
                         "hex float like 0x1.8p3, inf or nan)") from None
    if exact == 0:
        return (-0.0 if t.startswith("-") else 0.0), None
    return None, exact


_TINY = math.ulp(0.0)            # 2^-1074, the smallest positive double


def _double_double(x: Fraction, fine: bool) -> tuple[float, float]:
    """(hi, lo): two doubles whose exact sum the library (fpsim.add) rounds into a format
    as it would round the real number x; ``fine``: the format's quantum is below 2^-1072
    (11 exponent bits and man_bits >= 51), which the last rule below needs to know.

    hi is the double nearest x, lo the rest x - hi to nearest, kept where the rest lies
    relative to the doubles and their midpoints (the only points any format rounds at): lo
    is 0 only if the rest is, and |lo| is half the gap from hi to its neighbour only if
    |rest| is. That needs a double strictly between 0 and the half gap, which there is
    unless |hi| < 2^-1020. There, a rest that is not a double cannot be held by a double:
    hi + lo is then x rounded to odd at 2^-1074, which every format with a quantum
    >= 2^-1072 rounds as it rounds x; for ``fine`` formats no two doubles do, and hi alone
    (the nearest double) is used, exact for binary64 under rne, else possibly one unit off.
    """
    big = sys.float_info.max
    try:
        hi = float(x)                     # nearest (Python rounds a Fraction correctly)
    except OverflowError:                 # beyond the doubles: rounds as max + more
        hi = -big if x < 0 else big
    rest = x - Fraction(hi)
    if not rest:
        return hi, math.copysign(0.0, hi)
    sign = -1.0 if rest < 0 else 1.0
    try:
        lo = float(rest)
    except OverflowError:
        lo = sign * big
    if Fraction(lo) == rest:
        return hi, lo
    half = abs(math.nextafter(hi, sign * math.inf) - hi) / 2
    if half > _TINY:
        lo = sign * min(max(abs(lo), _TINY), math.nextafter(half, 0.0))
    elif fine:
        lo = math.copysign(0.0, hi)
    else:
        lo = 0.0 if math.ldexp(hi, 1074) % 2 else sign * _TINY
    return hi, lo


def _bit_string(code: int, f) -> str:
    b = format(int(code), f"0{f.bits}b")
    return f"{b[0]} {b[1:1 + f.exp_bits]} {b[1 + f.exp_bits:]}".rstrip()


def cmd_quantize(args) -> int:
    import numpy as np
    from ..arith import add
    from ..quantize import encode
    f, mode = args.format, args.rounding
    tokens = list(args.values)
    if not tokens or tokens == ["-"]:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("quantize: give values to round, e.g. 'fpsim quantize 0.1 1/3 "
                             "--format fp16', or pipe them in with '-'")
        tokens = sys.stdin.read().replace(",", " ").split()
        if not tokens:
            raise UsageError("quantize: no values on standard input")
    his, los, exacts = [], [], []
    fine = f.emin - f.man_bits < -1072
    for t in tokens:
        value, exact = _parse_value(t)
        hi, lo = (value, math.copysign(0.0, value)) if exact is None else _double_double(exact, fine)
        his.append(hi)
        los.append(lo)
        exacts.append(exact)
    check_nan_for_finite(f, np.array(his), "the input")
    # the typed value, exactly hi + lo, rounded once
    q = add(np.array(his), np.array(los), f, mode, saturate=args.saturate, seed=args.seed)
    codes = encode(q, f)
    records, rows = [], []
    hexw = (f.bits + 3) // 4
    for t, x, e, v, c in zip(tokens, his, exacts, q.tolist(), np.atleast_1d(codes).tolist()):
        if e is not None and math.isfinite(v):
            err = float(Fraction(v) - e) if abs(e) < 2**1024 else None
        elif math.isfinite(v) and math.isfinite(x):
            err = v - x
        else:
            err = None
        rec = {"input": t, "value": v, "hex": f"0x{c:0{hexw}x}", "code": c,
               "bits": _bit_string(c, f), "error": err}
        records.append(rec)
        rows.append([t, repr(v), rec["hex"], rec["bits"], _fmt_num(err, 4)])
    headers = ["input", "rounded", "code", "sign exponent mantissa", "rounded - input"]
    if args.json:
        print(to_json({"format": f.name, "rounding": str(mode), "saturate": args.saturate,
                      "values": records}))
    elif args.csv:
        sys.stdout.write(_records_csv(records))
    else:
        print(f"format {f.name} (e={f.exp_bits} m={f.man_bits} bias={f.bias} {f.flavour}), "
              f"rounding {mode}{', saturating' if args.saturate else ''}")
        print(table(headers, rows, align="lrrlr", rule=True))
    return EXIT_OK


# ------------------------------------------------------------------ fpsim dot

def _vector(text: str, name: str):
    import numpy as np
    try:
        return np.array([float(v) for v in text.replace(",", " ").split()], dtype=np.float64)
    except ValueError:
        raise UsageError(f"dot: {name} must be comma-separated numbers, got {text!r}") from None


def _random_operands(n, dist, fmt, seed):
    import numpy as np
    from ..quantize import quantize
    rng = np.random.default_rng(seed)
    if dist == "ones":
        return np.ones(n), np.ones(n)
    draw = rng.standard_normal if dist == "gaussian" else (lambda size: rng.uniform(-1, 1, size))
    a, b = draw(size=n), draw(size=n)
    if fmt is not None:
        a, b = quantize(a, fmt), quantize(b, fmt)
    return a, b


def cmd_dot(args) -> int:
    from ..accumulate import AccumSpec, dot
    if (args.a is None) != (args.b is None):
        raise UsageError("dot: give both --a and --b, or neither (random vectors of length --n)")
    if args.preset:
        from ..formats import as_format
        from ..hardware import presets
        known = presets()
        for name in args.preset:
            if name not in known:
                raise UsageError(f"dot: --preset must be one of {', '.join(known)}, got {name!r}")
        if args.operand is None:
            args.operand = as_format(known[args.preset[0]].operand)
    if args.a is not None:
        a, b = _vector(args.a, "--a"), _vector(args.b, "--b")
        if args.operand is not None:
            from ..quantize import quantize
            a, b = quantize(a, args.operand), quantize(b, args.operand)
        source = "given vectors" + (f" rounded into {args.operand.name}" if args.operand else "")
    else:
        operand = args.operand
        if operand is None and args.dist != "ones":
            from ..formats import paper_fp8
            operand = paper_fp8
        a, b = _random_operands(args.n, args.dist, operand, args.seed)
        source = (f"{args.n} pairs of ones" if args.dist == "ones" else
                  f"{args.n} random {args.dist} pairs") + (
            f" rounded into {operand.name}" if operand is not None and args.dist != "ones" else "")
    exact = float(dot(a, b, AccumSpec("binary64", order="exact")))
    if args.preset:
        from ..hardware import preset
        runs = [(name, preset(name, **({"split": args.split} if args.split else {})))
                for name in _unique(args.preset)]
    else:
        runs = [(f"chunked({args.chunk})" if order == "chunked" else order,
                 AccumSpec(args.acc, product=args.product, rounding=args.rounding, order=order,
                           chunk=args.chunk if order == "chunked" else None))
                for order in _unique(args.order)]
    records, rows = [], []
    for label, spec in runs:
        order = label
        try:
            value, st = dot(a, b, spec, stats=True, seed=args.seed)
        except ValueError as exc:
            hint = (" (on the command line: --product FORMAT, or --operand FORMAT to round the "
                    "operands)" if "product=" in str(exc) else "")
            raise ValueError(f"order {order}: {exc}{hint}") from None
        value = float(value)
        err = value - exact if math.isfinite(value) else math.nan
        rec = {"order": label, "result": value, "exact": exact, "error": err,
               "relative_error": (err / abs(exact)) if exact else None,
               "additions": st.additions, "full_swamping": st.full,
               "partial_swamping": st.partial}
        records.append(rec)
        rows.append([label, repr(value), _fmt_num(err, 4),
                     _fmt_num(rec["relative_error"], 3), st.additions, st.full, st.partial])
    headers = ["order", "result", "error", "rel. error", "additions", "full swamp", "partial swamp"]
    info = {"n": int(a.size), "operands": source, "acc": args.acc.name,
            "product": args.product.name if args.product else "exact",
            "rounding": str(args.rounding), "exact": exact}
    if args.preset:
        headers[0] = "preset"
        info.update(acc=", ".join(spec.acc.name for _, spec in runs), product="exact",
                    rounding="as the preset", presets={k: repr(v) for k, v in runs})
    if args.json:
        print(to_json({**info, "rows": records}))
    elif args.csv:
        sys.stdout.write(_records_csv(records))
    else:
        print(f"{info['n']} products ({source}); accumulator {info['acc']}, products "
              f"{info['product']}, rounding {info['rounding']}")
        print(f"exact sum of the exact products (rounded once to float64): {exact!r}\n")
        print(table(headers, rows, rule=True))
        print("\nfull swamp: additions whose addend vanished entirely (s + p rounded back to s);"
              "\npartial swamp: the addend survived but lost low bits.")
    return EXIT_OK


def cmd_presets(args) -> int:
    from ..hardware import preset, presets
    records = [{"name": name, "inputs": p.inputs, "spec": repr(preset(name)), "model": p.model,
                "source": p.source, "checked": p.checked} for name, p in presets().items()]
    if args.json:
        print(to_json({"presets": records}))
    elif args.csv:
        sys.stdout.write(_records_csv(records))
    else:
        print(table(["preset", "inputs", "model"],
                    [[r["name"], r["inputs"], r["model"]] for r in records], rule=True))
        print("\nsources and checks:")
        for r in records:
            print(f"  {r['name']}: {r['source']}; checked against {r['checked']}")
    return EXIT_OK


# ------------------------------------------------------------------ fpsim vrr

def cmd_vrr(args) -> int:
    from ..analysis.vrr import min_macc, variance_lost, vrr
    opts = dict(m_p=args.m_p, nzr=args.nzr, model=args.model)
    ns = _unique(_flatten(args.n))
    chunks = _unique(args.chunk)
    ln_cut = math.log(args.cutoff)
    records, rows, knees = [], [], []
    for chunk in chunks:
        for n in ns:
            c = chunk if chunk is not None and chunk < n else None
            knee = min_macc(n, chunk=c, cutoff=args.cutoff, **opts)
            knees.append({"n": n, "chunk": chunk, "knee": knee})
            m_accs = _unique(_flatten(args.m_acc)) if args.m_acc else [
                m for m in (knee - 1, knee, knee + 1) if m >= 0]
            for m in m_accs:
                r = vrr(n, m, chunk=c, **opts)
                vl = variance_lost(n, m, chunk=c, **opts)
                ok = vl <= ln_cut
                rec = {"n": n, "chunk": chunk, "m_acc": m, "m_p": args.m_p, "model": args.model,
                       "vrr": r, "one_minus_vrr": 1.0 - r, "variance_lost": vl,
                       "exp_variance_lost": math.exp(vl) if vl < 700 else math.inf,
                       "meets_cutoff": bool(ok), "knee": knee}
                records.append(rec)
                rows.append([n, chunk or "-", m, f"{r:.6f}", _fmt_num(1.0 - r, 3),
                             _fmt_num(vl, 4), _fmt_num(rec["exp_variance_lost"], 3),
                             "yes" if ok else "no", knee])
    headers = ["n", "chunk", "m_acc", "VRR", "1-VRR", "var. lost", "exp(var. lost)",
               f"<= {args.cutoff:g}", "knee m_acc"]
    if args.json:
        print(to_json({"m_p": args.m_p, "model": args.model, "nzr": args.nzr,
                      "cutoff": args.cutoff, "rows": records, "knees": knees}))
    elif args.csv:
        sys.stdout.write(_records_csv(records))
    else:
        print(f"analytical VRR, model {args.model!r}, m_p={args.m_p}, nzr={args.nzr:g}; "
              f"variance lost = n(1-VRR) in units of one product's variance")
        print(table(headers, rows, rule=True))
        print(f"\nknee m_acc = the smallest m_acc with exp(variance lost) <= {args.cutoff:g} "
              "(Sakr et al., ICLR 2019).")
    return EXIT_OK


# ------------------------------------------------------------------ fpsim predict

def cmd_predict(args) -> int:
    from ..analysis.predict import networks, predict
    names = list(networks()) if args.network == "all" else [args.network]
    tables = [predict(n, batch=args.batch, chunk=args.chunk, m_p=args.m_p, nzr=args.nzr,
                      cutoff=args.cutoff, model=args.model) for n in names]
    if args.json:
        out = [json.loads(t.to_json()) for t in tables]
        print(to_json(out[0] if len(out) == 1 else out))
        return EXIT_OK
    if args.csv:
        if len(tables) == 1:
            sys.stdout.write(tables[0].to_csv())
        else:
            rows = [[t.network, *r] for t in tables for r in t.rows]
            sys.stdout.write(csv_text(["network", *tables[0].rows[0]._fields], rows))
        return EXIT_OK
    for k, t in enumerate(tables):
        if k:
            print()
        if args.summary:
            print(" ".join(f"{a}={b}" for a, b in t.settings().items()))
            print(table(["gemm", "n (max)", "m_acc (max)", f"m_acc chunk {t.chunk} (max)"],
                        _summary_rows(t), rule=True))
        else:
            print(t)
    return EXIT_OK


def _summary_rows(table):
    rows = []
    for gemm in ("FWD", "BWD", "GRAD"):
        sel = [r for r in table.rows if r.gemm == gemm]
        rows.append([gemm, max(r.n for r in sel), max(r.m_acc for r in sel),
                     max(r.m_acc_chunked for r in sel)])
    return rows


# ------------------------------------------------------------------ fpsim measure / sweep

def cmd_measure(args) -> int:
    from ..analysis.draws import model_m_p
    from ..analysis.measure import measure_vrr
    from ..analysis.sweep import analytic, spec_for
    records, rows = [], []
    ns = _unique(_flatten(args.n))
    m_accs = _unique(_flatten(args.m_acc))
    with _progress(args, "measure") as bar:
        todo = [(n, m) for n in ns for m in m_accs]
        for k, (n, m) in enumerate(todo):
            res = measure_vrr(n, spec_for(m, args.chunk, args.rounding, args.exp_bits),
                              trials=args.trials, dist=args.dist, m_p=args.m_p, nzr=args.nzr,
                              seed=args.seed)
            model = analytic(n, m, args.chunk, model_m_p(args.m_p), args.nzr, "paper")
            d = res.to_dict()
            d["model_variance_lost"] = model
            records.append(d)
            st = res.stats
            rows.append([n, args.chunk or "-", m, f"{res.vrr:.6f}",
                         f"[{res.vrr_ci[0]:.6f}, {res.vrr_ci[1]:.6f}]",
                         _fmt_num(res.variance_lost, 4),
                         f"[{_fmt_num(res.variance_lost_ci[0], 3)}, {_fmt_num(res.variance_lost_ci[1], 3)}]",
                         _fmt_num(model, 4),
                         f"{st.full / st.additions:.2%}" if st.additions else "-",
                         f"{st.partial / st.additions:.2%}" if st.additions else "-"])
            bar(k + 1, len(todo))
    headers = ["n", "chunk", "m_acc", "VRR", "95% CI", "var. lost", "95% CI", "model",
               "full swamp", "partial swamp"]
    if args.json:
        print(to_json(records[0] if len(records) == 1 else records))
    elif args.csv:
        flat = [{k: v for k, v in r.items() if not isinstance(v, (dict, list, tuple))} for r in records]
        sys.stdout.write(_records_csv(flat))
    else:
        print(f"Monte Carlo VRR: {args.trials} trials of {args.dist} products"
              f"{f' rounded to m_p={args.m_p}' if args.m_p is not None else ''}, accumulator "
              f"e{args.exp_bits}m<m_acc>, rounding {args.rounding}, seed {args.seed}")
        print(table(headers, rows, rule=True))
        print("\nvar. lost = n(1 - VRR) in units of one product's variance; 'model' is the "
              "analytical full + partial swamping value (fpsim.variance_lost).")
    return EXIT_OK


def _print_knees(sweep_table, cutoff):
    rows = [[k["n"], k["chunk"] or "-", k["rounding"], k["dist"], _fmt_num(k["knee"]),
             _fmt_num(k["knee_hi"]), _fmt_num(k["knee_lo"]), k["min_macc"]]
            for k in sweep_table.knee(cutoff=cutoff)]
    print(f"knee: smallest m_acc of the sweep from which every measured variance lost is "
          f"<= ln {cutoff:g}\n(conservative/optimistic: the same on the intervals' "
          "tops/bottoms; '-': not reached)")
    print(table(["n", "chunk", "rounding", "dist", "measured", "conservative", "optimistic",
                 "analytical"], rows, rule=True))


def _plot_sweep(sweep_table, args):
    if args.plot:
        from . import plots
        plots.sweep_plot(sweep_table.rows, args.plot, cutoff=args.cutoff, m_p=args.m_p,
                         trials=args.trials)
        print(f"figure written to {args.plot}", file=sys.stderr)


def cmd_sweep(args) -> int:
    from ..analysis.sweep import sweep
    ns = _unique(_flatten(args.n))
    m_accs = _unique(_flatten(args.m_acc))
    with _executor(args) as executor, _progress(args, "sweep") as bar:
        result = sweep(ns, m_accs, chunks=tuple(_unique(args.chunk)),
                       roundings=tuple(str(r) for r in _unique(args.rounding)),
                       dists=tuple(_unique(args.dist)), trials=args.trials, m_p=args.m_p,
                       exp_bits=args.exp_bits, nzr=args.nzr, seed=args.seed, progress=bar,
                       executor=executor)
    if args.json:
        print(result.to_json())
    elif args.csv:
        sys.stdout.write(result.to_csv())
    else:
        cols = [c for c, many in (("dist", len(set(args.dist)) > 1),
                                  ("rounding", len(set(args.rounding)) > 1)) if many]
        cols += ["chunk", "n", "m_acc", "vrr", "variance_lost", "vl_lo", "vl_hi", "vl_paper",
                 "full", "partial", "additions"]
        print(result.format(columns=cols))
        print("\nvariance_lost = n(1 - VRR), 95% interval [vl_lo, vl_hi]; vl_paper: the analytical "
              "value; full/partial: swamping counts over all trials\n")
        _print_knees(result, args.cutoff)
    _plot_sweep(result, args)
    return EXIT_OK


def cmd_figure2(args) -> int:
    from ..analysis.figure import figure2
    with _executor(args) as executor, _progress(args, "figure2") as bar:
        fig = figure2(ns=_unique(_flatten(args.n)), m_accs=_unique(_flatten(args.m_acc)),
                      chunk=args.chunk, trials=args.trials, m_p=args.m_p, seed=args.seed,
                      cutoff=args.cutoff, progress=bar, executor=executor)
    if args.json:
        print(to_json(fig))
    elif args.csv:
        sys.stdout.write(fig.table.to_csv())
    else:
        print(f"Figure 2 (Sakr et al., ICLR 2019): {len(fig.table)} measured points, "
              f"{fig.trials} trials each, {fig.seconds:.1f} s; single sums and chunks of "
              f"{fig.chunk}, m_p = {fig.m_p}, seed {fig.seed}\n")
        _print_knees(fig.table, fig.cutoff)
    _plot_sweep(fig.table, args)
    return EXIT_OK


# ------------------------------------------------------------------ fpsim compare / calibrate

def cmd_compare(args) -> int:
    from ..analysis.compare import comparison_grid, comparison_markdown
    with _progress(args, "compare") as bar:
        result = comparison_grid(trials=args.trials, m_p=args.m_p, seed=args.seed, progress=bar)
    if args.json:
        print(result.to_json())
    elif args.csv:
        sys.stdout.write(result.to_csv())
    else:
        sys.stdout.write(comparison_markdown(result, cutoff=args.cutoff))
    return EXIT_OK


_CALIBRATION_COLUMNS = ("dist", "m_p", "chunk", "n", "m_acc", "variance_lost", "vl_paper",
                        "ratio", "ratio_lo", "ratio_hi")


def cmd_calibrate(args) -> int:
    from ..analysis.compare import calibration
    from ..analysis.sweep import SweepTable
    with _progress(args, "calibrate") as bar:
        rows, band = calibration(trials=args.trials, seed=args.seed, progress=bar)
    if args.json:
        print(to_json({"trials": args.trials, "seed": args.seed, "band": band, "rows": rows}))
    elif args.csv:
        sys.stdout.write(_records_csv(rows))
    else:
        print(SweepTable(rows=rows, columns=_CALIBRATION_COLUMNS).format())
        ratios = sorted(r["ratio"] for r in rows)
        print(f"\n{len(rows)} cells in the regime (fpsim.paper_regime); ratio measured/paper: "
              f"median {ratios[len(ratios) // 2]:.3g}, range of the estimates {ratios[0]:.3g}.."
              f"{ratios[-1]:.3g}, band of the 95% intervals {band[0]:.3g}..{band[1]:.3g}")
    return EXIT_OK


# ------------------------------------------------------------------ fpsim report

def cmd_report(args) -> int:
    from .report import generate
    with _executor(args) as executor:
        result = generate(args.out, quick=args.quick, seed=args.seed, progress=not args.quiet,
                          trials=args.trials, train=args.train, executor=executor)
    print(result.summary)
    return EXIT_OK


def cmd_train(args) -> int:
    from .train import run_cli
    return run_cli(args)


# ------------------------------------------------------------------ the parser

_MAIN_EPILOG = """\
examples:
  fpsim report                      the main job: predicted precision, Figure 2, checks -> report/
  fpsim report --quick --out /tmp/r  the same with fewer trials (CI)
  fpsim formats                     presets and their numbers
  fpsim quantize 0.1 1/3 1e5 --format fp16
  fpsim dot --n 4096 --acc e6m8 --order sequential chunked --chunk 64
  fpsim vrr --n 576 4608 --m-p 5 --chunk none 64
  fpsim predict resnet18 --summary
  fpsim measure --n 4608 --m-acc 8 9 --trials 2000 --m-p 5
  fpsim sweep --n 256 1024 4096 --m-acc 6..10 --trials 500 --plot fig2.png
  fpsim figure2 --plot fig2.png     the paper's Figure-2 grid, measured
  fpsim compare --trials 2000       the tables of docs/measured-vrr.md
  fpsim calibrate --trials 5000     the model's error band

exit status: 0 success, 1 runtime failure, 2 invalid usage or argument values.
Every command takes --help; tables by default, --json / --csv for machines."""


def _build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from ..orders import ORDER_NAMES
    from ..analysis.compare import CALIBRATION
    from ..analysis.draws import DISTRIBUTIONS, check_dist
    from ..analysis.predict import networks
    from ..analysis.vrr import MODELS

    parser = _Parser(
        prog="fpsim", formatter_class=_Formatter, epilog=_MAIN_EPILOG,
        description="Bit-accurate reduced-precision floating point, and the variance retention "
                    "ratio (VRR) analysis of accumulator precision (Sakr et al., ICLR 2019).")
    parser.add_argument("--version", action="version", version=f"fpsim {__version__}")
    dist_arg = _library_type(lambda t: None, check_dist)
    model_arg = _library_type(lambda t: None, lambda v: check_choice(v, "model", MODELS))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name, help, epilog, description=None):
        p = sub.add_parser(name, help=help, description=description or help,
                           epilog="examples:\n" + epilog, formatter_class=_Formatter)
        return p

    # formats
    p = command("formats", "list format presets and their numbers",
                "  fpsim formats\n  fpsim formats e6m9 e4m3fnuz float6_e3m2fn\n"
                "  fpsim formats --json")
    p.add_argument("names", nargs="*", metavar="FORMAT",
                   help="formats to describe (default: all presets), e.g. fp16, e6m9, e4m3fn")
    _add_output(p)
    p.set_defaults(func=cmd_formats)

    # quantize
    p = command("quantize", "round values into a format; show the values and bit patterns",
                "  fpsim quantize 0.1 1/3 65519 70000 --format fp16\n"
                "  fpsim quantize 500 -500 --format e4m3fn --saturate\n"
                "  fpsim quantize 0.3 0.3 0.3 --format e5m2 --rounding sr --seed 7\n"
                "  echo 0.1 0.2 | fpsim quantize - --format bfloat16 --json\n\n"
                "Inputs are decimals, fractions (1/3), hex floats (0x1.8p3), inf or nan. The\n"
                "real number you type is rounded once into the format: it is held as two\n"
                "doubles that round like it, and fpsim.add rounds their exact sum (exact except\n"
                "for some inputs below 2^-1020 into e11m51 and binary64).")
    p.add_argument("values", nargs="*", metavar="VALUE", help="numbers to round; '-' reads stdin")
    p.add_argument("--format", "-f", type=_format_arg, default="fp16",
                   help="target format: a preset or e<E>m<M>[fn|fnuz|finite]")
    p.add_argument("--rounding", "-r", type=_rounding_arg, default="rne",
                   help="rne, rna, rtz, ru, rd, rto or sr")
    p.add_argument("--saturate", action="store_true", help="clamp overflow to +-max")
    p.add_argument("--seed", type=_seed_arg, default=None, help="seed of stochastic rounding (sr)")
    _add_output(p)
    p.set_defaults(func=cmd_quantize)

    # dot
    p = command("dot", "a small MAC experiment: one dot product per accumulation order, "
                       "with swamping counts",
                "  fpsim dot --n 4096 --acc e6m8\n"
                "  fpsim dot --n 8192 --dist ones --acc bfloat16 --order sequential chunked\n"
                "  fpsim dot --a 1,2,3 --b 0.5,0.25,0.125 --acc e5m2 --order sequential\n"
                "  fpsim dot --n 1000 --acc fp16 --product e5m2 --rounding rtz --json\n\n"
                "Random operands are drawn with --seed and rounded into --operand (default the\n"
                "paper's (1,5,2) FP8, e5m2); the exact sum of the products is the reference.")
    p.add_argument("--n", type=_int_arg("n", 1), default=4096, help="length of the random vectors")
    p.add_argument("--dist", choices=("gaussian", "uniform", "ones"), default="gaussian",
                   help="distribution of the random operands")
    p.add_argument("--a", help="first vector, comma-separated (instead of random ones)")
    p.add_argument("--b", help="second vector, comma-separated")
    p.add_argument("--operand", type=_format_arg, default=None,
                   help="round the operands into this format first (random: default e5m2)")
    p.add_argument("--acc", type=_format_arg, default="e6m8", help="accumulator format")
    p.add_argument("--product", type=_format_arg, default=None,
                   help="round each product into this format (default: exact, fused products)")
    p.add_argument("--order", nargs="+", choices=list(ORDER_NAMES),
                   default=["sequential", "chunked", "pairwise", "kahan", "exact"],
                   help="accumulation orders to compare")
    p.add_argument("--chunk", type=_int_arg("chunk", 1), default=64, help="chunk length of 'chunked'")
    p.add_argument("--rounding", "-r", type=_rounding_arg, default="rne",
                   help="rounding of the adder")
    p.add_argument("--seed", type=_seed_arg, default=0, help="seed of the random operands (and sr)")
    p.add_argument("--preset", nargs="+", metavar="NAME", default=None,
                   help="hardware presets to compare instead of --order/--acc/--rounding "
                        "(see 'fpsim presets'); operands default to the first one's format")
    p.add_argument("--split", type=_int_arg("split", 1), default=None,
                   help="split-K part length for the fp8 and cuBLAS presets")
    _add_output(p)
    p.set_defaults(func=cmd_dot)

    # presets
    p = command("presets", "list the hardware accumulation presets (fpsim.hardware)",
                "  fpsim presets\n  fpsim presets --json\n"
                "  fpsim dot --preset hopper-fp8-fast hopper-fp8 --n 16384 --dist uniform")
    _add_output(p)
    p.set_defaults(func=cmd_presets)

    # vrr
    p = command("vrr", "analytical VRR, variance lost and the knee m_acc",
                "  fpsim vrr --n 4608                 knee for n = 4608 and the bits around it\n"
                "  fpsim vrr --n 576 4608 --m-acc 6..10 --chunk none 64\n"
                "  fpsim vrr --n 2^20 --model closed --json\n\n"
                "Variance lost = n(1 - VRR) in units of one product's variance; the knee is the\n"
                "smallest m_acc with exp(variance lost) <= --cutoff. Models: 'paper' (full +\n"
                "partial swamping), 'full' (full swamping only), 'closed' (arctan closed form).\n"
                "See docs/theory.md.")
    p.add_argument("--n", type=_n_list, nargs="+", required=True, help="accumulation lengths")
    p.add_argument("--m-acc", type=_m_acc_list, nargs="+", default=None,
                   help="accumulator mantissa bits, e.g. 8 or 6..10 (default: knee-1..knee+1)")
    p.add_argument("--m-p", type=_int_arg("m_p", 0), default=5, help="product mantissa bits")
    p.add_argument("--chunk", type=_chunk_arg, nargs="+", default=[None],
                   help="chunk lengths; 'none' for a single sum")
    p.add_argument("--model", type=model_arg, choices=MODELS, default="paper", help="swamping model")
    p.add_argument("--nzr", type=_nzr_arg, default=1.0, help="fraction of non-zero products")
    p.add_argument("--cutoff", type=_cutoff_arg, default=50.0,
                   help="cut-off on exp(variance lost) that defines the knee")
    _add_output(p)
    p.set_defaults(func=cmd_vrr)

    # predict
    p = command("predict", "predicted accumulator precision per layer and GEMM of a network",
                "  fpsim predict resnet18\n  fpsim predict alexnet --batch 128 --chunk 32\n"
                "  fpsim predict all --summary\n  fpsim predict resnet32 --csv > resnet32.csv\n\n"
                "FWD n = C_in k_h k_w, BWD n = C_out k_h k_w, GRAD n = batch H_out W_out; m_acc\n"
                "is the knee of the analytical variance lost (see 'fpsim vrr').")
    p.add_argument("network", choices=list(networks()) + ["all"], metavar="NETWORK",
                   help=f"one of {', '.join(networks())} or all")
    p.add_argument("--batch", type=_int_arg("batch", 1), default=None, help="batch size (default: the network's)")
    p.add_argument("--chunk", type=_int_arg("chunk", 1), default=64, help="chunk length of the chunked column")
    p.add_argument("--m-p", type=_int_arg("m_p", 0), default=5, help="product mantissa bits")
    p.add_argument("--nzr", type=_nzr_arg, default=1.0, help="fraction of non-zero products")
    p.add_argument("--cutoff", type=_cutoff_arg, default=50.0, help="cut-off on exp(variance lost)")
    p.add_argument("--model", type=model_arg, choices=MODELS, default="paper", help="swamping model")
    p.add_argument("--summary", action="store_true", help="only the largest n and m_acc per GEMM")
    _add_output(p)
    p.set_defaults(func=cmd_predict)

    # measure
    p = command("measure", "Monte Carlo VRR of a real accumulator (bit-accurate simulation)",
                "  fpsim measure --n 4608 --m-acc 8 9 --m-p 5\n"
                "  fpsim measure --n 4608 --m-acc 6 --chunk 64 --trials 4000\n"
                "  fpsim measure --n 1024 --m-acc 10 --rounding rtz --json\n\n"
                "Draws --trials independent sums of n products, runs each through the\n"
                "accumulator and exactly, and reports VRR = Var(computed)/Var(exact) with a\n"
                "95% confidence interval, the variance lost n(1-VRR) and swamping counts.")
    p.add_argument("--n", type=_n_list, nargs="+", required=True, help="accumulation lengths")
    p.add_argument("--m-acc", type=_m_acc_list, nargs="+", required=True,
                   help="accumulator mantissa bits, e.g. 8 or 6..10")
    p.add_argument("--trials", type=_trials_arg, default=1000, help="Monte Carlo trials")
    p.add_argument("--m-p", type=_mp_arg, default=5,
                   help="round the products to this many mantissa bits ('none': float64 products)")
    p.add_argument("--chunk", type=_chunk_arg, default=None, help="chunk length, or none")
    p.add_argument("--exp-bits", type=_exp_bits_arg, default=6, help="accumulator exponent bits")
    p.add_argument("--rounding", "-r", type=_rounding_arg, default="rne", help="adder rounding")
    p.add_argument("--dist", type=dist_arg, choices=DISTRIBUTIONS, default="gaussian",
                   help="distribution of the products")
    p.add_argument("--nzr", type=_nzr_arg, default=1.0, help="fraction of non-zero products")
    p.add_argument("--seed", type=_seed_arg, default=0, help="random seed")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_output(p)
    p.set_defaults(func=cmd_measure)

    # sweep
    p = command("sweep", "Monte Carlo grid of n x m_acc (the paper's Figure 2), optional plot",
                "  fpsim sweep\n"
                "  fpsim sweep --n 256 1024 4096 --m-acc 6..10 --trials 500 --plot fig2.png\n"
                "  fpsim sweep --chunk none 64 --rounding rne rtz --csv > sweep.csv\n"
                "  fpsim sweep --trials 20000 --workers 2          a local Dask cluster\n"
                "  fpsim sweep --trials 20000 --scheduler tcp://host:8786")
    p.add_argument("--n", type=_n_list, nargs="+", default=[256, 1024, 4096],
                   help="accumulation lengths")
    p.add_argument("--m-acc", type=_m_acc_list, nargs="+", default=[[6, 8, 10]],
                   help="accumulator mantissa bits, e.g. 6..10")
    p.add_argument("--chunk", type=_chunk_arg, nargs="+", default=[None, 64],
                   help="chunk lengths; 'none' for a single sum")
    p.add_argument("--rounding", "-r", type=_rounding_arg, nargs="+", default=["rne"],
                   help="adder roundings")
    p.add_argument("--dist", nargs="+", type=dist_arg, choices=DISTRIBUTIONS, default=["gaussian"],
                   help="product distributions")
    p.add_argument("--exp-bits", type=_exp_bits_arg, default=6, help="accumulator exponent bits")
    p.add_argument("--nzr", type=_nzr_arg, default=1.0, help="fraction of non-zero products")
    _add_monte_carlo(p, 500, plot=True)
    _add_executor(p)
    p.set_defaults(func=cmd_sweep)

    # figure2
    p = command("figure2", "the data of the paper's Figure 2: measured and analytical variance "
                           "lost against n",
                "  fpsim figure2                      the full grid (under a minute)\n"
                "  fpsim figure2 --n 64 256 1024 --m-acc 4..10 --trials 300 --plot fig2.png\n"
                "  fpsim figure2 --json > figure2.json\n\n"
                "Gaussian products rounded to --m-p bits, (1,6,m_acc) round-to-nearest\n"
                "accumulators, single sums and chunks of --chunk; --json adds the analytical\n"
                "curves on a dense n grid (see docs/measured-vrr.md).")
    p.add_argument("--n", type=_n_list, nargs="+", default=[2 ** k for k in range(6, 17)],
                   help="accumulation lengths")
    p.add_argument("--m-acc", type=_m_acc_list, nargs="+", default=[list(range(4, 15))],
                   help="accumulator mantissa bits, e.g. 4..14")
    p.add_argument("--chunk", type=_int_arg("chunk", 1), default=64, help="chunk length")
    _add_monte_carlo(p, 1000, plot=True)
    _add_executor(p)
    p.set_defaults(func=cmd_figure2)

    # compare
    p = command("compare", "the measured-vs-analytical tables of docs/measured-vrr.md (Markdown)",
                "  fpsim compare                      T = 20,000 (several minutes)\n"
                "  fpsim compare --trials 2000 --seed 1\n"
                "  fpsim compare --csv > compare.csv\n\n"
                "n = 576..4608, m_acc = 4..10, single sums and chunks of 64, rne and rtz adders:\n"
                "measured variance lost with its 95% interval next to the 'paper' and 'full'\n"
                "models, and the knees.")
    _add_monte_carlo(p, 20000)
    p.set_defaults(func=cmd_compare)

    # calibrate
    p = command("calibrate", "measured / 'paper' variance lost where the model holds: its error band",
                "  fpsim calibrate                    T = 100,000 (tens of minutes)\n"
                "  fpsim calibrate --trials 5000 --json > calibration.json\n\n"
                "n = 64..1024, m_acc = 3..9, single sums and chunks of 64; every distribution at\n"
                "m_p = 5, Gaussian products at m_p = 10 and unrounded; only the cells inside\n"
                "fpsim.paper_regime (see docs/measured-vrr.md).")
    _add_monte_carlo(p, CALIBRATION["trials"], m_p=False, cutoff=False, seed=CALIBRATION["seed"])
    p.set_defaults(func=cmd_calibrate)

    # train
    p = command("train", "train a small CNN with emulated accumulators (needs the [train] extra)",
                "  fpsim train\n  fpsim train --quick --out /tmp/train\n"
                "  fpsim train --seeds 0,1,2,3,4 --offsets 0,1,2,3,4\n\n"
                "Trains on scikit-learn's 8x8 digits with every FWD, BWD and GRAD GEMM emulated\n"
                "(fpsim.torch): binary32 accumulation, the m_acc fpsim.predict gives each GEMM,\n"
                "and fewer bits, single sums and chunks of 64. Writes DIR/training.md,\n"
                "DIR/train.json and DIR/figures/training.png. About 4 to 5 minutes of CPU (255 s\n"
                "measured), on one Numba thread by default.")
    from .train import add_arguments as _train_arguments
    _train_arguments(p)
    p.set_defaults(func=cmd_train)

    # report
    p = command("report", "the full report: predictions, Figure 2, checks, swamping -> DIR/report.md",
                "  fpsim report\n  fpsim report --quick --out /tmp/fpsim-report\n"
                "  fpsim report --quiet --seed 1\n\n"
                "Writes DIR/report.md, DIR/report.json and DIR/figures/*.png, and prints a\n"
                "one-screen summary. Full mode takes about 35 seconds on 2 cores; --quick a few\n"
                "seconds.")
    p.add_argument("--out", "-o", default="report", metavar="DIR", help="output directory")
    p.add_argument("--quick", action="store_true",
                   help="fewer trials and points (every section and figure is still made)")
    p.add_argument("--trials", type=_trials_arg, default=None,
                   help="override the Monte Carlo trials per point")
    p.add_argument("--seed", type=_seed_arg, default=0, help="random seed")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--train", action="store_true",
                   help="add the training experiment (fpsim train; needs the [train] extra)")
    _add_executor(p)
    p.set_defaults(func=cmd_report)
    return parser


def main(argv=None) -> int:
    """Run the ``fpsim`` command with ``argv`` (default ``sys.argv[1:]``); return the exit
    status: 0 success, 1 runtime failure, 2 invalid usage or argument values."""
    debug = bool(os.environ.get("FPSIM_DEBUG"))
    try:
        parser = _build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except SystemExit as exc:           # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (ValueError, TypeError) as exc:
        if debug:
            raise
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. '| head'): not an error worth a message
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except (OSError, RuntimeError, ImportError) as exc:
        if debug:
            raise
        _error(str(exc))
        return EXIT_FAILURE
    except Exception as exc:            # a bug: still one line, with a way to see more
        if debug:
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} "
               "(set FPSIM_DEBUG=1 for the traceback, and please report it)")
        return EXIT_FAILURE


def _error(message: str) -> None:
    print("fpsim: error: " + " ".join(str(message).split()), file=sys.stderr)  # one line


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
