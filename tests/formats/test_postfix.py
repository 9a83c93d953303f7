from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from helpers import DATA, rows_by_record, sample_of

from ashiato.formats import postfix
from ashiato.formats.postfix import FORMAT
from ashiato.formats.testing import parse_file

MAILLOG = DATA / "postfix" / "maillog"

MX = {
    "event.dataset": "postfix.mail",
    "observer.name": "mx01",
    "observer.type": "mail",
    "observer.vendor": "postfix",
    "evidence_id": "test",
}


def jst(y: int, mo: int, d: int, h: int, mi: int, s: int) -> datetime:
    """A JST wall-clock time as the UTC instant the events carry."""
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[int, dict[str, Any]], list[Any]]:
    table, rejects = parse_file(FORMAT, MAILLOG, tz="Asia/Tokyo", year_hint=2015)
    return rows_by_record(table), rejects


def test_counts_and_rejects(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows, rejects = parsed
    # 24 lines: 3 messages (one event each, on their first line), 7 single-line events
    # and 1 malformed line
    assert sorted(rows) == [1, 2, 6, 9, 10, 11, 17, 18, 23, 24]
    assert [(r.record, r.reason, r.raw) for r in rejects] == [
        (
            16,
            "not a syslog line (expected 'Mmm dd hh:mm:ss host program[pid]: text')",
            b"this line is not syslog at all",
        )
    ]


def test_message_joined_by_queue_id(parsed: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows, _ = parsed
    assert rows[2] == MX | {
        "record": 2,
        "@timestamp": jst(2015, 9, 9, 11, 20, 2),
        "event.category": "email",
        "event.action": "sent",
        "event.outcome": "success",
        "event.provider": "postfix",
        "network.protocol": "smtp",
        "source.ip": "203.0.113.90",
        "source.bytes": 48211,
        "destination.domain": "10.0.0.30",
        "destination.ip": "10.0.0.30",
        "destination.port": 25,
        "email.from.address": "invoice@mail.example",
        "email.to.address": "tanaka@corp.example.jp",
        "email.message_id": "20150909022001.77@mail.example",
        "email.subject": "請求書送付のご案内",
        "extra": {
            "postfix.queue_id": "4A1B2C3D4E",
            "postfix.nrcpt": "1",
            "postfix.delay": "1.2",
            "postfix.delays": "0.1/0/0.3/0.8",
            "postfix.dsn": "2.0.0",
            "postfix.status_detail": "sent (250 2.0.0 Queued)",
            "postfix.relay": "10.0.0.30[10.0.0.30]:25",
            "postfix.lines": [3, 4, 5, 7, 8],
            "postfix.notes": [
                "cleanup: warning: header Subject: "
                "=?ISO-2022-JP?B?GyRCQEE1YT1xQXdJVSROJDQwRkZiGyhC?="
                " from unknown[203.0.113.90]; from=<invoice@mail.example>"
                " to=<tanaka@corp.example.jp> proto=ESMTP helo=<mail.example>"
            ],
        },
    }


def test_bounce_and_unfinished_message(
    parsed: tuple[dict[int, dict[str, Any]], list[Any]],
) -> None:
    rows, _ = parsed
    assert rows[18] == MX | {
        "record": 18,
        "@timestamp": jst(2015, 9, 9, 11, 25, 0),
        "event.category": "email",
        "event.action": "bounced",
        "event.outcome": "failure",
        "event.provider": "postfix",
        "network.protocol": "smtp",
        "source.ip": "203.0.113.91",
        "source.port": 40122,
        "source.bytes": 900,
        "email.from.address": "x@mail.example",
        "email.to.address": "nobody@corp.example.jp",
        "email.message_id": "5B6C7D8E9F",
        "extra": {
            "postfix.queue_id": "5B6C7D8E9F",
            "source.domain": "mail.example",
            "postfix.nrcpt": "1",
            "postfix.delay": "0.5",
            "postfix.delays": "0.1/0/0/0.4",
            "postfix.dsn": "5.1.1",
            "postfix.status_detail": 'bounced (unknown user: "nobody")',
            "postfix.ndr_queue_id": "6A7B8C9D0E",
            "postfix.relay": "local",
            "postfix.lines": [19, 20, 21, 22],
        },
    }
    # locally submitted, one recipient sent and one deferred, never removed: emitted at
    # the end of the file and marked incomplete
    msg = rows[11]
    assert msg["event.action"] == "deferred"
    assert msg["event.outcome"] == "unknown"
    assert msg["email.from.address"] == "sato@corp.example.jp"
    assert msg["email.to.address"] == "a@partner.example,b@partner.example"
    assert msg["destination.domain"] == "mx.partner.example"
    assert "network.protocol" not in msg
    assert msg["extra"]["postfix.complete"] is False
    assert msg["extra"]["postfix.uid"] == "1000"
    assert msg["extra"]["postfix.recipient_status"] == {
        "a@partner.example": "sent",
        "b@partner.example": "deferred",
    }


def test_noqueue_reject_and_small_lines(
    parsed: tuple[dict[int, dict[str, Any]], list[Any]],
) -> None:
    rows, _ = parsed
    assert rows[9] == MX | {
        "record": 9,
        "@timestamp": jst(2015, 9, 9, 11, 21, 10),
        "event.category": "email",
        "event.action": "reject",
        "event.outcome": "failure",
        "event.provider": "postfix/smtpd",
        "network.protocol": "smtp",
        "message": "554 5.7.1 <spam@corp.example.jp>: Relay access denied",
        "source.ip": "198.51.100.23",
        "email.from.address": "bulk@spam.example",
        "email.to.address": "spam@corp.example.jp",
        "extra": {
            "postfix.stage": "RCPT",
            "postfix.proto": "ESMTP",
            "postfix.helo": "spam.example",
        },
    }
    assert rows[1] == MX | {
        "record": 1,
        "@timestamp": jst(2015, 9, 9, 11, 20, 1),
        "event.action": "connect",
        "event.category": "network",
        "event.provider": "postfix/smtpd",
        "message": "connect from unknown[203.0.113.90]",
        "source.ip": "203.0.113.90",
    }
    assert rows[10]["event.action"] == "sasl-auth-failed"
    assert rows[10]["event.outcome"] == "failure"
    assert rows[10]["source.ip"] == "203.0.113.44"
    assert rows[10]["event.provider"] == "postfix/submission/smtpd"
    # another program's line in the maillog is kept, not rejected
    assert rows[17] == {
        "event.dataset": "postfix.mail",
        "evidence_id": "test",
        "record": 17,
        "@timestamp": jst(2015, 9, 9, 11, 24, 0),
        "observer.name": "mx01",
        "observer.type": "mail",
        "event.provider": "dovecot",
        "message": "imap-login: Login: user=<tanaka>, method=PLAIN, rip=10.20.3.41, lip=10.0.0.25",
    }
    assert rows[23]["event.action"] == "statistics"


def test_year_rolls_over_in_december(
    parsed: tuple[dict[int, dict[str, Any]], list[Any]],
) -> None:
    rows, _ = parsed
    assert rows[23]["@timestamp"] == jst(2015, 12, 31, 23, 59, 59)
    assert rows[24]["@timestamp"] == jst(2016, 1, 1, 0, 0, 5)


def test_open_messages_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postfix, "MAX_OPEN", 1)
    table, rejects = parse_file(FORMAT, MAILLOG, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    # the same events; a message pushed out early is marked incomplete
    assert sorted(rows) == [1, 2, 6, 9, 10, 11, 17, 18, 23, 24]
    assert len(rejects) == 1
    assert rows[2]["event.action"] == "sent"


def test_sniff() -> None:
    assert FORMAT.sniff(sample_of(MAILLOG))
    others = [p for p in DATA.rglob("*") if p.is_file() and p.parent.name != "postfix"]
    for path in others:
        assert not FORMAT.sniff(sample_of(path)), path


def test_sniff_rejects_plain_syslog(tmp_path: Path) -> None:
    path = tmp_path / "messages"
    path.write_text(
        "Sep  9 11:20:01 web01 sshd[812]: Accepted publickey for admin from 10.0.0.5 port 50122\n"
        "Sep  9 11:20:02 web01 CRON[900]: (root) CMD (run-parts /etc/cron.hourly)\n"
        "Sep  9 11:20:03 web01 kernel: [12345.678] eth0: link up\n"
        "Sep  9 11:20:04 web01 sshd[813]: Disconnected from 10.0.0.5 port 50122\n",
        "utf-8",
    )
    assert not FORMAT.sniff(sample_of(path))
    prose = tmp_path / "readme.txt"
    prose.write_text("postfix/smtpd is the SMTP server.\nIt logs to maillog.\n", "utf-8")
    assert not FORMAT.sniff(sample_of(prose))


@pytest.mark.corpus
def test_corpus_syslogs_are_not_postfix(shared: Path) -> None:
    for path in [
        shared / "loghub" / "Linux" / "Linux_2k.log",
        shared / "loghub" / "OpenSSH" / "OpenSSH_2k.log",
    ]:
        if path.is_file():
            assert not FORMAT.sniff(sample_of(path)), path
