"""Per-host signals, verdicts and the patient-zero ranking.

Each signal is independent evidence about one host (resolved from an IP through the
identity timeline at the moment it was seen). A host is *infected* with one strong
signal or two medium ones of different kinds, *suspicious* with anything less, *clean*
when its own logs or its traffic were examined and showed nothing, *unknown* when no
source says anything about it.

Patient zero for a file-server encryption is ranked by the signals that tie a client
to the encryption itself (who wrote the notes over SMB, who owns them, whose SMB volume
jumped inside the window, whose own disk holds notes); without those, it is the infected
host whose first malicious event came first. A backup server reading at night has none
of these inside the window, whatever its volume.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ashiato.analysis import fetch, watched
from ashiato.analysis.context import Context, evidence, summary
from ashiato.analysis.identity import Identity
from ashiato.analysis.impact import Impact
from ashiato.analysis.indicators import (
    AV_HACKTOOL,
    AV_TEST_FILE,
    AV_UNWANTED,
    INHIBIT_RECOVERY,
    LOG_TAMPER,
    RANSOM_DETECTION,
    RANSOM_NOTE,
    is_client,
    never_a_host,
    py,
)
from ashiato.analysis.network import NetworkFindings
from ashiato.i18n import msg, msg_of, said

STRONG = {
    "client_notes",
    "share_note_writes",
    "ransom_av",
    "recovery_inhibit",
    "payment_site",
    "spam",
    "ransom_ids",
    "hacktool_av",
    "remote_execution",
    "operator_source",
    "lateral_from_infected",
    "exfiltration_tool",
    "encrypted_on_hypervisor",
    "encrypted_on_nas",
}
MEDIUM = {
    "c2",
    "ids_alert",
    "ip_lookup",
    "smb_burst",
    "share_writes",
    "owner",
    "log_cleared",
    "malware_av",
}
FILE_SERVER_KINDS = ("share_note_writes", "share_writes", "owner", "smb_burst", "client_notes")
_WEIGHT = {
    "share_note_writes": 4.0,
    "client_notes": 3.0,
    "owner": 2.5,
    "share_writes": 2.0,
    "smb_burst": 1.5,
}


@dataclass
class Signal:
    kind: str
    time: datetime | None
    detail: str
    row: dict[str, Any]
    weight: float = 1.0
    # "strong" | "medium" for kinds named at run time (incidents); "weak": listed, not weighed
    strength: str | None = None


@dataclass
class HostView:
    host: str
    signals: list[Signal] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    watched: str | None = None  # what covered it through the incident ("" = nothing)

    def kinds(self) -> set[str]:
        return {s.kind for s in self.signals}

    def strong(self) -> set[str]:
        return {s.kind for s in self.signals if s.kind in STRONG or s.strength == "strong"}

    def medium(self) -> set[str]:
        return {s.kind for s in self.signals if s.kind in MEDIUM or s.strength == "medium"}

    def verdict(self) -> str:
        kinds = self.kinds()
        if self.strong() or len(self.medium()) >= 2:
            return "infected"
        if kinds:
            return "suspicious"
        return "clean" if self.sources and self.watched != "" else "unknown"

    def first_malicious(self) -> datetime | None:
        return self.first(self.strong() | self.medium())

    def first(self, kinds: set[str] | None = None) -> datetime | None:
        times = [s.time for s in self.signals if s.time and (kinds is None or s.kind in kinds)]
        return min(times) if times else None


def collect(
    ctx: Context,
    ident: Identity,
    imp: Impact,
    net: NetworkFindings,
    hosts_by_evidence: dict[str, str],
) -> dict[str, HostView]:
    views: dict[str, HostView] = {}

    def view(host: str) -> HostView:
        return views.setdefault(host, HostView(host))

    def by_ip(ip: str, when: datetime | None) -> str:
        return ident.host_at(ip, when) or ip

    for s in net.signals:
        if never_a_host(s.ip):
            continue  # loopback, link-local, broadcast: never a host to blame
        kind = s.kind
        if kind == "ids_alert" and py(RANSOM_DETECTION).search(s.detail):
            kind = "ransom_ids"
        view(by_ip(s.ip, s.time)).signals.append(Signal(kind, s.time, s.detail, s.row))

    _share_writes(ctx, ident, imp, view, by_ip)
    _owners(ident, imp, view)
    _client_notes(imp, hosts_by_evidence, view)
    _process_and_av(ctx, view)
    if imp.window is not None:
        from ashiato.analysis.network import smb_volume

        volumes = smb_volume(ctx, imp.window)
        inside = sorted(st["in"] for st in volumes.values() if st["in"] > 0)
        typical = inside[len(inside) // 2] if inside else 0.0
        for ip, st in volumes.items():
            # a burst must stand out against the client's own busiest normal hour AND
            # against what other clients moved in the same window
            if st["in"] > 5 * typical and st["ratio"] >= 3 and is_client(ip):
                row = {
                    "source.ip": ip,
                    "@timestamp": imp.window[0],
                    "event.dataset": "flows",
                    "evidence_id": "-",
                    "record": 0,
                }
                view(by_ip(ip, imp.window[0])).signals.append(
                    Signal(
                        "smb_burst",
                        imp.window[0],
                        said(f"{int(st['in']):,} SMB bytes in the window, "
                             f"{st['ratio']:.1f}x its busiest normal hour",
                             "hosts.detail.smb_burst", bytes=f"{int(st['in']):,}",
                             ratio=f"{st['ratio']:.1f}"),
                        row,
                    )
                )
    _sources(ctx, ident, views, hosts_by_evidence)
    for host in _all_hosts(ctx, ident):
        view(host)
    _mark_watched(ctx, ident, imp, views)
    return views


def _mark_watched(ctx: Context, ident: Identity, imp: Impact, views: dict[str, HostView]) -> None:
    """Quiet hosts are clean only if something watched them through the incident."""
    window = imp.window
    if window is None:
        times = [t for v in views.values() if v.verdict() == "infected" for t in [v.first()] if t]
        window = (min(times), max(times)) if times else None
    quiet = [h for h, v in views.items() if not v.signals and v.sources]
    for host, what in watched.watched(ctx, ident, quiet, window).items():
        views[host].watched = what


def _share_writes(ctx: Context, ident: Identity, imp: Impact, view: Any, by_ip: Any) -> None:
    t = ctx.events
    audit = t.filter(
        (t["event.dataset"] == "windows.security")
        & t["event.code"].isin(["5145", "4663"])
        & t["file.name"].notnull()
    )
    mask = audit["file.access_mask"].fill_null(0)
    writes = audit.filter((mask & 0x10006) != 0)
    is_note = writes["file.name"].re_search(RANSOM_NOTE)
    if imp.note_names:  # names learned from a listing (impact._learned_notes) count too
        is_note = is_note | writes["file.name"].upper().isin(imp.note_names)
    notes = writes.filter(is_note)
    rows = fetch.rows(ctx, notes, limit=200000)
    # the encryptor creates each note; users who open one later (even read-write, as an
    # image viewer or editor does) are not its author: credit only the first writer
    first_write: dict[tuple[Any, Any, str], dict[str, Any]] = {}
    for r in rows:
        key = (r.get("host.name"), r.get("file.share"), str(r.get("file.path")).lower())
        first_write.setdefault(key, r)
    kind_rows = [("share_note_writes", r) for r in first_write.values()]
    if imp.window is not None:
        lo, hi = imp.window[0] - timedelta(minutes=10), imp.window[1] + timedelta(minutes=10)
        inwin = writes.filter(writes["@timestamp"].between(lo, hi) & ~is_note)
        agg = inwin.group_by(["source.ip", "winlog.logon.id", "host.name"]).aggregate(
            n=inwin.count(),
            first=inwin["@timestamp"].min(),
            ev=inwin["evidence_id"].min(),
            rec=inwin["record"].min(),
        )
        for r in ctx.rows(agg.order_by(["first", "ev", "rec"])):  # same order on any engine
            if r["n"] >= 20:
                row = {
                    "@timestamp": r["first"],
                    "event.dataset": "windows.security",
                    "source.ip": r["source.ip"],
                    "evidence_id": r["ev"],
                    "record": r["rec"],
                    "message": f"{r['n']} writes/deletes on the share inside the window",
                    "message_said": said(f"{r['n']} writes/deletes on the share inside the "
                                         "window", "hosts.detail.share_writes", n=r["n"]),
                }
                kind_rows.append(("share_writes", row))
    # 4663 names no client: its session's logon does (asked only for such rows)
    logon_ip = _logon_ips(ctx, {(r.get("host.name"), r.get("winlog.logon.id"))
                                for _, r in kind_rows if not r.get("source.ip")})  # fmt: skip
    per_host: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for kind, r in kind_rows:
        ip = r.get("source.ip") or logon_ip.get((r.get("host.name"), r.get("winlog.logon.id")))
        if not ip or ip == "-" or never_a_host(ip):
            continue
        per_host[by_ip(ip, r["@timestamp"])].append((kind, r))
    for host, items in per_host.items():
        for kind in ("share_note_writes", "share_writes"):
            ks = [r for k, r in items if k == kind]
            if ks:
                detail = (
                    said(f"{len(ks)} ransom-note writes on the file server",
                         "hosts.detail.share_note_writes", n=len(ks))
                    if kind == "share_note_writes"
                    else ks[0].get("message_said") or str(ks[0].get("message"))
                )  # fmt: skip
                view(host).signals.append(
                    Signal(kind, ks[0]["@timestamp"], detail, ks[0], weight=float(len(ks)))
                )


def _logon_ips(ctx: Context, wanted: set[tuple[Any, Any]]) -> dict[tuple[Any, Any], str]:
    """(server, logon id) → client address, from 4624, to place 4663 (which has no IP);
    only the logon ids of ``wanted`` are read (a file server logs 100k+ logons)."""
    ids = sorted({i for _, i in wanted if i is not None})
    if not ids:
        return {}
    t = ctx.events
    q = (
        t.filter(
            (t["event.code"] == "4624") & t["source.ip"].notnull() & t["winlog.logon.id"].isin(ids)
        )
        .select("host.name", "winlog.logon.id", "source.ip")
        .distinct()
    )
    return {(r["host.name"], r["winlog.logon.id"]): r["source.ip"] for r in ctx.rows(q)}


def _owners(ident: Identity, imp: Impact, view: Any) -> None:
    total = sum(imp.owners.values())
    for owner, n in imp.owners.items():
        user = owner.split("\\")[-1].lower()
        if user in ("administrators", "system", "trustedinstaller") or n < max(3, total * 0.2):
            continue
        when = imp.window[0] if imp.window else None
        for host in ident.hosts_of_user(user, when):
            row = next(
                (
                    r
                    for r in imp.notes + imp.encrypted
                    if str(r.get("file.owner") or "").lower().endswith(user)
                ),
                {},
            )
            view(host).signals.append(
                Signal(
                    "owner",
                    row.get("file.mtime") or row.get("@timestamp"),
                    said(f"{owner} owns {n} ransom notes / encrypted files; {user} used {host}",
                         "hosts.detail.owner", owner=owner, n=n, user=user, host=host),
                    row,
                )
            )


def _client_notes(imp: Impact, hosts_by_evidence: dict[str, str], view: Any) -> None:
    seen: set[str] = set()
    for r in imp.notes:
        host = r.get("host.name") or hosts_by_evidence.get(str(r.get("evidence_id")))
        path = str(r.get("file.path") or "")
        if not host or host in seen or "\\users\\" not in path.lower().replace("/", "\\"):
            continue
        seen.add(host)
        view(host).signals.append(
            Signal(
                "client_notes",
                r.get("file.created") or r["@timestamp"],
                said(f"ransom note on the host itself: {path}", "hosts.detail.client_notes",
                     path=path),
                r,
            )
        )


def _process_and_av(ctx: Context, view: Any) -> None:
    t = ctx.events
    cmd = t["process.command_line"]
    proc = t.filter(cmd.notnull() & (cmd.re_search(INHIBIT_RECOVERY) | cmd.re_search(LOG_TAMPER)))
    for r in fetch.rows(ctx, proc, limit=1000):
        if r.get("host.name"):
            kind = (
                "recovery_inhibit"
                if py(INHIBIT_RECOVERY).search(r["process.command_line"])
                else "log_cleared"
            )
            view(r["host.name"]).signals.append(
                Signal(kind, r["@timestamp"], r["process.command_line"], r)
            )
    cleared = t.filter(t["event.action"] == "log-cleared")
    for r in fetch.rows(ctx, cleared, limit=1000):
        if r.get("host.name"):
            view(r["host.name"]).signals.append(
                Signal("log_cleared", r["@timestamp"], summary(r), r)
            )
    av = t.filter(
        ((t["observer.type"] == "antivirus") | (t["event.dataset"] == "windows.defender"))
        & t["rule.name"].notnull()
        & t["host.name"].notnull()
    )
    for r in fetch.rows(ctx, av, limit=5000):
        name = str(r.get("file.name") or "")
        if name and py(RANSOM_NOTE).search(name):
            continue  # the AV cleaning notes on a share says where files were hit, not who
        threat = str(r["rule.name"])
        if py(AV_TEST_FILE).search(threat):
            continue  # someone testing the antivirus, not an infection
        kind = "ransom_av" if py(RANSOM_DETECTION).search(threat) else "malware_av"
        if kind == "malware_av" and py(AV_HACKTOOL).search(threat):
            kind = "hacktool_av"  # quarantined or not, someone brought it: the operator was there
        elif kind == "malware_av" and py(AV_UNWANTED).search(threat):
            kind = "av_other"  # adware and the like: worth a look, not an infection
        view(r["host.name"]).signals.append(Signal(kind, r["@timestamp"], str(r["rule.name"]), r))


def _sources(
    ctx: Context, ident: Identity, views: dict[str, HostView], hosts_by_evidence: dict[str, str]
) -> None:
    t = ctx.events
    named = t.filter(t["host.name"].notnull())
    own = named.group_by(["host.name", "event.dataset"]).aggregate(n=named.count())
    for r in ctx.rows(own):
        views.setdefault(r["host.name"], HostView(r["host.name"])).sources.add(r["event.dataset"])
    net = fetch.any_of(t, "observer.type", ["proxy", "firewall", "ids"])
    net = net.filter(net["source.ip"].notnull())
    agg = net.group_by(["source.ip", "event.dataset"]).aggregate(last=net["@timestamp"].max())
    for r in ctx.rows(agg):
        if not is_client(r["source.ip"]):
            continue
        host = ident.host_at(r["source.ip"], r["last"])
        if host:
            views.setdefault(host, HostView(host)).sources.add(r["event.dataset"])
    for host in set(hosts_by_evidence.values()):
        views.setdefault(host, HostView(host)).sources.add("endpoint collection")


def _all_hosts(ctx: Context, ident: Identity) -> set[str]:
    hosts = {lease.host for leases in ident.leases.values() for lease in leases}
    return {h for h in hosts if h}


def rank(views: dict[str, HostView]) -> list[dict[str, Any]]:
    """Candidates for patient zero, best first, with the independent signals that agreed."""
    cands: list[dict[str, Any]] = []
    for v in views.values():
        fs = [s for s in v.signals if s.kind in FILE_SERVER_KINDS]
        if not fs and v.verdict() != "infected":
            continue
        score = sum(_WEIGHT.get(s.kind, 0) * (1 + min(s.weight, 50) / 50) for s in fs)
        score += 1.0 if v.verdict() == "infected" else 0.0
        kinds = sorted(v.kinds())
        cands.append(
            {
                "host": v.host,
                "score": round(score, 2),
                "signals": kinds,
                "first_malicious": v.first_malicious(),
                "first_encryption": v.first({"share_note_writes", "client_notes"}),
            }
        )
    # the host last: views fill in the order the engine returns rows, which ties leave open
    cands.sort(key=lambda c: (-c["score"], _epoch(c["first_malicious"]), c["host"]))
    return cands


def first_writer_bonus(cands: list[dict[str, Any]]) -> None:
    firsts = [c for c in cands if c["first_encryption"]]
    if firsts:
        first = min(firsts, key=lambda c: c["first_encryption"])
        first["score"] = round(first["score"] + 1.0, 2)
        first["signals"] = sorted({*first["signals"], "first_writer"})
    cands.sort(key=lambda c: -c["score"])


def host_evidence(v: HostView) -> list[Any]:
    rows = sorted(
        (s.row for s in v.signals if s.row.get("evidence_id") not in (None, "-")),
        key=lambda r: _epoch(r.get("@timestamp")),
    )
    return evidence(rows, limit=8)


def _epoch(t: datetime | None) -> float:
    return t.timestamp() if t is not None else float("inf")


# --- detections and lateral movement as signals --------------------------------------

_SEVERITY_STRENGTH = {"critical": "strong", "high": "strong", "medium": "medium"}
# techniques a domain controller logs while it serves someone else's request (replication
# for DCSync, service or logon tickets for roasting): the account and the asking machine
# are the intruder's, the controller only answered; a sign on it, not a verdict
SERVED_FOR_OTHERS = {"T1003.006", "T1558.003", "T1558.004"}


def add_incidents(views: dict[str, HostView], incidents: list[Any], known: Any) -> None:
    """A high/critical incident is a strong signal on each of its hosts, a medium one a
    medium signal; low and informational ones are listed in findings, not weighed."""
    for inc in incidents:
        strength = _SEVERITY_STRENGTH.get(inc.severity)
        if strength is None or not inc.weighed or known.covers_incident(inc):
            continue
        if inc.technique in SERVED_FOR_OTHERS:
            strength = "weak"
        what = inc.technique_name + (f" ({inc.technique})" if inc.technique else "")
        key = f" — {inc.key_values[0][:160]}" if inc.key_values else ""
        times = f"{inc.count} event(s)" if inc.count > 1 else "one event"
        said_id = "hosts.detail.incident" + ("" if inc.count > 1 else ".one") + (
            ".key" if inc.key_values else "")
        refs = {e.ref for e in inc.evidence}
        for host in inc.hosts:
            detail = said(f"a {inc.severity}-severity detection ({inc.id}): {what}, {times}{key}",
                          said_id, severity=msg(f"severity.{inc.severity}"), id=inc.id,
                          what=what, n=inc.count,
                          key=inc.key_values[0][:160] if inc.key_values else "")  # fmt: skip
            row = _evidence_row(inc.evidence[0] if inc.evidence else None, detail)
            view = views.setdefault(host, HostView(host))
            same = [s for s in view.signals if _ref(s.row) in refs]
            if refs and refs <= {_ref(s.row) for s in same}:
                # the same events already speak here (log clearing, shadow copies): say it
                # once, with the stronger of the two
                if any(s.kind in STRONG for s in same) or strength != "strong":
                    continue
                view.signals = [s for s in view.signals if s not in same]
            when = _time(inc.host_first.get(host) or inc.first)
            view.signals.append(
                Signal(f"incident:{inc.technique or inc.technique_name}", when,
                       detail, row, strength=strength)
            )  # fmt: skip


def add_lateral(
    views: dict[str, HostView], edges: list[Any], known: Any, tunnels: Collection[str] = ()
) -> None:
    """Remote execution compromises the target, and its source (the operator sits there);
    an RDP session or an unusual pair is a medium or weak signal on the target. ``tunnels``:
    VPN tunnel addresses, whose sessions come from outside and are never routine."""
    desk: dict[str, set[str]] = defaultdict(set)  # target -> accounts on its desktop
    for e in edges:
        if e.technique == "rdp" and e.account and e.source_ip not in tunnels:
            desk[e.target].add(e.account)
    for e in edges:
        if known.covers_edge(e):
            e.why = said(e.why + "; declared known administration", "lateral.why.known",
                         why=msg_of(e.why) or e.why)
            continue
        if e.source_ip not in tunnels and (why := _routine_rdp(e, len(desk[e.target]))):
            # listed, but no sign (propagate still follows it when the source is infected)
            e.why = said(e.why + f"; {why}", "lateral.why.routine",
                         why=msg_of(e.why) or e.why, routine=msg_of(why) or why)
            continue
        row = _evidence_row(e.evidence[0] if e.evidence else None, e.why)
        when = _time(e.first)
        tgt = views.setdefault(e.target, HostView(e.target))
        src_label = e.source if e.source != "unknown source" else "an unknown machine"
        who = f" as {e.account}" if e.account else ""
        src_arg = e.source if e.source != "unknown source" else msg("hosts.unknown_machine")
        why_arg = msg_of(e.why) or e.why
        said_as = ".as" if e.account else ""
        fid, fargs = "hosts.detail.from" + said_as, {"source": src_arg, "why": why_arg,
                                                     "account": e.account or ""}  # fmt: skip
        line = said(f"{src_label}{who}: {e.why}", fid, **fargs)

        if e.execution and e.technique in ("psexec", "service", "task", "wmi", "dcom", "winrm"):
            tgt.signals.append(
                Signal("remote_execution", when, line, row))
            # an address outside is the attacker's own machine: the account is the entry
            outside = _is_ip(e.source) and not is_client(e.source) and not never_a_host(e.source)
            if e.source != "unknown source" and not outside:
                src = views.setdefault(e.source, HostView(e.source))
                src.signals.append(
                    Signal("operator_source", when, said(
                        f"ran code on {e.target}{who}: {e.why}", "hosts.detail.ran_on" + said_as,
                        target=e.target, account=e.account or "", why=why_arg), row)
                )
        elif e.execution:  # an RDP session, or execution in a network logon's session
            tgt.signals.append(
                Signal("lateral_in", when, line, row,
                       strength="medium")
            )
        else:
            tgt.signals.append(
                Signal("lateral_unusual", when, line, row))


# --- hands-on-keyboard: data theft, servers behind the files, the intruder's accounts ---


def add_intrusion(
    views: dict[str, HostView], exfiltration: dict[str, Any], servers: dict[str, Any]
) -> None:
    """An intrusion without malware leaves no malware signal: a host where a data-transfer
    tool ran, a hypervisor whose VMs or a NAS whose files were encrypted, is compromised;
    backups destroyed on a server are a sign on it, not a verdict."""
    for x in exfiltration.get("tools", []):
        if x.get("host"):
            detail = f"{x['what']}: {x['command_line'][:160]}"
            _mark(views, x["host"], "exfiltration_tool", x.get("time"), detail, x.get("ref"))
    for h in servers.get("hypervisors", []):
        if h["encrypted"]:
            # the first step of its chain (SSH enabled, a VM powered off) is when it fell
            first = min((e["time"] for e in h.get("evidence", []) if e.get("time")), default=None)
            ref = next((e["ref"] for e in h.get("evidence", [])), None)
            _mark(views, h["host"], "encrypted_on_hypervisor", first, h["note"], ref)
    for n in servers.get("nas", []):
        if n["ransom_files"]:
            detail = said(f"{n['ransom_files']} file(s) with ransomware names",
                          "hosts.detail.nas_ransom_files", n=n["ransom_files"])
            _mark(views, n["host"], "encrypted_on_nas", None, detail, None)
    for b in servers.get("backups_destroyed", []):
        if b.get("host"):
            _mark(views, b["host"], "backups_destroyed", b["time"], b["action"], b.get("ref"))


def add_intruder_accounts(views: dict[str, HostView], accounts: dict[str, Any]) -> None:
    """A host the intruder's account logged on to or acted on: a sign, not a verdict (the
    account may only have been checked there)."""
    for r in accounts.get("hosts_reached", []):
        _mark(views, r["host"], "intruder_account", r["time"], r["detail"], r.get("ref"))


def _mark(
    views: dict[str, HostView], host: str, kind: str, when: str | None, detail: str,
    ref: str | None,
) -> None:  # fmt: skip
    eid, _, rec = (ref or "-:0").rpartition(":")
    row = {"@timestamp": _time(when), "evidence_id": eid or "-",
           "record": int(rec) if rec.isdigit() else rec, "message": detail}  # fmt: skip
    views.setdefault(host, HostView(host)).signals.append(Signal(kind, _time(when), detail, row))


TERMINAL_SERVER_USERS = 5  # accounts on one host's desktop: a terminal server


def _routine_rdp(e: Any, users: int) -> str | None:
    """Remote desktop from an inside machine, with no code run in the sessions beyond the
    desktop itself, by one account on several days or onto a terminal server many accounts
    use: everyday work. An intruder's session is the odd one out (from the VPN, a new
    machine name, code run from it); None when the edge is not routine."""
    if e.technique != "rdp" or not e.account or not e.first or e.source == "unknown source":
        return None
    ip = e.source_ip or (e.source if _is_ip(e.source) else None)
    if ip and not is_client(ip):
        return None  # from outside, or from an address no inside machine is known by
    if users >= TERMINAL_SERVER_USERS:
        return said(f"a terminal server ({users} accounts use its desktop): everyday use",
                    "lateral.routine.terminal_server", n=users)
    if e.last and str(e.first)[:10] != str(e.last)[:10]:
        return said("the same account from the same machine on several days: everyday use",
                    "lateral.routine.several_days")
    return None


def propagate(views: dict[str, HostView], edges: list[Any], known: Any) -> None:
    """An infected machine that then opens a session or runs code elsewhere compromises
    the target too (until nothing changes)."""
    changed = True
    while changed:
        changed = False
        for e in edges:
            if known.covers_edge(e) or e.source not in views or e.target not in views:
                continue
            if not e.execution:
                continue
            src, tgt = views[e.source], views[e.target]
            # infected by other evidence than having moved (else the reason repeats itself)
            own = HostView(src.host, [s for s in src.signals if s.kind != "operator_source"])
            start = own.first_malicious() if own.verdict() == "infected" else None
            last = _time(e.last)
            if start is None or last is None or last < start:
                continue
            if "lateral_from_infected" in tgt.kinds():
                continue
            row = _evidence_row(e.evidence[-1] if e.evidence else None, e.why)
            tgt.signals.append(
                Signal(
                    "lateral_from_infected",
                    _time(e.first),
                    said(f"reached from infected {e.source} by {e.technique}"
                         + (f" as {e.account}" if e.account else ""),
                         "hosts.detail.reached" + (".as" if e.account else ""),
                         source=e.source, technique=e.technique, account=e.account or ""),
                    row,
                )
            )
            changed = True


def _ref(row: dict[str, Any]) -> str:
    return f"{row.get('evidence_id')}:{row.get('record')}"


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _time(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _evidence_row(ev: Any, detail: str) -> dict[str, Any]:
    if ev is None:
        return {"evidence_id": "-", "record": 0, "message": detail}
    eid, _, rec = str(ev.ref).rpartition(":")
    return {
        "@timestamp": _time(ev.time),
        "event.dataset": ev.dataset,
        "evidence_id": eid,
        "record": int(rec) if rec.isdigit() else rec,
        "message": ev.summary,
    }


_SENTENCES = {
    "client_notes": "Ransom notes are on this host's own disk: {d}",
    "share_note_writes": "This host wrote ransom notes on the file server: {d}",
    "share_writes": "This host wrote to the file share in bulk during the encryption: {d}",
    "owner": "The account that owns the encrypted files used this host: {d}",
    "smb_burst": "This host's SMB traffic jumped during the encryption: {d}",
    "ransom_av": "The antivirus detected ransomware here: {d}",
    "malware_av": "The antivirus detected malware here: {d}",
    "hacktool_av": "The antivirus found an attacker's tool here (quarantined or not, someone "
    "brought it): {d}",
    "av_other": "The antivirus flagged unwanted software (not by itself an infection): {d}",
    "recovery_inhibit": "Shadow copies or backups were destroyed here: {d}",
    "log_cleared": "Event logs were cleared here: {d}",
    "payment_site": "This host reached a ransom payment site: {d}",
    "c2": "This host talked to a likely command-and-control server: {d}",
    "ids_alert": "The IDS raised an alert for this host: {d}",
    "ransom_ids": "The IDS saw ransomware traffic from this host: {d}",
    "ip_lookup": "This host looked up its public IP address, as malware does: {d}",
    "spam": "This host sent spam: {d}",
    "remote_execution": "Code was run on this host remotely from {d}",
    "operator_source": "An operator on this host {d}",
    "lateral_from_infected": "This host was {d}",
    "lateral_in": "Someone moved onto this host from {d}",
    "lateral_unusual": "Unusual remote access from {d}",
    "exfiltration_tool": "A data-transfer tool ran here: {d}",
    "encrypted_on_hypervisor": "Virtual machines were encrypted on this hypervisor: {d}",
    "encrypted_on_nas": "Files on this NAS were encrypted: {d}",
    "backups_destroyed": "Backups were destroyed here: {d}",
    "intruder_account": "The intruder's account was used here: {d}",
}


def reason(kind: str, detail: str, count: int) -> str:
    """A responder's sentence for one kind of signal."""
    more = f" (seen {count} times)" if count > 1 else ""
    d = msg_of(detail) or detail.rstrip(".")  # a value from a log, or a sentence by id
    if kind.startswith("incident:"):
        text = f"{detail[0].upper()}{detail[1:]}"
        inner = msg("hosts.reason.incident", d=d)
    else:
        text = _SENTENCES.get(kind, kind.replace("_", " ") + ": {d}").format(d=detail)
        known = kind if kind in _SENTENCES else "other"
        inner = msg(f"hosts.reason.{known}", d=d, kind=kind)
    if count > 1:
        return said(text.rstrip(".") + more + ".", "hosts.reason.times", reason=inner, n=count)
    return said(text.rstrip(".") + more + ".", "hosts.reason.once", reason=inner)
