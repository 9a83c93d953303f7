from __future__ import annotations

import pytest
from helpers import (
    DATA,
    Parsed,
    assert_claims_no_other_fixture,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats import registry
from ashiato.formats.exchange_tracking import FORMAT
from ashiato.formats.testing import parse_file

LOG = DATA / "exchange_tracking" / "MSGTRK2015090902-1.LOG"
EXPORT = DATA / "exchange_tracking" / "tracking_export.csv"

BASE = {
    "event.dataset": "exchange.tracking", "event.category": "email", "observer.type": "mail",
    "observer.vendor": "microsoft", "evidence_id": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [6, 7, 8, 9, 10]  # 1-5 header lines, 11 blank
    assert [(r.record, r.reason) for r in rejects] == [
        (12, "expected 30 fields (as in #Fields:), got 5"),
        (13, "date-time is not a readable time"),
    ]


def test_receive_from_internet(parsed: Parsed) -> None:
    assert parsed[0][6] == BASE | {
        "@timestamp": utc_of("2015-09-09T02:20:03.114+00:00"),
        "event.code": "RECEIVE",
        "event.action": "receive",
        "event.outcome": "success",
        "event.provider": "SMTP",
        "source.ip": "203.0.113.90",
        "destination.ip": "10.0.0.30",
        "network.protocol": "smtp",
        "email.from.address": "invoice@mail.example",
        "email.to.address": "tanaka@corp.example.jp",
        "email.subject": "Invoice 0909, overdue",
        "email.message_id": "<20150909022001.77@mail.example>",
        "observer.name": "EX01",
        "extra": {
            "client-hostname": "mail.example",
            "server-hostname": "EX01",
            "source-context": "08D2B8A1C0DEAD01;250 2.0.0 OK",
            "connector-id": "EX01\\Default Frontend EX01",
            "internal-message-id": "77112233",
            "network-message-id": "5f1e2d3c-0000-4000-8000-000000000001",
            "total-bytes": 48211,
            "recipient-count": 1,
            "return-path": "invoice@mail.example",
            "directionality": "Incoming",
            "original-client-ip": "203.0.113.90",
            "original-server-ip": "10.0.0.30",
            "transport-traffic-type": "Email",
        },
        "record": 6,
    }


def test_recipients_send_and_fail(parsed: Parsed) -> None:
    rows = parsed[0]
    assert rows[7]["event.action"] == "deliver" and "network.protocol" not in rows[7]
    assert rows[8]["email.to.address"] == (
        "suzuki@corp.example.jp,sato@corp.example.jp,ext@partner.example"
    )
    assert rows[8]["email.subject"] == "請求書の件"
    # SEND: the next hop is the destination; the sending server wrote the line
    assert (rows[9]["observer.name"], rows[9]["destination.domain"]) == (
        "EX01",
        "mx.partner.example",
    )
    assert (rows[10]["event.outcome"], rows[10]["event.provider"]) == ("failure", "DSN")
    assert rows[10]["email.subject"] == 'test "quoted" subject'
    assert rows[10]["extra"]["recipient-status"] == "550 5.1.1 RESOLVER.ADR.RecipNotFound"


def test_powershell_export() -> None:
    table, rejects = parse_file(FORMAT, EXPORT, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert rejects == []
    ev = rows[3]
    assert ev["@timestamp"] == utc_of("2015-09-09T11:20:03+09:00")  # local, no offset
    assert (ev["event.code"], ev["email.from.address"]) == ("RECEIVE", "invoice@mail.example")
    assert "email.to.address" not in ev  # Export-Csv wrote System.String[]
    assert ev["extra"]["export_lost"] == ["recipient-address", "custom-data"]
    assert ev["observer.name"] == "EX01"


def test_sniff() -> None:
    for path in (LOG, EXPORT):
        assert FORMAT.sniff(text_sample(path, "utf-8-sig"))
        assert registry.sniff(text_sample(path, "utf-8-sig")) is FORMAT
    assert_claims_no_other_fixture(FORMAT, "exchange_tracking")
