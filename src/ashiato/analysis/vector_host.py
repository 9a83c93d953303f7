"""The host side of an infection vector: process starts, dropped files, remote logons.

Process creation (4688 / Sysmon 1) classified in the engine: a mail client, Office or
Explorer starting a script host or archiver, anything run from ``Temp1_*.zip`` or
``Content.Outlook`` (mail); a browser or plug-in starting a ``.tmp``/exe from its cache or
Temp (drive-by); what a script host starts from Temp (the payload); programs on other
drives. Files (Sysmon 11, $MFT) dropped in those folders. RDP logons and services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.analysis.indicators import (
    BROWSER,
    BROWSER_CACHE_PATH,
    MAIL_CLIENT,
    MAIL_OPEN_PATH,
    PLUGIN_HOST,
    SCRIPT_HOST,
    TEMP_PATH,
    is_internal,
)
from ashiato.engines import EVENT_ORDER

OFFICE = r"(?i)\\(winword|excel|powerpnt|eqnedt32)\.exe$"
EXPLORER = r"(?i)\\explorer\.exe$"
ARCHIVER = r"(?i)\\(7z|7zg|7zfm|winrar|unrar|winzip(32|64)?|lhaplus|lhaz|explzh)\.exe$"
SCRIPT_FILE = r"(?i)\.(js|jse|vbs|vbe|wsf|wsh|hta)\b"
DROP_EXT = r"(?i)\.(tmp|exe|scr|pif|com|dll)$"
MAIL_DROP_EXT = r"(?i)\.(js|jse|vbs|vbe|wsf|hta|exe|scr|pif|com|zip|rar|7z|docm|xlsm|doc|xls)$"
OTHER_DRIVE = r"(?i)^[d-z]:\\"

Rows = list[dict[str, Any]]


@dataclass
class Processes:
    total: int = 0  # process-creation events of the host, any time (0 = no such logs)
    mail_exec: Rows = field(default_factory=list)
    web_exec: Rows = field(default_factory=list)
    follow: Rows = field(default_factory=list)
    removable: Rows = field(default_factory=list)


def _m(col: Any, pattern: str) -> Any:
    return ibis.coalesce(col.re_search(pattern), False)


def processes(ctx: Context, host: str, lo: datetime, hi: datetime) -> Processes:
    """The host's process starts that open mail, follow a browser, or run from elsewhere."""
    out = Processes()
    t = ctx.events
    procs = t.filter(
        (t["host.name"] == host)
        & (((t["event.dataset"] == "windows.security") & (t["event.code"] == "4688"))
           | ((t["event.dataset"] == "windows.sysmon") & (t["event.code"] == "1")))
    )  # fmt: skip
    out.total = int(ctx.rows(procs.aggregate(n=procs.count()))[0]["n"])
    if out.total == 0:
        return out
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
    for r in ctx.rows(q.select(cols).order_by(EVENT_ORDER), limit=500):
        if r["_mail"]:
            out.mail_exec.append(r)
        elif r["_web"]:
            out.web_exec.append(r)
        elif r["_follow"]:
            out.follow.append(r)
        elif r["_other"]:
            out.removable.append(r)
    return out


def files(ctx: Context, host: str, lo: datetime, hi: datetime) -> tuple[Rows, Rows]:
    """Sysmon 11 and $MFT rows of files dropped in the IE cache (first) or Outlook's temp
    folders and Temp1_*.zip (second)."""
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
    rows = ctx.rows(q.select(cols).order_by(EVENT_ORDER), limit=300)
    unnamed = {r["evidence_id"] for r in rows if not r.get("host.name")}
    paths = _evidence_paths(ctx, unnamed) if unnamed else {}
    web: Rows = []
    mail: Rows = []
    for r in rows:
        if not r.get("host.name") and host.lower() not in paths.get(r["evidence_id"], ""):
            continue  # an $MFT of another machine
        (web if r["_web"] else mail).append(r)
    return web, mail


def _evidence_paths(ctx: Context, ids: set[str]) -> dict[str, str]:
    """Evidence file paths (lower case) by id: an $MFT export is named after its host."""
    try:
        ev = ctx.events.get_backend().table("evidence")
        q = ev.filter(ev["evidence_id"].isin(sorted(ids))).select("evidence_id", "path")
        return {r["evidence_id"]: str(r["path"] or "").lower() for r in ctx.rows(q)}
    except Exception:  # a bare events table (tests, other engines) has no evidence table
        return {}


def remote(ctx: Context, host: str, lo: datetime, hi: datetime) -> tuple[Rows, Rows]:
    """RDP logons from outside (first); RDP from inside and services installed (second)."""
    outside: Rows = []
    inside: Rows = []
    t = ctx.events
    rdp = ((t["event.code"] == "4624") & (t["winlog.logon.type"] == 10)
           & t["source.ip"].notnull())  # fmt: skip
    svc = t["event.code"].isin(["7045", "4697"])
    q = t.filter((t["host.name"] == host) & t["@timestamp"].between(lo, hi)
                 & t["event.dataset"].isin(["windows.security", "windows.system"])
                 & (rdp | svc))  # fmt: skip
    for r in ctx.rows(ctx.select(q).order_by(EVENT_ORDER), limit=100):
        ip = r.get("source.ip")
        if r["event.code"] != "4624":
            inside.append(r)
        elif ip in ("127.0.0.1", "::1", "-"):
            continue  # a local RDP session
        elif is_internal(ip):
            inside.append(r)
        else:
            outside.append(r)
    return outside, inside
