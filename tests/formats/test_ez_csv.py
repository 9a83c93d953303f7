from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import (
    DATA,
    assert_claims_nothing_in_the_public_corpus,
    rows_in_order,
    sample_of,
)

from ashiato.formats import registry
from ashiato.formats.base import Sample
from ashiato.formats.ez_csv import FORMAT, parse_time
from ashiato.formats.testing import parse_file

EZ = DATA / "ez_csv"
VOL = "\\VOLUME{01d0a1b2c3d4e5f6-4a3b2c1d}"
IE_DIR = VOL + (
    "\\USERS\\TANAKA\\APPDATA\\LOCAL\\MICROSOFT\\WINDOWS\\TEMPORARY INTERNET FILES"
    "\\CONTENT.IE5\\AB12CD34"
)
IE = IE_DIR + "\\X9K2.TMP"
KAPE = "E:\\KAPE\\PC-TKY-0341\\C\\Windows"


def _t(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def test_pecmd_one_event_per_run_time() -> None:
    table, rejects = parse_file(FORMAT, EZ / "20150910031500_PECmd_Output.csv", tz="Asia/Tokyo")
    rows = rows_in_order(table)
    assert len(rows) == 4  # 3 runs of X9K2.TMP + 1 of CMD.EXE
    assert [(r.record, r.reason) for r in rejects] == [
        (4, "can't read the time in column 'LastRun': '2015-13-09 02:00:00'"),
        (5, "expected 27 fields (as in the header), got 3"),
        (6, "no run time in LastRun/PreviousRun0-6 (PECmd could not parse this prefetch file)"),
    ]
    assert rejects[1].raw == b"short,row,only"
    # times are UTC whatever the source zone: the EZ tools convert
    assert rows[0] == {
        "@timestamp": _t(2015, 9, 9, 2, 51, 50),
        "event.dataset": "windows.prefetch",
        "event.provider": "prefetch",
        "event.category": "process",
        "event.action": "program-executed",
        "message": "X9K2.TMP executed (prefetch run 1 of 3 recorded, run count 3)",
        "process.name": "X9K2.TMP",
        "process.executable": IE,
        "file.path": IE,
        "file.name": "X9K2.TMP",
        "file.extension": "tmp",
        "file.directory": IE_DIR,
        "extra": {
            "run_count": 3,
            "run_index": 1,
            "prefetch_hash": "5C1E2F3A",
            "prefetch_file": KAPE + "\\prefetch\\X9K2.TMP-5C1E2F3A.pf",
            "prefetch_version": "Windows 8.0, Windows 8.1, or Windows Server 2012(R2)",
            "prefetch_created": "2015-09-09T02:45:19+00:00",
            "volume_name": VOL,
            "volume_serial": "4A3B2C1D",
            "volume_created": "2014-04-01T00:12:30+00:00",
        },
        "evidence_id": "test",
        "record": 2,
    }
    assert [(r["@timestamp"], r["extra"]["run_index"]) for r in rows[:3]] == [
        (_t(2015, 9, 9, 2, 51, 50), 1), (_t(2015, 9, 9, 2, 47, 2), 2),
        (_t(2015, 9, 9, 2, 45, 9), 3),
    ]  # fmt: skip
    cmd = rows[3]
    assert cmd["@timestamp"] == datetime(2015, 9, 9, 2, 54, 58, 123456, tzinfo=UTC)
    assert cmd["process.executable"] == "\\DEVICE\\HARDDISKVOLUME2\\WINDOWS\\SYSTEM32\\CMD.EXE"
    assert cmd["extra"]["run_count"] == 57
    assert cmd["record"] == 3


def test_pecmd_timeline() -> None:
    table, rejects = parse_file(FORMAT, EZ / "20150910031500_PECmd_Output_Timeline.csv")
    rows = rows_in_order(table)
    assert [(r.record, r.reason) for r in rejects] == [(4, "no time in column 'RunTime'")]
    assert len(rows) == 2
    assert rows[0] == {
        "@timestamp": _t(2015, 9, 9, 2, 51, 50),
        "event.dataset": "windows.prefetch",
        "event.provider": "prefetch",
        "event.category": "process",
        "event.action": "program-executed",
        "message": "X9K2.TMP executed (prefetch timeline)",
        "process.name": "X9K2.TMP",
        "process.executable": IE,
        "file.path": IE,
        "file.name": "X9K2.TMP",
        "file.extension": "tmp",
        "file.directory": IE_DIR,
        "evidence_id": "test",
        "record": 2,
    }


AM_IE = ("c:\\users\\tanaka\\appdata\\local\\microsoft\\windows\\temporary internet files"
         "\\content.ie5\\ab12cd34\\x9k2.tmp")  # fmt: skip
SHA1 = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def test_amcache_file_entries_windows10() -> None:
    table, rejects = parse_file(FORMAT, EZ / "20150910031500_Amcache_UnassociatedFileEntries.csv")
    rows = rows_in_order(table)
    assert len(rows) == 2
    assert [(r.record, r.reason) for r in rejects] == [
        (4, "no time in column 'FileKeyLastWriteTimestamp'")
    ]
    assert rows[0] == {
        "@timestamp": datetime(2015, 9, 9, 2, 45, 10, 555123, tzinfo=UTC),
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "event.category": "process",
        "event.action": "program-executed",
        "message": f"x9k2.tmp recorded in Amcache ({AM_IE})",
        "process.name": "x9k2.tmp",
        "process.executable": AM_IE,
        "file.path": AM_IE,
        "file.name": "x9k2.tmp",
        "file.extension": "tmp",
        "file.directory": AM_IE.rsplit("\\", 1)[0],
        "file.size": 231424,
        "file.hash": f"SHA1={SHA1}",
        "extra": {
            "time_meaning": "Amcache key last write: when Windows recorded the file, "
            "usually its first run",
            "ApplicationName": "Unassociated",
            "ProgramId": "0000f1e2d3c4b5a6978800000000000000000000",
            "IsOsComponent": "False",
            "FileExtension": ".tmp",
            "LinkDate": "2015-09-01T11:22:33+00:00",
            "LongPathHash": "x9k2.tmp|5a6b7c8d",
            "BinaryType": "pe32_i386",
            "IsPeFile": "True",
            "Usn": "48211200",
            "Language": "0",
        },
        "evidence_id": "test",
        "record": 2,
    }
    assert rows[1]["file.path"] == "d:\\share\\営業\\見積\\請求書.pdf.exe"
    assert rows[1]["process.name"] == "請求書.pdf.exe"
    assert "file.hash" not in rows[1]


def test_amcache_old_layout_tab_separated() -> None:
    path = EZ / "20150910031500_Amcache_Unassociated file entries.tsv"
    table, rejects = parse_file(FORMAT, path)
    assert rejects == []
    (row,) = rows_in_order(table)
    exe = "C:\\Users\\tanaka\\AppData\\Local\\Temp\\Low\\x9k2.exe"
    assert {k: v for k, v in row.items() if k != "extra"} == {
        "@timestamp": _t(2015, 9, 9, 2, 45, 11),
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "event.category": "process",
        "event.action": "program-executed",
        "message": f"x9k2.exe recorded in Amcache ({exe})",
        "process.name": "x9k2.exe",
        "process.executable": exe,
        "file.path": exe,
        "file.name": "x9k2.exe",
        "file.extension": "exe",
        "file.directory": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\Low",
        "file.size": 231424,
        "file.created": _t(2015, 9, 9, 2, 45, 8),
        "file.mtime": _t(2015, 9, 9, 2, 45, 8),
        "file.hash": f"SHA1={SHA1}",
        "evidence_id": "test",
        "record": 2,
    }
    assert row["extra"]["MFTEntryNumber"] == "51002"
    assert row["extra"]["VolumeIDLastWriteTimestamp"] == "2015-09-09T02:40:00+00:00"


def test_amcache_program_entries() -> None:
    table, rejects = parse_file(FORMAT, EZ / "20150910031500_Amcache_ProgramEntries.csv")
    assert rejects == []
    (row,) = rows_in_order(table)
    assert {k: v for k, v in row.items() if k != "extra"} == {
        "@timestamp": _t(2015, 7, 15, 1, 2, 3),
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "event.category": "package",
        "event.action": "program-installed",
        "message": "program installed: Adobe Flash Player 18 ActiveX 18.0.0.203 "
        "(Adobe Systems Incorporated)",
        "evidence_id": "test",
        "record": 2,
    }
    assert row["extra"]["time_meaning"] == "install date"
    assert row["extra"]["RootDirPath"] == "C:\\Windows\\SysWOW64\\Macromed\\Flash"


def test_shimcache() -> None:
    table, rejects = parse_file(FORMAT, EZ / "AppCompatCache.csv")
    rows = rows_in_order(table)
    assert len(rows) == 2
    assert [(r.record, r.reason) for r in rejects] == [
        (4, "no time in column 'LastModifiedTimeUTC'")
    ]
    ie = ("C:\\Users\\tanaka\\AppData\\Local\\Microsoft\\Windows\\Temporary Internet Files"
          "\\Content.IE5\\AB12CD34\\x9k2.tmp")  # fmt: skip
    assert rows[0] == {
        "@timestamp": _t(2015, 9, 9, 2, 45, 8),
        "event.dataset": "windows.shimcache",
        "event.provider": "shimcache",
        "event.category": "process",
        "event.action": "program-executed",
        "message": "x9k2.tmp in the ShimCache (executed flag set)",
        "process.name": "x9k2.tmp",
        "process.executable": ie,
        "file.path": ie,
        "file.name": "x9k2.tmp",
        "file.extension": "tmp",
        "file.directory": ie.rsplit("\\", 1)[0],
        "file.mtime": _t(2015, 9, 9, 2, 45, 8),
        "extra": {
            "time_meaning": "file last modified (ShimCache), not the execution time",
            "executed": "Yes",
            "cache_entry_position": 0,
            "control_set": 1,
            "source_file": KAPE + "\\System32\\config\\SYSTEM",
        },
        "evidence_id": "test",
        "record": 2,
    }
    # no executed flag: present on the disk, not proven to have run
    assert rows[1]["event.action"] == "program-seen"
    assert rows[1]["@timestamp"] == _t(2013, 8, 22, 11, 43, 42)


def test_parse_time() -> None:
    assert parse_time("") is None
    assert parse_time("2015-09-09 02:45:10.5551234") == datetime(
        2015, 9, 9, 2, 45, 10, 555123, tzinfo=UTC
    )
    assert parse_time("2015/09/09 11:45") == _t(2015, 9, 9, 11, 45)  # re-saved by Excel
    assert parse_time("2015-09-09T11:45:10+09:00") == _t(2015, 9, 9, 2, 45, 10)
    with pytest.raises(ValueError):
        parse_time("09/09/2015 02:45:10")


def test_sniff_mine_and_not_others() -> None:
    mine = sorted(EZ.iterdir())
    assert len(mine) == 6
    for path in mine:
        s = sample_of(path)
        assert FORMAT.sniff(s), path
        assert registry.sniff(s) is FORMAT, path  # no format before it takes them
    for path in sorted(DATA.rglob("*")):
        if path.is_file() and path.parent != EZ:
            assert not FORMAT.sniff(sample_of(path)), path
    assert not FORMAT.sniff(Sample(b"a,b\n1,2\n", "a,b\n1,2\n", "x.csv"))


@pytest.mark.corpus
def test_sniff_claims_nothing_in_the_public_corpus() -> None:
    assert_claims_nothing_in_the_public_corpus(FORMAT)
