"""Sources whose absence limits the answers, with why and what to collect or enable.

One engine aggregate (:class:`Profile`) says what the case holds per dataset and host;
the rules below are plain Python over it (domain.md 2.5: default audit policy, log sizes,
"channel absent although expected", logs that roll over before the incident).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.analysis.identity import DHCP_DATASETS
from ashiato.exports import iso
from ashiato.findings import Missing
from ashiato.i18n import said

AUDIT_SHARE = (
    'auditpol /set /subcategory:"File Share" /success:enable /failure:enable and '
    'auditpol /set /subcategory:"Detailed File Share" /success:enable /failure:enable'
)
BIGGER_LOG = "wevtutil sl Security /ms:1073741824 (1 GB; the 20 MB default covers hours)"
# windows.* datasets that are not the host's own event logs (file times, not log times)
NOT_EVENT_LOGS = (
    "windows.dhcp",
    "windows.mft",
    "windows.prefetch",
    "windows.amcache",
    "windows.shimcache",
    "windows.execution",
)
OWNER_LISTING = (
    "Get-ChildItem -Recurse | Select FullName,Length,LastWriteTime,"
    "@{n='Owner';e={(Get-Acl $_.FullName).Owner}} | Export-Csv -Encoding UTF8 listing.csv"
)


PER_HOST = ("p4688", "p4688cmd", "s1", "f5140", "f5145")
CASE_WIDE = ("mail", "ids_mail", "proxy", "web", "ids", "av", "firewall", "dhcp", "owners",
             "listing")  # fmt: skip


@dataclass
class Profile:
    """What the case holds: counters per (dataset, host) and a few case-wide ones; and per
    dataset its events, time span, hosts and evidence files (coverage's inventory)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    case: dict[str, int] = field(default_factory=dict)
    datasets: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, ctx: Context) -> Profile:
        """One pass over the events (per dataset, host and evidence file), summed here:
        three full-table aggregates (per host, case-wide, per dataset) cost three."""
        t = ctx.events
        ds, code = t["event.dataset"], t["event.code"]
        sec, sysmon = ds == "windows.security", ds == "windows.sysmon"
        ids = t["rule.name"].notnull() & t["observer.type"].isin(["ids", "firewall"])
        from_ids = (ds == "suricata.eve") | ibis.coalesce(t["observer.type"] == "ids", False)
        counts = dict(
            p4688=(sec & (code == "4688")).sum(),
            p4688cmd=(sec & (code == "4688") & t["process.command_line"].notnull()).sum(),
            s1=(sysmon & (code == "1")).sum(),
            f5140=(sec & (code == "5140")).sum(), f5145=(sec & (code == "5145")).sum(),
            mail=(t["email.to.address"].notnull() & ~from_ids).sum(),
            ids_mail=(t["email.to.address"].notnull() & from_ids).sum(),
            proxy=(t["observer.type"] == "proxy").sum(),
            web=(t["url.original"].notnull() & t["rule.name"].isnull()).sum(),
            ids=ids.sum(), av=(t["observer.type"] == "antivirus").sum(),
            firewall=((t["observer.type"] == "firewall") & t["rule.name"].isnull()).sum(),
            dhcp=ds.isin(list(DHCP_DATASETS)).sum(),
            owners=((ds == "file.listing") & t["file.owner"].notnull()).sum(),
            listing=(ds == "file.listing").sum(),
        )  # fmt: skip
        per = t.group_by(["event.dataset", "host.name", "evidence_id"]).aggregate(
            n=t.count(), first=t["@timestamp"].min(), last=t["@timestamp"].max(), **counts)
        by_host: dict[tuple[Any, Any], dict[str, Any]] = {}
        by_ds: dict[Any, dict[str, Any]] = {}
        case = dict.fromkeys(CASE_WIDE, 0)
        for r in ctx.rows(per):
            h = by_host.setdefault((r["event.dataset"], r["host.name"]), {
                "event.dataset": r["event.dataset"], "host.name": r["host.name"], "n": 0,
                "first": None, "last": None, **dict.fromkeys(PER_HOST, 0)})  # fmt: skip
            d = by_ds.setdefault(r["event.dataset"], {"events": 0, "first": None, "last": None,
                                                       "hosts": set(), "files": set()})  # fmt: skip
            for acc in (h, d):
                acc["first"] = _earlier(acc["first"], r["first"])
                acc["last"] = _later(acc["last"], r["last"])
            h["n"] += int(r["n"])
            d["events"] += int(r["n"])
            d["hosts"] |= {r["host.name"]} - {None}
            d["files"] |= {r["evidence_id"]} - {None}
            for k in PER_HOST:
                h[k] += int(r[k] or 0)
            for k in CASE_WIDE:
                case[k] += int(r[k] or 0)
        # the same order on any engine (nulls last, as the engines sort them)
        rows = [by_host[k] for k in sorted(by_host, key=_null_last)]
        datasets = [{"dataset": k, "events": d["events"], "first": d["first"], "last": d["last"],
                     "hosts": len(d["hosts"]), "evidence_files": len(d["files"])}
                    for k, d in sorted(by_ds.items(), key=lambda x: _null_last(x[:1]))]  # fmt: skip
        return cls(rows, case, datasets)

    def hosts_with(self, key: str) -> set[str]:
        return {r["host.name"] for r in self.rows if r.get(key) and r["host.name"]}

    def file_servers(self) -> set[str]:
        listing = {r["host.name"] for r in self.rows
                   if r["event.dataset"] == "file.listing" and r["host.name"]}  # fmt: skip
        return self.hosts_with("f5140") | self.hosts_with("f5145") | listing


def _earlier(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _later(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _null_last(key: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    return tuple((v is None, "" if v is None else v) for v in key)


def missing(prof: Profile, window: tuple[datetime, datetime] | None,
            infected: list[str]) -> list[Missing]:  # fmt: skip
    out: list[Missing] = []
    c = prof.case
    servers = sorted(prof.file_servers())
    where = f" ({', '.join(servers)})" if servers else ""
    # asked only where shares or encryption are in question: a single workstation's malware
    # case has no file server to audit
    if not prof.hosts_with("f5145") and (servers or window is not None):
        if prof.hosts_with("f5140"):
            what = said(f"Detailed file-share auditing (Security 5145) from the file server"
                        f"{where}", "missing.audit5145.what" + (".servers" if servers else ""),
                        servers=servers)
        else:
            what = said(f"File-share auditing (Security 5140/5145) from the file server{where}",
                        "missing.audit.what" + (".servers" if servers else ""), servers=servers)
        out.append(
            Missing(
                what,
                said("5145 names the client address and account behind every file written, "
                "renamed or deleted on a share: without it patient zero rests on weaker evidence "
                "(file owners, timing, AV and network logs).", "missing.audit.why"),
                said("File-share auditing was off or the file server's Security log wasn't "
                "collected: collect the file server's Security.evtx "
                "(C:\\Windows\\System32\\winevt\\Logs) now, "
                f"before it rolls over; for the future enable {AUDIT_SHARE}, and {BIGGER_LOG}.",
                "missing.audit.advice", folder="C:\\Windows\\System32\\winevt\\Logs",
                file="Security.evtx",
                audit=AUDIT_SHARE, command="wevtutil sl Security /ms:1073741824"),
            )
        )
    if not c.get("dhcp"):
        out.append(
            Missing(
                said("DHCP server logs", "missing.dhcp.what"),
                said("IP→host mapping rests on weaker sources (logons, AV console, proxy user "
                "names); addresses are reused from day to day, so a proxy or firewall line can be "
                "pinned on the wrong PC.", "missing.dhcp.why"),
                said("Collect C:\\Windows\\System32\\dhcp\\DhcpSrvLog-*.log from every DHCP "
                "server (it keeps only a week: copy now), covering the incident and the lease "
                "time before.", "missing.dhcp.advice",
                path="C:\\Windows\\System32\\dhcp\\DhcpSrvLog-*.log"),
            )
        )
    out += _process_logs(prof, infected)
    if not c.get("proxy"):
        out.append(
            Missing(
                said("Proxy / web-filter access logs", "missing.proxy.what"),
                (
                    said("Web requests are seen only by the IDS, which watches one network "
                    "segment and logs no user names.", "missing.proxy.why.ids")
                    if c.get("web")
                    else said("Drive-by chains (redirects, exploit and payload downloads) and C2 "
                    "requests are seen there with the client address; without them a web "
                    "infection can't be shown.", "missing.proxy.why")
                ),
                said("Collect the proxy's access logs (Squid access.log*, ProxySG or i-FILTER "
                "exports) for the incident and at least 24 h before it; without a proxy, the "
                "firewall's web-filter/UTM logs.", "missing.proxy.advice"),
            )
        )
    if not c.get("mail"):
        out.append(
            Missing(
                said("Mail gateway / mail server logs", "missing.mail.what"),
                said("A mail-borne infection is proved by the delivery of the attachment to the "
                "user shortly before the first execution"
                + (
                    " (the IDS saw some SMTP, but not mail it can't decode or that never crossed "
                    "its segment)."
                    if c.get("ids_mail")
                    else "."
                ), "missing.mail.why" + (".ids" if c.get("ids_mail") else "")),
                said("Collect the mail gateway's message log with attachment names and the mail "
                "server's logs (Postfix maillog, Exchange MSGTRK*.LOG) for at least 7 days "
                "before.", "missing.mail.advice"),
            )
        )
    if not c.get("owners") and (servers or window is not None):
        out.append(
            Missing(
                said("A file listing of the encrypted shares with owners", "missing.owners.what"),
                said("The owner of the ransom notes and encrypted files is the account that wrote "
                "them (a direct pointer to patient zero), and the listing is the exact list of "
                "damage.", "missing.owners.why"),
                said(f"Run on the file server, per share: {OWNER_LISTING}",
                     "missing.owners.advice", command=OWNER_LISTING),
            )
        )
    if not c.get("av"):
        out.append(
            Missing(
                said("AV console export", "missing.av.what"),
                said("Detection names and times per endpoint show which PCs ran the malware and "
                "whether the payload was known at the time.", "missing.av.why"),
                said("Export the virus/malware detection log of all endpoints from the AV "
                "management console (Trend Micro Apex One/OfficeScan: ウイルス/不正プログラムログ "
                "as CSV).", "missing.av.advice", menu="ウイルス/不正プログラムログ"),
            )
        )
    if not c.get("ids"):
        out.append(
            Missing(
                said("IDS / UTM alerts", "missing.ids.what"),
                said("Exploit-kit, payload-download and C2 check-in signatures tie a client to "
                "the attack with a time stamp.", "missing.ids.why"),
                said("Export the IPS/UTM alert logs of every firewall (FortiGate UTM IPS) and any "
                "IDS (Suricata eve.json) for the incident window.", "missing.ids.advice"),
            )
        )
    if not c.get("firewall"):
        out.append(
            Missing(
                said("Firewall traffic logs", "missing.firewall.what"),
                said("They show C2 connections, data volumes to the Internet and which internal "
                "host talked to which, independent of the hosts' own (possibly cleared) logs.",
                "missing.firewall.why"),
                said("Export the traffic logs of the head-office and branch firewalls (FortiGate "
                "log memory or FortiAnalyzer) for the incident window.",
                "missing.firewall.advice"),
            )
        )
    out += _rolled_over(prof, window, sorted(set(infected) | set(servers)))
    return out


def _process_logs(prof: Profile, infected: list[str]) -> list[Missing]:
    out: list[Missing] = []
    proc = prof.hosts_with("p4688") | prof.hosts_with("s1")
    none = [h for h in infected if h not in proc]
    with_cmd = prof.hosts_with("p4688cmd") | prof.hosts_with("s1")
    no_cmd = [h for h in infected if h in proc and h not in with_cmd]
    if none:
        out.append(
            Missing(
                said(f"Process-creation logs for {', '.join(none)} (4688 with command line, "
                "Sysmon)", "missing.process.what", hosts=none),
                said("Without them what started the malware (mail client, script host, browser) "
                "can't be seen, and the infection vector stays a guess.", "missing.process.why"),
                said("Collect Prefetch (C:\\Windows\\Prefetch), Amcache.hve, the $MFT and the "
                "users' NTUSER.DAT/UsrClass.dat from those hosts; for the future enable "
                'auditpol /set /subcategory:"Process Creation" /success:enable with the GPO '
                '"Include command line in process creation events", or deploy Sysmon.',
                "missing.process.advice", artifacts=[
                    "Prefetch (C:\\Windows\\Prefetch)", "Amcache.hve", "$MFT",
                    "NTUSER.DAT/UsrClass.dat"],
                command='auditpol /set /subcategory:"Process Creation" /success:enable'),
            )
        )
    if no_cmd:
        out.append(
            Missing(
                said(f"Command lines in 4688 on {', '.join(no_cmd)}", "missing.cmdline.what",
                     hosts=no_cmd),
                said("The command line shows which script or document was opened (Temp1_*.zip, "
                "Content.Outlook) and the vssadmin/wevtutil arguments.", "missing.cmdline.why"),
                said('Enable the GPO "Include command line in process creation events" '
                "(Administrative Templates > System > Audit Process Creation).",
                "missing.cmdline.advice"),
            )
        )
    return out


def _rolled_over(prof: Profile, window: tuple[datetime, datetime] | None,
                 hosts: list[str]) -> list[Missing]:  # fmt: skip
    if window is None:
        return []
    out: list[Missing] = []
    for r in prof.rows:
        ds, host, first = r["event.dataset"], r["host.name"], r["first"]
        if host not in hosts or not ds.startswith("windows.") or ds in NOT_EVENT_LOGS:
            continue
        if first is not None and first > window[0]:
            out.append(
                Missing(
                    said(f"{ds} of {host} before {iso(first)}", "missing.rolled.what",
                         dataset=ds, host=host, time=iso(first)),
                    said("The log begins after the incident started: older records were "
                    "overwritten (defaults: 20 MB Security/System, 1 MB Sysmon) or cleared.",
                    "missing.rolled.why"),
                    said("Look for older copies (SIEM/forwarded events, backups, Volume Shadow "
                    f"Copies: vssadmin list shadows) and enlarge the log ({BIGGER_LOG}).",
                    "missing.rolled.advice", command="wevtutil sl Security /ms:1073741824"),
                )
            )
    return out
