"""The incidents and lateral-movement section of the Markdown report (inert text only)."""

from __future__ import annotations

from typing import Any

from ashiato.report.incidents import view


def section(findings: dict[str, Any], lang: str, ev_table: Any, table: Any, md: Any,
            when: Any = str) -> list[str]:  # fmt: skip
    """``ev_table``/``table``/``md``: the Markdown report's own helpers (escaping);
    ``when``: a time as the reader reads it (the display zone, UTC beside it)."""
    x = view(findings, lang)
    t = x["t"]
    out = [f"## 1a. {md(t['incidents'])}", "", f"### {md(t['incident_list'])}", ""]
    for i in x["incidents"]:
        name = " ".join(p for p in (i.get("technique"), i.get("technique_name")) if p)
        sev = x["sev"].get(i.get("severity"), i.get("severity"))
        out += [f"#### {md(i['id'])} · {md(sev)} · {md(name)}", ""]
        out += table(
            ("", ""),
            [
                (t["count"], i.get("count")),
                (t["first"], f"{when(i.get('first')) or ''} — {when(i.get('last')) or ''}"),
                (t["hosts"], ", ".join(i.get("hosts") or [])),
                (t["accounts"], ", ".join(i.get("accounts") or [])),
                (t["key_values"], " · ".join(i.get("key_values") or [])),
                (t["rules"], "; ".join(i.get("rules") or [])),
            ],
        )
        out += ev_table(i.get("evidence"))
    if not x["incidents"]:
        out += [md(t["none"]), ""]
    if x["hidden"]:
        out += [f"{x['hidden']} {md(t['low_hidden'])}", ""]
    out += [f"### {md(t['lateral'])}", ""]
    if x["edges"]:
        head = (t["source"], t["target"], t["account"], t["technique"], t["first"], t["count"],
                t["execution"], t["why"])  # fmt: skip
        rows = [
            (e.get("source"), e.get("target"), e.get("account") or "?",
             f"{e.get('technique')} {e.get('attack')}", when(e.get("first")), e.get("count"),
             t["yes"] if e.get("execution") else t["no"], e.get("why"))
            for e in x["edges"]
        ]  # fmt: skip
        out += table(head, rows)
    else:
        out += [md(t["none"]), ""]
    return out
