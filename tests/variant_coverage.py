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
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
