"""Was a host watched through the incident? What a "clean" verdict may rest on.

A host shows nothing either because nothing happened on it or because nothing was
looking. It was watched when its own logs (any dataset naming it) run from before the
incident window to after it, or when a network source that records its traffic (a
proxy, firewall or IDS that saw one of its addresses at some point) does, while the host
held an address during the window. Otherwise silence proves nothing: "unknown".
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from ashiato.analysis import fetch
from ashiato.analysis.context import Context
from ashiato.analysis.identity import DHCP_DATASETS, Identity
from ashiato.i18n import said

NETWORK_OBSERVERS = ("proxy", "firewall", "ids")
# datasets that name a host without watching it: a DHCP server saw it ask for an address
NOT_WATCHING = DHCP_DATASETS
# a log that starts a little after the window's start or stops a little before its end
# still covered it (a quiet quarter of an hour is normal on any host)
SLACK = timedelta(minutes=30)

Window = tuple[datetime, datetime]


def watched(
    ctx: Context, ident: Identity, hosts: list[str], window: Window | None
) -> dict[str, str]:
    """host → what watched it through ``window`` ("" where nothing did); without a
    window there is nothing to cover and nobody is marked."""
    if window is None:
        return {}
    lo, hi = window[0] + SLACK, window[1] - SLACK
    wanted = set(hosts)
    t = ctx.events
    named = t.filter(t["host.name"].notnull() & ~t["event.dataset"].isin(list(NOT_WATCHING)))
    own = named.group_by(["host.name", "event.dataset"]).aggregate(
        first=named["@timestamp"].min(), last=named["@timestamp"].max()
    )
    out: dict[str, str] = dict.fromkeys(hosts, "")
    covering_own: dict[str, list[str]] = defaultdict(list)
    for r in ctx.rows(own):
        if r["host.name"] in wanted and r["first"] <= lo and r["last"] >= hi:
            covering_own[r["host.name"]].append(r["event.dataset"])
    for h, datasets in covering_own.items():
        # the same name whatever order rows came in
        out[h] = said(f"its own {min(datasets)} log", "watched.own", dataset=min(datasets))
    net = fetch.any_of(t, "observer.type", NETWORK_OBSERVERS)  # not an IN: fetch.any_of
    net = net.filter(net["source.ip"].notnull())
    spans = net.group_by("event.dataset").aggregate(
        first=net["@timestamp"].min(), last=net["@timestamp"].max()
    )
    covering = {r["event.dataset"] for r in ctx.rows(spans) if r["first"] <= lo and r["last"] >= hi}
    if not covering:
        return out
    seen_q = net.filter(net["event.dataset"].isin(sorted(covering)))
    seen: dict[str, set[str]] = defaultdict(set)
    for r in ctx.rows(seen_q.select("source.ip", "event.dataset").distinct()):
        seen[r["source.ip"]].add(r["event.dataset"])
    for h in hosts:
        if out[h]:
            continue
        for ip in ident.ips_of(h):
            if not seen.get(ip):  # first: the lookups below are the costly part
                continue
            if any(ident.host_at(ip, when) == h for when in (window[0], window[1])):
                out[h] = said(f"{sorted(seen[ip])[0]} (sees {ip})", "watched.sees",
                              dataset=sorted(seen[ip])[0], ip=ip)
                break
    return out
