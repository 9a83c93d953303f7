"""The case store's event writer."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.case import Case, EventWriter
from ashiato.schema import EVENT_SCHEMA, batch_from_columns


def _rows(first: int, n: int) -> pa.RecordBatch:
    return batch_from_columns(
        {
            "@timestamp": pa.array([1_700_000_000_000_000 + i for i in range(first, first + n)],
                                   pa.timestamp("us", tz="UTC")),
            "record": list(range(first, first + n)),
            "message": [f"event {i}" for i in range(first, first + n)],
        },
        n,
    )  # fmt: skip


def _write(root: Path, sizes: list[int]) -> Path:
    case = Case.create_or_open(root)
    writer = EventWriter(case, "0123456789abcdef", "test", group_rows=10)
    first = 0
    for n in sizes:
        writer.add(_rows(first, n))
        first += n
    writer.close()
    return writer.path


def test_row_groups_do_not_depend_on_the_batch_sizes_a_format_hands_on(tmp_path: Path) -> None:
    # an EVTX read by one process yields 16k-row batches, by two also the worker's
    # smaller pieces: the stored file must be laid out the same (analyses may break ties
    # by row group), whole groups of group_rows and the rest last
    one = _write(tmp_path / "one", [4, 4, 4, 4, 4, 4, 4, 4, 4, 2])
    two = _write(tmp_path / "two", [3, 13, 1, 21])
    layouts = []
    for path in (one, two):
        meta = pq.ParquetFile(path).metadata
        layouts.append([meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
    assert layouts == [[10, 10, 10, 8], [10, 10, 10, 8]]
    a, b = pq.read_table(one, schema=EVENT_SCHEMA), pq.read_table(two, schema=EVENT_SCHEMA)
    assert a.equals(b)
    assert a.column("record").to_pylist() == list(range(38))
