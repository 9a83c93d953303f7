"""Splunk JSON exports of Windows events: XML _raw and classic WinEventLog fields."""

from __future__ import annotations

from helpers import DATA, assert_claims_no_other_fixture, rows_by_record, sample_of

from ashiato.formats.splunk_json import FORMAT
from ashiato.formats.testing import parse_file

EXPORT = DATA / "splunk_json" / "export.json"


def test_xml_and_classic_events() -> None:
    table, rejects = parse_file(FORMAT, EXPORT, tz="UTC")
    assert rejects == []
    xml, classic = rows_by_record(table)[1], rows_by_record(table)[2]
    # the XML's SystemTime; _time says the same instant in the exporting user's JST
    assert xml["@timestamp"].isoformat() == "2015-09-09T02:40:01.514219+00:00"
    assert {k: xml[k] for k in ("event.dataset", "event.code", "host.name", "user.name",
                                 "source.ip", "winlog.logon.type")} == {
        "event.dataset": "windows.security", "event.code": "4624", "host.name": "fs01",
        "user.name": "tanaka", "source.ip": "10.20.3.41", "winlog.logon.type": 3}  # fmt: skip
    assert xml["extra"]["winlog"]["record_id"] == 9910001
    # classic WinEventLog: _time (with its +09:00) is the event's time
    assert classic["@timestamp"].isoformat() == "2015-09-09T02:52:14+00:00"
    assert classic["event.code"] == "5140" and classic["event.dataset"] == "windows.security"
    assert classic["host.name"] == "fs01"
    assert classic["extra"]["winlog"]["record_id"] == 9911020


def test_sniff() -> None:
    assert FORMAT.sniff(sample_of(EXPORT))
    assert_claims_no_other_fixture(FORMAT, "splunk_json", sample_of)
