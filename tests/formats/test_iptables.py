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
from ashiato.formats.base import Sample
from ashiato.formats.iptables import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "iptables" / "kern.log"

BASE = {
    "event.dataset": "iptables.log", "event.category": "network", "observer.type": "firewall",
    "observer.vendor": "netfilter", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo", year_hint=2015)
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [1, 2, 3, 4, 6, 7]  # 5 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (8, "no netfilter LOG fields (SRC= and DST=)"),
        (9, "no syslog time (a kernel line with only its uptime)"),
    ]
    assert rejects[1].raw.startswith(b"[898010.00] FWD-DROP IN=eth1")


def test_forward_accept(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:04+09:00"),
        "event.action": "accept",
        "event.outcome": "success",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "rule.name": "FWD-ACCEPT",
        "observer.name": "gw01",
        "extra": {
            "in_interface": "eth1",
            "out_interface": "eth0",
            "len": 52,
            "ttl": 127,
            "id": "3312",
            "tcp_flags": "SYN",
        },
        "record": 1,
    }


def test_ufw_block_to_the_host(parsed: Parsed) -> None:
    assert parsed[0][3] == BASE | {
        "@timestamp": utc_of("2015-09-10T09:02:12+09:00"),
        "event.action": "block",
        "event.outcome": "failure",
        "source.ip": "198.51.100.9",
        "source.port": 40000,
        "destination.ip": "192.0.2.10",
        "destination.port": 3389,
        "network.transport": "tcp",
        "rule.name": "[UFW BLOCK]",
        "observer.name": "gw01",
        "extra": {
            "in_interface": "eth0",  # OUT= is empty: addressed to the host itself
            "mac": "00:16:3e:00:00:01:00:16:3e:00:00:02:08:00",
            "len": 60,
            "ttl": 51,
            "id": "0",
            "tcp_flags": "ACK,PSH",
        },
        "record": 3,
    }


def test_icmp_reject_year_rollover_and_iso(parsed: Parsed) -> None:
    rows = parsed[0]
    assert (rows[2]["event.action"], rows[2]["destination.port"]) == ("drop", 25)
    assert rows[4]["event.action"] == "reject"
    assert rows[4]["network.transport"] == "icmp"
    assert (rows[4]["extra"]["icmp_type"], rows[4]["extra"]["icmp_code"]) == (8, 0)
    assert "source.port" not in rows[4]
    # Sep -> Jan: the year rolls over; no action word in "OUT-LOG"
    assert rows[6]["@timestamp"] == utc_of("2016-01-02T00:00:01+09:00")
    assert "event.action" not in rows[6] and "event.outcome" not in rows[6]
    assert (rows[6]["extra"]["uid"], rows[6]["extra"]["out_interface"]) == ("0", "eth0")
    assert "in_interface" not in rows[6]["extra"]  # sent by the host itself
    # rsyslog high-precision time: its own offset and host
    assert rows[7]["@timestamp"] == utc_of("2015-09-10T09:05:00.123456+09:00")
    assert (rows[7]["observer.name"], rows[7]["event.action"]) == ("gw02", "accept")


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, LOG, tmp_path / "crlf.log", chunk_bytes=200, by_record=True,
        tz="Asia/Tokyo", year_hint=2015
    )


def test_sniff() -> None:
    assert FORMAT.sniff(text_sample(LOG))
    assert registry.sniff(text_sample(LOG)) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "iptables")
    line = "Sep  9 11:45:04 gw01 sshd[1]: Accepted password for root\n"
    assert not FORMAT.sniff(Sample(line.encode(), line, "auth.log"))
