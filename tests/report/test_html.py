"""The report renders log-controlled text as text, never as markup."""

from __future__ import annotations

from ashiato.report.html import render

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _findings() -> dict:
    ev = [{"time": "2015-09-09T02:52:14Z", "dataset": "squid.access", "summary": XSS,
           "ref": "abc:1"}]
    return {
        "schema": "ashiato.findings/1", "generated": "now",
        "incident": {"detected": True, "kind": "ransomware", "summary": XSS},
        "patient_zero": {"host": XSS, "ip": "10.0.0.1", "user": XSS, "confidence": 0.9,
                         "signals": [XSS], "evidence": ev},
        "candidates": [],
        "hosts": [{"host": XSS, "ips": [XSS], "users": [], "verdict": "infected",
                   "first_malicious": None, "first_encryption": None, "reasons": [XSS],
                   "sources": [], "evidence": ev}],
        "vectors": [{"host": XSS, "type": "web_driveby", "confidence": 0.8, "artifacts": [XSS],
                     "chain": ev, "late_av_detection": XSS, "first_event_time": None,
                     "missing": []}],
        "impact": {"encrypted_files": 1, "encrypted_files_csv": "encrypted_files.csv",
                   "ransom_notes": 1, "note_names": [XSS], "shares": {XSS: 1}, "users": {XSS: 1},
                   "window": None, "c2": [XSS], "payment_sites": [XSS], "spam": None,
                   "other_infected_hosts": [XSS], "evidence": ev},
        "coverage": {"missing": [{"what": XSS, "why_it_matters": XSS, "advice": XSS}]},
        "tampering": [{"host": XSS, "time": None, "kind": XSS, "evidence": ev}],
        "clock_skew": [], "next_steps": [XSS], "notes": ev,
    }


def test_no_markup_from_logs_survives() -> None:
    for lang in ("en", "ja"):
        html = render(_findings(), lang)
        assert "<script>" not in html
        assert "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "onerror=alert(2)&gt;" in html


def test_japanese_labels() -> None:
    html = render(_findings(), "ja")
    assert "最初の感染端末" in html and 'lang="ja"' in html
