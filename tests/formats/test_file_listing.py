from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import DATA, rows_by_record

from ashiato.formats.base import Sample
from ashiato.formats.file_listing import FORMAT, _parse_time
from ashiato.formats.testing import parse_file

LISTING = DATA / "file_listing"
LOSSY = "non-ASCII characters lost: '?' in the path (Export-Csv ASCII encoding)"


BASE = {"event.dataset": "file.listing", "event.category": "file", "evidence_id": "test"}


def _jst(y: int, mo: int, d: int, h: int, mi: int, s: int) -> datetime:
    """A wall-clock time in Japan, as the UTC instant it means."""
    return datetime(y, mo, d, h, mi, s, tzinfo=timezone(timedelta(hours=9))).astimezone(UTC)


def test_cp932_select_object_export() -> None:
    table, rejects = parse_file(FORMAT, LISTING / "listing_cp932.csv", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    # line 1 #TYPE, line 2 header, line 11 blank
    assert sorted(rows) == [3, 4, 5, 6, 7, 8, 12]
    assert [(r.record, r.reason) for r in rejects] == [
        (9, "expected 6 fields, got 2"),
        (10, "unreadable time '2015/13/45 10:00:00'"),
    ]
    assert rejects[0].raw.decode("utf-8") == '"-a----","D:\\share\\経理\\short row"'
    assert rows[6] == BASE | {
        "record": 6,
        # naive JST 2015/09/09 11:52:14 is 02:52:14 UTC
        "@timestamp": datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC),
        "event.action": "file-listed",
        "file.path": "D:\\share\\営業\\見積\\HELP_DECRYPT.TXT",
        "file.name": "HELP_DECRYPT.TXT",
        "file.extension": "txt",
        "file.directory": "D:\\share\\営業\\見積",
        "file.size": 2301,
        "file.created": _jst(2015, 9, 9, 11, 52, 14),
        "file.mtime": _jst(2015, 9, 9, 11, 52, 14),
        "file.owner": "CORP\\tanaka",
        "user.domain": "CORP",
        "user.name": "tanaka",
        "extra": {"Mode": "-a----"},
    }
    assert rows[3] == BASE | {
        "record": 3,
        "@timestamp": _jst(2015, 9, 9, 11, 52, 14),
        "event.action": "directory",
        "file.path": "D:\\share\\営業",
        "file.name": "営業",
        "file.directory": "D:\\share",
        "file.created": _jst(2012, 4, 1, 9, 0, 0),
        "file.mtime": _jst(2015, 9, 9, 11, 52, 14),
        "file.owner": "BUILTIN\\Administrators",
        "user.domain": "BUILTIN",
        "user.name": "Administrators",
        "extra": {"Mode": "d-----"},
    }
    paths = [rows[r]["file.path"] for r in sorted(rows)]
    assert paths == [
        "D:\\share\\営業",
        "D:\\share\\営業\\見積",
        "D:\\share\\営業\\見積\\見積書_2015.xlsx.encrypted",
        "D:\\share\\営業\\見積\\HELP_DECRYPT.TXT",
        "D:\\share\\経理\\HELP_DECRYPT.TXT",
        "D:\\share\\経理\\ソフト一覧表.xls",  # ソ ends in byte 0x5C: decoded before splitting
        "D:\\share\\経理\\月次報告.xlsx.encrypted",
    ]
    assert rows[8]["file.directory"] == "D:\\share\\経理"
    assert rows[8]["user.id"] == "S-1-5-21-1111-2222-3333-1104"
    assert "user.name" not in rows[8]


def test_get_acl_export_ascii_question_marks() -> None:
    table, rejects = parse_file(FORMAT, LISTING / "acl_ascii.csv", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    # AccessToString spans two lines (3-4) and three lines (6-8): records are start lines
    assert (sorted(rows), len(rejects)) == ([3, 5, 6], 0)
    assert rows[3] == BASE | {
        "record": 3,
        "event.action": "file-listed",
        "file.path": "D:\\share\\??\\??\\HELP_DECRYPT.TXT",
        "file.name": "HELP_DECRYPT.TXT",
        "file.extension": "txt",
        "file.directory": "D:\\share\\??\\??",
        "file.owner": "CORP\\tanaka",
        "user.domain": "CORP",
        "user.name": "tanaka",
        "extra": {
            "data_quality": LOSSY,
            "Group": "CORP\\Domain Users",
            "Sddl": "O:S-1-5-21-1111-2222-3333-1104G:DUD:AI(A;ID;FA;;;BA)(A;ID;0x1301bf;;;DU)",
            "AccessToString": "BUILTIN\\Administrators Allow  FullControl\r\n"
            "CORP\\Domain Users Allow  Modify, Synchronize",
            "AreAccessRulesProtected": "False",
            "AreAuditRulesProtected": "False",
            "AreAccessRulesCanonical": "True",
            "AreAuditRulesCanonical": "True",
        },
    }
    assert rows[5]["user.id"] == "S-1-5-21-1111-2222-3333-1104"
    assert rows[5]["extra"]["data_quality"] == LOSSY
    assert "data_quality" not in rows[6]["extra"]
    assert rows[6]["extra"]["AccessToString"].count("\r\n") == 2


def test_utf16_en_us_name_and_directoryname() -> None:
    table, rejects = parse_file(FORMAT, LISTING / "listing_en-US_utf16.csv", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert (sorted(rows), len(rejects)) == ([2, 3, 4], 0)
    assert rows[4] == BASE | {
        "record": 4,
        "@timestamp": _jst(2010, 11, 20, 21, 29, 0),  # 9:29:00 PM
        "event.action": "file-listed",
        "file.path": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\svch0st.exe",
        "file.name": "svch0st.exe",
        "file.extension": "exe",
        "file.directory": "C:\\Users\\tanaka\\AppData\\Local\\Temp",
        "file.size": 98304,
        "file.mtime": _jst(2010, 11, 20, 21, 29, 0),
        "extra": {"LastAccessTime": "9/9/2015 12:00:01 AM", "Attributes": "Archive"},
    }
    assert rows[2]["event.action"] == "directory"  # Attributes: Directory


def test_ps7_full_object_prefers_utc_columns() -> None:
    # the *Utc columns are UTC whatever zone the case assumes
    table, rejects = parse_file(FORMAT, LISTING / "listing_ps7_utf8bom.csv", tz="America/New_York")
    rows = rows_by_record(table)
    assert (sorted(rows), len(rejects)) == ([2, 3], 0)
    assert rows[3] == BASE | {
        "record": 3,
        "@timestamp": datetime(2015, 9, 9, 2, 53, 2, tzinfo=UTC),
        "event.action": "file-listed",
        "file.path": "D:\\share\\経理\\HELP_DECRYPT.TXT",
        "file.name": "HELP_DECRYPT.TXT",
        "file.extension": "txt",
        "file.directory": "D:\\share\\経理",
        "file.size": 2301,
        "file.created": datetime(2015, 9, 9, 2, 53, 2, tzinfo=UTC),
        "file.mtime": datetime(2015, 9, 9, 2, 53, 2, tzinfo=UTC),
        "extra": {
            "PSIsContainer": "False",
            "Mode": "-a---",
            "LastAccessTimeUtc": "09/09/2015 02:53:02",
            "Attributes": "Archive",
            "IsReadOnly": "False",
        },
    }
    assert rows[2]["event.action"] == "directory"
    assert rows[2]["file.created"] == datetime(2012, 4, 1, tzinfo=UTC)  # 01/04/2012 day first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015/09/09 11:52:14", datetime(2015, 9, 9, 11, 52, 14)),  # ja-JP
        ("2015/9/9 9:05:00", datetime(2015, 9, 9, 9, 5, 0)),
        ("9/9/2015 11:52:14 AM", datetime(2015, 9, 9, 11, 52, 14)),  # en-US
        ("9/10/2015 11:52:14 PM", datetime(2015, 9, 10, 23, 52, 14)),  # month first
        ("9/10/2015 12:00:01 AM", datetime(2015, 9, 10, 0, 0, 1)),
        ("9/10/2015 12:00:01 PM", datetime(2015, 9, 10, 12, 0, 1)),
        ("2015-09-09 11:52:14", datetime(2015, 9, 9, 11, 52, 14)),
        ("2015-09-09T11:52:14.1234567", datetime(2015, 9, 9, 11, 52, 14, 123456)),
        ("09.10.2015 11:52:14", datetime(2015, 10, 9, 11, 52, 14)),  # de-DE: day first
        ("09/10/2015 23:52:14", datetime(2015, 10, 9, 23, 52, 14)),  # en-GB: day first
        ("09/13/2015 23:52:14", datetime(2015, 9, 13, 23, 52, 14)),  # only month first fits
        ("2015/09/09 午後 1:52:14", datetime(2015, 9, 9, 13, 52, 14)),
        (
            "2015-09-09T11:52:14.5+09:00",
            datetime(2015, 9, 9, 11, 52, 14, 500000, tzinfo=timezone(timedelta(hours=9))),
        ),
        ("2015/13/45 10:00:00", None),
        ("yesterday", None),
    ],
)
def test_time_formats(text: str, expected: datetime | None) -> None:
    assert _parse_time(text) == expected


def test_month_first_option(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text('"FullName","LastWriteTime"\n"C:\\a.txt","09/10/2015 23:52:14"\n')
    table, _ = parse_file(FORMAT, path, dayfirst=False)
    assert table.column("@timestamp")[0].as_py() == datetime(2015, 9, 10, 23, 52, 14, tzinfo=UTC)


def _sample(path: Path) -> Sample:
    from ashiato.evidence.encoding import detect

    head = path.read_bytes()[:65536]
    enc = detect(head) or "latin-1"
    return Sample(head=head, text=head.decode(enc, "replace"), name=path.name)


def test_sniff() -> None:
    for path in LISTING.iterdir():
        assert FORMAT.sniff(_sample(path)), path
    others = [p for p in DATA.rglob("*") if p.is_file() and "file_listing" not in p.parts]
    for path in others:
        assert not FORMAT.sniff(_sample(path)), path
    plain = b"hello\nworld\n"
    assert not FORMAT.sniff(Sample(plain, plain.decode(), "x.txt"))
    unrelated = b'"Name","Department"\n"tanaka","sales"\n'
    assert not FORMAT.sniff(Sample(unrelated, unrelated.decode(), "staff.csv"))
