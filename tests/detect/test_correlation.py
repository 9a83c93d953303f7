from __future__ import annotations

from typing import Any

import pytest
from detect_events import sysmon
from sigma.collection import SigmaCollection

from ashiato.detect import sigma
from ashiato.detect.sigma import sqlscan

BASE = """
title: net
id: 22222222-2222-4222-8222-222222222222
name: net_conn
level: low
logsource: {product: windows, category: network_connection}
detection:
  s:
    Image|endswith: '\\nc.exe'
  condition: s
---
title: proc
id: 33333333-3333-4333-8333-333333333333
name: proc_start
level: low
logsource: {product: windows, category: process_creation}
detection:
  s:
    Image|endswith: '\\nc.exe'
  condition: s
"""


def events() -> list[dict[str, Any]]:
    rows = [sysmon(1, 0, Image="C:\\x\\nc.exe", CommandLine="nc")]
    for i in range(6):  # six connections, 10 s apart, to 3 addresses, from PC-01
        rows.append(sysmon(3, 10 + 10 * i, Image="C:\\x\\nc.exe", DestinationIp=f"10.0.0.{i % 3}"))
    rows.append(sysmon(3, 30, Image="C:\\x\\nc.exe", DestinationIp="10.9.9.9", _host="PC-02"))
    return rows


def run(events_of: Any, corr: str) -> list[sigma.Detection]:
    rules = list(SigmaCollection.from_yaml(BASE + "---\n" + corr).rules)
    res = sigma.hunt(events_of(events()), rules, "low")
    assert not res.problems, res.problems
    return [d for d in res.detections if d.rule.kind == "correlation"]


def corr(body: str) -> str:
    return f"title: c\nid: 44444444-4444-4444-8444-444444444444\nlevel: high\ncorrelation:\n{body}"


def test_event_count(events_of: Any) -> None:
    body = (
        "  type: event_count\n  rules: [net_conn]\n  group-by: [ComputerName]\n"
        "  timespan: 1m\n  condition: {gte: 5}"
    )
    hits = run(events_of, corr(body))
    assert len(hits) == 1 and len(hits[0].related) == 5
    assert hits[0].group == {"ComputerName": "pc-01.corp.example"}
    assert not run(events_of, corr(body.replace("gte: 5", "gte: 7")))


def test_value_count(events_of: Any) -> None:
    body = (
        "  type: value_count\n  rules: [net_conn]\n  group-by: [ComputerName]\n"
        "  timespan: 5m\n  condition: {gte: 3, field: DestinationIp}"
    )
    # 0,1,2 then 0,1,2 again: the window restarts after a match, so two matches
    assert len(run(events_of, corr(body))) == 2
    assert not run(events_of, corr(body.replace("gte: 3", "gte: 4")))


def test_temporal_and_ordered(events_of: Any) -> None:
    body = "  rules: [proc_start, net_conn]\n  group-by: [ComputerName]\n  timespan: 15s"
    assert len(run(events_of, corr("  type: temporal\n" + body))) == 1
    assert len(run(events_of, corr("  type: temporal_ordered\n" + body))) == 1
    rev = body.replace("[proc_start, net_conn]", "[net_conn, proc_start]")
    assert not run(events_of, corr("  type: temporal_ordered\n" + rev))


def test_base_rules_silent_unless_generate(events_of: Any) -> None:
    body = (
        "  type: event_count\n  rules: [net_conn]\n  group-by: [ComputerName]\n"
        "  timespan: 1m\n  condition: {gte: 5}"
    )
    rules = list(SigmaCollection.from_yaml(BASE + "---\n" + corr(body)).rules)
    res = sigma.hunt(events_of(events()), rules, "low")
    assert {d.rule.title for d in res.detections} == {"c", "proc"}
    rules = list(
        SigmaCollection.from_yaml(BASE + "---\n" + corr(body + "\n  generate: true")).rules
    )
    res = sigma.hunt(events_of(events()), rules, "low")
    assert {d.rule.title for d in res.detections} == {"c", "proc", "net"}


def test_correlated_events_carry_all_their_columns(
    events_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the base rule only feeds the correlation: the scan reads its hits' time alone, then
    # the columns of the events a correlation matched; they must be those Ibis gives
    body = (
        "  type: event_count\n  rules: [net_conn]\n  group-by: [ComputerName]\n"
        "  timespan: 1m\n  condition: {gte: 5}"
    )
    rules = list(SigmaCollection.from_yaml(BASE + "---\n" + corr(body)).rules)
    table = events_of(events())

    def related(engine: str) -> list[list[list[tuple[str, str]]]]:
        res = sigma.hunt(table, rules, "low", engine=engine)
        return [[sorted((k, str(v)) for k, v in e.items()) for e in d.related]
                for d in res.detections if d.rule.kind == "correlation"]  # fmt: skip

    expected = related("ibis")
    assert expected and len(expected[0]) == 5 and len(expected[0][0]) > 10
    assert related("scan") == expected  # small logs: on distinct values
    monkeypatch.setattr(sqlscan, "DIRECT_ROWS", 1)
    assert related("scan") == expected  # row by row
