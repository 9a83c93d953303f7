from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import evtx
import pyarrow as pa
import pytest
from helpers import DATA, bytes_sample, rows_by_record

from ashiato.formats.evtx import FORMAT
from ashiato.formats.testing import parse_file

# the real EVTX files live in these folders of ../shared/data (never copied into the repo)
CORPORA = (
    "deepbluecli",
    "evtx-attack-samples",
    "evtx-parser-testfiles",
    "otrf-security-datasets",
    "plaso-testdata",
    "sigmahq",
)


def _evtx_files(shared: Path) -> list[Path]:
    files = sorted(
        p for c in CORPORA if (shared / c).is_dir() for p in (shared / c).rglob("*.evtx")
    )
    if not files:
        pytest.skip("no .evtx files under ../shared/data")
    return files


def _reference_count(path: Path) -> tuple[int, int]:
    """Records and errors the evtx package itself yields, iterating past each error."""
    ok = errors = 0
    records = evtx.PyEvtxParser(str(path)).records_json()
    while True:
        try:
            next(records)
        except StopIteration:
            return ok, errors
        except Exception:
            errors += 1
        else:
            ok += 1


def test_sniff() -> None:
    assert FORMAT.sniff(bytes_sample(b"ElfFile\x00" + b"\x00" * 4088))
    assert FORMAT.binary
    others = [p for p in DATA.rglob("*") if p.is_file()]
    for path in others:
        assert not FORMAT.sniff(bytes_sample(path.read_bytes())), path
    assert not FORMAT.sniff(bytes_sample(b"ElfChnk\x00" + b"\x00" * 100))
    assert not FORMAT.sniff(bytes_sample(b"hello"))


def test_unreadable_files_are_one_reject(tmp_path: Path) -> None:
    short = tmp_path / "short.evtx"
    short.write_bytes(b"ElfFile\x00")
    table, rejects = parse_file(FORMAT, short)
    assert table.num_rows == 0
    assert len(rejects) == 1
    assert rejects[0].reason.startswith("not a readable EVTX file: ")
    empty = tmp_path / "zeroed.evtx"  # a header with no chunks: no records, no error
    empty.write_bytes(b"ElfFile\x00" + b"\x00" * 8184)
    table, rejects = parse_file(FORMAT, empty)
    assert (table.num_rows, rejects) == (0, [])


@pytest.mark.corpus
def test_every_record_is_a_row_or_a_reject(shared: Path) -> None:
    mismatched = []
    rows = rejects = 0
    for path in _evtx_files(shared):
        table, bad = parse_file(FORMAT, path)
        ok, errors = _reference_count(path)
        rows += table.num_rows
        rejects += len(bad)
        if table.num_rows + len(bad) != ok + errors:
            mismatched.append((str(path), table.num_rows, len(bad), ok, errors))
        assert all(r.reason for r in bad)
    assert mismatched == []
    assert rows > 30_000
    assert rejects < 50


@pytest.mark.corpus
def test_damaged_files_keep_their_good_records(shared: Path) -> None:
    folder = shared / "evtx-parser-testfiles" / "omerbenamram-evtx" / "samples"
    if not folder.is_dir():
        pytest.skip("evtx-parser-testfiles not present")
    table, rejects = parse_file(FORMAT, folder / "sysmon.evtx")
    assert table.num_rows == 358
    assert len(rejects) == 8
    assert any("chunk number 9" in r.reason for r in rejects)
    table, rejects = parse_file(FORMAT, folder / "sample-with-zero-data-size-event.evtx")
    assert (table.num_rows, len(rejects)) == (335, 1)
    table, rejects = parse_file(FORMAT, folder / "sample_with_a_bad_chunk_magic.evtx")
    # 270 records decode, one of them is an empty shell (no TimeCreated): 269 rows
    assert (table.num_rows, len(rejects)) == (269, 3)
    assert any(r.reason.startswith("unusable EVTX record: no TimeCreated") for r in rejects)


@pytest.mark.corpus
def test_real_logon_failure_and_share_access(shared: Path) -> None:
    guess = shared / "deepbluecli" / "evtx" / "smb-password-guessing-security.evtx"
    if not guess.is_file():
        pytest.skip("deepbluecli not present")
    table, rejects = parse_file(FORMAT, guess)
    rows = rows_by_record(table)
    assert rejects == []
    assert rows[2455] == {
        "record": 2455,
        "@timestamp": datetime(2016, 9, 19, 16, 50, 6, 477878, tzinfo=UTC),
        "event.dataset": "windows.security",
        "event.provider": "Microsoft-Windows-Security-Auditing",
        "event.code": "4625",
        "event.action": "logon-failed",
        "event.category": "authentication",
        "event.outcome": "failure",
        "event.severity": 0,
        "host.hostname": "DESKTOP-M5SN04R",
        "host.name": "desktop-m5sn04r",
        "user.name": "JcDfcZTc",
        "user.domain": ".",
        "winlog.logon.type": 3,
        "source.ip": "192.168.198.149",
        "source.port": 50249,
        "evidence_id": "test",
        "extra": rows[2455]["extra"],
    }
    assert rows[2455]["extra"]["workstation"] == "6hgtmVlrrFuWtO65"
    # the file numbers its records from 1: that number is kept beside the EventRecordID
    assert rows[2455]["extra"]["winlog"]["file_record_id"] == 1
    assert rows[2455]["extra"]["winlog"]["event_data"]["SubStatus"] == "0xc0000064"
    actions = pa.compute.value_counts(table.column("event.action")).to_pylist()
    assert actions == [{"values": "logon-failed", "counts": 3561}]


@pytest.mark.corpus
@pytest.mark.slow
def test_throughput(shared: Path) -> None:
    """Records per second on the largest real files (best of three passes each)."""
    files = sorted(_evtx_files(shared), key=lambda p: p.stat().st_size)[-6:]
    total_rows = 0
    total_time = 0.0
    for path in files:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            table, _rejects = parse_file(FORMAT, path)
            best = min(best, time.perf_counter() - start)
        total_rows += table.num_rows
        total_time += best
    rate = total_rows / total_time
    # the goal is 100k records/s on 2 cores (measured ~100k without finalize); this only
    # catches a collapse, since shared CI machines are noisy
    assert rate > 20_000, f"{rate:,.0f} records/s"
