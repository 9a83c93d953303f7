from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DATA,
    Parsed,
    assert_claims_no_other_fixture,
    assert_registry_routes,
    assert_small_chunks_match,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.sonicwall import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "sonicwall" / "sonicwall.log"


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_rejects(parsed: Parsed) -> None:
    assert [(r.record, r.reason) for r in parsed[1]] == [
        (7, "no id=firewall: not a SonicWall log line"),
        (8, 'no readable time="YYYY-MM-DD HH:MM:SS"'),
    ]


def test_ssl_vpn_logins(parsed: Parsed) -> None:
    rows = parsed[0]
    logins = [
        (r["event.code"], r["event.outcome"], r["user.name"], r["source.ip"])
        for _, r in sorted(rows.items()) if r.get("event.action") == "vpn-login"
    ]  # fmt: skip
    assert logins == [
        ("32", "failure", "admin", "185.220.101.5"),
        ("745", "failure", "suzuki", "185.220.101.5"),
        ("1080", "success", "tanaka", "185.220.101.5"),
    ]
    assert all(rows[k]["observer.type"] == "vpn" for k in (1, 2, 3))
    assert rows[2]["user.domain"] == "CORP"
    ok = rows[3]
    # device-local time without zone: read in the source's zone (JST)
    assert ok["@timestamp"] == utc_of("2024-02-03T02:11:40+09:00")
    assert (ok["observer.name"], ok["observer.vendor"]) == ("0040103C11A2", "sonicwall")
    assert (ok["destination.ip"], ok["destination.port"]) == ("203.0.113.1", 4433)
    assert ok["event.category"] == "authentication"
    assert rows[1]["extra"]["note"] == "Attempted from SSL VPN"


def test_other_messages(parsed: Parsed) -> None:
    rows = parsed[0]
    assert (rows[4]["event.action"], rows[4]["observer.type"]) == ("logout", "firewall")
    # behind a syslog header too
    assert rows[4]["@timestamp"] == utc_of("2024-02-03T04:41:50+09:00")
    closed = rows[5]
    assert closed["@timestamp"] == utc_of("2024-02-03T04:42:00+00:00")  # " UTC"
    assert (closed["source.bytes"], closed["destination.bytes"]) == (2147483648, 1048576)
    assert closed["network.transport"] == "tcp" and "event.action" not in closed
    assert closed["extra"]["source_host"] == "fs01"
    assert closed["extra"]["appName"] == "General HTTPS"
    assert (rows[6]["event.action"], rows[6]["event.outcome"]) == ("admin-login", "failure")
    assert rows[6]["event.severity"] == 4


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, LOG, tmp_path / "crlf.log", chunk_bytes=300, by_record=True, tz="Asia/Tokyo"
    )


def test_sniff() -> None:
    assert FORMAT.sniff(text_sample(LOG))
    assert_registry_routes([LOG], "sonicwall")
    assert_claims_no_other_fixture(FORMAT, "sonicwall")
    line = 'id=firewall time="2024-02-03 02:11:40" vpn=ics01 realm="Users" msg="x"\n'
    assert not FORMAT.sniff(Sample(line.encode(), line, "welf.log"))


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus() -> None:
    from helpers import assert_claims_nothing_in_the_public_corpus

    assert_claims_nothing_in_the_public_corpus(FORMAT)
