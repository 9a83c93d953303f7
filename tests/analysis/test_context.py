"""Context.rows: the engine's rows as plain dicts, timestamps as pyarrow gives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ashiato.analysis.context import table_rows

T0 = datetime(2015, 11, 6, 4, 30, 1, 123456, tzinfo=UTC)


def test_table_rows_is_to_pylist() -> None:
    times = [T0 + timedelta(microseconds=7 * i) for i in range(5)] + [None]
    table = pa.table({
        "@timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
        "naive": pa.array([t and t.replace(tzinfo=None) for t in times], pa.timestamp("us")),
        "nanos": pa.array(times, pa.timestamp("ns", tz="UTC")),
        "tokyo": pa.array(times, pa.timestamp("us", tz="Asia/Tokyo")),
        "host.name": ["pc-osk-0112", None, "dc01", "", "fs01", "x"],
        "n": [1, 2, None, 4, 5, 6],
    })  # fmt: skip
    got, want = table_rows(table), table.to_pylist()
    assert got == want
    # the same zone objects, so a row prints and serialises alike either way
    assert [repr(r["@timestamp"].tzinfo) for r in got[:5]] == [
        repr(r["@timestamp"].tzinfo) for r in want[:5]
    ]
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=2))
    assert table_rows(chunked) == want
    assert table_rows(table.slice(0, 0)) == []
