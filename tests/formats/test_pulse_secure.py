from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DATA,
    Rows,
    assert_claims_no_other_fixture,
    assert_registry_routes,
    assert_small_chunks_match,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.pulse_secure import FORMAT
from ashiato.formats.testing import parse_file

FOLDER = DATA / "pulse_secure"


def parsed(name: str, tz: str = "Asia/Tokyo") -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, FOLDER / name, tz=tz)
    return rows_by_record(table), [(r.record, r.reason) for r in rejects]


def test_standard_syslog_login_sequence() -> None:
    rows, rejects = parsed("standard.log")
    assert rejects == [(10, "not a Connect Secure event log line")]
    # the device's own time, no offset: JST here, whatever the syslog header says
    assert rows[1]["@timestamp"] == utc_of("2024-02-03T02:10:01+09:00")
    got = [
        (r.get("event.code"), r.get("event.action"), r.get("event.outcome"), r.get("user.name"))
        for _, r in sorted(rows.items())
    ]
    assert got == [
        ("AUT24327", "vpn-login", "failure", "admin"),
        ("AUT23457", "vpn-login", "failure", "admin"),
        ("AUT24326", "vpn-primary-auth", "success", "tanaka"),
        ("AUT24414", "vpn-login", "success", "tanaka"),
        ("NWC23464", "vpn-session-start", "success", "tanaka"),
        ("NWC23465", "vpn-session-end", "success", "tanaka"),
        (None, "vpn-session-end", "success", "tanaka"),
        ("AUT22673", "vpn-logout", "success", "tanaka"),
        ("SYS10049", None, None, None),  # the System user is no account
    ]
    assert rows[2]["extra"] == {
        "realm": "Users", "auth_server": "AD-Corp (Active Directory)", "reason": "Failed",
    }  # fmt: skip
    login = rows[4]
    assert (login["source.ip"], login["observer.name"], login["observer.type"]) == (
        "185.220.101.5", "ics01", "vpn",
    )  # fmt: skip
    assert login["user_agent.original"].startswith("Pulse-Secure/9.1.15")
    start = rows[5]
    assert (start["host.ip"], start["extra"]["client.hostname"]) == ("10.200.200.17", "LAPTOP-X1")
    closed = rows[7]
    assert (closed["source.bytes"], closed["destination.bytes"]) == (2147483648, 10485760)
    assert "source.ip" not in rows[9]  # 127.0.0.1 is the appliance itself


def test_welf_and_saved_log() -> None:
    welf, rejects = parsed("welf.log")
    assert rejects == []
    assert (welf[1]["event.action"], welf[1]["user.name"], welf[1]["source.ip"]) == (
        "vpn-login", "tanaka", "185.220.101.5",
    )  # fmt: skip
    assert welf[1]["@timestamp"] == utc_of("2024-02-03T02:11:40+09:00")
    end = welf[2]
    assert (end["event.action"], end["host.ip"]) == ("vpn-session-end", "10.200.200.17")
    assert (end["source.bytes"], end["destination.bytes"]) == (2147483648, 10485760)
    saved, _ = parsed("saved.log", tz="UTC")
    assert saved[1]["@timestamp"] == utc_of("2024-02-03T02:11:40+00:00")
    assert (saved[2]["event.action"], saved[2]["host.ip"]) == ("vpn-session-start", "10.200.200.17")


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, FOLDER / "standard.log", tmp_path / "crlf.log", chunk_bytes=300,
        by_record=True, tz="Asia/Tokyo",
    )  # fmt: skip


def test_sniff() -> None:
    for path in sorted(FOLDER.iterdir()):
        assert FORMAT.sniff(text_sample(path)), path
    assert_registry_routes(sorted(FOLDER.iterdir()), "pulse_secure")
    assert_claims_no_other_fixture(FORMAT, "pulse_secure")
    assert not FORMAT.sniff(Sample(b"a - b - c\n", "a - b - c\n", "x.log"))


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus() -> None:
    from helpers import assert_claims_nothing_in_the_public_corpus

    assert_claims_nothing_in_the_public_corpus(FORMAT)
