"""The web UI in-process (Starlette's TestClient): views, JSON twins, errors, guards."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web UI needs its extra: pip install -e '.[web]'")
pytest.importorskip("httpx", reason="TestClient needs httpx: pip install -e '.[dev]'")

from fastapi.testclient import TestClient

from ashiato.case import Case
from ashiato.findings import load
from ashiato.web.app import create_app

BASE = "http://127.0.0.1"


def client(case: Case, **kw: Any) -> TestClient:
    return TestClient(create_app(case, **kw), base_url=kw.pop("base_url", BASE))


@pytest.fixture(scope="module")
def lab(lab_case: Case) -> TestClient:
    return client(lab_case)


def _error(res: Any, status: int) -> str:
    assert res.status_code == status, res.text
    body = res.json()
    assert set(body) == {"ok", "error", "status"}
    assert body["ok"] is False and body["status"] == status and body["error"]
    return str(body["error"])


def test_dashboard_and_its_json(lab: TestClient, lab_case: Case) -> None:
    f = load(lab_case.root)
    res = lab.get("/")
    assert res.status_code == 200 and "text/html" in res.headers["content-type"]
    assert f["patient_zero"]["host"] in res.text
    assert res.text.count("<svg") >= 5
    csp = res.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    data = lab.get("/api/findings").json()
    assert data["ok"] is True and data["findings"] == f
    assert lab.get("/?format=json").json()["findings"] == f
    assert set(data["charts"]) >= {"encrypted", "smb", "chains", "coverage", "leases"}


def test_timeline_filters(lab: TestClient, lab_case: Case) -> None:
    pz = load(lab_case.root)["patient_zero"]
    rows = lab.get("/api/timeline", params={"host": pz["host"], "limit": 50}).json()["rows"]
    assert rows and all(r.get("host.name") == pz["host"] or r.get("host.ip") == pz["host"]
                        for r in rows)
    by_ip = lab.get("/api/timeline", params={"ip": pz["ip"], "dataset": "squid.access"}).json()
    assert by_ip["rows"] and all(r["event.dataset"] == "squid.access" for r in by_ip["rows"])
    window = lab.get("/api/timeline", params={"from": "2015-09-10T14:27:00",  # JST
                                              "to": "2015-09-10T05:30:00Z"}).json()["rows"]
    assert window and all("2015-09-10T05:27" <= r["@timestamp"] <= "2015-09-10T05:30:01"
                          for r in window)
    text = lab.get("/api/timeline", params={"q": "help_decrypt", "limit": 5}).json()["rows"]
    assert text and all("help_decrypt" in str(r).lower() for r in text)
    html = lab.get("/timeline", params={"host": pz["host"]})
    assert html.status_code == 200 and f'value="{pz["host"]}"' in html.text


def test_timeline_pages_forward_and_back(lab: TestClient) -> None:
    everything = lab.get("/api/timeline", params={"dataset": "windows.sysmon",
                                                  "limit": 1000}).json()["rows"]
    assert len(everything) > 100
    refs = [r["ref"] for r in everything]
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"dataset": "windows.sysmon", "limit": 37}
    while True:
        page = lab.get("/api/timeline", params=params).json()
        pages.append(page)
        seen += [r["ref"] for r in page["rows"]]
        if not page["next"]:
            break
        params["after"] = page["next"]
    assert seen == refs
    # and back from the last page, page by page
    back: list[str] = []
    page = pages[-1]
    back = [r["ref"] for r in page["rows"]]
    while page["prev"]:
        page = lab.get("/api/timeline", params={"dataset": "windows.sysmon", "limit": 37,
                                                "before": page["prev"]}).json()
        back = [r["ref"] for r in page["rows"]] + back
    assert back == refs
    newest = lab.get("/api/timeline", params={"dataset": "windows.sysmon", "order": "desc",
                                              "limit": 5}).json()["rows"]
    assert [r["ref"] for r in newest] == refs[::-1][:5]


def test_entities(lab: TestClient, lab_case: Case) -> None:
    pz = load(lab_case.root)["patient_zero"]
    host = lab.get(f"/api/host/{pz['host']}").json()
    assert host["finding"]["verdict"] == "infected" and host["patient_zero"] is True
    assert host["leases"] and host["first_seen"] and host["last_seen"] and host["evidence"]
    ip = lab.get(f"/api/ip/{pz['ip']}").json()
    assert pz["host"] in {x["host"] for x in ip["leases"]}
    user = lab.get(f"/api/user/{pz['user']}").json()
    assert pz["host"] in {h["host"] for h in user["hosts"]} and user["events"] > 0
    for path in (f"/host/{pz['host']}", f"/ip/{pz['ip']}", f"/user/{pz['user']}"):
        res = lab.get(path)
        assert res.status_code == 200 and pz["host"] in res.text
    _error(lab.get("/api/ip/not-an-ip"), 400)


def test_raw_record(lab: TestClient, lab_case: Case) -> None:
    ref = load(lab_case.root)["patient_zero"]["evidence"][0]["ref"]
    data = lab.get(f"/api/record/{ref}").json()
    assert data["ok"] and data["ref"] == ref and data["events"] and data["original"]
    page = lab.get(f"/record/{ref}")
    assert page.status_code == 200 and 'id="original"' in page.text
    _error(lab.get("/api/record/0000000000000000:1"), 404)
    _error(lab.get("/api/record/garbage"), 400)


def test_one_error_shape(lab: TestClient) -> None:
    _error(lab.get("/api/nowhere"), 404)
    _error(lab.get("/nowhere", headers={"accept": "application/json"}), 404)
    assert "bad value for limit" in _error(lab.get("/api/timeline?limit=x"), 400)
    assert "time" in _error(lab.get("/api/timeline?from=yesterday-ish"), 400)
    assert "cursor" in _error(lab.get("/api/timeline?after=%%%"), 400)
    _error(lab.delete("/api/timeline"), 405)
    _error(lab.post("/api/notes", content=b"x", headers={"content-type": "text/plain"}), 415)
    _error(lab.get("/export/everything?format=csv", headers={"accept": "application/json"}), 400)
    html = lab.get("/nowhere")
    assert html.status_code == 404 and "text/html" in html.headers["content-type"]


def test_unexpected_failure_keeps_the_shape(lab_case: Case, monkeypatch: Any) -> None:
    c = client(lab_case)
    store = c.app.state.store  # type: ignore[attr-defined]

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "timeline", boom)
    msg = _error(c.get("/api/timeline"), 500)
    assert "disk on fire" not in msg  # internals are not leaked


def test_notes_written_and_shown(lab_copy: Case) -> None:
    c = client(lab_copy)
    page = c.get("/timeline", params={"host": "pc-fuk-5241"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    form = {"csrf": csrf.group(1), "text": "user saw <b>HELP_DECRYPT</b> at 14:30",
            "time": "2015-09-10T14:30:00", "host": "PC-FUK-5241", "tags": "interview, ja",
            "next": "/timeline?host=pc-fuk-5241&dataset=ashiato.note"}
    res = c.post("/notes", data=form, follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"] == "/timeline?host=pc-fuk-5241&dataset=ashiato.note"
    rows = c.get("/api/timeline", params={"dataset": "ashiato.note"}).json()["rows"]
    assert len(rows) == 1 and rows[0]["@timestamp"] == "2015-09-10T05:30:00Z"
    assert rows[0]["host.name"] == "pc-fuk-5241" and rows[0]["tags"] == ["interview", "ja"]
    shown = c.get(res.headers["location"]).text
    assert "user saw &lt;b&gt;HELP_DECRYPT&lt;/b&gt; at 14:30" in shown
    api = c.post("/api/notes", json={"text": "second", "time": "2015-09-10T05:31:00Z"})
    assert api.status_code == 201 and api.json() == {"ok": True, "ref": "analyst-notes:2"}
    # refused: no CSRF token, another site's form, empty text, off-site redirect
    js = {"accept": "application/json"}
    _error(c.post("/notes", data={**form, "csrf": "nope"}, headers=js), 403)
    _error(c.post("/notes", data=form, headers={**js, "origin": "http://evil.example"}), 403)
    _error(c.post("/api/notes", json={"text": "  "}), 400)
    res = c.post("/notes", data={**form, "next": "//evil.example/x"}, follow_redirects=False)
    assert res.headers["location"] == "/timeline"


def test_loopback_only_and_tokens(lab_case: Case) -> None:
    c = client(lab_case)
    _error(c.get("/", headers={"host": "rebind.example:8765"}), 400)
    t = TestClient(create_app(lab_case, token="s3cret", allowed_hosts=None),
                   base_url="http://10.0.0.5:8765")
    _error(t.get("/api/findings"), 401)
    _error(t.get("/static/app.js"), 401)
    _error(t.get("/api/findings", headers={"authorization": "Bearer wrong"}), 401)
    assert t.get("/api/findings", headers={"authorization": "Bearer s3cret"}).status_code == 200
    assert t.get("/api/findings", headers={"x-ashiato-token": "s3cret"}).status_code == 200
    first = t.get("/timeline?token=s3cret&host=pc-fuk-5241", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/timeline?host=pc-fuk-5241"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert t.get("/timeline?host=pc-fuk-5241").status_code == 200  # the cookie now


def test_exports_and_report_downloads(lab: TestClient, lab_case: Case) -> None:
    res = lab.get("/export/timeline", params={"format": "csv", "host": "pc-fuk-5241"})
    assert res.status_code == 200 and "attachment" in res.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(res.text)))
    assert rows and list(rows[0])[:3] == ["datetime", "timestamp_desc", "message"]
    stix = lab.get("/export/iocs", params={"format": "stix"}).json()
    assert stix["type"] == "bundle"
    report = lab.get("/report", params={"format": "html", "download": "1"})
    assert report.status_code == 200 and "<script" not in report.text
    assert "style-src 'unsafe-inline'" in report.headers["content-security-policy"]
    live = lab.get("/report")
    assert live.status_code == 200 and 'href="/record/' in live.text
    assert lab.get("/report?format=md&lang=ja").text.startswith("# ashiato — インシデント")


def test_nul_and_invalid_utf8_in_parameters_are_400(lab: TestClient) -> None:
    for query in ("host=pc%00x", "search=%FF%FE", "q=%C3", "dataset=web%00"):
        msg = _error(lab.get(f"/api/timeline?{query}"), 400)
        assert "NUL" in msg or "UTF-8" in msg
    _error(lab.get("/timeline?host=%00"), 400)
    _error(lab.get("/api/record/abc%00:1"), 400)
    _error(lab.get("/host/%FF"), 400)
    _error(lab.post("/api/notes", json={"text": "a\u0000b"}), 400)
    # ordinary Japanese text is fine
    ok = lab.get("/api/timeline", params={"search": "請求書", "limit": 1})
    assert ok.status_code == 200


def test_large_body_refused_while_it_streams(lab_copy: Case) -> None:
    import asyncio

    app = create_app(lab_copy)
    chunk = b"x" * (256 * 1024)
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1  # 600 chunks: 150 MB if it were all read, no Content-Length
        return {"type": "http.request", "body": b'{"text": "' + chunk if received == 1 else chunk,
                "more_body": received < 600}  # fmt: skip

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/notes",
             "raw_path": b"/api/notes", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8765"), (b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8765)}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert received < 10  # stopped just past the limit, not after reading it all
    declared = client(lab_copy).post("/api/notes", content=b"{}", headers={
        "content-type": "application/json", "content-length": str(150 << 20)})  # fmt: skip
    _error(declared, 413)


def test_show_refuses_refs_that_do_not_exist(lab_case: Case) -> None:
    from ashiato.errors import QueryError
    from ashiato.show import show

    with lab_case.reader() as con:
        row = con.execute("SELECT evidence_id, max(record) FROM events WHERE evidence_id "
                          "<> 'analyst-notes' GROUP BY 1 LIMIT 1").fetchone()  # fmt: skip
    assert row is not None
    ev, last = row
    assert show(lab_case, f"{ev}:{last}").events
    for bad in (f"{ev}:-1", f"{ev}:0", f"{ev}:{last + 1000}", f":{last}"):
        with pytest.raises(QueryError):
            show(lab_case, bad)
