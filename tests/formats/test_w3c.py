from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from helpers import (
    DATA,
    SHARED,
    assert_claims_no_other_fixture,
    assert_registry_routes,
    plain,
    rows_by_record,
    sample_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.testing import parse_file
from ashiato.formats.w3c import FORMAT

W3C = DATA / "w3c"
PLASO = SHARED / "plaso-testdata" / "test_data"
TUNNA = SHARED / "evtx-attack-samples" / "Command and Control" / "Tunna_rdp_tunnel_IIS.log"
UA_IE8 = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"

Rows = dict[int, dict[str, Any]]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)  # type: ignore[misc]


def _parse(name: str, **options: object) -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, W3C / name, tz="Asia/Tokyo", **options)
    rows = rows_by_record(table, keep_empty_strings=True)
    return rows, sorted((r.record, r.reason) for r in rejects)


# -- ProxySG --------------------------------------------------------------------------

PROXY = {
    "event.dataset": "proxysg.access", "event.category": "web", "observer.type": "proxy",
    "observer.vendor": "symantec", "evidence_id": "test",
}  # fmt: skip


def test_proxysg_counts_and_rejects() -> None:
    rows, rejects = _parse("proxysg_main.log")
    assert sorted(rows) == [5, 6, 7, 8, 10, 14]  # 11 is blank
    assert rejects == [
        (9, "expected 24 fields (per #Fields:), got 5"),
        (12, "date/time is not YYYY-MM-DD HH:MM:SS"),
    ]


def test_proxysg_quoted_fields_query_and_domain_user() -> None:
    rows, _ = _parse("proxysg_main.log")
    assert rows[6] == PROXY | {
        "@timestamp": utc(2015, 9, 9, 2, 45, 6),  # GMT, not the source's zone
        "event.action": "tcp_nc_miss",
        "event.outcome": "success",
        "source.ip": "10.20.3.41",
        "source.bytes": 530,
        "destination.bytes": 48211,
        "destination.port": 80,
        "destination.domain": "qzx7.redirect.example",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "url.original": "http://qzx7.redirect.example/gate.php?id=19",
        "url.domain": "qzx7.redirect.example",
        "url.path": "/gate.php?id=19",
        "http.request.method": "GET",
        "http.request.referrer": "http://news.example.jp/top.html",
        "http.response.status_code": 200,
        "http.response.mime_type": "application/x-shockwave-flash",
        "user_agent.original": UA_IE8,
        "extra": {
            "time-taken": "611",
            "cs-auth-group": "CORP\\Sales",
            "s-supplier-name": "qzx7.redirect.example",
            "sc-filter-result": "OBSERVED",
            "cs-categories": "Suspicious;Web Ads",
            "s-ip": "10.0.0.5",
        },
        "record": 6,
    }


def test_proxysg_denied_virus_and_port() -> None:
    rows, _ = _parse("proxysg_main.log")
    denied = rows[7]
    assert denied["event.action"] == "tcp_denied"
    assert denied["event.outcome"] == "failure"
    assert denied["rule.name"] == "Trojan.Cryptowall"
    assert denied["user.name"] == "山田" and denied["user.domain"] == "CORP"
    assert denied["url.original"] == "http://qzx7.redirect.example:8080/9fkd0"
    assert denied["http.response.mime_type"] == "text/html; charset=utf-8"  # %20 decoded
    assert denied["extra"]["cs-categories"] == "Malicious Sources"


def test_proxysg_connect_and_runs_of_spaces() -> None:
    rows, _ = _parse("proxysg_main.log")
    assert rows[8] == PROXY | {
        "@timestamp": utc(2015, 9, 9, 2, 46, 0),
        "event.action": "tcp_tunneled",
        "event.outcome": "success",
        "source.ip": "10.20.3.52",
        "source.bytes": 900,
        "destination.bytes": 5120,
        "destination.port": 443,
        "destination.domain": "mail.example.com",
        "user.name": "suzuki",
        "url.original": "mail.example.com:443",
        "url.domain": "mail.example.com",
        "url.path": "/",
        "http.request.method": "CONNECT",
        "http.response.status_code": 200,
        "user_agent.original": "Mozilla/5.0 (Windows NT 6.1)",
        "extra": {
            "time-taken": "15022",
            "s-supplier-name": "mail.example.com",
            "sc-filter-result": "OBSERVED",
            "cs-categories": "Web Mail",
            "s-ip": "10.0.0.5",
        },
        "record": 8,
    }
    # two spaces between two fields: read by the slow path, same result
    assert rows[10]["source.ip"] == "10.20.3.41"
    assert rows[10]["http.response.status_code"] == 304


def test_proxysg_second_fields_header() -> None:
    rows, _ = _parse("proxysg_main.log")
    assert rows[14] == PROXY | {
        "@timestamp": utc(2015, 9, 9, 2, 47, 0),
        "event.action": "tcp_miss",
        "event.outcome": "success",
        "source.ip": "10.20.3.60",
        "source.bytes": 300,
        "destination.bytes": 9000,
        "destination.ip": "198.51.100.80",
        "url.original": "http://198.51.100.80/dl/invoice.exe",
        "url.domain": "198.51.100.80",
        "url.path": "/dl/invoice.exe",
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "http.response.mime_type": "application/octet-stream",
        "user_agent.original": "Wget/1.16",
        "extra": {
            "time-taken": "20",
            "s-hierarchy": "DIRECT",
            "s-supplier-name": "198.51.100.80",
            "sc-filter-result": "OBSERVED",
            "sc-filter-category": "Uncategorized",
            "s-ip": "10.0.0.5",
            "s-sitename": "proxy-tokyo",
        },
        "record": 14,
    }


def test_proxysg_local_time_option() -> None:
    rows, _ = _parse("proxysg_main.log", w3c_local_time=True)
    assert rows[6]["@timestamp"] == jst(2015, 9, 9, 2, 45, 6)


# -- IIS ------------------------------------------------------------------------------

IIS = {
    "event.dataset": "iis.access", "event.category": "web", "observer.type": "web",
    "observer.vendor": "microsoft", "evidence_id": "test",
}  # fmt: skip


def test_iis_default_fields() -> None:
    rows, rejects = _parse("u_ex150909.log")
    assert sorted(rows) == [5, 6, 7, 13]
    assert rejects == [
        (14, "expected 21 fields (per #Fields:), got 6"),
        (15, "sc-status is not a number"),
    ]
    assert rows[5] == IIS | {
        "@timestamp": utc(2015, 9, 9, 2, 20, 15),
        "event.outcome": "success",
        "source.ip": "10.20.3.41",
        "destination.ip": "10.0.0.31",
        "destination.port": 443,
        "host.ip": "10.0.0.31",
        "user.name": "tanaka",
        "user.domain": "CORP",
        "url.original": "/owa/",
        "url.path": "/owa/",
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "user_agent.original": "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)",  # + -> space
        "extra": {"sc-substatus": "0", "sc-win32-status": "0", "time-taken": "312"},
        "record": 5,
    }
    assert rows[7]["url.original"] == "/aspnet_client/system_web/cmd.aspx?cmd=whoami&x=%E8%A1%A8"


def test_iis_second_block_with_host_and_bytes() -> None:
    rows, _ = _parse("u_ex150909.log")
    assert rows[13] == IIS | {
        "@timestamp": utc(2015, 9, 9, 3, 0, 0),
        "event.outcome": "success",
        "source.ip": "10.20.3.42",
        "source.bytes": 400,
        "destination.ip": "10.0.0.31",
        "destination.port": 443,
        "destination.bytes": 5120,
        "destination.domain": "mail.example.com",
        "host.ip": "10.0.0.31",
        "host.hostname": "EX01",
        "host.name": "ex01",
        "user.name": "sato",
        "user.domain": "CORP",
        "url.original": "https://mail.example.com/ecp/default.aspx",
        "url.domain": "mail.example.com",
        "url.path": "/ecp/default.aspx",
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "user_agent.original": "Mozilla/5.0",
        "extra": {
            "s-sitename": "W3SVC1",
            "cs-version": "HTTP/1.1",
            "sc-substatus": "0",
            "sc-win32-status": "0",
            "time-taken": "31",
        },
        "record": 13,
    }


def test_iis6_time_without_date_uses_the_date_directive() -> None:
    rows, rejects = _parse("ex150909_iis6.log")
    assert rejects == []
    assert rows[5] == IIS | {
        "@timestamp": utc(2015, 9, 9, 23, 59, 58),
        "event.outcome": "success",
        "source.ip": "10.20.3.41",
        "destination.ip": "10.0.0.31",
        "destination.port": 80,
        "host.ip": "10.0.0.31",
        "url.original": "/images/logo.gif",
        "url.path": "/images/logo.gif",
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "user_agent.original": "Mozilla/4.0 (compatible; MSIE 8.0)",
        "extra": {
            "s-sitename": "W3SVC1",
            "cs-version": "HTTP/1.1",
            "sc-substatus": "0",
            "sc-win32-status": "0",
        },
        "record": 5,
    }
    assert rows[6]["@timestamp"] == utc(2015, 9, 10, 0, 0, 3)  # past midnight: next day


# -- Windows Firewall -----------------------------------------------------------------

FW = {
    "event.dataset": "windows.firewall", "event.category": "network",
    "observer.type": "firewall", "observer.vendor": "microsoft", "evidence_id": "test",
}  # fmt: skip


def test_pfirewall_local_time_and_fields() -> None:
    rows, rejects = _parse("pfirewall.log")
    assert sorted(rows) == [6, 7, 8, 9, 11]
    assert rejects == [(12, "src-port is not a number")]
    assert rows[6] == FW | {
        "@timestamp": jst(2015, 9, 9, 11, 52, 13),  # "#Time Format: Local"
        "event.action": "allow",
        "source.ip": "10.20.3.41",
        "source.port": 51302,
        "source.bytes": 0,
        "destination.ip": "10.0.0.20",
        "destination.port": 445,
        "network.transport": "tcp",
        "extra": {"path": "RECEIVE"},
        "record": 6,
    }
    assert rows[8] == FW | {
        "@timestamp": jst(2015, 9, 9, 11, 52, 15),
        "event.action": "drop",
        "source.ip": "2001:db8::5",
        "source.bytes": 84,
        "destination.ip": "2001:db8::20",
        "network.transport": "icmp",
        "extra": {"icmptype": "8", "icmpcode": "0", "path": "RECEIVE"},
        "record": 8,
    }
    assert rows[11]["process.pid"] == 4120  # the newer layout with pid


def test_pfirewall_utc_time_format(tmp_path: Path) -> None:
    log = tmp_path / "pfirewall.log"
    text = (W3C / "pfirewall.log").read_text().replace("Time Format: Local", "Time Format: UTC")
    log.write_text(text)
    rows = rows_by_record(parse_file(FORMAT, log, tz="Asia/Tokyo")[0], keep_empty_strings=True)
    assert rows[6]["@timestamp"] == utc(2015, 9, 9, 11, 52, 13)


# -- generic W3C, odd input -----------------------------------------------------------


def test_generic_w3c_without_software_and_unix_time(tmp_path: Path) -> None:
    log = tmp_path / "custom.log"
    log.write_text(
        "#Version: 1.0\n#Fields: x-timestamp-unix c-ip cs-method cs-uri-stem sc-status\n"
        "1441766705.5 10.20.3.41 GET /index.html 200\n"
        "2015-09-09 10.20.3.41 GET /index.html 200\n"
    )
    table, rejects = parse_file(FORMAT, log)
    rows = rows_by_record(table, keep_empty_strings=True)
    assert rows[3]["event.dataset"] == "w3c.log"
    assert rows[3]["observer.type"] == "web"
    assert rows[3]["@timestamp"] == datetime.fromtimestamp(1441766705.5, UTC)
    assert [(r.record, r.reason) for r in rejects] == [(4, "x-timestamp-unix is not a Unix time")]


def test_data_before_fields_is_rejected(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
        "2015-09-09 02:20:15 10.0.0.31 GET /owa/\n"
    )
    table, rejects = parse_file(FORMAT, log)
    assert table.num_rows == 0
    assert [(r.record, r.reason) for r in rejects] == [(3, "data line before any #Fields: header")]


def test_impossible_date_is_rejected(tmp_path: Path) -> None:
    log = tmp_path / "u_ex.log"
    head = (W3C / "u_ex150909.log").read_text().splitlines()[:5]
    bad = head[4].replace("2015-09-09", "2015-02-30")
    log.write_text("\n".join([*head, bad]) + "\n")
    table, rejects = parse_file(FORMAT, log)
    assert table.num_rows == 1
    assert [(r.record, r.reason) for r in rejects] == [(6, "date/time is not YYYY-MM-DD HH:MM:SS")]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    "name", ["proxysg_main.log", "u_ex150909.log", "pfirewall.log", "ex150909_iis6.log"]
)
def test_small_chunks_keep_headers_and_line_numbers(
    tmp_path: Path, workers: int, name: str
) -> None:
    # tiny chunks put header lines and their data in different chunks (and threads)
    whole, whole_rej = parse_file(FORMAT, W3C / name, tz="Asia/Tokyo")
    small, small_rej = parse_file(
        FORMAT, W3C / name, tz="Asia/Tokyo", chunk_bytes=64, workers=workers
    )
    assert plain(small) == plain(whole)
    assert sorted((r.record, r.raw) for r in small_rej) == sorted(
        (r.record, r.raw) for r in whole_rej
    )


# -- sniffing -------------------------------------------------------------------------


def test_sniff_accepts_w3c_fixtures() -> None:
    for path in W3C.iterdir():
        assert FORMAT.sniff(sample_of(path)), path


def test_sniff_rejects_other_fixtures() -> None:
    assert_claims_no_other_fixture(FORMAT, "w3c", sample_of)
    for text in (
        "hello\nworld\n",
        "#Software: Microsoft Exchange Server\n#Fields: date-time,client-ip,server-ip\n",
        "#fields\tts\tuid\tid.orig_h\n",
    ):
        assert not FORMAT.sniff(Sample(text.encode(), text, "a.txt")), text


def test_registry_routes_fixtures_here() -> None:
    assert_registry_routes(W3C.iterdir(), "w3c")


# -- real logs ------------------------------------------------------------------------


@pytest.mark.corpus
def test_tunna_iis_log() -> None:
    if not TUNNA.exists():
        pytest.skip("../shared/data not present")
    assert FORMAT.sniff(sample_of(TUNNA))
    table, rejects = parse_file(FORMAT, TUNNA)
    assert rejects == []
    # 4308 lines: 9 header/comment lines, one blank line
    assert table.num_rows == 4298
    rows = rows_by_record(table, keep_empty_strings=True)
    first = rows[7]
    assert first["event.dataset"] == "iis.access"
    assert first["@timestamp"] == utc(2019, 9, 3, 10, 13, 36)
    assert first["url.original"] == "/erp/conn.aspx?proxy&port=3389&ip=127.0.0.1"
    assert first["source.ip"] == "10.0.2.17" and first["destination.ip"] == "10.0.2.15"
    assert {r["url.path"].split("?")[0] for r in rows.values()} == {"/erp/conn.aspx"}


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "count", "dataset"),
    [
        ("iis/iis6.log", 12, "iis.access"),
        ("iis/iis10.log", 1, "iis.access"),
        ("iis/iis10_edge_cases.log", 15, "iis.access"),
        ("iis/iis7_owa.log", 3, "iis.access"),
        ("iis/iis7_sqli.log", 2, "iis.access"),
        ("iis/iis_without_date.log", 11, "iis.access"),
        ("windows_firewall.log", 15, "windows.firewall"),
    ],
)
def test_plaso_w3c_samples(name: str, count: int, dataset: str) -> None:
    path = PLASO / name
    if not path.exists():
        pytest.skip("../shared/data not present")
    assert FORMAT.sniff(sample_of(path))
    table, rejects = parse_file(FORMAT, path)
    assert [(r.record, r.reason) for r in rejects] == []
    assert table.num_rows == count
    assert set(table.column("event.dataset").to_pylist()) == {dataset}
    assert table.column("@timestamp").null_count == 0
