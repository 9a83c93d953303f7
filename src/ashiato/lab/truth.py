"""truth.json: what really happened, counted from what was written.

Times are ISO 8601 UTC with ``Z``; hosts are lower-case short names. Every count here is
taken from the facts the activities recorded while emitting evidence, so a test can recount
them in the files (notes and encrypted names in the listing, the patient zero's address in
the DHCP log at ``first_encryption``).

The operator-driven scenarios (``hands-on-keyboard``, ``vpn-intrusion``) add ``variant`` and
an ``intrusion`` section: ``entry`` (kind rdp|vpn, source_ip, country, account, host, time;
tunnel_ip and spray_ips for the VPN), ``compromised_hosts`` in order of first malicious
activity (the first is ``patient_zero``), ``accounts`` (roles: entry, credential_dumped,
lateral, created, creator; with the evidence), ``lateral`` edges (source, target, account,
technique, first, last), ``techniques`` (ATT&CK id, name, hosts, first), ``logs_cleared``,
and for the VPN storyline ``new_accounts``, ``backups_deleted``, ``exfiltration`` (host,
tool, binary, destination, hostnames, ips, bytes) and ``encrypted_datastores``.
``vector.type`` is ``remote_access`` with ``via`` rdp|vpn.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ashiato.lab.clock import day_of, iso_utc
from ashiato.lab.context import Ctx
from ashiato.lab.dhcp import DayPlan
from ashiato.lab.share import ROOT
from ashiato.lab.sink import Sink
from ashiato.lab.sources import SOURCES
from ashiato.lab.story import Story
from ashiato.lab.streams import FIREWALLS
from ashiato.lab.world import Host
from ashiato.lab.writers.winevt import SYSMON_CHANNEL

SCHEMA = "ashiato.lab.truth/1"
SNAPSHOT_FORMATS = {
    "fileserver-listing": ("fileserver-listing", "fs01", "ps-listing-csv", "cp932",
                           "Asia/Tokyo", False),
    "endpoint-mft": ("endpoint", None, "mftecmd-csv", "utf-8", "UTC", True),
    "hypervisor-listing": ("hypervisor", "esxi01", "esxi-ls-lR", "utf-8", "UTC", False),
    # sparse EventRecordIDs throughout: a filtered export, never "records deleted"
    "dc-filtered-export": ("dc", "dc01", "evtx-jsonl-filtered", "utf-8", "UTC", True),
}


def _iso(ts: int | None) -> str | None:
    return None if ts is None else iso_utc(ts)


def _ip_at(kept: dict[int, DayPlan], host: Host, ts: int | None) -> str | None:
    if ts is None:
        return None
    plan = kept.get(day_of(ts))
    return plan.ip_of(host, ts) if plan else None


def _sources(sink: Sink, files: dict[str, list[str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    index: dict[tuple[str, str, str], dict[str, Any]] = {}
    for spec in sink.specs.values():
        paths = sorted(sink.coverage) if spec.path_for else [spec.path]
        ident = (spec.source, spec.device, spec.fmt)
        entry = index.get(ident)
        if entry is None:
            entry = index[ident] = {
                "source": spec.source, "device": spec.device, "files": [], "format": spec.fmt,
                "encoding": spec.encoding + ("-sig" if spec.bom else ""),
                "time_zone": spec.time_zone, "zone_in_record": spec.zone_in_record,
                "clock_skew_seconds": spec.skew_ms // 1000}
            out.append(entry)
        entry["files"] += paths
        if spec.path_for:  # one file per weekday, overwritten weekly: say what each still holds
            entry["coverage"] = {p: {"start": iso_utc(a), "end": iso_utc(b)}
                                 for p, (a, b) in sorted(sink.coverage.items())}
        if spec.newest_first:
            entry["order"] = "newest_first"
    for kind, paths in files.items():
        source, device, fmt, enc, tz, zoned = SNAPSHOT_FORMATS[kind]
        for p in paths:
            out.append({"source": source, "device": device or p.split("/")[2], "files": [p],
                        "format": fmt, "encoding": enc, "time_zone": tz, "zone_in_record": zoned,
                        "clock_skew_seconds": 0})
    return out


def _impact(story: Story, pz: Host | None) -> dict[str, Any]:
    f = story.facts
    enc, notes = f.encrypted, f.notes
    by_loc: list[dict[str, Any]] = []
    places = sorted({(e.location, e.host) for e in enc} | {(n[0], n[1]) for n in notes})
    for loc, host in places:
        by_loc.append({
            "location": loc, "host": host,
            "encrypted_files": sum(1 for e in enc if (e.location, e.host) == (loc, host)),
            "ransom_notes": sum(1 for n in notes if (n[0], n[1]) == (loc, host))})
    times = [e.ts for e in enc] + [n[3] for n in notes]
    users = sorted({e.orig_owner.split("\\")[-1] for e in enc if e.orig_owner.startswith("CORP\\")})
    spam = None
    if story.kind == "spam" and pz is not None:
        spam = {"host": pz.short, "connections": f.spam_connections,
                "recipients_domains": sorted(f.spam_domains)}
    return {
        "encrypted_files": len(enc), "encrypted_file_list": "encrypted_files.csv",
        "ransom_notes": len(notes), "note_names": story.details.get("note_names", []),
        "by_location": by_loc, "family": story.details.get("family"),
        "rename": story.details.get("rename"), "extension": story.details.get("extension"),
        "shares": ["share"] if any(e.location == "share" for e in enc) else [],
        "users": users,
        "window": {"start": _iso(min(times)), "end": _iso(max(times))} if times else None,
        "c2": list(f.c2), "ip_check": story.details.get("ip_check"),
        "payment_sites": list(f.payment), "spam": spam,
    }


def _tampering(story: Story, sink: Sink) -> list[dict[str, Any]]:
    pz = story.pz
    if pz is None or story.clear_at is None:
        return []

    def lost(key: str) -> list[int] | None:
        st = sink.states.get(key)
        return [st.lost_records[0], st.lost_records[-1]] if st and st.lost_records else None

    out = [{"host": pz.short, "time": iso_utc(story.clear_at), "kind": "log_cleared",
            "evidence": "1102", "channel": "Security",
            "records_lost": lost(f"ep:{pz.short}:security")}]
    if story.sysmon_lost:
        out.append({"host": pz.short, "time": iso_utc(story.sysmon_lost[0]),
                    "kind": "records_deleted", "evidence": "record_gap",
                    "channel": SYSMON_CHANNEL, "records_lost": lost(f"ep:{pz.short}:sysmon")})
    out.append({"host": pz.short, "time": iso_utc(story.clear_at), "kind": "logging_stopped",
                "evidence": "silence", "channel": f"Security, {SYSMON_CHANNEL}",
                "records_lost": None})
    return out


def _answerable(story: Story, present: set[str], audit: bool) -> dict[str, Any]:
    """Whether the collected sources can answer each question, with a reason when not."""
    def verdict(ok: bool, why: str) -> bool | dict[str, Any]:
        return True if ok else {"answerable": False, "reason": why}

    ipmap = bool(present & {"dhcp", "dc"})
    ep = "endpoint" in present
    net = bool(present & {"proxy", "ids", "firewall"})
    if story.pz is None:
        return {"patient_zero": True, "vector": True, "impact": True,
                "ip_host_mapping": verdict(ipmap, "no DHCP and no DC logons")}
    if story.kind == "spam":
        pz_ok = ep or (bool(present & {"firewall", "ids"}) and ipmap)
        return {"patient_zero": verdict(pz_ok, "needs firewall/IDS with DHCP or DC, or the PC"),
                "vector": verdict(False, "the infection predates the collected logs"),
                "impact": verdict(bool(present & {"firewall", "ids"}) or ep,
                                  "no firewall, IDS or endpoint logs"),
                "ip_host_mapping": verdict(ipmap, "no DHCP and no DC logons")}
    share = story.scenario in ("fileserver-encryption", "log-tampering")
    fs = "fileserver-audit" in present
    listing = "fileserver-listing" in present
    # Any infected-host evidence names the PC: its own logs, the AV console, or C2/SMB traffic
    # from an address DHCP or the DC can resolve. The share adds owner- and audit-based routes.
    pz_ok = ep or "av" in present or (net and ipmap)
    if share:
        pz_ok = pz_ok or (fs and (audit or listing)) or (listing and "dc" in present)
        impact_ok = listing or (fs and audit)
    else:
        impact_ok = ep
    if story.vector == "email_attachment":
        vec_ok = "mail" in present or ep
    else:
        vec_ok = bool(present & {"proxy", "ids", "firewall"}) or ep
    out: dict[str, Any] = {
        "patient_zero": verdict(pz_ok, "no source ties the encryption to a client"),
        "vector": verdict(vec_ok, "neither the delivery nor the PC's own logs were collected"),
        "impact": verdict(impact_ok, "no listing or file audit of the encrypted data"),
        "ip_host_mapping": verdict(ipmap, "no DHCP and no DC logons"),
    }
    if story.clear_at is not None:
        out["tampering"] = verdict(ep, "the patient zero's logs were not collected")
    return out


def build(ctx: Ctx, kept: dict[int, DayPlan], sink: Sink, files: dict[str, list[str]], *,
          scale: int, missing: list[str], audit: bool) -> dict[str, Any]:
    story, f = ctx.story, ctx.story.facts
    pz = story.pz
    first_enc = min((e.ts for e in f.encrypted), default=None)
    person: dict[str, Any] | None = None
    if pz is not None:
        anchor = first_enc if first_enc is not None else f.first_malicious
        person = {"host": pz.short, "ip": _ip_at(kept, pz, anchor), "user": pz.user.sam,
                  "first_malicious": _iso(f.first_malicious), "first_encryption": _iso(first_enc)}
    present = set(SOURCES) - set(missing)
    doc = {
        "schema": SCHEMA, "scenario": story.scenario, "variant": story.variant,
        "seed": ctx.seed, "scale": scale,
        "missing": missing, "audit": audit, "timezone": "Asia/Tokyo", "days": ctx.world.days,
        "sources": _sources(sink, files),
        "incident": {"detected": story.kind is not None, "kind": story.kind},
        "patient_zero": person,
        "infected_hosts": [person] if person else [],
        "vector": None if pz is None else {
            "host": pz.short, "type": story.vector, "first_event_time": _iso(f.vector_time),
            "artifacts": list(f.artifacts)},
        "impact": _impact(story, pz),
        "tampering": _tampering(story, sink),
        "clock_skews": [{"source": "firewall", "device": fw.name, "offset_seconds": fw.skew_s}
                        for fw in FIREWALLS.values() if fw.skew_s],
        "garbled_lines": [{"file": s.spec.path, "line": n}
                          for s in sink.states.values() for n in s.garbled],
        "decoys": {
            "backup_server": "bkup01",
            "renamer": {"host": story.decoys.renamer.short, "user": story.decoys.renamer.user.sam,
                        "renamed": f.renamed, "style": story.details.get("renamer_style")},
            "adware_host": story.decoys.adware.short,
            "readme": f"{ROOT}\\開発\\ツール\\readme.txt",
        },
        "timeline": {k: _iso(v) for k, v in (
            ("isolated_at", story.details.get("isolated_at")),
            ("share_offline_at", story.share_offline_at), ("log_cleared_at", story.clear_at),
            ("blacklisted_at", story.details.get("blacklisted_at"))) if v is not None},
        "collected_endpoints": [h.short for h in story.collected],
        "dhcp_checks": _dhcp_checks(story, kept),
        "answerable": _answerable(story, present, audit),
    }
    intr = story.details.get("intrusion")
    if intr is not None:
        doc.update(_intrusion(story, intr.truth(), sink, first_enc, present))
    return doc


def _intrusion(story: Story, it: dict[str, Any], sink: Sink, first_enc: int | None,
               present: set[str]) -> dict[str, Any]:
    """An operator's storyline: the first compromised server is the patient zero."""
    hosts = it["compromised_hosts"]
    first = hosts[0]
    entry = it["entry"]
    pz = {"host": first["host"], "ip": it["host_ips"][first["host"]],
          "user": entry["account"].split("\\")[-1], "first_malicious": first["first_malicious"],
          "first_encryption": _iso(first_enc)}
    tampering = []
    for c in it["logs_cleared"]:
        st = sink.states.get(c.pop("key"))
        tampering.append({"host": c["host"], "time": c["time"], "kind": "log_cleared",
                          "evidence": c["evidence"], "channel": c["channel"],
                          "records_lost": [st.lost_records[0], st.lost_records[-1]]
                          if st and st.lost_records else None})
    ep = "endpoint" in present
    net = "firewall" in present
    return {
        "incident": {"detected": True, "kind": "ransomware", "intrusion": True},
        "patient_zero": pz,
        "infected_hosts": [{"host": h["host"], "ip": it["host_ips"][h["host"]],
                            "first_malicious": h["first_malicious"]} for h in hosts],
        "vector": {"host": first["host"], "type": story.vector, "via": entry["kind"],
                   "first_event_time": entry["time"], "source_ip": entry["source_ip"],
                   "country": entry["country"], "account": entry["account"],
                   "artifacts": []},
        "tampering": tampering,
        "intrusion": it,
        "answerable": {
            "patient_zero": True if ep or net else {
                "answerable": False, "reason": "neither the servers' logs nor the firewall"},
            "vector": True if ep or net else {
                "answerable": False, "reason": "no remote-access or server logon records"},
            "impact": True if "fileserver-listing" in present else {
                "answerable": False, "reason": "no listing of the encrypted share"},
            "ip_host_mapping": True,
        },
    }


def _dhcp_checks(story: Story, kept: dict[int, DayPlan]) -> list[dict[str, Any]]:
    """Address -> host facts a correct identity analysis must reproduce (IPs are reused)."""
    checks: list[dict[str, Any]] = []
    pz = story.pz
    for day in sorted(kept):
        plan = kept[day]
        for lease in plan.leases[:: max(1, len(plan.leases) // 4)]:
            mid = (lease.start + lease.end) // 2
            checks.append({"ip": lease.ip, "time": iso_utc(mid), "host": lease.host.short})
        if pz is not None:
            for lease in plan.by_host.get(pz.short, ()):
                mid = (lease.start + lease.end) // 2
                checks.append({"ip": lease.ip, "time": iso_utc(mid), "host": pz.short})
                for other in kept.values():  # who else held that address on the kept days
                    for o in other.leases:
                        if o.ip == lease.ip and o.host is not pz:
                            t = (o.start + o.end) // 2
                            checks.append({"ip": o.ip, "time": iso_utc(t), "host": o.host.short})
    seen: set[tuple[str, str]] = set()
    unique = []
    for c in checks:
        if (c["ip"], c["time"]) not in seen:
            seen.add((c["ip"], c["time"]))
            unique.append(c)
    return sorted(unique, key=lambda c: (c["time"], c["ip"]))


def write_encrypted_list(path: Path, story: Story) -> None:
    """encrypted_files.csv beside truth.json: one row per encrypted file."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["location", "host", "original_path", "new_path", "time_utc", "owner",
                    "original_owner"])
        for e in sorted(story.facts.encrypted, key=lambda e: (e.ts, e.new)):
            orig = e.original if e.location != "share" else f"{ROOT}\\{e.original}"
            new = e.new if e.location != "share" else f"{ROOT}\\{e.new}"
            w.writerow([e.location, e.host, orig, new, iso_utc(e.ts), e.owner, e.orig_owner])
