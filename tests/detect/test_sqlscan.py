"""The DuckDB one-statement scan: what it leaves behind and when it steps aside."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
import pytest
from detect_events import batch, sysmon

from ashiato.detect import sigma
from ashiato.detect.sigma import sqlscan
from ashiato.normalize import finalize_batch

RULES = [
    {"title": f"Tool {i}", "id": f"1b8f2a3c-0000-4000-8000-00000000000{i}", "status": "test",
     "level": "high", "logsource": {"product": "windows", "category": category},
     "detection": {"s": {field: value}, "condition": "s"}}
    for i, (category, field, value) in enumerate([
        ("process_creation", "Image|endswith", "\\markertool.exe"),
        ("network_connection", "DestinationPort", 4444),
        ("dns_query", "QueryName|endswith", ".evil.example"),
        ("file_event", "TargetFilename|contains", "\\ransom"),
    ])
]  # fmt: skip
ROWS = [
    sysmon(1, 1, Image="C:\\x\\markertool.exe", CommandLine="markertool -a"),
    sysmon(3, 2, Image="C:\\x\\a.exe", DestinationIp="192.0.2.9", DestinationPort=4444),
    sysmon(22, 3, QueryName="c2.evil.example"),
    sysmon(11, 4, TargetFilename="C:\\Users\\a\\ransom_note.txt"),
    sysmon(1, 5, Image="C:\\x\\notepad.exe", CommandLine="notepad"),
]


def _rules() -> list[Any]:
    from sigma.collection import SigmaCollection

    docs: Any = RULES
    return list(SigmaCollection.from_dicts(docs).rules)


def _hits(res: sigma.Result) -> list[tuple[str, int, tuple[tuple[str, str], ...]]]:
    return [
        (d.rule.title, d.event["record"], tuple(sorted((k, str(v)) for k, v in d.event.items())))
        for d in res.detections
    ]


def test_few_rules_are_tested_as_rows_are_read_and_leave_nothing(
    events_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = events_of(ROWS)
    con = events.get_backend().con
    monkeypatch.setattr(sqlscan, "DIRECT_ROWS", 1)  # as if the logs were big
    res = sigma.hunt(events, _rules(), "low")
    assert sorted(d.event["record"] for d in res.detections) == [1, 2, 3, 4]
    assert res.stats.scopes == 4 and not res.stats.errors
    assert res.stats.rows_prepared == 0  # nothing copied
    # the hit carries its event's columns, read for the hits alone
    first = next(d.event for d in res.detections if d.event["record"] == 1)
    assert first["process.command_line"] == "markertool -a" and first["host.name"]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)


def test_many_rules_on_distinct_values_copy_once_and_give_the_same_hits(
    events_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = events_of(ROWS)
    con = events.get_backend().con
    monkeypatch.setattr(sqlscan, "DIRECT_ROWS", 1)
    direct = sigma.hunt(events, _rules(), "low")
    assert direct.stats.rows_prepared == 0
    monkeypatch.setattr(sqlscan, "DIRECT_MAX", 0)  # every scope "has many rules"
    res = sigma.hunt(events, _rules(), "low")
    assert res.stats.scopes == 4 and not res.stats.errors
    assert res.stats.rows_prepared == 5  # copied: every row in a rule's scope (notepad too)
    assert _hits(res) == _hits(direct)
    # no temporary table left, the connection's settings put back
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (True,)


def test_a_log_the_case_lacks_costs_no_statement(events_of: Any) -> None:
    # Sysmon only: the rule on Security 4625 names a log that isn't there
    rule = {"title": "Failed", "id": "1b8f2a3c-0000-4000-8000-0000000000aa", "status": "test",
            "level": "high", "logsource": {"product": "windows", "service": "security"},
            "detection": {"s": {"EventID": 4625}, "condition": "s"}}  # fmt: skip
    from sigma.collection import SigmaCollection

    docs: Any = [*RULES, rule]
    res = sigma.hunt(events_of(ROWS), list(SigmaCollection.from_dicts(docs).rules), "low")
    assert res.stats.scopes == 5 and not res.stats.errors
    assert res.stats.queries == 4  # one per scope with rows; the Security one never ran
    assert res.stats.rows_prepared == 5  # small logs: their rows copied once, not read 4x
    assert sorted(d.event["record"] for d in res.detections) == [1, 2, 3, 4]


def test_an_expression_duckdb_cannot_see_runs_through_ibis() -> None:
    table = pa.Table.from_batches([finalize_batch(batch(ROWS), "ev1", "test")])
    events = ibis.memtable(table)  # registered only when Ibis runs it
    assert sqlscan.relation_of(events) is None
    res = sigma.hunt(events, _rules(), "low")
    assert sorted(d.event["record"] for d in res.detections) == [1, 2, 3, 4]
