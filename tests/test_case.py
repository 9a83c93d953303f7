"""The case store's event writer: row groups laid out alike whatever the batch sizes,
written on a thread while the parser goes on."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ashiato.case import Case, EventWriter
from ashiato.schema import EVENT_SCHEMA, batch_from_columns


def _rows(first: int, n: int) -> pa.RecordBatch:
    cols = {"evidence_id": ["e" * 16] * n, "record": list(range(first, first + n)),
            "host.name": [f"PC-{i % 7}.corp.local" for i in range(first, first + n)]}  # fmt: skip
    return pa.RecordBatch.from_pydict(
        {f.name: pa.array(cols.get(f.name, [None] * n), f.type) for f in EVENT_SCHEMA},
        schema=EVENT_SCHEMA,
    )


def test_groups_written_meanwhile_are_the_rows_in_order(tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case")
    seen: list[int] = []

    def finish(table: pa.Table) -> pa.Table:
        seen.append(table.num_rows)
        return table.set_column(
            table.schema.get_field_index("host.name"), EVENT_SCHEMA.field("host.name"),
            pc.utf8_lower(table.column("host.name")),
        )  # fmt: skip

    writer = EventWriter(case, "e" * 16, "test", group_rows=10, finish=finish)
    for first in range(0, 95, 7):  # 14 batches of 7 rows (the last one of 4): 95 rows
        writer.add(_rows(first, min(7, 95 - first)))
    writer.close()
    table = pq.read_table(writer.path)
    assert table.column("record").to_pylist() == list(range(95))
    assert table.column("host.name").to_pylist()[:8] == [f"pc-{i}.corp.local" for i in range(7)] + [
        "pc-0.corp.local"
    ]
    assert sum(seen) == 95 and len(seen) > 5  # one call per group, each finished once
    assert not writer.path.with_suffix(".parquet.tmp").exists()


def test_an_error_while_writing_is_raised_and_the_part_given_up(tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case")

    def finish(table: pa.Table) -> pa.Table:
        if table.column("record")[0].as_py() >= 20:
            raise pa.ArrowInvalid("damaged group")
        return table

    writer = EventWriter(case, "f" * 16, "test", group_rows=10, finish=finish)
    with pytest.raises(pa.ArrowInvalid, match="damaged group"):
        for first in range(0, 60, 10):
            writer.add(_rows(first, 10))
        writer.close()
    writer.abort()
    assert not writer.path.exists()
    assert not writer.path.with_suffix(".parquet.tmp").exists()


def _numbered(first: int, n: int) -> pa.RecordBatch:
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
        writer.add(_numbered(first, n))
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
