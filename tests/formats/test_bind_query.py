from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DATA,
    Parsed,
    assert_claims_no_other_fixture,
    assert_small_chunks_match,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats import registry
from ashiato.formats.bind_query import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "bind_query" / "query.log"

BASE = {
    "event.dataset": "bind.query", "event.category": "network", "network.protocol": "dns",
    "observer.type": "dns", "observer.vendor": "isc", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo", year_hint=2015)
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 8, 9]  # 7 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (10, "not a BIND query log line (client ...: query: NAME CLASS TYPE FLAGS)"),
        (11, "no time (neither print-time nor a syslog header)"),
    ]


def test_query(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:47:30.123+09:00"),
        "event.action": "query",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "destination.ip": "10.0.0.2",
        "network.transport": "udp",
        "dns.question.name": "ip-addr.es",
        "extra": {"dns.question.type": "A", "dns.question.class": "IN", "dns.flags": "+E(0)K"},
        "record": 1,
    }


def test_variants(parsed: Parsed) -> None:
    rows = parsed[0]
    assert rows[2]["network.transport"] == "tcp"  # T flag
    assert rows[2]["dns.question.name"] == "qzx7.redirect.example"  # lower-cased
    assert rows[3]["extra"]["view"] == "internal"
    assert (rows[4]["source.ip"], rows[4]["destination.ip"]) == ("2001:db8::5", "2001:db8::53")
    assert rows[8]["@timestamp"] == utc_of("2015-09-09T11:47:36.25+09:00")  # ISO 8601
    assert rows[9]["@timestamp"] == utc_of("2015-09-09T11:47:37+09:00")  # syslog header
    assert rows[9]["observer.name"] == "ns1"


def test_denied(parsed: Parsed) -> None:
    assert parsed[0][5] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:47:34+09:00"),
        "event.action": "query-denied",
        "event.outcome": "failure",
        "source.ip": "198.51.100.9",
        "source.port": 40000,
        "dns.question.name": "corp.example.jp",
        "extra": {"dns.question.type": "ANY", "dns.question.class": "IN"},
        "record": 5,
    }
    assert parsed[0][6]["event.action"] == "zone-transfer-denied"


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, LOG, tmp_path / "crlf.log", chunk_bytes=200, by_record=True,
        tz="Asia/Tokyo", year_hint=2015
    )


def test_sniff() -> None:
    assert FORMAT.sniff(text_sample(LOG))
    assert registry.sniff(text_sample(LOG)) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "bind_query")
