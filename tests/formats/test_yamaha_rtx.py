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
from ashiato.formats.testing import parse_file
from ashiato.formats.yamaha_rtx import FORMAT

LOG = DATA / "yamaha_rtx" / "rtx.log"

BASE = {
    "event.dataset": "yamaha.rtx", "observer.type": "firewall", "observer.vendor": "yamaha",
    "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo", year_hint=2015)
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == list(range(1, 11))  # 11 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (12, "no time (neither a syslog header nor a show log time)"),
    ]


def test_inspect(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:04+09:00"),
        "event.action": "inspect",
        "event.category": "network",
        "message": "[INSPECT] PP[01][out][101] TCP 10.31.5.20:49750 > 203.0.113.77:80 "
        "(2015/09/09 11:45:04)",
        "source.ip": "10.31.5.20",
        "source.port": 49750,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "rule.id": "101",
        "observer.name": "rtx-osaka",
        "extra": {"interface": "PP[01]", "filter_direction": "out"},
        "record": 1,
    }


def test_filter_reject(parsed: Parsed) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": utc_of("2015-09-10T09:02:11+09:00"),
        "event.action": "reject",
        "event.category": "network",
        "event.outcome": "failure",
        "message": "PP[01] Rejected at OUT(1030) filter: TCP 10.31.5.20:49822 > 198.51.100.25:25",
        "source.ip": "10.31.5.20",
        "source.port": 49822,
        "destination.ip": "198.51.100.25",
        "destination.port": 25,
        "network.transport": "tcp",
        "rule.id": "1030",
        "observer.name": "rtx-osaka",
        "extra": {"interface": "PP[01]", "filter_direction": "out"},
        "record": 2,
    }


def test_other_shapes(parsed: Parsed) -> None:
    rows = parsed[0]
    assert (rows[3]["event.action"], rows[3]["event.outcome"]) == ("pass", "success")
    assert rows[3]["observer.name"] == "192.0.2.1"
    assert rows[4]["extra"]["detail"] == "echo request" and "source.port" not in rows[4]
    assert rows[5] == BASE | {
        "@timestamp": utc_of("2015-09-10T09:04:00+09:00"),
        "event.action": "login-success",
        "event.category": "authentication",
        "event.outcome": "success",
        "message": "Login succeeded as (admin) for TELNET: 10.31.5.2",
        "source.ip": "10.31.5.2",
        "network.protocol": "telnet",
        "user.name": "admin",
        "observer.name": "rtx-osaka",
        "record": 5,
    }
    assert (rows[6]["event.outcome"], rows[6]["network.protocol"]) == ("failure", "ssh")
    assert rows[7]["event.action"] == "administrator-success"
    assert rows[8]["message"] == "PP[01] PPPoE Connect" and "event.action" not in rows[8]
    # a header without host: LAN2 is the interface, not the host
    assert rows[9]["extra"]["interface"] == "LAN2" and "observer.name" not in rows[9]
    # show log: its own time with year
    assert rows[10]["@timestamp"] == utc_of("2015-09-10T09:05:40+09:00")
    assert rows[10]["extra"]["interface"] == "TUNNEL[1]"


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, LOG, tmp_path / "crlf.log", chunk_bytes=200, by_record=True,
        tz="Asia/Tokyo", year_hint=2015
    )


def test_sniff() -> None:
    assert FORMAT.sniff(text_sample(LOG))
    assert registry.sniff(text_sample(LOG)) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "yamaha_rtx")
