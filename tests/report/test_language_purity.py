"""Issue 15, done when: the Japanese report of every lab scenario has no English prose
outside quoted evidence, names and a short list of terms, and the English report no
Japanese outside evidence (Markdown and HTML)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from purity import offending, values

from ashiato import i18n
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


def test_the_lab_report_speaks_one_language(lab_case: Case) -> None:
    bad = _check(lab_case)
    assert not bad, bad


def test_every_sentence_named_in_the_lab_findings_is_said_in_japanese(lab_case: Case) -> None:
    f = load(lab_case.root)
    named = list(_named(f))
    assert len(named) > 20
    unsaid = [m for m in named if i18n.render("ja", m) is None]
    assert not unsaid, unsaid[:5]


def _named(tree: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"msg": ...}`` beside a sentence in findings.json."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k.endswith("_msg") and isinstance(v, dict):
                yield v
            elif k.endswith("_msgs") and isinstance(v, list):
                yield from (m for m in v if isinstance(m, dict))
            else:
                yield from _named(v)
    elif isinstance(tree, list):
        for x in tree:
            yield from _named(x)


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("purity")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scenario", "variant"),
    [("fileserver-encryption", None), ("mail-attachment", None), ("drive-by", None),
     ("log-tampering", None), ("spam-bot", None), ("benign", None),
     ("hands-on-keyboard", None), ("vpn-intrusion", None),
     ("hands-on-keyboard", "default-logging"), ("vpn-intrusion", "default-logging")],
)  # fmt: skip
def test_every_lab_scenario_reports_in_one_language(
    scenario: str, variant: str | None, lab_root: Path
) -> None:
    from ashiato import lab
    from ashiato.analysis.pipeline import investigate
    from ashiato.ingest import Options, ingest

    root = lab_root / f"{scenario}-{variant or 'full'}"
    shutil.rmtree(root, ignore_errors=True)
    lab.generate(scenario, root / "lab", seed=1, scale=1, variant=variant)
    case = Case.create_or_open(root / "case", tz="Asia/Tokyo")
    ingest(case, [root / "lab" / "evidence"], Options(tz="Asia/Tokyo"))
    investigate(case)
    bad = _check(case)
    assert not bad, bad


def test_the_terminal_summary_speaks_the_readers_language(
    lab_case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import re

    from rich.console import Console

    from ashiato import cli
    from ashiato.report.html import when_text

    f = load(lab_case.root)
    said = {}
    for lang in ("ja", "en"):
        buf = io.StringIO()
        monkeypatch.setattr(cli, "out", Console(file=buf, width=10000, color_system=None))
        cli._print_findings(f, lab_case, lang)
        said[lang] = buf.getvalue()
    ja, en = said["ja"], said["en"]
    step = i18n.render("ja", f["next_step_msgs"][0], lambda v: when_text(v, lab_case.tz))
    assert step and step in ja and "初期感染端末:" in ja  # sentences and labels in Japanese
    assert f["incident"]["summary"] in en and f["next_steps"][0] in en  # English as written
    # times in the case's zone with UTC beside them
    assert re.search(r"\d\d:\d\d:\d\d(\.\d{3})? JST \(", ja)
    assert "Patient zero:" in en and "初期感染端末" not in en
