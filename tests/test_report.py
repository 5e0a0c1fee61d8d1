"""``fpsim report --quick`` end to end: run through the real command into a temporary
directory, then check the files: report.md and its sections, the predicted table, valid
PNG figures that the Markdown links, report.json, and the terminal summary."""
from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys

import pytest

import fpsim
from fpsim.app import report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    proc = subprocess.run([sys.executable, "-m", "fpsim", "report", "--quick", "--quiet",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def png_size(path):
    """(width, height) of a PNG, after checking its signature and IHDR chunk."""
    data = open(path, "rb").read()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND", f"{path} is truncated"
    return width, height


def test_files_written(quick_report):
    out, _ = quick_report
    assert (out / "report.md").is_file() and (out / "report.json").is_file()
    pngs = sorted((out / "figures").glob("*.png"))
    assert len(pngs) >= 3
    assert {p.name for p in pngs} >= {"predicted.png", "figure2.png", "knee_check.png",
                                      "swamping.png", "tensor_cores.png"}
    for p in pngs:
        w, h = png_size(p)
        assert w >= 600 and h >= 300, (p, w, h)


def test_markdown_sections_and_links(quick_report):
    out, _ = quick_report
    md = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("# fpsim report", "## Summary",
                    "## 1. Predicted accumulator precision of the built-in networks",
                    "## 2. Figure 2: variance lost against accumulation length",
                    "## 3. Measured check at each predicted knee",
                    "## 4. Swamping in pictures",
                    "## 5. Tensor cores: swamping on real silicon",
                    "## How this was computed, and how to trust it"):
        assert heading in md, heading
    assert "quick" in md and "Sakr et al." in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) >= 3
    for link in links:
        assert (out / link).is_file(), link


def test_predicted_table_matches_library(quick_report):
    out, _ = quick_report
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| network | batch | GEMM | n | m_acc, single sum | m_acc, chunks of 64 |" in md
    for net in fpsim.networks():
        table = fpsim.predict(net)
        for gemm in ("FWD", "BWD", "GRAD"):
            rows = [r for r in table.rows if r.gemm == gemm]
            normal = max(r.m_acc for r in rows)
            chunked = max(r.m_acc_chunked for r in rows)
            line = next(l for l in md.splitlines() if l.startswith(f"| {net} | {table.batch} | {gemm} |"))
            assert line.endswith(f"| {normal} | {chunked} |"), line
        assert f"Per-layer table: {net}" in md


def test_knee_check_and_swamping_numbers(quick_report):
    out, _ = quick_report
    data = json.loads((out / "report.json").read_text())
    assert data["settings"]["mode"] == "quick"
    knees = data["knee_check"]["knees"]
    assert {(k["n"], k["chunk"]) for k in knees} == {
        (n, c) for n in report.SETTINGS["quick"]["knee_ns"] for c in (None, 64)}
    for k in knees:
        # the knee check uses the adder model; the paper model's knee is reported beside it
        assert k["predicted"] == fpsim.min_macc(k["n"], m_p=5, chunk=k["chunk"], model="adder")
        assert k["predicted_paper"] == fpsim.min_macc(k["n"], m_p=5, chunk=k["chunk"])
        assert k["at_knee"]["m_acc"] == k["predicted"] and k["one_below"]["m_acc"] == k["predicted"] - 1
        lo, hi = k["at_knee"]["vl_lo"], k["at_knee"]["vl_hi"]
        assert lo <= k["at_knee"]["variance_lost"] <= hi
        assert k["verdict"] in ("crosses as predicted", "needs more bits than predicted",
                                "one bit less suffices")
    ones = {r["config"]: r for r in data["swamping"]["ones"]["rows"]}
    n = report.SETTINGS["quick"]["swamp_ones"]
    assert ones["fp16 (e5m10), sequential"]["result"] == 2048.0
    assert ones["bfloat16 (e8m7), sequential"]["result"] == 256.0
    assert ones["bfloat16, chunks of 64"]["result"] == float(n)
    # every analytical curve of Figure 2 is fpsim.variance_lost
    s = data["figure2"]["series"][0]
    c = s["chunk"] if s["chunk"] is not None and s["chunk"] < s["curve_n"][-1] else None
    assert math.isclose(s["curve_paper"][-1],
                        fpsim.variance_lost(s["curve_n"][-1], s["m_acc"], m_p=5, chunk=c),
                        rel_tol=1e-9)
    assert math.isclose(s["curve_adder"][-1],
                        fpsim.variance_lost(s["curve_n"][-1], s["m_acc"], m_p=5, chunk=s["chunk"],
                                            model="adder"), rel_tol=1e-9)
    assert set(data["figure2"]["agreement_adder"]) <= {"single sum", "chunks of 64"}


def test_tensor_core_section(quick_report):
    """Section 5 is fpsim.analysis.hardware.error_vs_k of the presets on the report's K grid,
    and shows the physics: the fast FP8 chain's error grows with K, the promoted one's
    does not beyond a chunk, binary32 stays far below both."""
    from fpsim import AccumSpec, hardware
    from fpsim.analysis.hardware import error_vs_k
    out, _ = quick_report
    tc = json.loads((out / "report.json").read_text())["tensor_cores"]
    cfg = report.SETTINGS["quick"]
    assert tc["Ks"] == cfg["hw_Ks"] and tc["trials"] == cfg["hw_trials"]
    fast, promoted, ieee = (s["median"] for s in tc["series"])
    K = tc["Ks"][-1]
    again = error_vs_k({"fast": hardware.preset("hopper-fp8-fast")}, [K], trials=tc["trials"])
    assert fast[-1] == again[0]["median_relative_error"]
    assert fast[-1] > 10 * promoted[-1] > 10 * max(ieee)
    assert fast == sorted(fast) and max(promoted[4:]) < 2 * promoted[3]


def test_terminal_summary(quick_report):
    out, proc = quick_report
    text = proc.stdout
    assert str(out / "report.md") in text
    assert len(text.splitlines()) <= 40           # one screen
    for word in ("resnet32", "resnet18", "alexnet", "Figure 2", "Knee check", "Swamping",
                 "stalls at 2,048"):
        assert word in text, word
    assert proc.stderr == ""                       # --quiet: no progress bar


def test_generate_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        report.generate(tmp_path, quick=True, seed=-1)
    with pytest.raises(ValueError, match="trials"):
        report.generate(tmp_path, quick=True, trials=1)
    assert not os.listdir(tmp_path)


def test_interrupted_report_leaves_no_precompile_process(tmp_path):
    """generate starts the precompile process (report._precompile) and ends it when the
    report stops, here by a Ctrl-C during its first stage: none is left behind."""
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()

    def precompiling():
        return [p for p in me.children(recursive=True)
                if any("_precompile" in part for part in p.cmdline())]

    seen = []

    def progress(done, total):
        seen.extend(precompiling())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        report.generate(tmp_path, quick=True, progress=progress)
    assert seen, "the precompile process did not start"
    # ended by generate itself: it would take seconds to finish on its own
    gone, alive = psutil.wait_procs(seen, timeout=0.5)
    assert not alive and not precompiling()
