"""The first page: a summary for management (経営層向けの要約), from findings.json only.

What happened, since when, what is affected, what is known and not yet known, what must
happen today, one timeline strip, and the decisions that fall on management (reporting a
personal-data breach, the police, keeping the evidence). Every sentence is a catalogue
message (``mgmt.*`` in ``ashiato/i18n/locale``) filled with values from the findings;
the HTML partial ``management.html.j2`` and :func:`markdown` only lay this out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ashiato import i18n
from ashiato.report.html import when_text
from ashiato.report.series import parse_iso
from ashiato.report.text import tampering_kind, vector_type

_LIST = 6  # names shown in a sentence before "…"


@dataclass
class Summary:
    happened: list[str] = field(default_factory=list)
    since: str = ""
    affected: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    today: list[str] = field(default_factory=list)
    decisions: list[tuple[str, str]] = field(default_factory=list)
    timeline: list[tuple[str, str]] = field(default_factory=list)  # (when, what), in order


def _names(items: list[Any], sep: str) -> str:
    names = list(dict.fromkeys(str(x) for x in items if x))  # a host named twice is one host
    return sep.join(names[:_LIST]) + (" …" if len(names) > _LIST else "")


def build(f: dict[str, Any], lang: str, tz: str) -> Summary:
    def m(msgid: str, **args: Any) -> str:
        return i18n.gettext(lang, f"mgmt.{msgid}", **args)

    sep = "、" if lang == "ja" else ", "
    s = Summary()
    incident = f.get("incident") or {}
    hosts = f.get("hosts") or []
    infected = [h["host"] for h in hosts if h.get("verdict") == "infected"]
    suspicious = [h["host"] for h in hosts if h.get("verdict") == "suspicious"]
    imp = f.get("impact") or {}
    files = int(imp.get("encrypted_files") or 0)
    acc = f.get("accounts") or {}
    used = [a for a in acc.get("accounts") or [] if a.get("by_intruder")]
    reached = sorted({h for a in used for h in a.get("hosts") or []})
    ex = f.get("exfiltration") or {}
    exv = str(ex.get("verdict") or "")
    cov = f.get("coverage") or {}
    missing = cov.get("missing") or []
    tampering = f.get("tampering") or []
    spam = imp.get("spam") or {}

    # -- what happened
    if files or incident.get("kind") == "ransomware":
        s.happened.append(
            m("what_ransomware", files=f"{files:,}", notes=f"{int(imp.get('ransom_notes') or 0):,}")
        )
    if infected:
        s.happened.append(m("what_infected", n=len(infected), hosts=_names(infected, sep)))
    if used:
        s.happened.append(
            m(
                "what_compromised",
                n=len(used),
                accounts=_names([a.get("account") for a in used], sep),
                hosts=_names(reached, sep) or "?",
            )
        )
    if spam:
        s.happened.append(
            m(
                "what_spam",
                host=spam.get("host") or spam.get("ip") or "?",
                n=spam.get("connections") or 0,
            )
        )
    if not s.happened:
        s.happened.append(m("what_malware", n=len(suspicious)) if suspicious else m("what_nothing"))

    # -- timeline and since when
    points: list[tuple[Any, str]] = []
    e = (f.get("entry") or {}).get("entry") or {}
    if e.get("time"):
        points.append(
            (
                e["time"],
                m(
                    "tl_entry",
                    via=i18n.section(lang, "via").get(str(e.get("via"))) or e.get("via") or "?",
                    user=e.get("user") or "?",
                ),
            )
        )
    for v in (f.get("vectors") or [])[:3]:
        if v.get("first_event_time"):
            vt = vector_type(lang, v.get("type"))
            points.append((v["first_event_time"], m("tl_vector", host=v.get("host"), vector=vt)))
    for h in hosts:
        if h.get("verdict") == "infected" and h.get("first_malicious"):
            points.append((h["first_malicious"], m("tl_first_malicious", host=h["host"])))
    win = imp.get("window") or {}
    if win.get("start"):
        points.append((win["start"], m("tl_enc_start")))
    if win.get("end") and win.get("end") != win.get("start"):
        points.append((win["end"], m("tl_enc_end")))
    for x in tampering[:3]:
        if x.get("time"):
            kind = tampering_kind(lang, x.get("kind"))
            points.append((x["time"], m("tl_tamper", host=x.get("host") or "?", kind=kind)))
    dated = sorted(
        ((ts, what) for t, what in points if (ts := parse_iso(t)) is not None),
        key=lambda p: p[0],
    )
    seen: set[str] = set()
    for ts, what in dated:
        if what not in seen:  # one host's first activity can repeat a vector's
            seen.add(what)
            s.timeline.append((when_text(ts, tz), what))
    s.timeline = s.timeline[:8]
    s.since = (
        m("since", time=s.timeline[0][0], what=s.timeline[0][1]) if s.timeline else m("since_none")
    )

    # -- affected
    if files:
        shares = _names(list((imp.get("shares") or {}).keys()), sep) or "?"
        s.affected.append(
            m(
                "affected_files",
                files=f"{files:,}",
                shares=shares,
                csv=imp.get("encrypted_files_csv") or "-",
            )
        )
    if infected or suspicious:
        s.affected.append(m("affected_hosts", n=len(infected), m=len(suspicious)))
    if exv:
        s.affected.append(m(f"exfil_{exv}"))

    # -- known / not yet known
    pz = f.get("patient_zero")
    if pz:
        s.known.append(m("known_pz", host=pz.get("host"), user=pz.get("user") or "?"))
    elif infected:
        s.unknown.append(m("unknown_pz"))
    vectors = [v for v in f.get("vectors") or [] if v.get("type") not in (None, "unknown")]
    if vectors:
        v = vectors[0]
        s.known.append(
            m(
                "known_vector",
                vector=vector_type(lang, v.get("type")),
                time=when_text(v.get("first_event_time"), tz) or "?",
            )
        )
    elif infected or used:
        s.unknown.append(m("unknown_vector"))
    if files:
        s.known.append(m("known_files"))
    if f.get("clock_skew"):
        s.known.append(m("known_skew", n=len(f["clock_skew"])))
    if exv and exv != "likely":
        s.unknown.append(m("unknown_exfil"))
    if tampering:
        s.unknown.append(m("unknown_tampering", n=len(tampering)))
    if missing:
        s.unknown.append(m("unknown_missing", n=len(missing)))

    # -- today
    detected = bool(incident.get("detected") or infected or used)
    if infected or reached:
        s.today.append(m("today_isolate", hosts=_names(infected + reached, sep)))
    if detected:
        s.today.append(m("today_preserve"))
    if used:
        s.today.append(m("today_accounts", accounts=_names([a.get("account") for a in used], sep)))
    if missing:
        s.today.append(m("today_logs", what=_names([x.get("what") for x in missing], sep)))
    if not s.today:
        s.today.append(m("today_nothing"))

    # -- decisions for management
    if detected:
        if files or exv in ("likely", "possible", "cannot_be_ruled_out"):
            exfil = i18n.gettext(lang, f"intrusion.v_{exv}") if exv else m("exfil_unknown_short")
            assessment = m("personal_may", files=f"{files:,}", exfil=exfil)
        else:
            assessment = m("personal_unknown")
        s.decisions.append(
            (m("decide_personal_title"), m("decide_personal", assessment=assessment))
        )
        s.decisions.append((m("decide_police_title"), m("decide_police")))
        s.decisions.append((m("decide_evidence_title"), m("decide_evidence")))
    return s


def markdown(f: dict[str, Any], lang: str, tz: str) -> list[str]:
    """The page as Markdown lines (values from the logs go through ``md``)."""
    from ashiato.report.markdown import md

    def h(msgid: str) -> str:
        return i18n.gettext(lang, f"mgmt.{msgid}")

    s = build(f, lang, tz)
    out = [f"## {md(h('title'))}", ""]
    out += [f"### {md(h('h_what'))}", ""] + [md(x) for x in s.happened] + [""]
    out += [f"### {md(h('h_since'))}", "", md(s.since), ""]
    if s.affected:
        out += [f"### {md(h('h_affected'))}", ""] + [f"- {md(x)}" for x in s.affected] + [""]
    out += [f"### {md(h('h_known'))}", ""]
    out += [f"- {md(x)}" for x in s.known] or [f"- {md(h('none'))}"]
    out += ["", f"### {md(h('h_unknown'))}", ""]
    out += [f"- {md(x)}" for x in s.unknown] or [f"- {md(h('none'))}"]
    out += ["", f"### {md(h('h_today'))}", ""]
    out += [f"{i}. {md(x)}" for i, x in enumerate(s.today, 1)] + [""]
    if s.decisions:
        out += [f"### {md(h('h_decide'))}", ""]
        out += [f"- **{md(title)}**: {md(text)}" for title, text in s.decisions] + [""]
    if s.timeline:
        out += [f"### {md(h('h_timeline'))}", ""]
        out += [f"- {md(when)} — {md(what)}" for when, what in s.timeline] + [""]
    out += [f"_{md(h('footer'))}_", ""]
    return out
