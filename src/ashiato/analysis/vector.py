"""How each infected host got infected: mail attachment, drive-by, remote access...

For every infected host and its first malicious time T, look from 24 h before T to a few
minutes after it (clocks drift) at: mail delivered to the host's users with a dangerous
attachment; the host's process tree (mail client, Office or Explorer starting a script host
or archiver, anything run from ``Temp1_*.zip`` or ``Content.Outlook``; a browser or plug-in
starting a ``.tmp``/exe from its cache); files dropped there (Sysmon 11, $MFT); IDS/UTM
exploit alerts and the proxy referrer chain for the host's addresses (:mod:`vector_web`);
RDP logons, service installs and programs run from other drives. domain.md 4.3 turns what
was found into a verdict and a confidence; ``missing`` names the sources whose absence
limits the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis import remote_access, vector_host, vector_web
from ashiato.analysis.context import Context, summary
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import DANGEROUS_ATTACHMENT, EXPLOIT_SIGNATURE
from ashiato.analysis.missing import NOT_EVENT_LOGS
from ashiato.engines import EVENT_ORDER
from ashiato.exports import iso
from ashiato.findings import Evidence, Vector
from ashiato.i18n import msg, msg_of, said

BEFORE = timedelta(hours=24)
AFTER = timedelta(minutes=10)
LATE_AV = timedelta(hours=1)
ALERTS_BEFORE = timedelta(hours=2)  # an exploit alert is minutes before the payload runs

PAYLOAD_ALERT = (
    r"(?i)(exe or dll windows file download|executable download|executable sent when remote"
    r"|terse alphanumeric executable downloader)"
)
_FILE_NAME = re.compile(r"(?i)([^\\/\"'\s]+\.(js|jse|vbs|vbe|wsf|hta|exe|tmp|scr|pif|com|zip))\b")
_EXPLOIT_ALERT = re.compile(EXPLOIT_SIGNATURE)
_PAYLOAD_ALERT = re.compile(PAYLOAD_ALERT)
# "ET POLICY Outdated Flash Version" names the plug-in, not an exploit
_INFO_ALERT = re.compile(r"(?i)^(ET|ETPRO|GPL) (POLICY|INFO)\b")
_SYSTEM_EXE = re.compile(
    r"(?i)^(wscript|cscript|mshta|powershell|cmd|explorer|outlook|winword|excel|iexplore|chrome"
    r"|firefox|rundll32|regsvr32)\.exe$"
)


@dataclass
class Found:
    """Every row that speaks for one vector, per kind (rows are plain dicts)."""

    mail: list[dict[str, Any]] = field(default_factory=list)
    mail_exec: list[dict[str, Any]] = field(default_factory=list)
    mail_file: list[dict[str, Any]] = field(default_factory=list)
    follow: list[dict[str, Any]] = field(default_factory=list)
    web_exec: list[dict[str, Any]] = field(default_factory=list)
    web_file: list[dict[str, Any]] = field(default_factory=list)
    ids: list[dict[str, Any]] = field(default_factory=list)  # client-side exploit alerts
    downloads: list[dict[str, Any]] = field(default_factory=list)  # executable-download alerts
    web: vector_web.WebChain = field(default_factory=vector_web.WebChain)
    remote: list[dict[str, Any]] = field(default_factory=list)
    lateral: list[dict[str, Any]] = field(default_factory=list)
    removable: list[dict[str, Any]] = field(default_factory=list)
    av: list[dict[str, Any]] = field(default_factory=list)
    vpn: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (role, row) steps


def vectors(ctx: Context, ident: Identity, infected: list[tuple[str, datetime]]) -> list[Vector]:
    have = _case_sources(ctx)
    vpn = remote_access.sessions(ctx)  # issue 16: logons from the VPN pool come from outside
    return [_one(ctx, ident, host, _utc(t0), have, vpn) for host, t0 in infected]


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _m(col: Any, pattern: str) -> Any:
    return ibis.coalesce(col.re_search(pattern), False)


def _case_sources(ctx: Context) -> dict[str, int]:
    """Which kinds of source the case holds at all (for ``missing``)."""
    t = ctx.events
    not_av = ibis.coalesce(t["observer.type"] != "antivirus", True)
    agg = t.aggregate(
        mail=t["email.to.address"].notnull().sum(),
        web=(t["url.original"].notnull() & t["rule.name"].isnull()).sum(),
        ids=(t["rule.name"].notnull() & not_av).sum(),
        av=(t["observer.type"] == "antivirus").sum(),
    )
    rows = ctx.rows(agg)
    return {k: int(v or 0) for k, v in rows[0].items()} if rows else {}


def _host_ips(ident: Identity, host: str, t0: datetime) -> list[str]:
    """The host's addresses at T (a lease, or a sighting within a day, resolving to it).

    Not every address it ever had: PCs swap addresses from day to day, and another PC's
    traffic on a former address would make a false chain."""
    return [ip for ip in ident.ips_of(host) if ident.at(ip, t0).host == host]


def _one(ctx: Context, ident: Identity, host: str, t0: datetime, have: dict[str, int],
         vpn: list[remote_access.VpnSession] | None = None) -> Vector:  # fmt: skip
    lo, hi = t0 - BEFORE, t0 + AFTER
    ips = _host_ips(ident, host, t0)
    users = ident.users_of(host)
    f = Found()
    procs = vector_host.processes(ctx, host, lo, hi)
    f.mail_exec, f.web_exec, f.follow = procs.mail_exec, procs.web_exec, procs.follow
    f.removable, proc_total = procs.removable, procs.total
    f.web_file, f.mail_file = vector_host.files(ctx, host, lo, hi)
    f.mail = _mail(ctx, users, lo, hi)
    for r in _alerts(ctx, ips, t0 - ALERTS_BEFORE, hi):
        name = r.get("rule.name") or ""
        if _EXPLOIT_ALERT.search(name) and not _INFO_ALERT.search(name):
            f.ids.append(r)
        elif _PAYLOAD_ALERT.search(name):
            f.downloads.append(r)
    f.web = vector_web.web_chain(ctx, ips, lo, hi, t0)
    f.remote, f.lateral = vector_host.remote(ctx, host, lo, hi)
    _from_vpn(ctx, host, lo, hi, vpn or [], f, ips)
    f.av = _av(ctx, host, ips, lo)
    kind, confidence = decide(f)
    chain, artifacts = _chain(kind, f)
    times = [e.time for e in chain if e.time]
    missing = _missing(host, ips, users, have, proc_total, f)
    if kind == "unknown":
        missing.append(_older(ctx, host, t0))
    return Vector(
        host=host, type=kind, first_event_time=min(times) if times else None,
        confidence=confidence, artifacts=artifacts, chain=chain,
        late_av_detection=_late_av(f.av, t0), missing=missing,
    )  # fmt: skip


def _from_vpn(ctx: Context, host: str, lo: datetime, hi: datetime,
              vpn: list[remote_access.VpnSession], f: Found,
              ips: list[str] | None = None) -> None:  # fmt: skip
    """Issue 16: an RDP/SMB logon from a VPN tunnel address is remote access by the VPN user,
    not lateral movement from an internal host; without the host's logs, the firewall's
    flows from the tunnel address to its remote-desktop port say the same."""
    f.vpn = remote_access.vpn_logons(ctx, host, lo, hi, vpn)
    if not f.vpn and ips:
        f.vpn = remote_access.vpn_flows(ctx, ips, lo, hi, vpn)
        f.remote += [r for role, r in f.vpn if not role.startswith("VPN sign-in")]
    refs = {(r.get("evidence_id"), r.get("record")) for _, r in f.vpn}
    moved = [r for r in f.lateral if (r.get("evidence_id"), r.get("record")) in refs]
    f.lateral = [r for r in f.lateral if r not in moved]
    f.remote += [r for _, r in f.vpn if r.get("event.code") == "4624"]


def _older(ctx: Context, host: str, t0: datetime) -> str:
    """Nothing found: say how far back the host's own logs reach."""
    t = ctx.events
    q = t.filter(
        (t["host.name"] == host)
        & t["event.dataset"].startswith("windows.")
        & ~t["event.dataset"].isin(list(NOT_EVENT_LOGS))
    )  # its event logs
    first = ctx.rows(q.aggregate(first=q["@timestamp"].min()))[0]["first"]
    since = f"{host}'s own logs begin {iso(first)}" if first else f"no logs of {host} itself"
    return said(
        f"nothing in the 24 h before {iso(t0)} points to a vector ({since}): the "
        "infection may be older than that, or than the collected logs",
        "vector.older" if first else "vector.older.none", time=iso(t0), host=host,
        first=iso(first) if first else "",
    )


def _mail(ctx: Context, users: list[str], lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    """Mail to one of the users with a dangerous attachment (recipient local part = account)."""
    if not users:
        return []
    t = ctx.events
    who = "|".join(re.escape(u) for u in users)
    q = t.filter(
        t["email.to.address"].notnull() & t["@timestamp"].between(lo, hi)
        & _m(t["email.to.address"], rf"(?i)(^|[\s,;<:\"])({who})@")
        & _m(t["email.attachments"], DANGEROUS_ATTACHMENT)
    )  # fmt: skip
    return ctx.rows(ctx.select(q).order_by(EVENT_ORDER), limit=50)


def _alerts(ctx: Context, ips: list[str], lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    if not ips:
        return []
    t = ctx.events
    q = t.filter(
        t["rule.name"].notnull() & t["@timestamp"].between(lo, hi)
        & ibis.coalesce(t["observer.type"] != "antivirus", True)
        & (t["source.ip"].isin(ips) | t["destination.ip"].isin(ips))
        & (_m(t["rule.name"], EXPLOIT_SIGNATURE) | _m(t["rule.name"], PAYLOAD_ALERT))
    )  # fmt: skip
    return ctx.rows(ctx.select(q).order_by(EVENT_ORDER), limit=50)


def _av(ctx: Context, host: str, ips: list[str], lo: datetime) -> list[dict[str, Any]]:
    t = ctx.events
    who = t["host.name"] == host
    if ips:  # addresses move between PCs: only for rows that name no host
        who = who | (t["host.name"].isnull() & t["host.ip"].isin(ips))
    test_file = ibis.coalesce(t["rule.name"].re_search(r"(?i)eicar"), False)
    q = t.filter((t["observer.type"] == "antivirus") & who & (t["@timestamp"] >= lo)
                 & ~test_file)  # fmt: skip
    return ctx.rows(ctx.select(q).order_by(EVENT_ORDER), limit=20)


def decide(f: Found) -> tuple[str, float]:
    """domain.md 4.3 as scores: the stronger of mail and web wins, a rival lowers it."""
    mail = 0.0
    if f.mail and f.mail_exec:
        mail = 0.9
    elif f.mail and f.mail_file:
        mail = 0.8
    elif f.mail_exec:
        mail = 0.7  # Temp1_*.zip / Content.Outlook execution without the mail log
    elif f.mail:
        mail = 0.6
    elif f.mail_file:
        mail = 0.45
    w = f.web
    # a payload fetched without an exploit before it is a downloader's second stage (a
    # script from a mail does that too), not by itself a drive-by
    ek = w.exploit or (w.payload and w.redirect)
    web = 0.0
    if f.web_exec and (ek or f.ids):
        web = 0.9
    elif f.web_file and (ek or f.ids):
        web = 0.8
    elif ek and f.ids:
        web = 0.75
    elif ek:
        web = 0.6
    elif f.web_exec or f.ids:
        web = 0.55
    elif f.web_file:
        web = 0.45
    elif w.redirect:
        web = 0.35
    if max(mail, web) >= 0.3:
        if mail >= web:
            return "email_attachment", round(mail - (0.15 if web >= 0.5 else 0.0), 2)
        return "web_driveby", round(web - (0.15 if mail >= 0.5 else 0.0), 2)
    if f.remote:
        return "remote_access", 0.6
    if f.lateral:
        return "lateral_movement", 0.5
    if f.removable:
        return "removable_media", 0.35
    return "unknown", 0.0


def _chain(kind: str, f: Found) -> tuple[list[Evidence], list[str]]:
    steps: list[tuple[str, dict[str, Any]]] = []
    arts: list[str] = []
    if kind == "email_attachment" or (kind == "unknown" and (f.mail or f.mail_file)):
        for r in f.mail[-3:]:
            steps.append((f"mail delivered: {_mail_line(r)}", r))
            arts += [x for x in (r.get("email.subject"), r.get("email.attachments"),
                                 r.get("email.from.address")) if x]  # fmt: skip
        steps += [("attachment saved", r) for r in f.mail_file[:5]]
        steps += [("opened from mail", r) for r in f.mail_exec[:5]]
        steps += [("started by the script", r) for r in f.follow[:5]]
        if not f.web.exploit:  # the script fetching its payload
            steps += [(role, r) for role, r in f.web.steps if role.startswith("payload")]
            arts += f.web.artifacts
        steps += [("IDS/UTM alert", r) for r in f.downloads[:3]]
        arts += _names(f.mail_exec[:5] + f.follow[:5] + f.mail_file[:5])
    if kind == "web_driveby" or (kind == "unknown" and (f.web.steps or f.ids or f.downloads)):
        steps += [(role, r) for role, r in f.web.steps]
        steps += [("IDS/UTM alert", r) for r in (f.ids + f.downloads)[:5]]
        steps += [("dropped in the browser cache", r) for r in f.web_file[:5]]
        steps += [("started by the browser", r) for r in f.web_exec[:5]]
        arts += f.web.artifacts + _names(f.web_exec[:5] + f.web_file[:5])
    if kind == "remote_access":
        steps += f.vpn[:10]
        steps += [("remote desktop logon from outside", r) for r in f.remote[:5]]
    if kind == "lateral_movement":
        steps += [("from another internal host", r) for r in f.lateral[:5]]
    if kind == "removable_media":
        steps += [("run from another drive", r) for r in f.removable[:5]]
        arts += _names(f.removable[:5])
    steps += [("AV detection", r) for r in f.av[:3]]
    unique: dict[int, tuple[str, dict[str, Any]]] = {}
    for role, r in steps:
        unique.setdefault(id(r), (role, r))  # a row once, with its first role
    steps = sorted(unique.values(), key=lambda s: s[1]["@timestamp"])  # stable on ties
    chain = [Evidence.of(r, _said_line(role, _line(role, r))) for role, r in steps]
    return chain, list(dict.fromkeys(a for a in arts if a))


def _line(role: str, r: dict[str, Any]) -> str:
    if r.get("url.original") and not r.get("rule.name"):
        return vector_web.summary(role, r)
    if role.startswith("mail delivered"):
        return role
    return f"{role}: {summary(r)}"


def _said_line(role: str, line: str) -> str:
    """A chain step named by id: its role in the reader's language, the rest as logged."""
    base, _, label = role.partition(" [")
    name = base.split(":")[0]
    role_msg: Any = msg_of(role) or msg(f"vector.role.{name.replace(' ', '_').replace('/', '_')}")
    if label:  # a country code and/or "first seen in the case"
        role_msg = msg("vector.role_label", role=role_msg, label=[
            msg("vector.first_seen") if x == "first seen in the case" else x
            for x in label.rstrip("]").split(", ")])  # fmt: skip
    if name == "mail delivered":  # the role carries the mail line: all of it evidence
        role, role_msg = "mail delivered", msg("vector.role.mail_delivered")
    rest = line[len(role) + 2:] if line.startswith(role + ": ") else None
    if rest is None:
        return line
    return said(line, "vector.step", role=role_msg, what=rest)


def _mail_line(r: dict[str, Any]) -> str:
    subject = r.get("email.subject") or ""
    return (f"{r.get('email.from.address') or '?'} → {r.get('email.to.address')} "
            f"\"{subject}\" attachment {r.get('email.attachments')}")  # fmt: skip


def _names(rows: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in rows:
        for col in ("file.path", "process.executable", "process.command_line"):
            for hit in _FILE_NAME.finditer(r.get(col) or ""):
                if not _SYSTEM_EXE.match(hit.group(1)):
                    out.append(hit.group(1))
    return out


def _late_av(av: list[dict[str, Any]], t0: datetime) -> str | None:
    if not av:
        return None
    first = av[0]
    when: datetime = first["@timestamp"]
    if when - t0 < LATE_AV:
        return None
    hours = (when - t0).total_seconds() / 3600
    what = first.get("rule.name") or "a detection"
    on = f" on {first['file.path']}" if first.get("file.path") else ""
    return said(f"{iso(when)}: {what}{on}, {hours:.1f} h after the first malicious activity; "
                "the payload was probably not detected at infection time",
                "vector.late_av" + (".on" if on else ""), time=iso(when), what=what,
                path=first.get("file.path") or "", hours=f"{hours:.1f}")  # fmt: skip


def _missing(host: str, ips: list[str], users: list[str], have: dict[str, int],
             proc_total: int, f: Found) -> list[str]:  # fmt: skip
    out: list[str] = []
    if proc_total == 0:
        out.append(said(f"no process creation logs for {host} (4688 with command line or "
                        "Sysmon 1): what started the payload can't be seen",
                        "vector.missing.process", host=host))  # fmt: skip
    if not f.web_file and not f.mail_file and proc_total == 0:
        out.append(said(f"no file-creation timeline for {host} ($MFT or Sysmon 11)",
                        "vector.missing.files", host=host, sources=["$MFT", "Sysmon 11"]))
    if not have.get("mail"):
        out.append(said("no mail logs (mail gateway / mail server) in the case",
                        "vector.missing.mail"))
    elif not users:
        out.append(said(f"no user known for {host}: mail recipients can't be matched",
                        "vector.missing.user", host=host))
    if not ips:
        out.append(said(f"no address known for {host} at the time (no DHCP lease, logon or "
                        "AV row): proxy and IDS logs can't be tied to it",
                        "vector.missing.address", host=host))  # fmt: skip
    elif not have.get("web"):
        out.append(said("no proxy / web logs in the case", "vector.missing.web"))
    elif f.web.requests == 0:
        out.append(said(f"no proxy / web logs for {', '.join(ips)} in the 24 h before "
                        "infection", "vector.missing.web_for", ips=ips))
    if not have.get("ids"):
        out.append(said("no IDS/UTM alerts in the case", "vector.missing.ids"))
    if not have.get("av"):
        out.append(said("no AV logs in the case", "vector.missing.av"))
    return out
