"""Clock offsets between sources, from transactions two sources both saw (domain.md 6.1).

A source is a dataset on one device: ``windows.sysmon@pc-osk-0112`` (every PC has its own
clock), ``fortinet.fortigate@FG-OSAKA``, ``squid.access``. Three kinds of shared sightings:

- the same TCP/UDP connection (client address and port, server address and port), e.g.
  Sysmon 3 or Windows Filtering Platform 5156 on a host against the firewall or IDS flow;
- the same web request (client address and full URL) in the proxy and the IDS;
- the same SMB session: a flow to port 445/139 (its start: the log time less the session's
  duration, as firewalls log at session end) against the file server's own logon or
  share access (4624, 5140, 5145) from that client address and port. So a firewall
  seen only by the file server's share audit is still measured.

A fourth kind pairs a DHCP server with the host or sensor that saw the same exchange:
the server's assign/renew (Microsoft 10/11, ISC DHCPACK) of an address against a network
sighting of that address's DHCP exchange (Zeek ``dhcp.log``, or a flow from port 68 to
port 67: the unicast renewal, which the renewing PC's own Sysmon 3 or a firewall logs).
Both records describe one request/acknowledgement a second apart, so their difference is
the clocks' offset. The host's *first events after* a lease (its logon, its first flow)
are not paired: they follow the lease by however long the boot or the user takes (seconds
to an hour), so their difference would measure the user, not the clock. A server
acknowledgement pairs only with a sighting of the same address within 10 minutes that
no other acknowledgement of that address could claim (renewals of one address are hours
apart), so each pair is one exchange.

Only keys a source logged at most three times take part (SMB sessions: the session's first
event), and web pairs more than 10 minutes apart are dropped (connections and sessions: 13
hours, to catch a zone misread), so each pair is one transaction. The median difference
per pair of sources is an edge when at least three pairs agree (their middle half within a
minute: the spread); offsets are propagated over the strongest edges and finally measured
against the most trustworthy clocks present: Windows logs (domain members sync with the
DC), else the median of three or more devices, else the IDS sensor.

An offset near a whole number of hours (or :30) is a time-zone misread (the file was read
in the wrong zone: re-ingest it with ``--tz-for``), reported and never corrected; what is
left beyond it is the clock's skew (9 h 3 min = a 9 h zone error and a 3-minute skew).
``apply`` shifts each skewed source's timestamps by that skew only, so that the analyses
line events up on one clock (the stored events are never changed).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from statistics import median, quantiles
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.engines import epoch_seconds, json_field
from ashiato.findings import ClockSkew
from ashiato.i18n import msg, said_all

# seconds either side: a connection's 4-tuple is near-unique, so it may look far enough to
# catch a whole time-zone misread; the same URL recurs, so requests must be close
MATCH = {"connections": 13 * 3600, "web requests": 600, "SMB sessions": 13 * 3600}
REPORT_MIN = 30.0
MIN_PAIRS = 3
SPREAD = 60  # seconds: the middle half of the differences must lie this close together
MAX_REPEATS = 3
KEYS = {
    "connections": ("source.ip", "source.port", "destination.ip", "destination.port"),
    "web requests": ("source.ip", "url.original"),
    "SMB sessions": ("source.ip", "source.port"),
}
SMB_PORTS = (445, 139)
SMB_SERVER_EVENTS = ("4624", "5140", "5145")  # logon, share and file access: session start
DHCP_SERVERS = ("windows.dhcp", "isc.dhcpd")
DHCP_ACK = ("10", "11")  # Microsoft assign, renew
DHCP_MATCH = 600  # seconds either side: one address's exchanges are hours apart
DHCP_ROWS = 200_000
ZONE_STEP = 1800  # zones differ by whole hours or :30 (a :45 zone leaves 15 min of "skew")
ZONE_MIN = 3600  # below an hour it is a clock, not a zone
_TRUST = (("windows.", 0, "Windows event logs (domain time)"),
          ("suricata.", 1, "the IDS sensor"), ("", 2, "the other sources"))  # fmt: skip


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    n: int
    delta: float  # median of time(a) - time(b), seconds
    kind: str
    spread: float = 0.0  # interquartile range of the differences, seconds


def _slug(prefix: str, words: str) -> dict[str, Any]:
    """Our own wording (an edge kind, the reference clocks) by id: ``prefix.words_joined``."""
    return msg(f"{prefix}.{re.sub(r'[^a-z0-9]+', '_', words.lower()).strip('_')}")


def split(offset: float) -> tuple[int, float]:
    """(zone error in seconds, skew in seconds): 32580 s -> (32400, 180)."""
    zone = round(offset / ZONE_STEP) * ZONE_STEP
    if abs(zone) < ZONE_MIN:
        return 0, offset
    return zone, offset - zone


def _seconds(ts: Any) -> Any:
    """Epoch seconds with the fraction, in whichever engine runs (engines.epoch_seconds)."""
    return epoch_seconds(ts)


def _label(t: Any) -> Any:
    ds = t["event.dataset"]
    host = ibis.coalesce(t["host.name"], ibis.literal("?"))
    dev = ibis.coalesce(t["observer.name"], ibis.literal(""))
    # a Windows log's clock is its host's; the DHCP audit log names the client, not itself
    own = ds.startswith("windows.") & ~ds.isin(DHCP_SERVERS)
    return ibis.cases((own, ds.concat("@", host)),
                      (dev != "", ds.concat("@", dev)), else_=ds)  # fmt: skip


def _is_source(t: Any, source: str) -> Any:
    """``_label(t) == source`` without building the label: every query of the analyses
    reads the events through ``apply``, so this runs on every row of every one of them,
    and comparing columns with constants costs far less than joining strings per row.
    ``a@b`` is split at each ``@`` in turn (a dataset or device name may hold one)."""
    ds = t["event.dataset"]
    own = ds.startswith("windows.") & ~ds.isin(DHCP_SERVERS)
    dev = ibis.coalesce(t["observer.name"], ibis.literal(""))
    host = ibis.coalesce(t["host.name"], ibis.literal("?"))
    cond = ~own & (dev == "") & (ds == source)
    for i, ch in enumerate(source):
        if ch == "@":
            name, on = source[:i], source[i + 1 :]
            cond = cond | (own & (ds == name) & (host == on))
            cond = cond | (~own & (dev != "") & (ds == name) & (dev == on))
    return cond


def _session_start(q: Any) -> Any:
    """A firewall writes a session at its end: its start is the log time less the
    duration (ECS ``event.duration``, nanoseconds, kept in extra)."""
    nanos = json_field(q["extra"], "event.duration", as_="int64")
    return q["@timestamp"] - (ibis.coalesce(nanos, 0) // 1_000_000).as_interval("ms")


def _sightings(t: Any, kind: str) -> Any:
    """Rows of one kind of shared sighting: ``_src``, ``_ts`` and the key columns."""
    keys = KEYS[kind]
    cond = t["@timestamp"].notnull()
    for k in keys:
        cond = cond & t[k].notnull()
    names = [f"_k{i}" for i in range(len(keys))]

    def rows(q: Any, ts: Any) -> Any:
        return q.select(_src=_label(q), _ts=ts,
                        **{n: q[k] for n, k in zip(names, keys, strict=True)})  # fmt: skip

    if kind != "SMB sessions":
        return rows(t.filter(cond), t["@timestamp"])
    # the flows and the server's events apart, each filter reaching the Parquet scan, so
    # ``extra`` is read for the flows only (an OR of the two read it for every row)
    flow = t.filter(cond & ~t["event.dataset"].startswith("windows.")
                    & t["destination.port"].isin(SMB_PORTS))  # fmt: skip
    server = t.filter(cond & (t["event.dataset"] == "windows.security")
                      & t["event.code"].isin(SMB_SERVER_EVENTS))  # fmt: skip
    # the session's start is when the server saw the logon
    base = rows(flow, _session_start(flow)).union(rows(server, server["@timestamp"]))
    # one session, many share accesses: its first sighting
    return base.group_by(["_src", *names]).aggregate(_ts=base["_ts"].min())


def _dhcp_sides(ctx: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(server acknowledgements, other sources' sightings of a DHCP exchange): _src, _ts, _ip."""
    t = ctx.events
    ds = t["event.dataset"]
    server = ds.isin(DHCP_SERVERS) & t["host.ip"].notnull() & (
        t["event.code"].isin(DHCP_ACK) | (t["event.action"] == "dhcpack"))  # fmt: skip
    acks = t.filter(server & t["@timestamp"].notnull())
    acks = acks.select(_src=_label(acks), _ts=acks["@timestamp"], _ip=acks["host.ip"])
    seen_dhcp = (t["network.protocol"] == "dhcp") & t["host.ip"].notnull()
    renew = (t["source.port"] == 68) & (t["destination.port"] == 67) & t["source.ip"].notnull()
    other = t.filter(~ds.isin(DHCP_SERVERS) & t["@timestamp"].notnull())
    a = ctx.rows(acks, limit=DHCP_ROWS)
    b: list[dict[str, Any]] = []
    # renewals and DHCP sightings apart: each filter alone reaches the Parquet scan, so
    # ``extra`` is read for those rows only (one query with the OR read it for all)
    for part in (renew, seen_dhcp & ~ibis.coalesce(renew, False)) if a else ():
        q = other.filter(part)
        # the renewal's UDP session is logged when it times out: its start is the exchange
        q = q.select(_src=_label(q), _ts=_session_start(q),
                     _ip=ibis.coalesce(q["host.ip"], q["source.ip"]))  # fmt: skip
        if len(b) < DHCP_ROWS:
            b += ctx.rows(q, limit=DHCP_ROWS - len(b))
    return a, b


def dhcp_edges(ctx: Context) -> list[Edge]:
    """Edges between a DHCP server and the sources that saw the same exchanges."""
    acks, seen = _dhcp_sides(ctx)
    if not acks or not seen:
        return []
    acks_by_ip: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for r in acks:
        acks_by_ip[r["_ip"]].append((r["_ts"].timestamp(), r["_src"]))
    diffs: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_key: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in seen:  # one source's sightings of one address, to check they are one exchange
        by_key[(r["_src"], r["_ip"])].append(r["_ts"].timestamp())
    for (src, ip), times in by_key.items():
        times.sort()
        for server_ts, server in acks_by_ip.get(ip, []):
            near = [x for x in times if abs(x - server_ts) <= DHCP_MATCH]
            # the same exchange: one sighting (a request and its ack in the same second
            # count once), and no other acknowledgement of this address in reach of it
            if not near or near[-1] - near[0] > 5:
                continue
            rivals = [a for a, _ in acks_by_ip[ip] if abs(a - near[0]) <= DHCP_MATCH]
            if len(rivals) != 1:
                continue
            a, b = sorted((server, src))
            d = server_ts - near[0]
            diffs[(a, b)].append(d if a == server else -d)
    out: list[Edge] = []
    for (a, b), ds in sorted(diffs.items()):
        if len(ds) < MIN_PAIRS:
            continue
        q = quantiles(ds, n=4, method="inclusive")
        if q[2] - q[0] > SPREAD:
            continue
        out.append(Edge(a, b, len(ds), median(ds), "DHCP exchanges", round(q[2] - q[0], 1)))
    return out


def edges(ctx: Context) -> list[Edge]:
    t = ctx.events
    out: list[Edge] = []
    for kind, keys in KEYS.items():
        names = [f"_k{i}" for i in range(len(keys))]
        base = _sightings(t, kind)
        counts = base.group_by(["_src", *names]).aggregate(_n=base.count())
        rare = counts.filter(counts["_n"] <= MAX_REPEATS).drop("_n")
        # the rare sightings once (epoch seconds per row, not per pair), then paired with
        # themselves; the always-true filter ends Ibis's join chain, so the engine reads
        # them as one shared subquery (DuckDB a CTE) instead of counting and joining the
        # whole table again for the other side (twice the work)
        base = base.semi_join(rare, ["_src", *names])
        base = base.select("_src", *names, _e=_seconds(base["_ts"])).filter(ibis.literal(True))
        other = base.view()
        other = other.select(_src_b=other["_src"], _e_b=other["_e"],
                             **{f"{n}_b": other[n] for n in names})  # fmt: skip
        preds = [base[n] == other[f"{n}_b"] for n in names] + [base["_src"] < other["_src_b"]]
        j = base.join(other, preds)
        j = j.select("_src", "_src_b", _d=j["_e"] - j["_e_b"])
        j = j.filter(j["_d"].abs() <= MATCH[kind])
        agg = j.group_by(["_src", "_src_b"]).aggregate(
            n=j.count(), d=j["_d"].median(), q1=j["_d"].quantile(0.25),
            q3=j["_d"].quantile(0.75))  # fmt: skip
        # one clock offset makes the differences agree; chance matches scatter them
        agg = agg.filter((agg["n"] >= MIN_PAIRS) & ((agg["q3"] - agg["q1"]) <= SPREAD))
        for r in ctx.rows(agg.order_by(["_src", "_src_b"])):  # same edge order on any engine
            out.append(Edge(r["_src"], r["_src_b"], int(r["n"]), float(r["d"]), kind,
                            round(float(r["q3"]) - float(r["q1"]), 1)))  # fmt: skip
    return out + dhcp_edges(ctx)


def _trust(source: str) -> tuple[int, str]:
    for prefix, rank, what in _TRUST:
        if source.startswith(prefix):
            return rank, what
    return len(_TRUST), "the other sources"


def _reference(sources: list[str]) -> tuple[list[str], str]:
    """The clocks to measure against: Windows logs (domain time) when present; else, with
    three sources or more, their median (most devices keep time); else the IDS sensor."""
    best = min(_trust(s)[0] for s in sources)
    if best > 0 and len(sources) >= 3:
        return sorted(sources), "the median clock of the connected sources"
    refs = sorted(s for s in sources if _trust(s)[0] == best)
    return refs, _trust(refs[0])[1]


def solve(found: list[Edge]) -> list[ClockSkew]:
    """Offsets per source, relative to the most trusted clocks of its connected group."""
    adj: dict[str, list[tuple[str, float, Edge]]] = defaultdict(list)
    for e in sorted(found, key=lambda e: -e.n):
        adj[e.a].append((e.b, -e.delta, e))  # offset(b) = offset(a) - delta
        adj[e.b].append((e.a, e.delta, e))
    done: set[str] = set()
    out: list[ClockSkew] = []
    for root in sorted(adj, key=lambda s: (_trust(s)[0], -len(adj[s]), s)):
        if root in done:
            continue
        offset: dict[str, float] = {root: 0.0}
        via: dict[str, tuple[str, Edge]] = {}
        queue = [root]
        while queue:
            cur = queue.pop(0)
            for nxt, step, edge in adj[cur]:
                if nxt not in offset:
                    offset[nxt] = offset[cur] + step
                    via[nxt] = (cur, edge)
                    queue.append(nxt)
        done |= set(offset)
        refs, what = _reference(list(offset))
        base = median(offset[s] for s in refs)
        for s in sorted(offset):
            rel = offset[s] - base
            if abs(rel) <= REPORT_MIN or s not in via:
                continue
            parent, edge = via[s]
            diff = edge.delta if edge.a == s else -edge.delta
            basis = (f"{edge.n} {edge.kind} seen by both {s} and {parent} "
                     f"(median difference {diff:+.0f} s relative to {parent}, middle half "
                     f"within {edge.spread:.0f} s); "
                     f"reference: {what} ({len(refs)} source(s))")  # fmt: skip
            ids = [msg("skew.basis", n=edge.n, kind=_slug("skew.kind", edge.kind), source=s,
                       parent=parent, diff=f"{diff:+.0f}", spread=f"{edge.spread:.0f}",
                       reference=_slug("skew.reference", what), refs=len(refs))]  # fmt: skip
            zone, skew = split(rel)
            if zone:
                basis += (f"; {zone / 3600:+g} h of it is a time-zone misread, not drift: "
                          "re-ingest this source with its zone (--tz-for); it is not "
                          "corrected")  # fmt: skip
                ids.append(msg("skew.zone", hours=f"{zone / 3600:+g}", option="--tz-for"))
                if abs(skew) > REPORT_MIN:
                    basis += f"; beyond the zone its clock is {skew:+.0f} s off"
                    ids.append(msg("skew.beyond_zone", seconds=f"{skew:+.0f}"))
            basis = said_all(basis, *ids, join="clauses")
            out.append(ClockSkew(source=s, offset_seconds=round(rel, 1), basis=basis,
                                 pairs=edge.n, spread_seconds=edge.spread,
                                 zone_error_hours=zone / 3600 if zone else None,
                                 skew_seconds=round(skew, 1)))  # fmt: skip
    return sorted(out, key=lambda c: -abs(c.offset_seconds))


def estimate(ctx: Context) -> list[ClockSkew]:
    return solve(edges(ctx))


def apply(events: Any, skews: list[ClockSkew]) -> Any:
    """``events`` with each skewed source's ``@timestamp`` moved back by its skew.

    A zone misread is left as read (reported for a re-ingest); only the clock's own
    skew beyond it is corrected.
    """
    fix = [s for s in skews if abs(s.skew_seconds) > REPORT_MIN]
    if not fix:
        return events
    ts = events["@timestamp"]
    fixed = ibis.cases(
        *(
            (_is_source(events, s.source),
             ts - ibis.interval(milliseconds=round(s.skew_seconds * 1000)))
            for s in fix
        ),
        else_=ts,
    )  # fmt: skip
    for s in fix:
        s.applied = True
    return events.mutate(**{"@timestamp": fixed})
