from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import DATA, bytes_sample, rows_by_record

from ashiato.evidence.encoding import detect
from ashiato.formats.base import SAMPLE_BYTES
from ashiato.formats.eventviewer_csv import FORMAT
from ashiato.formats.testing import parse_file

WIN = DATA / "windows"
CSV_FILES = ("eventviewer_ja.csv", "eventviewer_ja_bom.csv", "eventviewer_en.csv")


SECURITY = {
    "event.dataset": "windows.security",
    "event.provider": "Microsoft-Windows-Security-Auditing",
    "evidence_id": "test",
}
TANAKA = {
    "user.name": "tanaka",
    "user.domain": "CORP",
    "user.id": "S-1-5-21-1111-2222-3333-1104",
    "winlog.logon.id": "0x3A7F12",
}


@pytest.mark.parametrize("name", ["eventviewer_ja.csv", "eventviewer_ja_bom.csv"])
def test_japanese_export(name: str) -> None:
    encoding = detect((WIN / name).read_bytes()[:SAMPLE_BYTES])
    assert encoding == ("cp932" if name == "eventviewer_ja.csv" else "utf-8-sig")
    table, rejects = parse_file(FORMAT, WIN / name, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert sorted(rows) == [2, 31, 55, 78, 101]
    assert [(r.record, r.reason) for r in rejects] == [
        (100, "impossible date and time '2015/13/09 12:10:00'"),
        (107, "expected 6 fields, got 2"),
    ]
    assert rejects[1].raw.decode() == "成功の監査,2015/09/09 12:11:00\r\n"

    # New Logon block, not the Subject one; JST 11:40:01 = 02:40:01 UTC
    logon = rows[2]
    assert logon == SECURITY | TANAKA | {
        "record": 2,
        "@timestamp": datetime(2015, 9, 9, 2, 40, 1, tzinfo=UTC),
        "event.code": "4624",
        "event.action": "logon",
        "event.category": "authentication",
        "event.outcome": "success",
        "message": "アカウントが正常にログオンしました。",
        "winlog.logon.type": 3,
        "source.ip": "192.0.2.41",
        "source.port": 51302,
        "extra": logon["extra"],
    }
    assert logon["extra"]["workstation"] == "PC-TKY-0341"
    assert logon["extra"]["winlog"]["channel"] == "Security"
    assert logon["extra"]["winlog"]["task"] == "ログオン"
    assert logon["extra"]["winlog"]["event_data"]["SubjectUserName"] == "FS01$"

    share = rows[31]
    assert share == SECURITY | TANAKA | {
        "record": 31,
        "@timestamp": datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC),
        "event.code": "5145",
        "event.action": "file-share-access",
        "event.category": "file",
        "event.outcome": "success",
        "message": "ネットワーク共有オブジェクトに対して、必要なアクセスをクライアントに付与できる"
        "かどうかがチェックされました。",
        "network.protocol": "smb",
        "source.ip": "192.0.2.41",
        "source.port": 51302,
        "file.share": "\\\\*\\share",
        "file.path": "営業\\見積\\HELP_DECRYPT.TXT",
        "file.name": "HELP_DECRYPT.TXT",
        "file.extension": "txt",
        "file.directory": "営業\\見積",
        "file.access_mask": 2,
        "extra": share["extra"],
    }
    assert share["extra"]["file.local_path"] == "D:\\share\\営業\\見積\\HELP_DECRYPT.TXT"

    access = rows[55]
    assert access == SECURITY | TANAKA | {
        "record": 55,
        "@timestamp": datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC),
        "event.code": "4663",
        "event.action": "object-access",
        "event.category": "file",
        "event.outcome": "success",
        "message": "オブジェクトへのアクセスが試行されました。",
        "file.path": "D:\\share\\営業\\見積\\見積書.xlsx.encrypted",
        "file.name": "見積書.xlsx.encrypted",
        "file.extension": "encrypted",
        "file.directory": "D:\\share\\営業\\見積",
        "file.access_mask": 0x10000,
        "process.pid": 4,
        "extra": access["extra"],
    }

    proc = rows[78]
    assert proc == SECURITY | {
        "record": 78,
        "@timestamp": datetime(2015, 9, 9, 2, 31, 7, tzinfo=UTC),
        "event.code": "4688",
        "event.action": "process-created",
        "event.category": "process",
        "event.outcome": "success",
        "message": "新しいプロセスが作成されました。",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "user.id": "S-1-5-21-1111-2222-3333-1104",
        "winlog.logon.id": "0x2B1C4",
        "process.pid": 0xD4C,
        "process.executable": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\a1b2.exe",
        "process.name": "a1b2.exe",
        "process.command_line": '"C:\\Users\\tanaka\\AppData\\Local\\Temp\\a1b2.exe" -k',
        "process.parent.pid": 0x9F0,
        "process.parent.executable": "C:\\Program Files\\Internet Explorer\\iexplore.exe",
        "extra": proc["extra"],
    }

    cleared = rows[101]
    assert cleared == {
        "record": 101,
        "@timestamp": datetime(2015, 9, 9, 3, 10, tzinfo=UTC),
        "event.dataset": "windows.security",
        "event.provider": "Microsoft-Windows-Eventlog",
        "event.code": "1102",
        "event.action": "log-cleared",
        "event.category": "configuration",
        "event.outcome": "success",
        "message": "監査ログがクリアされました。",
        "user.name": "admin-sato",
        "user.domain": "CORP",
        "user.id": "S-1-5-21-1111-2222-3333-500",
        "winlog.logon.id": "0x5D2A11",
        "evidence_id": "test",
        "extra": {
            "winlog": {
                "channel": "Security",
                "task": "ログのクリア",
                "event_data": {
                    "SubjectUserSid": "S-1-5-21-1111-2222-3333-500",
                    "SubjectUserName": "admin-sato",
                    "SubjectDomainName": "CORP",
                    "SubjectLogonId": "0x5D2A11",
                },
            }
        },
    }


def test_english_export() -> None:
    table, rejects = parse_file(FORMAT, WIN / "eventviewer_en.csv", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert sorted(rows) == [2, 26, 46]
    assert [(r.record, r.reason) for r in rejects] == [(53, "Event ID is not a number: 'four'")]
    assert rows[2] == SECURITY | TANAKA | {
        "record": 2,
        "@timestamp": datetime(2015, 9, 9, 2, 40, 1, tzinfo=UTC),
        "event.code": "4624",
        "event.action": "logon",
        "event.category": "authentication",
        "event.severity": 4,
        "message": "An account was successfully logged on.",
        "winlog.logon.type": 3,
        "source.ip": "192.0.2.41",
        "source.port": 51302,
        "extra": rows[2]["extra"],
    }
    assert rows[26] == SECURITY | TANAKA | {
        "record": 26,
        "@timestamp": datetime(2015, 9, 9, 2, 40, 2, tzinfo=UTC),
        "event.code": "5140",
        "event.action": "share-session-opened",
        "event.category": "file",
        "event.severity": 4,
        "message": "A network share object was accessed.",
        "network.protocol": "smb",
        "source.ip": "192.0.2.41",
        "source.port": 51302,
        "file.share": "\\\\*\\share",
        "file.access_mask": 1,
        "extra": rows[26]["extra"],
    }
    # 12:35:10 PM JST
    assert rows[46] == {
        "record": 46,
        "@timestamp": datetime(2015, 9, 9, 3, 35, 10, tzinfo=UTC),
        "event.dataset": "windows.system",
        "event.provider": "Service Control Manager",
        "event.code": "7045",
        "event.action": "service-installed",
        "event.category": "configuration",
        "event.severity": 4,
        "message": "A service was installed in the system.",
        "process.executable": "C:\\Users\\Public\\svchost32.exe",
        "process.name": "svchost32.exe",
        "process.command_line": "C:\\Users\\Public\\svchost32.exe -s",
        "evidence_id": "test",
        "extra": {
            "winlog": {
                "channel": "System",
                "task": "None",
                "event_data": {
                    "ServiceName": "WinUpdSvc",
                    "ImagePath": "C:\\Users\\Public\\svchost32.exe -s",
                    "AccountName": "LocalSystem",
                },
            }
        },
    }


def test_sysmon_and_unknown_providers(tmp_path: Path) -> None:
    text = (
        "Level,Date and Time,Source,Event ID,Task Category\r\n"
        "Information,9/9/2015 2:31:07 AM,Microsoft-Windows-Sysmon,1,Process Create (rule: "
        'ProcessCreate),"Process Create:\r\nRuleName: -\r\nUtcTime: 2015-09-09 02:31:07.117\r\n'
        "ProcessId: 3404\r\nImage: C:\\Temp\\a.exe\r\nCommandLine: a.exe -k\r\n"
        'User: CORP\\tanaka\r\nParentProcessId: 2544\r\nParentImage: C:\\x\\iexplore.exe"\r\n'
        "Warning,9/9/2015 12:00:00 AM,Microsoft-Windows-DNS-Client,1014,(1014),Name resolution"
        " timed out.\r\n"
    )
    path = tmp_path / "sysmon.csv"
    path.write_text(text, encoding="utf-8")
    table, rejects = parse_file(FORMAT, path, tz="UTC")
    rows = rows_by_record(table)
    assert rejects == []
    sysmon = rows[2]
    assert sysmon["event.dataset"] == "windows.sysmon"
    assert sysmon["@timestamp"] == datetime(2015, 9, 9, 2, 31, 7, 117000, tzinfo=UTC)
    assert sysmon["process.pid"] == 3404
    assert sysmon["process.command_line"] == "a.exe -k"
    assert (sysmon["user.name"], sysmon["user.domain"]) == ("tanaka", "CORP")
    assert sysmon["process.parent.executable"] == "C:\\x\\iexplore.exe"
    other = rows[11]
    assert other["event.dataset"] == "windows.eventlog"  # channel unknown from a CSV
    assert other["@timestamp"] == datetime(2015, 9, 9, 0, 0, tzinfo=UTC)  # 12 AM
    assert other["event.severity"] == 3


def test_sniff() -> None:
    for name in CSV_FILES:
        assert FORMAT.sniff(bytes_sample((WIN / name).read_bytes())), name
    others = [p for p in DATA.rglob("*") if p.is_file() and p.name not in CSV_FILES]
    for path in others:
        assert not FORMAT.sniff(bytes_sample(path.read_bytes())), path
    assert not FORMAT.sniff(bytes_sample(b"Level,Date,Source\r\n"))
    utf16 = (WIN / "eventviewer_en.csv").read_text(encoding="utf-8").encode("utf-16")
    assert FORMAT.sniff(bytes_sample(utf16))


def test_oversized_field_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        "Level,Date and Time,Source,Event ID,Task Category\r\n"
        f'Information,9/9/2015 2:31:07 AM,X,1,None,"{"x" * 200_000}"\r\n'
        "Information,9/9/2015 2:31:08 AM,X,2,None,ok\r\n",
        encoding="utf-8",
    )
    # the limit is process-wide (other formats raise it); pin csv's default for this test
    old = csv.field_size_limit(131_072)
    try:
        table, rejects = parse_file(FORMAT, path)
    finally:
        csv.field_size_limit(old)
    assert [(r.record, r.reason.split(":")[0]) for r in rejects] == [(2, "unreadable CSV row")]
    assert table.column("record").to_pylist() == [3]
