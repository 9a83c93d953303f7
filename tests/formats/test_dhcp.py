from __future__ import annotations

from datetime import UTC, datetime

from helpers import DATA, rows_by_record

from ashiato.formats.base import Sample
from ashiato.formats.dhcp import FORMAT
from ashiato.formats.testing import parse_file

DHCP = DATA / "dhcp"


BASE = {
    "event.dataset": "windows.dhcp",
    "event.category": "network",
    "observer.type": "dhcp",
    "observer.vendor": "Microsoft",
    "evidence_id": "test",
}


def test_2012_log() -> None:
    table, rejects = parse_file(FORMAT, DHCP / "DhcpSrvLog-Wed.log", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    # 19 preamble/header lines and 1 blank line are not records; 4 bad rows are rejected
    assert len(rows) == 11
    assert [(r.record, r.reason) for r in rejects] == [
        (31, "not a DHCP audit row (ID,MM/DD/YY,HH:MM:SS,...)"),
        (32, "expected 19 fields, got 4"),
        (33, "unreadable date/time '13/45/15' '08:55:12'"),
    ]
    assert rejects[0].raw == b"garbage line here"
    # local JST 08:55:12 on 9 September is 23:55:12 UTC on the 8th
    assert rows[23] == BASE | {
        "record": 23,
        "@timestamp": datetime(2015, 9, 8, 23, 55, 12, tzinfo=UTC),
        "event.code": "10",
        "event.action": "assign",
        "event.outcome": "success",
        "host.ip": "10.20.3.41",
        "host.hostname": "PC-TKY-0341.corp.example.jp",
        "host.name": "pc-tky-0341",
        "host.mac": "00:15:5d:01:2a:41",
        "extra": {
            "dhcp.transaction_id": "2583145474",
            "dhcp.qresult": "0",
            "dhcp.vendor_class_hex": "0x4D53465420352E30",
            "dhcp.vendor_class_ascii": "MSFT 5.0",
            "dhcp.dns_reg_error": "0",
        },
    }
    assert rows[21] == BASE | {
        "record": 21,
        "@timestamp": datetime(2015, 9, 8, 15, 0, 1, tzinfo=UTC),
        "event.code": "00",
        "event.action": "started",
        "extra": {"dhcp.transaction_id": "0", "dhcp.qresult": "6", "dhcp.dns_reg_error": "0"},
    }
    assert rows[27] == BASE | {
        "record": 27,
        "@timestamp": datetime(2015, 9, 9, 0, 11, 2, tzinfo=UTC),
        "event.code": "31",
        "event.action": "dns update failed",
        "event.outcome": "failure",
        "host.ip": "10.20.3.60",
        "host.hostname": "PC-OSK-0060.corp.example.jp",
        "host.name": "pc-osk-0060",
        "extra": {"dhcp.transaction_id": "0", "dhcp.qresult": "6", "dhcp.dns_reg_error": "9004"},
    }
    assert rows[30]["event.outcome"] == "failure"  # NACK
    assert "host.hostname" not in rows[30]
    # a RAS/long client identifier is not a MAC: kept as written
    assert rows[34]["host.mac"] == "5241532000155D0100C8000000000000000000"
    # an unquoted comma in a class string shifts columns: the surplus is kept, not guessed
    assert rows[35]["host.mac"] == "00:80:92:3a:1b:2c"
    assert rows[35]["extra"]["dhcp.overflow"] == "0"


def test_2003_log_seven_columns() -> None:
    table, rejects = parse_file(FORMAT, DHCP / "DhcpSrvLog-Thu.log", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert (len(rows), len(rejects)) == (3, 0)
    assert rows[11] == BASE | {
        "record": 11,
        "@timestamp": datetime(2015, 9, 2, 23, 31, 9, tzinfo=UTC),
        "event.code": "10",
        "event.action": "assign",
        "event.outcome": "success",
        "host.ip": "10.20.3.41",
        "host.hostname": "PC-TKY-0341.corp.example.jp",
        "host.name": "pc-tky-0341",
        "host.mac": "00:15:5d:01:2a:41",
    }


def test_fragment_without_header() -> None:
    table, rejects = parse_file(FORMAT, DHCP / "dhcp_fragment.log", tz="UTC")
    rows = rows_by_record(table)
    assert (len(rows), len(rejects)) == (3, 0)
    assert rows[3]["@timestamp"] == datetime(2015, 9, 8, 23, 59, 59, tzinfo=UTC)
    assert rows[3]["event.action"] == "release"
    assert rows[3]["extra"] == {"dhcp.transaction_id": "2583145476", "dhcp.qresult": "0"}


def test_dhcpv6_log() -> None:
    table, rejects = parse_file(FORMAT, DHCP / "DhcpV6SrvLog-Wed.log", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert (len(rows), len(rejects)) == (1, 0)
    assert rows[9] == BASE | {
        "record": 9,
        "@timestamp": datetime(2015, 9, 9, 1, 0, 0, tzinfo=UTC),
        "event.code": "11000",
        "event.action": "dhcpv6 solicit",
        "host.ip": "2001:db8:10::15",
        "host.hostname": "PC-TKY-0341.corp.example.jp",
        "host.name": "pc-tky-0341",
        "extra": {
            "dhcp.error_code": "0",
            "dhcp.duid_length": "14",
            "dhcp.duid": "000100011D2B3C4D00155D012A41",
            "dhcp.subnet_prefix": "2001:db8:10::",
        },
    }


def _sample(data: bytes, name: str = "x.log") -> Sample:
    return Sample(head=data[:65536], text=data[:65536].decode("utf-8", "replace"), name=name)


def test_sniff() -> None:
    for path in DHCP.iterdir():
        assert FORMAT.sniff(_sample(path.read_bytes())), path
    others = [p for p in DATA.rglob("*") if p.is_file() and "dhcp" not in p.parts]
    for path in others:
        assert not FORMAT.sniff(_sample(path.read_bytes())), path
    assert not FORMAT.sniff(_sample(b"hello\nworld\n"))
    # a CSV that merely starts with an ID column is not a DHCP log
    assert not FORMAT.sniff(_sample(b"ID,Name,Size\n1,a.txt,3\n"))
    ja = "\t\tMicrosoft DHCP サービス アクティビティ ログ\r\n\r\nイベント ID  意味\r\n"
    assert FORMAT.sniff(_sample(ja.encode("utf-8")))
