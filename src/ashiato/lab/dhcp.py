"""Who is switched on when, and which address DHCP gives them.

Each day every PC that is used gets one or two "on" periods (laptops leave for a meeting
and come back) and a lease per period from a pool only a little larger than the number of
PCs. Addresses are picked at random among the free ones, so a PC rarely keeps yesterday's
address and addresses pass from PC to PC, the situation an analysis must untangle.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

from ashiato.lab.clock import HOUR, MINUTE, SECOND, at, is_workday
from ashiato.lab.ids import rng_for
from ashiato.lab.sink import Sink
from ashiato.lab.story import HostDay
from ashiato.lab.world import SERVERS, Host, World

LEASE_MS = 8 * HOUR
RENEW_MS = LEASE_MS // 2
UDP_IDLE_S = 180  # FortiOS closes (and logs) an idle UDP session after this


@dataclass(slots=True)
class Lease:
    host: Host
    ip: str
    start: int
    end: int
    release: bool  # sends DHCPRELEASE at the end (otherwise the lease just lapses)
    first: bool  # first period of the day (the user logs on)
    last: bool  # last period of the day (the user logs off)
    refused: str | None = None  # the PC first asked for its old address, now another's: NACK


@dataclass(slots=True)
class DayPlan:
    day: int
    leases: list[Lease] = field(default_factory=list)
    by_host: dict[str, list[Lease]] = field(default_factory=dict)

    def ip_of(self, host: Host, ts: int) -> str | None:
        for lease in self.by_host.get(host.short, ()):
            if lease.start <= ts <= lease.end:
                return lease.ip
        return None


def _periods(rng: random.Random, host: Host, day: int) -> list[tuple[int, int]]:
    if not is_workday(day):
        if rng.random() > 0.04:
            return []
        start = at(day, 10) + rng.randint(0, 90) * MINUTE
        return [(start, start + rng.randint(2, 5) * HOUR)]
    if rng.random() > 0.93:  # on leave
        return []
    boot = at(day, 8, 40) + int(rng.gauss(0, 18)) * MINUTE
    boot = min(max(boot, at(day, 7, 45)), at(day, 10, 30)) + rng.randint(0, 59_000)
    end = at(day, 17, 30) + int(rng.expovariate(1 / 90)) * MINUTE + rng.randint(0, 59_000)
    end = min(end, at(day, 22, 30))
    if host.mobile and rng.random() < 0.5:
        out = at(day, 10, 30) + rng.randint(0, 210) * MINUTE
        back = out + rng.randint(60, 180) * MINUTE
        if back < end - HOUR:
            return [(boot, out), (back, end)]
    return [(boot, end)]


class Planner:
    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.yesterday: dict[str, str] = {}  # ip -> host short, last day anyone worked
        self.last_ip: dict[str, str] = {}  # host short -> the address it held last

    def plan(self, day: int, constraints: dict[str, HostDay]) -> DayPlan:
        rng = rng_for(self.seed, "presence", day)
        wanted: list[tuple[int, int, Host, bool, bool, bool, bool]] = []
        for host in self.world.hosts:
            periods = _periods(rng, host, day)
            release = rng.random() < 0.8
            c = constraints.get(host.short)
            if c is not None and c.absent:
                periods = []
            if c is not None and c.boot_before is not None:
                # The storyline needs this PC on (and not wandering off) from before the attack.
                boot = min([p[0] for p in periods] + [c.boot_before - 20 * MINUTE])
                periods = [(boot, max([p[1] for p in periods] + [at(day, 18, 30)]))]
            if c is not None and c.cut_at is not None:
                periods = [(s, min(e, c.cut_at)) for s, e in periods if s < c.cut_at]
            for i, (s, e) in enumerate(periods):
                cut = c is not None and c.cut_at is not None and e == c.cut_at
                wanted.append((s, e, host, release and not cut, i == 0, i == len(periods) - 1,
                               c is not None and c.reuse_ip and i == 0))
        wanted.sort(key=lambda w: (w[0], w[2].name))
        plan = DayPlan(day)
        free = {code: list(pool) for code, pool in self.world.pools.items()}
        busy: list[tuple[int, str, str]] = []  # (free again at, site code, ip), sorted
        for s, e, host, release, first, last, reuse in wanted:
            while busy and busy[0][0] <= s:
                _, code, ip = busy.pop(0)
                bisect.insort(free[code], ip)
            pool = free[host.site.code]
            candidates = pool
            if reuse:  # the storyline wants an address that meant another PC yesterday
                candidates = [ip for ip in pool
                              if self.yesterday.get(ip) not in (None, host.short)] or pool
            ip = rng.choice(candidates)
            pool.remove(ip)
            # A released address is free at once; a lapsed lease only after it expires.
            bisect.insort(busy, (e if release else e + LEASE_MS, host.site.code, ip))
            old = self.last_ip.get(host.short)
            # A rebooting PC asks for its old address first; the server refuses it when
            # that address has gone to another PC meanwhile (domain.md 8.1: 15 ends nothing)
            refused = old if first and old and old != ip and old not in pool else None
            self.last_ip[host.short] = ip
            lease = Lease(host, ip, s, e, release, first, last, refused)
            plan.leases.append(lease)
            plan.by_host.setdefault(host.short, []).append(lease)
        if is_workday(day):
            self.yesterday = {lease.ip: lease.host.short for lease in plan.leases}
        return plan


def emit_day(sink: Sink, plan: DayPlan, rng: random.Random) -> None:
    """All DHCP server lines of a day (assign, DNS registration, renewals, release)."""
    day = plan.day
    sink.emit("dhcp", at(day, 0, 0, 2.0), {"id": 24})
    sink.emit("dhcp", at(day, 0, 0, 2.5), {"id": 25, "text": "0 leases expired and 0 leases "
                                                            "deleted"})
    for lease in plan.leases:
        h = lease.host
        base = {"ip": lease.ip, "host": h.fqdn, "mac": h.mac}
        if lease.refused:
            sink.emit("dhcp", lease.start - 900, {"id": 15, "xid": rng.randint(10**9, 4 * 10**9),
                                                  "ip": lease.refused, "host": h.fqdn,
                                                  "mac": h.mac})
        t, code = lease.start, 10
        while t < lease.end:
            # every assign and renew is followed by the DNS registration of the name
            sink.emit("dhcp", t, {"id": code, "xid": rng.randint(10**9, 4 * 10**9), **base})
            if code == 11 and not h.site.hq:
                # a renewal goes unicast from the PC to the server at head office, so
                # the branch firewall logs the UDP session when it times out
                sink.emit(f"fw:{h.site.firewall}", t + UDP_IDLE_S * SECOND, {
                    "kind": "traffic", "srcip": lease.ip, "srcport": 68,
                    "srcintf": "internal", "dstip": SERVERS["DC01"].ip, "dstport": 67,
                    "dstintf": "to-HQ", "policyid": 2, "service": "DHCP", "proto": 17,
                    "duration": UDP_IDLE_S, "sentbyte": 328, "rcvdbyte": 342,
                    "action": "accept", "dstcountry": "Reserved"})  # fmt: skip
            sink.emit("dhcp", t + 40, {"id": 30, **base})
            sink.emit("dhcp", t + 180, {"id": 32, **base})
            last, t, code = t, t + RENEW_MS, 11
        if lease.release:
            sink.emit("dhcp", lease.end, {"id": 12, "xid": rng.randint(10**9, 4 * 10**9),
                                          **base})
        else:  # the lease lapses; the server's cleanup expires it and removes the DNS name
            # (before the planner may hand the address out again, to anyone)
            expiry = min(last + LEASE_MS + rng.randint(0, 50) * MINUTE,
                         lease.end + LEASE_MS - SECOND)
            sink.emit("dhcp", expiry, {"id": 18, **base})
