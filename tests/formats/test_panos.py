from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
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
from ashiato.formats.panos import FORMAT, read_times
from ashiato.formats.testing import parse_file

LOG = DATA / "panos" / "panos.log"
EXPORT = DATA / "panos" / "panos_web_export.csv"

BASE = {"observer.type": "firewall", "observer.vendor": "paloalto", "evidence_id": "test"}


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [1, 2, 3, 4, 5, 7, 8, 9, 10]  # line 6 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (11, "not a PAN-OS CSV record: 0 comma-separated fields"),
        (12, "TRAFFIC record with 9 fields; expected at least 34"),
        (13, "Generated Time is not YYYY/MM/DD HH:MM:SS: '09/10/2015 09:02:11'"),
        (14, "unbalanced double quotes in the CSV record"),
        (15, "column 4 (Type) is 'BOGUS', not a PAN-OS log type"),
    ]
    assert rejects[0].raw == b"this is not a PAN-OS line"


def test_traffic_end(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:08+09:00"),
        "event.dataset": "panos.traffic",
        "event.action": "allow",
        "event.category": "network",
        "event.outcome": "success",
        "event.provider": "traffic",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "source.bytes": 1432,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "destination.bytes": 233901,
        "network.transport": "tcp",
        "network.protocol": "web-browsing",
        "user.name": "tanaka",
        "user.domain": "corp",
        "observer.name": "PA-HQ",  # from the syslog header: this layout has no Device Name
        "extra": {
            "subtype": "end",
            "rule": "allow-web",
            "nat_source_ip": "198.51.100.2",
            "nat_source_port": 40123,
            "source_zone": "trust",
            "destination_zone": "untrust",
            "session_id": "882133",
            "network.bytes": 235333,
            "event.duration": 3_000_000_000,
            "category": "unknown",
            "source_location": "10.0.0.0-10.255.255.255",
            "destination_location": "Russian Federation",
            "session_end_reason": "tcp-fin",
        },
        "record": 1,
    }


def test_traffic_drop_with_device_name(parsed: Parsed) -> None:
    ev = parsed[0][5]
    assert ev["@timestamp"] == utc_of("2015-09-10T09:02:11+09:00")
    assert (ev["event.action"], ev["event.outcome"]) == ("deny", "failure")
    assert ev["observer.name"] == "PA-OSAKA"  # column 52, no syslog header
    assert "network.protocol" not in ev  # not-applicable
    assert "nat_source_ip" not in ev["extra"]  # 0.0.0.0
    assert ev["extra"]["session_end_reason"] == "policy-deny"


def test_threat_vulnerability(parsed: Parsed) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": utc_of("2015-09-09T11:45:06+09:00"),
        "event.dataset": "panos.threat",
        "event.action": "alert",
        "event.category": "intrusion_detection",
        "event.outcome": "success",
        "event.severity": 2,
        "event.provider": "threat",
        "source.ip": "203.0.113.77",
        "source.port": 80,
        "destination.ip": "10.20.3.41",
        "destination.port": 51234,
        "network.transport": "tcp",
        "network.protocol": "web-browsing",
        "user.name": "tanaka",  # the destination user: there is no source user
        "user.domain": "corp",
        "file.name": "9fkd0",
        "http.response.mime_type": "application/x-shockwave-flash",
        "rule.name": "Adobe Flash Player Exploit Kit Detection",
        "rule.id": "38001",
        "observer.name": "PA-HQ",
        "extra": {
            "subtype": "vulnerability",
            "rule": "allow-web",
            "destination_user": "corp\\tanaka",
            "nat_source_ip": "203.0.113.77",
            "nat_source_port": 80,
            "source_zone": "untrust",
            "destination_zone": "trust",
            "session_id": "882133",
            "severity": "critical",
            "direction": "server-to-client",
            "source_location": "Russian Federation",
            "destination_location": "10.0.0.0-10.255.255.255",
        },
        "record": 2,
    }


def test_threat_url(parsed: Parsed) -> None:
    ev = parsed[0][3]
    assert ev["url.original"] == "qzx7.redirect.example/gate.php?id=19"
    assert ev["url.domain"] == "qzx7.redirect.example"
    assert (ev["event.category"], ev["event.action"], ev["event.outcome"]) == (
        "web",
        "block-url",
        "failure",
    )
    assert ev["rule.id"] == "9999" and "rule.name" not in ev
    assert ev["rule.category"] == "malware"
    assert ev["user_agent.original"].startswith("Mozilla/4.0 (compatible; MSIE 8.0;")
    assert ev["http.request.referrer"] == "http://news.example.jp/top.html"
    assert ev["http.request.method"] == "get"
    assert ev["event.severity"] == 6


def test_threat_wildfire_rfc5424(parsed: Parsed) -> None:
    ev = parsed[0][4]
    assert ev["event.category"] == "malware"
    assert ev["file.name"] == "9fkd0.exe"
    assert ev["file.hash"].startswith("0f1e2d3c")
    assert (ev["rule.name"], ev["rule.id"]) == ("Windows Executable (EXE)", "52020")
    assert ev["extra"]["file_type"] == "pe"


def test_threat_mail_quoted_subject(parsed: Parsed) -> None:
    ev = parsed[0][7]
    assert ev["email.subject"] == 'Invoice 0909, "overdue"'
    assert ev["email.from.address"] == "invoice@mail.example"
    assert ev["email.to.address"] == "tanaka@corp.example.jp"
    assert ev["file.name"] == "請求書_0909.zip"
    assert (ev["rule.name"], ev["rule.id"]) == ("Virus/Win32.WGeneric.abcd", "2104")
    assert "rule.category" not in ev  # "any"


def test_system_config_other(parsed: Parsed) -> None:
    rows = parsed[0]
    assert rows[8] == BASE | {
        "@timestamp": utc_of("2015-09-09T12:00:01+09:00"),
        "event.dataset": "panos.system",
        "event.code": "globalprotectgateway-auth-fail",
        "event.action": "vpn-login",
        "event.category": "authentication",
        "event.outcome": "failure",
        "event.severity": 4,
        "event.provider": "system",
        "message": "GlobalProtect gateway user authentication failed. Login from: "
        "198.51.100.9, User name: admin, Reason: Authentication failed: Invalid username "
        "or password.",
        "source.ip": "198.51.100.9",
        "user.name": "admin",
        "observer.name": "PA-HQ",
        "observer.type": "vpn",
        "extra": {
            "subtype": "globalprotect",
            "object": "GP-GW",
            "module": "general",
            "severity": "medium",
            "reason": "Authentication failed: Invalid username or password",
        },
        "record": 8,
    }
    assert (rows[9]["event.dataset"], rows[9]["event.action"]) == ("panos.config", "set")
    assert (rows[9]["user.name"], rows[9]["source.ip"]) == ("admin", "10.0.0.5")
    assert rows[9]["event.outcome"] == "success"
    assert rows[10]["event.dataset"] == "panos.userid"
    assert rows[10]["message"].startswith("vsys1,10.20.3.41,corp\\tanaka,")


@pytest.mark.parametrize("workers", [1, 2])
def test_small_chunks_and_crlf(tmp_path: Path, workers: int) -> None:
    assert_small_chunks_match(
        FORMAT,
        LOG,
        tmp_path / "pan.log",
        chunk_bytes=700,
        by_record=True,
        workers=workers,
        tz="Asia/Tokyo",
    )


def test_utc_source_and_dst_zone(tmp_path: Path) -> None:
    # a chunk spanning a DST change takes the slow, exact path
    path = tmp_path / "dst.log"
    base = LOG.read_text().splitlines()[4]
    lines = [
        base.replace("2015/09/10 09:02:11", "2015/03/08 01:30:00"),
        base.replace("2015/09/10 09:02:11", "2015/03/08 03:30:00"),
    ]
    path.write_text("\n".join(lines) + "\n")
    rows = rows_by_record(parse_file(FORMAT, path, tz="America/New_York")[0])
    assert rows[1]["@timestamp"] == utc_of("2015-03-08T06:30:00+00:00")
    assert rows[2]["@timestamp"] == utc_of("2015-03-08T07:30:00+00:00")
    rows = rows_by_record(parse_file(FORMAT, path, tz="UTC")[0])
    assert rows[1]["@timestamp"] == utc_of("2015-03-08T01:30:00+00:00")


def test_web_export_header_is_not_a_record() -> None:
    table, rejects = parse_file(FORMAT, EXPORT, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert rejects == []
    assert sorted(rows) == [2, 3]
    assert (rows[2]["source.ip"], rows[2]["source.bytes"]) == ("10.20.3.41", 1432)
    assert "observer.name" not in rows[2]  # no syslog header, no Device Name column


def test_sniff() -> None:
    for path in (LOG, EXPORT):
        assert FORMAT.sniff(text_sample(path))
        assert registry.sniff(text_sample(path)) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "panos")
    assert not FORMAT.sniff(Sample(b"a,b,c\n", "a,b,c\n", "x.csv"))


def test_read_times_checks_the_calendar() -> None:
    text = b"2015/09/31 10:00:002016/02/29 23:59:592015/02/29 00:00:002015/12/31 23:59:59"
    body = np.frombuffer(text, np.uint8)
    st = np.array([0, 19, 38, 57])
    secs, ok = read_times(body, st, st + 19)
    assert ok.tolist() == [False, True, False, True]
    assert datetime(1970, 1, 1) + timedelta(seconds=int(secs[3])) == datetime(
        2015, 12, 31, 23, 59, 59
    )


GLOBALPROTECT = DATA / "panos" / "globalprotect.log"


def test_globalprotect_log_follows_the_remote_access_interface() -> None:
    table, rejects = parse_file(FORMAT, GLOBALPROTECT, tz="Asia/Tokyo", year_hint=2024)
    rows = rows_by_record(table)
    assert [(r.record, r.reason) for r in rejects] == [
        (8, "GLOBALPROTECT record with 10 fields; expected at least 29")
    ]
    gp = [rows[k] for k in (1, 2, 3, 4)]
    assert {(r["event.dataset"], r["observer.type"]) for r in gp} == {
        ("panos.globalprotect", "vpn")
    }
    assert [(r["event.action"], r["event.outcome"]) for r in gp] == [
        ("vpn-login", "failure"),
        ("vpn-login", "success"),
        ("vpn-session-start", "success"),
        ("vpn-session-end", "success"),
    ]
    # Generated Time is device-local without offset: read in the source's zone
    assert gp[0]["@timestamp"] == utc_of("2024-02-03T02:10:01+09:00")
    assert (gp[0]["user.domain"], gp[0]["user.name"], gp[0]["source.ip"]) == (
        "corp",
        "admin",
        "185.220.101.5",
    )
    assert gp[0]["message"] == "Authentication failed: Invalid username or password"
    assert "host.ip" not in gp[0]  # 0.0.0.0: no tunnel address yet
    assert (gp[2]["source.ip"], gp[2]["host.ip"]) == ("185.220.101.5", "10.30.0.12")
    assert gp[2]["extra"]["client.machine_name"] == "LAPTOP-X1"
    assert gp[2]["extra"]["client.os_version"] == "Microsoft Windows 10 Pro , 64-bit"
    assert gp[1]["observer.name"] == "PA-EDGE"
    assert (gp[3]["extra"]["reason"], gp[3]["extra"]["login_duration"]) == ("client logout", 9007)


def test_globalprotect_in_older_system_logs() -> None:
    table, _ = parse_file(FORMAT, GLOBALPROTECT, tz="Asia/Tokyo", year_hint=2024)
    rows = rows_by_record(table)
    login, config, logout = rows[5], rows[6], rows[7]
    assert (login["event.action"], login["event.outcome"], login["source.ip"]) == (
        "vpn-login",
        "success",
        "198.51.100.9",
    )
    assert (login["user.domain"], login["user.name"]) == ("corp", "suzuki")
    assert (config["event.action"], config["host.ip"], config["user.name"]) == (
        "vpn-session-start",
        "10.30.0.40",
        "suzuki",
    )
    assert (logout["event.action"], logout["extra"]["reason"]) == (
        "vpn-session-end",
        "client logout",
    )
    assert {r["observer.type"] for r in (login, config, logout)} == {"vpn"}
    # other SYSTEM and CONFIG rows stay firewall rows
    base, _ = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    others = [
        r for r in rows_by_record(base).values() if r["extra"].get("subtype") != "globalprotect"
    ]
    assert {r["observer.type"] for r in others} == {"firewall"}


def test_globalprotect_small_chunks(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, GLOBALPROTECT, tmp_path / "gp.log", chunk_bytes=600, by_record=True,
        workers=2, tz="Asia/Tokyo", year_hint=2024,
    )  # fmt: skip
