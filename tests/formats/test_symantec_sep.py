from __future__ import annotations

import pytest
from helpers import (
    DATA,
    SHARED,
    Parsed,
    assert_claims_no_other_fixture,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats import registry
from ashiato.formats.base import Sample
from ashiato.formats.symantec_sep import FORMAT
from ashiato.formats.testing import parse_file

RISK = DATA / "symantec_sep" / "risk_log.csv"
CLIENT = DATA / "symantec_sep" / "client_export.csv"
AV_LOG = DATA / "symantec_sep" / "AV_client.Log"
CORPUS = SHARED / "plaso-testdata" / "test_data" / "Symantec.Log"

BASE = {
    "event.dataset": "symantec.sep", "event.category": "malware", "observer.type": "antivirus",
    "observer.vendor": "symantec", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, RISK, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [2, 3, 4]  # 1 header, 5 blank
    assert [(r.record, r.reason) for r in rejects] == [
        (6, "no time: column 'Event Time' is empty"),
        (7, "expected 15 fields (as in the header), got 3"),
    ]


def test_quarantined(parsed: Parsed) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:50:12+09:00"),
        "event.action": "quarantined",
        "event.outcome": "success",
        "message": "Security risk found, quarantined",
        "host.name": "pc-tky-0341",
        "host.hostname": "PC-TKY-0341",
        "host.ip": "10.20.3.41",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "file.path": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\x9k2.tmp",
        "file.name": "x9k2.tmp",
        "file.extension": "tmp",
        "file.directory": "C:\\Users\\tanaka\\AppData\\Local\\Temp",
        "rule.name": "Ransom.Cryptowall",
        "rule.category": "Virus",
        "extra": {
            "Inserted": "2015-09-09 11:52:40",
            "Domain": "Default",
            "Group": "My Company\\Tokyo",
            "Requested Action": "Quarantine",
            "Secondary Action": "Delete",
            "Source": "Auto-Protect scan",
        },
        "record": 2,
    }


def test_failed_and_left_alone(parsed: Parsed) -> None:
    rows = parsed[0]
    assert (rows[3]["event.action"], rows[3]["event.outcome"]) == ("clean failed", "failure")
    assert rows[3]["file.extension"] == "js"
    assert (rows[4]["event.action"], rows[4]["event.outcome"]) == ("left alone", "unknown")
    assert rows[4]["file.path"] == "\\\\FS01\\share\\営業部\\HELP_DECRYPT.HTML"
    assert rows[4]["user.name"] == "SYSTEM" and "user.domain" not in rows[4]


def test_client_export_date_and_time_columns() -> None:
    table, rejects = parse_file(FORMAT, CLIENT, tz="Asia/Tokyo")
    assert rejects == []
    assert rows_by_record(table)[2] == BASE | {
        "@timestamp": utc_of("2015-09-09T13:50:12+09:00"),
        "event.action": "deleted",
        "event.outcome": "success",
        "host.name": "pc-osk-0102",
        "host.hostname": "PC-OSK-0102",
        "user.name": "tanaka",
        "file.path": "C:\\Windows\\System32\\evil.dll",
        "file.name": "evil.dll",
        "file.extension": "dll",
        "file.directory": "C:\\Windows\\System32",
        "rule.name": "W32.Downadup.B",
        "extra": {"Scan Type": "Manual scan"},
        "record": 2,
    }


def test_client_av_log() -> None:
    table, rejects = parse_file(FORMAT, AV_LOG, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert sorted(rows) == [1, 2, 3]  # 4 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (5, "expected at least 14 comma-separated fields, got 5"),
        (6, "time (12 hex digits), event or category does not read"),
    ]
    assert rows[1] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:46:30+09:00"),  # 2D08090B2E1E, local time
        "event.code": "5",
        "event.action": "quarantine",
        "event.outcome": "success",
        "host.name": "pc-tky-0341",
        "host.hostname": "PC-TKY-0341",
        "host.ip": "10.20.3.41",
        "host.mac": "00:16:3E:00:00:41",
        "user.name": "tanaka",
        "file.path": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\x9k2.tmp",
        "file.name": "x9k2.tmp",
        "file.extension": "tmp",
        "file.directory": "C:\\Users\\tanaka\\AppData\\Local\\Temp",
        "rule.name": "Ransom.Cryptowall",
        "extra": {
            "sep.event": "infection",
            "sep.category": "infection",
            "sep.logger": "auto-protect",
            "nt_domain": "CORP",
            "version": "12.1.6168.6000",
            "requested_action": "quarantine",
            "secondary_action": "delete",
        },
        "record": 1,
    }
    assert (rows[2]["event.action"], rows[2]["event.outcome"]) == ("error", "failure")
    assert rows[2]["extra"]["sep.logger"] == "scheduled scan"
    # a definitions update: not a detection
    assert "event.category" not in rows[3] and "event.action" not in rows[3]
    assert rows[3]["message"] == "New virus definition file loaded. Version: 150908002."


@pytest.mark.corpus
def test_plaso_client_log_corpus() -> None:
    if not CORPUS.exists():
        pytest.skip("../shared/data not present")
    table, rejects = parse_file(FORMAT, CORPUS, tz="UTC")
    rows = rows_by_record(table)
    assert rejects == []
    assert sorted(rows) == list(range(1, 9))
    assert rows[2]["@timestamp"] == utc_of("2012-11-30T10:47:29+00:00")  # 2A0A1E0A2F1D
    assert (rows[2]["rule.name"], rows[2]["user.name"]) == ("W32.Changeup!gen33", "davnads")
    assert rows[2]["file.path"] == "D:\\Twinkle_Prod$\\VM11 XXX\\outside\\test.exe.txt"
    assert rows[4]["event.action"] == "clean by deletion"
    assert sum(1 for r in rows.values() if r.get("event.category") == "malware") == 5


def test_sniff() -> None:
    for path in (RISK, CLIENT, AV_LOG):
        assert FORMAT.sniff(text_sample(path, "utf-8-sig"))
        assert registry.sniff(text_sample(path, "utf-8-sig")) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "symantec_sep")
    # a risk name alone (no action column) is not enough
    text = "Date,Computer,Risk Name\n2015-09-09 11:50:12,PC1,X\n"
    assert not FORMAT.sniff(Sample(text.encode(), text, "x.csv"))
