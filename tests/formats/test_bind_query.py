from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from ashiato.evidence.encoding import detect
from ashiato.formats import registry
from ashiato.formats.base import Sample
from ashiato.formats.bind_query import FORMAT
from ashiato.formats.testing import parse_file

DATA = Path(__file__).resolve().parents[1] / "data"
LOG = DATA / "bind_query" / "query.log"

BASE = {
    "event.dataset": "bind.query", "event.category": "network", "network.protocol": "dns",
    "observer.type": "dns", "observer.vendor": "isc", "evidence_id": "test",
}  # fmt: skip


def _rows(table: pa.Table) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for row in table.to_pylist():
        ev = {k: v for k, v in row.items() if v is not None and v != ""}
        if "extra" in ev:
            ev["extra"] = orjson.loads(ev["extra"])
        out[ev["record"]] = ev
    return out


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


Parsed = tuple[dict[int, dict[str, Any]], list[Any]]


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo", year_hint=2015)
    return _rows(table), rejects


def test_counts_and_rejects(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 8, 9]  # 7 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (10, "not a BIND query log line (client ...: query: NAME CLASS TYPE FLAGS)"),
        (11, "no time (neither print-time nor a syslog header)"),
    ]


def test_query(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": _ts("2015-09-09T11:47:30.123+09:00"),
        "event.action": "query",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "destination.ip": "10.0.0.2",
        "network.transport": "udp",
        "dns.question.name": "ip-addr.es",
        "extra": {"dns.question.type": "A", "dns.question.class": "IN", "dns.flags": "+E(0)K"},
        "record": 1,
    }


def test_variants(parsed: Parsed) -> None:
    rows = parsed[0]
    assert rows[2]["network.transport"] == "tcp"  # T flag
    assert rows[2]["dns.question.name"] == "qzx7.redirect.example"  # lower-cased
    assert rows[3]["extra"]["view"] == "internal"
    assert (rows[4]["source.ip"], rows[4]["destination.ip"]) == ("2001:db8::5", "2001:db8::53")
    assert rows[8]["@timestamp"] == _ts("2015-09-09T11:47:36.25+09:00")  # ISO 8601
    assert rows[9]["@timestamp"] == _ts("2015-09-09T11:47:37+09:00")  # syslog header
    assert rows[9]["observer.name"] == "ns1"


def test_denied(parsed: Parsed) -> None:
    assert parsed[0][5] == BASE | {
        "@timestamp": _ts("2015-09-09T11:47:34+09:00"),
        "event.action": "query-denied",
        "event.outcome": "failure",
        "source.ip": "198.51.100.9",
        "source.port": 40000,
        "dns.question.name": "corp.example.jp",
        "extra": {"dns.question.type": "ANY", "dns.question.class": "IN"},
        "record": 5,
    }
    assert parsed[0][6]["event.action"] == "zone-transfer-denied"


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in r.items() if v not in (None, "")} for r in table.to_pylist()]
    return sorted(rows, key=lambda r: r["record"])


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes(LOG.read_bytes().replace(b"\n", b"\r\n"))
    whole, whole_rej = parse_file(FORMAT, LOG, tz="Asia/Tokyo", year_hint=2015)
    small, small_rej = parse_file(FORMAT, crlf, tz="Asia/Tokyo", year_hint=2015, chunk_bytes=200)
    assert _plain(small) == _plain(whole)
    assert [(r.record, r.raw) for r in small_rej] == [(r.record, r.raw) for r in whole_rej]


def _sample(path: Path) -> Sample:
    head = path.read_bytes()[:65536]
    return Sample(head, head.decode("utf-8"), path.name)


def test_sniff() -> None:
    assert FORMAT.sniff(_sample(LOG))
    assert registry.sniff(_sample(LOG)) is FORMAT
    for other in DATA.rglob("*"):
        if other.is_file() and other.parent.name != "bind_query":
            head = other.read_bytes()[:65536]
            encoding = detect(head)
            if encoding is None:
                continue  # binary: text formats are never offered it
            text = head.decode(encoding, errors="replace")
            assert not FORMAT.sniff(Sample(head, text, other.name)), other
