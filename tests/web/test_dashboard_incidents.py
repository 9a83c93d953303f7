"""The dashboard shows the incidents and the lateral-movement graph."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ashiato.case import Case
from ashiato.findings import load
from ashiato.web.app import create_app


def test_dashboard_has_incidents_and_graph(lab_case: Case) -> None:
    f = load(lab_case.root)
    shown = [i for i in f["incidents"] if i["severity"] in ("medium", "high", "critical")]
    assert shown  # the lab's drive-by, shadow-copy deletion and Tor lookups
    client = TestClient(create_app(lab_case), base_url="http://127.0.0.1")
    for lang, heading in (("en", "Incidents and lateral movement"), ("ja", "インシデントと横展開")):
        page = client.get(f"/?lang={lang}").text
        assert 'id="incidents"' in page and heading in page
        assert all(f'id="incident-{i["id"]}"' in page for i in shown)
        assert '<figure class="chart" id="lateral">' in page
