"""Addresses that act for others: attribute through them, never to them.

Behind an explicit proxy, the firewall and an IDS outside the proxy see the proxy's
address as the client of every web request; an alert there names the proxy, not the PC
that asked. The proxy is found as the internal address that carries a large share of
the web flows those sensors saw while never being a client of the proxy log itself; a
signal on it is handed to the proxy log's client that asked for the same server at the
same moment, and dropped when no such request is found.

Behind a NAT (a firewall's source NAT to its egress address, or a branch tunnel NAT'd to
one inside address, domain.md 5.3), a sensor on the far side sees the translated address
and port. The firewall's own session log is the NAT table: FortiGate ``transip`` and
``transport`` (source NAT), ``tranip`` and ``tranport`` (destination NAT, a virtual IP
forwarded to a server inside). A signal on a translated address is handed to the inside
address of the session with the same translated address and port and the same peer
(address and port) at that time, and dropped when no session matches: the NAT address
stands for many machines at once, so it is never the host.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.analysis.indicators import is_client, never_a_host
from ashiato.engines import json_field

WEB_PORTS = (80, 443, 3128, 8080)
PROXY_SHARE = 0.3  # a proxy carries at least this share of the web flows sensors saw
PROXY_MIN_FLOWS = 50
NEAR = timedelta(minutes=2)  # a sensor's and the proxy's record of one request
# a firewall writes a session when it ends: a sensor's sighting of it falls within its
# duration before the log time, give or take clocks a few minutes apart
NAT_NEAR = timedelta(minutes=5)
NAT_ROWS = 500_000


@dataclass(frozen=True)
class Translation:
    """One NAT'd session from the firewall's log: inside <-> outside, to one peer."""

    start: datetime
    end: datetime
    inside: str
    inside_port: int | None
    outside: str
    outside_port: int | None
    peer: str
    peer_port: int | None
    firewall: str


@dataclass
class NatTable:
    # (outside address, outside port, peer, peer port) -> sessions, by start
    sessions: dict[tuple[str, int | None, str, int | None], list[Translation]] = field(
        default_factory=dict
    )
    addresses: set[str] = field(default_factory=set)

    def inside(
        self, when: datetime, ip: str, port: int | None, peer: str | None, peer_port: int | None
    ) -> Translation | None:
        """The session that carried ``ip:port`` <-> ``peer:peer_port`` around ``when``."""
        if not peer:
            return None
        best: tuple[float, Translation] | None = None
        for s in self.sessions.get((ip, port, peer, peer_port), []):
            if s.start - NAT_NEAR <= when <= s.end + NAT_NEAR:
                mid = s.start + (s.end - s.start) / 2
                gap = abs((when - mid).total_seconds())
                if best is None or gap < best[0]:
                    best = (gap, s)
        return best[1] if best else None


def _port(v: Any) -> int | None:
    try:
        return (int(v) or None) if v is not None else None  # port 0: none written
    except (TypeError, ValueError):
        return None


def _nat_rows(ctx: Context) -> Any:
    t = ctx.events
    fw = t.filter((t["observer.type"] == "firewall") & t["source.ip"].notnull()
                  & t["destination.ip"].notnull())  # fmt: skip
    fw = fw.mutate(_sip=json_field(fw["extra"], "transip"), _dip=json_field(fw["extra"], "tranip"))
    return fw.filter(fw["_sip"].notnull() | fw["_dip"].notnull())


def nat_addresses(ctx: Context) -> set[str]:
    """The addresses the firewalls translated to (source NAT) or from (virtual IPs)."""
    fw = _nat_rows(ctx)
    # both kinds in one pass over the firewall rows (each reads every row's extra)
    vip = ibis.cases((fw["_dip"].notnull(), fw["destination.ip"]), else_=ibis.null("string"))
    q = fw.select(_s=fw["_sip"], _d=vip).distinct()
    out: set[str] = set()
    for r in ctx.rows(q):
        out |= {a for a in (r["_s"], r["_d"]) if a is not None and not never_a_host(a)}
    return out


def nat_table(ctx: Context, peers: set[str] | None = None) -> NatTable:
    """The NAT'd sessions the firewalls logged (source and destination NAT); only those
    with one of ``peers`` at the far end when given (a case's every Internet session is
    source-NAT'd: the alerts need a few of them)."""
    fw = _nat_rows(ctx)
    if peers is not None:
        far = sorted(peers)
        fw = fw.filter((fw["_sip"].notnull() & fw["destination.ip"].isin(far))
                       | (fw["_dip"].notnull() & fw["source.ip"].isin(far)))  # fmt: skip
    fw = fw.mutate(
        _sport=json_field(fw["extra"], "transport"),
        _dport=json_field(fw["extra"], "tranport"),
        _ns=json_field(fw["extra"], "event.duration", as_="int64"),
    )
    q = fw.select("@timestamp", "source.ip", "source.port", "destination.ip",
                  "destination.port", "observer.name", "_sip", "_sport", "_dip", "_dport",
                  "_ns")  # fmt: skip
    out = NatTable()
    found: dict[tuple[str, int | None, str, int | None], list[Translation]] = defaultdict(list)
    for r in ctx.rows(q, limit=NAT_ROWS):
        end = r["@timestamp"]
        start = end - timedelta(microseconds=(r["_ns"] or 0) // 1000)
        fwname = r["observer.name"] or "the firewall"
        src, sport = r["source.ip"], r["source.port"]
        dst, dport = r["destination.ip"], r["destination.port"]
        # a sniffer-mode or unfinished session writes transip=0.0.0.0: no translation
        if never_a_host(r["_sip"]):
            r["_sip"] = None
        if never_a_host(r["_dip"]):
            r["_dip"] = None
        if r["_sip"] and r["_sip"] != src:  # source NAT: the inside client goes out as _sip
            tr = Translation(start, end, src, sport, r["_sip"], _port(r["_sport"]) or sport,
                             dst, dport, fwname)  # fmt: skip
            found[(tr.outside, tr.outside_port, dst, dport)].append(tr)
            out.addresses.add(tr.outside)
        if r["_dip"] and r["_dip"] != dst:  # destination NAT: a virtual IP for a server
            tr = Translation(start, end, r["_dip"], _port(r["_dport"]) or dport, dst, dport,
                             src, sport, fwname)  # fmt: skip
            found[(tr.outside, tr.outside_port, src, sport)].append(tr)
            out.addresses.add(tr.outside)
    out.sessions = {k: sorted(v, key=lambda s: s.start) for k, v in found.items()}
    return out


@dataclass
class Intermediaries:
    proxies: set[str] = field(default_factory=set)
    # server (domain or address) -> [(time, client)] from the proxy log, sorted
    asked: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)

    def client(self, when: datetime, servers: list[str]) -> str | None:
        """The proxy client that asked for one of ``servers`` nearest to ``when``."""
        best: tuple[float, str] | None = None
        for server in servers:
            seen = self.asked.get(server, [])
            i = bisect.bisect_left(seen, (when, ""))
            for t, ip in seen[max(i - 1, 0) : i + 1]:
                gap = abs((t - when).total_seconds())
                if gap <= NEAR.total_seconds() and (best is None or gap < best[0]):
                    best = (gap, ip)
        return best[1] if best else None


def proxy_addresses(ctx: Context) -> set[str]:
    t = ctx.events
    clients_q = t.filter((t["observer.type"] == "proxy") & t["source.ip"].notnull())
    clients = {r["source.ip"] for r in ctx.rows(clients_q.select("source.ip").distinct())}
    if not clients:
        return set()  # no proxy log: nothing to attribute through
    flows = t.filter(
        t["observer.type"].isin(["firewall", "ids"])
        & t["source.ip"].notnull()
        & t["destination.port"].isin(list(WEB_PORTS))
    )
    per = flows.group_by("source.ip").aggregate(n=flows.count())
    rows = ctx.rows(per)
    total = sum(int(r["n"]) for r in rows)
    return {
        r["source.ip"]
        for r in rows
        if r["source.ip"] not in clients
        and is_client(r["source.ip"])
        and int(r["n"]) >= max(PROXY_MIN_FLOWS, PROXY_SHARE * total)
    }


def servers_of(row: dict[str, Any], client: str) -> list[str]:
    """The far end of a signal's event: the domain and address that are not the client."""
    out = [
        str(row[k]).lower()
        for k in ("url.domain", "destination.domain", "dns.question.name")
        if row.get(k)
    ]
    for k in ("destination.ip", "source.ip"):
        if row.get(k) and row[k] != client:
            out.append(str(row[k]))
    return out


def build(ctx: Context, wanted: list[tuple[datetime, list[str]]]) -> Intermediaries:
    """The proxies, and the proxy log's requests for the servers in ``wanted``."""
    out = Intermediaries(proxy_addresses(ctx))
    servers = sorted({s for _, ss in wanted for s in ss})
    if not out.proxies or not servers:
        return out
    t = ctx.events
    px = t.filter((t["observer.type"] == "proxy") & t["source.ip"].notnull())
    px = px.mutate(_dom=ibis.coalesce(px["url.domain"], px["destination.domain"]))
    px = px.filter(px["_dom"].isin(servers) | px["destination.ip"].isin(servers))
    asked: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    q = px.select("@timestamp", "source.ip", "_dom", "destination.ip")
    for r in ctx.rows(q, limit=200_000):
        for key in (r["_dom"], r["destination.ip"]):
            if key:
                asked[str(key)].append((r["@timestamp"], r["source.ip"]))
    out.asked = {k: sorted(v) for k, v in asked.items()}
    return out
