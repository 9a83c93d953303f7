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

from ashiato import i18n
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
    env.filters["when"] = _when_filter
    return env


@pass_context
def _local_filter(ctx: Context, value: Any) -> str:
    return local_text(value, str(ctx.get("tz") or "UTC"))


@pass_context
def _when_filter(ctx: Context, value: Any) -> str:
    return when_text(value, str(ctx.get("tz") or "UTC"))


def zone(tz: str) -> ZoneInfo | None:
    """The zone named ``tz``, or None for UTC and for a name tzdata doesn't know."""
    if not tz or tz.upper() in ("UTC", "Z", "ETC/UTC"):
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def check_zone(tz: str) -> str:
    """``tz`` when it is a zone name tzdata knows (``--display-tz``), else a QueryError."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError(
            f"--display-tz: unknown time zone {tz!r}; use a name such as Asia/Tokyo or UTC"
        ) from None
    return tz


def zone_label(tz: str) -> str:
    """What the report calls the display zone: ``Asia/Tokyo (JST)`` or ``UTC``."""
    z = zone(tz)
    if z is None:
        return "UTC"
    abbr = datetime(2000, 1, 1, tzinfo=z).strftime("%Z")
    return f"{tz} ({abbr})" if abbr and abbr[0] not in "+-" else tz


def when_text(value: Any, tz: str) -> str:
    """A moment as a person reads it: in the case's zone with UTC beside it.

    ``2015-09-10 14:27:09 JST (05:27:09 UTC)``; the UTC date is repeated where it differs
    (``2015-09-10 08:10:00 JST (2015-09-09 23:10:00 UTC)``); ``… UTC`` alone where the
    display zone is UTC. Milliseconds stay on the local side, where the eye lands first.
    """
    ts = series_mod.parse_iso(value)
    if ts is None:
        return "" if value is None else str(value)
    z = zone(tz)
    if z is None:
        return f"{utc_text(ts)} UTC"
    local = ts.astimezone(z)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if local.microsecond:
        text += f".{local.microsecond // 1000:03d}"
    abbr = local.strftime("%Z")
    utc = ts.strftime("%H:%M:%S") if local.date() == ts.date() else ts.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {abbr} ({utc} UTC)"


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
    from ashiato.report import management  # it formats times with this module

    data = series if series is not None else series_mod.build(None, findings)
    # every sentence with an id in the reader's language, times in the display zone
    findings = i18n.localise(findings, lang, lambda v: when_text(v, tz))
    template = environment().get_template("report.html.j2")
    return template.render(
        f=findings,
        t=labels(lang),
        lang=lang if lang in ("en", "ja") else "en",
        charts=all_charts(data, findings, lang, tz),
        inc=incidents_mod.view(findings, lang),
        case_name=case_name,
        standalone=standalone,
        ref_url=ref_url,
        static_url=static_url,
        tz=tz,
        zone_name=zone_label(tz),
        mgmt=management.build(findings, lang, tz),
        tr=lambda msgid, **args: i18n.gettext(lang, msgid, **args),
        say=lambda text, msg=None: i18n.say(lang, text, msg, lambda v: when_text(v, tz)),
        say_all=lambda texts, msgs=None: i18n.say_all(
            lang, texts, msgs, lambda v: when_text(v, tz)
        ),
        verdict=lambda v: verdict(lang, v),
        vtype=lambda v: vector_type(lang, v),
        tkind=lambda v: tampering_kind(lang, v),
        ti=intrusion.labels(lang),  # issue 16 sections (intrusion.html.j2)
        word=lambda prefix, value: intrusion.word(lang, prefix, value),
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


def build(case: Case, lang: str, fmt: str = "html", display_tz: str | None = None) -> str:
    """The report of an investigated case in ``html``, ``md`` or ``json``; times in the
    case's zone (``display_tz`` overrides it) with UTC beside them."""
    if fmt not in FORMATS:
        raise QueryError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    findings = load(case.root)
    data = series_mod.build(case, findings)
    name = case.root.resolve().name
    tz = check_zone(display_tz) if display_tz else case.tz
    if fmt == "json":
        return render_json(findings, data, lang, name)
    if fmt == "md":
        from ashiato.report.markdown import render_markdown

        return render_markdown(findings, data, lang, case_name=name, tz=tz)
    return render(findings, lang, series=data, case_name=name, tz=tz)


def write_report(
    case: Case,
    lang: str = "en",
    out: Path | None = None,
    fmt: str = "html",
    display_tz: str | None = None,
) -> Path:
    text = build(case, lang, fmt, display_tz)
    path = out or case.root / FORMATS[fmt]
    path.write_text(text, "utf-8")
    return path
