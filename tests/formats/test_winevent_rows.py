"""WinRows turns rows into columns key set by key set; the batches are those of the
row-by-row conversion it replaced (kept here as the reference)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from ashiato.formats import evtx as evtx_format
from ashiato.formats.base import Source
from ashiato.formats.winevent_rows import _KNOWN, WinRows, _dumps, _timestamps
from ashiato.schema import batch_from_columns


class RowByRow(WinRows):
    """The conversion before issue 14: every key of every row, one at a time."""

    def _convert(self) -> pa.RecordBatch:
        rows, self._rows = self._rows, []
        n = len(rows)
        cols: dict[str, Any] = {}
        extras: list[str | None] = [None] * n
        for i, (_record, row) in enumerate(rows):
            extra: dict[str, Any] | None = None
            for key, value in row.items():
                if value is None:
                    continue
                if key in _KNOWN:
                    col = cols.get(key)
                    if col is None:
                        col = cols[key] = [None] * n
                    col[i] = value
                else:
                    if extra is None:
                        extra = {}
                    extra[key] = value
            if extra:
                extras[i] = _dumps(extra)
        stamps = cols.pop("@timestamp", [None] * n)
        for i, value in enumerate(stamps):
            if value is not None and not isinstance(value, str):
                stamps[i] = self._iso(value)
        cols["@timestamp"] = _timestamps(stamps)
        cols["extra"] = extras
        cols["record"] = [r for r, _ in rows]
        return batch_from_columns(cols, n)


def _source(path: Path) -> Source:
    return Source(path=path, display=str(path), evidence_id="0" * 16, encoding=None,
                  tz=ZoneInfo("Asia/Tokyo"))  # fmt: skip


def _parse(path: Path, rows: type[WinRows], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(evtx_format, "WinRows", rows)
    source = _source(path)
    table = pa.Table.from_batches(list(evtx_format.parse(source)))
    return table, [(r.record, r.reason, r.raw) for r in source.rejects]


def test_hand_made_rows_convert_the_same() -> None:
    """Keys missing, None, several extra keys in different orders, datetimes; a value
    of another type than its column's (cast, or null where it doesn't cast)."""
    from datetime import datetime

    made: list[dict[str, Any]] = [
        {"@timestamp": "2024-01-01T00:00:00Z", "event.code": "1", "winlog": {"a": 1}},
        {"@timestamp": None, "user.name": "bob", "workstation": "W", "winlog": {"b": 2}},
        {"@timestamp": datetime(2024, 1, 2, 9), "winlog": None, "user.name": None},
        {"event.code": "2", "file.local_path": "C:\\x", "winlog": {"c": [1, 2]}, "z": 2**70},
        {},
    ]
    mistyped = [{"destination.port": p} for p in ("445", "3389", "x")]
    src = _source(Path("x.evtx"))
    new, old = WinRows(src), RowByRow(src)
    for i, row in enumerate(made):
        new.add(i, dict(row))
        old.add(i, dict(row))
    assert new.flush() == old.flush()
    for i, row in enumerate(mistyped):
        new.add(i, dict(row))
        old.add(i, dict(row))
    got = new.flush()
    assert got == old.flush()
    assert got is not None and got.column("destination.port").to_pylist() == [445, 3389, None]


@pytest.mark.corpus
def test_real_evtx_convert_the_same(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every column (``extra`` too) and every reject of the public EVTX samples, damaged
    and truncated files included, in one process and with a worker."""
    files = sorted(
        p
        for c in ("evtx-attack-samples", "deepbluecli", "evtx-parser-testfiles")
        for p in (shared / c).rglob("*.evtx")
    )
    if not files:
        pytest.skip("no .evtx files under ../shared/data")
    rows = 0
    for path in files:
        new = _parse(path, WinRows, monkeypatch)
        old = _parse(path, RowByRow, monkeypatch)
        assert new[0].equals(old[0]), path
        assert new[1] == old[1], path
        rows += new[0].num_rows
    assert rows > 20_000
    biggest = max(files, key=lambda p: p.stat().st_size)
    monkeypatch.setattr(evtx_format, "PARALLEL_MIN_CHUNKS", 2)
    monkeypatch.setitem(os.environ, "ASHIATO_EVTX_WORKER", "always")
    two = _parse(biggest, WinRows, monkeypatch)
    monkeypatch.setitem(os.environ, "ASHIATO_EVTX_WORKER", "never")
    one = _parse(biggest, RowByRow, monkeypatch)
    assert two[0].equals(one[0]) and two[1] == one[1]
