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
from ashiato.formats.nfdump import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "nfdump" / "flows.csv"

BASE = {
    "event.dataset": "nfdump.flow", "event.action": "flow", "event.category": "network",
    "observer.type": "flow", "observer.vendor": "nfdump", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_rejects_and_summary_skipped(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [2, 3, 4, 5]  # header, blank and the Summary block are skipped
    assert [(r.record, r.reason) for r in rejects] == [
        (6, "expected 48 comma-separated fields (as in the header), got 6"),
        (7, "ts is not YYYY-MM-DD HH:MM:SS[.mmm]"),
    ]


def test_unidirectional_flow(parsed: Parsed) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:04+09:00"),
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "source.bytes": 1432,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "observer.name": "192.0.2.1",
        "extra": {
            "end": "2015-09-09 11:45:08",
            "event.duration": 4_123_000_000,
            "tcp_flags": ".AP.SF",
            "source.packets": 12,
            "in_interface": 1,
            "out_interface": 2,
        },
        "record": 2,
    }
    # the reply is its own record, sa/da swapped
    assert (parsed[0][3]["source.ip"], parsed[0][3]["source.bytes"]) == ("203.0.113.77", 233901)


def test_biflow_with_milliseconds(parsed: Parsed) -> None:
    assert parsed[0][4] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:47:30.250+09:00"),
        "source.ip": "10.20.3.41",
        "source.port": 53211,
        "source.bytes": 62,
        "destination.ip": "192.0.2.53",
        "destination.port": 53,
        "destination.bytes": 120,
        "network.transport": "udp",
        "observer.name": "192.0.2.1",
        "extra": {
            "end": "2015-09-09 11:47:30.251",
            "event.duration": 1_000_000,
            "source.packets": 1,
            "destination.packets": 1,
            "in_interface": 1,
            "out_interface": 2,
            "source.as": 64500,
            "destination.as": 64501,
            "next_hop": "192.0.2.254",
        },
        "record": 4,
    }


def test_short_header_and_bad_date(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    path.write_text(
        "ts,te,td,sa,da,sp,dp,pr,ibyt\n"
        "2015-13-45 11:45:04,x,1,10.0.0.1,10.0.0.2,1,2,TCP,5\n"
        "2015-09-09 11:45:04.5,x,1,10.0.0.1,10.0.0.2,1,2,TCP,5\n"
    )
    table, rejects = parse_file(FORMAT, path)
    rows = rows_by_record(table)
    assert [r.record for r in rejects] == [2]
    assert rows[3]["@timestamp"] == utc_of("2015-09-09T11:45:04.5+00:00")
    assert rows[3]["source.bytes"] == 5


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, LOG, tmp_path / "crlf.log", chunk_bytes=200, by_record=True, tz="Asia/Tokyo"
    )


def test_sniff() -> None:
    assert FORMAT.sniff(text_sample(LOG))
    assert registry.sniff(text_sample(LOG)) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "nfdump")
