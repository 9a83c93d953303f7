"""The web UI speaks from the same catalogue as the report, with times in the case's zone."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi", reason="the web UI needs its extra: pip install -e '.[web]'")
pytest.importorskip("httpx", reason="TestClient needs httpx: pip install -e '.[dev]'")

from fastapi.testclient import TestClient

from ashiato import i18n
from ashiato.case import Case
from ashiato.findings import load
from ashiato.report.html import when_text
from ashiato.web.app import create_app


@pytest.fixture(scope="module")
def web(lab_case: Case) -> TestClient:
    return TestClient(create_app(lab_case), base_url="http://127.0.0.1")


def test_pages_show_case_zone_times_with_utc_beside(web: TestClient, lab_case: Case) -> None:
    f = load(lab_case.root)
    pz = f["patient_zero"]["host"]
    host = next(h for h in f["hosts"] if h["host"] == pz)
    page = web.get(f"/host/{pz}", params={"lang": "ja"}).text
    assert '<html lang="ja">' in page
    assert when_text(host["first_malicious"], "Asia/Tokyo") in page
    dual = r"\d\d:\d\d:\d\d(\.\d{3})? JST \((\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d UTC\)"
    assert re.search(dual, page)
    ja = i18n.messages("ja")
    for key in ("first_malicious", "first_encryption", "first_seen", "evidence"):
        assert ja[key] in page, key


def test_japanese_report_in_the_ui_opens_with_the_management_page(web: TestClient) -> None:
    html = web.get("/report", params={"lang": "ja"}).text
    assert html.index("経営層向けの要約") < html.index('id="infected"')
    md = web.get("/report", params={"format": "md", "lang": "ja"}).text
    assert "## 経営層向けの要約" in md and "本日中に行うこと" in md
    en = web.get("/report", params={"format": "md", "lang": "en"}).text
    assert "## Summary for management" in en and "What must happen today" in en


def test_dashboard_says_the_analyses_sentences_in_the_chosen_language(
    web: TestClient, lab_case: Case
) -> None:
    from markupsafe import escape

    f = load(lab_case.root)
    ja = web.get("/", params={"lang": "ja"}).text
    en = web.get("/", params={"lang": "en"}).text
    for text, said in zip(f["next_steps"], f["next_step_msgs"], strict=True):
        if said:
            wording = i18n.render("ja", said, lambda v: when_text(v, "Asia/Tokyo"))
            assert wording and str(escape(wording)) in ja
            assert str(escape(text)) in en and str(escape(text)) not in ja
    reason = f["hosts"][0]["reasons"][0]
    assert str(escape(i18n.say("ja", reason, f["hosts"][0]["reason_msgs"][0]))) in ja
