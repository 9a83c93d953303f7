from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import (
    DATA,
    SHARED,
    Parsed,
    assert_claims_no_other_fixture,
    assert_small_chunks_match,
    rows_by_record,
    utc_of,
    utf8_sample,
)

from ashiato.formats.base import Sample
from ashiato.formats.fortigate import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "fortigate" / "fortigate.log"
SYSLOG = DATA / "fortigate" / "fortigate_syslog.log"
CORPUS = SHARED / "elastic-beats-testdata" / "fortinet" / "traffic.log"

BASE = {
    "event.dataset": "fortinet.fortigate", "observer.type": "firewall",
    "observer.vendor": "fortinet", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]  # line 4 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (12, "no key=value pairs of a FortiGate log"),
        (13, "no usable time (date/time, eventtime or syslog header)"),
    ]
    assert rejects[0].raw == b"this line is not a FortiGate log at all"


def test_traffic(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:07+09:00"),
        "event.code": "0000000013",
        "event.action": "close",
        "event.category": "network",
        "event.outcome": "success",
        "event.severity": 5,
        "event.provider": "traffic",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "source.bytes": 1432,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "destination.bytes": 233901,
        "network.transport": "tcp",
        "network.protocol": "http",
        "observer.name": "FG-TOKYO",
        "extra": {
            "event.duration": 3_000_000_000,
            "subtype": "forward",
            "devid": "FG100D0000000001",
            "vd": "root",
            "policyid": "3",
            "sessionid": "882133",
            "srcintf": "internal",
            "dstintf": "wan1",
            "srccountry": "Reserved",
            "dstcountry": "Russian Federation",
            "trandisp": "snat",
            "transip": "198.51.100.2",
            "transport": "51234",
        },
        "record": 1,
    }


def test_ips(parsed: Parsed) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:06+09:00"),
        "event.code": "0419016384",
        "event.action": "detected",
        "event.category": "intrusion_detection",
        "event.outcome": "success",
        "event.severity": 1,
        "event.provider": "utm",
        "message": "web_client: Angler.Exploit.Kit,",
        "source.ip": "203.0.113.77",
        "source.port": 80,
        "destination.ip": "10.20.3.41",
        "destination.port": 51234,
        "network.transport": "tcp",
        "network.protocol": "http",
        "rule.name": "Angler.Exploit.Kit",
        "rule.id": "40001",
        "observer.name": "FG-TOKYO",
        "extra": {
            "subtype": "ips",
            "vd": "root",
            "eventtype": "signature",
            "severity": "high",
            "sessionid": "882133",
            "direction": "incoming",
            "profile": "default",
        },
        "record": 2,
    }


def test_webfilter(parsed: Parsed) -> None:
    ev = parsed[0][5]
    assert ev["url.original"] == "QZX7.redirect.example/gate.php?id=19&x=a b"
    assert ev["url.domain"] == "qzx7.redirect.example"
    assert ev["url.path"] == "/gate.php?id=19&x=a b"
    assert ev["destination.domain"] == "QZX7.redirect.example"
    assert ev["user.name"] == "tanaka"
    assert ev["rule.category"] == "Malicious Websites"
    assert (ev["event.category"], ev["event.outcome"]) == ("web", "failure")


def test_virus_unquoted_values(parsed: Parsed) -> None:
    assert parsed[0][6] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:46:00+09:00"),
        "event.code": "0211008192",
        "event.action": "blocked",
        "event.category": "malware",
        "event.outcome": "failure",
        "event.severity": 4,
        "event.provider": "utm",
        "message": "File_is_infected.",
        "source.ip": "203.0.113.77",
        "source.port": 80,
        "destination.ip": "10.20.3.41",
        "destination.port": 51250,
        "network.transport": "tcp",
        "network.protocol": "http",
        "url.original": "http://qzx7.redirect.example/9fkd0",
        "url.domain": "qzx7.redirect.example",
        "rule.name": "W32/Crowti.A!tr",
        "rule.id": "6356123",
        "observer.name": "FG-TOKYO",
        "extra": {
            "subtype": "virus",
            "vd": "root",
            "eventtype": "infected",
            "filename": "9fkd0",
            "quarskip": "File-was-not-quarantined.",
        },
        "record": 6,
    }


def test_app_ctrl_and_event_logs(parsed: Parsed) -> None:
    rows = parsed[0]
    assert rows[7]["extra"]["app"] == "Tor"
    assert rows[7]["event.outcome"] == "failure"
    assert (rows[8]["event.category"], rows[8]["event.outcome"]) == ("authentication", "success")
    assert rows[8]["user.name"] == "admin"
    assert rows[9]["event.outcome"] == "failure"  # status="failed"
    assert rows[9]["event.severity"] == 1


def test_time_rules(parsed: Parsed) -> None:
    rows = parsed[0]
    # tz="+0000" beats the source's zone (Asia/Tokyo)
    assert rows[10]["@timestamp"] == utc_of("2015-09-09T03:00:00+00:00")
    # eventtime (ns) beats date/time
    assert rows[11]["@timestamp"] == utc_of("2015-09-09T02:45:07.123456+00:00")


def test_keys_inside_quotes_are_not_keys(parsed: Parsed) -> None:
    ev = parsed[0][11]
    assert ev["source.ip"] == "10.20.3.41"
    assert ev["destination.ip"] == "203.0.113.77"
    assert ev["message"] == "agent srcip=192.0.2.66 dstip=192.0.2.67 says hi"


def test_syslog_envelopes() -> None:
    table, rejects = parse_file(FORMAT, SYSLOG, tz="Asia/Tokyo", year_hint=2015)
    rows = rows_by_record(table)
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert rejects == []
    assert rows[1]["source.bytes"] == 1432  # <189>date=...
    assert rows[2]["@timestamp"] == utc_of("2015-09-09T11:45:08+09:00")
    # no date/time: RFC 3164 header time (source zone, year hint) and host
    assert rows[3]["@timestamp"] == utc_of("2015-09-09T11:45:09+09:00")
    assert rows[3]["observer.name"] == "FG-BRANCH"
    assert rows[4]["@timestamp"] == utc_of("2015-09-09T11:45:10+09:00")
    # RFC 5424: header time with its offset, header host
    assert rows[5]["@timestamp"] == utc_of("2015-09-09T02:45:11+00:00")
    assert rows[5]["observer.name"] == "fg-relay.example"
    assert rows[5]["source.ip"] == "10.20.3.45"


@pytest.mark.parametrize("workers", [1, 2])
def test_small_chunks_keep_line_numbers(tmp_path: Path, workers: int) -> None:
    assert_small_chunks_match(
        FORMAT, LOG, tmp_path / "fg.log", chunk_bytes=300, workers=workers, tz="Asia/Tokyo"
    )


def test_sniff() -> None:
    for path in (LOG, SYSLOG):
        assert FORMAT.sniff(Sample(path.read_bytes(), path.read_text(), path.name))
    assert_claims_no_other_fixture(FORMAT, "fortigate", utf8_sample)
    assert not FORMAT.sniff(Sample(b"a=1 b=2\n", "a=1 b=2\n", "kv.txt"))


@pytest.mark.corpus
def test_beats_corpus() -> None:
    if not CORPUS.exists():
        pytest.skip("../shared/data not present")
    table, rejects = parse_file(FORMAT, CORPUS)
    assert table.num_rows == 13
    assert rejects == []
    rows = rows_by_record(table)
    assert rows[1]["@timestamp"] == datetime.fromtimestamp(1592961368, UTC)
    assert rows[1]["observer.name"] == "testswitch1"
    assert (rows[1]["network.transport"], rows[1]["event.action"]) == ("udp", "deny")
    assert rows[3]["extra"]["transip"] == "67.43.156.12"
    assert all("@timestamp" in r and "source.ip" in r for r in rows.values())


VPN = DATA / "fortigate" / "fortigate_vpn.log"


def test_ssl_vpn_events_follow_the_remote_access_interface() -> None:
    table, rejects = parse_file(FORMAT, VPN, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert rejects == []
    assert {r["observer.type"] for r in rows.values()} == {"vpn"}
    fail = rows[2]
    assert (fail["event.action"], fail["event.category"], fail["event.outcome"]) == (
        "vpn-login", "authentication", "failure",
    )  # fmt: skip
    assert (fail["user.name"], fail["source.ip"]) == ("tanaka", "185.220.101.5")
    assert fail["extra"]["reason"] == "sslvpn_login_permission_denied"
    # tz="+0900" on the line; eventtime (ns) wins on line 1
    assert fail["@timestamp"] == utc_of("2024-02-03T02:10:09+09:00")
    assert rows[1]["@timestamp"] == utc_of("2024-02-03T02:10:01.123456+09:00")
    assert rows[3]["event.action"] == "ssl-new-con" and "user.name" not in rows[3]
    up = rows[4]
    assert (up["event.action"], up["event.category"], up["event.outcome"]) == (
        "vpn-session-start", "session", "success",
    )  # fmt: skip
    assert (up["user.name"], up["source.ip"], up["host.ip"]) == (
        "tanaka", "185.220.101.5", "10.212.134.200",
    )  # fmt: skip
    assert up["extra"]["group"] == "SSLVPN-Users"
    down = rows[5]
    assert down["event.action"] == "vpn-session-end"
    # no tz= and no eventtime: date/time read in the source's zone (JST)
    assert down["@timestamp"] == utc_of("2024-02-03T04:40:13+09:00")
    assert (down["source.bytes"], down["destination.bytes"]) == (2147483648, 10485760)
    assert down["extra"]["event.duration"] == 8911 * 1_000_000_000
    # dial-up IPsec: the XAuth user and the assigned address; N/A is no value
    ipsec = rows[6]
    assert (ipsec["event.action"], ipsec["user.name"], ipsec["host.ip"]) == (
        "vpn-session-start", "suzuki", "10.10.50.3",
    )  # fmt: skip
    assert ipsec["source.ip"] == "198.51.100.7"


def test_traffic_rows_keep_observer_firewall_and_no_host_ip(parsed: Parsed) -> None:
    rows = parsed[0]
    assert all(r["observer.type"] == "firewall" for r in rows.values())
    assert not any("host.ip" in r for r in rows.values())
