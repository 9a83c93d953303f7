"""Who had which address when: an IP ↔ host ↔ user timeline.

Sources, strongest first: DHCP leases (assign/renew until another host takes the
address or it is released); then sightings that tie an address to a host or a user at
a moment: network logons on servers (4624 IpAddress + WorkstationName + account), Sysmon
network connections (the host's own address), AV console rows (endpoint + IP), proxy
and firewall users. Every later answer that starts from an IP asks ``at(ip, time)``.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.analysis.indicators import is_internal
from ashiato.engines import EVENT_ORDER, json_field
from ashiato.normalize import host_key

LEASE_MAX = timedelta(days=8)
SIGHTING_WINDOW = timedelta(hours=24)


@dataclass
class Lease:
    ip: str
    host: str
    start: datetime
    end: datetime
    ref: str


@dataclass
class Sighting:
    ip: str
    host: str | None
    user: str | None
    first: datetime
    last: datetime
    basis: str
    ref: str


@dataclass
class Resolution:
    host: str | None
    user: str | None
    basis: str


@dataclass
class Identity:
    leases: dict[str, list[Lease]] = field(default_factory=dict)
    sightings: dict[str, list[Sighting]] = field(default_factory=dict)
    _index: tuple[dict[str, set[str]], dict[str, Counter[str]]] | None = field(
        default=None, repr=False
    )

    def at(self, ip: str | None, when: datetime | None) -> Resolution:
        if not ip:
            return Resolution(None, None, "no address")
        host, basis = None, "no source ties this address to a host"
        if when is not None:
            for lease in self.leases.get(ip, []):
                if lease.start <= when <= lease.end:
                    host, basis = lease.host, f"DHCP lease ({lease.ref})"
                    break
        if host is None:
            s = self._nearest(ip, when, want="host")
            if s is not None:
                host, basis = s.host, f"{s.basis} ({s.ref})"
        user = None
        s = self._nearest(ip, when, want="user")
        if s is not None:
            user = s.user
        elif host is not None:
            user = self.main_user(host)
        return Resolution(host, user, basis)

    def _nearest(self, ip: str, when: datetime | None, want: str) -> Sighting | None:
        best: tuple[float, Sighting] | None = None
        for s in self.sightings.get(ip, []):
            if getattr(s, want) is None:
                continue
            if when is None:
                gap = 0.0
            elif s.first <= when <= s.last:
                gap = 0.0
            else:
                gap = min(
                    abs((s.first - when).total_seconds()), abs((s.last - when).total_seconds())
                )
                if gap > SIGHTING_WINDOW.total_seconds():
                    continue
            if best is None or gap < best[0]:
                best = (gap, s)
        return best[1] if best else None

    def ips_of(self, host: str) -> list[str]:
        return sorted(self._by_host()[0].get(host, ()))

    def main_user(self, host: str) -> str | None:
        users = self._by_host()[1].get(host)
        return users.most_common(1)[0][0] if users else None

    def users_of(self, host: str) -> list[str]:
        return sorted(self._by_host()[1].get(host, ()))

    def _by_host(self) -> tuple[dict[str, set[str]], dict[str, Counter[str]]]:
        """host → addresses and host → users, built once (the identity is final by then)."""
        if self._index is None:
            ips: dict[str, set[str]] = defaultdict(set)
            users: dict[str, Counter[str]] = defaultdict(Counter)
            for leases in self.leases.values():
                for lease in leases:
                    ips[lease.host].add(lease.ip)
            for ss in self.sightings.values():
                for s in ss:
                    if s.host:
                        ips[s.host].add(s.ip)
                        if s.user:
                            users[s.host][s.user] += 1
            self._index = (dict(ips), dict(users))
        return self._index

    def hosts_of_user(self, user: str, when: datetime | None) -> list[str]:
        """Hosts the account was seen on (nearest in time first when ``when`` is given)."""
        found: dict[str, float] = {}
        for ss in self.sightings.values():
            for s in ss:
                if s.user != user:
                    continue
                host = s.host or self.at(s.ip, s.first).host
                if not host:
                    continue
                gap = abs((s.first - when).total_seconds()) if when else 0.0
                found[host] = min(found.get(host, gap), gap)
        return sorted(found, key=lambda h: found[h])[:1]

    def history(self) -> list[dict[str, Any]]:
        """Address changes for the report: one row per lease."""
        rows = [
            {
                "ip": lease.ip,
                "host": lease.host,
                "start": lease.start,
                "end": lease.end,
                "ref": lease.ref,
            }
            for leases in self.leases.values()
            for lease in leases
        ]
        return sorted(rows, key=lambda r: (r["start"], r["ip"]))


def build(ctx: Context) -> Identity:
    ident = Identity()
    _dhcp(ctx, ident)
    _sightings(ctx, ident)
    vpn_sightings(ctx, ident)  # issue 16
    return ident


def _dhcp(ctx: Context, ident: Identity) -> None:
    t = ctx.events
    q = t.filter((t["event.dataset"] == "windows.dhcp") & t["host.ip"].notnull())
    q = q.select(
        "@timestamp", "event.code", "event.action", "host.ip", "host.name", "evidence_id", "record"
    ).order_by(EVENT_ORDER)
    per_ip: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ctx.rows(q):
        per_ip[r["host.ip"]].append(r)
    for ip, events in per_ip.items():
        leases: list[Lease] = []
        for r in events:
            code = str(r["event.code"] or "")
            action = str(r["event.action"] or "").lower()
            ts: datetime = r["@timestamp"]
            ref = f"{r['evidence_id']}:{r['record']}"
            if leases and leases[-1].end > ts:
                leases[-1].end = ts  # a new event for the address ends the previous view
            if code in ("10", "11") or action in ("assign", "renew"):
                host = r["host.name"]
                if host is None:
                    continue
                if leases and leases[-1].host == host and code == "11":
                    leases[-1].end = ts + LEASE_MAX
                    continue
                leases.append(Lease(ip, host, ts, ts + LEASE_MAX, ref))
        ident.leases[ip] = leases
    # a host that was given another address has left the old one, even if nobody
    # else took it (the old lease would otherwise run on for days)
    per_host: dict[str, list[Lease]] = defaultdict(list)
    for leases in ident.leases.values():
        for lease in leases:
            per_host[lease.host].append(lease)
    for leases in per_host.values():
        leases.sort(key=lambda x: x.start)
        for cur, nxt in itertools.pairwise(leases):
            if nxt.ip != cur.ip and nxt.start < cur.end:
                cur.end = nxt.start


def _sightings(ctx: Context, ident: Identity) -> None:
    t = ctx.events
    day = t["@timestamp"].truncate("D")
    ws = json_field(t["extra"], "workstation")
    logon = t.filter(
        (t["event.code"].isin(["4624", "4768", "4769", "4776"]))
        & t["source.ip"].notnull()
        & ~t["source.ip"].isin(["-", "::1", "127.0.0.1"])
    ).mutate(_host=ws, _user=t["user.name"], _ip=t["source.ip"], _basis=ibis.literal("logon"))
    sysmon = t.filter(
        (t["event.dataset"] == "windows.sysmon")
        & (t["event.code"] == "3")
        & t["source.ip"].notnull()
    ).mutate(
        _host=t["host.name"],
        _user=ibis.null("string"),
        _ip=t["source.ip"],
        _basis=ibis.literal("host's own connection (Sysmon 3)"),
    )
    av = t.filter((t["observer.type"] == "antivirus") & t["host.ip"].notnull()).mutate(
        _host=t["host.name"],
        _user=t["user.name"],
        _ip=t["host.ip"],
        _basis=ibis.literal("AV console"),
    )
    users = t.filter(
        t["observer.type"].isin(["proxy", "firewall"])
        & t["user.name"].notnull()
        & t["source.ip"].notnull()
    ).mutate(
        _host=ibis.null("string"),
        _user=t["user.name"],
        _ip=t["source.ip"],
        _basis=ibis.literal("authenticated proxy/firewall user"),
    )
    parts = []
    for part in (logon, sysmon, av, users):
        p = part.mutate(_day=day)
        parts.append(
            p.group_by(["_ip", "_host", "_user", "_basis", "_day"]).aggregate(
                first=p["@timestamp"].min(),
                last=p["@timestamp"].max(),
                ev=p["evidence_id"].min(),
                rec=p["record"].min(),
            )
        )
    # a total order, so ties between sightings resolve alike on every engine
    rows = ctx.rows(ibis.union(*parts).order_by(["_ip", "first", "ev", "rec", "_basis", "_day"]))
    for r in rows:
        ip = r["_ip"]
        if not is_internal(ip):
            continue
        user = r["_user"]
        if user and ("$" in user or user.lower() in ("-", "anonymous logon", "system")):
            user = None
        host = host_key(r["_host"]) if r["_host"] and r["_host"] != "-" else None
        if host is None and user is None:
            continue
        s = Sighting(
            ip,
            host,
            user.lower() if user else None,
            r["first"],
            r["last"],
            r["_basis"],
            f"{r['ev']}:{r['rec']}",
        )
        ident.sightings.setdefault(ip, []).append(s)
    for ss in ident.sightings.values():
        ss.sort(key=lambda s: s.first)


# -- issue 16 hook: VPN tunnel addresses (analysis/remote_access.py) ---------------------


def vpn_sightings(ctx: Context, ident: Identity) -> None:
    """A VPN tunnel address belongs to the remote user for its session, so an RDP or SMB
    logon from the VPN pool resolves to that user (and ``basis`` says from where)."""
    from ashiato.analysis import remote_access  # imports this module's neighbours only

    for s in remote_access.sessions(ctx):
        if not s.tunnel_ip or not s.user:
            continue
        basis = f"VPN session from {s.public_ip or '?'} ({s.country or 'country unknown'})"
        ref = f"{s.rows[0].get('evidence_id')}:{s.rows[0].get('record')}"
        ss = ident.sightings.setdefault(s.tunnel_ip, [])
        ss.append(Sighting(s.tunnel_ip, None, s.user, s.start, s.until(), basis, ref))
        ss.sort(key=lambda x: x.first)
