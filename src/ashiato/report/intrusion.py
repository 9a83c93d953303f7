"""Report sections for the way in, the accounts, data theft and the servers (issue 16).

The HTML side is the partial template ``intrusion.html.j2`` (included by the report and
the web UI's page); the Markdown side is :func:`markdown`. Both read only findings.json
(``entry``, ``accounts``, ``exfiltration``, ``servers``) and show a section only when it
has something to say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ashiato import i18n


def labels(lang: str) -> dict[str, str]:
    """The ``intrusion.*`` messages of the catalogue, keyed without the prefix."""
    return i18n.section(lang, "intrusion")


def human(n: Any) -> str:
    if not isinstance(n, int | float) or n <= 0:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


def markdown(f: dict[str, Any], lang: str, tz: str = "UTC") -> list[str]:
    """The four sections as Markdown lines (log text through ``md``)."""
    from ashiato.report.html import when_text
    from ashiato.report.markdown import _evidence, _table, md
    from ashiato.report.text import labels as base_labels

    t, bt = labels(lang), base_labels(lang)
    out: list[str] = []
    ent = f.get("entry") or {}
    e = ent.get("entry")
    if e or ent.get("signals"):
        out += [f"## {md(t['entry'])}", ""]
        if e:
            line = t["entry_line"].format(
                via=word(lang, "via", e.get("via")),
                user=e.get("user"),
                ip=e.get("source_ip"),
                cc=e.get("country") or "?",
                time=when_text(e.get("time"), tz),
            )
            out += [f"**{md(line)}**", ""]
            if e.get("rdp_to"):
                out += [f"{md(t['rdp_to'])}: {md(', '.join(e['rdp_to']))}", ""]
            out += _evidence(e.get("evidence"), bt, tz)
        sig = ent.get("signals") or []
        if sig:
            out += [f"### {md(t['signals'])}", ""]
            out += _table(
                (bt["time_utc"], t["roles"], t["user"], t["public_ip"], ""),
                (
                    (
                        when_text(s.get("time"), tz),
                        word(lang, "entry.kind", s.get("kind")),
                        s.get("user"),
                        s.get("source_ip"),
                        s.get("detail"),
                    )
                    for s in sig[:30]
                ),
            )
    acc = f.get("accounts") or {}
    if acc.get("accounts"):
        out += [f"## {md(t['accounts'])}", ""]
        if acc.get("domain_compromised"):
            why = "; ".join(acc.get("why_domain_compromised") or [])
            out += [f"**{md(t['domain'])}** ({md(why)}): {md(t['krbtgt'])}", ""]
        out += _table(
            (t["account"], "", t["roles"], t["hosts"], bt["time_utc"]),
            (
                (
                    a.get("account"),
                    t["intruder"] if a.get("by_intruder") else t["review"],
                    ", ".join(a.get("roles") or []),
                    ", ".join(a.get("hosts") or []),
                    when_text(a.get("first_seen"), tz),
                )
                for a in acc["accounts"][:50]
            ),
        )
        for key in ("disable", "reset"):
            if acc.get(key):
                out += [f"{md(t[key])}: {md(', '.join(acc[key]))}", ""]
    ex = f.get("exfiltration") or {}
    if ex.get("verdict"):
        out += [f"## {md(t['exfil'])}", ""]
        out += [f"{md(t['verdict'])}: **{md(t.get('v_' + ex['verdict'], ex['verdict']))}**", ""]
        for key in ("reasons", "settle"):
            if ex.get(key):
                out += [f"{md(t[key])}:", ""] + [f"- {md(x)}" for x in ex[key][:8]] + [""]
        if ex.get("egress"):
            out += _table(
                (t["hosts"], t["destination"], t["bytes"], bt["time_utc"]),
                (
                    (
                        x.get("host") or x.get("source_ip"),
                        x.get("destination"),
                        human(x.get("bytes")),
                        when_text(x.get("first"), tz),
                    )
                    for x in ex["egress"][:10]
                ),
            )
    srv = f.get("servers") or {}
    if srv.get("hypervisors") or srv.get("nas") or srv.get("backups_destroyed"):
        out += [f"## {md(t['servers'])}", ""]
        out += [f"- {md(n)}" for n in srv.get("notes") or []] + [""]
        for h in srv.get("hypervisors") or []:
            out += _evidence(h.get("evidence"), bt, tz)
        if srv.get("backups_destroyed"):
            out += [f"### {md(t['backups'])}", ""]
            out += _table(
                (bt["time_utc"], t["hosts"], t["roles"], t["user"]),
                (
                    (when_text(b.get("time"), tz), b.get("host"), b.get("action"), b.get("user"))
                    for b in srv["backups_destroyed"][:30]
                ),
            )
    return out


def terminal_lines(
    f: dict[str, Any], lang: str = "en", when: Callable[[Any], str] | None = None
) -> list[str]:
    """A few plain lines for ``ashiato investigate``'s summary (printed without markup);
    ``f`` already said in ``lang`` (i18n.localise), ``when`` formats a time."""
    out: list[str] = []

    def say(msgid: str, **args: Any) -> str:
        return i18n.gettext(lang, f"term.{msgid}", **args)

    at = when or (lambda v: str(v))
    e = (f.get("entry") or {}).get("entry")
    if e:
        out.append(
            say("way_in", via=word(lang, "via", e.get("via")), user=e.get("user"),
                ip=e.get("source_ip"), country=e.get("country") or "?",
                time=at(e.get("time")) if e.get("time") else "?",
                signals=", ".join(word(lang, "entry.kind", k) for k in e.get("signals") or []))
        )  # fmt: skip
    acc = f.get("accounts") or {}
    used = [a["account"] for a in acc.get("accounts") or [] if a.get("by_intruder")]
    if used:
        key = "accounts_domain" if acc.get("domain_compromised") else "accounts"
        out.append(say(key, accounts=", ".join(used[:12])))
    ex = f.get("exfiltration") or {}
    if ex.get("verdict"):
        why = "; ".join((ex.get("reasons") or [])[:2])
        verdict = labels(lang).get(f"v_{ex['verdict']}", ex["verdict"])
        out.append(say("theft_why" if why else "theft", verdict=verdict, why=why))
    for note in (f.get("servers") or {}).get("notes") or []:
        out.append(say("servers", note=note))
    return out


def word(lang: str, prefix: str, value: Any) -> str:
    """One of our own code words (a signal kind, how a sign-in came) in ``lang``; a value
    we have no word for as it is."""
    if value is None:
        return ""
    return i18n.section(lang, prefix).get(str(value)) or str(value)
