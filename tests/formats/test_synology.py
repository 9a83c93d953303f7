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
from ashiato.formats.synology import FORMAT
from ashiato.formats.testing import parse_file

FOLDER = DATA / "synology"
SYSLOG = FOLDER / "syslog.log"


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, SYSLOG, tz="Asia/Tokyo", year_hint=2024)
    return rows_by_record(table), rejects


def test_connection_log(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert [(r.record, r.reason) for r in rejects] == [
        (12, "no time: neither a syslog header nor Log Center's")
    ]
    # RFC 3164 header: no zone, read in the source's (JST), year from the hint
    assert rows[1]["@timestamp"] == utc_of("2024-02-03T02:20:11+09:00")
    logins = [
        (r["event.outcome"], r["user.name"], r["source.ip"], r["network.protocol"])
        for _, r in sorted(rows.items()) if r.get("event.action") == "login"
    ]  # fmt: skip
    assert logins == [
        ("failure", "admin", "185.220.101.5", "dsm"),
        ("failure", "admin", "185.220.101.5", "ssh"),
        ("success", "tanaka", "10.50.0.12", "smb"),
    ]
    assert rows[1]["extra"]["auth_method"] == "password"
    assert rows[4]["user.domain"] == "CORP"
    assert (rows[3]["event.action"], rows[3]["source.ip"]) == ("source-blocked", "185.220.101.5")
    assert rows[5]["file.share"] == "経理"
    for row in rows.values():
        assert (row["observer.type"], row["observer.vendor"]) == ("nas", "synology")
        assert (row["host.name"], row["observer.name"]) == ("nas01", "NAS01")
    logout = rows[10]
    assert logout["event.action"] == "logout"
    # uploaded by the user / downloaded by the user
    assert (logout["source.bytes"], logout["destination.bytes"]) == (10 * 2**20, 2 * 2**30)


def test_file_transfer_log(parsed: Parsed) -> None:
    rows = parsed[0]
    got = [(rows[k]["event.action"], rows[k]["file.path"]) for k in (6, 7, 8, 9)]
    assert got == [
        ("file-read", "/経理/2023/決算.xlsx"),
        ("file-write", "/経理/2023/決算.xlsx.lockbit"),
        ("file-rename", "/経理/2023/予算.xlsx.lockbit"),
        ("file-delete", "/経理/2023/予算.xlsx"),
    ]
    assert rows[8]["extra"]["file.old_path"] == "/経理/2023/予算.xlsx"
    assert {rows[k]["event.dataset"] for k in (6, 7, 8, 9)} == {"synology.file_transfer"}
    assert rows[6]["file.size"] == int(24.23 * 1024)
    assert rows[7]["file.size"] == int(1.5 * 2**20)
    assert "file.size" not in rows[9]  # "NA"
    assert (rows[6]["user.name"], rows[6]["user.domain"]) == ("tanaka", "corp")
    assert rows[7]["source.ip"] == "10.50.0.12"


def test_rfc5424_and_other_messages(parsed: Parsed) -> None:
    row = parsed[0][11]
    assert row["@timestamp"] == utc_of("2024-02-03T04:10:00+09:00")
    assert (row["event.dataset"], row["message"]) == (
        "synology.system", "System started to boot up.",
    )  # fmt: skip
    assert "event.action" not in row


def test_log_center_saved_log() -> None:
    table, rejects = parse_file(FORMAT, FOLDER / "saved.log", tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert rejects == []
    assert rows[1]["@timestamp"] == utc_of("2024-02-03T02:20:11+09:00")
    assert (rows[1]["event.outcome"], rows[1]["event.severity"]) == ("failure", 4)
    assert (rows[2]["event.outcome"], rows[2]["user.name"]) == ("success", "tanaka")


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, SYSLOG, tmp_path / "crlf.log", chunk_bytes=400, by_record=True,
        tz="Asia/Tokyo", year_hint=2024,
    )  # fmt: skip


def test_sniff() -> None:
    for path in sorted(FOLDER.iterdir()):
        assert FORMAT.sniff(text_sample(path)), path
    assert_registry_routes(sorted(FOLDER.iterdir()), "synology")
    assert_claims_no_other_fixture(FORMAT, "synology")
    line = "<14>Feb  3 04:00:00 host sshd[1]: Accepted password for a from b\n"
    assert not FORMAT.sniff(Sample(line.encode(), line, "x.log"))


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus() -> None:
    from helpers import assert_claims_nothing_in_the_public_corpus

    assert_claims_nothing_in_the_public_corpus(FORMAT)
