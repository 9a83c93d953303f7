"""The lateral-movement graph drawn in real Chromium: dashboard and offline report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_browser import ARTIFACTS, Server, browser, page  # noqa: F401 (fixtures)

from ashiato.analysis.pipeline import investigate
from ashiato.case import Case
from ashiato.ingest import Options, ingest
from ashiato.report.html import write_report

_GRAPH = """() => {
    const f = document.querySelector('figure#lateral');
    const svg = f && f.querySelector('svg');
    return svg ? {
        nodes: svg.querySelectorAll('circle').length,
        arrows: svg.querySelectorAll('line').length,
        labels: Array.from(svg.querySelectorAll('text')).map(t => t.textContent),
        width: svg.getBoundingClientRect().width,
    } : null;
}"""


@pytest.mark.corpus
def test_lateral_graph_in_dashboard_and_report(page: Any, shared: Path, tmp_path: Path) -> None:  # noqa: F811
    sample = shared / "evtx-attack-samples/Lateral Movement/LM_renamed_psexecsvc_5145.evtx"
    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    ingest(case, [sample], Options(tz="UTC"))
    investigate(case)
    report = write_report(case, "ja", tmp_path / "report.html")
    with Server(case) as srv:
        page.goto(srv.url + "/?lang=en")
        graph = page.evaluate(_GRAPH)
        assert graph and graph["nodes"] >= 2 and graph["arrows"] >= 3 and graph["width"] > 300
        assert {"nllt108334", "iewin7", "psexec"} <= set(graph["labels"])
        assert "Incidents and lateral movement" in page.inner_text("#incidents")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("figure#lateral").screenshot(path=str(ARTIFACTS / "web-lateral.png"))
    page.goto(report.as_uri())
    graph = page.evaluate(_GRAPH)
    assert graph and graph["nodes"] >= 2 and "横展開" in page.inner_text("body")
