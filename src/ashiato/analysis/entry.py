"""The way in: sign-in patterns and the entry account, from VPN and Windows sign-ins.

Plain rules over the few authentication rows (:mod:`remote_access` reads the sessions):
failures then a success for one account (brute force) or from one source across many
accounts (password spraying), on the VPN or against an exposed Windows server (4625 /
Kerberos 4771 from public addresses); sign-ins from abroad (offline country table,
``iptocc``); a new source for an account; sign-ins outside office hours in the case's time
zone; one account in two countries at once; remote desktop logons straight from the
internet. The entry is the sign-in with the most kinds of sign behind it. Hosting-provider
(ASN) lookups need a routing table that no well-kept PyPI package ships offline, so they
are not made.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from ashiato.analysis import fetch
from ashiato.analysis.context import Context, extra_of, summary
from ashiato.analysis.remote_access import (
    Pool,
    VpnSession,
    country_name,
    rdp_logons,
    reached,
    ref_of,
    row_country,
    select_rows,
    sessions,
    user_of,
    vpn_rows,
)
from ashiato.analysis.vector_web import country
from ashiato.engines import json_field
from ashiato.exports import iso
from ashiato.findings import Evidence, Missing
from ashiato.i18n import msg, said

BRUTE_FAILURES = 5  # failures for one account before its success
SPRAY_ACCOUNTS = 5  # distinct accounts failed from one source
ATTEMPT_WINDOW = timedelta(hours=24)
OFFICE_HOURS = (7, 20)  # local hours [start, end) on weekdays
LOGIN_TO_TUNNEL = timedelta(minutes=5)  # a success line and its tunnel: the same sign-in
MIN_ENTRY_SCORE = 2  # a night-time sign-in alone is someone working late, not the way in


@dataclass
class Signal:
    kind: str  # brute_force | password_spray | foreign_login | new_source | off_hours |
    # concurrent_countries | exposed_rdp
    user: str | None
    source_ip: str | None
    country: str | None
    time: datetime
    detail: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    got_in: bool = True  # spraying / brute force: whether a success followed

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "user": self.user,
            "source_ip": self.source_ip,
            "country": self.country,
            "time": iso(self.time),
            "detail": self.detail,
            "evidence": [vars(e) for e in _evidence(self.rows)],
        }


def _evidence(rows: list[dict[str, Any]], limit: int = 8) -> list[Evidence]:
    return [Evidence.of(r, summary(r)) for r in rows[:limit]]


@dataclass
class Entry:
    sessions: list[VpnSession]
    signals: list[Signal]
    rdp: list[dict[str, Any]]  # RDP logons with where they came from
    entry: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "signals": [s.to_dict() for s in self.signals[:100]],
            "vpn_sessions": [s.to_dict() for s in self.sessions[:300]],
            "rdp_logons": self.rdp[:200],
            "vpn_logs": bool(self.sessions) or any(s.kind != "exposed_rdp" for s in self.signals),
        }


def analyse(ctx: Context) -> Entry:
    vrows = vpn_rows(ctx)
    sess = sessions(ctx, vrows)
    pool = Pool(sess)
    logins = vpn_logins(vrows)
    home = home_country(ctx.tz, sess)
    sig: list[Signal] = []
    sig += attempts(logins + windows_logins(ctx))
    sig += foreign(logins, home)
    sig += new_sources(logins)
    sig += off_hours(logins, ctx.tz)
    sig += concurrent(sess)
    rdp = rdp_logons(ctx, pool)
    for r in rdp:
        if r["exposed"]:
            sig.append(
                Signal(
                    "exposed_rdp",
                    r["user"],
                    r["source_ip"],
                    r["country"],
                    r["_row"]["@timestamp"],
                    said(f"remote desktop logon to {r['host']} straight from the "
                         f"internet ({r['source_ip']}, {r['country'] or 'country unknown'})",
                         "entry.detail.exposed_rdp", host=r["host"], ip=r["source_ip"],
                         country=r["country"] or msg("country_unknown")),
                    [r["_row"]],
                )
            )
    sig.sort(key=lambda s: s.time)
    out_rdp = [{k: v for k, v in r.items() if k != "_row"} for r in rdp]
    return Entry(sess, sig, out_rdp, _entry(sess, sig, rdp))


def vpn_logins(vrows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The VPN sign-ins, a tunnel coming up counted as the success where the gateway writes
    no success line of its own (FortiGate SSL-VPN logs only failures and ``tunnel-up``)."""
    logins = [r for r in vrows if r.get("event.action") == "vpn-login"]
    wins = [r for r in logins if r.get("event.outcome") == "success"]
    for r in vrows:
        if r.get("event.action") != "vpn-session-start" or not user_of(r):
            continue
        t = r["@timestamp"]
        if any(
            user_of(w) == user_of(r)
            and w.get("source.ip") == r.get("source.ip")
            and abs(w["@timestamp"] - t) <= LOGIN_TO_TUNNEL
            for w in wins
        ):
            continue  # the gateway's own success line says it already
        logins.append({**r, "event.outcome": "success"})
    return logins


def home_country(tz: str, sess: list[VpnSession]) -> str | None:
    """The case's own country: its time zone's (zone.tab), else where most sessions come from."""
    cc = _zone_countries().get(tz)
    if cc:
        return cc
    counts = Counter(s.country for s in sess if s.country)
    return counts.most_common(1)[0][0] if counts else None


@cache
def _zone_countries() -> dict[str, str]:
    text = ""
    try:
        text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        sys_tab = Path("/usr/share/zoneinfo/zone.tab")
        text = sys_tab.read_text("utf-8") if sys_tab.is_file() else ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and not line.startswith("#"):
            out[parts[2]] = parts[0]
    return out


def attempts(logins: list[dict[str, Any]]) -> list[Signal]:
    """Failures then success: many for one account (brute force), or one source failing
    across many accounts (spraying); a success after them is the likely way in."""
    out: list[Signal] = []
    logins = sorted(logins, key=lambda r: r["@timestamp"])
    fails = [r for r in logins if r.get("event.outcome") == "failure"]
    wins = [r for r in logins if r.get("event.outcome") == "success"]
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_src: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in fails:
        if (u := user_of(r)) is not None:
            by_user[u].append(r)
        if r.get("source.ip"):
            by_src[r["source.ip"]].append(r)
    sprayed: set[str] = set()
    for src, rs in by_src.items():
        accounts = {u for r in rs if (u := user_of(r))}
        if len(accounts) < SPRAY_ACCOUNTS:
            continue
        sprayed |= accounts
        n, last = _count(rs)
        after = [
            w
            for w in wins
            # the account that let the spray in has no failure of its own: any success from
            # the spraying address counts
            if w.get("source.ip") == src
            and rs[0]["@timestamp"] <= w["@timestamp"] <= last + ATTEMPT_WINDOW
        ]
        hit = after[0] if after else None
        out.append(
            Signal(
                "password_spray",
                user_of(hit) if hit else None,
                src,
                row_country(hit) if hit else country(src),
                hit["@timestamp"] if hit else rs[0]["@timestamp"],
                said(f"{n} failed sign-ins for {len(accounts)} accounts from {src}"
                     + (f", then {user_of(hit)} signed in" if hit
                        else ", none succeeded from there"),
                     "entry.detail.spray" + (".then" if hit else ".none"), n=n,
                     accounts=len(accounts), source=src,
                     user=user_of(hit) if hit else ""),
                rs[:3] + ([hit] if hit else []),
                got_in=hit is not None,
            )
        )
    for user, rs in by_user.items():
        n, last = _count(rs)
        if n < BRUTE_FAILURES:
            continue
        after = [
            w
            for w in wins
            if user_of(w) == user
            and rs[0]["@timestamp"] <= w["@timestamp"] <= last + ATTEMPT_WINDOW
        ]
        if not after and user in sprayed:
            continue  # one of many sprayed accounts, said above
        hit = after[0] if after else None
        srcs = sorted({r["source.ip"] for r in rs if r.get("source.ip")})
        out.append(
            Signal(
                "brute_force",
                user,
                hit.get("source.ip") if hit else (srcs[0] if srcs else None),
                row_country(hit) if hit else None,
                hit["@timestamp"] if hit else rs[0]["@timestamp"],
                said(f"{n} failed sign-ins for {user} from {len(srcs)} address(es)"
                     + (f", then a success from {hit.get('source.ip')}" if hit else ""),
                     "entry.detail.brute" + (".then" if hit else ""), n=n, user=user,
                     sources=len(srcs), ip=hit.get("source.ip") if hit else ""),
                rs[:3] + ([hit] if hit else []),
                got_in=hit is not None,
            )
        )
    return out


def _count(rs: list[dict[str, Any]]) -> tuple[int, datetime]:
    """How many failures and the last one (Windows failures come aggregated: ``_n``, ``_last``)."""
    n = sum(int(r.get("_n") or 1) for r in rs)
    return n, max(r.get("_last") or r["@timestamp"] for r in rs)


# private, loopback and link-local: Windows sign-ins from these are not from the internet
_INSIDE = (
    r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|127\.|169\.254\.|::1$|f[cde][0-9a-f]{2}:|-$)"
)


def windows_logins(ctx: Context) -> list[dict[str, Any]]:
    """Windows sign-ins from public addresses (exposed RDP/SMB), in the shape of VPN logins:
    failures (4625, Kerberos 4771) counted per source and account in the engine, successes
    (4624 network or remote desktop) as rows."""
    t = ctx.events
    sec = t["event.dataset"] == "windows.security"
    # one equality per code, which the Parquet scan takes: `extra` is read for those rows
    fails = fetch.any_of(t.filter(sec), "event.code", ["4625", "4771"])
    fails = fails.mutate(_ip=_client_ip(fails), _user=_client_user(fails))
    fails = fails.filter(_outside(fails["_ip"]))
    agg = fails.group_by(["_ip", "_user"]).aggregate(
        _n=fails.count(),
        first=fails["@timestamp"].min(),
        _last=fails["@timestamp"].max(),
        ev=fails["evidence_id"].min(),
        rec=fails["record"].min(),
        host=fails["host.name"].min(),
    )
    out: list[dict[str, Any]] = []
    for r in ctx.rows(agg.order_by(["first", "_ip", "_user"]), limit=20000):
        out.append(
            {
                "@timestamp": r["first"],
                "_last": r["_last"],
                "_n": int(r["_n"]),
                "event.outcome": "failure",
                "user.name": r["_user"],
                "source.ip": r["_ip"],
                "event.dataset": "windows.security",
                "event.code": "4625",
                "host.name": r["host"],
                "evidence_id": r["ev"],
                "record": r["rec"],
            }
        )
    ok = t.filter(
        sec & (t["event.code"] == "4624") & t["winlog.logon.type"].isin([3, 10])
        & _outside(_client_ip(t))
    )  # fmt: skip
    for r in select_rows(ctx, ok, limit=5000):
        out.append({**r, "event.outcome": "success"})
    return out


def _client_ip(t: Any) -> Any:
    """The address a logon came from; a Kerberos event (4771) names it in its data only."""
    said = json_field(t["extra"], "winlog", "event_data", "IpAddress")
    return ibis.coalesce(t["source.ip"], said.re_replace(r"^::ffff:", ""))


def _client_user(t: Any) -> Any:
    return ibis.coalesce(t["user.name"], json_field(t["extra"], "winlog", "event_data",
                                                    "TargetUserName"))  # fmt: skip


def _outside(ip: Any) -> Any:
    return ip.notnull() & ~ibis.coalesce(ip.re_search(_INSIDE), False)


def foreign(logins: list[dict[str, Any]], home: str | None) -> list[Signal]:
    """Successful sign-ins from another country than the case's (first per user and country)."""
    if not home:
        return []
    seen: set[tuple[str | None, str]] = set()
    out: list[Signal] = []
    for r in logins:
        cc = row_country(r)
        if r.get("event.outcome") != "success" or not cc or cc == home:
            continue
        key = (user_of(r), cc)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Signal(
                "foreign_login",
                user_of(r),
                r.get("source.ip"),
                cc,
                r["@timestamp"],
                said(f"{user_of(r)} signed in from {r.get('source.ip')} in {cc} "
                     f"(the case's country is {home})", "entry.detail.foreign",
                     user=user_of(r), ip=r.get("source.ip"), country=cc, home=home),
                [r],
            )
        )
    return out


def new_sources(logins: list[dict[str, Any]]) -> list[Signal]:
    """A success from a country (or, at home, a /16) the account never used before in the logs."""
    known: dict[str, set[str]] = defaultdict(set)
    out: list[Signal] = []
    for r in logins:
        user, ip = user_of(r), r.get("source.ip")
        if r.get("event.outcome") != "success" or not user or not ip:
            continue
        where = row_country(r) or "?"
        net = ".".join(ip.split(".")[:2]) if "." in ip else ip.rsplit(":", 4)[0]
        key = f"{where}/{net}"
        if known[user] and key not in known[user]:
            out.append(
                Signal(
                    "new_source",
                    user,
                    ip,
                    row_country(r),
                    r["@timestamp"],
                    said(f"{user} signed in from {ip} ({where}), a source not seen for "
                         f"this account before in the logs", "entry.detail.new_source",
                         user=user, ip=ip, where=where),
                    [r],
                )
            )
        known[user].add(key)
    return out + new_devices(logins)


DEVICE_KEYS = ("client.machine_name", "machine_name", "client.hostname", "device_name")


def new_devices(logins: list[dict[str, Any]]) -> list[Signal]:
    """A success from a client machine the account never used before (GlobalProtect and
    others log the client's name; sources that don't are silently skipped)."""
    known: dict[str, set[str]] = defaultdict(set)
    out: list[Signal] = []
    for r in logins:
        user, device = user_of(r), _device(r)
        if r.get("event.outcome") != "success" or not user or not device:
            continue
        if known[user] and device not in known[user]:
            ip = r.get("source.ip")
            out.append(
                Signal(
                    "new_device",
                    user,
                    ip,
                    country(ip),
                    r["@timestamp"],
                    said(f"{user} signed in from the machine {device!r}, not seen for "
                         "this account before in the logs", "entry.detail.new_device",
                         user=user, device=repr(device)),
                    [r],
                )
            )
        known[user].add(device)
    return out


def _device(r: dict[str, Any]) -> str | None:
    extra = extra_of(r)
    for key in DEVICE_KEYS:
        v = extra.get(key)
        if isinstance(v, str) and v.strip():
            return v.strip().lower()
    return None


def off_hours(logins: list[dict[str, Any]], tz: str) -> list[Signal]:
    """Successful sign-ins at night or at the weekend in the case's time zone."""
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        return []
    out: list[Signal] = []
    seen: set[tuple[str | None, str | None]] = set()
    for r in logins:
        if r.get("event.outcome") != "success":
            continue
        local = r["@timestamp"].astimezone(zone)
        if local.weekday() < 5 and OFFICE_HOURS[0] <= local.hour < OFFICE_HOURS[1]:
            continue
        if (user_of(r), r.get("source.ip")) in seen:
            continue  # the first one per account and source says it
        seen.add((user_of(r), r.get("source.ip")))
        out.append(
            Signal(
                "off_hours",
                user_of(r),
                r.get("source.ip"),
                row_country(r),
                r["@timestamp"],
                said(f"{user_of(r)} signed in at {local:%a %H:%M} {tz}",
                     "entry.detail.off_hours", user=user_of(r), time=iso(r["@timestamp"])),
                [r],
            )
        )
    return out


def concurrent(sess: list[VpnSession]) -> list[Signal]:
    """One account with overlapping sessions from two countries: one of them is not the user."""
    out: list[Signal] = []
    by_user: dict[str, list[VpnSession]] = defaultdict(list)
    for s in sess:
        if s.user and s.country:
            by_user[s.user].append(s)
    for user, ss in by_user.items():
        for i, a in enumerate(ss):
            b = next(
                (
                    b
                    for b in ss[i + 1 :]
                    if b.country != a.country and b.start <= a.until() and a.start <= b.until()
                ),
                None,
            )
            if b is not None:
                out.append(
                    Signal(
                        "concurrent_countries",
                        user,
                        b.public_ip,
                        b.country,
                        b.start,
                        said(f"{user} had sessions from {a.country} ({a.public_ip}) and "
                             f"{b.country} ({b.public_ip}) at the same time",
                             "entry.detail.concurrent", user=user, a=a.country,
                             a_ip=a.public_ip, b=b.country, b_ip=b.public_ip),
                        a.rows[:1] + b.rows[:1],
                    )
                )
                break
    return out


_WEIGHT = {
    "password_spray": 3,
    "brute_force": 3,
    "concurrent_countries": 2,
    "foreign_login": 2,
    "exposed_rdp": 2,
    "new_source": 1,
    "new_device": 1,
    "off_hours": 1,
}


def _entry(
    sess: list[VpnSession], sig: list[Signal], rdp: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The most likely way in: the earliest successful sign-in with the most weight behind it
    (spraying/brute force ending in a success, abroad, two countries, exposed RDP)."""
    kinds_of: dict[tuple[str | None, str | None], set[str]] = defaultdict(set)
    first: dict[tuple[str | None, str | None], Signal] = {}
    for s in sig:
        if not s.got_in:
            continue  # nobody got in that way
        key = (s.user, s.source_ip)
        kinds_of[key].add(s.kind)
        if key not in first or s.time < first[key].time:
            first[key] = s
    # each kind of sign once: fifty night-time sign-ins are not fifty reasons
    score = {k: sum(_WEIGHT[x] for x in kinds) for k, kinds in kinds_of.items()}
    if not score or max(score.values()) < MIN_ENTRY_SCORE:
        return None
    best = max(score, key=lambda k: (score[k], -first[k].time.timestamp()))
    s0 = first[best]
    user, ip = best
    kinds = sorted({s.kind for s in sig if (s.user, s.source_ip) == best})
    mine = [r for s in sig if (s.user, s.source_ip) == best for r in s.rows]
    via = _via(mine)
    sess_hit = next((s for s in sess if s.user == user and s.public_ip == ip), None)
    later = [
        r
        for r in rdp
        if sess_hit and r["vpn"] and r["vpn"]["user"] == user and r["vpn"]["public_ip"] == ip
    ]
    res = sess_hit.resources if sess_hit else []
    rows = [r for s in sig if (s.user, s.source_ip) == best for r in s.rows]
    rows += sess_hit.rows[:2] if sess_hit else []
    rows += [r["_row"] for r in later[:5]]
    uniq = list({ref_of(r): r for r in sorted(rows, key=lambda r: r["@timestamp"])}.values())
    return {
        "user": user,
        "source_ip": ip,
        "country": s0.country or country(ip),
        "country_name": country_name(s0.country or country(ip)),
        "time": iso(min(s.time for s in sig if (s.user, s.source_ip) == best)),
        "via": via,
        "observer": sess_hit.observer if sess_hit else None,
        "tunnel_ip": sess_hit.tunnel_ip if sess_hit else None,
        "signals": kinds,
        "score": score[best],
        "rdp_to": sorted({r["host"] for r in later if r["host"]} | set(res)),
        "evidence": [vars(e) for e in _evidence(uniq, limit=12)],
    }


def _via(rows: list[dict[str, Any]]) -> str:
    """How the entry's sign-in came: the VPN, remote desktop, or another Windows logon."""
    if any(r.get("observer.type") == "vpn" for r in rows):
        return "vpn"
    if any(r.get("winlog.logon.type") == 10 or r.get("event.code") in ("1149", "21") for r in rows):
        return "rdp"
    return "logon"


def next_steps(ctx: Context, ent: Entry) -> list[str]:
    """What the entry findings ask for: stop the account and the source, then collect the
    endpoint logs of whatever the remote session reached."""
    steps: list[str] = []
    e = ent.entry
    if e:
        place = e.get("country_name") or e["country"] or "country unknown"
        where = f"{e['source_ip']} ({place})"
        what = {"vpn": "VPN", "rdp": "remote desktop"}.get(e["via"], "Windows")
        steps.append(said(
            f"The way in: {what} sign-in of {e['user']} from {where} at {e['time']} "
            f"({', '.join(e['signals'])}). Disable {e['user']} and end its sessions now, block "
            f"{e['source_ip']} at the perimeter, require MFA for remote access and check the "
            f"{e['observer'] or 'VPN device'} for the vendor's current vulnerability advisories.",
            "steps.entry" + (".observer" if e["observer"] else ""),
            via=msg(f"via.{e['via']}"), user=e["user"], ip=e["source_ip"],
            country=e["country"] or msg("country_unknown"), time=e["time"],
            signals=e["signals"], observer=e["observer"] or "",
        ))  # fmt: skip
    for_sess = [s for s in ent.sessions if e and s.user == e["user"]] or ent.sessions
    hosts = sorted({r["host"] for r in ent.rdp if r["vpn"] and r["host"]})
    if ent.sessions:
        ips = reached(ctx, for_sess)
        have_endpoint = _endpoint_logs(ctx)
        if not have_endpoint or not hosts:
            tunnels = sorted({s.tunnel_ip for s in for_sess if s.tunnel_ip})[:10]
            targets = ", ".join(hosts + ips) or "the servers the VPN address pool can reach"
            steps.append(said(
                "Collect endpoint evidence for what the remote session reached "
                f"(from tunnel address(es) {', '.join(tunnels) or 'unknown'}): {targets}. "
                "From each: Security.evtx (4624/4625 logons, 4688, 4720/4728/4732), "
                "Microsoft-Windows-TerminalServices-*.evtx (21, 1149), System.evtx (7045), "
                "Sysmon if installed, and the domain controllers' Security logs.",
                "steps.entry_collect",
                tunnels=tunnels or msg("unknown"),
                targets=(hosts + ips) or msg("steps.entry_collect.pool"),
            ))  # fmt: skip
    exposed = sorted({f"{r['host']} from {r['source_ip']}" for r in ent.rdp if r["exposed"]})
    if exposed:
        pairs = sorted({(r["host"], r["source_ip"]) for r in ent.rdp if r["exposed"]})
        steps.append(said(
            "Remote desktop is reachable from the internet ("
            + ", ".join(exposed[:5])
            + "): close TCP 3389 at the perimeter or put it behind the VPN with MFA.",
            "steps.exposed_rdp",
            places=[msg("steps.exposed_rdp.place", host=h, ip=ip) for h, ip in pairs[:5]],
        ))  # fmt: skip
    return steps


def _endpoint_logs(ctx: Context) -> bool:
    t = ctx.events
    q = t.filter(t["event.dataset"] == "windows.security").limit(1)
    return bool(ctx.rows(q.select("event.dataset")))


VPN_ADVICE = (
    "Export the remote-access device's log for at least 30 days before the incident: "
    "FortiGate Log & Report > Events > VPN (or the syslog/FortiAnalyzer copy), Palo Alto "
    "Monitor > Logs > GlobalProtect, Cisco ASA syslog (113039, 722022/722023, 722051, "
    "113019), Ivanti/Pulse System > Log/Monitoring > User Access, SonicWall Log > SSL VPN, "
    "RD Gateway Microsoft-Windows-TerminalServices-Gateway/Operational and NPS Security "
    "6272-6278."
)


# where each product keeps that log: product and menu names, quoted as they are
VPN_WHERE = [
    "FortiGate Log & Report > Events > VPN",
    "FortiAnalyzer",
    "Palo Alto Monitor > Logs > GlobalProtect",
    "Cisco ASA syslog (113039, 722022/722023, 722051, 113019)",
    "Ivanti/Pulse System > Log/Monitoring > User Access",
    "SonicWall Log > SSL VPN",
    "RD Gateway Microsoft-Windows-TerminalServices-Gateway/Operational",
    "NPS Security 6272-6278",
]


def missing_vpn(ent: Entry) -> Missing | None:
    """No remote-access sign-ins in an incident case: the commonest way in can't be seen."""
    if ent.sessions or any(s.kind != "exposed_rdp" for s in ent.signals):
        return None
    return Missing(
        what=said("VPN / remote-access logs", "missing.vpn.what"),
        why_it_matters=said(
            "most ransomware intrusions today come in through VPN equipment or remote "
            "desktop; without the VPN log the entry account, its source address and country, "
            "and who held a VPN pool address can't be named",
            "missing.vpn.why",
        ),
        advice=said(VPN_ADVICE, "missing.vpn.advice", where=VPN_WHERE),
    )
