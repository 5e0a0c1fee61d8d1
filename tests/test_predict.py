"""Tests of fpsim.predict: accumulation lengths of the built-in networks and the tables."""
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from fpsim.analysis.predict import Conv2d, Linear, PredictionRow, PredictionTable, network_layers, networks, predict
from fpsim.analysis.vrr import min_macc


def lengths(table):
    """{(layer, gemm): n} of a table."""
    return {(row.layer, row.gemm): row.n for row in table.rows}


def test_networks_listed():
    assert networks() == ("resnet32", "resnet18", "alexnet")


def test_resnet32_lengths():
    table = predict("resnet32")
    n = lengths(table)
    assert table.batch == 128
    assert len(network_layers("resnet32")) == 6 * 5 + 2  # 6n+2 weight layers, n = 5
    assert len(table.rows) == 3 * 32
    assert (n["conv1", "FWD"], n["conv1", "BWD"], n["conv1", "GRAD"]) == (3 * 3 * 3, 16 * 3 * 3, 128 * 32 * 32)
    assert (n["layer1.4.conv2", "FWD"], n["layer1.4.conv2", "GRAD"]) == (16 * 9, 128 * 32 * 32)
    # the first block of stage 2 widens 16 -> 32 and halves the map to 16x16
    assert (n["layer2.0.conv1", "FWD"], n["layer2.0.conv1", "BWD"], n["layer2.0.conv1", "GRAD"]) == (
        16 * 9, 32 * 9, 128 * 16 * 16)
    assert (n["layer3.0.conv1", "FWD"], n["layer3.4.conv2", "BWD"], n["layer3.4.conv2", "GRAD"]) == (
        32 * 9, 64 * 9, 128 * 8 * 8)
    assert (n["fc", "FWD"], n["fc", "BWD"], n["fc", "GRAD"]) == (64, 10, 128)
    assert not any("downsample" in row.layer for row in table.rows)  # option A shortcuts


def test_resnet18_lengths():
    table = predict("resnet18")
    n = lengths(table)
    assert table.batch == 256
    assert len(network_layers("resnet18")) == 1 + 16 + 3 + 1
    # 7x7/2 stem on 224x224 -> 112x112
    assert (n["conv1", "FWD"], n["conv1", "BWD"], n["conv1", "GRAD"]) == (3 * 49, 64 * 49, 256 * 112 * 112)
    # after the 3x3/2 max pool: 56x56
    assert (n["layer1.0.conv1", "FWD"], n["layer1.0.conv1", "GRAD"]) == (64 * 9, 256 * 56 * 56)
    assert (n["layer2.0.conv1", "FWD"], n["layer2.0.conv1", "BWD"], n["layer2.0.conv1", "GRAD"]) == (
        64 * 9, 128 * 9, 256 * 28 * 28)
    assert (n["layer2.0.downsample", "FWD"], n["layer2.0.downsample", "BWD"], n["layer2.0.downsample", "GRAD"]) == (
        64, 128, 256 * 28 * 28)
    assert (n["layer3.0.downsample", "FWD"], n["layer4.0.downsample", "GRAD"]) == (128, 256 * 7 * 7)
    assert (n["layer4.1.conv2", "FWD"], n["layer4.1.conv2", "GRAD"]) == (512 * 9, 256 * 7 * 7)
    assert (n["fc", "FWD"], n["fc", "BWD"], n["fc", "GRAD"]) == (512, 1000, 256)


def test_alexnet_lengths():
    table = predict("alexnet")
    n = lengths(table)
    assert [layer.name for layer in network_layers("alexnet")] == [
        "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    # 11x11/4 on 227x227 -> 55x55, pools 3x3/2: 55 -> 27 -> 13 -> 6
    assert (n["conv1", "FWD"], n["conv1", "BWD"], n["conv1", "GRAD"]) == (3 * 121, 96 * 121, 256 * 55 * 55)
    assert (n["conv2", "FWD"], n["conv2", "BWD"], n["conv2", "GRAD"]) == (96 * 25, 256 * 25, 256 * 27 * 27)
    assert (n["conv3", "FWD"], n["conv4", "BWD"], n["conv5", "GRAD"]) == (256 * 9, 384 * 9, 256 * 13 * 13)
    assert (n["fc6", "FWD"], n["fc6", "BWD"], n["fc8", "BWD"], n["fc7", "GRAD"]) == (256 * 6 * 6, 4096, 1000, 256)


@pytest.mark.parametrize("network", networks())
def test_rows_follow_min_macc(network):
    table = predict(network, chunk=64)
    n = np.array([row.n for row in table.rows])
    normal = np.array([row.m_acc for row in table.rows])
    chunked = np.array([row.m_acc_chunked for row in table.rows])
    assert (normal == min_macc(n, m_p=5)).all()
    longer = n > 64
    assert (chunked[longer] == min_macc(n[longer], m_p=5, chunk=64)).all()
    assert (chunked[~longer] == normal[~longer]).all()  # one chunk is a single sum
    assert (chunked <= normal).all()
    assert [row.gemm for row in table.rows] == ["FWD", "BWD", "GRAD"] * (len(table.rows) // 3)


def test_known_numbers_in_resnet18():
    # vrr-model.md "Known numbers" (full + partial, m_p = 5, cut-off 50): (normal, chunk 64)
    known = {576: (6, 4), 1152: (7, 5), 2304: (8, 6), 4608: (9, 6)}
    rows = [row for row in predict("resnet18").rows if row.n in known]
    assert {row.n for row in rows} == set(known)
    for row in rows:
        assert (row.m_acc, row.m_acc_chunked) == known[row.n]


def test_settings_pass_through():
    table = predict("alexnet", batch=32, chunk=16, m_p=2, nzr=0.5, cutoff=10, model="full")
    assert table.settings() == {"network": "alexnet", "batch": 32, "chunk": 16, "m_p": 2, "nzr": 0.5,
                                "cutoff": 10.0, "model": "full"}
    n = np.array([row.n for row in table.rows])
    assert lengths(table)["fc6", "GRAD"] == 32
    expected = min_macc(n, m_p=2, nzr=0.5, cutoff=10, model="full")
    assert [row.m_acc for row in table.rows] == expected.tolist()
    longer = n > 16
    expected[longer] = min_macc(n[longer], chunk=16, m_p=2, nzr=0.5, cutoff=10, model="full")
    assert [row.m_acc_chunked for row in table.rows] == expected.tolist()


@pytest.mark.parametrize("network", networks())
def test_uncertain_settings_move_no_row_by_more_than_one_bit(network):
    # docs/theory.md: the product mantissa (5 exact, 2 rounded) and the cut-off (10 to 100)
    def bits(table):
        return np.array([(row.m_acc, row.m_acc_chunked) for row in table.rows])

    spread = bits(predict(network, m_p=5)) - bits(predict(network, m_p=2))
    assert ((spread >= 0) & (spread <= 1)).all()
    spread = bits(predict(network, cutoff=10)) - bits(predict(network, cutoff=100))
    assert ((spread >= 0) & (spread <= 1)).all()


def test_user_layers():
    layers = [Conv2d(3, 32, (3, 5), (30, 28), name="stem"), Conv2d(96, 256, 5, 27, groups=2), Linear(128, 10)]
    table = predict(layers, batch=8)
    assert table.network == "custom"
    assert [(r.layer, r.gemm, r.n) for r in table.rows] == [
        ("stem", "FWD", 3 * 15), ("stem", "BWD", 32 * 15), ("stem", "GRAD", 8 * 30 * 28),
        ("layer1", "FWD", 48 * 25), ("layer1", "BWD", 128 * 25), ("layer1", "GRAD", 8 * 27 * 27),
        ("layer2", "FWD", 128), ("layer2", "BWD", 10), ("layer2", "GRAD", 8)]
    assert predict(network_layers("resnet18"), batch=256).rows == predict("resnet18").rows


def test_json_round_trip():
    table = predict("resnet32")
    data = json.loads(table.to_json())
    assert {k: v for k, v in data.items() if k != "rows"} == table.settings()
    assert tuple(PredictionRow(**row) for row in data["rows"]) == table.rows
    assert PredictionTable(**{**table.settings(), "rows": tuple(PredictionRow(**r) for r in data["rows"])}) == table


def test_csv_round_trip():
    table = predict("alexnet")
    reader = csv.DictReader(io.StringIO(table.to_csv()))
    assert tuple(reader.fieldnames) == PredictionRow._fields
    rows = tuple(PredictionRow(r["layer"], r["gemm"], int(r["n"]), int(r["m_acc"]), int(r["m_acc_chunked"]))
                 for r in reader)
    assert rows == table.rows


def test_printing():
    table = predict("resnet18", chunk=32)
    text = str(table)
    lines = text.splitlines()
    assert repr(table) == text
    assert lines[0] == "network=resnet18 batch=256 chunk=32 m_p=5 nzr=1.0 cutoff=50.0 model=paper"
    assert lines[1].split() == ["layer", "gemm", "n", "m_acc", "m_acc(chunk", "32)"]
    assert len(lines) == 2 + len(table.rows)
    assert len({len(line) for line in lines[1:]}) == 1  # aligned columns
    for line, row in zip(lines[2:], table.rows):
        assert line.split() == [row.layer, row.gemm, str(row.n), str(row.m_acc), str(row.m_acc_chunked)]


BAD = [
    (("vgg16",), {}, ValueError, r"^network must be one of 'resnet32', 'resnet18', 'alexnet'.*'vgg16'"),
    (([],), {"batch": 8}, ValueError, r"^network must .* at least one layer"),
    ((5,), {"batch": 8}, TypeError, r"^network must be a name or a sequence"),
    (([Linear(4, 4), "conv"],), {"batch": 8}, TypeError, r"^network\[1\] must be a Conv2d or Linear"),
    (([Linear(4, 4)],), {}, ValueError, r"^batch must be given"),
    (("resnet32",), {"batch": 0}, ValueError, r"^batch must satisfy batch >= 1, got 0"),
    (("resnet32",), {"batch": 2.5}, TypeError, r"^batch must be an integer"),
    (("resnet32",), {"chunk": 0}, ValueError, r"^chunk must satisfy chunk >= 1, got 0"),
    (("resnet32",), {"m_p": -1}, ValueError, r"^m_p must satisfy 0 <= m_p <= 1074"),
    (("resnet32",), {"nzr": 2}, ValueError, r"^nzr must satisfy 0 < nzr <= 1"),
    (("resnet32",), {"cutoff": 1}, ValueError, r"^cutoff must satisfy 1 < cutoff < inf"),
    (("resnet32",), {"model": "exact"}, ValueError, r"^model must be one of 'full', 'paper', 'closed'"),
]


@pytest.mark.parametrize("args, kwargs, error, message", BAD)
def test_bad_predict_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        predict(*args, **kwargs)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Conv2d(0, 16, 3, 8), ValueError, r"^Conv2d.in_channels must satisfy in_channels >= 1, got 0"),
    (lambda: Conv2d(3, 16, (3, 3, 3), 8), ValueError, r"^Conv2d.kernel_size must be an integer or a pair"),
    (lambda: Conv2d(3, 16, 3, (8, 0)), ValueError, r"^Conv2d.output_size must satisfy output_size >= 1, got 0"),
    (lambda: Conv2d(3, 16, 3, 8, groups=2), ValueError, r"^Conv2d.groups must divide"),
    (lambda: Conv2d(3, 16.0, 3, 8), TypeError, r"^Conv2d.out_channels must be an integer"),
    (lambda: Linear(10, 0), ValueError, r"^Linear.out_features must satisfy out_features >= 1, got 0"),
])
def test_bad_layers(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_unknown_network_layers():
    with pytest.raises(ValueError, match="^network must be one of"):
        network_layers("lenet")


def test_published_tables_are_current():
    # docs/predict-tables.md holds the printed tables; regenerate it when the model changes
    doc = (Path(__file__).parents[1] / "docs" / "predict-tables.md").read_text()
    blocks = re.findall(r"```\n(network=.*?)\n```", doc, re.S)
    assert blocks == [str(predict(name)) for name in networks()]
