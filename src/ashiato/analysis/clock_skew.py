"""Clock offsets between sources, from transactions two sources both saw (domain.md 6.1).

A source is a dataset on one device: ``windows.sysmon@pc-osk-0112`` (every PC has its own
clock), ``fortinet.fortigate@FG-OSAKA``, ``squid.access``. Two kinds of shared sightings:

- the same TCP/UDP connection (client address and port, server address and port), e.g.
  Sysmon 3 or Windows Filtering Platform 5156 on a host against the firewall or IDS flow;
- the same web request (client address and full URL) in the proxy and the IDS.

Only keys a source logged at most three times take part, and web pairs more than 10
minutes apart are dropped (connections: 13 hours, to catch a zone misread), so each pair is
one transaction. The median difference per pair of sources is an edge when at least three
pairs agree (their middle half within a minute); offsets are propagated over the strongest
edges and finally measured against the most trustworthy clocks present: Windows logs
(domain members sync with the DC), else the median of three or more devices, else the IDS
sensor. ``apply`` then shifts each skewed source's timestamps by its offset, so that the
analyses line events up on one clock (the stored events are never changed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.engines import epoch_seconds
from ashiato.findings import ClockSkew

# seconds either side: a connection's 4-tuple is near-unique, so it may look far enough to
# catch a whole time-zone misread; the same URL recurs, so requests must be close
MATCH = {"connections": 13 * 3600, "web requests": 600}
REPORT_MIN = 30.0
MIN_PAIRS = 3
SPREAD = 60  # seconds: the middle half of the differences must lie this close together
MAX_REPEATS = 3
KEYS = {
    "connections": ("source.ip", "source.port", "destination.ip", "destination.port"),
    "web requests": ("source.ip", "url.original"),
}
_TRUST = (("windows.", 0, "Windows event logs (domain time)"),
          ("suricata.", 1, "the IDS sensor"), ("", 2, "the other sources"))  # fmt: skip


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    n: int
    delta: float  # median of time(a) - time(b), seconds
    kind: str


def _seconds(ts: Any) -> Any:
    """Epoch seconds with the fraction, in whichever engine runs (engines.epoch_seconds)."""
    return epoch_seconds(ts)


def _label(t: Any) -> Any:
    ds = t["event.dataset"]
    host = ibis.coalesce(t["host.name"], ibis.literal("?"))
    dev = ibis.coalesce(t["observer.name"], ibis.literal(""))
    return ibis.cases((ds.startswith("windows."), ds.concat("@", host)),
                      (dev != "", ds.concat("@", dev)), else_=ds)  # fmt: skip


def edges(ctx: Context) -> list[Edge]:
    t = ctx.events
    out: list[Edge] = []
    for kind, keys in KEYS.items():
        cond = t["@timestamp"].notnull()
        for k in keys:
            cond = cond & t[k].notnull()
        names = [f"_k{i}" for i in range(len(keys))]
        base = t.filter(cond).select(_src=_label(t), _ts=t["@timestamp"],
                                     **{n: t[k] for n, k in zip(names, keys, strict=True)})
        counts = base.group_by(["_src", *names]).aggregate(_n=base.count())
        rare = counts.filter(counts["_n"] <= MAX_REPEATS).drop("_n")
        base = base.join(rare, ["_src", *names])
        other = base.select(_src_b=base["_src"], _ts_b=base["_ts"],
                            **{f"{n}_b": base[n] for n in names})  # fmt: skip
        preds = [base[n] == other[f"{n}_b"] for n in names] + [base["_src"] < other["_src_b"]]
        j = base.join(other, preds)
        j = j.mutate(_d=_seconds(j["_ts"]) - _seconds(j["_ts_b"]))
        j = j.filter(j["_d"].abs() <= MATCH[kind])
        agg = j.group_by(["_src", "_src_b"]).aggregate(
            n=j.count(), d=j["_d"].median(), q1=j["_d"].quantile(0.25),
            q3=j["_d"].quantile(0.75))  # fmt: skip
        # one clock offset makes the differences agree; chance matches scatter them
        agg = agg.filter((agg["n"] >= MIN_PAIRS) & ((agg["q3"] - agg["q1"]) <= SPREAD))
        for r in ctx.rows(agg.order_by(["_src", "_src_b"])):  # same edge order on any engine
            out.append(Edge(r["_src"], r["_src_b"], int(r["n"]), float(r["d"]), kind))
    return out


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
                     f"(median difference {diff:+.0f} s relative to {parent}); "
                     f"reference: {what} ({len(refs)} source(s))")  # fmt: skip
            hours = round(rel / 3600)
            if hours and abs(rel - hours * 3600) <= 120:
                basis += (f"; a whole {hours:+d} h: more likely a time-zone misread than drift, "
                          "check the zone this source was read in")  # fmt: skip
            out.append(ClockSkew(source=s, offset_seconds=round(rel, 1), basis=basis))
    return sorted(out, key=lambda c: -abs(c.offset_seconds))


def estimate(ctx: Context) -> list[ClockSkew]:
    return solve(edges(ctx))


def apply(events: Any, skews: list[ClockSkew]) -> Any:
    """``events`` with each skewed source's ``@timestamp`` moved back by its offset."""
    if not skews:
        return events
    label = _label(events)
    ts = events["@timestamp"]
    fixed = ibis.cases(
        *(
            (label == s.source, ts - ibis.interval(milliseconds=round(s.offset_seconds * 1000)))
            for s in skews
        ),
        else_=ts,
    )
    for s in skews:
        s.applied = True
    return events.mutate(**{"@timestamp": fixed})
