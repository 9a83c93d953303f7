"""``ashiato investigate``: run the analyses in order and assemble the findings.

identity → impact → network indicators → per-host signals and verdicts → patient zero →
vectors → coverage, tampering and clock skew → next steps. Writes findings.json and the
encrypted-file list (encrypted_files.csv) into the case folder.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ashiato import engines
from ashiato.analysis import clock_skew, identity, impact, iocs, network
from ashiato.analysis import coverage as coverage_mod
from ashiato.analysis import hosts as hosts_mod
from ashiato.analysis import vector as vector_mod
from ashiato.analysis.context import Context, evidence
from ashiato.case import Case
from ashiato.engines import EVENT_ORDER
from ashiato.exports import iso
from ashiato.findings import FILE, Findings, HostFinding, PatientZero
from ashiato.normalize import host_key

FINDINGS = FILE
RESTORE_LIST = "encrypted_files.csv"


def investigate(
    case: Case | str, engine: str | None = None, *, master: str | None = None
) -> Findings:
    """``engine``: duckdb or spark (default: ASHIATO_ENGINE, else duckdb); see engines/."""
    eng = engines.connect(case, engine, master=master)
    con, case = eng.backend, eng.case
    # hunt results repeat the evidence refs of the events they matched; the analyses
    # read the events themselves, so counts per host or file are not doubled
    events = eng.events.filter(eng.events["event.dataset"] != "ashiato.detection")
    # line every source up on one clock before anything compares times across sources
    skews = clock_skew.estimate(Context(events=events, tz=case.tz))
    ctx = Context(events=clock_skew.apply(events, skews), tz=case.tz)
    ident = identity.build(ctx)
    imp = impact.analyse(ctx)
    net = network.analyse(ctx)
    by_evidence = _hosts_by_evidence(con, ctx, ident)
    views = hosts_mod.collect(ctx, ident, imp, net, by_evidence)
    cands = hosts_mod.rank(views)
    hosts_mod.first_writer_bonus(cands)

    infected = [v for v in views.values() if v.verdict() == "infected"]
    pz = _patient_zero(cands, views, ident, imp)
    host_findings = [_host_finding(v, ident) for v in sorted(views.values(), key=_order)]
    infected_times = [(v.host, v.first(hosts_mod.STRONG | hosts_mod.MEDIUM)) for v in infected]
    vectors = vector_mod.vectors(ctx, ident, [(h, t) for h, t in infected_times if t])
    window = imp.window
    cov, missing, tampering, skews, steps = coverage_mod.coverage(
        ctx, ident, window, [v.host for v in infected], skews
    )
    kind = None
    if imp.notes or imp.encrypted or any("ransom" in k for v in infected for k in v.kinds()):
        kind = "ransomware"
    elif net.spam:
        kind = "spam"
    elif infected:
        kind = "malware"
    restore = case.root / RESTORE_LIST
    impact.write_restore_list(imp, restore)
    cov["missing"] = [vars(m) for m in missing]
    findings = Findings(
        incident={
            "detected": bool(infected),
            "kind": kind,
            "summary": _headline(pz, infected, imp, net),
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
            "users": imp.owners,
            "window": {"start": iso(window[0]), "end": iso(window[1])} if window else None,
            "c2": net.c2,
            "payment_sites": net.payment_sites,
            "ip_lookups": net.ip_lookups,
            "spam": _spam(net.spam, ident),
            "other_infected_hosts": sorted(v.host for v in infected if not pz or v.host != pz.host),
            "evidence": imp.evidence + net.evidence,
        },
        coverage=cov,
        tampering=tampering,
        clock_skew=skews,
        next_steps=steps,
        notes=_notes(ctx),
        generated=iso(datetime.now(UTC)),
        iocs=iocs.extract(ctx),
    )
    (case.root / FINDINGS).write_text(
        json.dumps(findings.to_dict(), ensure_ascii=False, indent=2, default=str), "utf-8"
    )
    eng.publish([FINDINGS, RESTORE_LIST])  # a case at a URL gets them back
    return findings


def _order(v: hosts_mod.HostView) -> tuple[int, str]:
    rank = {"infected": 0, "suspicious": 1, "clean": 2, "unknown": 3}
    return rank[v.verdict()], v.host


def _patient_zero(
    cands: list[dict[str, Any]],
    views: dict[str, hosts_mod.HostView],
    ident: identity.Identity,
    imp: impact.Impact,
) -> PatientZero | None:
    infected = [c for c in cands if views[c["host"]].verdict() == "infected"]
    if not infected:
        return None
    fs = [c for c in infected if set(c["signals"]) & set(hosts_mod.FILE_SERVER_KINDS)]
    if fs:
        best = fs[0]
    else:
        best = min(infected, key=lambda c: hosts_mod._epoch(c["first_malicious"]))
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
        user=user or ident.at(ip, when).user or ident.main_user(v.host),
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
        first_malicious=iso(v.first(hosts_mod.STRONG | hosts_mod.MEDIUM)),
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
    order = sorted(by_kind, key=lambda k: (k not in hosts_mod.STRONG, k not in hosts_mod.MEDIUM, k))
    out = []
    for kind in order:
        sigs = by_kind[kind]
        more = f" (×{len(sigs)})" if len(sigs) > 1 else ""
        out.append(f"{kind}: {sigs[0].detail}{more}")
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


def _headline(
    pz: PatientZero | None, infected: list[Any], imp: impact.Impact, net: network.NetworkFindings
) -> str:
    if not infected:
        return "No host shows signs of infection in the evidence provided."
    parts = [f"{len(infected)} infected host(s)"]
    if pz:
        parts.append(
            f"patient zero {pz.host} ({pz.ip or 'IP unknown'}, {pz.user or 'user unknown'})"
        )
    if imp.encrypted or imp.notes:
        parts.append(f"{len(imp.encrypted)} encrypted files, {len(imp.notes)} ransom notes")
    if net.spam:
        parts.append(f"spam from {net.spam['ip']}")
    return "; ".join(parts) + "."
