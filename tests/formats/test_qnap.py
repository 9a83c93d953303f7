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
    utc_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.qnap import FORMAT
from ashiato.formats.testing import parse_file

FOLDER = DATA / "qnap"


def parsed(name: str) -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, FOLDER / name, tz="Asia/Tokyo", year_hint=2024)
    return rows_by_record(table), [(r.record, r.reason) for r in rejects]


def test_syslog_connection_log() -> None:
    rows, rejects = parsed("syslog.log")
    assert rejects == [(7, "no syslog time")]
    assert rows[1]["@timestamp"] == utc_of("2024-02-03T02:10:01+09:00")
    got = [
        (r.get("event.action"), r.get("event.outcome"), r.get("user.name"), r.get("source.ip"))
        for _, r in sorted(rows.items())
    ]
    assert got == [
        ("login", "failure", "admin", "185.220.101.5"),
        ("login", "success", "tanaka", "10.50.0.12"),
        ("file-rename", "success", "tanaka", "10.50.0.12"),
        ("file-write", "success", "tanaka", "10.50.0.12"),
        ("file-delete", "success", "tanaka", "10.50.0.12"),
        (None, None, "admin", "185.220.101.5"),
    ]
    assert (rows[2]["network.protocol"], rows[2]["user.domain"]) == ("smb", "CORP")
    assert rows[2]["extra"]["client.hostname"] == "FS01"
    assert rows[1]["extra"]["resource"] == "Administration" and "file.path" not in rows[1]
    rename = rows[3]
    assert rename["file.path"] == "/Public/見積書.docx.encrypted"
    assert rename["extra"]["file.old_path"] == "/Public/見積書.docx"
    for row in rows.values():
        assert (row["observer.type"], row["observer.vendor"], row["host.name"]) == (
            "nas", "qnap", "nas02",
        )  # fmt: skip
    event = rows[6]
    assert event["event.dataset"] == "qnap.event"
    assert event["message"].startswith("[Snapshot] Deleted snapshot")
    assert event["extra"] == {"application": "Storage & Snapshots", "category": "Snapshot"}


def test_exported_csv() -> None:
    rows, rejects = parsed("connection.csv")
    assert rejects == [(4, "Date/Time is not YYYY/MM/DD HH:MM:SS")]
    assert rows[2]["@timestamp"] == utc_of("2024-02-03T02:10:01+09:00")
    assert (rows[2]["event.action"], rows[2]["event.outcome"]) == ("login", "failure")
    assert (rows[3]["event.action"], rows[3]["file.path"]) == ("file-delete", "/Public/見積書.docx")
    events, rejects = parsed("event.csv")
    assert rejects == []
    assert events[2]["message"] == (
        '[Snapshot] Deleted snapshot "GMT+09_2024-02-02_0100" of volume "DataVol1".'
    )
    assert events[2]["extra"]["severity_text"] == "Warning"


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    assert_small_chunks_match(
        FORMAT, FOLDER / "syslog.log", tmp_path / "crlf.log", chunk_bytes=300,
        by_record=True, tz="Asia/Tokyo", year_hint=2024,
    )  # fmt: skip


def test_sniff() -> None:
    assert_registry_routes(sorted(FOLDER.iterdir()), "qnap")
    assert_claims_no_other_fixture(FORMAT, "qnap")
    text = "Type,Date,Time\nA,2024/02/03,01:00:00\n"
    assert not FORMAT.sniff(Sample(text.encode(), text, "x.csv"))


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus() -> None:
    from helpers import assert_claims_nothing_in_the_public_corpus

    assert_claims_nothing_in_the_public_corpus(FORMAT)
