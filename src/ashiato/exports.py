"""Writing rows out as CSV and JSON lines, safely.

Log values are attacker-controlled: a file name such as ``=HYPERLINK(...)`` must not
become a formula when the victim opens the CSV in Excel, so cells starting with
``= + - @`` (or a tab/CR) are prefixed with a quote; control characters such as ESC are
written as ``\\x1b`` text (terminal.visible).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import IO, Any

import orjson

from ashiato.terminal import visible

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso(value)
    # control characters (ESC...) are shown, not passed on: CSV goes to terminals too
    text = visible(str(value))
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def iso(value: datetime | None) -> str:
    """ISO 8601 in UTC with a Z, microseconds only when present."""
    if value is None:
        return ""
    text = value.isoformat()
    return text.replace("+00:00", "Z")


def write_csv(out: IO[str], columns: list[str], rows: Iterable[Mapping[str, Any]]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
        n += 1
    return n


def write_jsonl(out: IO[str], rows: Iterable[Mapping[str, Any]]) -> int:
    n = 0
    for row in rows:
        out.write(orjson.dumps(dict(row), default=_default, option=orjson.OPT_UTC_Z).decode())
        out.write("\n")
        n += 1
    return n


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    return str(value)
