"""The way in, accounts, data theft and servers in the HTML and Markdown reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ashiato.analysis.pipeline import investigate
from ashiato.findings import load
from ashiato.report.html import render
from ashiato.report.markdown import render_markdown

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from intrusion_case import intrusion, make_case, vpn

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    rows = intrusion()
    # an attacker-chosen user name on the VPN: it must stay text
    rows += [vpn(i, "vpn-login", EVIL, "5.188.10.7", "failure") for i in range(6)]
    case = make_case(tmp_path_factory.mktemp("intrusion"), rows)
    investigate(case)
    return load(case.root)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_html_sections(findings: dict, lang: str) -> None:  # type: ignore[type-arg]
    page = render(findings, lang)
    for anchor in ('id="entry"', 'id="accounts"', 'id="exfiltration"', 'id="servers"'):
        assert anchor in page
    assert "suzuki" in page and "5.188.10.1" in page and "svc_backup2" in page
    assert "esx01" in page and "mega.co.nz" in page
    assert ("2.8 GiB" in page) and ("likely" in page or "可能性が高い" in page)
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_markdown_sections(findings: dict) -> None:  # type: ignore[type-arg]
    text = render_markdown(findings, {}, "en")
    assert "## The way in (remote access)" in text
    assert "**vpn sign-in of suzuki from 5.188.10.1 (RU)" in text
    assert "## Accounts used by the intruder" in text and "svc\\_backup2" in text
    assert "Verdict: **likely**" in text
    assert "The encryption happened on the hypervisor esx01" in text
    assert EVIL not in text


def test_sections_absent_without_data(findings: dict) -> None:  # type: ignore[type-arg]
    bare = {
        k: v
        for k, v in findings.items()
        if k not in ("entry", "accounts", "exfiltration", "servers")
    }
    assert 'id="entry"' not in render(bare, "en")
    assert "## The way in" not in render_markdown(bare, {}, "en")


def test_terminal_lines(findings: dict) -> None:  # type: ignore[type-arg]
    from ashiato.report.intrusion import terminal_lines

    lines = terminal_lines(findings)
    assert lines[0].startswith("Way in: vpn sign-in of suzuki from 5.188.10.1 (RU)")
    assert any("svc_backup2" in x and "krbtgt" in x for x in lines)
    assert any(x.startswith("Data theft: likely") for x in lines)
    assert any(
        x.startswith("Servers: The encryption happened on the hypervisor esx01") for x in lines
    )
