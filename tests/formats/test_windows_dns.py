from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DATA,
    Parsed,
    assert_claims_no_other_fixture,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats import registry
from ashiato.formats.base import Sample
from ashiato.formats.testing import parse_file
from ashiato.formats.windows_dns import FORMAT

JA = DATA / "windows_dns" / "dns_ja.log"
EN = DATA / "windows_dns" / "dns_en_details.log"

BASE = {
    "event.dataset": "windows.dns", "event.category": "network", "observer.type": "dns",
    "observer.vendor": "microsoft", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, JA, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == list(range(31, 39))  # 1-30: header block; 39 blank
    assert [(r.record, r.reason) for r in rejects] == [
        (40, "not a DNS debug log line (no date and time)"),
        (41, "unreadable date and time: '2015/13/45 11:50:00'"),
    ]


def test_client_query(parsed: Parsed) -> None:
    assert parsed[0][31] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:47:30+09:00"),
        "event.action": "query",
        "source.ip": "10.20.3.41",
        "network.transport": "udp",
        "network.protocol": "dns",
        "dns.question.name": "ip-addr.es",
        "extra": {
            "dns.id": "1130",
            "dns.question.type": "A",
            "dns.direction": "received",
            "thread": "0A3C",
            "dns.header_flags": "D",
        },
        "record": 31,
    }


def test_responses_and_others(parsed: Parsed) -> None:
    rows = parsed[0]
    assert rows[34] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:47:30+09:00"),
        "event.action": "response",
        "event.outcome": "success",
        "destination.ip": "10.20.3.41",
        "network.transport": "udp",
        "network.protocol": "dns",
        "dns.question.name": "ip-addr.es",
        "extra": {
            "dns.id": "1130",
            "dns.question.type": "A",
            "dns.direction": "sent",
            "thread": "0A3C",
            "dns.response_code": "NOERROR",
            "dns.header_flags": "DR",
        },
        "record": 34,
    }
    assert rows[32]["destination.ip"] == "192.0.2.53"  # forwarded upstream
    assert (rows[36]["event.outcome"], rows[36]["extra"]["dns.response_code"]) == (
        "failure",
        "NXDOMAIN",
    )
    assert rows[36]["extra"]["dns.header_flags"] == "ADR"
    assert (rows[37]["event.action"], rows[37]["network.transport"]) == ("update", "tcp")
    assert rows[38]["message"] == "The DNS server has finished the background loading of zones."
    assert rows[38]["event.provider"] == "event"


def test_en_us_details() -> None:
    table, rejects = parse_file(FORMAT, EN, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert rejects == []
    assert sorted(rows) == [31, 51]
    assert rows[31]["@timestamp"] == utc_of("2015-09-09T13:47:30+09:00")  # 1:47:30 PM
    assert rows[31]["source.port"] == 51234
    assert rows[51]["destination.port"] == 51234
    assert rows[51]["dns.answers"] == "203.0.113.80,203.0.113.81"
    assert "dns.answers" not in rows[31]  # "empty" answer section


def test_day_first_dates(tmp_path: Path) -> None:
    line = JA.read_text().splitlines()[30]
    path = tmp_path / "dns.log"
    path.write_text(
        line.replace("2015/09/09", "13/09/2015") + "\n" + line.replace("2015/09/09", "09/10/2015")
    )
    rows = rows_by_record(parse_file(FORMAT, path, tz="UTC")[0])
    assert rows[1]["@timestamp"] == utc_of("2015-09-13T11:47:30+00:00")
    assert rows[2]["@timestamp"] == utc_of("2015-10-09T11:47:30+00:00")


def test_sniff() -> None:
    for path in (JA, EN):
        assert FORMAT.sniff(text_sample(path))
        assert registry.sniff(text_sample(path)) is FORMAT
    headless = "\n".join(JA.read_text().splitlines()[30:37]) + "\n"
    assert FORMAT.sniff(Sample(headless.encode(), headless, "dns.log"))
    assert_claims_no_other_fixture(FORMAT, "windows_dns")
