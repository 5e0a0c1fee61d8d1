"""Text output shared by the analysis and the application: one table renderer (aligned
plain text or Markdown), one CSV writer and one JSON writer.

>>> print(table(["n", "m_acc"], [[576, 6], [4608, 9]]))
n     m_acc
576       6
4608      9
>>> print(table(["n", "m_acc"], [[576, 6]], markdown=True))
| n | m_acc |
| --- | ---: |
| 576 | 6 |
>>> to_json({"vrr": float("nan"), "n": np.int64(576), "ci": (0.5, np.float64(1.0))}, indent=None)
'{"vrr": "nan", "n": 576, "ci": [0.5, 1.0]}'
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math

import numpy as np

__all__ = ["table", "csv_text", "jsonable", "to_json"]

_MARKDOWN_RULE = {"l": "---", "r": "---:", "c": ":---:"}


def table(headers, rows, *, align=None, rule: bool = False, markdown: bool = False) -> str:
    """The rows as a table; cells are shown with ``str``.

    ``align``: one letter per column, ``l`` (left), ``r`` (right) or ``c`` (centre, Markdown
    only; left in plain text); default: the first column left, the others right. Plain
    text: columns two spaces apart, padded to their widest cell, no trailing blanks;
    ``rule`` draws dashes under the header. ``markdown``: a GitHub table, cells unpadded,
    the alignment in its rule line.
    """
    headers = [str(h) for h in headers]
    cells = [[str(c) for c in r] for r in rows]
    align = list(align) if align is not None else ["l"] + ["r"] * (len(headers) - 1)
    if len(align) != len(headers) or any(a not in _MARKDOWN_RULE for a in align):
        raise ValueError(f"align must give one of l, r, c for each of the {len(headers)} "
                         f"columns, got {align!r}")
    if markdown:
        lines = [headers, [_MARKDOWN_RULE[a] for a in align]] + cells
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(r[i]) for r in [headers] + cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w)
                         for c, w, a in zip(r, widths, align)).rstrip()
    lines = [line(headers)]
    if rule:
        lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines + [line(r) for r in cells])


def csv_text(headers, rows) -> str:
    """CSV with a header line; None is written as an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def jsonable(obj):
    """``obj`` as plain JSON values: numpy scalars and arrays as Python numbers and lists,
    tuples as lists, objects with ``to_dict()`` (and dataclasses) as dicts, dict keys as
    strings, and the floats JSON has no literal for as the strings ``"inf"``, ``"-inf"``,
    ``"nan"``; anything else as its ``str``."""
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        obj = float(obj)
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    return str(obj)


def to_json(obj, *, indent=1) -> str:
    """``obj`` as a JSON document (see :func:`jsonable`): valid JSON whatever it holds."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False)
