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
from ashiato.formats.iptables import FORMAT
from ashiato.formats.testing import parse_file

DATA = Path(__file__).resolve().parents[1] / "data"
LOG = DATA / "iptables" / "kern.log"

BASE = {
    "event.dataset": "iptables.log", "event.category": "network", "observer.type": "firewall",
    "observer.vendor": "netfilter", "evidence_id": "test",
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
    assert sorted(rows) == [1, 2, 3, 4, 6, 7]  # 5 is blank
    assert [(r.record, r.reason) for r in rejects] == [
        (8, "no netfilter LOG fields (SRC= and DST=)"),
        (9, "no syslog time (a kernel line with only its uptime)"),
    ]
    assert rejects[1].raw.startswith(b"[898010.00] FWD-DROP IN=eth1")


def test_forward_accept(parsed: Parsed) -> None:
    assert parsed[0][1] == BASE | {
        "@timestamp": _ts("2015-09-09T11:45:04+09:00"),
        "event.action": "accept",
        "event.outcome": "success",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "rule.name": "FWD-ACCEPT",
        "observer.name": "gw01",
        "extra": {
            "in_interface": "eth1",
            "out_interface": "eth0",
            "len": 52,
            "ttl": 127,
            "id": "3312",
            "tcp_flags": "SYN",
        },
        "record": 1,
    }


def test_ufw_block_to_the_host(parsed: Parsed) -> None:
    assert parsed[0][3] == BASE | {
        "@timestamp": _ts("2015-09-10T09:02:12+09:00"),
        "event.action": "block",
        "event.outcome": "failure",
        "source.ip": "198.51.100.9",
        "source.port": 40000,
        "destination.ip": "192.0.2.10",
        "destination.port": 3389,
        "network.transport": "tcp",
        "rule.name": "[UFW BLOCK]",
        "observer.name": "gw01",
        "extra": {
            "in_interface": "eth0",  # OUT= is empty: addressed to the host itself
            "mac": "00:16:3e:00:00:01:00:16:3e:00:00:02:08:00",
            "len": 60,
            "ttl": 51,
            "id": "0",
            "tcp_flags": "ACK,PSH",
        },
        "record": 3,
    }


def test_icmp_reject_year_rollover_and_iso(parsed: Parsed) -> None:
    rows = parsed[0]
    assert (rows[2]["event.action"], rows[2]["destination.port"]) == ("drop", 25)
    assert rows[4]["event.action"] == "reject"
    assert rows[4]["network.transport"] == "icmp"
    assert (rows[4]["extra"]["icmp_type"], rows[4]["extra"]["icmp_code"]) == (8, 0)
    assert "source.port" not in rows[4]
    # Sep -> Jan: the year rolls over; no action word in "OUT-LOG"
    assert rows[6]["@timestamp"] == _ts("2016-01-02T00:00:01+09:00")
    assert "event.action" not in rows[6] and "event.outcome" not in rows[6]
    assert (rows[6]["extra"]["uid"], rows[6]["extra"]["out_interface"]) == ("0", "eth0")
    assert "in_interface" not in rows[6]["extra"]  # sent by the host itself
    # rsyslog high-precision time: its own offset and host
    assert rows[7]["@timestamp"] == _ts("2015-09-10T09:05:00.123456+09:00")
    assert (rows[7]["observer.name"], rows[7]["event.action"]) == ("gw02", "accept")


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
        if other.is_file() and other.parent.name != "iptables":
            head = other.read_bytes()[:65536]
            encoding = detect(head)
            if encoding is None:
                continue  # binary: text formats are never offered it
            text = head.decode(encoding, errors="replace")
            assert not FORMAT.sniff(Sample(head, text, other.name)), other
    line = "Sep  9 11:45:04 gw01 sshd[1]: Accepted password for root\n"
    assert not FORMAT.sniff(Sample(line.encode(), line, "auth.log"))
