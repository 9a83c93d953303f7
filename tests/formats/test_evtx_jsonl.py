from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import DATA, bytes_sample, rows_by_record

from ashiato.formats.evtx_jsonl import FORMAT
from ashiato.formats.testing import parse_file

FIXTURE = DATA / "windows" / "evtx_dump.jsonl"


PC = {"host.hostname": "PC-TKY-0341.corp.example.jp", "host.name": "pc-tky-0341"}
SYSMON = PC | {
    "event.dataset": "windows.sysmon",
    "event.provider": "Microsoft-Windows-Sysmon",
    "event.severity": 4,
    "evidence_id": "test",
    "user.name": "tanaka",
    "user.domain": "CORP",
    "process.pid": 3404,
    "process.executable": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\a1b2.exe",
    "process.name": "a1b2.exe",
}


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[int, dict[str, Any]], list[Any]]:
    table, rejects = parse_file(FORMAT, FIXTURE, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows, rejects = parsed
    assert sorted(rows) == list(range(1, 12))  # line 12 is blank
    assert [(r.record, r.reason.split(":")[0]) for r in rejects] == [
        (13, "not JSON"),
        (14, 'not an {"Event"'),
        (15, "unusable event"),
    ]
    assert rejects[1].raw == b'{"Record":1,"Event":"not an event"}'


def test_logon(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    row = parsed[0][1]
    assert row == {
        "record": 1,
        "@timestamp": datetime(2015, 9, 9, 2, 40, 1, tzinfo=UTC),
        "event.dataset": "windows.security",
        "event.provider": "Microsoft-Windows-Security-Auditing",
        "event.code": "4624",
        "event.action": "logon",
        "event.category": "authentication",
        "event.outcome": "success",
        "event.severity": 0,
        "host.hostname": "FS01.corp.example.jp",
        "host.name": "fs01",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "user.id": "S-1-5-21-1111-2222-3333-1104",
        "winlog.logon.id": "0x3a7f12",
        "winlog.logon.type": 3,
        "source.ip": "192.0.2.41",
        "source.port": 51302,
        "evidence_id": "test",
        "extra": row["extra"],
    }
    assert row["extra"]["workstation"] == "PC-TKY-0341"
    assert row["extra"]["winlog"]["record_id"] == 9910001
    assert row["extra"]["winlog"]["event_data"]["LogonType"] == 3
    failed = parsed[0][2]
    assert (failed["event.action"], failed["event.outcome"], failed["user.name"]) == (
        "logon-failed",
        "failure",
        "administrator",
    )
    assert "user.id" not in failed  # S-1-0-0


def test_service_and_log_cleared(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows = parsed[0]
    assert rows[3] == PC | {
        "record": 3,
        "@timestamp": datetime(2015, 9, 9, 2, 35, 10, 500000, tzinfo=UTC),
        "event.dataset": "windows.system",
        "event.provider": "Service Control Manager",
        "event.code": "7045",
        "event.action": "service-installed",
        "event.category": "configuration",
        "event.severity": 4,
        "user.id": "S-1-5-21-1111-2222-3333-1104",
        "process.executable": "C:\\Users\\Public\\svchost32.exe",
        "process.name": "svchost32.exe",
        "process.command_line": "C:\\Users\\Public\\svchost32.exe -s",
        "evidence_id": "test",
        "extra": rows[3]["extra"],
    }
    assert rows[3]["extra"]["winlog"]["event_data"]["ServiceName"] == "WinUpdSvc"
    assert rows[4] == {
        "record": 4,
        "@timestamp": datetime(2015, 9, 9, 3, 11, tzinfo=UTC),
        "event.dataset": "windows.system",
        "event.provider": "Microsoft-Windows-Eventlog",
        "event.code": "104",
        "event.action": "log-cleared",
        "event.category": "configuration",
        "event.severity": 4,
        "host.hostname": "FS01.corp.example.jp",
        "host.name": "fs01",
        "user.name": "admin-sato",
        "user.domain": "CORP",
        "evidence_id": "test",
        "extra": {
            "winlog": {
                "channel": "System",
                "process_id": 880,
                "user_sid": "S-1-5-21-1111-2222-3333-500",
                "user_data": {
                    "SubjectUserName": "admin-sato",
                    "SubjectDomainName": "CORP",
                    "Channel": "System",
                    "BackupPath": None,
                },
                "record_id": 1202,
            }
        },
    }


def test_sysmon(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows = parsed[0]
    assert rows[5] == SYSMON | {
        "record": 5,
        "@timestamp": datetime(2015, 9, 9, 2, 31, 7, 117000, tzinfo=UTC),  # UtcTime
        "event.code": "1",
        "event.action": "process-created",
        "event.category": "process",
        "winlog.logon.id": "0x2b1c4",
        "process.command_line": '"C:\\Users\\tanaka\\AppData\\Local\\Temp\\a1b2.exe" -k',
        "process.parent.pid": 2544,
        "process.parent.executable": "C:\\Program Files\\Internet Explorer\\iexplore.exe",
        "process.hash": "SHA1=0000000000000000000000000000000000000001,"
        "MD5=00000000000000000000000000000002",
        "extra": rows[5]["extra"],
    }
    assert rows[6] == SYSMON | {
        "record": 6,
        "@timestamp": datetime(2015, 9, 9, 2, 31, 8, 950000, tzinfo=UTC),
        "event.code": "3",
        "event.action": "network-connection",
        "event.category": "network",
        "source.ip": "192.0.2.41",
        "source.port": 49822,
        "destination.ip": "203.0.113.80",
        "destination.port": 443,
        "destination.domain": "c2.example.net",
        "network.transport": "tcp",
        "extra": rows[6]["extra"],
    }
    assert rows[7] == SYSMON | {
        "record": 7,
        "@timestamp": datetime(2015, 9, 9, 2, 31, 8, 880000, tzinfo=UTC),
        "event.code": "22",
        "event.action": "dns-query",
        "event.category": "network",
        "network.protocol": "dns",
        "dns.question.name": "c2.example.net",
        "dns.answers": "::ffff:203.0.113.80;",
        "extra": rows[7]["extra"],
    }
    file_row = {k: v for k, v in SYSMON.items() if not k.startswith("user.")}
    assert rows[8] == file_row | {
        "record": 8,
        "@timestamp": datetime(2015, 9, 9, 2, 32, 59, 990000, tzinfo=UTC),
        "event.code": "11",
        "event.action": "file-created",
        "event.category": "file",
        "file.path": "C:\\Users\\tanaka\\Documents\\HELP_DECRYPT.HTML",
        "file.name": "HELP_DECRYPT.HTML",
        "file.extension": "html",
        "file.directory": "C:\\Users\\tanaka\\Documents",
        "extra": rows[8]["extra"],
    }


def test_defender_and_kerberos(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows = parsed[0]
    assert rows[9] == PC | {
        "record": 9,
        "@timestamp": datetime(2015, 9, 9, 2, 34, tzinfo=UTC),
        "event.dataset": "windows.defender",
        "event.provider": "Microsoft-Windows-Windows Defender",
        "event.code": "1116",
        "event.action": "malware-detected",
        "event.category": "malware",
        "event.severity": 3,
        "rule.name": "Ransom:Win32/Crowti.A",
        "rule.id": "2147519003",
        "rule.category": "Ransomware",
        "file.path": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\a1b2.exe",
        "file.name": "a1b2.exe",
        "file.extension": "exe",
        "file.directory": "C:\\Users\\tanaka\\AppData\\Local\\Temp",
        "process.executable": "C:\\Windows\\explorer.exe",
        "process.name": "explorer.exe",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "observer.type": "antivirus",
        "observer.vendor": "Microsoft",
        "observer.name": "Windows Defender",
        "evidence_id": "test",
        "extra": rows[9]["extra"],
    }
    assert rows[10]["source.ip"] == "192.0.2.41"
    assert rows[10]["user.name"] == "tanaka"
    assert rows[10]["user.domain"] == "CORP.EXAMPLE.JP"


def test_xmltodict_line(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    row = parsed[0][11]
    assert row["@timestamp"] == datetime(2015, 9, 9, 2, 52, 14, 120000, tzinfo=UTC)
    assert row["event.code"] == "5145"
    assert row["file.path"] == "営業\\見積\\HELP_DECRYPT.TXT"
    assert row["file.share"] == "\\\\*\\share"
    assert row["file.access_mask"] == 2
    assert row["winlog.logon.id"] == "0x3a7f12"
    assert row["extra"]["winlog"]["record_id"] == 9911021
    assert row["extra"]["winlog"]["process_id"] == 4


def test_sniff() -> None:
    assert FORMAT.sniff(bytes_sample(FIXTURE.read_bytes()))
    others = [p for p in DATA.rglob("*") if p.is_file() and p != FIXTURE]
    for path in others:
        assert not FORMAT.sniff(bytes_sample(path.read_bytes())), path
    suricata = b'{"timestamp":"2015-09-09T02:40:01Z","event_type":"dns"}\n'
    assert not FORMAT.sniff(bytes_sample(suricata))
    assert not FORMAT.sniff(bytes_sample(b"hello\n"))
    # a first line longer than the sample is judged by its start
    long = b'{"Event":{"System":{"EventID":1,"x":"' + b"a" * 70000 + b'"}}}\n'
    assert FORMAT.sniff(bytes_sample(long))


def test_odd_shapes_never_break_the_file(tmp_path: Path) -> None:
    """Vendor JSON is attacker-controlled: wrong types become nulls or rejects."""
    t = {"#attributes": {"SystemTime": "2015-09-09T02:40:01Z"}}
    events = [
        {"System": {"EventID": True, "Level": True, "TimeCreated": t,
                    "Security": {"#attributes": "x"}}},
        {"System": {"EventID": [1], "TimeCreated": t, "Execution": {"#attributes": [1]},
                    "Provider": {"#attributes": {"Name": 7}}}},
        {"System": {"EventID": 4624, "TimeCreated": t,
                    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}},
         "EventData": {"TargetUserName": ["a"], "LogonType": {"x": 1}, "IpAddress": 5}},
        {"System": {"EventID": 4624, "TimeCreated": {"#attributes": {"SystemTime": 5}}}},
        {"System": "not a dict"},
    ]  # fmt: skip
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(orjson.dumps({"Event": e}).decode() for e in events) + "\n")
    table, rejects = parse_file(FORMAT, path)
    rows = rows_by_record(table)
    assert sorted(rows) == [1, 2, 3]
    assert [r.record for r in rejects] == [4, 5]
    assert "event.code" not in rows[1] and "event.severity" not in rows[1]
    assert rows[2]["event.provider"] == "7"
    assert rows[3]["user.name"] == "['a']"
    assert "winlog.logon.type" not in rows[3] and "source.ip" not in rows[3]
