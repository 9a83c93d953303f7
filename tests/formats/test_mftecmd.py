from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
from helpers import DATA, rows_by_record

from ashiato.formats.base import Sample
from ashiato.formats.mftecmd import FORMAT
from ashiato.formats.testing import parse_file

MFT = DATA / "mftecmd"
MAIN = MFT / "20150910_MFTECmd_$MFT_Output.csv"
T1 = datetime(2015, 9, 9, 2, 52, 14, 120112, tzinfo=UTC)  # .1201122: 7th digit dropped
T2 = datetime(2015, 9, 9, 2, 45, 8, 12000, tzinfo=UTC)


BASE = {"event.dataset": "windows.mft", "event.category": "file", "evidence_id": "test"}


def test_main_export() -> None:
    # times are UTC whatever zone the case assumes
    table, rejects = parse_file(FORMAT, MAIN, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    # line 11 is blank; the ADS row's quoted ZoneIdContents spans lines 6-10
    assert sorted(rows) == [2, 3, 4, 5, 6, 12, 15]
    assert [(r.record, r.reason) for r in rejects] == [
        (13, "expected 33 fields, got 7"),
        (14, "unreadable Created0x10 '09/09/2015 02:52' (expected yyyy-MM-dd HH:mm:ss.fffffff)"),
    ]
    assert rejects[0].raw.decode().startswith("88200,3,True,7712,5,.\\share\\営業\\見積,")
    assert rows[4] == BASE | {
        "record": 4,
        "@timestamp": T1,
        "event.action": "file-listed",
        "file.path": ".\\share\\営業\\見積\\HELP_DECRYPT.TXT",
        "file.name": "HELP_DECRYPT.TXT",
        "file.extension": "txt",
        "file.directory": ".\\share\\営業\\見積",
        "file.size": 2301,
        "file.created": T1,
        "file.mtime": T1,
        "extra": {
            "EntryNumber": 88121,
            "SequenceNumber": 3,
            "InUse": True,
            "ParentEntryNumber": 7712,
            "ParentSequenceNumber": 5,
            "ReferenceCount": 1,
            "SiFlags": "Archive",
            "NameType": "Windows",
            "Created0x30": "2015-09-09 02:52:14.1201122",
            "LastRecordChange0x10": "2015-09-09 02:52:14.1201122",
            "LastAccess0x10": "2015-09-09 02:52:14.1201122",
            "UpdateSequenceNumber": 451230012,
            "LogfileSequenceNumber": 88120011,
            "SecurityId": 1422,
        },
    }


def test_directory_ads_and_deleted_entries() -> None:
    rows = rows_by_record(parse_file(FORMAT, MAIN)[0])
    assert rows[2]["file.path"] == ".\\$MFT"
    assert rows[3]["event.action"] == "directory"
    assert rows[3]["extra"]["IsDirectory"] is True
    assert rows[3]["@timestamp"] == datetime(2014, 4, 1, tzinfo=UTC)
    assert rows[3]["file.mtime"] == T1
    assert rows[5]["extra"]["HasAds"] is True
    ads = rows[6]
    assert ads == BASE | {
        "record": 6,
        "@timestamp": T2,
        "event.action": "alternate-data-stream",
        "file.path": ".\\Users\\tanaka\\AppData\\Local\\Temp\\x9k2.tmp:Zone.Identifier",
        "file.name": "x9k2.tmp:Zone.Identifier",
        "file.extension": "identifier",
        "file.directory": ".\\Users\\tanaka\\AppData\\Local\\Temp",
        "file.size": 121,
        "file.created": T2,
        "file.mtime": T2,
        "extra": ads["extra"],
    }
    assert ads["extra"]["IsAds"] is True
    assert ads["extra"]["ZoneIdContents"] == (
        "[ZoneTransfer]\r\nZoneId=3\r\n"
        "ReferrerUrl=C:\\Users\\tanaka\\Downloads\\invoice_0908.zip\r\n"
        'HostUrl="http://qzx7.redirect.example/9fkd0"\r\n'
    )
    stomped = rows[12]
    assert stomped["@timestamp"] == datetime(2010, 11, 20, 21, 29, tzinfo=UTC)
    assert stomped["extra"]["InUse"] is False  # deleted entry: always written
    assert stomped["extra"]["SI<FN"] is True
    assert stomped["extra"]["uSecZeros"] is True
    assert stomped["extra"]["Created0x30"] == "2015-09-09 02:45:09.5550000"
    assert "Copied" not in stomped["extra"]  # false flags are left out
    odd = rows[15]
    assert odd["file.path"] == '.\\share\\経理\\月次報告, "最終".xlsx.encrypted'
    assert odd["@timestamp"] == datetime(2015, 9, 9, 2, 52, 15, tzinfo=UTC)


def test_newer_build_maps_by_name() -> None:
    table, rejects = parse_file(FORMAT, MFT / "FS01_MFTECmd_$MFT_Output_new.csv")
    rows = rows_by_record(table)
    assert (len(rows), len(rejects)) == (1, 0)
    row = rows[2]
    assert row["file.path"] == ".\\share\\営業\\見積\\HELP_DECRYPT.TXT"
    assert row["file.size"] == 2301
    assert row["@timestamp"] == T1
    assert row["extra"]["SourceFile"] == "E:\\FS01\\C\\$MFT"
    assert row["extra"]["FnAttributeId"] == 3


def test_file_listing_variant() -> None:
    table, rejects = parse_file(FORMAT, MFT / "20150910_MFTECmd_$MFT_Output_FileListing.csv")
    rows = rows_by_record(table)
    assert (len(rows), len(rejects)) == (2, 0)
    assert rows[2] == BASE | {
        "record": 2,
        "@timestamp": T1,
        "event.action": "file-listed",
        "file.path": ".\\share\\営業\\見積\\HELP_DECRYPT.TXT",
        "file.name": "HELP_DECRYPT.TXT",
        "file.extension": "txt",
        "file.directory": ".\\share\\営業\\見積",
        "file.size": 2301,
        "file.created": T1,
        "file.mtime": T1,
    }
    assert rows[3]["event.action"] == "directory"


def test_extra_is_valid_json_for_hostile_values(tmp_path: Path) -> None:
    header = "EntryNumber,InUse,ParentPath,FileName,FileSize,Created0x10,ReparseTarget,SecurityId\n"
    row = '-1,Maybe,.\\x,"a\\b.txt",12,2015-09-09 02:52:14,"q""\\\x01\tz",0012\n'
    # a row with nothing for extra between two that have some: the objects stay aligned
    bare = ",,.\\y,b.txt,1,2015-09-09 02:52:14,,\n"
    last = "7,True,.\\z,c.txt,1,2015-09-09 02:52:14,,\n"
    path = tmp_path / "m.csv"
    path.write_text(header + row + bare + last, encoding="utf-8")
    table, rejects = parse_file(FORMAT, path)
    assert rejects == []
    extras = table.column("extra").to_pylist()
    assert extras[1:] == [None, '{"EntryNumber":7,"InUse":true}']
    extra = orjson.loads(extras[0])
    assert extra == {
        "EntryNumber": "-1",
        "InUse": "Maybe",
        "ReparseTarget": 'q"\\\x01\tz',
        "SecurityId": "0012",
    }


def test_cp932_export_and_trailing_cut_row(tmp_path: Path) -> None:
    header = "ParentPath,FileName,FileSize,Created0x10,LastModified0x10\r\n"
    body = ".\\share\\経理,HELP_DECRYPT.TXT,2301,2015-09-09 02:52:14.1201122,\r\n.\\share\\経"
    path = tmp_path / "m.csv"
    path.write_bytes((header + body).encode("cp932"))
    table, rejects = parse_file(FORMAT, path)
    rows = rows_by_record(table)
    assert rows[2]["file.path"] == ".\\share\\経理\\HELP_DECRYPT.TXT"
    assert "file.mtime" not in rows[2]
    assert [(r.record, r.reason) for r in rejects] == [(3, "expected 5 fields, got 1")]


def _sample(path: Path) -> Sample:
    head = path.read_bytes()[:65536]
    return Sample(head=head, text=head.decode("utf-8", "replace"), name=path.name)


def test_sniff() -> None:
    for path in MFT.iterdir():
        assert FORMAT.sniff(_sample(path)), path
    others = [p for p in DATA.rglob("*") if p.is_file() and "mftecmd" not in p.parts]
    for path in others:
        assert not FORMAT.sniff(_sample(path)), path
    usn = b"Name,Extension,EntryNumber,SequenceNumber,ParentEntryNumber,UpdateTimestamp\n"
    assert not FORMAT.sniff(Sample(usn, usn.decode(), "j.csv"))
