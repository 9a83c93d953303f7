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
from ashiato.formats.cisco_asa import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "cisco_asa" / "asa.log"

BASE = {
    "event.dataset": "cisco.asa", "event.provider": "ASA", "observer.type": "firewall",
    "observer.vendor": "cisco", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo", year_hint=2015)
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == list(range(1, 16))  # 16 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (17, "no %ASA-<level>-<id> message tag"),
        (18, "no usable time before the %ASA tag"),
    ]
    assert rejects[0].raw == b"this line has no message tag"


def test_built_outbound_initiator_is_the_to_side(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:04+09:00"),
        "event.code": "302013",
        "event.action": "connection-built",
        "event.category": "network",
        "event.outcome": "success",
        "event.severity": 6,
        "message": "Built outbound TCP connection 55123 for outside:203.0.113.77/80 "
        "(203.0.113.77/80) to inside:10.20.3.41/51234 (198.51.100.2/40123)",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "extra": {
            "source_interface": "inside",
            "destination_interface": "outside",
            "nat_source_ip": "198.51.100.2",
            "nat_source_port": 40123,
            "connection_id": "55123",
            "direction": "outbound",
        },
        "record": 1,
    }


def test_teardown_paired_with_built(parsed: Parsed) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:08+09:00"),
        "event.code": "302014",
        "event.action": "connection-teardown",
        "event.category": "network",
        "event.outcome": "success",
        "event.severity": 6,
        "message": "Teardown TCP connection 55123 for outside:203.0.113.77/80 to "
        "inside:10.20.3.41/51234 duration 0:00:04 bytes 235333 TCP FINs",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "extra": {
            "direction": "outbound",
            "source_interface": "inside",
            "destination_interface": "outside",
            "connection_id": "55123",
            "network.bytes": 235333,  # both directions: not source.bytes
            "event.duration": 4_000_000_000,
            "reason": "TCP FINs",
        },
        "record": 2,
    }


def test_inbound_and_unpaired(parsed: Parsed) -> None:
    rows = parsed[0]
    for r in (4, 5):  # inbound: the "for" side initiated
        assert (rows[r]["source.ip"], rows[r]["destination.ip"]) == ("198.51.100.9", "10.0.0.30")
        assert rows[r]["observer.name"] == "asa-hq"
    assert rows[4]["extra"]["nat_destination_ip"] == "203.0.113.25"
    # no Built line: the port-53 side is the responder; RFC 3164 relay time and host
    assert (rows[6]["source.ip"], rows[6]["destination.port"]) == ("10.20.3.41", 53)
    assert rows[6]["@timestamp"] == utc_of("2015-09-09T11:52:00+09:00")
    assert rows[6]["observer.name"] == "fw-relay"
    assert "direction" not in rows[6]["extra"]


def test_denies(parsed: Parsed) -> None:
    rows = parsed[0]
    assert rows[3] == BASE | {
        "@timestamp": utc_of("2015-09-10T09:02:11+09:00"),
        "event.code": "106023",
        "event.action": "deny",
        "event.category": "network",
        "event.outcome": "failure",
        "event.severity": 4,
        "message": "Deny tcp src inside:10.31.5.20/49822 dst outside:198.51.100.25/25 by "
        'access-group "inside_access_in" [0x0, 0x0]',
        "source.ip": "10.31.5.20",
        "source.port": 49822,
        "destination.ip": "198.51.100.25",
        "destination.port": 25,
        "network.transport": "tcp",
        "rule.name": "inside_access_in",
        "extra": {"source_interface": "inside", "destination_interface": "outside"},
        "record": 3,
    }
    # ISO time with offset, access-list with an identity-firewall user
    assert rows[7]["@timestamp"] == utc_of("2015-09-09T02:53:00+00:00")
    assert (rows[7]["user.domain"], rows[7]["user.name"]) == ("CORP", "tanaka")
    assert (rows[7]["event.action"], rows[7]["destination.port"]) == ("denied", 443)
    assert (rows[8]["source.ip"], rows[8]["destination.port"]) == ("10.20.3.41", 80)
    assert rows[14]["event.provider"] == "FTD"
    assert rows[14]["@timestamp"] == utc_of("2015-09-09T03:33:00+00:00")
    assert (rows[14]["source.ip"], rows[14]["destination.ip"]) == ("10.20.3.41", "203.0.113.77")


def test_url_auth_vpn_nat_commands(parsed: Parsed) -> None:
    rows = parsed[0]
    assert (rows[9]["url.original"], rows[9]["destination.ip"]) == ("/9fkd0", "203.0.113.77")
    assert rows[9]["user.name"] == "tanaka"
    assert (rows[10]["event.outcome"], rows[10]["user.name"]) == ("failure", "admin")
    assert rows[10]["source.ip"] == "198.51.100.9"
    assert rows[11]["extra"] == {"vpn_group": "GroupPolicy_VPN"}
    assert (rows[11]["host.ip"], rows[11]["observer.type"]) == ("10.99.0.5", "vpn")
    # Bytes rcv (from the remote user) is what the user sent
    assert (rows[12]["source.bytes"], rows[12]["destination.bytes"]) == (52428800, 1048576)
    assert rows[13]["extra"]["nat_source_ip"] == "198.51.100.2"
    assert (rows[15]["event.action"], rows[15]["user.name"]) == ("command-executed", "enable_15")


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT,
        LOG,
        tmp_path / "crlf.log",
        chunk_bytes=200,
        by_record=True,
        tz="Asia/Tokyo",
        year_hint=2015,
    )


def test_sniff() -> None:
    assert FORMAT.sniff(text_sample(LOG))
    assert registry.sniff(text_sample(LOG)) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "cisco_asa")
    assert not FORMAT.sniff(Sample(b"hello\n", "hello\n", "x.log"))


ANYCONNECT = DATA / "cisco_asa" / "anyconnect.log"


def test_anyconnect_follows_the_remote_access_interface() -> None:
    table, rejects = parse_file(FORMAT, ANYCONNECT, tz="Asia/Tokyo", year_hint=2024)
    rows = rows_by_record(table)
    assert rejects == []
    assert {r["observer.type"] for r in rows.values()} == {"vpn"}
    logins = [(r["event.action"], r["event.outcome"], r.get("user.name"), r.get("source.ip"))
              for k, r in sorted(rows.items()) if k <= 3]  # fmt: skip
    assert logins == [
        ("vpn-login", "failure", "admin", "185.220.101.5"),
        ("vpn-login", "failure", None, "185.220.101.5"),  # the name masked as *****
        ("vpn-login", "success", "tanaka", None),
    ]
    assert rows[1]["@timestamp"] == utc_of("2024-02-03T02:10:01+09:00")
    assert rows[1]["extra"]["reason"] == "Invalid password"
    actions = [rows[k]["event.action"] for k in range(4, 11)]
    assert actions == [
        "vpn-session-start",
        "vpn-channel-up",
        "vpn-session-start",
        "vpn-channel-down",
        "vpn-session-end",
        "vpn-session-start",
        "vpn-session-end",
    ]
    assigned = rows[6]
    assert (assigned["user.name"], assigned["source.ip"], assigned["host.ip"]) == (
        "tanaka", "185.220.101.5", "10.99.0.23",
    )  # fmt: skip
    assert assigned["event.category"] == "session"
    end = rows[8]
    assert (end["source.bytes"], end["destination.bytes"]) == (2147483648, 10485760)
    assert end["extra"]["reason"] == "User Requested"
    assert (rows[9]["user.domain"], rows[9]["user.name"]) == ("CORP", "suzuki")
    assert rows[10]["extra"]["reason"] == "Idle Timeout"
