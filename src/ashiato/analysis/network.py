"""Network-side indicators: C2 and payment sites, public-IP checks, spam from inside, SMB volume.

C2 is told apart from browsing by rarity and shape: a domain few clients ever contact,
reached with POSTs or named by an IDS/UTM alert, from a host that shows other signs;
payment sites by Tor/tor2web gateway names. Spam: SMTP to Internet addresses from
internal hosts that are not mail servers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis

from ashiato.analysis import fetch, intermediary
from ashiato.analysis.context import Context, evidence
from ashiato.analysis.indicators import (
    IP_LOOKUP,
    MAIL_FILTER_PORTS,
    MALICIOUS_SIGNATURE,
    TOR_GATEWAY,
    is_client,
    is_internal,
)
from ashiato.engines import EVENT_ORDER
from ashiato.findings import Evidence

WEB = ("squid.access", "suricata.eve", "fortinet.fortigate", "windows.sysmon")
SPAM_MIN_CONNECTIONS = 20
SAMPLE = 5000  # rows read of each kind of web indicator (the first, in event order)
INTERNAL_V4 = r"^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)"


@dataclass
class HostSignal:
    """One indicator seen for one client address."""

    ip: str
    time: datetime
    kind: str  # payment_site | c2 | ip_lookup | ids_alert | spam | smb_burst
    detail: str
    row: dict[str, Any]


@dataclass
class NetworkFindings:
    signals: list[HostSignal] = field(default_factory=list)
    payment_sites: list[str] = field(default_factory=list)
    c2: list[str] = field(default_factory=list)
    ip_lookups: list[str] = field(default_factory=list)
    spam: dict[str, Any] | None = None
    evidence: list[Evidence] = field(default_factory=list)
    # POSTs to rarely contacted domains from any client: C2 once their sender is infected
    rare_posts: list[HostSignal] = field(default_factory=list)


def _domain(t: Any) -> Any:
    return ibis.coalesce(t["url.domain"], t["dns.question.name"], t["destination.domain"])


def analyse(ctx: Context) -> NetworkFindings:
    t = ctx.events
    out = NetworkFindings()
    # equalities the Parquet scan takes, so that other logs' files are skipped (an IN or
    # an OR made every query on the web traffic read every row)
    proxies = t.filter(t["observer.type"] == "proxy")
    proxies = proxies.filter(~ibis.coalesce(proxies["event.dataset"].isin(list(WEB)), False))
    web = fetch.any_of(t, "event.dataset", WEB).union(proxies)
    web = web.mutate(_dom=_domain(web))
    cols = [*ctx.select(web).columns, "_dom"]

    # payment sites and IP lookups in one pass over the web traffic (each row says which)
    named = web.mutate(_tor=web["_dom"].re_search(TOR_GATEWAY),
                       _look=web["_dom"].re_search(IP_LOOKUP))  # fmt: skip
    named = named.filter(named["_tor"] | named["_look"])
    found = fetch.rows(ctx, named, [*cols, "_tor", "_look"], limit=2 * SAMPLE)
    tor = [r for r in found if r["_tor"]][:SAMPLE]
    look = [r for r in found if r["_look"]][:SAMPLE]
    for r in tor:
        if r.get("source.ip"):
            out.signals.append(
                HostSignal(r["source.ip"], r["@timestamp"], "payment_site", r["_dom"], r)
            )
    out.payment_sites = sorted({r["_dom"] for r in tor})
    for r in look:
        if r.get("source.ip"):
            out.signals.append(
                HostSignal(r["source.ip"], r["@timestamp"], "ip_lookup", r["_dom"], r)
            )
    out.ip_lookups = sorted({r["_dom"] for r in look})

    alerts_q = t.filter(
        t["rule.name"].notnull()
        & t["rule.name"].re_search(MALICIOUS_SIGNATURE)
        & (t["observer.type"].isin(["ids", "firewall"]))
    )
    alerts = fetch.rows(ctx, alerts_q, limit=5000)
    nat = _nat_for(ctx, alerts)
    for r in alerts:
        client, via = _alert_client(r, nat)
        if client:
            out.signals.append(
                HostSignal(client, r["@timestamp"], "ids_alert", str(r["rule.name"]) + via, r)
            )

    out.signals = _through_intermediaries(ctx, out.signals)
    out.c2 = _c2(ctx, web, cols, out)
    out.spam = _spam(ctx, out)
    out.evidence = evidence([s.row for s in out.signals], limit=12)
    return out


def _nat_for(ctx: Context, alerts: list[dict[str, Any]]) -> intermediary.NatTable:
    """The NAT sessions that may have carried these alerts (none looked up without one)."""
    if not alerts:
        return intermediary.NatTable()
    addresses = intermediary.nat_addresses(ctx)
    peers = set()
    for r in alerts:
        src, dst = r.get("source.ip"), r.get("destination.ip")
        if src in addresses and dst:
            peers.add(dst)
        if dst in addresses and src:
            peers.add(src)
    nat = intermediary.nat_table(ctx, peers) if peers else intermediary.NatTable()
    nat.addresses = addresses  # an alert on any of them goes through the table or nowhere
    return nat


def _alert_client(r: dict[str, Any], nat: intermediary.NatTable) -> tuple[str | None, str]:
    """The machine an alert is about, and how it was found: through a NAT address to the
    inside address of the session (never the NAT address itself), else the internal end."""
    src, dst = r.get("source.ip"), r.get("destination.ip")
    sport, dport = r.get("source.port"), r.get("destination.port")
    for ip, port, peer, peer_port in ((src, sport, dst, dport), (dst, dport, src, sport)):
        if ip and ip in nat.addresses:
            tr = nat.inside(r["@timestamp"], ip, port, peer, peer_port)
            if tr is None or not is_client(tr.inside):
                return None, ""
            return tr.inside, f" (via NAT {ip} on {tr.firewall})"
    client = src if is_internal(src) else dst
    return (client, "") if client and is_client(client) else (None, "")


def _c2(ctx: Context, web: Any, cols: list[str], out: NetworkFindings) -> list[str]:
    """Rare domains POSTed to by hosts that already show another indicator."""
    flagged = {s.ip for s in out.signals}
    known = web.filter(web["_dom"].notnull() & web["source.ip"].notnull())
    reach = known.group_by("_dom").aggregate(clients=known["source.ip"].nunique())
    rare = reach.filter(reach["clients"] <= 2)["_dom"]
    posts = known.filter(
        (known["http.request.method"].upper() == "POST")
        & known["_dom"].isin(rare)
        & ~known["_dom"].re_search(TOR_GATEWAY)
    ).select(cols)
    domains: set[str] = set()
    for r in ctx.rows(posts.order_by(EVENT_ORDER), limit=20000):
        s = HostSignal(r["source.ip"], r["@timestamp"], "c2", r["_dom"], r)
        out.rare_posts.append(s)
        if r["source.ip"] in flagged:
            domains.add(r["_dom"])
            out.signals.append(s)
    for s in out.signals:
        if s.kind == "ids_alert":
            dom = s.row.get("url.domain") or s.row.get("destination.domain")
            if dom and "check" in s.detail.lower():
                domains.add(dom)
    return sorted(domains)


def _through_intermediaries(ctx: Context, signals: list[HostSignal]) -> list[HostSignal]:
    """Signals on a proxy's address go to the client that made the request, or nowhere."""
    proxies = intermediary.proxy_addresses(ctx)
    if not proxies or not any(s.ip in proxies for s in signals):
        return signals
    wanted = [(s.time, intermediary.servers_of(s.row, s.ip)) for s in signals if s.ip in proxies]
    via = intermediary.build(ctx, wanted)
    out: list[HostSignal] = []
    for s in signals:
        if s.ip not in via.proxies:
            out.append(s)
            continue
        client = via.client(s.time, intermediary.servers_of(s.row, s.ip))
        if client is not None:
            out.append(HostSignal(client, s.time, s.kind, f"{s.detail} (via proxy {s.ip})", s.row))
    return out


def c2_of(net: NetworkFindings, host_at: Any, infected: set[str]) -> list[str]:
    """The C2 list: rare POST targets and IDS check-in domains of infected hosts only.

    ``host_at(ip, when)`` names the host behind an address at a time (identity), so an
    infected host's beacons count even when no network signal flagged its address, and
    another host's adware beacons never do.
    """
    domains: set[str] = set()
    for s in net.rare_posts:
        if host_at(s.ip, s.time) in infected:
            domains.add(s.detail)
    for s in net.signals:
        if s.kind == "ids_alert" and "check" in s.detail.lower():
            dom = s.row.get("url.domain") or s.row.get("destination.domain")
            if dom and host_at(s.ip, s.time) in infected:
                domains.add(dom)
    return sorted(domains)


def _spam(ctx: Context, out: NetworkFindings) -> dict[str, Any] | None:
    t = ctx.events
    smtp = t.filter(
        (t["destination.port"] == 25) & t["source.ip"].notnull() & t["destination.ip"].notnull()
    )
    # mail servers are the internal addresses that receive SMTP themselves
    servers = smtp.filter(smtp["destination.ip"].re_search(INTERNAL_V4))
    server_ips = {
        r["destination.ip"] for r in ctx.rows(servers.select("destination.ip").distinct())
    }
    # a content filter (amavis, spamd, a milter) takes mail on its own ports and hands it
    # back: whoever listens there re-injects every message and is the filter, not a sender
    t2 = t.filter(
        t["destination.port"].isin(sorted(MAIL_FILTER_PORTS)) & t["destination.ip"].notnull()
    )
    server_ips |= {r["destination.ip"] for r in ctx.rows(t2.select("destination.ip").distinct())}
    # mail handed to the firm's own servers is ordinary mail; a bot talks to the Internet's
    smtp = smtp.filter(~smtp["destination.ip"].re_search(INTERNAL_V4))
    per = smtp.group_by("source.ip").aggregate(
        n=smtp.count(),
        dests=smtp["destination.ip"].nunique(),
        first=smtp["@timestamp"].min(),
        last=smtp["@timestamp"].max(),
    )
    best: dict[str, Any] | None = None
    for r in ctx.rows(per.order_by([ibis.desc("n"), "source.ip"])):
        ip = r["source.ip"]
        if not is_client(ip) or ip in server_ips:
            continue  # loopback is the mail server's own filter hop, never a spam bot
        if int(r["n"]) < SPAM_MIN_CONNECTIONS:
            continue
        sample = ctx.rows(
            ctx.select(smtp.filter(smtp["source.ip"] == ip)).order_by(EVENT_ORDER), limit=5
        )
        for s in sample[:1]:
            out.signals.append(
                HostSignal(ip, s["@timestamp"], "spam", f"{r['n']} SMTP connections", s)
            )
        if best is None:
            best = {
                "ip": ip,
                "connections": int(r["n"]),
                "destinations": int(r["dests"]),
                "first": r["first"],
                "last": r["last"],
                "evidence": evidence(sample),
            }
    return best


def smb_volume(
    ctx: Context, window: tuple[datetime, datetime] | None
) -> dict[str, dict[str, float]]:
    """Bytes each client moved over SMB inside the window versus its own hourly baseline."""
    if window is None:
        return {}
    t = ctx.events
    smb = t.filter((t["destination.port"] == 445) & t["source.ip"].notnull())
    smb = smb.mutate(
        _b=smb["source.bytes"].fill_null(0) + smb["destination.bytes"].fill_null(0),
        _in=smb["@timestamp"].between(window[0], window[1]),
        _hour=smb["@timestamp"].truncate("h"),
    )
    hourly = smb.group_by(["source.ip", "_hour", "_in"]).aggregate(b=smb["_b"].sum())
    stats: dict[str, dict[str, float]] = defaultdict(lambda: {"in": 0.0, "base": 0.0, "hours": 0})
    for r in ctx.rows(hourly):
        s = stats[r["source.ip"]]
        if r["_in"]:
            s["in"] += float(r["b"] or 0)
        else:
            s["base"] = max(s["base"], float(r["b"] or 0))
            s["hours"] += 1
    hours = max((window[1] - window[0]).total_seconds() / 3600, 1.0)
    for s in stats.values():
        # compare the window's rate per hour with the client's busiest normal hour
        s["ratio"] = (
            (s["in"] / hours) / s["base"] if s["base"] else (float("inf") if s["in"] else 0)
        )
    return dict(stats)
