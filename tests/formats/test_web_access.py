from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from ashiato.formats.web_access import FORMAT, dataset_of

LOG = DATA / "web_access" / "access_log"
TOMCAT = (
    SHARED / "evtx-attack-samples" / "Command and Control"
    / "web_attack_and_isp_webshell_localhost_access_log.txt"
)  # fmt: skip
PLASO_ACCESS = SHARED / "plaso-testdata" / "test_data" / "apache_access.log"
APACHE_ERROR = SHARED / "loghub" / "Apache" / "Apache_2k.log"
BASE = {
    "event.dataset": "web.access", "event.category": "web", "observer.type": "web",
    "evidence_id": "test",
}  # fmt: skip

Rows = dict[int, dict[str, Any]]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture(scope="module")
def parsed() -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    rows = rows_by_record(table, keep_empty_strings=True)
    return rows, sorted((r.record, r.reason) for r in rejects)


def test_counts_and_rejects(parsed: tuple[Rows, list[tuple[int, str]]]) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [1, 2, 3, 5, 6, 7, 10]  # 4 is blank
    assert rejects == [
        (8, 'not an access log line (host ident user [time] "request" status bytes)'),
        (9, "unreadable time (expected dd/Mon/yyyy:HH:MM:SS +zzzz)"),  # 31 February
        (11, 'not an access log line (host ident user [time] "request" status bytes)'),
    ]


def test_combined(parsed: tuple[Rows, list[tuple[int, str]]]) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": utc(2015, 9, 9, 2, 45, 5),  # +0900 honoured
        "event.outcome": "success",
        "source.ip": "192.0.2.7",
        "destination.bytes": 1874,
        "url.original": "/top.html",
        "url.path": "/top.html",
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "user_agent.original": "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
        "extra": {"http.version": "HTTP/1.1"},
        "record": 1,
    }


def test_escaped_quotes_user_and_no_bytes(parsed: tuple[Rows, list[tuple[int, str]]]) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": utc(2015, 9, 9, 2, 46, 10),
        "event.outcome": "success",
        "source.ip": "203.0.113.50",
        "user.name": "tanaka",
        "url.original": "/wp/wp-login.php?redirect_to=%2Fwp%2F",
        "url.path": "/wp/wp-login.php?redirect_to=%2Fwp%2F",
        "http.request.method": "POST",
        "http.request.referrer": "http://www.example.jp/wp/",
        "http.response.status_code": 302,
        "user_agent.original": 'Mozilla/5.0 "evil" (X11)',
        "extra": {"http.version": "HTTP/1.1"},
        "record": 2,
    }


def test_common_ipv6_vhost_and_trailing(parsed: tuple[Rows, list[tuple[int, str]]]) -> None:
    rows = parsed[0]
    common = rows[3]
    assert common["event.outcome"] == "failure"
    assert "user_agent.original" not in common
    assert rows[5]["source.ip"] == "2001:db8::77"
    assert rows[5]["extra"]["trailing"] == '512 "extra field"'
    assert rows[6] == BASE | {
        "@timestamp": utc(2015, 9, 9, 2, 49, 0),
        "event.outcome": "failure",
        "source.ip": "198.51.100.23",
        "destination.domain": "www.example.jp",
        "destination.port": 443,
        "destination.bytes": 199,
        "url.original": "/admin/",
        "url.path": "/admin/",
        "http.request.method": "GET",
        "http.response.status_code": 403,
        "user_agent.original": "sqlmap/1.0-dev",
        "extra": {"http.version": "HTTP/1.1"},
        "record": 6,
    }


def test_odd_request_lines(parsed: tuple[Rows, list[tuple[int, str]]]) -> None:
    rows = parsed[0]
    tls = rows[7]  # bytes sent to the HTTP port: kept whole, no method
    assert "http.request.method" not in tls and "url.original" not in tls
    assert tls["extra"] == {
        "source.address": "crawler.example.com",
        "request": "\\x16\\x03\\x01\\x02",
    }
    assert "source.ip" not in tls
    tomcat = rows[10]  # a bare quote inside the request (Tomcat does not escape)
    assert tomcat["url.original"] == '/a"b.jsp'
    assert tomcat["http.response.status_code"] == 404


def test_time_without_offset_uses_source_zone(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text('192.0.2.7 - - [09/Sep/2015:11:45:05] "GET / HTTP/1.0" 200 5\n')
    table, rejects = parse_file(FORMAT, log, tz="Asia/Tokyo")
    assert rejects == []
    assert table.column("@timestamp").to_pylist() == [utc(2015, 9, 9, 2, 45, 5)]


def test_dataset_from_path() -> None:
    assert dataset_of("/cases/srv01/var/log/nginx/access.log") == "nginx.access"
    assert dataset_of("C:\\Apache24\\logs\\access.log") == "apache.access"
    assert dataset_of("logs.zip!var/log/httpd/access_log") == "apache.access"
    assert dataset_of("access_log") == "web.access"


@pytest.mark.parametrize("workers", [1, 2])
def test_small_chunks_keep_line_numbers(tmp_path: Path, workers: int) -> None:
    crlf = tmp_path / "access_log"
    crlf.write_bytes(LOG.read_bytes().replace(b"\n", b"\r\n"))
    whole, whole_rej = parse_file(FORMAT, LOG)
    small, small_rej = parse_file(FORMAT, crlf, chunk_bytes=100, workers=workers)
    assert plain(small) == plain(whole)
    assert sorted((r.record, r.raw) for r in small_rej) == sorted(
        (r.record, r.raw) for r in whole_rej
    )


def test_sniff() -> None:
    assert FORMAT.sniff(sample_of(LOG))
    assert_claims_no_other_fixture(FORMAT, "web_access", sample_of)
    assert not FORMAT.sniff(Sample(b"hello\nworld\n", "hello\nworld\n", "a.txt"))


def test_registry_routes_fixture_here() -> None:
    assert_registry_routes([LOG], "web_access")


@pytest.mark.corpus
def test_tomcat_access_log_with_attacks() -> None:
    if not TOMCAT.exists():
        pytest.skip("../shared/data not present")
    table, rejects = parse_file(FORMAT, TOMCAT)
    assert rejects == []
    assert table.num_rows == 2661  # every line
    rows = rows_by_record(table, keep_empty_strings=True)
    assert rows[1]["@timestamp"] == utc(2018, 7, 11, 5, 41, 28)  # +0300
    assert rows[4]["http.response.status_code"] == 401
    assert "request" in rows[27]["extra"]  # a TLS handshake sent to the HTTP port
    assert rows[879]["url.original"] == '/WebID/IISWebAgentIF.dll?postdata="><script>foo</script>'
    # the raw bytes in its first 4 KB make the file look binary to encoding detection,
    # so it is only read when the format is named (ashiato ingest --format web_access)
    assert sample_of(TOMCAT).text is None


@pytest.mark.corpus
def test_apache_error_log_is_not_claimed() -> None:
    if not APACHE_ERROR.exists():
        pytest.skip("../shared/data not present")
    assert not FORMAT.sniff(sample_of(APACHE_ERROR))  # loghub's Apache sample is an error log


@pytest.mark.corpus
def test_plaso_apache_access_log() -> None:
    if not PLASO_ACCESS.exists():
        pytest.skip("../shared/data not present")
    assert FORMAT.sniff(sample_of(PLASO_ACCESS))
    table, rejects = parse_file(FORMAT, PLASO_ACCESS)
    assert rejects == []
    assert table.num_rows == 15
    assert set(table.column("event.dataset").to_pylist()) == {"apache.access"}  # file name
    urls = table.column("url.original").to_pylist()
    assert "/wp-content/themes/darkmode/evil.php" in urls
