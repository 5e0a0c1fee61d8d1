"""The runnable examples in the public API's docstrings run and print what they say."""
import doctest
import importlib

import pytest

MODULES = ["fpsim.formats", "fpsim.rounding", "fpsim.quantize", "fpsim.arith",
           "fpsim.accumulate", "fpsim._args", "fpsim.text", "fpsim.analysis.draws",
           "fpsim.analysis.estimator", "fpsim.analysis.measure", "fpsim.analysis.sweep",
           "fpsim.analysis.figure"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
