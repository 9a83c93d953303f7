"""The report as Markdown: the same answers and evidence, charts as tables.

Log text is escaped for Markdown (emphasis, links, table pipes, headings) and for the
HTML that Markdown viewers render (``<`` ``>`` ``&`` become entities), so a file name
such as ``<script>`` or ``[x](javascript:...)`` stays text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from ashiato import i18n
from ashiato.report import intrusion, management
from ashiato.report.charts import human_bytes, human_gap
from ashiato.report.html import when_text, zone_label
from ashiato.report.series import parse_iso
from ashiato.report.text import labels, tampering_kind, vector_type, verdict
from ashiato.terminal import visible

_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "~": "\\~",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\r": " ",
        "\n": " ",
        "\t": " ",
    }
)


_ORDERED = re.compile(r"^(\d+)([.)])(?=\s)")


def md(value: Any) -> str:
    """One value as inert Markdown text (safe inside a table cell or a list item)."""
    if value is None:
        return ""
    # control characters (ESC from a log line) are written out as \x1b text
    out = visible(str(value).translate(_SPECIAL))
    if out[:1] in ("#", "-", "+", "=", "!"):
        return "\\" + out  # would start a heading, a list or a rule
    return _ORDERED.sub(r"\1\\\2", out, count=1)  # "2. x" would start a numbered list


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def count_basis(basis: dict[str, Any], t: dict[str, str]) -> str:
    """Per share: files counted (a range where writers were unknown), why, what was left out."""
    parts = []
    for share, b in basis.items():
        n = f"{b['low']:,}–{b['high']:,}" if b["low"] != b["high"] else f"{b['files']:,}"
        left = f"; {b['excluded']:,} {t['left_out']}" if b.get("excluded") else ""
        parts.append(f"{share}: {n} ({b['basis']}{left})")
    return "; ".join(parts)


def _evidence(
    items: Sequence[dict[str, Any]] | None, t: dict[str, str], tz: str = "UTC"
) -> list[str]:
    if not items:
        return []
    return _table(
        (t["time_utc"], t["source"], t["evidence"], t["ref"]),
        (
            (when_text(e.get("time"), tz), e.get("dataset"), e.get("summary"), e.get("ref"))
            for e in items[:50]
        ),
    )


def render_markdown(
    f: dict[str, Any],
    data: dict[str, Any],
    lang: str,
    *,
    case_name: str | None = None,
    tz: str = "UTC",
) -> str:
    t = labels(lang)
    # every sentence with an id in the reader's language, times in the display zone
    f = i18n.localise(f, lang, lambda v: when_text(v, tz))
    out: list[str] = [f"# ashiato — {md(t['title'])}", ""]
    if case_name:
        out.append(
            f"{md(t['case'])}: **{md(case_name)}** · {t['generated']} "
            f"{md(when_text(f.get('generated'), tz))}"
        )
        out.append("")
    incident = f.get("incident") or {}
    headline = i18n.say(lang, incident.get("summary"), incident.get("summary_msg"))
    out += [
        f"**{md(headline or t['nothing_detected'])}**",
        "",
        f"_{md(t['utc_note'].format(zone=zone_label(tz)))}_",
        "",
    ]
    out += management.markdown(f, lang, tz)  # the first page: for management
    hosts = f.get("hosts") or []
    flagged = [h for h in hosts if h.get("verdict") in ("infected", "suspicious")]
    head = (
        t["host"],
        t["verdict"],
        t["ips"],
        t["users"],
        t["first_malicious"],
        t["first_encryption"],
        t["reasons"],
    )

    def host_rows(items: Sequence[dict[str, Any]]) -> Iterable[Sequence[Any]]:
        for h in items:
            yield (
                h["host"],
                verdict(lang, h.get("verdict")),
                ", ".join(h.get("ips") or [])[:200],
                ", ".join(h.get("users") or [])[:200],
                when_text(h.get("first_malicious"), tz),
                when_text(h.get("first_encryption"), tz),
                # a Japanese sentence ends in 。 already; English ones are joined with "; "
                (" " if lang == "ja" else "; ").join((h.get("reasons") or [])[:6]),
            )

    out += [f"## 1. {t['infected']}", ""]
    if flagged:
        out += _table(head, host_rows(flagged))
        for h in flagged:
            if h.get("evidence"):
                out += [f"### {t['evidence']}: {md(h['host'])}", ""]
                out += _evidence(h["evidence"], t, tz)
    else:
        out += [t["none"], ""]

    from ashiato.report.incidents_md import section

    out += section(f, lang, lambda items: _evidence(items, t, tz), _table, md,
                   lambda v: when_text(v, tz) if v else "")
    out += [f"## 2. {t['pz']}", ""]
    pz = f.get("patient_zero")
    if pz:
        out += [
            f"**{md(pz['host'])}** — {t['ip']} {md(pz.get('ip') or '?')}, {t['user']} "
            f"{md(pz.get('user') or '?')} — {t['confidence']} {md(pz.get('confidence'))}",
            "",
            f"{t['signals']}: {md(', '.join(pz.get('signals') or []))}",
            "",
        ]
        out += _evidence(pz.get("evidence"), t, tz)
    else:
        out += [t["none"], ""]

    out += [f"## 3. {t['vector']}", ""]
    for v in f.get("vectors") or []:
        out += [
            f"### {md(v['host'])}: {md(vector_type(lang, v.get('type')))} "
            f"({t['confidence']} {md(v.get('confidence'))})",
            "",
        ]
        if v.get("first_event_time"):
            out += [md(when_text(v["first_event_time"], tz)), ""]
        if v.get("artifacts"):
            out += [f"{t['artifacts']}: " + ", ".join(md(a) for a in v["artifacts"]), ""]
        if v.get("late_av_detection"):
            out += [f"{t['late_av']}: {md(v['late_av_detection'])}", ""]
        if v.get("missing"):
            out += [f"{t['not_seen']}: {md('; '.join(v['missing']))}", ""]
        out += _evidence(v.get("chain"), t, tz)
    if not f.get("vectors"):
        out += [t["none"], ""]

    imp = f.get("impact") or {}
    win = imp.get("window") or {}
    spam = imp.get("spam") or {}
    out += [f"## 4. {t['impact']}", ""]
    out += _table(
        ("", ""),
        [
            (
                t["encrypted_files"],
                f"{imp.get('encrypted_files') or 0:,} "
                f"({t['restore_list']}: {imp.get('encrypted_files_csv') or '-'})",
            ),
            (
                t["ransom_notes"],
                f"{imp.get('ransom_notes') or 0:,} " + ", ".join(imp.get("note_names") or []),
            ),
            (
                t["window"],
                f"{when_text(win.get('start'), tz)} — {when_text(win.get('end'), tz)}"
                if win
                else "",
            ),
            (t["shares"], ", ".join(f"{k}: {n:,}" for k, n in (imp.get("shares") or {}).items())),
            (t["count_basis"], count_basis(imp.get("count_basis") or {}, t)),
            (t["owners"], ", ".join(f"{k}: {n:,}" for k, n in (imp.get("users") or {}).items())),
            (t["c2"], ", ".join(imp.get("c2") or [])),
            (t["payment"], ", ".join(imp.get("payment_sites") or [])),
            (t["ip_lookups"], ", ".join(imp.get("ip_lookups") or [])),
            (
                t["spam"],
                f"{spam.get('host') or spam.get('ip')}: {spam.get('connections')} "
                f"{t['smtp_connections']}"
                if spam
                else "",
            ),
            (t["other_infected"], ", ".join(imp.get("other_infected_hosts") or [])),
        ],
    )
    out += _evidence(imp.get("evidence"), t, tz)
    out += intrusion.markdown(f, lang, tz)  # issue 16: way in, accounts, data theft, servers

    out += [f"## 5. {t['tampering']}", ""]
    for x in f.get("tampering") or []:
        out += [
            f"### {md(tampering_kind(lang, x.get('kind')))} — {md(x.get('host') or '?')} "
            f"{md(when_text(x.get('time'), tz))}",
            "",
        ]
        out += _evidence(x.get("evidence"), t, tz)
    if not f.get("tampering"):
        out += [t["none"], ""]

    cov = f.get("coverage") or {}
    out += [f"## 6. {t['missing']}", ""]
    if cov.get("missing"):
        out += _table(
            (t["what"], t["why"], t["advice"]),
            ((m.get("what"), m.get("why_it_matters"), m.get("advice")) for m in cov["missing"]),
        )
    else:
        out += [t["none"], ""]
    if cov.get("not_read"):
        out += [f"### {md(t['not_read'])} ({len(cov['not_read'])})", ""]
        out += _table(
            (t["evidence"], t["reason"]),
            ((n.get("path"), n.get("reason")) for n in cov["not_read"][:2000]),
        )

    out += [f"## 7. {t['next']}", ""]
    out += [
        f"{i}. {md(s)}"
        for i, s in enumerate(i18n.say_all(lang, f.get("next_steps"), f.get("next_step_msgs")), 1)
    ] or [t["none"]]
    out += [""]

    out += [f"## 8. {t['charts']}", ""]
    out += _charts(data, t, lang, tz)

    out += [f"## 9. {t['appendix']}", "", f"### {t['hosts']} ({len(hosts)})", ""]
    out += _table(head, host_rows(hosts[:2000]))
    if cov.get("sources"):
        out += [f"### {t['sources']}", ""]
        out += _table(
            (t["source"], t["events"], t["first"], t["last"]),
            (
                (
                    s.get("dataset"),
                    f"{s.get('events') or 0:,}",
                    when_text(s.get("first"), tz),
                    when_text(s.get("last"), tz),
                )
                for s in cov["sources"]
            ),
        )
    out += [f"### {t['skew']}", ""]
    if f.get("clock_skew"):
        out += _table(
            (t["source"], t["offset"], t["basis"]),
            (
                (c.get("source"), f"{c.get('offset_seconds')} s", c.get("basis"))
                for c in f["clock_skew"]
            ),
        )
    else:
        out += [t["none"], ""]
    out += [f"### {t['notes']}", ""]
    out += _evidence(f.get("notes"), t, tz) or [t["none"], ""]
    # labels and numbers are ours; anything else went through md(), but a stray
    # control character must not reach a terminal that cats the report
    return visible("\n".join(out) + "\n")


def _charts(data: dict[str, Any], t: dict[str, str], lang: str, tz: str) -> list[str]:
    out: list[str] = []
    enc = data.get("encrypted") or {}
    start = parse_iso(enc.get("start"))
    step = int(enc.get("bin_minutes") or 1)
    out += [f"### {md(t['chart_encrypted'].format(n=step))}", ""]
    series: dict[str, list[int]] = enc.get("series") or {}
    rows: list[Sequence[Any]] = []
    if series and start is not None:
        names = list(series)
        for i in range(int(enc.get("bins") or 0)):
            counts = [series[n][i] for n in names]
            if any(counts):
                rows.append([when_text(start + timedelta(minutes=step * i), tz), *counts])
        out += _table([t["time_utc"], *names], rows)
    else:
        out += [t["no_encrypted"], ""]

    smb = data.get("smb") or {}
    measure = str(smb.get("measure") or "bytes")
    title = t["chart_smb"].format(n=smb.get("bin_minutes") or 1, measure=t.get(measure, measure))
    out += [f"### {md(title)}", ""]
    clients = smb.get("clients") or []
    sstart = parse_iso(smb.get("start"))
    if clients and sstart is not None:
        fmt = human_bytes if measure == "bytes" else (lambda v: f"{v:g}")
        rows = []
        for c in clients:
            values = c.get("values") or [0]
            peak = max(range(len(values)), key=lambda i: values[i])
            when = sstart + timedelta(minutes=int(smb.get("bin_minutes") or 1) * peak)
            label = t["others"].format(n=c["others"]) if c.get("others") else c.get("ip")
            rows.append(
                (
                    label,
                    c.get("host") or "",
                    fmt(c.get("total") or 0),
                    when_text(when, tz),
                    fmt(values[peak]),
                )
            )
        out += _table(
            (t["ip"], t["host"], t.get(measure, measure), t["peak_time"], t["peak"]), rows
        )
    else:
        out += [t["no_smb"], ""]

    for chain in data.get("chains") or []:
        out += [
            f"### {md(t['chart_chain'].format(host=chain.get('host')))} — "
            f"{md(vector_type(lang, chain.get('type')))}",
            "",
        ]
        out += _table(
            (t["time_utc"], t["gap"], t["source"], t["evidence"], t["ref"]),
            (
                (
                    when_text(s.get("time"), tz),
                    human_gap(s.get("gap_seconds")),
                    s.get("dataset"),
                    f"{i18n.say(lang, s.get('stage'), s.get('stage_msg'))}: {s.get('summary')}"
                    if s.get("stage")
                    else s.get("summary"),
                    s.get("ref"),
                )
                for s in chain.get("steps") or []
            ),
        )

    cov = data.get("coverage") or {}
    out += [f"### {md(t['chart_coverage'])}", ""]
    if cov.get("datasets"):
        rows = []
        for ds, values in cov["datasets"].items():
            longest = run = 0
            for v in values:
                run = run + 1 if not v else 0
                longest = max(longest, run)
            rows.append(
                (
                    ds,
                    f"{sum(values):,}",
                    f"{sum(1 for v in values if v)}/{len(values)}",
                    f"{longest} h",
                )
            )
        out += _table(
            (t["source"], t["events"], t["hours_with_events"], t["longest_silence"]), rows
        )
    else:
        out += [t["no_coverage"], ""]

    out += [f"### {md(t['chart_leases'])}", ""]
    leases = data.get("leases") or []
    if leases:
        out += _table(
            (t["host"], t["ip"], t["first"], t["last"], t["ref"]),
            (
                (
                    r.get("host"),
                    r.get("ip"),
                    when_text(r.get("start"), tz),
                    when_text(r.get("end"), tz),
                    r.get("ref"),
                )
                for r in leases
            ),
        )
    else:
        out += [t["no_leases"], ""]
    return out
