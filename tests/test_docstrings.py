"""The runnable examples in docstrings run and print what they say.

This is the one place where doctests run: each module with examples is doctested here, once.
A doctest run that finds no example passes with ``failed == 0``; so the number of examples
run must also be at least the number of ``>>>`` lines in the module's source. That catches
an example doctest never sees (a docstring it does not collect, a malformed ``>>>`` prompt,
a ``+SKIP``), and :func:`test_every_module_with_examples_is_doctested` catches a module
with examples missing from ``MODULES``. (Run can exceed the count: ``fpsim.arith`` builds
three docstrings from one template, whose ``>>> import fpsim`` then runs three times.)
"""
import doctest
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

MODULES = ["fpsim.formats", "fpsim.rounding", "fpsim.quantize", "fpsim.arith",
           "fpsim.accumulate", "fpsim.orders", "fpsim.hardware", "fpsim._args", "fpsim.text",
           "fpsim.trials", "fpsim.analysis.montecarlo",
           "fpsim.analysis.vrr", "fpsim.analysis.adder", "fpsim.analysis.predict", "fpsim.analysis.draws",
           "fpsim.analysis.estimator", "fpsim.analysis.measure", "fpsim.analysis.sweep",
           "fpsim.analysis.figure", "fpsim.analysis.hardware", "fpsim.analysis.tasks",
           "fpsim.app.report",
           "fpsim.app.progress",
           "fpsim.app.train", "fpsim.kernels.jit", "reference.rounding"]

# where the importable modules live (reference: tests/ is on sys.path, see conftest.py)
PACKAGES = {"fpsim": REPO / "fpsim", "fpsim.kernels": REPO / "fpsim" / "kernels",
            "fpsim.analysis": REPO / "fpsim" / "analysis", "fpsim.app": REPO / "fpsim" / "app",
            "reference": REPO / "tests" / "reference", "benchmarks": REPO / "benchmarks"}

PROMPT = re.compile(r"^\s*>>>", flags=re.M)


def source_path(name: str) -> Path:
    package, _, module = name.rpartition(".")
    return PACKAGES[package] / f"{module}.py"


def examples_in_source(name: str) -> int:
    """``>>>`` lines in the module's file: the examples written there."""
    return len(PROMPT.findall(source_path(name).read_text(encoding="utf-8")))


#: modules of an optional extra: doctested when the extra is installed (CI installs it)
OPTIONAL = {"fpsim.torch": "torch"}


@pytest.mark.parametrize("name", MODULES + sorted(OPTIONAL))
def test_docstring_examples(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name], reason=f"{name} needs the optional {OPTIONAL[name]}")
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve() == source_path(name).resolve()
    written = examples_in_source(name)
    result = doctest.testmod(module)           # no option flags: the output as printed
    assert result.failed == 0
    assert written > 0, f"{name} has no examples"
    assert result.attempted >= written, (
        f"{name}: {written} examples written, {result.attempted} run")


def test_every_module_with_examples_is_doctested():
    found = {f"{package}.{path.stem}"
             for package, folder in PACKAGES.items() for path in folder.glob("*.py")}
    assert {"fpsim.analysis.vrr", "fpsim.kernels.mac", "reference.rounding"} <= found
    with_examples = {name for name in found if examples_in_source(name) > 0}
    listed = set(MODULES) | set(OPTIONAL)
    assert not with_examples - listed, f"examples never run: {sorted(with_examples - listed)}"
    assert not set(MODULES) - with_examples, f"no examples: {sorted(set(MODULES) - with_examples)}"
