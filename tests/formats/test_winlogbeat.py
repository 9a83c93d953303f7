"""Winlogbeat 7/8 documents: the record's own time, not when the agent read it."""

from __future__ import annotations

from helpers import DATA, assert_claims_no_other_fixture, rows_by_record, sample_of

from ashiato.formats.testing import parse_file
from ashiato.formats.winlogbeat import FORMAT

WLB7 = DATA / "winlogbeat" / "wlb7_logstash.json"
WLB8 = DATA / "winlogbeat" / "wlb8_hits.json"


def test_winlogbeat7_backlog_keeps_event_time() -> None:
    """The agent read the records 5 h late (event.created); @timestamp is the event's."""
    table, rejects = parse_file(FORMAT, WLB7, tz="Asia/Tokyo")
    assert rejects == []
    logon, proc = rows_by_record(table)[1], rows_by_record(table)[2]
    assert logon["@timestamp"].isoformat() == "2020-09-22T14:53:44.123000+00:00"
    assert {k: logon[k] for k in ("event.dataset", "event.code", "host.name", "user.name",
                                   "source.ip", "winlog.logon.type", "event.outcome")} == {
        "event.dataset": "windows.security", "event.code": "4624", "host.name": "workstation6",
        "user.name": "pgustavo", "source.ip": "172.18.39.5", "winlog.logon.type": 3,
        "event.outcome": "success"}  # fmt: skip
    assert logon["extra"]["winlog"]["record_id"] == 46004
    # Sysmon: UtcTime, as in EVTX
    assert proc["@timestamp"].isoformat() == "2020-09-22T14:54:01.868000+00:00"
    assert proc["event.dataset"] == "windows.sysmon"
    assert proc["process.command_line"] == "cmd.exe /c whoami"
    assert proc["user.name"] == "pgustavo"


def test_winlogbeat8_elasticsearch_hits() -> None:
    table, rejects = parse_file(FORMAT, WLB8, tz="Asia/Tokyo")
    assert rejects == []
    proc, clear = rows_by_record(table)[1], rows_by_record(table)[2]
    assert proc["@timestamp"].isoformat() == "2023-03-02T01:12:40.517000+00:00"
    assert proc["event.code"] == "4688" and proc["host.name"] == "pc-osk-0112"
    assert proc["process.command_line"] == "vssadmin.exe delete shadows /all /quiet"
    assert proc["extra"]["winlog"]["record_id"] == 1209931
    assert clear["event.code"] == "1102" and clear["event.action"] == "log-cleared"
    assert clear["user.name"] == "tanaka"


def test_sniff() -> None:
    assert FORMAT.sniff(sample_of(WLB7)) and FORMAT.sniff(sample_of(WLB8))
    assert_claims_no_other_fixture(FORMAT, "winlogbeat", sample_of)
