"""Sigma semantics, each checked on every engine: Ibis, the DuckDB one-statement scan
(the default: on distinct values, or row by row for big logs) and the earlier DuckDB SQL
path."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from detect_events import sysmon

from ashiato.detect import sigma
from ashiato.detect.sigma import sqlscan
from ashiato.detect.sigma.compiler import CompileError, plan_rule
from ashiato.detect.sigma.pipeline import Field, resolve


def rules_of(text: str) -> list[Any]:
    from sigma.collection import SigmaCollection

    return list(SigmaCollection.from_yaml(text).rules)


def rule(detection: str, category: str = "process_creation") -> str:
    return f"""
title: t
id: 11111111-1111-4111-8111-111111111111
level: high
logsource: {{product: windows, category: {category}}}
detection:
{detection}
"""


EVENTS = [
    sysmon(
        1,
        1,
        Image="C:\\Windows\\System32\\cmd.exe",
        CommandLine="cmd.exe /c whoami",
        ParentImage="C:\\Windows\\explorer.exe",
        OriginalFileName="Cmd.Exe",
        User="CORP\\bob",
        IntegrityLevel="High",
        ParentCommandLine="C:\\Windows\\explorer.exe",
    ),
    sysmon(
        1,
        2,
        Image="C:\\Tools\\PowerShell.exe",
        CommandLine="powershell -enc " + base64.b64encode("IEX(foo)".encode("utf-16le")).decode(),
        ParentImage="C:\\Windows\\System32\\cmd.exe",
        User="CORP\\alice",
    ),
    sysmon(1, 3, Image="C:\\x\\a*b.exe", CommandLine="a*b.exe –flag", ParentImage="C:\\x\\a*b.exe"),
    sysmon(3, 4, Image="C:\\x\\nc.exe", DestinationIp="10.1.2.3", DestinationPort=4444),
    sysmon(3, 5, Image="C:\\x\\nc.exe", DestinationIp="192.0.2.7", DestinationPort=80),
]


@pytest.fixture(params=["ibis", "sql", "scan", "scan-rows"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "scan-rows":  # the scan's row-by-row path (big logs, few rules)
        monkeypatch.setattr(sqlscan, "DIRECT_ROWS", 1)
        return "scan"
    return str(request.param)


def count(events: Any, text: str, engine: str) -> int:
    res = sigma.hunt(events, rules_of(text), "informational", engine=engine)
    assert not res.problems, res.problems
    return len(res.detections)


CASES = [
    # (detection, category, expected matches)
    ("  s:\n    Image|endswith: '\\CMD.EXE'\n  condition: s", "process_creation", 1),
    ("  s:\n    Image|endswith|cased: '\\CMD.EXE'\n  condition: s", "process_creation", 0),
    ("  s:\n    Image: 'c:\\windows\\system32\\cmd.exe'\n  condition: s", "process_creation", 1),
    ("  s:\n    Image: 'cmd.exe'\n  condition: s", "process_creation", 0),
    ("  s:\n    Image: '*\\cmd.ex?'\n  condition: s", "process_creation", 1),
    ("  s:\n    Image: '*\\a\\*b.exe'\n  condition: s", "process_creation", 1),
    ("  s:\n    Image: '*\\ab.exe'\n  condition: s", "process_creation", 0),
    (
        "  s:\n    CommandLine|contains|all: ['cmd', 'WHOAMI']\n  condition: s",
        "process_creation",
        1,
    ),
    ("  s:\n    CommandLine|contains|all: ['cmd', 'nope']\n  condition: s", "process_creation", 0),
    ("  s:\n    CommandLine|startswith: 'POWERSHELL'\n  condition: s", "process_creation", 1),
    ("  s:\n    CommandLine|re: '^cmd\\.exe /c \\w+$'\n  condition: s", "process_creation", 1),
    ("  s:\n    CommandLine|re: '^CMD'\n  condition: s", "process_creation", 0),
    ("  s:\n    CommandLine|re|i: '^CMD'\n  condition: s", "process_creation", 1),
    ("  s:\n    CommandLine|windash|contains: ' -flag'\n  condition: s", "process_creation", 1),
    (
        "  s:\n    CommandLine|wide|base64offset|contains: 'IEX('\n  condition: s",
        "process_creation",
        1,
    ),
    ("  s:\n    OriginalFileName: 'cmd.exe'\n  condition: s", "process_creation", 1),
    ("  s:\n    IntegrityLevel|exists: true\n  condition: s", "process_creation", 1),
    ("  s:\n    IntegrityLevel|exists: false\n  condition: s", "process_creation", 2),
    ("  s:\n    IntegrityLevel: null\n  condition: s", "process_creation", 2),
    # a test on a missing field is false, so 'not' of it is true
    (
        "  s:\n    Image|endswith: '.exe'\n  f:\n    IntegrityLevel: 'High'\n"
        "  condition: s and not f",
        "process_creation",
        2,
    ),
    ("  s:\n    ParentImage|fieldref: Image\n  condition: s", "process_creation", 1),
    ("  s:\n    User|endswith: '\\bob'\n  condition: s", "process_creation", 1),
    # lists of one field: joined into an IN list, list_contains or one regex of literals
    (
        "  s:\n    Image|endswith: ['.com', '(x).exe', '\\CMD.EXE']\n  condition: s",
        "process_creation",
        1,
    ),
    (
        "  s:\n    Image|endswith: ['\\a\\*b.exe', '\\a+b.exe']\n  condition: s",
        "process_creation",
        1,
    ),
    (
        "  s:\n    CommandLine|contains: ['zz', 'WHOAMI', 'a+b', '$']\n  condition: s",
        "process_creation",
        1,
    ),
    (
        "  s:\n    CommandLine|startswith: ['[', 'POWERSHELL ', '^cmd']\n  condition: s",
        "process_creation",
        1,
    ),
    (
        "  s:\n    OriginalFileName: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'CMD.exe', 'h']\n"
        "  condition: s",
        "process_creation",
        1,
    ),
    ("  s:\n    OriginalFileName: ['a', 'CMD.exe']\n  condition: s", "process_creation", 1),
    ("  s:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: s", "network_connection", 1),
    ("  s:\n    DestinationPort|gte: 1000\n  condition: s", "network_connection", 1),
    ("  s:\n    DestinationPort|lt: 1000\n  condition: s", "network_connection", 1),
    ("  s:\n    DestinationPort: 4444\n  condition: s", "network_connection", 1),
    ("  k:\n    - 'WHOAMI'\n  condition: k", "process_creation", 1),
    # keywords search the whole event: the second event has cmd.exe as parent
    ("  k:\n    - 'c:\\windows\\system32\\cmd'\n  condition: k", "process_creation", 2),
    (
        "  a:\n    Image|endswith: 'cmd.exe'\n  b:\n    Image|endswith: 'powershell.exe'\n"
        "  condition: 1 of them",
        "process_creation",
        2,
    ),
    (
        "  sel_a:\n    Image|endswith: 'cmd.exe'\n  sel_b:\n    User|contains: 'bob'\n"
        "  condition: all of sel_*",
        "process_creation",
        1,
    ),
]


@pytest.mark.parametrize(("detection", "category", "expected"), CASES)
def test_semantics(
    events_of: Any, engine: str, detection: str, category: str, expected: int
) -> None:
    assert count(events_of(EVENTS), rule(detection, category), engine) == expected


def test_placeholder_is_reported_not_skipped() -> None:
    r = rules_of(rule("  s:\n    User|expand: '%admins%'\n  condition: s"))[0]
    res = resolve("windows", "process_creation", None)
    with pytest.raises(CompileError, match="placeholder"):
        plan_rule(r, res)


def test_unsupported_logsource_listed(events_of: Any) -> None:
    text = rule("  s:\n    a: b\n  condition: s").replace("product: windows", "product: aws")
    res = sigma.hunt(events_of(EVENTS), rules_of(text), "informational")
    assert [p.reason for p in res.problems] and "aws" in res.problems[0].reason


def test_field_mapping() -> None:
    res = resolve("windows", "process_creation", None)
    assert res.field("Image") == Field(column="process.executable")
    assert res.field("OriginalFileName").paths == ('$.winlog.event_data."OriginalFileName"',)
    assert resolve(None, "proxy", None).field("c-uri") == Field(column="url.original")
    assert {t.codes for t in res.scope} == {("1",), ("4688",)}


def test_min_level(events_of: Any) -> None:
    text = rule("  s:\n    Image|endswith: 'cmd.exe'\n  condition: s").replace("high", "low")
    assert len(sigma.hunt(events_of(EVENTS), rules_of(text), "medium").detections) == 0
    assert len(sigma.hunt(events_of(EVENTS), rules_of(text), "low").detections) == 1
