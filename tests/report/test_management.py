"""The summary for management: the report's first page, in plain sentences of either language."""

from __future__ import annotations

import re
from typing import Any

from ashiato.case import Case
from ashiato.findings import load
from ashiato.report import management
from ashiato.report.html import build, render
from ashiato.report.markdown import render_markdown
from ashiato.report.series import build as series_build

ALLOWED = {"LAN", "JST", "UTC", "Wi", "Fi", "VPN"}  # words Japanese readers use as they are


def _intrusion() -> dict[str, Any]:
    """A hands-on intrusion: no malware, an account used by the intruder, nothing encrypted."""
    return {
        "schema": "ashiato.findings/1", "generated": "2024-03-02T01:00:00Z",
        "incident": {"detected": True, "kind": None, "summary": "intrusion"},
        "patient_zero": None, "candidates": [],
        "hosts": [{"host": "fs01", "ips": ["10.0.0.5"], "users": [], "verdict": "suspicious",
                   "first_malicious": "2024-03-01T16:30:00Z", "first_encryption": None,
                   "reasons": [], "sources": [], "evidence": []}],
        "vectors": [], "impact": {"encrypted_files": 0, "ransom_notes": 0},
        "coverage": {"missing": [{"what": "firewall", "why_it_matters": "", "advice": ""}]},
        "tampering": [{"host": "fs01", "time": "2024-03-01T17:00:00Z", "kind": "log_cleared",
                       "evidence": []}],
        "clock_skew": [], "next_steps": [], "notes": [],
        "entry": {"entry": {"via": "vpn", "user": "sato", "source_ip": "203.0.113.9",
                            "country": "NL", "time": "2024-03-01T15:10:00Z"}},
        "accounts": {"accounts": [{"account": "corp\\sato", "by_intruder": True,
                                   "hosts": ["fs01", "dc01"]}]},
        "exfiltration": {"verdict": "possible"},
    }


def test_hands_on_intrusion_reads_as_compromised_hosts_in_japanese() -> None:
    s = management.build(_intrusion(), "ja", "Asia/Tokyo")
    text = "\n".join(s.happened)
    assert "侵害された端末" in text and "dc01、fs01" in text and "corp\\sato" in text
    assert s.since.startswith("最初の兆候は 2024-03-02 00:10:00 JST (2024-03-01 15:10:00 UTC)")
    assert [w for w, _ in s.timeline] == sorted(w for w, _ in s.timeline)
    assert any("ログの消去" in what for _, what in s.timeline)
    assert any("侵入経路" in x for x in s.unknown)  # no vector was found
    isolate = [x for x in s.today if "切り離して" in x]
    # fs01 is both suspicious and reached by the intruder's account: named once
    assert len(isolate) == 1 and "dc01" in isolate[0] and isolate[0].count("fs01") == 1
    decisions = dict(s.decisions)
    personal = decisions["個人データ"]
    assert "個人情報保護委員会" in personal and "速報" in personal and "確報は30日以内" in personal
    assert "60日以内" in personal and "可能性あり" in personal  # data theft: possible
    assert "警察への相談" in decisions and "初期化しない" in decisions["証拠の保全"]


def test_a_host_infected_and_reached_is_isolated_once() -> None:
    f = _intrusion()
    f["hosts"][0]["verdict"] = "infected"  # fs01, also reached by the intruder's account
    for lang in ("ja", "en"):
        isolate = management.build(f, lang, "Asia/Tokyo").today[0]
        assert isolate.count("fs01") == 1 and "dc01" in isolate


def test_nothing_detected_says_so_and_asks_no_decisions() -> None:
    f = {"schema": "ashiato.findings/1", "incident": {"detected": False}, "hosts": [],
         "impact": {}, "coverage": {}, "tampering": []}
    s = management.build(f, "en", "Europe/Berlin")
    assert s.happened[0].startswith("These logs show no incident")
    assert s.decisions == [] and s.timeline == []
    assert s.today == ["Nothing urgent follows from these logs."]


def test_first_page_of_the_lab_report_in_both_languages(lab_case: Case) -> None:
    f = load(lab_case.root)
    data = series_build(lab_case, f)
    for lang, title in (("ja", "経営層向けの要約"), ("en", "Summary for management")):
        html = render(f, lang, series=data, case_name="case", tz="Asia/Tokyo")
        assert f'<html lang="{lang}">' in html
        assert html.index('id="management"') < html.index('id="infected"')
        assert html.count(title) >= 2  # heading and table of contents
    md = render_markdown(f, data, "ja", case_name="case", tz="Asia/Tokyo")
    page = md[md.index("## 経営層向けの要約"):md.index("## 1. ")]
    # every word in Latin letters on the Japanese page is a name or a value from the logs
    values = {f["patient_zero"]["host"], f["patient_zero"]["user"],
              f["impact"]["encrypted_files_csv"], *f["impact"]["shares"]}
    values |= {m["what"] for m in f["coverage"]["missing"]}
    # the Japanese page names a missing log by its id; its values (a path) stay as they are
    values |= {str(v) for m in f["coverage"]["missing"]
               for v in ((m.get("what_msg") or {}).get("args") or {}).values() if v}
    for v in sorted(values, key=len, reverse=True):
        page = page.replace(v.replace("_", "\\_"), " ").replace(v, " ")
    words = set(re.findall(r"[A-Za-z]{3,}", page)) - ALLOWED
    assert not words, words
    assert f"{f['impact']['encrypted_files']:,} 件のファイルが暗号化され" in page
    en = build(lab_case, "en", "md")
    start = en.index("## Summary for management")
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", en[start:en.index("## 1. ")])
