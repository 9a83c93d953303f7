from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from helpers import DATA, assert_claims_no_other_fixture, rows_by_record, sample_of

from ashiato.formats.nxlog_json import FORMAT
from ashiato.formats.testing import parse_file

FIXTURE = DATA / "nxlog_json" / "mordor_style.json"


def test_events_are_mapped_like_evtx_and_bad_lines_rejected() -> None:
    table, rejects = parse_file(FORMAT, FIXTURE, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert sorted(rows) == [1, 2]
    assert [(r.record, r.reason.split(":")[0]) for r in rejects] == [
        (3, "not JSON"),
        (4, "not an NXLog Windows event (needs ('EventID', 'SourceName', 'Channel', 'Hostname'))"),
    ]
    logon, share = rows[1], rows[2]
    # EventTime is local (JST here): 11:40:01 JST is 02:40:01 UTC
    assert logon["@timestamp"].isoformat() == "2015-09-09T02:40:01+00:00"
    assert {k: logon[k] for k in ("event.dataset", "event.code", "host.name", "user.name",
                                   "source.ip", "winlog.logon.type", "winlog.logon.id")} == {
        "event.dataset": "windows.security", "event.code": "4624", "host.name": "fs01",
        "user.name": "tanaka", "source.ip": "10.20.3.41", "winlog.logon.type": 3,
        "winlog.logon.id": "0x3a7f12",
    }
    assert logon["extra"]["workstation"] == "PC-TKY-0341"
    assert share["file.path"] == "営業\\見積\\HELP_DECRYPT.TXT"
    assert share["file.access_mask"] == 2
    assert share["file.share"] == "\\\\*\\share"
    assert share["extra"]["winlog"]["record_id"] == 9911021


def test_sniff() -> None:
    assert FORMAT.sniff(sample_of(FIXTURE))
    assert_claims_no_other_fixture(FORMAT, "nxlog_json", sample_of)


@pytest.mark.corpus
def test_otrf_dataset(shared: Path, tmp_path: Path) -> None:
    zipped = shared / "otrf-security-datasets/atomic/windows/execution/host/empire_launcher_vbs.zip"
    if not zipped.exists():
        pytest.skip("OTRF sample not in ../shared/data")
    with zipfile.ZipFile(zipped) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json") and "MACOSX" not in n)
        path = tmp_path / "otrf.json"
        path.write_bytes(zf.read(name))
    lines = sum(1 for ln in path.read_text("utf-8").splitlines() if ln.strip())
    table, rejects = parse_file(FORMAT, path)
    assert rejects == []
    assert table.num_rows == lines
    codes = table.column("event.code").to_pylist()
    assert "4688" in codes and "1" in codes  # Security and Sysmon both mapped
