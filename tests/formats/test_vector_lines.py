"""A large log of self-contained lines read in parts (``vector.split_at_lines``) gives the
rows, line numbers and rejects of one pass over the whole file."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from ashiato.formats import squid, web_access
from ashiato.formats.base import Format, Source
from ashiato.formats.vector import split_at_lines

DATA = Path(__file__).resolve().parents[1] / "data"


def _read(fmt: Format, path: Path, span: tuple[int, int, int] | None) -> tuple[pa.Table, list]:
    source = Source(
        path=path, display=path.name, evidence_id="t", encoding="utf-8", tz=ZoneInfo("UTC"),
        options={"chunk_bytes": 700},  # chunks cross lines and spans
        span=span,
    )  # fmt: skip
    table = pa.Table.from_batches(list(fmt.parse(source)))
    return table, [(r.record, r.reason, r.raw) for r in source.rejects]


def test_spans_are_contiguous_and_start_after_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "log"
    data = b"".join(b"x" * (i % 97) + (b"\r\n" if i % 5 else b"\n") for i in range(2000))
    path.write_bytes(data + b"no newline at the end")
    data = path.read_bytes()
    spans = split_at_lines(path, 7)
    assert len(spans) == 7
    assert spans[0][:2] == (0, spans[1][0]) and spans[-1][1] == len(data)
    for (_, end, _), (start, _, _) in pairwise(spans):
        assert end == start and data[start - 1 : start] == b"\n"
    for start, _, line in spans:
        assert line == data[:start].count(b"\n") + 1


def test_a_file_of_one_long_line_is_one_span(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"y" * 300_000 + b"\n")
    assert split_at_lines(path, 4) == [(0, 300_001, 1)]
    path.write_bytes(b"a\n" + b"y" * 300_000)
    assert split_at_lines(path, 4) == [(0, 300_002, 1)]


@pytest.mark.parametrize(
    ("fmt", "sample"),
    [(squid.FORMAT, DATA / "squid" / "access.log"),
     (web_access.FORMAT, DATA / "web_access" / "access_log")],
)  # fmt: skip
def test_parts_read_apart_give_the_whole_file(tmp_path: Path, fmt: Format, sample: Path) -> None:
    lines = sample.read_bytes().splitlines(keepends=True)
    junk = [b"not a log line %d\n" % i for i in range(5)]
    path = tmp_path / sample.name
    path.write_bytes(b"".join(lines[i % len(lines)] if i % 37 else junk[i % 5] for i in range(900)))
    assert fmt.split is not None
    whole, whole_rejects = _read(fmt, path, None)
    assert whole.num_rows > 400 and len(whole_rejects) >= 20
    for parts in (2, 5):
        spans = fmt.split(path, parts)
        assert len(spans) == parts
        read = [_read(fmt, path, span) for span in spans]
        assert pa.concat_tables(t for t, _ in read).equals(whole)
        # a chunk lists its rejects by kind: in order of lines, the same ones
        assert sorted(r for _, rejects in read for r in rejects) == sorted(whole_rejects)
