"""Who had which address when: an IP ↔ host ↔ user timeline.

Sources, strongest first: DHCP leases, then sightings that tie an address to a host or a
user at a moment: network logons on servers (4624 IpAddress + WorkstationName + account;
a computer account ``PC-01$`` names its PC), Sysmon network connections (the host's own
address), AV console rows (endpoint + IP), proxy and firewall users. Every later answer
that starts from an IP asks ``at(ip, time)``; loopback, link-local, multicast and
broadcast addresses are never anybody (indicators.never_a_host).

Leases come from a state machine per address keyed on the server's event ID, never on
the (localised) description (domain.md 8.1): Microsoft 10/11 (and BOOTP 20/21) grant
or extend, 12 release, 16 delete, 17/18 expire and 23 (BOOTP delete) end it; 13
conflict, 15 NACK, 30-35 DNS updates, 33 NAP and 36 failover drops, 24/25 cleanup and
50+ rogue-server rows change nothing. ISC dhcpd's DHCPACK grants, DHCPRELEASE/EXPIRE
end. The audit log has no lease duration: a lease runs until it is ended, the address
goes to another client (MAC, else name), the same client takes another address, or the
scope's lease time passes since the last grant (twice the usual renewal gap when the
renewals show one, else 8 days). A MAC seen under two names (a shared dock or USB NIC)
keeps the names apart.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np

from ashiato.analysis.context import Context
from ashiato.analysis.indicators import is_client, never_a_host
from ashiato.engines import EVENT_ORDER, json_field
from ashiato.normalize import host_key

LEASE_MAX = timedelta(days=8)  # Windows DHCP's default scope lease
MIN_RENEW_GAP = timedelta(minutes=10)  # closer grants are retries, not renewals
DAILY_REBOOT = timedelta(hours=20)  # renewals this far apart may be morning boots
SIGHTING_WINDOW = timedelta(hours=24)
SCAN_MAX = 24  # spans of one address scanned in Python; more are compared as arrays


@dataclass
class Lease:
    ip: str
    host: str
    start: datetime
    end: datetime
    ref: str
    mac: str | None = None


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


class _Spans:
    """One address's sightings as epoch-microsecond spans, answering "nearest to t".

    The answer is the span with the smallest gap (0 inside it), the first of equals,
    within the window. A few spans are scanned in Python; more at once as arrays (an
    address behind a proxy collects a span per user and day). Times asked again are
    remembered: analyses ask about the same logon or flow times over and over.
    """

    def __init__(self, size: int, spans: list[tuple[int, int, Sighting]]) -> None:
        self.size = size
        self.spans = spans  # (first, last, sighting), exact microseconds since 1970
        self.firsts = np.array([f for f, _, _ in spans], dtype=np.int64)
        self.lasts = np.array([la for _, la, _ in spans], dtype=np.int64)
        self.memo: dict[int, Sighting | None] = {}

    @classmethod
    def of(cls, seen: list[Sighting], want: str) -> _Spans:
        return cls(len(seen), [(_us(s.first), _us(s.last), s)
                               for s in seen if getattr(s, want) is not None])  # fmt: skip

    def nearest(self, when: datetime | None) -> Sighting | None:
        if not self.spans:
            return None
        if when is None:
            return self.spans[0][2]
        at = _us(when)
        if at not in self.memo:
            self.memo[at] = self.scan(at) if len(self.spans) <= SCAN_MAX else self._array(at)
        return self.memo[at]

    def scan(self, at: int) -> Sighting | None:
        window = _us_delta(SIGHTING_WINDOW)
        best, best_gap = None, window + 1
        for first, last, s in self.spans:
            gap = 0 if first <= at <= last else min(abs(first - at), abs(last - at))
            if gap < best_gap:
                best, best_gap = s, gap
                if gap == 0:
                    break
        return best

    def _array(self, at: int) -> Sighting | None:
        gap = self.gaps(np.int64(at))
        k = int(gap.argmin())  # the first of equals, as the scan keeps it
        return self.spans[k][2] if gap[k] <= _us_delta(SIGHTING_WINDOW) else None

    def gaps(self, at: Any) -> Any:
        """Each span's distance to ``at`` (0 inside it); a column of times gives a row each."""
        f, la = self.firsts, self.lasts
        return np.where((f <= at) & (at <= la), 0, np.minimum(np.abs(f - at), np.abs(la - at)))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _us(t: datetime) -> int:
    """Exact microseconds since 1970 (float seconds would blur ties near a crossing)."""
    return (t - (_EPOCH if t.tzinfo else _EPOCH.replace(tzinfo=None))) // _MICRO


def _us_delta(d: timedelta) -> int:
    return d // _MICRO


def _chunk(width: int) -> int:
    """Rows of asks per array comparison: about a million cells at a time."""
    return max(1, 1_000_000 // max(width, 1))


@dataclass
class Identity:
    leases: dict[str, list[Lease]] = field(default_factory=dict)
    sightings: dict[str, list[Sighting]] = field(default_factory=dict)
    _index: tuple[dict[str, set[str]], dict[str, Counter[str]]] | None = field(
        default=None, repr=False
    )
    _spans: dict[tuple[str, str], _Spans] = field(default_factory=dict, repr=False)

    def at(self, ip: str | None, when: datetime | None) -> Resolution:
        if not ip:
            return Resolution(None, None, "no address")
        if never_a_host(ip):
            return Resolution(None, None, "loopback/link-local/broadcast: not a host")
        host, basis = self._host(ip, when)
        user = None
        s = self._nearest(ip, when, want="user")
        if s is not None:
            user = s.user
        elif host is not None:
            user = self.main_user(host)
        return Resolution(host, user, basis)

    def host_at(self, ip: str | None, when: datetime | None) -> str | None:
        """``at(ip, when).host`` without the user (half the work, for per-row lookups)."""
        if not ip or never_a_host(ip):
            return None
        return self._host(ip, when)[0]

    def hosts_at(self, asks: Sequence[tuple[str | None, datetime | None]]) -> list[str | None]:
        """``host_at`` for many (address, time) pairs at once: what lateral movement asks for
        every logon and flow. The same answers (the first lease holding the time, else the
        sighting with the smallest gap, first of equals, within the window), worked out
        per address as one array comparison instead of a Python scan per pair."""
        out: list[str | None] = [None] * len(asks)
        by_ip: dict[str, list[int]] = defaultdict(list)
        for k, (ip, _when) in enumerate(asks):
            if ip and not never_a_host(ip):
                by_ip[ip].append(k)
        for ip, ks in by_ip.items():
            whens = [asks[k][1] for k in ks]
            for k, host in zip(ks, self._hosts_of_ip(ip, whens), strict=True):
                out[k] = host
        return out

    def _hosts_of_ip(self, ip: str, whens: list[datetime | None]) -> list[str | None]:
        hosts: list[str | None] = [None] * len(whens)
        timed = [k for k, w in enumerate(whens) if w is not None]
        at = np.array([_us(w) for w in whens if w is not None], dtype=np.int64)
        leases = self.leases.get(ip, [])
        if leases and len(at):
            starts = np.array([_us(x.start) for x in leases], dtype=np.int64)
            ends = np.array([_us(x.end) for x in leases], dtype=np.int64)
            step = _chunk(len(leases))
            for lo in range(0, len(at), step):
                t = at[lo : lo + step, None]
                held = (starts <= t) & (t <= ends)
                first = held.argmax(axis=1)
                for j in np.flatnonzero(held.any(axis=1)):
                    hosts[timed[lo + j]] = leases[first[j]].host
        spans = self._spans_of(ip, "host")
        if not spans.spans:
            return hosts
        window = _us_delta(SIGHTING_WINDOW)
        step = _chunk(len(spans.spans))
        for lo in range(0, len(at), step):
            t = at[lo : lo + step, None]
            gap = spans.gaps(t)
            best = gap.argmin(axis=1)  # the first of equals, as the scan keeps it
            near = gap[np.arange(len(t)), best] <= window
            for j in np.flatnonzero(near):
                k = timed[lo + j]
                if hosts[k] is None:
                    hosts[k] = spans.spans[best[j]][2].host
        for k, w in enumerate(whens):
            if w is None:
                hosts[k] = spans.spans[0][2].host
        return hosts

    def _host(self, ip: str, when: datetime | None) -> tuple[str | None, str]:
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
        return host, basis

    def _nearest(self, ip: str, when: datetime | None, want: str) -> Sighting | None:
        """The sighting of ``ip`` naming a ``want`` (host or user) closest to ``when``:
        0 inside its span, else the distance to it, within SIGHTING_WINDOW; the first
        of equals. Analyses ask this for every logon and flow (hundreds of thousands of
        times on a big case), so each address's spans are indexed (:class:`_Spans`) and
        rebuilt when sightings were added since."""
        return self._spans_of(ip, want).nearest(when)

    def _spans_of(self, ip: str, want: str) -> _Spans:
        """The address's spans naming a ``want``, rebuilt when sightings were added since."""
        seen = self.sightings.get(ip, [])
        spans = self._spans.get((ip, want))
        if spans is None or spans.size != len(seen):
            spans = self._spans[(ip, want)] = _Spans.of(seen, want)
        return spans

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
    explicit_sightings(ctx, ident)  # issue 16
    return ident


# What each Microsoft DHCP audit event ID does to the lease of the address it names
# (domain.md 8.1). The Description column is localised, so only the ID counts.
_MS_START = frozenset(("10", "11", "20", "21"))  # assign, renew, BOOTP and dynamic BOOTP
_MS_END = frozenset(("12", "16", "17", "18", "23"))  # release, deleted, expired, BOOTP deleted
# Everything else changes nobody's lease: 13 conflict and 15 NACK (the client never got
# the address), 14/22 pool exhausted, 24/25 cleanup, 30-35 DNS updates, 33 NAP and
# 36 failover drops, 50+ rogue-server detection, 00-02 log state.
# ISC dhcpd says the same in words (the syslog verb, lower case in event.action).
_ISC_START = frozenset(("dhcpack", "bootreply"))
_ISC_END = frozenset(("dhcprelease", "dhcpexpire", "dhcpexpired"))
DHCP_DATASETS = ("windows.dhcp", "isc.dhcpd")


def dhcp_effect(dataset: str | None, code: str | None, action: str | None) -> str | None:
    """``"start"``, ``"end"`` or None (no change) for one DHCP server event."""
    if dataset == "windows.dhcp":
        c = str(code or "").lstrip("0") or "0"
        return "start" if c in _MS_START else "end" if c in _MS_END else None
    verb = str(action or "").lower()
    return "start" if verb in _ISC_START else "end" if verb in _ISC_END else None


def lease_time(renewals: dict[tuple[str, str], list[datetime]]) -> timedelta:
    """The scope's lease time, from the rhythm of renewals (clients renew at half of it).

    The audit log never states the lease time. When most gaps between one client's
    consecutive grants of the same address sit near one value shorter than a day, that
    value is half the lease; otherwise (few renewals, reboots blurring the rhythm, or a
    daily rhythm that morning boots make whatever the lease) 8 days, the Windows default.
    """
    gaps = sorted(
        (b - a).total_seconds()
        for times in renewals.values()
        for a, b in itertools.pairwise(times)
        if (b - a) >= MIN_RENEW_GAP
    )
    if len(gaps) < 5:
        return LEASE_MAX
    mid = gaps[len(gaps) // 2]
    near = sum(1 for g in gaps if abs(g - mid) <= 0.1 * mid)
    if near * 2 < len(gaps) or mid >= DAILY_REBOOT.total_seconds():
        # PCs booting every morning renew about every 24 h whatever the lease time:
        # only a shorter rhythm is the clients' own T1 renewal
        return LEASE_MAX
    return min(timedelta(seconds=2 * mid), LEASE_MAX)


@dataclass
class _Grant:
    ts: datetime
    ip: str
    host: str | None
    mac: str | None
    effect: str
    ref: str


def _dhcp(ctx: Context, ident: Identity) -> None:
    t = ctx.events
    q = t.filter(t["event.dataset"].isin(list(DHCP_DATASETS)) & t["host.ip"].notnull())
    q = q.select(
        "@timestamp",
        "event.dataset",
        "event.code",
        "event.action",
        "host.ip",
        "host.name",
        "host.mac",
        "evidence_id",
        "record",
    ).order_by(EVENT_ORDER)
    grants: list[_Grant] = []
    names_of_mac: dict[str, set[str]] = defaultdict(set)
    for r in ctx.rows(q):
        effect = dhcp_effect(r["event.dataset"], r["event.code"], r["event.action"])
        ip = str(r["host.ip"])
        if effect is None or never_a_host(ip):
            continue
        host = r["host.name"] if r["host.name"] and r["host.name"] != "-" else None
        mac = str(r["host.mac"]).lower() if r["host.mac"] else None
        if host and mac:
            names_of_mac[mac].add(host)
        ref = f"{r['evidence_id']}:{r['record']}"
        grants.append(_Grant(r["@timestamp"], ip, host, mac, effect, ref))
    # a grant without a name takes its MAC's name, but only if that MAC never had another
    # (a shared dock or USB NIC carries several PCs' leases: never merge them)
    for g in grants:
        if g.host is None and g.mac and len(names_of_mac.get(g.mac, ())) == 1:
            g.host = next(iter(names_of_mac[g.mac]))
    renewals: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for g in grants:
        if g.effect == "start" and g.host:
            renewals[(g.ip, g.host)].append(g.ts)
    term = lease_time(renewals)
    per_ip: dict[str, list[_Grant]] = defaultdict(list)
    for g in grants:
        per_ip[g.ip].append(g)
    for ip, events in per_ip.items():
        ident.leases[ip] = _leases_of(ip, events, term)
    _left_old_address(ident)


def _same_holder(lease: Lease, g: _Grant) -> bool:
    if lease.host and g.host:
        return lease.host == g.host
    return bool(lease.mac and g.mac and lease.mac == g.mac)


def _leases_of(ip: str, events: list[_Grant], term: timedelta) -> list[Lease]:
    """One address's leases: a grant opens (or extends) one, 12/16/17/18 close it, the
    address going to another client ends it, and silence ends it after the lease time."""
    leases: list[Lease] = []
    for g in events:
        cur = leases[-1] if leases and leases[-1].end > g.ts else None
        if g.effect == "end":
            # a release names its client; an expiry row may not: it ends the current lease
            if cur is not None and (g.mac is None or cur.mac is None or _same_holder(cur, g)):
                cur.end = g.ts
            continue
        if g.host is None:
            # a grant nobody can name: it still ends the lease of a different MAC
            if cur is not None and cur.mac and g.mac and cur.mac != g.mac:
                cur.end = g.ts
            continue
        if cur is not None and _same_holder(cur, g):
            cur.end = max(cur.end, g.ts + term)
            cur.mac = cur.mac or g.mac
            continue
        if cur is not None:
            cur.end = g.ts  # the address went to another client
        leases.append(Lease(ip, g.host, g.ts, g.ts + term, g.ref, g.mac))
    return leases


def _left_old_address(ident: Identity) -> None:
    """A client given another address has left the old one, even if nobody else took it
    (the old lease would otherwise run on for the whole lease time). Clients are told
    apart by MAC where the log has one, else by name."""
    per_client: dict[str, list[Lease]] = defaultdict(list)
    for leases in ident.leases.values():
        for lease in leases:
            per_client[f"{lease.mac or ''}|{lease.host}"].append(lease)
    for leases in per_client.values():
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
    # Sysmon 3 names the connection's initiator as its source: on an inbound connection
    # (Initiated false) the host's own address is the destination, the source the peer's
    # (EVTX keeps Initiated as a JSON boolean, NXLog and Winlogbeat as a string)
    said = ("winlog", "event_data", "Initiated")
    inbound = (json_field(t["extra"], *said).lower() == "false") | (
        json_field(t["extra"], *said, as_="boolean") == ibis.literal(False)
    )
    own_ip = ibis.cases((inbound, t["destination.ip"]), else_=t["source.ip"])
    sysmon = t.filter(
        (t["event.dataset"] == "windows.sysmon") & (t["event.code"] == "3") & own_ip.notnull()
    ).mutate(
        _host=t["host.name"],
        _user=ibis.null("string"),
        _ip=own_ip,
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
        if not is_client(ip):
            continue
        user = r["_user"]
        host = host_key(r["_host"]) if r["_host"] and r["_host"] != "-" else None
        basis = r["_basis"]
        if user and user.split("@")[0].endswith("$"):
            # a computer account (PC-OSK-0112$) authenticating from an address is that PC:
            # Kerberos logons carry no WorkstationName, the machine's own ticket does
            if host is None:
                host = host_key(user.split("@")[0])
                basis = "computer account logon"
            user = None
        if user and user.lower() in ("-", "anonymous logon", "system"):
            user = None
        if host is None and user is None:
            continue
        s = Sighting(
            ip,
            host,
            user.lower() if user else None,
            r["first"],
            r["last"],
            basis,
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


# -- issue 16 hook: a server's static address, named by a logon met at both ends --------

EXPLICIT_TIE = timedelta(minutes=2)


def explicit_sightings(ctx: Context, ident: Identity) -> None:
    """A static server address (no lease, no computer-account logon) named from both ends
    of one connection: host A logs 4648 (explicit credentials) for account U to address X,
    and within two minutes exactly one other host B logs U's network logon (4624 type 3)
    coming from A (its WorkstationName, or A's address). Then X was B's address. PsExec,
    ``net use \\10.0.0.20`` and runas /netonly leave this pair when the target's own
    address appears in no other log (default logging, no Sysmon)."""
    t = ctx.events
    data = ("winlog", "event_data")
    src = t.filter(
        (t["event.code"] == "4648") & t["destination.ip"].notnull() & t["host.name"].notnull()
    ).mutate(_target_user=json_field(t["extra"], *data, "TargetUserName"))
    src = src.filter(src["_target_user"].notnull())
    out = ctx.rows(
        src.select(
            "@timestamp", "host.name", "destination.ip", "_target_user", "evidence_id", "record"
        ).order_by(["@timestamp", "evidence_id", "record"]),
        limit=20_000,
    )
    out = [
        r for r in out if is_client(r["destination.ip"]) and not never_a_host(r["destination.ip"])
    ]
    if not out:
        return
    users = sorted({str(r["_target_user"]).lower() for r in out})
    lo = min(r["@timestamp"] for r in out) - EXPLICIT_TIE
    hi = max(r["@timestamp"] for r in out) + EXPLICIT_TIE
    dst = t.filter(
        (t["event.code"] == "4624")
        & (t["winlog.logon.type"] == 3)
        & t["host.name"].notnull()
        & t["user.name"].lower().isin(users)
        & t["@timestamp"].between(lo, hi)
    ).mutate(_ws=json_field(t["extra"], "workstation"))
    logons = ctx.rows(
        dst.select("@timestamp", "host.name", "user.name", "source.ip", "_ws").order_by(
            ["@timestamp", "host.name"]
        ),
        limit=200_000,
    )
    for r in out:
        a, x, when = host_key(r["host.name"]), r["destination.ip"], r["@timestamp"]
        user = str(r["_target_user"]).lower()
        met = {
            host_key(b["host.name"])
            for b in logons
            if str(b["user.name"]).lower() == user
            and abs((b["@timestamp"] - when).total_seconds()) <= EXPLICIT_TIE.total_seconds()
            and host_key(b["host.name"]) != a
            and (
                host_key(b["_ws"]) == a
                or (b["source.ip"] and ident.at(b["source.ip"], b["@timestamp"]).host == a)
            )
        }
        met.discard(None)
        if len(met) != 1:
            continue  # nobody, or several hosts at once: no address is named
        b = met.pop()
        basis = f"explicit-credential logon from {a} met on {b}'s own log"
        ss = ident.sightings.setdefault(x, [])
        ss.append(Sighting(x, b, None, when, when, basis, f"{r['evidence_id']}:{r['record']}"))
        ss.sort(key=lambda s: s.first)
