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

from ashiato.analysis import vector_web
from ashiato.analysis.context import Context, summary
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import (
    BROWSER,
    BROWSER_CACHE_PATH,
    DANGEROUS_ATTACHMENT,
    EXPLOIT_SIGNATURE,
    MAIL_CLIENT,
    MAIL_OPEN_PATH,
    PLUGIN_HOST,
    SCRIPT_HOST,
    TEMP_PATH,
    is_internal,
)
from ashiato.exports import iso
from ashiato.findings import Evidence, Vector

BEFORE = timedelta(hours=24)
AFTER = timedelta(minutes=10)
LATE_AV = timedelta(hours=1)
ALERTS_BEFORE = timedelta(hours=2)  # an exploit alert is minutes before the payload runs

OFFICE = r"(?i)\\(winword|excel|powerpnt|eqnedt32)\.exe$"
EXPLORER = r"(?i)\\explorer\.exe$"
ARCHIVER = r"(?i)\\(7z|7zg|7zfm|winrar|unrar|winzip(32|64)?|lhaplus|lhaz|explzh)\.exe$"
SCRIPT_FILE = r"(?i)\.(js|jse|vbs|vbe|wsf|wsh|hta)\b"
DROP_EXT = r"(?i)\.(tmp|exe|scr|pif|com|dll)$"
MAIL_DROP_EXT = r"(?i)\.(js|jse|vbs|vbe|wsf|hta|exe|scr|pif|com|zip|rar|7z|docm|xlsm|doc|xls)$"
OTHER_DRIVE = r"(?i)^[d-z]:\\"
PAYLOAD_ALERT = (
    r"(?i)(exe or dll windows file download|executable download|executable sent when remote"
    r"|terse alphanumeric executable downloader)"
)
_FILE_NAME = re.compile(r"(?i)([^\\/\"'\s]+\.(js|jse|vbs|vbe|wsf|hta|exe|tmp|scr|pif|com|zip))\b")
_EXPLOIT_ALERT = re.compile(EXPLOIT_SIGNATURE)
# "ET POLICY Outdated Flash Version" names the plug-in, not an exploit
_PAYLOAD_ALERT = re.compile(PAYLOAD_ALERT)
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


def vectors(ctx: Context, ident: Identity, infected: list[tuple[str, datetime]]) -> list[Vector]:
    have = _case_sources(ctx)
    return [_one(ctx, ident, host, _utc(t0), have) for host, t0 in infected]


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
    """The host's addresses at T (a lease or sighting resolving back to it), else all known."""
    ips = ident.ips_of(host)
    at_t = [ip for ip in ips if ident.at(ip, t0).host == host]
    return at_t or ips


def _one(ctx: Context, ident: Identity, host: str, t0: datetime, have: dict[str, int]) -> Vector:
    lo, hi = t0 - BEFORE, t0 + AFTER
    ips = _host_ips(ident, host, t0)
    users = ident.users_of(host)
    f = Found()
    proc_total = _processes(ctx, host, lo, hi, f)
    _files(ctx, host, lo, hi, f)
    f.mail = _mail(ctx, users, lo, hi)
    for r in _alerts(ctx, ips, t0 - ALERTS_BEFORE, hi):
        name = r.get("rule.name") or ""
        if _EXPLOIT_ALERT.search(name) and not _INFO_ALERT.search(name):
            f.ids.append(r)
        elif _PAYLOAD_ALERT.search(name):
            f.downloads.append(r)
    f.web = vector_web.web_chain(ctx, ips, lo, hi, t0)
    _remote(ctx, host, lo, hi, f)
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


def _older(ctx: Context, host: str, t0: datetime) -> str:
    """Nothing found: say how far back the host's own logs reach."""
    t = ctx.events
    q = t.filter((t["host.name"] == host) & t["event.dataset"].startswith("windows.")
                 & ~t["event.dataset"].isin(["windows.dhcp", "windows.mft"]))  # its event logs
    first = ctx.rows(q.aggregate(first=q["@timestamp"].min()))[0]["first"]
    since = f"{host}'s own logs begin {iso(first)}" if first else f"no logs of {host} itself"
    return (f"nothing in the 24 h before {iso(t0)} points to a vector ({since}): the "
            "infection may be older than that, or than the collected logs")


def _processes(ctx: Context, host: str, lo: datetime, hi: datetime, f: Found) -> int:
    t = ctx.events
    procs = t.filter(
        (t["host.name"] == host)
        & (((t["event.dataset"] == "windows.security") & (t["event.code"] == "4688"))
           | ((t["event.dataset"] == "windows.sysmon") & (t["event.code"] == "1")))
    )  # fmt: skip
    total = int(ctx.rows(procs.aggregate(n=procs.count()))[0]["n"])
    if total == 0:
        return 0
    exe, par = procs["process.executable"], procs["process.parent.executable"]
    cmd = procs["process.command_line"]
    c_script, c_temp = _m(exe, SCRIPT_HOST), _m(exe, TEMP_PATH)
    c_cache, c_browser = _m(exe, BROWSER_CACHE_PATH), _m(exe, BROWSER)
    mail_exec = (
        (_m(par, MAIL_CLIENT) & (c_script | _m(exe, ARCHIVER) | c_temp))
        | (_m(par, OFFICE) & c_script)
        | _m(exe, MAIL_OPEN_PATH) | _m(cmd, MAIL_OPEN_PATH)
        | (_m(par, EXPLORER) & c_script & _m(cmd, SCRIPT_FILE))
    )  # fmt: skip
    web_exec = ~c_browser & (
        ((_m(par, BROWSER) | _m(par, PLUGIN_HOST)) & (c_cache | c_temp | _m(exe, DROP_EXT)))
        | c_cache
    )  # fmt: skip
    follow = _m(par, SCRIPT_HOST) & c_temp
    other = _m(exe, OTHER_DRIVE)
    q = procs.filter(procs["@timestamp"].between(lo, hi)).mutate(
        _mail=mail_exec, _web=web_exec, _follow=follow, _other=other)  # fmt: skip
    q = q.filter(q["_mail"] | q["_web"] | q["_follow"] | q["_other"])
    cols = [*ctx.select(q).columns, "_mail", "_web", "_follow", "_other"]
    for r in ctx.rows(q.select(cols).order_by("@timestamp"), limit=500):
        if r["_mail"]:
            f.mail_exec.append(r)
        elif r["_web"]:
            f.web_exec.append(r)
        elif r["_follow"]:
            f.follow.append(r)
        elif r["_other"]:
            f.removable.append(r)
    return total


def _files(ctx: Context, host: str, lo: datetime, hi: datetime, f: Found) -> None:
    """Sysmon 11 and $MFT rows of files dropped in the IE cache or Outlook's temp folders."""
    t = ctx.events
    path = t["file.path"]
    web_drop = _m(path, DROP_EXT) & (
        _m(path, BROWSER_CACHE_PATH)
        | ((_m(t["process.executable"], BROWSER) | _m(t["process.executable"], PLUGIN_HOST))
           & _m(path, TEMP_PATH))
    )  # fmt: skip
    mail_drop = _m(path, MAIL_OPEN_PATH) & _m(path, MAIL_DROP_EXT)
    sysmon = (t["event.dataset"] == "windows.sysmon") & (t["event.code"] == "11")
    mft = t["event.dataset"] == "windows.mft"
    q = t.filter((sysmon | mft) & t["@timestamp"].between(lo, hi)
                 & ((t["host.name"] == host) | (mft & t["host.name"].isnull()))
                 & (web_drop | mail_drop)).mutate(_web=web_drop)  # fmt: skip
    cols = [*ctx.select(q).columns, "_web"]
    rows = ctx.rows(q.select(cols).order_by("@timestamp"), limit=300)
    unnamed = {r["evidence_id"] for r in rows if not r.get("host.name")}
    paths = _evidence_paths(ctx, unnamed) if unnamed else {}
    for r in rows:
        if not r.get("host.name") and host.lower() not in paths.get(r["evidence_id"], ""):
            continue  # an $MFT of another machine
        (f.web_file if r["_web"] else f.mail_file).append(r)


def _evidence_paths(ctx: Context, ids: set[str]) -> dict[str, str]:
    """Evidence file paths (lower case) by id: an $MFT export is named after its host."""
    try:
        ev = ctx.events.get_backend().table("evidence")
        q = ev.filter(ev["evidence_id"].isin(sorted(ids))).select("evidence_id", "path")
        return {r["evidence_id"]: str(r["path"] or "").lower() for r in ctx.rows(q)}
    except Exception:  # a bare events table (tests, other engines) has no evidence table
        return {}


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
    return ctx.rows(ctx.select(q).order_by("@timestamp"), limit=50)


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
    return ctx.rows(ctx.select(q).order_by("@timestamp"), limit=50)


def _remote(ctx: Context, host: str, lo: datetime, hi: datetime, f: Found) -> None:
    t = ctx.events
    rdp = ((t["event.code"] == "4624") & (t["winlog.logon.type"] == 10)
           & t["source.ip"].notnull())  # fmt: skip
    svc = t["event.code"].isin(["7045", "4697"])
    q = t.filter((t["host.name"] == host) & t["@timestamp"].between(lo, hi)
                 & t["event.dataset"].isin(["windows.security", "windows.system"])
                 & (rdp | svc))  # fmt: skip
    for r in ctx.rows(ctx.select(q).order_by("@timestamp"), limit=100):
        ip = r.get("source.ip")
        if r["event.code"] == "4624" and ip not in ("127.0.0.1", "::1") and not is_internal(ip):
            f.remote.append(r)
        else:
            f.lateral.append(r)


def _av(ctx: Context, host: str, ips: list[str], lo: datetime) -> list[dict[str, Any]]:
    t = ctx.events
    who = t["host.name"] == host
    if ips:  # addresses move between PCs: only for rows that name no host
        who = who | (t["host.name"].isnull() & t["host.ip"].isin(ips))
    test_file = ibis.coalesce(t["rule.name"].re_search(r"(?i)eicar"), False)
    q = t.filter((t["observer.type"] == "antivirus") & who & (t["@timestamp"] >= lo)
                 & ~test_file)  # fmt: skip
    return ctx.rows(ctx.select(q).order_by("@timestamp"), limit=20)


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
    chain = [Evidence.of(r, _line(role, r)) for role, r in steps]
    return chain, list(dict.fromkeys(a for a in arts if a))


def _line(role: str, r: dict[str, Any]) -> str:
    if r.get("url.original") and not r.get("rule.name"):
        return vector_web.summary(role, r)
    if role.startswith("mail delivered"):
        return role
    return f"{role}: {summary(r)}"


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
    return (f"{iso(when)}: {what}{on}, {hours:.1f} h after the first malicious activity; "
            "the payload was probably not detected at infection time")  # fmt: skip


def _missing(host: str, ips: list[str], users: list[str], have: dict[str, int],
             proc_total: int, f: Found) -> list[str]:  # fmt: skip
    out: list[str] = []
    if proc_total == 0:
        out.append(f"no process creation logs for {host} (4688 with command line or Sysmon 1): "
                   "what started the payload can't be seen")  # fmt: skip
    if not f.web_file and not f.mail_file and proc_total == 0:
        out.append(f"no file-creation timeline for {host} ($MFT or Sysmon 11)")
    if not have.get("mail"):
        out.append("no mail logs (mail gateway / mail server) in the case")
    elif not users:
        out.append(f"no user known for {host}: mail recipients can't be matched")
    if not ips:
        out.append(f"no address known for {host} (no DHCP lease, logon or AV row): "
                   "proxy and IDS logs can't be tied to it")  # fmt: skip
    elif not have.get("web"):
        out.append("no proxy / web logs in the case")
    elif f.web.requests == 0:
        out.append(f"no proxy / web logs for {', '.join(ips)} in the 24 h before infection")
    if not have.get("ids"):
        out.append("no IDS/UTM alerts in the case")
    if not have.get("av"):
        out.append("no AV logs in the case")
    return out
