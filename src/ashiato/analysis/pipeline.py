"""``ashiato investigate``: run the analyses in order and assemble the findings.

identity → impact → network indicators → detections (bundled and user Sigma rules) grouped
into incidents → lateral movement → per-host signals and verdicts → patient zero →
vectors → coverage, tampering and clock skew → next steps. Writes findings.json and the
encrypted-file list (encrypted_files.csv) into the case folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ashiato import engines, i18n
from ashiato.analysis import accounts as accounts_mod
from ashiato.analysis import (
    clock_skew,
    identity,
    impact,
    iocs,
    known_admin,
    lateral,
    network,
    remote_access,
)
from ashiato.analysis import coverage as coverage_mod
from ashiato.analysis import entry as entry_mod
from ashiato.analysis import exfiltration as exfiltration_mod
from ashiato.analysis import hosts as hosts_mod
from ashiato.analysis import incidents as incidents_mod
from ashiato.analysis import servers as servers_mod
from ashiato.analysis import vector as vector_mod
from ashiato.analysis.context import Context, evidence
from ashiato.analysis.not_read import not_read
from ashiato.case import Case
from ashiato.collector import few_collections
from ashiato.detect import scan as scan_mod
from ashiato.engines import EVENT_ORDER
from ashiato.exports import iso
from ashiato.findings import (
    FILE,
    Findings,
    HostFinding,
    Incident,
    LateralEdge,
    PatientZero,
)
from ashiato.normalize import host_key

FINDINGS = FILE
RESTORE_LIST = "encrypted_files.csv"


def investigate(
    case: Case | str,
    engine: str | None = None,
    *,
    master: str | None = None,
    sigma: Sequence[Path | str] = (),
) -> Findings:
    """``engine``: duckdb or spark (default: ASHIATO_ENGINE, else duckdb); see engines/.
    ``sigma``: rule files or folders run beside the bundled rules (also $ASHIATO_SIGMA)."""
    with few_collections():
        return _investigate(case, engine, master, sigma)


def _investigate(
    case: Case | str, engine: str | None, master: str | None, sigma: Sequence[Path | str]
) -> Findings:
    eng = engines.connect(case, engine, master=master)
    con, case = eng.backend, eng.case
    # hunt results repeat the evidence refs of the events they matched; the analyses
    # read the events themselves, so counts per host or file are not doubled
    events = eng.events.filter(eng.events["event.dataset"] != "ashiato.detection")
    # line every source up on one clock before anything compares times across sources
    skews = clock_skew.estimate(Context(events=events, tz=case.tz))
    fixed = clock_skew.apply(events, skews)
    ctx = Context(events=eng.pin("investigated_events", fixed), tz=case.tz)
    ident = identity.build(ctx)
    imp = impact.analyse(ctx)
    net = network.analyse(ctx)
    by_evidence = _hosts_by_evidence(con, ctx, ident)
    rules, incidents, edges, known = _detections(ctx, ident, case, sigma)
    views = hosts_mod.collect(ctx, ident, imp, net, by_evidence)
    hosts_mod.add_incidents(views, incidents, known)
    tunnels = {v.tunnel_ip for v in remote_access.sessions(ctx) if v.tunnel_ip}
    hosts_mod.add_lateral(views, edges, known, tunnels)
    theft = _theft_and_servers(ctx, ident)  # issue 16
    hosts_mod.add_intrusion(views, theft.exfiltration, theft.servers)
    hosts_mod.propagate(views, edges, known)
    theft.accounts = accounts_mod.analyse(ctx, ident, theft.entry.entry, _infected_times(views))
    hosts_mod.add_intruder_accounts(views, theft.accounts)
    cands = hosts_mod.rank(views)
    hosts_mod.first_writer_bonus(cands)

    # first infected first; by name where times tie (views fill in the engine's row order)
    infected = sorted((v for v in views.values() if v.verdict() == "infected"),
                      key=lambda v: (v.first_malicious() is None, v.first_malicious() or 0, v.host))
    intruder_at = {r["host"]: r["account"] for r in theft.accounts.get("hosts_reached", [])}
    pz = _patient_zero(cands, views, ident, imp, _reached(views, edges, known), intruder_at)
    if pz is not None:
        _why_first(pz, views, edges, _log_starts(ctx))
    host_findings = [_host_finding(v, ident) for v in sorted(views.values(), key=_order)]
    infected_times = [(v.host, v.first_malicious()) for v in infected]
    vectors = vector_mod.vectors(ctx, ident, [(h, t) for h, t in infected_times if t])
    window = imp.window
    cov, missing, tampering, skews, steps = coverage_mod.coverage(
        ctx, ident, window, [v.host for v in infected], skews
    )
    kind = _kind(imp, net, infected, incidents, edges, known)
    plain_impact = bool(imp.encrypted or imp.notes) or any(
        "recovery_inhibit" in v.kinds() for v in views.values()
    )
    restore = case.root / RESTORE_LIST
    impact.write_restore_list(imp, restore)
    cov["missing"] = [vars(m) for m in missing]
    cov["not_read"] = not_read(con)
    cov["rules"] = rules
    findings = Findings(
        incident={
            "detected": bool(infected) or plain_impact,
            "kind": kind,
            "summary": _headline(pz, infected, imp, net, ident, incidents, edges, views),
        },
        patient_zero=pz,
        candidates=[
            {
                **c,
                "first_malicious": iso(c["first_malicious"]),
                "first_encryption": iso(c["first_encryption"]),
            }
            for c in cands[:10]
        ],
        hosts=host_findings,
        vectors=vectors,
        impact={
            "encrypted_files": len(imp.encrypted),
            "encrypted_files_csv": RESTORE_LIST,
            "ransom_notes": len(imp.notes),
            "note_names": imp.note_names,
            "counted_from": imp.source,
            "shares": imp.shares,
            "count_basis": imp.basis,
            "users": imp.owners,
            "window": {"start": iso(window[0]), "end": iso(window[1])} if window else None,
            "c2": network.c2_of(
                net, lambda ip, t: ident.at(ip, t).host or ip, {v.host for v in infected}
            ),
            "payment_sites": net.payment_sites,
            "ip_lookups": net.ip_lookups,
            "spam": _spam(net.spam, ident),
            "other_infected_hosts": sorted(v.host for v in infected if not pz or v.host != pz.host),
            "encrypting_hosts": _encrypting_hosts(views),
            "evidence": imp.evidence + net.evidence,
        },
        coverage=cov,
        tampering=tampering,
        clock_skew=skews,
        next_steps=steps,
        notes=_notes(ctx),
        generated=iso(datetime.now(UTC)),
        incidents=incidents,
        lateral_movement=edges,
        iocs=iocs.extract(ctx),
    )
    _entry_accounts_theft_servers(findings, ctx, theft)  # issue 16
    (case.root / FINDINGS).write_text(
        json.dumps(findings.to_dict(), ensure_ascii=False, indent=2, default=str), "utf-8"
    )
    eng.publish([FINDINGS, RESTORE_LIST])  # a case at a URL gets them back
    return findings


def _detections(
    ctx: Context, ident: identity.Identity, case: Case, sigma: Sequence[Path | str]
) -> tuple[dict[str, Any], list[Incident], list[LateralEdge], known_admin.KnownAdmin]:
    """One scan of every rule (what ran and what could not), grouped into incidents;
    lateral edges; declared admins."""
    result = scan_mod.scan(ctx.events, sigma)
    rules = {
        "run": len(result.rules),
        "problem_count": len(result.problems),
        "problems": [f"{p.path}: {p.title}: {p.reason}" for p in result.problems[:50]],
    }
    return (
        rules,
        incidents_mod.build(ctx, result, ident),
        lateral.analyse(ctx, ident),
        known_admin.load(case.root, ctx),
    )


_INTRUSION_TACTICS = {"lateral-movement", "credential-access", "defense-evasion", "impact"}


def _kind(
    imp: impact.Impact,
    net: network.NetworkFindings,
    infected: list[hosts_mod.HostView],
    incidents: list[Incident],
    edges: list[LateralEdge],
    known: known_admin.KnownAdmin,
) -> str | None:
    """ransomware > intrusion (hands on keyboard) > spam > malware; None when nothing."""
    if imp.notes or imp.encrypted or any("ransom" in k for v in infected for k in v.kinds()):
        return "ransomware"
    hosts = {v.host for v in infected}
    moved = any(
        e.execution and not known.covers_edge(e) and (e.target in hosts or e.source in hosts)
        for e in edges
    )
    hands = any(
        i.tactic in _INTRUSION_TACTICS
        and i.severity in ("high", "critical")
        and set(i.hosts) & hosts
        for i in incidents
    )
    tools = any("hacktool_av" in v.kinds() for v in infected)
    if infected and (moved or hands or tools):
        return "intrusion"
    if net.spam:
        return "spam"
    return "malware" if infected else None


def _reached(
    views: dict[str, hosts_mod.HostView], edges: list[LateralEdge], known: known_admin.KnownAdmin
) -> set[str]:
    """Infected hosts an infected host moved into (remote execution or RDP): not roots."""
    bad = {h for h, v in views.items() if v.verdict() == "infected"}
    return {
        e.target
        for e in edges
        if e.execution
        and e.source in bad
        and e.target in bad
        and e.source != e.target
        and not known.covers_edge(e)
    }


def _encrypting_hosts(views: dict[str, hosts_mod.HostView]) -> list[str]:
    """The seed's question per share: the clients that wrote the encrypted files."""
    kinds = {"share_note_writes", "share_writes"}
    return sorted(v.host for v in views.values() if v.kinds() & kinds)


def _log_starts(ctx: Context) -> dict[str, datetime]:
    t = ctx.events
    named = t.filter(t["host.name"].notnull())
    agg = named.group_by("host.name").aggregate(first=named["@timestamp"].min())
    return {r["host.name"]: r["first"] for r in ctx.rows(agg) if r["first"] is not None}


def _why_first(
    pz: PatientZero,
    views: dict[str, hosts_mod.HostView],
    edges: list[LateralEdge],
    starts: dict[str, datetime],
) -> None:
    """Why each other infected host is not first, and who cannot be excluded."""
    first = views[pz.host].first_malicious()
    for v in sorted(views.values(), key=lambda v: v.host):
        if v.host == pz.host:
            continue
        if v.verdict() == "infected":
            inbound = [e for e in edges if e.target == v.host and e.source in views
                       and views[e.source].verdict() == "infected"]  # fmt: skip
            t = v.first_malicious()
            if inbound:
                e = inbound[0]
                pz.why_not_others.append(i18n.said(
                    f"{v.host} was reached from {e.source} by {e.technique} at {e.first}",
                    "pz.reached", host=v.host, source=e.source, technique=e.technique,
                    time=e.first))  # fmt: skip
            elif t and first and t > first:
                pz.why_not_others.append(i18n.said(
                    f"{v.host} shows malicious activity only from {iso(t)}, after {pz.host} "
                    f"({iso(first)})", "pz.later", host=v.host, time=iso(t), pz=pz.host,
                    pz_time=iso(first)))  # fmt: skip
            else:
                pz.why_not_others.append(i18n.said(
                    f"{v.host} has less evidence tying it to the start of the incident",
                    "pz.weaker", host=v.host))  # fmt: skip
        start = starts.get(v.host)
        if first and start and start > first:
            pz.cannot_be_excluded.append(v.host)


def _order(v: hosts_mod.HostView) -> tuple[int, str]:
    rank = {"infected": 0, "suspicious": 1, "clean": 2, "unknown": 3}
    return rank[v.verdict()], v.host


def _patient_zero(
    cands: list[dict[str, Any]],
    views: dict[str, hosts_mod.HostView],
    ident: identity.Identity,
    imp: impact.Impact,
    reached: set[str],
    intruder_at: dict[str, str] | None = None,
) -> PatientZero | None:
    """``intruder_at``: host → the intruder's account first seen acting there (the user
    of a hands-on intrusion's first host is that account, not the host's usual user)."""
    infected = [c for c in cands if views[c["host"]].verdict() == "infected"]
    if not infected:
        return None
    fs = [c for c in infected if set(c["signals"]) & set(hosts_mod.FILE_SERVER_KINDS)]
    # the root: an infected host nobody infected reached it first (a lateral edge from
    # another infected host); the earliest first malicious act, then first encryption
    roots = [c for c in infected if c["host"] not in reached] or infected
    if fs and not reached:
        best = fs[0]
    else:
        best = min(
            roots,
            key=lambda c: (
                hosts_mod._epoch(c["first_malicious"]),
                hosts_mod._epoch(c["first_encryption"]),
                -c["score"],
            ),
        )
    v = views[best["host"]]
    agreeing = sorted(v.kinds())
    when = best["first_encryption"] or best["first_malicious"]
    ip = _ip_at_encryption(v, ident, when)
    runner = next((c for c in cands if c["host"] != best["host"]), None)
    margin = best["score"] - (runner["score"] if runner else 0)
    conf = min(0.97, 0.35 + 0.12 * len(agreeing) + (0.1 if margin > 2 else 0))
    user = None
    for s in v.signals:
        if s.kind == "owner":
            user = s.detail.split(" owns ")[0].split("\\")[-1].lower()
    return PatientZero(
        host=v.host,
        ip=ip,
        user=user or (intruder_at or {}).get(v.host) or ident.at(ip, when).user
        or ident.main_user(v.host),
        confidence=round(conf, 2),
        signals=agreeing,
        evidence=hosts_mod.host_evidence(v),
    )


def _ip_at_encryption(
    v: hosts_mod.HostView, ident: identity.Identity, when: datetime | None
) -> str | None:
    """The address the host used when it attacked: seen in its own signals, else DHCP."""
    for kind in ("share_note_writes", "share_writes", "smb_burst", "payment_site", "c2"):
        for s in v.signals:
            ip = s.row.get("source.ip")
            if s.kind == kind and ip and ident.at(ip, s.time).host in (v.host, None):
                return str(ip)
    ips = [ip for ip in ident.ips_of(v.host) if ident.at(ip, when).host == v.host]
    if ips:
        return ips[0]
    return v.host if re.match(r"^\d+\.\d+\.\d+\.\d+$", v.host) else None


def _host_finding(v: hosts_mod.HostView, ident: identity.Identity) -> HostFinding:
    return HostFinding(
        host=v.host,
        ips=ident.ips_of(v.host),
        users=ident.users_of(v.host),
        verdict=v.verdict(),
        first_malicious=iso(v.first_malicious()),
        first_encryption=iso(v.first({"share_note_writes", "client_notes"})),
        reasons=_reasons(v),
        sources=sorted(v.sources),
        evidence=hosts_mod.host_evidence(v),
    )


def _reasons(v: hosts_mod.HostView) -> list[str]:
    """One line per kind of signal, strongest kinds first, with how often it was seen."""
    by_kind: dict[str, list[hosts_mod.Signal]] = {}
    for s in v.signals:
        by_kind.setdefault(s.kind, []).append(s)
    strong, medium = v.strong(), v.medium()
    order = sorted(by_kind, key=lambda k: (k not in strong, k not in medium, k))
    out = [hosts_mod.reason(k, by_kind[k][0].detail, len(by_kind[k])) for k in order]
    if not out and v.sources and v.watched is not None:
        # why a quiet host is clean, or only unknown
        out.append(
            i18n.said(f"Watched through the incident by {v.watched}; nothing found.",
                      "hosts.reason.watched",
                      sources=i18n.msg_of(v.watched) or v.watched)
            if v.watched
            else i18n.said("No log of it, nor any source that sees it, covers the incident "
                           "window.", "hosts.reason.unwatched")
        )  # fmt: skip
    return out


def _spam(spam: dict[str, Any] | None, ident: identity.Identity) -> dict[str, Any] | None:
    if not spam:
        return None
    res = ident.at(spam["ip"], spam["first"])
    return {**spam, "host": res.host, "first": iso(spam["first"]), "last": iso(spam["last"])}


def _hosts_by_evidence(con: Any, ctx: Context, ident: identity.Identity) -> dict[str, str]:
    """Evidence collected from one endpoint (a folder named after it) belongs to that host."""
    t = ctx.events
    known = {r["host.name"] for r in ctx.rows(t.select("host.name").distinct()) if r["host.name"]}
    known |= {lease.host for ls in ident.leases.values() for lease in ls}
    out: dict[str, str] = {}
    for r in con.table("evidence").select("evidence_id", "path").to_pyarrow().to_pylist():
        parts = re.split(r"[\\/!]", str(r["path"]))
        for part in reversed(parts[:-1]):
            key = host_key(part)
            if key is not None and key in known:
                out[r["evidence_id"]] = key
                break
    return out


def _notes(ctx: Context) -> list[dict[str, Any]]:
    t = ctx.events
    q = t.filter(t["event.dataset"] == "ashiato.note")
    return [vars(e) for e in evidence(ctx.rows(ctx.select(q).order_by(EVENT_ORDER)), limit=500)]


def _suspicious(views: dict[str, hosts_mod.HostView]) -> list[str]:
    """Suspicious hosts a detection ("host (ATT&CK id)") or a medium signal speaks of."""
    out = []
    for v in sorted(views.values(), key=_order):
        if v.verdict() != "suspicious":
            continue
        kinds = sorted(k.removeprefix("incident:") for k in v.kinds() if k.startswith("incident:"))
        if kinds:
            out.append(f"{v.host} ({', '.join(kinds)})")
        elif v.medium():  # an RDP session or an IDS alert: its reasons say which
            out.append(v.host)
    return out[:5]


def _headline(
    pz: PatientZero | None,
    infected: list[Any],
    imp: impact.Impact,
    net: network.NetworkFindings,
    ident: identity.Identity,
    incidents: list[Incident],
    edges: list[LateralEdge],
    views: dict[str, hosts_mod.HostView] | None = None,
) -> str:
    if not infected:
        if imp.encrypted or imp.notes:
            return _unattributed(imp, ident)
        named = _suspicious(views or {})
        if named:
            # one medium detection proves nothing, but "nothing found" would hide it
            return i18n.said(
                f"No host is proven infected, but {len(named)} host(s) show suspicious "
                f"activity: {', '.join(named)}. Read their reasons and collect those hosts' "
                "logs.", "incident.suspicious_only", n=len(named), hosts=named)
        return i18n.said("No host shows signs of infection in the evidence provided.",
                         "incident.nothing")
    parts = [f"{len(infected)} infected host(s)"]
    ids = [i18n.msg("incident.infected", n=len(infected))]
    if pz:
        parts.append(
            f"patient zero {pz.host} ({pz.ip or 'IP unknown'}, {pz.user or 'user unknown'})"
        )
        ids.append(i18n.msg("incident.pz", host=pz.host,
                            ip=pz.ip or i18n.msg("incident.ip_unknown"),
                            user=pz.user or i18n.msg("incident.user_unknown")))  # fmt: skip
    if imp.encrypted or imp.notes:
        parts.append(f"{len(imp.encrypted)} encrypted files, {len(imp.notes)} ransom notes")
        ids.append(i18n.msg("incident.impact", files=len(imp.encrypted), notes=len(imp.notes)))
    if net.spam:
        parts.append(f"spam from {net.spam['ip']}")
        ids.append(i18n.msg("incident.spam", ip=net.spam["ip"]))
    serious = [i for i in incidents if i.severity in ("high", "critical")]
    if serious:
        parts.append(f"{len(serious)} high-severity incident(s)")
        ids.append(i18n.msg("incident.serious", n=len(serious)))
    moves = [e for e in edges if e.execution]
    if moves:
        parts.append(f"{len(moves)} lateral move(s) with remote execution")
        ids.append(i18n.msg("incident.moves", n=len(moves)))
    return i18n.said_all("; ".join(parts) + ".", *ids, join="clauses")


# -- issue 16: remote access, accounts, data theft, the servers behind the files ---------


@dataclass
class _Theft:
    entry: entry_mod.Entry
    exfiltration: dict[str, Any]
    servers: dict[str, Any]
    accounts: dict[str, Any] = field(default_factory=dict)


def _theft_and_servers(ctx: Context, ident: identity.Identity) -> _Theft:
    """The entry, data theft and the servers behind the files: they don't depend on the
    verdicts, and their signals (transfer tools, encrypted VMs) feed them."""
    ent = entry_mod.analyse(ctx)
    return _Theft(
        ent,
        exfiltration_mod.analyse(ctx, ident),
        servers_mod.analyse(ctx, remote_access.Pool(ent.sessions)),
    )


def _infected_times(views: dict[str, hosts_mod.HostView]) -> list[tuple[str, datetime]]:
    return [
        (v.host, t)
        for v in views.values()
        if v.verdict() == "infected" and (t := v.first_malicious()) is not None
    ]


def _entry_accounts_theft_servers(findings: Findings, ctx: Context, theft: _Theft) -> None:
    """Fill ``entry``, ``accounts``, ``exfiltration`` and ``servers`` and their next steps;
    an encryption seen only on a hypervisor or NAS still makes this a ransomware case."""
    ent = theft.entry
    findings.entry = ent.to_dict()
    findings.entry["next_steps"] = entry_mod.next_steps(ctx, ent)
    findings.accounts = theft.accounts
    findings.exfiltration = theft.exfiltration
    findings.servers = theft.servers
    steps = (
        findings.entry["next_steps"]
        + accounts_mod.next_steps(findings.accounts)
        + servers_mod.next_steps(findings.servers)
    )
    if findings.exfiltration["verdict"] in ("likely", "possible"):
        steps.append(i18n.said(
            f"Data theft is {findings.exfiltration['verdict']}: "
            + "; ".join(findings.exfiltration["reasons"][:3])
            + ". Settle it with: "
            + "; ".join(findings.exfiltration["settle"][:3])
            + ".",
            f"steps.exfil.{findings.exfiltration['verdict']}",
            reasons=[i18n.msg_of(r) or r for r in findings.exfiltration["reasons"][:3]],
            settle=[i18n.msg_of(r) or r for r in findings.exfiltration["settle"][:3]],
        ))  # fmt: skip
    had_infected = any(h.verdict == "infected" for h in findings.hosts)
    gap = entry_mod.missing_vpn(ent)
    if gap is not None and (had_infected or findings.accounts.get("domain_compromised")):
        findings.coverage.setdefault("missing", []).append(vars(gap))
        steps.append(i18n.said(f"Collect: {gap.what}. {gap.advice}", "steps.collect",
                               what=i18n.msg_of(gap.what) or gap.what,
                               advice=i18n.msg_of(gap.advice) or gap.advice))  # fmt: skip
    at = 2 if findings.incident.get("detected") else 0  # after isolate and preserve
    findings.next_steps[at:at] = steps
    srv = findings.servers
    hit = srv["encrypted_on_hypervisor"] + [n["host"] for n in srv["nas"] if n["ransom_files"]]
    if hit:
        findings.incident["kind"] = "ransomware"
        findings.incident["detected"] = True
        more = f"files encrypted on {', '.join(hit)} (hypervisor/NAS)"
        base = (findings.incident.get("summary") or "") if had_infected else ""
        parts = (i18n.msg_of(base) or {}).get("msgs") or []
        findings.incident["summary"] = i18n.said_all(
            (base.rstrip(".") + "; " if base else "") + more + ".",
            *parts, i18n.msg("incident.hypervisor", hosts=hit), join="clauses")
    if findings.accounts.get("domain_compromised") and not findings.incident.get("detected"):
        # a DCSync or a new domain admin is an intrusion found, even with no host to blame
        findings.incident["detected"] = True
        findings.incident["kind"] = findings.incident.get("kind") or "intrusion"
        base = findings.incident.get("summary") or ""  # keeps its id: not str() here
        findings.incident["summary"] = i18n.said_all(
            f"{base} The domain is compromised: see the accounts to reset.".lstrip(),
            i18n.msg_of(base), i18n.msg("incident.domain_compromised"))
    if ent.entry:
        e = ent.entry
        findings.incident["entry"] = i18n.said(
            f"{e['via']} sign-in of {e['user']} from {e['source_ip']} "
            f"({e['country'] or 'country unknown'}) at {e['time']}",
            "incident.entry", via=i18n.msg(f"via.{e['via']}"), user=e["user"],
            ip=e["source_ip"], country=e["country"] or i18n.msg("country_unknown"),
            time=e["time"])  # fmt: skip


def _unattributed(imp: impact.Impact, ident: identity.Identity) -> str:
    """Impact is plain but no host is attributed: say so, name the leads and what settles it."""
    text = (
        f"Ransomware impact is plain ({len(imp.encrypted)} encrypted files, "
        f"{len(imp.notes)} ransom notes) but no host could be attributed from the evidence."
    )
    ids = [i18n.msg("incident.unattributed", files=len(imp.encrypted), notes=len(imp.notes))]
    when = imp.window[0] if imp.window else None
    leads = []
    for owner, n in sorted(imp.owners.items(), key=lambda kv: -kv[1])[:3]:
        user = owner.split("\\")[-1].lower()
        if user in ("administrators", "system", "trustedinstaller"):
            continue
        hosts = ident.hosts_of_user(user, when)
        used = f", who used {', '.join(hosts[:5])} at the time" if hosts else ""
        leads.append(f"{owner} owns {n} of the files{used}")
        ids.append(i18n.msg("incident.lead.used" if hosts else "incident.lead",
                            owner=owner, n=n, hosts=hosts[:5]))  # fmt: skip
    if leads:
        text += " Leads: " + "; ".join(leads) + "."
    ids.append(i18n.msg("incident.unattributed.settle"))
    return i18n.said_all(text + (
        " To settle it: the file server's Security log with share auditing (5140/5145, client"
        " addresses), DHCP leases for the window, and the suspected clients' own logs."
    ), *ids)
