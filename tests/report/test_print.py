"""The report printed to PDF by real Chromium: A4 sheets, rows kept whole, a CJK font.

Chromium is Debian's /usr/bin/chromium driven by Playwright (as in tests/web); the PDF is
read with poppler's ``pdfinfo``/``pdffonts`` (.ci/run installs poppler-utils and
fonts-noto-cjk). Each missing piece skips the test, saying how to get it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ashiato.case import Case
from ashiato.report.html import write_report

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
A4 = (595.0, 842.0)  # points: 210 × 297 mm

if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: `apt-get install -y chromium` (.ci/run does) to test printing",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is missing: pip install -e '.[dev]'"
)
if not (shutil.which("pdffonts") and shutil.which("pdfinfo")):
    pytest.skip(
        "no pdffonts/pdfinfo: `apt-get install -y poppler-utils` (.ci/run does)",
        allow_module_level=True,
    )


def _print(html: Path, pdf: Path) -> dict[str, Any]:
    """Print ``html`` to ``pdf`` and return what the print layout says about table rows."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(html.as_uri())
            page.emulate_media(media="print")
            layout = page.evaluate(
                """() => ({
                  rows: Array.from(document.querySelectorAll('tr'))
                        .map(r => getComputedStyle(r).breakInside),
                  mgmt: getComputedStyle(document.querySelector('section.mgmt')).breakAfter,
                  lang: document.documentElement.lang,
                })"""
            )
            page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        finally:
            browser.close()
    return dict(layout)


def test_japanese_report_prints_on_a4_with_an_embedded_cjk_font(
    lab_case: Case, tmp_path: Path
) -> None:
    html = write_report(lab_case, "ja", tmp_path / "report.html")
    pdf = tmp_path / "report.pdf"
    layout = _print(html, pdf)
    assert layout["lang"] == "ja"
    assert layout["rows"] and set(layout["rows"]) == {"avoid"}  # no row is cut in two
    assert layout["mgmt"] == "page"  # the summary for management is a page of its own

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info.stdout, re.M)
    assert size, info.stdout
    width, height = float(size.group(1)), float(size.group(2))
    assert abs(width - A4[0]) < 3 and abs(height - A4[1]) < 3, info.stdout
    assert pages >= 3  # management page, answers, charts and appendix

    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows and all(r.split()[-5] == "yes" for r in rows), fonts.stdout  # all embedded
    # Chromium writes a CFF font (Noto CJK) as Type 3 glyphs: pdffonts shows no name for
    # those, but each font's descriptor keeps it (subset prefix + PostScript name)
    names = set(re.findall(rb"/FontName\s*/[A-Z]{6}\+([\w-]+)", pdf.read_bytes()))
    cjk = {n for n in names if re.search(rb"CJK|Gothic|Mincho|IPA|JP", n)}
    if not cjk and not any("CJK" in line or "IPA" in line for line in _fc_list()):
        pytest.skip("no Japanese font: `apt-get install -y fonts-noto-cjk` (.ci/run does)")
    assert cjk, names
    text = subprocess.run(
        ["pdftotext", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "経営層向けの要約" in text and "本日中に行うこと" in text  # first page, as text


def _fc_list() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    return subprocess.run(["fc-list"], capture_output=True, text=True).stdout.splitlines()
