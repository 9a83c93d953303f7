from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DATA,
    Parsed,
    assert_claims_no_other_fixture,
    assert_claims_nothing_in_the_public_corpus,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.analysis import identity
from ashiato.analysis.context import Context
from ashiato.case import Case
from ashiato.formats import registry
from ashiato.formats.isc_dhcpd import FORMAT
from ashiato.formats.testing import parse_file
from ashiato.ingest import Options, ingest

LOG = DATA / "isc_dhcpd" / "dhcpd.log"


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo", year_hint=2015)
    return rows_by_record(table), rejects


def test_sniffed_and_nothing_else_claimed() -> None:
    assert registry.sniff(text_sample(LOG)) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "isc_dhcpd")


def test_ack_release_nak(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert not rejects and len(rows) == 13
    ack = rows[4]
    assert ack["@timestamp"] == utc_of("2015-09-10T08:40:11+09:00")
    assert (ack["event.action"], ack["host.ip"], ack["host.mac"], ack["host.hostname"]) == (
        "dhcpack", "10.31.3.25", "00:15:5d:0a:01:12", "PC-OSK-0112")  # fmt: skip
    assert ack["observer.name"] == "dhcp01" and ack["extra"] == {"dhcp.via": "eth0"}
    rel = rows[10]
    assert (rel["event.action"], rel["host.ip"], rel["host.mac"]) == (
        "dhcprelease", "10.31.3.25", "00:15:5d:0a:01:12")  # fmt: skip
    nak = rows[6]
    assert (nak["event.action"], nak["host.ip"], nak.get("host.hostname")) == (
        "dhcpnak", "10.31.3.25", None)  # fmt: skip
    assert rows[1]["event.action"] == "dhcpdiscover" and rows[1].get("host.ip") is None
    assert rows[12]["message"] == "Wrote 3 leases to leases file."
    assert rows[13]["extra"] == {"dhcp.via": "10.31.0.1"}  # relayed


def test_leases_from_isc(tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    ingest(case, [LOG], Options(tz="Asia/Tokyo", year=2015))
    ident = identity.build(Context(events=case.ibis().table("events"), tz="Asia/Tokyo"))
    at = lambda hhmm: utc_of(f"2015-09-10T{hhmm}:00+09:00")  # noqa: E731
    # the NAK to another PC ends nothing; the release does; the address then changes hands
    assert ident.at("10.31.3.25", at("09:30")).host == "pc-osk-0112"
    assert ident.at("10.31.3.25", at("13:40")).host is None
    assert ident.at("10.31.3.25", at("14:30")).host == "pc-osk-0245"
    assert ident.at("10.31.3.26", at("10:00")).host == "pc-osk-0245"


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus(shared: Path) -> None:
    assert_claims_nothing_in_the_public_corpus(FORMAT)
