from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    DATA,
    SHARED,
    assert_claims_no_other_fixture,
    assert_small_chunks_match,
    rows_by_record,
    utf8_sample,
)

from ashiato.formats.base import Sample
from ashiato.formats.squid import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "squid" / "access.log"
CORPUS = SHARED / "elastic-beats-testdata" / "squid" / "access1.log"

BASE = {
    "event.dataset": "squid.access", "event.category": "web", "observer.type": "proxy",
    "observer.vendor": "squid", "evidence_id": "test",
}  # fmt: skip


def _epoch(s: float) -> datetime:
    return datetime.fromtimestamp(s, UTC)


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[int, dict[str, Any]], list[Any]]:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return rows_by_record(table, keep_empty_strings=True), rejects


def test_counts_and_rejects(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [1, 2, 3, 4, 6, 7, 8, 11]  # line 5 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (9, "expected 10 space-separated fields, got 7"),
        (10, "time is not a Unix epoch (seconds.milliseconds)"),
    ]
    assert rejects[0].raw == b"1441766714.500 this is not a squid line"


def test_miss(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    assert parsed[0][3] == BASE | {
        "@timestamp": _epoch(1441766707.288),
        "event.action": "tcp_miss",
        "event.outcome": "success",
        "source.ip": "10.20.3.41",
        "destination.ip": "203.0.113.77",
        "destination.bytes": 231424,
        "user.name": "tanaka",
        "url.original": "http://qzx7.redirect.example/9fkd0",
        "url.domain": "qzx7.redirect.example",
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "http.response.mime_type": "application/octet-stream",
        "extra": {"event.duration": 1_290_000_000, "squid.hierarchy_code": "HIER_DIRECT"},
        "record": 3,
    }


def test_connect(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    assert parsed[0][4] == BASE | {
        "@timestamp": _epoch(1441766710.004),
        "event.action": "tcp_tunnel",
        "event.outcome": "success",
        "source.ip": "10.20.3.52",
        "destination.ip": "198.51.100.25",
        "destination.bytes": 5120,
        "user.name": "suzuki",
        "url.original": "mail.example.com:443",
        "url.domain": "mail.example.com",
        "http.request.method": "CONNECT",
        "http.response.status_code": 200,
        "extra": {"event.duration": 15_022_000_000, "squid.hierarchy_code": "HIER_DIRECT"},
        "record": 4,
    }


def test_denied(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    assert parsed[0][6] == BASE | {
        "@timestamp": _epoch(1441766711.120),
        "event.action": "tcp_denied",
        "event.outcome": "failure",
        "source.ip": "10.20.3.52",
        "destination.bytes": 3921,
        "user.name": "suzuki",
        "url.original": "http://blocked.example.net/payload.exe",
        "url.domain": "blocked.example.net",
        "http.request.method": "GET",
        "http.response.status_code": 403,
        "http.response.mime_type": "text/html",
        "extra": {"event.duration": 0, "squid.hierarchy_code": "HIER_NONE"},
        "record": 6,
    }


def test_no_reply_named_peer_and_trailing_field(
    parsed: tuple[dict[int, dict[str, Any]], list[Any]],
) -> None:
    rows = parsed[0]
    aborted = rows[8]
    assert "http.response.status_code" not in aborted  # 000: no reply
    assert aborted["event.outcome"] == "unknown"
    assert aborted["destination.domain"] == "proxy-parent.example"
    assert "destination.ip" not in aborted
    assert rows[11]["extra"]["squid.trailing"] == "extra-field"
    assert rows[11]["event.outcome"] == "failure"  # 404


def test_sniff() -> None:
    assert FORMAT.sniff(Sample(LOG.read_bytes(), LOG.read_text(), LOG.name))
    assert_claims_no_other_fixture(FORMAT, "squid", utf8_sample)
    assert not FORMAT.sniff(Sample(b"hello\nworld\n", "hello\nworld\n", "a.txt"))


@pytest.mark.corpus
def test_beats_corpus() -> None:
    if not CORPUS.exists():
        pytest.skip("../shared/data not present")
    table, rejects = parse_file(FORMAT, CORPUS)
    assert table.num_rows == 100
    assert rejects == []
    rows = rows_by_record(table, keep_empty_strings=True)
    assert rows[1]["url.domain"] == "login.yahoo.com"
    assert rows[1]["http.request.method"] == "CONNECT"
    assert rows[1]["@timestamp"] == _epoch(1157689312.049)
    denied = [r for r in rows.values() if r["event.action"] == "tcp_denied"]
    assert denied and all(r["http.response.status_code"] == 407 for r in denied)
    assert all(r["event.outcome"] == "failure" for r in denied)


@pytest.mark.parametrize("workers", [1, 2])
def test_small_chunks_keep_line_numbers(tmp_path: Path, workers: int) -> None:
    # CRLF line ends, tiny chunks cut lines across reads: records must stay exact
    assert_small_chunks_match(
        FORMAT, LOG, tmp_path / "access.log", chunk_bytes=100, workers=workers, tz="Asia/Tokyo"
    )


def test_odd_times_are_rejected_not_fatal(tmp_path: Path) -> None:
    good = LOG.read_text().splitlines()[0]
    bad = [good.replace("1441766705.412", t, 1) for t in ("inf", "nan", "99999999999999.1")]
    log = tmp_path / "access.log"
    log.write_text("\n".join([good, *bad]) + "\n")
    table, rejects = parse_file(FORMAT, log)
    assert table.num_rows == 1
    assert [r.record for r in rejects] == [2, 3, 4]
