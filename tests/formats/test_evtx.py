from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import evtx
import pyarrow as pa
import pytest
from helpers import DATA, bytes_sample, rows_by_record

from ashiato.formats.evtx import FORMAT, has_tail
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
        # a file cut inside a chunk: the package skips that chunk; ashiato reads the
        # records wholly before the cut (walked here from the documented layout)
        data = path.read_bytes()
        tail_start = len(data) - (len(data) - 4096) % 65536
        if len(data) > 4096 and tail_start < len(data):
            # (one the cut goes through is a reject)
            ok += len(_ids_before_cut(data[:4096] + data[tail_start:], len(data), whole=False))
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
    path = folder / "sample_with_a_bad_chunk_magic.evtx"
    table, rejects = parse_file(FORMAT, path)
    # 270 records decode; one is an empty shell without TimeCreated: it keeps the time
    # of its record header, and says so
    assert (table.num_rows, len(rejects)) == (270, 2)
    shells = [r for r in table.to_pylist() if "time_source" in (r["extra"] or "")]
    assert len(shells) == 1
    header = {r["event_record_id"]: r["timestamp"] for r in _package_records(path)}
    stamp = header[shells[0]["record"]]  # "2017-...T..:..:..1234567Z UTC"
    assert shells[0]["@timestamp"].isoformat()[:19] == stamp[:19]


def _package_records(path: Path) -> list[dict[str, object]]:
    out = []
    it = evtx.PyEvtxParser(str(path)).records_json()
    while True:
        try:
            out.append(next(it))
        except StopIteration:
            return out
        except Exception:
            continue


def _ids_before_cut(data: bytes, cut: int, whole: bool = True) -> set[int]:
    """Record numbers of the records that lie wholly before ``cut``, walked from the
    documented layout (libevtx: 4 KiB file header, 64 KiB chunks, records from offset
    512 of a chunk up to its free-space offset, each ``**\\0\\0``, size, number)."""
    ids = set()
    for start in range(4096, min(cut, len(data)), 65536):
        chunk = data[start : min(start + 65536, cut)]
        if not chunk.startswith(b"ElfChnk\x00") or len(chunk) < 512:
            continue
        free = int.from_bytes(chunk[48:52], "little")
        off = 512
        while off + 24 <= min(free, len(chunk)) and chunk[off : off + 4] == b"**\x00\x00":
            size = int.from_bytes(chunk[off + 4 : off + 8], "little")
            if size < 24 or (whole and off + size > len(chunk)):
                break
            ids.add(int.from_bytes(chunk[off + 8 : off + 16], "little"))
            off += size
    return ids


@pytest.mark.corpus
def test_truncated_evtx_keeps_every_record_before_the_cut(shared: Path, tmp_path: Path) -> None:
    samples = [shared / "deepbluecli" / "evtx" / n for n in
               ("many-events-application.evtx", "smb-password-guessing-security.evtx")]
    samples = [p for p in samples if p.exists()]
    if not samples:
        pytest.skip("deepbluecli samples not present")
    for path in samples:
        data = path.read_bytes()
        cut = tmp_path / f"cut-{path.name}"
        cut.write_bytes(data[: 1 << 20])  # what a copy stopped at 1 MB holds
        expected = _ids_before_cut(data, 1 << 20)
        whole = {r["event_record_id"] for r in _package_records(path)}
        assert expected <= whole and len(expected) > 1000
        table, rejects = parse_file(FORMAT, cut)
        # header record numbers (an exported log numbers its EventRecordIDs anew)
        got = [
            json.loads(r["extra"] or "{}").get("winlog", {}).get("file_record_id", r["record"])
            for r in table.select(["record", "extra"]).to_pylist()
        ]
        assert sorted(got) == sorted(expected), path.name
        # more than the package yields when handed the cut file directly
        assert len(got) > len(_package_records(cut))
        assert all(r.reason for r in rejects)


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


def test_a_file_that_ends_on_a_chunk_boundary_has_no_tail(tmp_path: Path) -> None:
    # the record numbers read are kept only for a cut file's tail chunk
    whole = tmp_path / "whole.evtx"
    whole.write_bytes(b"\0" * (4096 + 3 * 65536))
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(b"\0" * (4096 + 3 * 65536 + 100))
    assert not has_tail(whole) and has_tail(cut)
    assert has_tail(tmp_path / "gone.evtx")  # unknown: the numbers are kept
