"""The self-contained HTML report: answers first, evidence under each answer, then charts.

Everything shown comes from logs and is attacker-controlled, so the templates are
rendered with autoescaping on and no value is marked safe; the charts are SVG shapes
whose text and attributes go through the same escaping. No script, no external
resource (a CSP meta forbids both): the file opens offline, mailed or archived.

The same data is written as Markdown and JSON (``write_report(..., fmt="md"|"json")``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from ashiato.case import Case
from ashiato.errors import QueryError
from ashiato.findings import load
from ashiato.report import incidents as incidents_mod
from ashiato.report import intrusion
from ashiato.report import series as series_mod
from ashiato.report.charts import all_charts
from ashiato.report.text import labels, tampering_kind, vector_type, verdict

REPORT = "report.html"
FORMATS = {"html": "report.html", "md": "report.md", "json": "report.json"}
JSON_SCHEMA = "ashiato.report/1"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("ashiato.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["utc"] = utc_text
    env.filters["local"] = _local_filter
    return env


@pass_context
def _local_filter(ctx: Context, value: Any) -> str:
    return local_text(value, str(ctx.get("tz") or "UTC"))


def utc_text(value: Any) -> str:
    """``2015-09-10T05:28:06.659000Z`` → ``2015-09-10 05:28:06.659`` (empty for nothing)."""
    ts = series_mod.parse_iso(value)
    if ts is None:
        return "" if value is None else str(value)
    text = ts.strftime("%Y-%m-%d %H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond // 1000:03d}"
    return text


def local_text(value: Any, tz: str) -> str:
    """The same moment in the case's zone, with the zone's abbreviation (JST)."""
    ts = series_mod.parse_iso(value)
    if ts is None:
        return ""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def render(
    findings: dict[str, Any],
    lang: str = "en",
    *,
    series: dict[str, Any] | None = None,
    case_name: str | None = None,
    tz: str = "UTC",
    standalone: bool = True,
    ref_url: Callable[[str], str] | None = None,
    static_url: str = "",
) -> str:
    """The report as one HTML page. ``standalone`` inlines the CSS (the file report);
    the web UI links its stylesheet instead and turns refs into links."""
    data = series if series is not None else series_mod.build(None, findings)
    template = environment().get_template("report.html.j2")
    return template.render(
        f=findings,
        t=labels(lang),
        lang=lang if lang in ("en", "ja") else "en",
        charts=all_charts(data, findings, lang),
        inc=incidents_mod.view(findings, lang),
        case_name=case_name,
        standalone=standalone,
        ref_url=ref_url,
        static_url=static_url,
        tz=tz,
        verdict=lambda v: verdict(lang, v),
        vtype=lambda v: vector_type(lang, v),
        tkind=lambda v: tampering_kind(lang, v),
        ti=intrusion.labels(lang),  # issue 16 sections (intrusion.html.j2)
        human=intrusion.human,
    )


def render_json(
    findings: dict[str, Any], data: dict[str, Any], lang: str, case_name: str | None
) -> str:
    doc = {
        "schema": JSON_SCHEMA,
        "lang": lang,
        "case": case_name,
        "findings": findings,
        "charts": data,
    }
    return orjson.dumps(doc, default=_default, option=orjson.OPT_INDENT_2).decode() + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return series_mod.parse_iso(value).isoformat().replace("+00:00", "Z")  # type: ignore[union-attr]
    return str(value)


def build(case: Case, lang: str, fmt: str = "html") -> str:
    """The report of an investigated case in ``html``, ``md`` or ``json``."""
    if fmt not in FORMATS:
        raise QueryError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    findings = load(case.root)
    data = series_mod.build(case, findings)
    name = case.root.resolve().name
    if fmt == "json":
        return render_json(findings, data, lang, name)
    if fmt == "md":
        from ashiato.report.markdown import render_markdown

        return render_markdown(findings, data, lang, case_name=name, tz=case.tz)
    return render(findings, lang, series=data, case_name=name, tz=case.tz)


def write_report(case: Case, lang: str = "en", out: Path | None = None, fmt: str = "html") -> Path:
    text = build(case, lang, fmt)
    path = out or case.root / FORMATS[fmt]
    path.write_text(text, "utf-8")
    return path
