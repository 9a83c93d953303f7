"""Incidents and the lateral-movement graph in the report: shown, in both languages, and
log text stays text (host names and command lines are attacker-controlled)."""

from __future__ import annotations

import re
from typing import Any

from ashiato.report.html import render
from ashiato.report.lateral_graph import lateral_chart

XSS = '<script>alert(1)</script>"><svg onload=alert(3)>'
EV = [{"time": "2024-06-03T01:00:00Z", "dataset": "windows.security", "summary": XSS,
       "ref": "0123456789abcdef:42"}]  # fmt: skip


def _findings() -> dict[str, Any]:
    return {
        "schema": "ashiato.findings/2", "generated": "now",
        "incident": {"detected": True, "kind": "intrusion", "summary": "s"},
        "patient_zero": {"host": "pc-hr-9", "ip": None, "user": None, "confidence": 0.5,
                         "signals": [], "evidence": [], "why_not_others": [XSS],
                         "cannot_be_excluded": ["fs01"]},
        "candidates": [], "vectors": [], "tampering": [], "clock_skew": [], "next_steps": [],
        "hosts": [
            {"host": "pc-hr-9", "ips": [], "users": [], "verdict": "infected",
             "first_malicious": None, "first_encryption": None, "reasons": [], "sources": [],
             "evidence": []},
            {"host": XSS, "ips": [], "users": [], "verdict": "infected",
             "first_malicious": None, "first_encryption": None, "reasons": [], "sources": [],
             "evidence": []},
        ],
        "impact": {"encrypted_files": 0, "ransom_notes": 0, "encrypting_hosts": [XSS]},
        "coverage": {},
        "incidents": [
            {"id": "I1", "technique": "T1070.001", "technique_name": "Clear Windows Event Logs",
             "tactic": "defense-evasion", "severity": "high", "count": 90,
             "first": "2024-06-03T01:00:00Z", "last": "2024-06-03T01:00:03Z",
             "hosts": [XSS], "accounts": [XSS], "key_values": [XSS], "rules": [XSS],
             "evidence": EV, "weighed": True},
            {"id": "I2", "technique": None, "technique_name": "noise", "tactic": None,
             "severity": "low", "count": 1, "first": None, "last": None, "hosts": [],
             "accounts": [], "key_values": [], "rules": [], "evidence": []},
        ],
        "lateral_movement": [
            {"source": "pc-hr-9", "source_ip": "10.1.0.31", "target": XSS, "account": XSS,
             "technique": "psexec", "attack": "T1569.002", "first": "2024-06-03T01:00:00Z",
             "last": None, "count": 3, "execution": True, "why": XSS, "evidence": EV},
            {"source": XSS, "source_ip": None, "target": "fs01", "account": None,
             "technique": "rdp", "attack": "T1021.001", "first": "2024-06-03T02:00:00Z",
             "last": None, "count": 1, "execution": False, "why": "w", "evidence": []},
        ],
    }  # fmt: skip


def test_incident_sections_and_graph_in_both_languages() -> None:
    for lang, heading in (("en", "Incidents and lateral movement"), ("ja", "インシデントと横展開")):
        html = render(_findings(), lang)
        assert heading in html
        assert 'id="incident-I1"' in html and "Clear Windows Event Logs" in html
        assert 'id="incident-I2"' not in html  # low incidents are counted, not shown
        assert '<figure class="chart" id="lateral">' in html
        svg = html[html.index('id="lateral"') :]
        svg = svg[: svg.index("</svg>")]
        assert svg.count("<circle") >= 3 and "psexec" in svg and "rdp" in svg


def test_log_text_in_incidents_and_graph_is_escaped() -> None:
    html = render(_findings(), "en")
    assert "<script>" not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.search(r"<text [^>]*>[^<]*&lt;script", html)  # a host label in the graph


def test_graph_columns_follow_the_chain() -> None:
    edges = [
        {"source": "a", "target": "b", "technique": "rdp", "first": "1"},
        {"source": "b", "target": "c", "technique": "wmi", "first": "2"},
    ]
    chart = lateral_chart({"lateral_movement": edges, "hosts": []}, "en")
    xs = {s.text: float(s.attrs["x"]) for s in chart.shapes if s.tag == "text" and s.text in "abc"}
    assert xs["a"] < xs["b"] < xs["c"]
    assert lateral_chart({"lateral_movement": []}, "ja").empty.startswith("証拠の中に")
