"""A large EVTX read by two processes gives exactly what one pass gives."""

from __future__ import annotations

import io
import os
import struct
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ashiato.formats import evtx as evtx_format
from ashiato.formats import evtx_parallel, testing
from ashiato.formats.base import Reject, Source
from ashiato.formats.testing import parse_file

_ONE_PASS = 10**9


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[
    tuple[pa.Table, list[Reject]], tuple[pa.Table, list[Reject]]
]:  # fmt: skip
    monkeypatch.setattr(evtx_format, "PARALLEL_MIN_CHUNKS", _ONE_PASS)
    one = parse_file(evtx_format.FORMAT, path)
    monkeypatch.setattr(evtx_format, "PARALLEL_MIN_CHUNKS", 2)  # a worker for any file
    monkeypatch.setattr(evtx_format, "_free_core", lambda: True)  # however loaded the machine
    started: list[evtx_parallel.Worker | None] = []
    start = evtx_parallel.start

    def counted(source: Source) -> evtx_parallel.Worker | None:
        started.append(start(source))
        return started[-1]

    monkeypatch.setattr(evtx_parallel, "start", counted)
    two = parse_file(evtx_format.FORMAT, path)
    assert len(started) == 1 and started[0] is not None  # the worker path was taken
    return one, two


def _multi_chunk(folder: Path, least: int) -> list[Path]:
    return [
        p for p in sorted(folder.rglob("*.evtx")) if (p.stat().st_size - 4096) // 65536 >= least
    ]


@pytest.mark.corpus
@pytest.mark.parametrize("shared_rest", [False, True])
def test_two_processes_give_the_rows_rejects_and_refs_of_one_pass(
    shared: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
    shared_rest: bool,
) -> None:  # fmt: skip
    # the parser test files include damaged chunks and records: their rejects name the
    # record before the damage and the chunk number, which must not change with the
    # split, nor when the parent, done with its part, takes half of what the worker has
    # left (damage there names the worker's last record as the one before)
    files = _multi_chunk(shared / "evtx-parser-testfiles", 3 if shared_rest else 2)
    files += _multi_chunk(shared / "evtx-attack-samples", 3)
    if not files:
        pytest.skip("no multi-chunk EVTX samples present")
    splits: list[tuple[int, int, int]] = (
        request.getfixturevalue("split_at_once") if shared_rest else []
    )
    damaged = 0
    for path in files:
        (rows1, rej1), (rows2, rej2) = _both(path, monkeypatch)
        if shared_rest:
            assert len(splits) == 1 and splits[0][0] < splits[0][1] < splits[0][2], path.name
            splits.clear()
        assert rows2.num_rows == rows1.num_rows, path.name
        assert rows2.equals(rows1), path.name  # same rows, same order, same record refs
        assert rej2 == rej1, path.name
        damaged += bool(rej1)
    assert damaged >= 2  # the damaged samples were among them


@pytest.mark.corpus
def test_a_worker_that_dies_after_the_split_leaves_its_share_to_the_parent(
    shared: Path, monkeypatch: pytest.MonkeyPatch, split_at_once: list[tuple[int, int, int]]
) -> None:
    sample = _sample(shared)
    (rows1, rej1), _ = _both(sample, monkeypatch)
    splits = split_at_once
    told = evtx_parallel._Split.__call__

    def answers_then_dies(split: evtx_parallel._Split, chunk: int) -> int:
        asked = split.control is not None
        out = told(split, chunk)
        if asked and split.control is None:
            os._exit(3)  # it has told the parent where to read from, then dies
        return out

    monkeypatch.setattr(evtx_parallel._Split, "__call__", answers_then_dies)
    finished: list[int | None] = []
    finish = evtx_parallel.Worker.finish

    def seen(worker: evtx_parallel.Worker, *args: Any) -> int | None:
        finished.append(finish(worker, *args))
        return finished[-1]

    monkeypatch.setattr(evtx_parallel.Worker, "finish", seen)
    rows2, rej2 = parse_file(evtx_format.FORMAT, sample)
    assert finished == [None] and splits[0][0] < splits[0][1] < splits[0][2]
    assert rows2.equals(rows1)
    assert rej2 == rej1


@pytest.mark.corpus
def test_a_cut_large_file_keeps_its_tail_with_a_worker(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = shared / "deepbluecli" / "evtx" / "smb-password-guessing-security.evtx"
    if not sample.exists():
        pytest.skip("deepbluecli samples not present")
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(sample.read_bytes()[: (1 << 20) + 30_000])  # inside chunk 16
    (rows1, rej1), (rows2, rej2) = _both(cut, monkeypatch)
    assert rows1.num_rows > 1000
    assert rows2.equals(rows1)
    assert rej2 == rej1


def _sample(shared: Path) -> Path:
    """A file with records in every chunk: the worker has some to read."""
    sample = shared / "deepbluecli" / "evtx" / "smb-password-guessing-security.evtx"
    if not sample.exists():
        pytest.skip("deepbluecli samples not present")
    return sample


@pytest.mark.corpus
def test_a_spawned_worker_gives_what_a_forked_one_gives(
    shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # where fork is not used (Windows, macOS, ASHIATO_EVTX_FORK=0) the worker is a new
    # interpreter running this module
    sample = _sample(shared)
    (rows1, rej1), (forked, _) = _both(sample, monkeypatch)
    monkeypatch.setenv("ASHIATO_EVTX_FORK", "0")
    spawned: list[evtx_parallel.Process] = []
    spawn = evtx_parallel._spawn

    def counted(*args: Any) -> evtx_parallel.Process:
        spawned.append(spawn(*args))
        return spawned[-1]

    monkeypatch.setattr(evtx_parallel, "_spawn", counted)
    rows2, rej2 = parse_file(evtx_format.FORMAT, sample)
    assert len(spawned) == 1
    assert forked.equals(rows1) and rows2.equals(rows1)
    assert rej2 == rej1


@pytest.mark.corpus
@pytest.mark.parametrize("fork", [True, False])
def test_a_failed_worker_leaves_the_range_to_the_parent(
    shared: Path, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    sample = _sample(shared)
    (rows1, rej1), _ = _both(sample, monkeypatch)
    if fork:

        def fails(*args: Any) -> None:
            raise OSError("disk full")  # in the forked child

        monkeypatch.setattr(evtx_parallel, "_work", fails)
    else:
        monkeypatch.setenv("ASHIATO_EVTX_FORK", "0")
        monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker dies
    rows2, rej2 = parse_file(evtx_format.FORMAT, sample)
    assert rows2.equals(rows1)
    assert rej2 == rej1


@pytest.mark.corpus
@pytest.mark.parametrize("when", ["midway", "after its part is in place"])
def test_a_worker_that_ends_midway_leaves_the_rest_to_the_parent(
    shared: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    # the worker's half-written (or finished) part is removed and its whole range read
    # by the parent (parse_file fails on a part left behind); rows and rejects as one pass
    sample = _sample(shared)
    (rows1, rej1), _ = _both(sample, monkeypatch)
    parent = os.getpid()
    opened = testing.FolderParts.open

    def dies_midway(parts: testing.FolderParts, part: int) -> Any:
        writer = opened(parts, part)
        if os.getpid() != parent:
            add = writer.add

            def add_then_die(batch: pa.RecordBatch) -> None:
                add(batch)  # its first batch is in its half-written part
                assert parts.path(part).with_suffix(".tmp").stat().st_size > 0
                os._exit(3)

            writer.add = add_then_die  # type: ignore[method-assign]
        return writer

    def dies_at_the_end(
        path: Path, first: int, end: int, tz: str, parts: Any, out: Any, control: Any
    ) -> None:
        work(path, first, end, tz, parts, out, control)
        assert parts.path(evtx_parallel.WORKER_PART).exists()
        os._exit(3)  # before the parent is told

    work = evtx_parallel._work
    if when == "midway":
        monkeypatch.setattr(testing.FolderParts, "open", dies_midway)
    else:
        monkeypatch.setattr(evtx_parallel, "_work", dies_at_the_end)
    finish = evtx_parallel.Worker.finish
    finished: list[int | None] = []

    def told(worker: evtx_parallel.Worker, *args: Any) -> int | None:
        finished.append(finish(worker, *args))
        return finished[-1]

    monkeypatch.setattr(evtx_parallel.Worker, "finish", told)
    rows2, rej2 = parse_file(evtx_format.FORMAT, sample)
    assert finished == [None]  # the worker was found to have failed
    assert rows2.equals(rows1)
    assert rej2 == rej1


def test_a_chunk_range_reads_as_a_file_of_its_own(tmp_path: Path) -> None:
    header = b"H" * 4096
    chunks = [bytes([65 + i]) * 65536 for i in range(4)]
    path = tmp_path / "f.evtx"
    path.write_bytes(header + b"".join(chunks) + b"tail")
    part = evtx_parallel.ChunkRange(path, 1, 3)
    assert part.read() == header + chunks[1] + chunks[2]
    part.seek(4090)
    assert part.read(10) == b"H" * 6 + b"B" * 4
    part.seek(-1, io.SEEK_END)
    assert part.read(5) == b"C"
    part.close()


def test_the_worker_starts_where_half_the_records_are_behind(tmp_path: Path) -> None:
    # chunk headers (magic, first and last record number): the records, not the chunks,
    # are split in half; a damaged header counts none
    def chunk(first: int, last: int, magic: bytes = b"ElfChnk\x00") -> bytes:
        return (magic + struct.pack("<QQ", first, last)).ljust(65536, b"\0")

    counts = [300, 5, 5, 5, 300, 5]
    chunks, n = [], 1
    for c in counts:
        chunks.append(chunk(n, n + c - 1))
        n += c
    chunks.insert(2, chunk(1, 10**9))  # a damaged header: a billion records
    chunks.insert(3, chunk(5, 9, b"garbage!"))
    path = tmp_path / "f.evtx"
    path.write_bytes(b"ElfFile\x00".ljust(4096, b"\0") + b"".join(chunks))
    # 620 records: 310 in chunks 0-4 (300 + 5 + 0 + 0 + 5), the rest from chunk 5 on
    assert evtx_parallel._middle(path, len(chunks), 0) == 5
    assert evtx_parallel._middle(path, len(chunks), 6) == 7  # the head start, then half
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"ElfFile\x00".ljust(4096, b"\0") + b"\0" * 65536 * 4)
    assert evtx_parallel._middle(empty, 4, 0) == 2  # no headers to go by: the chunks


def test_a_large_file_is_split_from_a_sample_of_its_chunk_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 64 chunks: the first 32 hold 10 records each, the rest 30; half of the 1,280
    # records are behind chunk 43 (320 + 11 * 30 = 650). Reading one header in four
    # (each standing for the three after it) gives the same answer, from 16 reads
    def chunk(first: int, n: int) -> bytes:
        return (b"ElfChnk\x00" + struct.pack("<QQ", first, first + n - 1)).ljust(65536, b"\0")

    chunks, first = [], 1
    for i in range(64):
        n = 10 if i < 32 else 30
        chunks.append(chunk(first, n))
        first += n
    path = tmp_path / "f.evtx"
    path.write_bytes(b"ElfFile\x00".ljust(4096, b"\0") + b"".join(chunks))
    assert evtx_parallel._middle(path, 64, 0) == 43
    monkeypatch.setattr(evtx_parallel, "_SAMPLED_HEADERS", 16)
    reads: list[int] = []
    read_at = evtx_parallel._read_at

    def counted(fh: Any, size: int, offset: int) -> bytes:
        reads.append(offset)
        return read_at(fh, size, offset)

    monkeypatch.setattr(evtx_parallel, "_read_at", counted)
    assert evtx_parallel._middle(path, 64, 0) == 43
    assert len(reads) == 16
