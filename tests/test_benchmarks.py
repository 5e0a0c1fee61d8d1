"""The benchmark harness runs end to end (quick mode) and writes a complete report.

Speed is measured, never asserted: these tests check that every path of
benchmarks/run.py still runs, that the markdown has its tables, and that the timings
are positive numbers. One rival (pychop) is hidden from the run to exercise the
"missing rival" path the way a user without the ``compare`` extra would see it.
"""
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "benchmarks" / "run.py"

SECTIONS = ("## Targets", "## Machine", "## Method", "## How noisy the machine was", "## Quantize",
            "## Elementwise arithmetic", "## Matrix product", "## Dot product",
            "## Monte Carlo trial kernel", "## Threads", "## Dot-product error")
FIGURES = ("bench_scaling.png", "bench_error_orders_gaussian.png", "bench_error_orders_uniform.png",
           "bench_error_widths_gaussian.png", "bench_error_widths_uniform.png")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("bench")
    md, js = out_dir / "benchmarks.md", out_dir / "results.json"
    # sys.modules[name] = None makes `import pychop` raise ImportError: "not installed"
    code = ("import sys, runpy; sys.modules['pychop'] = None; "
            f"sys.argv = [{str(RUN)!r}, '--quick', '--threads', '1,2', '--out', {str(md)!r}, "
            f"'--json', {str(js)!r}]; runpy.run_path({str(RUN)!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return md.read_text(), json.loads(js.read_text()), out_dir


def _table_rows(md: str, heading: str) -> list:
    """Rows (lists of cells) of the first table after ``heading``."""
    lines = md[md.index(heading):].splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[2:]                                     # drop the header and the rule


def _timings(node, path=()):
    """Every timing dict in the JSON results, with where it was found."""
    if isinstance(node, dict):
        if "samples" in node and "rate" in node:
            yield path, node
        else:
            for k, v in node.items():
                yield from _timings(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _timings(v, path + (i,))


def test_report_has_every_section_and_figure(quick_run):
    md, _, out_dir = quick_run
    for heading in SECTIONS:
        assert heading in md, heading
    for name in FIGURES:
        fig = out_dir / "figures" / name
        assert fig.exists() and fig.stat().st_size > 10_000, name
        assert f"figures/{name}" in md, name
    assert "python benchmarks/run.py" in md


def test_throughput_tables_hold_positive_numbers(quick_run):
    md, _, _ = quick_run
    rows = _table_rows(md, "## Quantize")
    keys = {r[0] for r in rows}
    for fmt in ("binary16", "bfloat16", "e4m3fn", "e5m2", "e2m1"):
        for mode in ("rne", "rtz", "sr"):
            assert f"{fmt}/{mode}" in keys
    for heading, first_col in (("## Quantize", 1), ("## Elementwise arithmetic", 1),
                               ("## Matrix product", 1), ("## Monte Carlo trial kernel", 1)):
        rows = _table_rows(md, heading)
        assert rows, heading
        for r in rows:
            value = float(r[first_col].split()[0])       # "444 [434–834]" -> 444
            assert value > 0 and math.isfinite(value), (heading, r)
    orders = {r[0] for r in _table_rows(md, "## Matrix product")}
    for order in ("sequential", "chunked(64)", "pairwise", "kahan", "exact"):
        for prod in ("exact", "binary16"):
            assert f"{order} / products {prod}" in orders


def test_targets_table_has_a_verdict_per_target(quick_run):
    md, _, _ = quick_run
    rows = _table_rows(md, "## Targets")
    assert len(rows) == 4
    for r in rows:
        assert r[-1] in ("**yes**", "**no**", "n/a (rival missing)"), r
        assert re.search(r"\d×", r[2]), r                 # a measured ratio at 1 thread


def test_timings_are_positive_and_missing_rival_is_reported(quick_run):
    md, data, _ = quick_run
    found = list(_timings(data["sections"]))
    assert len(found) > 100
    for path, t in found:
        assert t["samples"] and all(s > 0 for s in t["samples"]), path
        assert t["rate"] > 0 and t["median"] > 0 and t["rate_min"] <= t["rate"] <= t["rate_max"], path
    assert data["machine"]["rivals"]["pychop"].startswith("missing: not installed")
    assert "pychop: not installed" in md
    # the rivals that are installed here were timed
    q = data["sections"]["quantize"]["1"]["binary16/rne"]["timings"]
    assert "samples" in q["numpy"]


def test_timing_group_survives_a_failing_case():
    sys.path.insert(0, str(REPO))
    from benchmarks.timing import Case, Failed, Timing, paired_ratio, run_group

    def boom():
        raise RuntimeError("rival broke")

    res = run_group({"ok": Case(lambda: sum(range(100)), 100, "values"),
                     "bad": Case(boom, 1, "values"),
                     "given": Failed("not installed")}, repeat=3, min_time=0.001)
    assert isinstance(res["ok"], Timing) and len(res["ok"].samples) == 3
    assert isinstance(res["bad"], Failed) and "rival broke" in res["bad"].reason
    assert isinstance(res["given"], Failed)
    r = paired_ratio(res["ok"], res["ok"])
    assert r[0] == pytest.approx(1.0)
    assert paired_ratio(res["ok"], res["bad"]) is None


def test_analytical_benchmark_runs(capsys):
    """benchmarks/bench_analytical.py (the speed of predict and min_macc, once asserted in
    test_predict.py and test_vrr.py) runs and reports a positive time for each case."""
    sys.path.insert(0, str(REPO))
    from benchmarks import bench_analytical

    assert bench_analytical.main(["--repeat", "2", "--min-time", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in bench_analytical.CASES:
        row = next(l for l in lines if l.startswith(name))
        cold, median = (float(v) for v in row[len(name):].split()[:2])
        assert cold > 0 and median > 0, row
