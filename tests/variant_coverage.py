"""Does one test run build every kernel path that another builds?

The default run leaves the ``slow`` tests out; issue 15 allows that only if it still
covers every kernel path. A path here is one specialising choice reaching one function:
each value at each position of a variant factory's key (tier, mode, products rounded,
chunked, ...) and each argument type at each position of every compiled function
(carrier dtypes, and the literal constants by which ``by_literal`` and the tiles choose a
body). Both runs log what they built (``FPSIM_VARIANT_LOG=DIR``, tests/conftest.py); this
checks that every such (function, position, value) of the second run is in the first.
The full cross product of the choices is the slow run's job, not the default's.

The default run must start from an empty cache (as CI's fresh clone does): a process logs
the functions it compiles, and of those it loads from the cache only the ones it calls
from Python. So a variant the slow run loads, the default run built; one it compiles, it
logs down to every function inside, and the check sees whether the default run had them.

It also fails if the default run compiled one function twice for argument types that
differ only in how an integer or flag is typed (``doubles``): a literal 0 where the other
caller passes an int64, a uint64 loop index where the other passes an int64. Each such
double is a second compile of the same code, often of a whole tile.

    python tests/variant_coverage.py DEFAULT_DIR SLOW_DIR     # exit 1 and a list if not
"""
from __future__ import annotations

import json
import os
import sys


def load(log_dir: str) -> dict:
    """The union of every process's log in ``log_dir``: {name: [(key, [signature])]}."""
    merged: dict = {}
    for name in sorted(os.listdir(log_dir)):
        if name.endswith(".json"):
            with open(os.path.join(log_dir, name)) as f:
                for func, rows in json.load(f).items():
                    merged.setdefault(func, []).extend(rows)
    return merged


def paths(log: dict) -> set:
    """Every (function, "key" or "arg", position, value) that ``log`` built."""
    out = set()
    for func, rows in log.items():
        if rows:
            out.add((func, "built", -1, ""))
        for key, signatures in rows:
            out.update((func, "key", i, json.dumps(v)) for i, v in enumerate(key))
            for sig in signatures:
                out.update((func, "arg", i, t) for i, t in enumerate(sig))
    return out


def missing(covering: dict, covered: dict) -> list:
    """The paths of ``covered`` that ``covering`` lacks, sorted."""
    return sorted(paths(covered) - paths(covering))


_INTEGERS = ("int64", "uint64", "int32", "uint32", "intp", "uintp")


def _same_value_class(a: str, b: str) -> bool:
    """Whether argument types a != b could carry the same value: a literal and its plain
    type (``Literal[int](0)`` and int64), or two integer types. Two different literals are
    a choice (``by_literal``, the tiles), not a double."""
    lit_a, lit_b = a.startswith("Literal["), b.startswith("Literal[")
    if lit_a and lit_b:
        return False
    if lit_a or lit_b:
        lit, plain = (a, b) if lit_a else (b, a)
        kind = lit[len("Literal["):lit.index("]")]
        return (kind == "int" and plain in _INTEGERS) or (kind == "bool" and plain == "bool")
    return a in _INTEGERS and b in _INTEGERS


def doubles(log: dict) -> list:
    """(function, key, position, type, type) for two compiled versions of one function
    whose argument types differ only in how an integer or flag is typed (see
    ``_same_value_class``): the same code compiled twice, because one caller passes a
    literal or an unsigned index where another passes an int64 (docs/architecture.md,
    "One compiled version per callee and variant")."""
    out = set()
    for func, rows in log.items():
        by_key: dict = {}
        for key, signatures in rows:
            by_key.setdefault(json.dumps(key), set()).update(tuple(s) for s in signatures)
        for key, sigs in by_key.items():
            sigs = sorted(sigs)
            for i, a in enumerate(sigs):
                for b in sigs[i + 1:]:
                    if len(a) != len(b):
                        continue
                    diff = [(k, x, y) for k, (x, y) in enumerate(zip(a, b)) if x != y]
                    if diff and all(_same_value_class(x, y) for _, x, y in diff):
                        out.update((func, key, k, x, y) for k, x, y in diff)
    return sorted(out)


def main(argv) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    default, slow = (load(d) for d in argv)
    gaps = missing(default, slow)
    for func, kind, i, value in gaps:
        print(f"default run lacks {func} {kind}[{i}] = {value}")
    n = len(paths(slow))
    print(f"{n - len(gaps)} of {n} kernel paths of the slow run built by the default run")
    twice = doubles(default)
    for func, key, i, a, b in twice:
        print(f"compiled twice: {func} key {key} argument {i} as {a} and as {b}")
    return 1 if gaps or twice else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
