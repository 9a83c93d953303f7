from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from ashiato.exports import safe_cell, write_csv


def test_formulas_are_neutralised() -> None:
    for bad in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx"):
        assert safe_cell(bad).startswith("'")
    assert safe_cell("HELP_DECRYPT.TXT") == "HELP_DECRYPT.TXT"
    assert safe_cell(None) == ""
    assert safe_cell(datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC)) == "2015-09-09T02:52:14Z"


def test_csv_round_trip_keeps_japanese_and_quotes() -> None:
    buf = io.StringIO()
    write_csv(buf, ["a", "b"], [{"a": '営業\\見積,"x"', "b": "=1+1"}])
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows == [["a", "b"], ['営業\\見積,"x"', "'=1+1"]]
