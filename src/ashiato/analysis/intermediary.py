"""Addresses that act for others: attribute through them, never to them.

Behind an explicit proxy, the firewall and an IDS outside the proxy see the proxy's
address as the client of every web request; an alert there names the proxy, not the PC
that asked. The proxy is found as the internal address that carries a large share of
the web flows those sensors saw while never being a client of the proxy log itself; a
signal on it is handed to the proxy log's client that asked for the same server at the
same moment, and dropped when no such request is found (NAT'd Internet addresses are
not internal and never a host anyway).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.analysis.indicators import is_client

WEB_PORTS = (80, 443, 3128, 8080)
PROXY_SHARE = 0.3  # a proxy carries at least this share of the web flows sensors saw
PROXY_MIN_FLOWS = 50
NEAR = timedelta(minutes=2)  # a sensor's and the proxy's record of one request


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
