from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import DATA, bytes_sample, rows_by_record

from ashiato.formats.testing import parse_file
from ashiato.formats.wevtutil_xml import FORMAT, fragments

WIN = DATA / "windows"
XML_FILES = ("wevtutil.xml", "eventviewer_saved.xml")


SECURITY = {
    "event.dataset": "windows.security",
    "event.provider": "Microsoft-Windows-Security-Auditing",
    "event.outcome": "success",
    "event.severity": 0,
    "evidence_id": "test",
}
FS01 = {"host.hostname": "FS01.corp.example.jp", "host.name": "fs01"}
TANAKA = {
    "user.name": "tanaka",
    "user.domain": "CORP",
    "user.id": "S-1-5-21-1111-2222-3333-1104",
    "winlog.logon.id": "0x3a7f12",
}


def test_wevtutil_output() -> None:
    table, rejects = parse_file(FORMAT, WIN / "wevtutil.xml", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert len(rows) == 7
    assert [(r.record, r.reason.split(":")[0]) for r in rejects] == [
        (7, "bad XML in <Event> starting here"),
        (44, "unusable <Event>"),
        (45, "text outside any <Event> element"),
        (46, "<Event> element never closed"),
    ]
    assert "undefined entity" in rejects[0].reason
    assert rejects[2].raw.strip() == b"garbage between events"
    # two events on line 1; times are UTC whatever the source zone; 100 ns digits cut
    logon = rows[9910001]
    assert logon["extra"]["winlog"]["event_data"]["AuthenticationPackageName"] == "Kerberos"
    assert logon == SECURITY | FS01 | TANAKA | {
        "record": 9910001,
        "@timestamp": datetime(2015, 9, 9, 2, 40, 1, 123456, tzinfo=UTC),
        "event.code": "4624",
        "event.action": "logon",
        "event.category": "authentication",
        "winlog.logon.type": 3,
        "source.ip": "192.0.2.41",
        "source.port": 51302,
        "extra": logon["extra"],
    }
    assert logon["extra"]["workstation"] == "PC-TKY-0341"
    assert logon["extra"]["line"] == 1
    assert logon["extra"]["winlog"]["process_id"] == 612
    assert rows[9910002]["extra"]["line"] == 1
    assert rows[9910002]["event.action"] == "share-session-opened"
    assert rows[9910002]["file.share"] == "\\\\*\\share"
    assert rows[9910002]["file.access_mask"] == 1

    share = rows[9911021]
    assert share == SECURITY | FS01 | TANAKA | {
        "record": 9911021,
        "@timestamp": datetime(2015, 9, 9, 2, 52, 14, 120000, tzinfo=UTC),
        "event.code": "5145",
        "event.action": "file-share-access",
        "event.category": "file",
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
    assert share["extra"]["winlog"]["event_data"]["ShareLocalPath"] == "\\??\\D:\\share"
    assert share["extra"]["winlog"]["event_data"]["AccessList"] == "%%4417\n\t\t\t\t"
    assert share["extra"]["line"] == 3

    access = rows[9911022]
    assert access == SECURITY | FS01 | TANAKA | {
        "record": 9911022,
        "@timestamp": datetime(2015, 9, 9, 2, 52, 14, 250000, tzinfo=UTC),
        "event.code": "4663",
        "event.action": "object-access",
        "event.category": "file",
        "file.path": "D:\\share\\営業\\見積\\見積書.xlsx.encrypted",
        "file.name": "見積書.xlsx.encrypted",
        "file.extension": "encrypted",
        "file.directory": "D:\\share\\営業\\見積",
        "file.access_mask": 0x10000,
        "process.pid": 4,
        "extra": access["extra"],
    }

    proc = rows[5501]  # pretty-printed over lines 8-42
    assert proc == SECURITY | {
        "record": 5501,
        "@timestamp": datetime(2015, 9, 9, 2, 31, 7, tzinfo=UTC),
        "event.code": "4688",
        "event.action": "process-created",
        "event.category": "process",
        "host.hostname": "PC-TKY-0341.corp.example.jp",
        "host.name": "pc-tky-0341",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "user.id": "S-1-5-21-1111-2222-3333-1104",
        "winlog.logon.id": "0x2b1c4",
        "process.pid": 0xD4C,
        "process.executable": "C:\\Users\\tanaka\\AppData\\Local\\Temp\\a1b2.exe",
        "process.name": "a1b2.exe",
        "process.command_line": '"C:\\Users\\tanaka\\AppData\\Local\\Temp\\a1b2.exe" -k',
        "process.parent.pid": 0x9F0,
        "process.parent.executable": "C:\\Program Files\\Internet Explorer\\iexplore.exe",
        "extra": proc["extra"],
    }
    assert proc["extra"]["line"] == 8

    cleared = rows[9909000]
    assert cleared == {
        "record": 9909000,
        "@timestamp": datetime(2015, 9, 9, 3, 10, tzinfo=UTC),
        "event.dataset": "windows.security",
        "event.provider": "Microsoft-Windows-Eventlog",
        "event.code": "1102",
        "event.action": "log-cleared",
        "event.category": "configuration",
        "event.outcome": "success",
        "event.severity": 4,
        "user.name": "admin-sato",
        "user.domain": "CORP",
        "user.id": "S-1-5-21-1111-2222-3333-500",
        "winlog.logon.id": "0x5d2a11",
        "evidence_id": "test",
        **FS01,
        "extra": {
            "winlog": {
                "channel": "Security",
                "process_id": 880,
                "user_data": {
                    "SubjectUserSid": "S-1-5-21-1111-2222-3333-500",
                    "SubjectUserName": "admin-sato",
                    "SubjectDomainName": "CORP",
                    "SubjectLogonId": "0x5d2a11",
                },
            },
            "line": 43,
        },
    }
    assert rows[9910006]["user.name"] == "suzuki"
    assert rows[9910006]["extra"]["line"] == 47


def test_event_viewer_saved_xml_with_root() -> None:
    table, rejects = parse_file(FORMAT, WIN / "eventviewer_saved.xml")
    rows = rows_by_record(table)
    assert rejects == []
    assert sorted(rows) == [9909000, 9911021]
    assert rows[9911021]["file.path"] == "営業\\見積\\HELP_DECRYPT.TXT"
    assert rows[9909000]["extra"]["line"] == 4  # the 5145 AccessList spans two lines


def test_entities_and_doctype_are_refused(tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE Event [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        "<Event><System><EventID>1</EventID></System><EventData>"
        '<Data Name="x">&b;</Data></EventData></Event>\n'
        '<Event><System><!DOCTYPE x [<!ENTITY c "c">]><EventID>2</EventID></System></Event>\n'
    )
    path = tmp_path / "bomb.xml"
    path.write_text(bomb, encoding="utf-8")
    table, rejects = parse_file(FORMAT, path)
    assert table.num_rows == 0
    assert [(r.record, r.reason.split(":")[0]) for r in rejects] == [
        (2, "text outside any <Event> element"),
        (3, "bad XML in <Event> starting here"),
        (4, "DOCTYPE/ENTITY declarations are not allowed"),
    ]


def test_fragments_across_read_boundaries(monkeypatch: Any) -> None:
    import ashiato.formats.wevtutil_xml as mod

    monkeypatch.setattr(mod, "_READ", 7)  # cut every tag in pieces
    text = (
        '<?xml version="1.0"?>\r\n<Events>\r\n<Event a="1"><x/></Event><Event>\r\n<y/>'
        "</Event>\r\n</Events>\r\n<Event><z>"
    )
    got = list(fragments(io.StringIO(text)))
    assert got == [
        (3, '<Event a="1"><x/></Event>', None),
        (3, "<Event>\r\n<y/></Event>", None),
        (6, "<Event><z>", "<Event> element never closed (file ends)"),
    ]


def test_sniff() -> None:
    for name in XML_FILES:
        assert FORMAT.sniff(bytes_sample((WIN / name).read_bytes())), name
    others = [p for p in DATA.rglob("*") if p.is_file() and p.name not in XML_FILES]
    for path in others:
        assert not FORMAT.sniff(bytes_sample(path.read_bytes())), path
    assert not FORMAT.sniff(bytes_sample(b"hello\nworld\n"))
    assert not FORMAT.sniff(bytes_sample(b'<?xml version="1.0"?>\n<rss><channel/></rss>\n'))
    utf16 = (WIN / "eventviewer_saved.xml").read_text(encoding="utf-8").encode("utf-16")
    assert FORMAT.sniff(bytes_sample(utf16))


def test_split_cuts_between_events_and_numbers_lines(tmp_path: Path) -> None:
    from itertools import pairwise

    from ashiato.formats.wevtutil_xml import split

    text = (WIN / "wevtutil.xml").read_bytes()
    path = tmp_path / "big.xml"
    path.write_bytes(text * 20)
    data = path.read_bytes()
    spans = split(path, 4)
    assert len(spans) == 4
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    for (_, end, _), (start, _, _) in pairwise(spans):
        assert end == start  # contiguous
    for start, _, line in spans[1:]:
        assert data[start:].startswith(b"<Event") and data[:start].rstrip().endswith(b"</Event>")
        assert line == data[:start].count(b"\n") + 1
