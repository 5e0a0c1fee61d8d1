"""The ``fpsim`` command through its real entry points (``python -m fpsim`` and, when it is
on PATH, the ``fpsim`` console script): output, ``--json``/``--csv``, exit codes and
one-line errors. Kept small (n, trials) so the file runs in well under a minute; the
report itself is tested in test_report.py."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

import fpsim
from fpsim.app import cli
from fpsim.app.progress import Progress, Stages

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args, check=True, stdin=None):
    """``python -m fpsim ARGS`` in a fresh process (stderr is a pipe: no progress bars)."""
    proc = subprocess.run([sys.executable, "-m", "fpsim", *map(str, args)], capture_output=True,
                          text=True, input=stdin, timeout=120,
                          env={**os.environ, "FPSIM_DEBUG": ""})
    if check:
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def run_json(*args):
    return json.loads(run(*args, "--json").stdout)


def assert_usage_error(proc, *words):
    """Exit status 2 and exactly one line on stderr, 'fpsim: error: ...', no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fpsim: error: "), lines[0]
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert proc.stdout == ""


# ---------------------------------------------------------------- help and version

def test_help_lists_every_command_and_examples():
    out = run("--help").stdout
    for command in ("formats", "quantize", "dot", "vrr", "predict", "measure", "sweep", "figure2",
                    "compare", "calibrate", "report"):
        assert command in out
    assert "examples:" in out and "exit status" in out


def test_subcommand_help_has_examples():
    out = run("quantize", "--help").stdout
    assert "examples:" in out and "fpsim quantize 0.1" in out and "--rounding" in out


def test_version():
    assert run("--version").stdout.strip() == f"fpsim {fpsim.__version__}"


def test_console_script_if_installed():
    exe = shutil.which("fpsim")
    if exe is None:
        pytest.skip("the fpsim console script is not on PATH")
    proc = subprocess.run([exe, "formats", "fp16", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["max"] == 65504.0
    bad = subprocess.run([exe, "quantize", "1", "--format", "e4m"], capture_output=True,
                         text=True, timeout=120)
    assert_usage_error(bad, "--format")


# ---------------------------------------------------------------- formats

def test_formats_table_and_json():
    out = run("formats").stdout
    assert "fp8_e4m3fn" in out and "448.0" in out and "2^-24" in out and "accumulator(9)" in out
    records = {r["name"]: r for r in run_json("formats")}
    assert records["binary16"]["max"] == 65504.0
    assert records["binary16"]["smallest_subnormal"] == 2.0 ** -24
    assert records["fp8_e4m3fnuz"]["bias"] == 8 and records["fp8_e4m3fnuz"]["inf"] == "none"
    assert records["fp4_e2m1"]["nan"] == "none" and records["fp4_e2m1"]["max"] == 6.0


def test_formats_named_csv():
    rows = list(csv.DictReader(io.StringIO(run("formats", "e6m9", "e4m3fn", "--csv").stdout)))
    assert [r["format"] for r in rows] == ["e6m9", "e4m3fn"]
    assert float(rows[1]["max"]) == 448.0


# ---------------------------------------------------------------- quantize

def test_quantize_table():
    out = run("quantize", "0.1", "1/3", "65519", "70000", "-2.5", "--format", "fp16").stdout
    assert "format e5m10" in out
    for text in ("0.0999755859375", "0x2e66", "0.333251953125", "0x3555", "65504.0", "0x7bff",
                 "inf", "0x7c00", "0xc100", "1 10000 0100000000"):
        assert text in out, text


def test_quantize_json_and_saturate():
    d = run_json("quantize", "500", "-500", "0.1", "--format", "e4m3fn", "--saturate")
    assert d["format"] == "e4m3fn" and d["saturate"] is True
    assert [v["value"] for v in d["values"]] == [448.0, -448.0, 0.1015625]
    assert [v["hex"] for v in d["values"]] == ["0x7e", "0xfe", "0x1d"]


def test_quantize_rounds_the_typed_real_once():
    # 1 + 2^-11 + 10^-35 is just above the fp16 tie 1 + 2^-11: nearest is 1 + 2^-10. Read as
    # the nearest double first it would become the tie itself and round to even (1.0).
    d = run_json("quantize", "1.00048828125000000000000000000000001", "1.00048828125",
                 "--format", "fp16")
    assert [v["value"] for v in d["values"]] == [1.0009765625, 1.0]
    # directed rounding of a decimal just below 1: toward zero stays below 1
    d = run_json("quantize", "0.99999999999999999999", "--format", "fp16", "--rounding", "rtz")
    assert d["values"][0]["value"] == 1.0 - 2.0 ** -11


def test_quantize_wide_formats_and_extremes_round_once():
    # binary64 itself: 0.1 lies below its nearest double, so rtz gives the double below
    d = run_json("quantize", "0.1", "1.00000000000000011102230246251565404236316680908203125",
                 "--format", "binary64", "--rounding", "rtz")
    assert [v["value"] for v in d["values"]] == [math.nextafter(0.1, 0.0), 1.0]
    d = run_json("quantize", "1.00000000000000011102230246251565404236316680908203125",
                 "--format", "binary64", "--rounding", "rna")          # an exact tie: away
    assert d["values"][0]["value"] == 1.0 + 2.0 ** -52
    # beyond float64 and below its smallest subnormal
    d = run_json("quantize", "1e400", "-1" + "0" * 400, "1e-400", "--format", "fp16", "--rounding", "ru")
    assert [v["value"] for v in d["values"]] == ["inf", -65504.0, 2.0 ** -24]
    d = run_json("quantize", "1e400", "--format", "fp16", "--saturate")
    assert d["values"][0]["value"] == 65504.0


def test_quantize_stdin_and_sr_seed():
    proc = run("quantize", "-", "--format", "bfloat16", "--json", stdin="0.1 0.2\n0.3")
    assert len(json.loads(proc.stdout)["values"]) == 3
    a = run_json("quantize", "0.3", "0.3", "0.3", "--format", "e5m2", "--rounding", "sr", "--seed", "7")
    b = run_json("quantize", "0.3", "0.3", "0.3", "--format", "e5m2", "--rounding", "sr", "--seed", "7")
    assert a == b
    assert {v["value"] for v in a["values"]} <= {0.25, 0.3125}


# ---------------------------------------------------------------- dot

def test_dot_ones_shows_swamping():
    d = run_json("dot", "--n", "4096", "--dist", "ones", "--acc", "bfloat16",
                 "--order", "sequential", "chunked", "--chunk", "64")
    seq, chk = d["rows"]
    assert d["exact"] == 4096.0
    assert seq["order"] == "sequential" and seq["result"] == 256.0 and seq["full_swamping"] == 3840
    assert chk["order"] == "chunked(64)" and chk["result"] == 4096.0 and chk["full_swamping"] == 0


def test_dot_random_table_all_orders():
    out = run("dot", "--n", "300", "--acc", "e6m8", "--seed", "3").stdout
    for order in ("sequential", "chunked(64)", "pairwise", "kahan", "exact"):
        assert order in out
    assert "exact sum of the exact products" in out and "full swamp" in out


def test_dot_given_vectors_csv():
    rows = list(csv.DictReader(io.StringIO(run(
        "dot", "--a", "1,2,3", "--b", "0.5,0.25,0.125", "--acc", "e5m2", "--order", "sequential",
        "--csv").stdout)))
    assert len(rows) == 1
    assert float(rows[0]["exact"]) == 1.375 and float(rows[0]["result"]) == 1.5


# ---------------------------------------------------------------- vrr, predict

def test_vrr_knees_match_library():
    d = run_json("vrr", "--n", "576", "4608", "--chunk", "none", "64")
    knees = {(k["n"], k["chunk"]): k["knee"] for k in d["knees"]}
    assert knees == {(576, None): fpsim.min_macc(576, m_p=5), (4608, None): fpsim.min_macc(4608, m_p=5),
                     (576, 64): fpsim.min_macc(576, m_p=5, chunk=64),
                     (4608, 64): fpsim.min_macc(4608, m_p=5, chunk=64)}
    row = next(r for r in d["rows"] if (r["n"], r["chunk"], r["m_acc"]) == (4608, None, 9))
    assert math.isclose(row["vrr"], fpsim.vrr(4608, 9, m_p=5), rel_tol=1e-12)
    assert row["meets_cutoff"] is True


def test_vrr_table_with_ranges():
    out = run("vrr", "--n", "2^10", "--m-acc", "6..8", "--model", "full").stdout
    assert "model 'full'" in out and "1024" in out
    assert sum(line.startswith("1024") for line in out.splitlines()) == 3


def test_predict_outputs():
    d = run_json("predict", "resnet18")
    assert d["network"] == "resnet18" and d["batch"] == 256
    assert d["rows"][3] == {"layer": "layer1.0.conv1", "gemm": "FWD", "n": 576, "m_acc": 6,
                            "m_acc_chunked": 4}
    out = run("predict", "all", "--summary").stdout
    assert out.count("network=") == 3 and "GRAD" in out
    header = run("predict", "alexnet", "--batch", "128", "--csv").stdout.splitlines()[0]
    assert header == "layer,gemm,n,m_acc,m_acc_chunked"


# ---------------------------------------------------------------- measure, sweep

def test_measure_json():
    d = run_json("measure", "--n", "256", "--m-acc", "6", "--trials", "200", "--seed", "1")
    assert d["n"] == 256 and d["trials"] == 200
    lo, hi = d["vrr_ci"]
    assert lo <= d["vrr"] <= hi
    assert d["stats"]["additions"] > 0 and d["model_variance_lost"] > 0


def test_sweep_json_and_plot(tmp_path):
    png = tmp_path / "fig.png"
    d = json.loads(run("sweep", "--n", "64", "256", "--m-acc", "4,8", "--trials", "100",
                       "--plot", png, "--json").stdout)
    assert len(d["rows"]) == 2 * 2 * 2          # n x m_acc x chunk (none, 64)
    assert {r["chunk"] for r in d["rows"]} == {None, 64}
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_sweep_table_and_knee():
    out = run("sweep", "--n", "64", "--m-acc", "4", "8", "--chunk", "none", "--trials", "50").stdout
    assert "variance_lost" in out and "smallest m_acc" in out


def test_sweep_csv_equals_the_library():
    rows = list(csv.DictReader(io.StringIO(run(
        "sweep", "--n", "64", "128", "--m-acc", "4,6", "--trials", "30", "--chunk", "none", "32",
        "--nzr", "0.5", "--csv").stdout)))
    assert len(rows) == 8 and {r["chunk"] for r in rows} == {"", "32"}
    table = fpsim.sweep([64, 128], [4, 6], chunks=(None, 32), trials=30, m_p=5, nzr=0.5)
    assert [float(r["vrr"]) for r in rows] == [r["vrr"] for r in table.rows]


def test_figure2_json_and_text():
    d = run_json("figure2", "--n", "64", "128", "--m-acc", "4", "6", "--trials", "50")
    assert [(s["m_acc"], s["chunk"]) for s in d["series"]] == [(4, None), (6, None), (4, 64), (6, 64)]
    assert len(d["rows"]) == 8 and d["trials"] == 50 and d["series"][0]["curve_n"][0] == 64
    out = run("figure2", "--n", "64", "128", "--m-acc", "4", "6", "--trials", "50").stdout
    assert "Figure 2" in out and "8 measured points" in out and "smallest m_acc" in out


def test_compare_markdown_and_json():
    out = run("compare", "--trials", "3", "--seed", "1").stdout
    assert out.startswith("Measured with T = 3 trials, m_p = 5, seed = 1")
    assert "**rne, single sum**" in out and "**rtz, chunks of 64**" in out and "**Knees**" in out
    assert "| n | m_acc | measured | paper | full | meas/paper |" in out
    d = run_json("compare", "--trials", "3")
    assert len(d["rows"]) == 4 * 7 * 2 * 2 and d["params"]["roundings"] == ["rne", "rtz"]


def test_calibrate_json():
    d = run_json("calibrate", "--trials", "3", "--seed", "5")
    assert d["trials"] == 3 and d["seed"] == 5 and len(d["band"]) == 2
    assert d["rows"] and all(fpsim.paper_regime(r["n"], r["m_acc"], m_p=r["m_p"], chunk=r["chunk"])
                             for r in d["rows"])
    assert {r["m_p"] for r in d["rows"]} == {5, 10, None}


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("args, words", [
    (["quantize", "1", "--format", "e99m3"], ["--format", "exp_bits"]),
    (["frobnicate"], ["invalid choice"]),
    (["vrr", "--n", "0"], ["--n", "n must satisfy n >= 1, got 0"]),
    (["measure", "--n", "64", "--m-acc", "4", "--trials", "1"], ["--trials", "trials >= 2"]),
    (["sweep", "--dist", "cauchy"], ["--dist", "dist must be one of", "'cauchy'"]),
    (["vrr", "--n", "10", "--nzr", "2"], ["--nzr", "0 < nzr <= 1", "2.0"]),
    (["dot", "--a", "1,2", "--b", "1"], ["lengths differ"]),
    (["predict", "lenet"], ["invalid choice", "resnet18"]),
])
def test_usage_errors_are_one_line_exit_2(args, words):
    assert_usage_error(run(*args, check=False), *words)


def test_runtime_failure_exit_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run("report", "--quick", "--quiet", "--out", blocker, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fpsim: error: ") and "not a directory" in lines[0]


@pytest.mark.parametrize("argv, code", [
    ([], 2),
    (["quantize", "abc"], 2),
    (["quantize", "1", "--rounding", "up-ish"], 2),
    (["dot", "--a", "1,2"], 2),
    (["vrr", "--n", "10", "--nzr", "2"], 2),
    (["vrr", "--n", "10", "--cutoff", "0.5"], 2),
    (["measure", "--n", "64", "--m-acc", "4", "--trials", "1"], 2),
    (["measure", "--n", "64", "--m-acc", "4", "--dist", "cauchy"], 2),
    (["sweep", "--m-acc", "9..4"], 2),
    (["formats", "e4m3fn", "--json", "--csv"], 2),
])
def test_more_errors_in_process(argv, code, capsys):
    assert cli.main(argv) == code
    out, err = capsys.readouterr()
    if argv:
        assert err.startswith("fpsim: error: ") and err.count("\n") == 1 and "Traceback" not in err
    else:                                          # no command: the help, on stdout
        assert err == "" and out.startswith("usage: fpsim ") and "examples:" in out


def test_in_process_main_matches_subprocess(capsys):
    assert cli.main(["formats", "fp16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["max"] == 65504.0


def test_import_fpsim_does_not_import_matplotlib():
    code = ("import sys, fpsim, fpsim.app.cli, fpsim.app.report, fpsim.app.plots, fpsim.app.progress; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------- progress bar

class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_draws_only_on_a_terminal():
    tty, pipe = _Tty(), io.StringIO()
    with Progress("work", stream=tty, delay=0, interval=0) as bar:
        for i in range(1, 5):
            bar(i, 4)
    assert "work [" in tty.getvalue() and "100%" in tty.getvalue() and tty.getvalue().endswith("\n")
    with Progress("work", stream=pipe, delay=0, interval=0) as bar:
        bar(1, 1)
    assert pipe.getvalue() == ""
    quiet = _Tty()
    with Progress("work", stream=quiet, enabled=False, delay=0) as bar:
        bar(1, 1)
    assert quiet.getvalue() == ""


def test_progress_waits_for_its_delay():
    tty = _Tty()
    with Progress("fast", stream=tty, delay=60) as bar:
        bar(1, 2)
        bar(2, 2)
    assert tty.getvalue() == ""


def test_stages_weight_the_overall_fraction():
    seen = []
    stages = Stages(lambda d, t: seen.append(d / t), {"a": 1, "b": 3})
    a = stages.stage("a")
    a(1, 1)
    b = stages.stage("b")
    b(1, 2)
    b(2, 2)
    assert seen[0] == 0 and seen[1] == 0.25 and seen[-2] == 0.625 and seen[-1] == 1.0


# ---------------------------------------------------------------- the README
#
# README.md's ```python blocks run in order, in one namespace, one top-level statement at a
# time, and each statement must print exactly what the README shows: in a comment on the
# statement's lines, or on a comment line after it (before the next statement), the text
# after "->" is one line of its output, in order (prose may come before the "->"; a comment
# without "->" is prose). Compared exactly but for trailing whitespace on each line. A
# statement that prints with no "->", or whose "->" lines differ from what it prints
# (also: prints nothing), fails; so does a "->" ahead of a block's first statement.

def _readme():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as fh:
        return fh.read()


def readme_python_blocks(text):
    """[(line number in README.md of the block's first line, block source)]."""
    import re
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S)]


def expected_outputs(block):
    """[(statement, [expected output lines])] for the top-level statements of a block."""
    import ast
    import re
    import tokenize
    arrows = [(tok.start[0], re.search(r"->(?: |$)(.*)", tok.string))
              for tok in tokenize.generate_tokens(io.StringIO(block).readline)
              if tok.type == tokenize.COMMENT]
    arrows = [(line, m.group(1).rstrip()) for line, m in arrows if m]
    body = ast.parse(block).body
    assert not [a for a in arrows if a[0] < body[0].lineno], f"output before any statement: {arrows}"
    ends = [s.lineno for s in body[1:]] + [block.count("\n") + 2]
    return [(stmt, [out for line, out in arrows if stmt.lineno <= line < end])
            for stmt, end in zip(body, ends)]


def test_readme_python_examples_print_what_they_show():
    import ast
    import contextlib
    text = _readme()
    blocks = readme_python_blocks(text)
    assert len(blocks) >= 5
    namespace, failures, checked = {}, [], 0
    for first, block in blocks:
        for stmt, expected in expected_outputs(block):
            ast.increment_lineno(stmt, first - 1)          # tracebacks name README.md's lines
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(ast.Module(body=[stmt], type_ignores=[]), "README.md", "exec"), namespace)
            got = [line.rstrip() for line in out.getvalue().splitlines()]
            checked += len(expected)
            if got != expected:
                failures.append(f"README.md line {stmt.lineno}: prints\n  " + "\n  ".join(got)
                                + "\nwhere the README shows\n  " + "\n  ".join(expected))
    assert not failures, "\n".join(failures)
    # every "->" of the blocks was compared (none hides in a string or outside a statement)
    assert checked == sum(block.count("->") for _, block in blocks) >= 20
    assert namespace["m"].vrr_ci[0] <= namespace["m"].vrr <= namespace["m"].vrr_ci[1]


def test_readme_command_example_prints_what_it_shows(capsys):
    """The README's ``$ fpsim ...`` example, run in process, prints the lines shown under it."""
    import re
    import shlex
    examples = re.findall(r"```\n\$ fpsim (.*?)\n(.*?)```", _readme(), flags=re.S)
    assert len(examples) >= 1
    for command, shown in examples:
        assert cli.main(shlex.split(command)) == 0
        got = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
        assert got == [line.rstrip() for line in shown.splitlines()], command


def test_readme_commands_are_real_subcommands():
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    commands = set(re.findall(r"^fpsim (\w+)", text, flags=re.M))
    assert commands >= {"formats", "quantize", "dot", "vrr", "predict", "measure", "sweep", "report"}
    assert "pip install -e '.[plot]' && fpsim report" in text
    assert "pip install -e '.[test]' && python -m pytest" in text


# ---------------------------------------------------------------- presets, dot --preset

def test_presets_lists_every_hardware_preset():
    d = run_json("presets")
    names = [r["name"] for r in d["presets"]]
    assert names == list(fpsim.hardware.presets())
    assert all(r["source"] and r["checked"] and r["spec"].startswith("AccumSpec(")
               for r in d["presets"])
    assert "hopper-fp8-fast" in run("presets").stdout


def test_dot_preset_fp8_fast_loses_more_than_promoted():
    d = run_json("dot", "--preset", "hopper-fp8-fast", "hopper-fp8", "--n", "8192",
                 "--dist", "uniform")
    fast, promoted = d["rows"]
    assert fast["order"] == "hopper-fp8-fast" and promoted["order"] == "hopper-fp8"
    assert abs(fast["relative_error"]) > abs(promoted["relative_error"])
    # the library's value: the preset's spec on the same operands (rounded into e4m3fn)
    assert "e8m13" in d["acc"]
    assert_usage_error(run("dot", "--preset", "volta", check=False), "--preset", "volta")


# ---------------------------------------------------------------- --scheduler, --workers

class _Result:
    """What the fakes below return: enough for the commands' --json output."""
    summary = "report done"

    @property
    def table(self):
        return self

    def to_json(self):
        return "{}"

    def to_dict(self):
        return {}


@pytest.fixture
def executor_calls(monkeypatch):
    """Fakes of open_executor and of the entry points sweep, figure2 and report call: each
    records what it was given (no cluster, no Monte Carlo)."""
    import contextlib
    calls = []

    @contextlib.contextmanager
    def open_executor(scheduler=None, workers=None):
        calls.append(("open", scheduler, workers))
        try:
            yield None if scheduler is None and workers is None else ("client", scheduler, workers)
        finally:
            calls.append(("close", scheduler, workers))

    def entry(name, result):
        def fake(*args, **kwargs):
            calls.append((name, kwargs))
            return result
        return fake

    monkeypatch.setattr("fpsim.analysis.tasks.open_executor", open_executor)
    monkeypatch.setattr("fpsim.analysis.sweep.sweep", entry("sweep", _Result()))
    monkeypatch.setattr("fpsim.analysis.figure.figure2", entry("figure2", _Result()))
    monkeypatch.setattr("fpsim.app.report.generate", entry("generate", _Result()))
    return calls


@pytest.mark.parametrize("command, entry", [(["sweep", "--json"], "sweep"),
                                            (["figure2", "--json"], "figure2"),
                                            (["report", "--quiet"], "generate")])
@pytest.mark.parametrize("where, executor", [
    ([], None),
    (["--workers", "2"], ("client", None, 2)),
    (["--scheduler", "tcp://10.0.0.5:8786"], ("client", "tcp://10.0.0.5:8786", None))])
def test_scheduler_and_workers_reach_the_entry_point(executor_calls, capsys, command, entry,
                                                     where, executor):
    assert cli.main(command + where) == 0
    opened, (name, kwargs), closed = executor_calls
    asked = (executor or ("client", None, None))[1:]
    assert opened == ("open", *asked) and closed == ("close", *asked) and name == entry
    assert kwargs["executor"] == executor


@pytest.mark.parametrize("argv, words", [
    (["sweep", "--workers", "2", "--scheduler", "tcp://h:8786"], ["--scheduler", "not allowed"]),
    (["figure2", "--workers", "0"], ["--workers", "workers must satisfy workers >= 1"]),
    (["report", "--workers", "two"], ["--workers", "integer"]),
])
def test_scheduler_and_workers_usage_errors(executor_calls, capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fpsim: error: ") and err.count("\n") == 1
    for w in words:
        assert w in err
    assert executor_calls == []


def test_workers_runs_the_tasks_on_a_local_cluster(monkeypatch, capsys):
    """The real open_executor: the client the command opens runs tasks on its workers."""
    pytest.importorskip("distributed")
    from fpsim.analysis.tasks import run_tasks
    seen = {}

    def sweep(*args, executor=None, **kwargs):
        seen["results"] = run_tasks(abs, [-1, 2, -3], executor=executor)
        seen["workers"] = len(executor.scheduler_info()["workers"])
        return _Result()

    monkeypatch.setattr("fpsim.analysis.sweep.sweep", sweep)
    assert cli.main(["sweep", "--json", "--workers", "1"]) == 0
    assert seen == {"results": [1, 2, 3], "workers": 1}
