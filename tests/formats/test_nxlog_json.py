from __future__ import annotations

import json
import zipfile
from datetime import datetime
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
        (4, "not a JSON Windows event (needs EventID, a Channel or SourceName, and Hostname)"),
    ]
    logon, share = rows[1], rows[2]
    # EventTime is local (JST here): 11:40:01 JST is 02:40:01 UTC
    assert logon["@timestamp"].isoformat() == "2015-09-09T02:40:01+00:00"
    assert {k: logon[k] for k in ("event.dataset", "event.code", "host.name", "user.name",
                                   "source.ip", "winlog.logon.type", "winlog.logon.id")} == {
        "event.dataset": "windows.security", "event.code": "4624", "host.name": "fs01",
        "user.name": "tanaka", "source.ip": "10.20.3.41", "winlog.logon.type": 3,
        "winlog.logon.id": "0x3a7f12",
    }  # fmt: skip
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


def _times(path: Path, tz: str = "Asia/Tokyo") -> list[str]:
    table, rejects = parse_file(FORMAT, path, tz=tz)
    assert rejects == []
    return [t.isoformat() for t in table.column("@timestamp").to_pylist()]


def test_event_time_in_the_zone_the_file_shows() -> None:
    """EventTime is New York time (EDT): every @timestamp sits 4 h and a second or two
    later, except one record shipped 3 h late. The file says UTC-4, whatever --tz says."""
    times = _times(DATA / "nxlog_json" / "edt_logstash.json")
    assert times[0] == "2020-09-22T14:53:00+00:00"
    assert times[5] == "2020-09-22T15:28:00+00:00"  # the late one: its event time, not receipt
    assert len(times) == 8


def test_shipping_backlog_keeps_the_stated_zone() -> None:
    """Everything reached the collector at 18:10 UTC at once: @timestamp is the receipt,
    the differences scatter, so EventTime is read in the zone the responder stated."""
    times = _times(DATA / "nxlog_json" / "backlog.json", tz="Asia/Tokyo")
    assert times[0] == "2015-09-09T02:40:01+00:00"  # 11:40:01 JST
    assert times[-1] == "2015-09-09T03:25:01+00:00"


def test_event_own_utc_time_and_any_provider() -> None:
    """Sentinel/Azure exports: TimeCreated is the event's UTC time (with or without Z);
    an Application event of any provider (Raccine) is an event by its shape."""
    path = DATA / "nxlog_json" / "sentinel_application.json"
    table, rejects = parse_file(FORMAT, path, tz="Asia/Tokyo")
    assert rejects == []
    rows = rows_by_record(table)
    assert rows[1]["@timestamp"].isoformat() == "2020-10-18T05:15:14.796000+00:00"
    assert rows[1]["event.provider"] == "Raccine" and rows[1]["event.code"] == "2"
    assert rows[1]["event.dataset"] == "windows.application"
    assert rows[1]["host.name"] == "workstation5"
    assert "vssadmin delete shadows" in rows[1]["message"]
    # TimeCreated, not the Logstash receipt 3 s later
    assert rows[2]["@timestamp"].isoformat() == "2020-12-19T06:59:28.410000+00:00"
    assert rows[2]["process.command_line"] == "vssadmin delete shadows /all /quiet"
    assert rows[2]["event.outcome"] == "success"


@pytest.mark.corpus
def test_otrf_event_time_matches_sysmon_utc(shared: Path, tmp_path: Path) -> None:
    """OTRF: EventTime is the lab's local time (EDT); Sysmon's UtcTime and Logstash's
    receipt both say UTC. Read with --tz Asia/Tokyo, every event still lands within
    seconds of its receipt, and none of them 13 h away."""
    zipped = (shared / "otrf-security-datasets/atomic/windows/lateral_movement/host/"
              "covenant_copy_smb_CreateRequest.zip")  # fmt: skip
    if not zipped.exists():
        pytest.skip("OTRF sample not in ../shared/data")
    with zipfile.ZipFile(zipped) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json") and "MACOSX" not in n)
        path = tmp_path / "otrf.json"
        path.write_bytes(zf.read(name))
    table, rejects = parse_file(FORMAT, path, tz="Asia/Tokyo")
    assert rejects == []
    received = [json.loads(ln)["@timestamp"] for ln in path.read_text("utf-8").splitlines()
                if ln.strip()]  # fmt: skip
    lags = [
        (datetime.fromisoformat(r.replace("Z", "+00:00")) - t).total_seconds()
        for r, t in zip(received, table.column("@timestamp").to_pylist(), strict=True)
    ]
    assert max(abs(x) for x in lags) < 120, sorted(lags)[-3:]
    codes = table.column("event.code").to_pylist()
    assert "1" in codes or "3" in codes  # Sysmon (UtcTime) and Security (EventTime) agree


@pytest.mark.corpus
def test_otrf_raccine_application_log(shared: Path, tmp_path: Path) -> None:
    """A 6-line anti-ransomware log (Application channel, provider Raccine, no @timestamp):
    recognised by its shape and read on its own TimeCreated."""
    found = sorted((shared / "otrf-security-datasets").rglob("raccine*.zip"))
    if not found:
        pytest.skip("OTRF Raccine sample not in ../shared/data")
    with zipfile.ZipFile(found[0]) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json") and "MACOSX" not in n)
        path = tmp_path / "raccine.json"
        path.write_bytes(zf.read(name))
    assert FORMAT.sniff(sample_of(path))
    table, rejects = parse_file(FORMAT, path, tz="Asia/Tokyo")
    lines = [ln for ln in path.read_text("utf-8").splitlines() if ln.strip()]
    assert rejects == [] and table.num_rows == len(lines)
    assert set(table.column("event.provider").to_pylist()) == {"Raccine"}
    assert set(table.column("event.dataset").to_pylist()) == {"windows.application"}
    stamps = {json.loads(ln)["TimeCreated"][:19].replace(" ", "T") for ln in lines}
    got = {t.strftime("%Y-%m-%dT%H:%M:%S") for t in table.column("@timestamp").to_pylist()}
    assert got == stamps  # UTC as written, not shifted by --tz
