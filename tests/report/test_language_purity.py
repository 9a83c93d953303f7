"""Issue 15, done when: the Japanese report of every lab scenario has no English prose
outside quoted evidence, names and a short list of terms, and the English report no
Japanese outside evidence (Markdown and HTML)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from purity import offending, values

from ashiato.case import Case
from ashiato.findings import load
from ashiato.report import series as series_mod
from ashiato.report.html import build


def _check(case: Case) -> dict[str, dict[str, str]]:
    f = load(case.root)
    data = series_mod.build(case, f)
    bad: dict[str, dict[str, str]] = {}
    for lang in ("ja", "en"):
        for fmt in ("md", "html"):
            page = build(case, lang, fmt)
            words = offending(page, fmt, lang, f, data, [case.root.name, case.tz])
            if words:
                bad[f"{lang}/{fmt}"] = words
    return bad


def test_the_checker_finds_english_prose_and_spares_evidence() -> None:
    f = {"hosts": [{"host": "pc-ngy-7529", "users": ["fujii"], "reasons": ["Isolate it now."]}]}
    page = "## 感染端末\n\npc-ngy-7529 (fujii): Isolate it now. `wevtutil epl` SMB\n"
    assert set(offending(page, "md", "ja", f)) == {"Isolate", "now"}
    html = "<p>感染端末 <code>Security.evtx</code> fujii が <b>locked</b></p>"
    assert set(offending(html, "html", "ja", f)) == {"locked"}
    assert set(offending("<p>Host 感染</p>", "html", "en", f)) == {"感", "染"}
    assert "Isolate it now." not in set(values(f))  # a sentence is not evidence


@pytest.mark.xfail(reason="issue 15: sentences still being named by id", strict=False)
def test_the_lab_report_speaks_one_language(lab_case: Case) -> None:
    bad = _check(lab_case)
    assert not bad, bad


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("purity")


@pytest.mark.slow
@pytest.mark.xfail(reason="issue 15: sentences still being named by id", strict=False)
@pytest.mark.parametrize(
    "scenario",
    ["fileserver-encryption", "mail-attachment", "drive-by", "log-tampering", "spam-bot",
     "benign", "hands-on-keyboard", "vpn-intrusion"],
)  # fmt: skip
def test_every_lab_scenario_reports_in_one_language(scenario: str, lab_root: Path) -> None:
    from ashiato import lab
    from ashiato.analysis.pipeline import investigate
    from ashiato.ingest import Options, ingest

    root = lab_root / scenario
    shutil.rmtree(root, ignore_errors=True)
    lab.generate(scenario, root / "lab", seed=1, scale=1)
    case = Case.create_or_open(root / "case", tz="Asia/Tokyo")
    ingest(case, [root / "lab" / "evidence"], Options(tz="Asia/Tokyo"))
    investigate(case)
    bad = _check(case)
    assert not bad, bad
