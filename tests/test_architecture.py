"""The layers of docs/architecture.md, read from the import statements of fpsim/.

app (fpsim.app) -> analysis (fpsim.analysis) -> arithmetic API (fpsim.*) -> kernels
(fpsim.kernels): every import goes down (or stays in its layer), the package facade
(fpsim/__init__.py) sits between analysis and app, and the module graph has no cycle.
A plain checkout imports without installing (no package-dir remapping).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "fpsim"

#: layer of a module; a module may import modules of its own layer or below.
KERNELS, API, ANALYSIS, FACADE, APP = 0, 1, 2, 3, 4
LAYER_NAMES = {KERNELS: "kernels", API: "arithmetic API", ANALYSIS: "analysis",
               FACADE: "package facade", APP: "app"}
#: layers a layer may not import although they are below it: only the API reaches the kernels
SKIP_FORBIDDEN = {ANALYSIS: {KERNELS}, FACADE: {KERNELS}, APP: {KERNELS}}


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int:
    parts = module.split(".")
    if module == "fpsim":
        return FACADE
    sub = parts[1]
    # ``python -m fpsim`` is the command line: an app module
    return {"kernels": KERNELS, "analysis": ANALYSIS, "app": APP, "__main__": APP}.get(sub, API)


def imports_of(path: Path) -> set:
    """The fpsim modules ``path`` imports (absolute or relative, at any depth)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "fpsim")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "fpsim":
                target = node.module
            else:
                continue
            for alias in node.names:       # `from . import plots` imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return {m for m in found if _exists(m)}


def _exists(module: str) -> bool:
    p = REPO.joinpath(*module.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def graph() -> dict:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_layers_are_where_the_docs_say():
    g = graph()
    assert any(layer(m) == KERNELS for m in g) and any(layer(m) == APP for m in g)
    assert layer("fpsim.kernels.sequential") == KERNELS and layer("fpsim.accumulate") == API


def test_no_upward_imports():
    bad = []
    for mod, targets in graph().items():
        for t in targets:
            lm, lt = layer(mod), layer(t)
            if lt > lm or lt in SKIP_FORBIDDEN.get(lm, ()):
                bad.append(f"{mod} ({LAYER_NAMES[lm]}) imports {t} ({LAYER_NAMES[lt]})")
    assert not bad, "\n".join(bad)


def _cycle(g: dict):
    """One cycle of the graph as a list of modules, or None."""
    state: dict = {}
    stack: list = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if t == m or t == m.rsplit(".", 1)[0] and m.startswith(t + "."):
                continue              # a package's own submodules import it: not a cycle
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(g):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycles():
    cycle = _cycle(graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    """Negative control for the two checks above."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    assert layer("fpsim.app.cli") > layer("fpsim.analysis.vrr") > layer("fpsim.quantize")


def test_plain_checkout_imports(tmp_path):
    """``PYTHONPATH=<checkout> python -c "import fpsim"`` from elsewhere: the source tree
    is the package (kernels inside it), no install needed."""
    code = "import fpsim, fpsim.kernels.mac; print(fpsim.__file__)"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, %r); %s"
                           % (str(REPO), code)], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Path(proc.stdout.strip()).resolve() == (PACKAGE / "__init__.py").resolve()


@pytest.mark.parametrize("name", ["Sequential", "Chunked", "Pairwise", "Kahan", "Exact",
                                  "AccumSpec", "dot", "matmul", "quantize", "measure_vrr",
                                  "vrr", "predict"])
def test_documented_names_at_the_top(name):
    import fpsim
    assert name in fpsim.__all__ and hasattr(fpsim, name)
