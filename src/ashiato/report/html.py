"""The self-contained HTML report: answers first, evidence under each answer.

Everything shown comes from logs and is attacker-controlled, so the template is
rendered with autoescaping on and no value is marked safe. No script, no external
resource: the file opens offline, mailed or archived.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ashiato.case import Case
from ashiato.findings import load

REPORT = "report.html"

_TEXT = {
    "en": {
        "title": "Incident report",
        "answers": "Answers",
        "pz": "Patient zero",
        "hosts": "Hosts",
        "vector": "How it got in",
        "impact": "Impact",
        "tampering": "Tampering and gaps",
        "missing": "Missing logs",
        "next": "Next steps",
        "skew": "Clock skew",
        "notes": "Analyst notes",
        "evidence": "Evidence",
        "none": "none found",
        "confidence": "confidence",
    },
    "ja": {
        "title": "インシデント調査報告",
        "answers": "回答",
        "pz": "最初の感染端末",
        "hosts": "端末ごとの判定",
        "vector": "感染経路",
        "impact": "被害範囲",
        "tampering": "ログの改ざん・欠落",
        "missing": "不足しているログ",
        "next": "次に行うこと",
        "skew": "時刻のずれ",
        "notes": "調査メモ",
        "evidence": "根拠",
        "none": "該当なし",
        "confidence": "確度",
    },
}


def render(findings: dict[str, Any], lang: str = "en") -> str:
    env = Environment(
        loader=PackageLoader("ashiato.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    template = env.get_template("report.html.j2")
    return template.render(f=findings, t=_TEXT.get(lang, _TEXT["en"]), lang=lang)


def write_report(case: Case, lang: str = "en", out: Path | None = None) -> Path:
    path = out or case.root / REPORT
    path.write_text(render(load(case.root), lang), "utf-8")
    return path
