from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from helpers import DATA, assert_claims_no_other_fixture, assert_registry_routes, sample_of

from ashiato.formats.base import Sample
from ashiato.formats.snort_fast import FORMAT
from ashiato.formats.testing import parse_file

SNORT = DATA / "snort_fast"
PLASO = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "plaso-testdata" / "test_data"
)
BASE = {
    "event.dataset": "snort.alert", "event.category": "intrusion_detection",
    "observer.type": "ids", "evidence_id": "test",
}  # fmt: skip
TROJAN = "A Network Trojan was detected"

Rows = dict[int, dict[str, Any]]


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)  # type: ignore[misc]


def _parse(name: str, **options: object) -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, SNORT / name, tz="Asia/Tokyo", **options)
    rows = {r["record"]: {k: v for k, v in r.items() if v is not None} for r in table.to_pylist()}
    return rows, sorted((r.record, r.reason) for r in rejects)


def test_counts_and_rejects() -> None:
    rows, rejects = _parse("alert_fast.log", year_hint=2015)
    assert sorted(rows) == [1, 2, 3, 5, 6, 7]  # 4 is blank
    assert rejects == [(8, "not a fast.log alert line"), (9, "unreadable date/time")]


def test_year_rolls_over_at_new_year() -> None:
    rows, _ = _parse("alert_fast.log", year_hint=2015)
    assert rows[1] == BASE | {
        "@timestamp": jst(2015, 12, 31, 23, 59, 58, 100000),
        "event.action": "alert",
        "event.severity": 2,
        "rule.name": "ET POLICY Vulnerable Java Version 1.7.x Detected",
        "rule.id": "1:2019401:3",
        "rule.category": "Potential Corporate Privacy Violation",
        "network.transport": "tcp",
        "source.ip": "10.20.3.41",
        "source.port": 51200,
        "destination.ip": "192.0.2.15",
        "destination.port": 80,
        "observer.vendor": "snort",
        "record": 1,
    }
    assert rows[2] == BASE | {
        "@timestamp": jst(2016, 1, 1, 0, 0, 3, 4811),  # Dec -> Jan: the next year
        "event.action": "alert",
        "event.severity": 1,
        "rule.name": "ET CURRENT_EVENTS Angler EK Flash Exploit (example)",
        "rule.id": "1:2021000:2",
        "rule.category": TROJAN,
        "network.transport": "tcp",
        "source.ip": "203.0.113.77",
        "source.port": 80,
        "destination.ip": "10.20.3.41",
        "destination.port": 51234,
        "observer.vendor": "snort",
        "record": 2,
    }


def test_icmp_without_ports_and_missing_classification() -> None:
    rows, _ = _parse("alert_fast.log", year_hint=2015)
    icmp = rows[5]
    assert (icmp["source.ip"], icmp["destination.ip"]) == ("10.20.3.41", "198.51.100.9")
    assert "source.port" not in icmp and "destination.port" not in icmp
    assert icmp["network.transport"] == "icmp"
    assert "rule.category" not in rows[6]  # no [Classification: ...]


def test_ipv6_addresses() -> None:
    rows, _ = _parse("alert_fast.log", year_hint=2015)
    bracketed, bare = rows[6], rows[7]
    assert (bracketed["source.ip"], bracketed["source.port"]) == ("2001:db8::5", 5060)
    assert (bracketed["destination.ip"], bracketed["destination.port"]) == ("2001:db8::20", 5060)
    assert (bare["source.ip"], bare["source.port"]) == ("2001:db8::41", 49800)
    assert (bare["destination.ip"], bare["destination.port"]) == ("2001:db8::20", 445)


def test_suricata_and_snort_y_years() -> None:
    rows, rejects = _parse("suricata_fast.log", year_hint=1999)
    assert rejects == []
    assert rows[1] == BASE | {
        "@timestamp": jst(2015, 9, 9, 11, 45, 6, 311204),  # the year is written: no hint
        "event.action": "alert",
        "event.severity": 1,
        "rule.name": "ET CURRENT_EVENTS Angler EK Flash Exploit (example)",
        "rule.id": "1:2021000:2",
        "rule.category": TROJAN,
        "network.transport": "tcp",
        "source.ip": "203.0.113.77",
        "source.port": 80,
        "destination.ip": "10.20.3.41",
        "destination.port": 51234,
        "observer.vendor": "suricata",
        "record": 1,
    }
    assert rows[2]["event.action"] == "drop"
    snort3 = rows[4]  # Snort 3 -y: year first, message in quotes, IPv6 without brackets
    assert snort3["@timestamp"] == jst(2021, 12, 28, 12, 55, 38, 765402)
    assert snort3["rule.name"] == "PROTOCOL-ICMP PING Unix"
    assert (snort3["source.ip"], snort3["destination.ip"]) == (
        "2001:db8:c200:c:0:0:0:35",
        "2001:db8:4860:0:0:0:0:8888",
    )
    tcp6 = rows[5]
    assert (tcp6["source.ip"], tcp6["source.port"]) == ("2001:db8:c200:c:0:0:0:35", 60884)
    assert (tcp6["destination.ip"], tcp6["destination.port"]) == ("2001:db8:4860:0:0:0:0:8888", 443)
    assert rows[3]["@timestamp"] == jst(2015, 9, 9, 11, 49, 0)  # -y: two digits
    assert rows[3]["observer.vendor"] == "snort"


def test_utc_logs(tmp_path: Path) -> None:
    rows = parse_file(FORMAT, SNORT / "suricata_fast.log", tz="UTC")[0].to_pylist()
    assert rows[0]["@timestamp"] == datetime(2015, 9, 9, 11, 45, 6, 311204, tzinfo=UTC)


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]


@pytest.mark.parametrize("workers", [1, 2])
def test_year_state_crosses_chunks(tmp_path: Path, workers: int) -> None:
    log = tmp_path / "alert"
    text = (SNORT / "alert_fast.log").read_text()
    log.write_text(text * 3)  # Dec, Jan, Dec, Jan...: two more roll-overs
    whole, _ = parse_file(FORMAT, log, year_hint=2015)
    small, _ = parse_file(FORMAT, log, year_hint=2015, chunk_bytes=150, workers=workers)
    assert _plain(small) == _plain(whole)
    years = [ts.year for ts in whole.column("@timestamp").to_pylist()]
    assert years == [2015] + [2016] * 5 + [2016] + [2017] * 5 + [2017] + [2018] * 5


def test_sniff() -> None:
    for path in SNORT.iterdir():
        assert FORMAT.sniff(sample_of(path)), path
    assert_claims_no_other_fixture(FORMAT, "snort_fast", sample_of)
    assert not FORMAT.sniff(Sample(b"hello\nworld\n", "hello\nworld\n", "a.txt"))


def test_registry_routes_fixtures_here() -> None:
    assert_registry_routes(SNORT.iterdir(), "snort_fast")


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "count"), [("snort3_alert_fast.log", 4), ("suricata_alert_fast.log", 5)]
)
def test_plaso_fast_alerts(name: str, count: int) -> None:
    path = PLASO / name
    if not path.exists():
        pytest.skip("../shared/data not present")
    assert FORMAT.sniff(sample_of(path))
    table, rejects = parse_file(FORMAT, path, year_hint=2021)
    assert rejects == []
    assert table.num_rows == count
    names = table.column("rule.name").to_pylist()
    assert all(n and not n.startswith('"') for n in names)
