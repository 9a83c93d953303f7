"""Ingest as a user runs it: idempotent, resumable, nothing lost, one bad file never fatal."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ashiato.case import Case
from ashiato.formats import registry
from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.ingest import FileParts, Options, ingest

_LINE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) user=(\S+) path=(.*)$")


def _sniff(sample: Sample) -> bool:
    return any(_LINE.match(ln) for ln in sample.first_lines(3))


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source, size=2)
    for n, line in source.lines():
        if line == "CRASH":
            raise ValueError("parser bug")
        m = _LINE.match(line)
        if not m:
            if line:
                source.reject(n, "not a kv line", line)
            continue
        ts = datetime.strptime(m[1], "%Y/%m/%d %H:%M:%S")
        if b := rows.add(n, {"@timestamp": ts, "user.name": m[2], "file.path": m[3]}):
            yield b
    if b := rows.flush():
        yield b


KV = Format("kvtest", "test.kv", "test format", _sniff, _parse)


@pytest.fixture(autouse=True)
def only_kv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_in_order", lambda: iter((KV,)))


def _count(case: Case, sql: str) -> int:
    with case.reader() as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("\r\n".join(lines).encode(encoding))
    return path


def test_twice_adds_nothing_and_rejects_are_kept(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    _write(
        ev / "a.log",
        [
            "2015/09/09 11:52:14 user=tanaka path=D:\\share\\営業\\a.xlsx",
            "garbage line",
            "",
            "2015/09/09 11:53:00 user=suzuki path=x",
        ],
    )
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    first = ingest(case, [ev], Options())
    second = ingest(case, [ev, ev / "a.log"], Options())
    assert [f.status for f in first.files] == ["done"]
    assert [f.status for f in second.files] == ["duplicate", "duplicate"]
    assert _count(case, "SELECT count(*) FROM events") == 2
    assert _count(case, "SELECT count(*) FROM rejects WHERE record = 2") == 1
    assert first.files[0].rejected == 1


def test_naive_jst_reads_nine_hours_earlier_and_cp932_paths_survive(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "sjis.log",
        ["2015/09/09 11:52:14 user=tanaka path=D:\\share\\営業\\見積\\表示ソフト.xlsx"],
        "cp932",
    )
    case = Case.create_or_open(tmp_path / "case")
    report = ingest(case, [f], Options(tz="Asia/Tokyo"))
    assert report.files[0].encoding == "cp932"
    with case.reader() as con:
        ts, path = con.execute('SELECT "@timestamp", "file.path" FROM events').fetchone()  # type: ignore[misc]
    assert ts == datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC)
    assert path == "D:\\share\\営業\\見積\\表示ソフト.xlsx"


def test_tz_override_per_path(tmp_path: Path) -> None:
    f = _write(tmp_path / "utc-box.log", ["2015/09/09 02:52:14 user=a path=p"])
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [f], Options(tz_overrides=[("*utc-box*", "UTC")]))
    assert report.files[0].tz == "UTC"
    assert report.files[0].first == datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC)


def test_interrupted_ingest_is_completed_next_run(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.log", [f"2015/09/09 11:52:{i:02d} user=u path=p{i}" for i in range(9)])
    g = _write(tmp_path / "b.log", ["2015/09/09 11:53:00 user=v path=q", "junk"])
    case = Case.create_or_open(tmp_path / "case")
    ingest(case, [f, g], Options())
    # what a killed run leaves: one file's part renamed but its catalogue row not yet
    # committed (with a reject), another's part still being written
    with case.writer() as con:
        bid = con.execute("SELECT evidence_id FROM evidence WHERE path LIKE '%b.log'").fetchone()
        con.execute("DELETE FROM evidence WHERE evidence_id = ?", [bid[0]])  # type: ignore[index]
    part = next(p for p in case.events_dir.glob("*/*.parquet") if p.parent.name != "_schema")
    part.with_suffix(".parquet.tmp").write_bytes(b"half a parquet file")
    report = ingest(case, [f, g], Options())
    assert [r.status for r in report.files] == ["duplicate", "done"]
    assert not list(case.events_dir.glob("*/*.tmp"))
    assert _count(case, "SELECT count(*) FROM events") == 10
    assert _count(case, "SELECT count(*) FROM rejects") == 1


def test_bad_file_does_not_stop_the_run(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    _write(ev / "1-crash.log", ["2015/09/09 11:52:14 user=a path=p", "CRASH"])
    _write(ev / "2-unknown.txt", ["hello world"])
    _write(ev / "3-good.log", ["2015/09/09 11:52:14 user=b path=q"])
    case = Case.create_or_open(tmp_path / "case")
    report = ingest(case, [ev], Options())
    statuses = {Path(f.display).name: f.status for f in report.files}
    assert statuses == {
        "1-crash.log": "failed",
        "2-unknown.txt": "unrecognised",
        "3-good.log": "done",
    }
    failed = next(f for f in report.files if f.status == "failed")
    assert failed.error is not None and "parser bug" in failed.error
    assert report.anything_read


_KILLED_RUN = r"""
import sys, time, zipfile
from pathlib import Path
from ashiato.case import Case, PartBatch
from ashiato.formats import registry
from ashiato.formats.base import Format, Rows
from ashiato.ingest import FileParts, Options, ingest

def parse(source):
    rows = Rows(source)
    for n, line in source.lines():
        if line == "HANG":
            Path(sys.argv[2]).write_text("hanging")
            time.sleep(600)
        rows.add(n, {"@timestamp": None, "message": line})
    if b := rows.flush():
        yield b

registry._in_order = lambda: iter((Format("hang", "test.hang", "t", lambda s: True, parse),))
if sys.argv[4] == "batched":  # a.log's rows fill a batch, written before b.log is read
    import ashiato.ingest
    ashiato.ingest.PartBatch = lambda case, **kw: PartBatch(case, group_rows=10, **kw)
ingest(Case.create_or_open(Path(sys.argv[1])), [Path(sys.argv[3])],
       Options(batch_parts=sys.argv[4] == "batched"))
"""


@pytest.mark.parametrize("parts", ["batched", "one per file"])
def test_killed_ingest_leaves_no_visible_rows_and_next_run_clears_its_temp(
    tmp_path: Path, parts: str
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    import zipfile

    evidence = tmp_path / "collect.zip"
    with zipfile.ZipFile(evidence, "w") as zf:
        zf.writestr("a.log", "".join(f"2015/09/09 11:52:{i:02d} user=u path=p{i}\n"
                                     for i in range(40)))  # fmt: skip
        zf.writestr("b.log", "2015/09/09 11:53:00 user=v path=q\nHANG\n")
    case_dir, flag = tmp_path / "case", tmp_path / "hanging"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(case_dir), str(flag),
                              str(evidence), parts], env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert child.poll() is None and time.monotonic() < deadline, "child never hung"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    case = Case(case_dir)
    # a.log's Parquet part was renamed into place; its catalogue row never committed
    placed = [p for p in case.events_dir.glob("*/*.parquet") if p.parent.name != "_schema"]
    assert len(placed) == 1
    assert placed[0].stem.startswith("batch-") == (parts == "batched")
    assert _count(case, "SELECT count(*) FROM read_parquet('" + str(placed[0]) + "')") == 40
    assert _count(case, "SELECT count(*) FROM events") == 0
    assert any(p.is_file() for p in case.tmp_dir.rglob("*"))  # what the killed run unpacked

    report = ingest(case, [evidence], Options())
    assert [r.status for r in report.files] == ["done", "done"]
    assert _count(case, "SELECT count(*) FROM events") == 41
    assert not case.tmp_dir.exists() or not any(case.tmp_dir.iterdir())


def test_members_not_read_are_catalogued_and_replaced_when_read(tmp_path: Path) -> None:
    import zipfile

    import py7zr

    ev = tmp_path / "ev"
    ev.mkdir()
    with py7zr.SevenZipFile(ev / "sample.7z", "w", password="infected") as sz:
        sz.writestr(b"2015/09/09 11:52:14 user=a path=inside\n", "in.log")
    with zipfile.ZipFile(ev / "x.zip", "w") as zf:
        zf.writestr("../escape.log", "2015/09/09 11:52:14 user=a path=p\n")
        zf.writestr("ok.log", "2015/09/09 11:52:14 user=b path=q\n")
    (ev / "C.vhdx").write_bytes(b"vhdxfile" + b"\0" * 600)
    case = Case.create_or_open(tmp_path / "case")
    report = ingest(case, [ev], Options())
    assert [Path(f.display).name for f in report.files] == ["x.zip!ok.log"]
    with case.reader() as con:
        rows = con.execute("SELECT path, container, status, error FROM evidence "
                           "WHERE status = 'not read' ORDER BY path").fetchall()  # fmt: skip
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (str(ev / "C.vhdx"), None, "not read"),
        (str(ev / "sample.7z"), None, "not read"),
        (f"{ev / 'x.zip'}!../escape.log", str(ev / "x.zip"), "not read"),
    ]
    assert "encrypted" in rows[1][3] and "leaves the archive" in rows[2][3]
    assert _count(case, "SELECT count(*) FROM events") == 1

    report = ingest(case, [ev], Options(password="infected"))
    assert sorted(Path(f.display).name for f in report.files if f.status == "done") == [
        "sample.7z!in.log"
    ]
    assert _count(case, "SELECT count(*) FROM evidence WHERE status = 'not read'") == 2
    assert _count(case, "SELECT count(*) FROM events") == 2


def test_a_large_file_hashed_ahead_is_still_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ashiato.evidence import hash_ahead

    monkeypatch.setattr(hash_ahead, "MIN_BYTES", 100)
    f = _write(tmp_path / "a.log", [f"2015/09/09 11:52:{i:02d} user=u path=p{i}" for i in range(9)])
    copy = tmp_path / "copy.log"
    copy.write_bytes(f.read_bytes())
    case = Case.create_or_open(tmp_path / "case")
    first = ingest(case, [f], Options())
    again = ingest(case, [f, copy], Options())
    assert [r.status for r in first.files] == ["done"]
    assert [r.status for r in again.files] == ["duplicate", "duplicate"]
    assert again.files[0].evidence_id == first.files[0].evidence_id
    with case.reader() as con:
        sha = con.execute("SELECT sha256 FROM evidence").fetchone()
    assert sha == (hashlib.sha256(f.read_bytes()).hexdigest(),)


@pytest.mark.corpus
@pytest.mark.parametrize("worker", ["reads", "fails", "shares"])
def test_a_large_evtx_read_by_two_processes_is_stored_as_one_pass(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker: str,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    from ashiato.formats import evtx as evtx_format
    from ashiato.formats import evtx_parallel

    sample = shared / "deepbluecli" / "evtx" / "smb-password-guessing-security.evtx"
    if not sample.exists():
        pytest.skip("deepbluecli samples not present")
    one = Case.create_or_open(tmp_path / "one")
    # this module's registry holds a test format only
    monkeypatch.setattr(registry, "_in_order", lambda: iter((evtx_format.FORMAT,)))
    evtx = Options()
    single = ingest(one, [sample], evtx).files[0]
    assert single.status == "done" and single.rows > 3000
    monkeypatch.setattr(evtx_format, "PARALLEL_MIN_CHUNKS", 2)
    monkeypatch.setattr(evtx_format, "_free_core", lambda: True)
    if worker == "fails":

        def dies(path: Path, first: int, end: int, tz: str, parts: Any, *_: object) -> None:
            # in the forked child: what it wrote of its part is not a Parquet file
            part = parts.case.part_path(f"{parts.evidence_id}-1", parts.dataset)
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(b"half a part")
            part.with_suffix(".parquet.tmp").write_bytes(b"half a part")
            os._exit(3)

        monkeypatch.setattr(evtx_parallel, "_work", dies)
    if worker == "shares":  # the worker waits to be asked for the rest, and shares it
        request.getfixturevalue("split_at_once")
    discarded: list[int] = []
    discard = FileParts.discard

    def seen(parts: FileParts, part: int) -> None:
        discarded.append(part)
        discard(parts, part)

    monkeypatch.setattr(FileParts, "discard", seen)
    two = Case.create_or_open(tmp_path / "two")
    both = ingest(two, [sample], evtx).files[0]
    parts = sorted(p.name for p in two.events_dir.glob("windows.*/*"))
    ev = both.evidence_id
    # the worker's part beside the parent's (if it failed: the parent's own reading of
    # the range, in place of what the worker left), and the rest of the worker's range
    # that the parent took (if the worker was still far from its end)
    shared_rest = [f"{ev}-2.parquet"] if worker == "shares" else []
    assert parts == [f"{ev}-1.parquet", *shared_rest, f"{ev}.parquet"]
    assert discarded == ([1] if worker == "fails" else [])
    counts = ("status", "rows", "rejected", "first", "last")
    assert [getattr(both, c) for c in counts] == [getattr(single, c) for c in counts]
    with one.reader() as a, two.reader() as b:
        rows_a = a.execute('SELECT * FROM events ORDER BY "@timestamp", record').fetchall()
        rows_b = b.execute('SELECT * FROM events ORDER BY "@timestamp", record').fetchall()
        rejects_a = a.execute("SELECT record, reason FROM rejects ORDER BY ALL").fetchall()
        rejects_b = b.execute("SELECT record, reason FROM rejects ORDER BY ALL").fetchall()
    assert rows_b == rows_a and rejects_b == rejects_a
