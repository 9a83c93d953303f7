"""The report renders log-controlled text as text, never as markup."""

from __future__ import annotations

from ashiato.report.html import render

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _findings() -> dict:
    ev = [{"time": "2015-09-09T02:52:14Z", "dataset": "squid.access", "summary": XSS,
           "ref": "abc:1"}]
    return {
        "schema": "ashiato.findings/2", "generated": "now",
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


def test_evidence_not_read_is_listed() -> None:
    """What the walker refused or could not open is evidence the case lacks (issue 13)."""
    f = _findings()
    f["coverage"]["not_read"] = [{"path": "c.zip!inner/" + XSS, "container": "c.zip",
                                  "status": "not read", "reason": "not read: encrypted",
                                  "size": 10}]  # fmt: skip
    for lang in ("en", "ja"):
        html = render(f, lang)
        assert 'id="not-read"' in html and "not read: encrypted" in html
        assert "c.zip!inner/&lt;script&gt;" in html and "<script>" not in html


def test_japanese_labels() -> None:
    html = render(_findings(), "ja")
    assert "初期感染端末" in html and 'lang="ja"' in html


# -- the report of a lab case ----------------------------------------------------------------

from html.parser import HTMLParser  # noqa: E402
from pathlib import Path  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from ashiato.case import Case  # noqa: E402
from ashiato.cli import app  # noqa: E402
from ashiato.findings import load  # noqa: E402
from ashiato.report.charts import Chart, encrypted_chart  # noqa: E402
from ashiato.report.html import build, write_report  # noqa: E402
from ashiato.report.markdown import md  # noqa: E402
from ashiato.report.text import default_lang  # noqa: E402


class _Tags(HTMLParser):
    """Every start tag with its attributes, and which chart figure it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.in_chart: dict[str, int] = {}
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "figure":
            self._figure = a.get("id")
        elif self._figure and tag in ("rect", "polyline", "circle", "line", "text"):
            self.in_chart[self._figure] = self.in_chart.get(self._figure, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None


def test_lab_report_answers_first_then_charts(lab_case: Case, tmp_path: Path) -> None:
    findings = load(lab_case.root)
    path = write_report(lab_case, "en", tmp_path / "r.html")
    html = path.read_text("utf-8")
    parser = _Tags()
    parser.feed(html)
    tags = [t for t, _ in parser.tags]
    # self-contained: a CSP, no script, nothing fetched from anywhere
    assert "script" not in tags
    assert any(t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
               for t, a in parser.tags)
    for t, a in parser.tags:
        for attr in ("src", "href"):
            value = a.get(attr) or ""
            assert not value or value.startswith("#"), (t, attr, value)
    # answers in order, then the charts
    order = [html.index(f'id="{x}"') for x in
             ("infected", "pz", "vector", "impact", "tampering", "missing", "next", "charts")]
    assert order == sorted(order)
    assert findings["patient_zero"]["host"] in html
    for chart in ("chart-encrypted", "chart-smb", "chart-chain-0", "chart-coverage",
                  "chart-leases"):
        assert parser.in_chart.get(chart, 0) > 10, (chart, parser.in_chart)
    assert tags.count("svg") >= 5


def test_japanese_report_and_locale_default(lab_case: Case) -> None:
    assert default_lang({"LANG": "ja_JP.UTF-8"}) == "ja"
    assert default_lang({"LANG": "C.UTF-8"}) == "en"
    assert default_lang({"LC_ALL": "ja_JP.eucJP", "LANG": "en_US"}) == "ja"
    res = CliRunner().invoke(app, ["report", str(lab_case.root), "--output", "-"],
                             env={"LANG": "ja_JP.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""})
    assert res.exit_code == 0, res.output
    assert '<meta charset="utf-8">' in res.output and 'lang="ja"' in res.output
    assert "侵入経路" in res.output and "見積依頼_0910.zip" in res.output  # Japanese paths


def test_markdown_and_json_carry_the_same_answers(lab_case: Case) -> None:
    import json

    f = load(lab_case.root)
    text = build(lab_case, "en", "md")
    assert text.startswith("# ashiato")
    assert f"**{md(f['patient_zero']['host'])}**" in text
    assert "## 8. Charts" in text and "| time |" in text
    doc = json.loads(build(lab_case, "en", "json"))
    assert doc["schema"] == "ashiato.report/1"
    assert doc["findings"]["patient_zero"] == f["patient_zero"]
    enc = doc["charts"]["encrypted"]
    assert sum(sum(v) for v in enc["series"].values()) == f["impact"]["encrypted_files"]
    assert doc["charts"]["smb"]["clients"][0]["host"] == f["patient_zero"]["host"]
    assert doc["charts"]["leases"] and doc["charts"]["coverage"]["datasets"]
    res = CliRunner().invoke(app, ["report", str(lab_case.root), "--format", "pdf"])
    assert res.exit_code == 2


def test_chart_labels_from_logs_are_text() -> None:
    data = {"start": "2015-09-10T05:00:00Z", "bin_minutes": 1, "bins": 2,
            "series": {XSS: [1, 2]}}
    chart = encrypted_chart(data, {"impact": {}}, "en")
    assert isinstance(chart, Chart) and chart.shapes
    html = render(_findings() | {"impact": _findings()["impact"]}, "en",
                  series={"encrypted": data, "chains": [], "coverage": {}})
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markdown_escapes_markup() -> None:
    assert md("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    assert md("[a](javascript:x)") == "\\[a\\](javascript:x)"
    assert md("a|b") == "a\\|b"
    assert md("# title") == "\\# title"
