"""Every module the project imports is declared: a fresh virtual environment with
``pip install -e '.[test]'`` (or another extra) must have it.

The import statements of ``fpsim/``, ``tests/`` and ``benchmarks/`` are read with ``ast``
(including imports inside functions, ``importlib.import_module("name")`` and
``pytest.importorskip("name")`` with a literal name, and the rivals table of
``benchmarks/rivals.py``). Each top-level module must be the standard library, the project
itself, or provided by a distribution named in ``pyproject.toml``'s dependencies or extras.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10: the test extra declares tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
SCANNED = ("fpsim", "tests", "benchmarks")

#: Import names that differ from the distribution that provides them.
DISTRIBUTION_OF = {"sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow",
                   "distributed": "distributed", "dateutil": "python-dateutil"}


def normalise(dist: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", dist).lower()


def declared_distributions(pyproject: dict) -> dict:
    """{normalised distribution name: where it is declared} from a parsed pyproject."""
    project = pyproject["project"]
    groups = {"dependencies": project.get("dependencies", [])}
    groups.update({f"[{k}]": v for k, v in project.get("optional-dependencies", {}).items()})
    found: dict = {}
    for where, reqs in groups.items():
        for req in reqs:
            name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1)
            found.setdefault(normalise(name), []).append(where)
    return found


def local_modules() -> set:
    """Top-level names that are the project: its packages and the modules ``tests/`` puts
    on sys.path (conftest inserts tests/)."""
    names = set(SCANNED)
    for folder in (REPO, REPO / "tests"):
        for p in folder.iterdir():
            if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()):
                names.add(p.stem)
    return names


def _literal_names(call: ast.Call) -> list:
    """The literal module name of importlib.import_module("x") / pytest.importorskip("x")."""
    f = call.func
    attr = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    if attr in ("import_module", "importorskip") and call.args \
            and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return [call.args[0].value]
    return []


def imported_modules(source: str) -> set:
    """Top-level names of the absolute imports in ``source``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call):
            names.update(_literal_names(node))
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "LIBRARIES" for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            # benchmarks/rivals.py: {display name: importable module}
            names.update(v.value for v in node.value.values if isinstance(v, ast.Constant))
    return {n.split(".")[0] for n in names}


def undeclared(files, declared: dict, local: set) -> dict:
    """{module: [files importing it]} for modules neither stdlib, local nor declared."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    missing: dict = {}
    for path in files:
        for mod in imported_modules(Path(path).read_text()):
            if mod in stdlib or mod in local:
                continue
            if normalise(DISTRIBUTION_OF.get(mod, mod)) not in declared:
                missing.setdefault(mod, []).append(Path(path).name)
    return missing


def project_files():
    for top in SCANNED:
        if (REPO / top).is_dir():
            yield from sorted((REPO / top).rglob("*.py"))


PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_import_is_declared():
    missing = undeclared(project_files(), declared_distributions(PYPROJECT), local_modules())
    assert not missing, "imported but declared in no extra of pyproject.toml: " + "; ".join(
        f"{mod} (in {', '.join(files)})" for mod, files in sorted(missing.items()))


def test_the_check_finds_an_undeclared_import(tmp_path):
    """Negative control: the checker is not vacuous."""
    f = tmp_path / "probe.py"
    f.write_text("import math\nimport notdeclared_pkg.sub\nfrom fpsim import dot\n"
                 "def g():\n    import scipy\n    import importlib\n"
                 "    importlib.import_module('other_undeclared')\n")
    declared = declared_distributions(PYPROJECT)
    assert set(undeclared([f], declared, local_modules())) == {
        "notdeclared_pkg", "other_undeclared"}
    declared.pop("scipy")
    assert set(undeclared([f], declared, local_modules())) == {
        "notdeclared_pkg", "other_undeclared", "scipy"}


def test_the_runtime_needs_only_numpy_and_numba():
    """``import fpsim`` loads no optional dependency beyond what numba itself loads when it
    is present (numba imports scipy if it can): a plain install has numpy and numba (with
    numba's llvmlite) only."""
    runtime = {normalise(re.match(r"[A-Za-z0-9._-]+", r).group(0))
               for r in PYPROJECT["project"]["dependencies"]}
    assert runtime == {"numpy", "numba", "llvmlite"}
    optional = sorted({normalise(d) for reqs in
                       PYPROJECT["project"]["optional-dependencies"].values()
                       for d in (re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in reqs)}
                      - runtime)
    modules = [{"ml-dtypes": "ml_dtypes"}.get(d, d) for d in optional]
    code = ("import sys, numpy, numba; before = set(sys.modules); import fpsim; "
            "print(' '.join(m for m in %r if m in set(sys.modules) - before))" % modules)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout.split()
    assert out == [], f"import fpsim imported optional modules: {out}"


MACHINE_PATH = r"/(?:work|root)/|/home/[a-z]|/Users/[A-Z]|[A-Z]:\\Users"


def test_no_machine_paths():
    """No absolute path of a development machine in the tracked sources and docs."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if files.returncode != 0:
        pytest.skip("not a git checkout")
    hits = []
    for name in files.stdout.split():
        p = REPO / name
        if p.suffix not in (".py", ".md", ".toml", ".txt", ".cfg", ".sh", "") or not p.is_file():
            continue
        for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            if re.search(MACHINE_PATH, line):
                hits.append(f"{name}:{i}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits)
