"""End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Kept few and fast: one browser for the module, one server per case. Screenshots go to
tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: install it with `apt-get install -y chromium` "
        "(.ci/run does) to run the browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is missing: pip install -e '.[dev]'"
)
uvicorn = pytest.importorskip("uvicorn", reason="the web extra is missing: pip install -e '.[web]'")

from ashiato.case import Case  # noqa: E402
from ashiato.findings import load  # noqa: E402
from ashiato.report.html import write_report  # noqa: E402
from ashiato.web.app import create_app  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn in a thread, on a free loopback port; stops when the test is done."""

    def __init__(self, case: Case) -> None:
        self.port = _free_port()
        config = uvicorn.Config(create_app(case), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the web UI did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def test_dashboard_filter_record_note(page: Any, lab_copy: Case) -> None:
    case = lab_copy
    pz = load(case.root)["patient_zero"]
    with Server(case) as srv:
        page.goto(srv.url + "/?lang=en")
        assert page.locator("#pz").inner_text().find(pz["host"]) >= 0
        assert page.locator("figure.chart svg").count() >= 5
        _shot(page, "web-dashboard.png")

        # filter the timeline to patient zero, from the filter form
        page.click("header nav >> text=Timeline")
        page.fill("form#filters input[name=host]", pz["host"].upper())
        page.fill("form#filters input[name=from]", "2015-09-10T14:26:00")  # JST
        page.click("#apply")
        page.wait_for_url(re.compile(r"/timeline\?"))
        hosts = page.locator("#timeline tbody tr td:nth-child(3)").all_inner_texts()
        assert hosts and set(hosts) == {pz["host"]}

        # the raw record behind the first row
        page.locator("#timeline a.ref").first.click()
        page.wait_for_url(re.compile(r"/record/"))
        assert page.locator("#original").inner_text().strip()

        # a note about it, shown in the timeline
        text = "聞き取り: 見積依頼_0910.zip を開いたと本人が証言"
        page.fill("#note-form textarea[name=text]", text)
        page.fill("#note-form input[name=tags]", "interview")
        page.click("#save-note")
        page.wait_for_url(re.compile(r"/timeline\?"))
        note = page.locator("#timeline tr.note")
        assert note.count() == 1 and text in note.inner_text()
        note.scroll_into_view_if_needed()
        _shot(page, "web-timeline-note.png")


def _inspect(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        """() => ({
            scripts: Array.from(document.scripts).map(s => s.getAttribute('src')),
            handlers: document.querySelectorAll('[onerror],[onload],[onclick]').length,
            imgs: document.querySelectorAll('img').length,
            strays: Array.from(document.querySelectorAll('svg'))
                .filter(s => !s.classList.contains('ashiato-chart')).length,
            text: document.body.innerText,
        })"""
    )
    return result


def test_hostile_names_render_as_text(
    page: Any, xss_case: Case, payloads: dict[str, str], tmp_path: Path
) -> None:
    script, img, svg = payloads["script"], payloads["img"], payloads["svg"]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # the checks below do catch markup that got through: a canary page with the payloads
    page.set_content(f"<p>{img}</p><p>{svg}</p>")
    page.wait_for_timeout(100)
    canary = _inspect(page)
    assert canary["imgs"] == 1 and canary["handlers"] == 2 and canary["strays"] == 1
    assert len(dialogs) == 2
    dialogs.clear()
    report = write_report(xss_case, "ja", tmp_path / "report.html")
    f = load(xss_case.root)
    refs = [e["ref"] for e in f["patient_zero"]["evidence"]]
    with Server(xss_case) as srv:
        pages = [
            srv.url + "/",
            srv.url + "/timeline?q=script",
            srv.url + "/timeline?dataset=squid.access",
            srv.url + "/host/" + quote(img.lower(), safe=""),
            srv.url + "/user/" + quote(f"CORP\\{svg}", safe=""),
            srv.url + "/report",
            *[srv.url + "/record/" + quote(r, safe=":") for r in refs[:3]],
            report.as_uri(),
        ]
        seen_text = ""
        for url in pages:
            page.goto(url)
            page.wait_for_timeout(50)
            found = _inspect(page)
            allowed = set() if url.startswith("file:") else {"/static/app.js"}
            assert set(found["scripts"]) <= allowed, (url, found["scripts"])
            assert found["handlers"] == 0 and found["imgs"] == 0 and found["strays"] == 0, url
            seen_text += found["text"]
        assert dialogs == []
        for payload in (script, img, svg):
            assert payload in seen_text  # shown, as text
        page.goto(srv.url + "/timeline?q=script")
        _shot(page, "web-xss-timeline.png")


def test_report_opens_offline_with_charts(page: Any, lab_case: Case, tmp_path: Path) -> None:
    report = write_report(lab_case, "ja", tmp_path / "report.html")
    asked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            asked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(report.as_uri())
    charts = page.evaluate(
        """() => Array.from(document.querySelectorAll('figure.chart')).map(f => ({
            id: f.id,
            shapes: f.querySelectorAll('svg rect, svg polyline, svg circle').length,
            width: f.querySelector('svg')
                ? f.querySelector('svg').getBoundingClientRect().width : 0,
        }))"""
    )
    assert asked == []
    drawn = {c["id"]: c for c in charts}
    for name in ("chart-encrypted", "chart-smb", "chart-chain-0", "chart-coverage",
                 "chart-leases"):
        assert drawn[name]["shapes"] > 5 and drawn[name]["width"] > 300, drawn.get(name)
    assert "侵入経路" in page.inner_text("body")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
    page.locator("#chart-smb").screenshot(path=str(ARTIFACTS / "report-chart-smb.png"))
    shutil.copy(report, ARTIFACTS / "report-lab-ja.html")
