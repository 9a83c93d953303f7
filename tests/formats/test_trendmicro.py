from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import DATA, rows_by_record, sample_of

from ashiato.formats.testing import parse_file
from ashiato.formats.trendmicro import FORMAT, normalise_action

TREND = DATA / "trendmicro"

BASE = {
    "event.dataset": "trendmicro.av",
    "event.category": "malware",
    "observer.type": "antivirus",
    "observer.vendor": "trendmicro",
    "evidence_id": "test",
}


def test_japanese_cp932_export() -> None:
    table, rejects = parse_file(FORMAT, TREND / "virus_log_ja.csv", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert sorted(rows) == [2, 3, 4, 5, 6]
    assert [(r.record, r.reason) for r in rejects] == [
        (7, "expected 8 fields (as in the header), got 6"),
        (8, "can't read the time in column '日時': '2015/99/09 12:25:00'"),
    ]
    assert rejects[0].raw.decode().startswith("2015/09/09 12:20:00,PC-TKY-0341,営業部,")
    # 11:46:30 JST is 02:46:30 UTC
    assert rows[2] == BASE | {
        "record": 2,
        "@timestamp": datetime(2015, 9, 9, 2, 46, 30, tzinfo=UTC),
        "event.action": "隔離",
        "event.outcome": "success",
        "host.hostname": "PC-TKY-0341",
        "host.name": "pc-tky-0341",
        "host.ip": "10.20.3.41",
        "rule.name": "RANSOM_CRYPWALL.EXAMPLE",
        "file.path": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\x9k2.tmp",
        "file.name": "x9k2.tmp",
        "file.extension": "tmp",
        "file.directory": "C:\\Users\\tanaka\\AppData\\Local\\Temp",
        "extra": {
            "trendmicro.action_en": "quarantined",
            "trendmicro.scan_type": "リアルタイム検索",
            "trendmicro.scan_type_en": "real-time",
            "trendmicro.domain": "営業部",
        },
    }
    # a failed clean followed by quarantine: the second action is what happened
    assert rows[5]["event.action"] == "駆除できません。隔離"
    assert rows[5]["extra"]["trendmicro.action_en"] == "quarantined"
    assert rows[5]["file.name"] == "請求書.pdf.js"
    # a quoted path with a comma, and the other documented results
    assert rows[4]["file.path"] == "C:\\Users\\sato\\Downloads\\請求書,0909.zip"
    assert rows[4]["extra"]["trendmicro.action_en"] == "cleaned"
    assert rows[3]["extra"]["trendmicro.action_en"] == "deleted"
    assert rows[3]["file.path"] == "\\\\FS01\\share\\営業\\HELP_DECRYPT.HTML"
    assert rows[6]["extra"]["trendmicro.action_en"] == "access-denied"
    assert rows[6]["extra"]["trendmicro.scan_type_en"] == "scheduled"


def test_english_apex_central_export() -> None:
    table, rejects = parse_file(FORMAT, TREND / "virus_log_en.csv", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert sorted(rows) == [2, 3, 4]
    assert rejects == []
    # generated time wins; the received time stays in extra; the folder path and the
    # file name are joined; DOMAIN\user is split
    assert rows[2] == BASE | {
        "record": 2,
        "@timestamp": datetime(2015, 9, 9, 2, 46, 30, tzinfo=UTC),
        "event.action": "file quarantined",
        "event.outcome": "success",
        "host.hostname": "PC-TKY-0341",
        "host.name": "pc-tky-0341",
        "host.ip": "10.20.3.41",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "rule.name": "RANSOM_CRYPWALL.EXAMPLE",
        "file.path": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\x9k2.tmp",
        "file.name": "x9k2.tmp",
        "file.extension": "tmp",
        "file.directory": "C:\\Users\\tanaka\\AppData\\Local\\Temp",
        "extra": {
            "Received": "2015-09-09 11:47:02",
            "trendmicro.action_en": "quarantined",
            "trendmicro.scan_type": "Real-time Scan",
            "trendmicro.scan_type_en": "real-time",
            "trendmicro.domain": "Sales",
        },
    }
    # no generated time: the received time is used; the archive member name is kept
    assert rows[3]["@timestamp"] == datetime(2015, 9, 11, 23, 0, tzinfo=UTC)
    assert "Received" not in rows[3]["extra"]
    assert rows[3]["file.path"] == "C:\\Users\\sato\\Downloads\\invoice.zip"
    assert rows[3]["extra"]["trendmicro.file"] == "invoice.exe"
    assert rows[3]["extra"]["trendmicro.action_en"] == "quarantined"
    # "Passed": nothing was done; N/A user is no user
    assert rows[4]["event.outcome"] == "unknown"
    assert rows[4]["extra"]["trendmicro.action_en"] == "passed"
    assert rows[4]["file.path"] == "\\\\FS01\\share\\sales\\HELP_DECRYPT.HTML"
    assert "user.name" not in rows[4]


def test_spyware_log_utf16() -> None:
    table, rejects = parse_file(FORMAT, TREND / "spyware_ja.csv", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert rejects == []
    assert rows == {
        2: BASE
        | {
            "record": 2,
            "@timestamp": datetime(2015, 9, 8, 0, 15, 11, tzinfo=UTC),
            "event.action": "処理不要",
            "event.outcome": "unknown",
            "host.hostname": "PC-TKY-0341",
            "host.name": "pc-tky-0341",
            "host.ip": "10.20.3.41",
            "host.mac": "00-00-5E-00-53-01",
            "rule.name": "ADW_OPENCANDY.EXAMPLE",
            "message": "詳細の表示",
            "extra": {
                "trendmicro.action_en": "passed",
                "trendmicro.scan_type": "リアルタイム検索",
                "trendmicro.scan_type_en": "real-time",
            },
        }
    }


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("削除", ("deleted", "success")),
        ("隔離", ("quarantined", "success")),
        ("駆除済み", ("cleaned", "success")),
        ("拡張子変更", ("renamed", "success")),
        ("アクセス拒否", ("access-denied", "success")),
        ("放置", ("passed", "unknown")),
        ("処理不要", ("passed", "unknown")),
        ("隔離できません", ("quarantine-failed", "failure")),
        ("駆除できません。削除", ("deleted", "success")),
        ("Unable to clean file. File quarantined.", ("quarantined", "success")),
        ("Unable to quarantine file", ("quarantine-failed", "failure")),
        ("Deleted", ("deleted", "success")),
        ("再起動が必要です", (None, "unknown")),
    ],
)
def test_normalise_action(result: str, expected: tuple[str | None, str]) -> None:
    assert normalise_action(result) == expected


def test_lab_header_reads_without_rejects(tmp_path: Path) -> None:
    header = (
        "日時,エンドポイント,ドメイン,セキュリティ上の脅威,ファイルパス,検索の種類,結果,IPアドレス"
    )
    try:
        from ashiato.lab.writers.trendmicro import HEADER
    except ImportError:
        HEADER = header
    assert header == HEADER
    path = tmp_path / "virus_log.csv"
    body = (
        "2015/09/09 11:46:30,PC-TKY-0341,営業部,RANSOM_CRYPWALL.EXAMPLE,C:\\x.tmp,"
        "リアルタイム検索,隔離,10.20.3.41"
    )
    path.write_bytes(f"{HEADER}\r\n{body}\r\n".encode("cp932"))
    assert FORMAT.sniff(sample_of(path))
    table, rejects = parse_file(FORMAT, path, tz="Asia/Tokyo")
    assert (table.num_rows, rejects) == (1, [])


def test_sniff_accepts_trend_exports() -> None:
    for name in ("virus_log_ja.csv", "virus_log_en.csv", "spyware_ja.csv"):
        assert FORMAT.sniff(sample_of(TREND / name)), name


def test_sniff_rejects_other_files(tmp_path: Path) -> None:
    others = [p for p in DATA.rglob("*") if p.is_file() and p.parent.name != "trendmicro"]
    assert others
    for path in others:
        assert not FORMAT.sniff(sample_of(path)), path
    text = tmp_path / "notes.txt"
    text.write_text("日時とセキュリティ上の脅威について, 説明します\n二行目\n", "utf-8")
    assert not FORMAT.sniff(sample_of(text))


def test_sniff_wants_a_trend_threat_column(tmp_path: Path) -> None:
    generic = tmp_path / "ecs.csv"
    generic.write_text("@timestamp,rule.name,host.name\n2015-09-09T00:00:00Z,EICAR,pc1\n", "utf-8")
    assert not FORMAT.sniff(sample_of(generic))
    no_threat = tmp_path / "no_threat.csv"
    no_threat.write_text("日時,エンドポイント,結果\n2015/09/09 11:46:30,PC1,隔離\n", "utf-8")
    assert not FORMAT.sniff(sample_of(no_threat))
