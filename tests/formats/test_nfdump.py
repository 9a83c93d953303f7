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
from ashiato.formats.nfdump import FORMAT
from ashiato.formats.testing import parse_file

DATA = Path(__file__).resolve().parents[1] / "data"
LOG = DATA / "nfdump" / "flows.csv"

BASE = {
    "event.dataset": "nfdump.flow", "event.action": "flow", "event.category": "network",
    "observer.type": "flow", "observer.vendor": "nfdump", "evidence_id": "test",
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
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return _rows(table), rejects


def test_counts_rejects_and_summary_skipped(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert sorted(rows) == [2, 3, 4, 5]  # header, blank and the Summary block are skipped
    assert [(r.record, r.reason) for r in rejects] == [
        (6, "expected 48 comma-separated fields (as in the header), got 6"),
        (7, "ts is not YYYY-MM-DD HH:MM:SS[.mmm]"),
    ]


def test_unidirectional_flow(parsed: Parsed) -> None:
    assert parsed[0][2] == BASE | {
        "@timestamp": _ts("2015-09-09T11:45:04+09:00"),
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "source.bytes": 1432,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "observer.name": "192.0.2.1",
        "extra": {
            "end": "2015-09-09 11:45:08",
            "event.duration": 4_123_000_000,
            "tcp_flags": ".AP.SF",
            "source.packets": 12,
            "in_interface": 1,
            "out_interface": 2,
        },
        "record": 2,
    }
    # the reply is its own record, sa/da swapped
    assert (parsed[0][3]["source.ip"], parsed[0][3]["source.bytes"]) == ("203.0.113.77", 233901)


def test_biflow_with_milliseconds(parsed: Parsed) -> None:
    assert parsed[0][4] == BASE | {
        "@timestamp": _ts("2015-09-09T11:47:30.250+09:00"),
        "source.ip": "10.20.3.41",
        "source.port": 53211,
        "source.bytes": 62,
        "destination.ip": "192.0.2.53",
        "destination.port": 53,
        "destination.bytes": 120,
        "network.transport": "udp",
        "observer.name": "192.0.2.1",
        "extra": {
            "end": "2015-09-09 11:47:30.251",
            "event.duration": 1_000_000,
            "source.packets": 1,
            "destination.packets": 1,
            "in_interface": 1,
            "out_interface": 2,
            "source.as": 64500,
            "destination.as": 64501,
            "next_hop": "192.0.2.254",
        },
        "record": 4,
    }


def test_short_header_and_bad_date(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    path.write_text(
        "ts,te,td,sa,da,sp,dp,pr,ibyt\n"
        "2015-13-45 11:45:04,x,1,10.0.0.1,10.0.0.2,1,2,TCP,5\n"
        "2015-09-09 11:45:04.5,x,1,10.0.0.1,10.0.0.2,1,2,TCP,5\n"
    )
    table, rejects = parse_file(FORMAT, path)
    rows = _rows(table)
    assert [r.record for r in rejects] == [2]
    assert rows[3]["@timestamp"] == _ts("2015-09-09T11:45:04.5+00:00")
    assert rows[3]["source.bytes"] == 5


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in r.items() if v not in (None, "")} for r in table.to_pylist()]
    return sorted(rows, key=lambda r: r["record"])


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes(LOG.read_bytes().replace(b"\n", b"\r\n"))
    whole, whole_rej = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    small, small_rej = parse_file(FORMAT, crlf, tz="Asia/Tokyo", chunk_bytes=200)
    assert _plain(small) == _plain(whole)
    assert [(r.record, r.raw) for r in small_rej] == [(r.record, r.raw) for r in whole_rej]


def _sample(path: Path) -> Sample:
    head = path.read_bytes()[:65536]
    return Sample(head, head.decode("utf-8"), path.name)


def test_sniff() -> None:
    assert FORMAT.sniff(_sample(LOG))
    assert registry.sniff(_sample(LOG)) is FORMAT
    for other in DATA.rglob("*"):
        if other.is_file() and other.parent.name != "nfdump":
            head = other.read_bytes()[:65536]
            encoding = detect(head)
            if encoding is None:
                continue  # binary: text formats are never offered it
            text = head.decode(encoding, errors="replace")
            assert not FORMAT.sniff(Sample(head, text, other.name)), other
