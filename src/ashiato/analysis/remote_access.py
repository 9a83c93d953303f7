"""Remote-access sessions: who held which VPN address when, and what it reached.

VPN rows follow the shared remote-access interface (``observer.type = "vpn"``,
``event.action`` ``vpn-login`` / ``vpn-session-start`` / ``vpn-session-end``, ``user.name``,
``source.ip`` = the client's public address, ``host.ip`` = the tunnel address). They are
joined into :class:`VpnSession` (user ↔ tunnel IP ↔ public IP over time) so that an RDP or
SMB logon from the VPN pool resolves to the remote user and where they came from
(:class:`Pool`; :func:`ashiato.analysis.identity.vpn_sightings` puts the sessions into the
identity timeline and :func:`vpn_logons` into the vector chain). Remote desktop logons
(4624 type 10, TerminalServices 1149 / 21) are read here too, each with where it came
from. The entry findings built on these are in :mod:`entry`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import ibis

from ashiato.analysis import fetch
from ashiato.analysis.context import Context, extra_of
from ashiato.analysis.indicators import is_internal
from ashiato.analysis.vector_web import country
from ashiato.exports import iso
from ashiato.i18n import msg, said
from ashiato.normalize import host_key

VPN_ACTIONS = ("vpn-login", "vpn-session-start", "vpn-session-end")
LOGIN_JOIN = timedelta(minutes=10)  # a tunnel comes up within minutes of its login
OPEN_SESSION = timedelta(hours=24)  # a session with no end row: assume it ran at most a day
CLOCK_SLACK = timedelta(minutes=2)
COLUMNS = (
    "@timestamp",
    "event.dataset",
    "event.code",
    "event.action",
    "event.category",
    "event.outcome",
    "host.name",
    "host.ip",
    "user.name",
    "user.domain",
    "source.ip",
    "source.bytes",
    "destination.bytes",
    "destination.domain",
    "observer.name",
    "observer.vendor",
    "observer.type",
    "winlog.logon.type",
    "message",
    "extra",
    "evidence_id",
    "record",
)


@dataclass
class VpnSession:
    user: str | None
    public_ip: str | None
    tunnel_ip: str | None
    start: datetime
    end: datetime | None
    observer: str | None
    vendor: str | None
    country: str | None
    source_bytes: int | None = None
    destination_bytes: int | None = None
    resources: list[str] = field(default_factory=list)  # RD Gateway: computers reached
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def until(self) -> datetime:
        return self.end or self.start + OPEN_SESSION

    def covers(self, when: datetime) -> bool:
        return self.start - CLOCK_SLACK <= when <= self.until() + CLOCK_SLACK

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "public_ip": self.public_ip,
            "country": self.country,
            "tunnel_ip": self.tunnel_ip,
            "start": iso(self.start),
            "end": iso(self.end),
            "observer": self.observer,
            "vendor": self.vendor,
            "source_bytes": self.source_bytes,
            "destination_bytes": self.destination_bytes,
            "resources": self.resources,
            "refs": [ref_of(r) for r in self.rows[:5]],
        }


class Pool:
    """Resolve an inside address at a moment to the VPN session that held it."""

    def __init__(self, sessions: list[VpnSession]) -> None:
        self.by_ip: dict[str, list[VpnSession]] = defaultdict(list)
        for s in sessions:
            if s.tunnel_ip:
                self.by_ip[s.tunnel_ip].append(s)

    def at(self, ip: str | None, when: datetime | None) -> VpnSession | None:
        if not ip or when is None:
            return None
        hits = [s for s in self.by_ip.get(ip, []) if s.covers(when)]
        return max(hits, key=lambda s: s.start) if hits else None  # the latest holder


def ref_of(r: dict[str, Any]) -> str:
    return f"{r.get('evidence_id')}:{r.get('record')}"


def user_of(r: dict[str, Any]) -> str | None:
    u = r.get("user.name")
    return str(u).strip().lower() or None if u else None


def select_rows(ctx: Context, expr: Any, limit: int | None = None) -> list[dict[str, Any]]:
    cols = [c for c in COLUMNS if c in expr.columns]
    return fetch.rows(ctx, expr, cols, limit=limit)


def vpn_rows(ctx: Context) -> list[dict[str, Any]]:
    """The remote-access rows; identity, vectors, entry and the pipeline each read them, so
    the query runs once per context (callers don't modify the rows)."""
    if "vpn_rows" not in ctx.memo:
        t = ctx.events
        # equalities the Parquet scan takes (their OR made it read every row)
        said = fetch.any_of(t, "event.action", VPN_ACTIONS)
        said = said.filter(ibis.coalesce(said["observer.type"] != "vpn", True))
        ctx.memo["vpn_rows"] = select_rows(ctx, t.filter(t["observer.type"] == "vpn").union(said))
    rows: list[dict[str, Any]] = ctx.memo["vpn_rows"]
    return rows


def sessions(ctx: Context, rows: list[dict[str, Any]] | None = None) -> list[VpnSession]:
    """VPN sessions in time order: a login, the tunnel it brought up, and its end."""
    out: list[VpnSession] = []
    open_: list[VpnSession] = []
    for r in vpn_rows(ctx) if rows is None else rows:
        action, ts, user = r.get("event.action"), r["@timestamp"], user_of(r)
        pub = r.get("source.ip")
        tun = r.get("host.ip")
        if action not in VPN_ACTIONS:
            continue
        if action == "vpn-login":
            if r.get("event.outcome") != "success":
                continue
            s = _new(r, user, pub, tun)
            out.append(s)
            open_.append(s)
        elif action == "vpn-session-start":
            if r.get("event.outcome") == "failure":
                continue  # e.g. RD Gateway 304: the connection was refused
            hit = next(
                (
                    s
                    for s in reversed(open_)
                    if s.user == user
                    and s.tunnel_ip is None
                    and (pub is None or s.public_ip in (None, pub))
                    and ts - s.start <= LOGIN_JOIN
                ),
                None,
            )
            if hit is None:
                s = _new(r, user, pub, tun)
                out.append(s)
                open_.append(s)
            else:
                s = hit
                s.tunnel_ip = tun
                s.public_ip = s.public_ip or pub
                s.country = s.country or _reported(r.get("extra")) or country(pub)
                s.rows.append(r)
        elif action == "vpn-session-end":
            hit = next(
                (
                    s
                    for s in reversed(open_)
                    if (tun and s.tunnel_ip == tun)
                    or (s.user == user and (pub is None or s.public_ip == pub))
                ),
                None,
            )
            if hit is None:  # the start is older than the log: what the end row says
                s = _new(r, user, pub, tun)
                out.append(s)
            else:
                s = hit
                open_.remove(s)
                s.rows.append(r)
            s.end = ts
            s.source_bytes = r.get("source.bytes")
            s.destination_bytes = r.get("destination.bytes")
    for s in out:
        names = {host_key(d) or d for r in s.rows if (d := r.get("destination.domain"))}
        s.resources = sorted(names)
    pool = Pool(out)
    for s in out:  # a tunnel address reused by a later session ends the earlier one
        for later in pool.by_ip.get(s.tunnel_ip or "", []):
            if s.end is None and later.start > s.start and later.start < s.until():
                s.end = later.start
    return sorted(out, key=lambda s: s.start)


def _new(r: dict[str, Any], user: str | None, pub: str | None, tun: str | None) -> VpnSession:
    return VpnSession(
        user=user,
        public_ip=pub,
        tunnel_ip=tun,
        start=r["@timestamp"],
        end=None,
        observer=r.get("observer.name"),
        vendor=r.get("observer.vendor"),
        country=(_reported(r.get("extra")) or country(pub)) if pub else None,
        rows=[r],
    )


# where VPN devices write the country their own geolocation gave the remote address
# (FortiGate srccountry, PAN-OS/GlobalProtect srcloc or srcregion, ECS-shaped exports)
_COUNTRY_KEYS = ("srccountry", "srcloc", "srcregion", "source_country",
                 "source.geo.country_iso_code", "source.geo.country_name")  # fmt: skip
_NO_COUNTRY = frozenset(("", "n/a", "reserved", "unknown", "-", "none"))


def row_country(r: dict[str, Any]) -> str | None:
    """ISO code of the country of a row's public source address: what the device that logged
    it said (its geolocation at the time), else the offline table (vector_web.country)."""
    told = _reported(r.get("extra"))
    return told or country(r.get("source.ip"))


def _reported(extra: Any) -> str | None:
    if not extra:
        return None
    try:
        data = json.loads(extra) if isinstance(extra, (str, bytes)) else extra
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in _COUNTRY_KEYS:
        value = data.get(key)
        # PAN-OS writes the range for a private address (10.0.0.0-10.255.255.255)
        if isinstance(value, str) and value.strip().lower() not in _NO_COUNTRY:
            if not any(c.isdigit() for c in value):
                return country_code(value.strip())
    return None


def country_code(name: str) -> str:
    """``United States`` → ``US`` (ISO 3166 names of tzdata's iso3166.tab, and the longer
    names devices use); a two-letter code stays; an unknown name is kept as written."""
    if len(name) == 2 and name.isalpha():
        return name.upper()
    return _iso_names().get(name.lower(), name)


def country_name(code: str | None) -> str | None:
    """``US`` → ``United States`` (tzdata's iso3166.tab), for the sentences people read."""
    if not code:
        return None
    return _titles().get(code.upper(), code)


@cache
def _titles() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _iso_text().splitlines():
        code, _, name = line.partition("\t")
        if name and not line.startswith("#"):
            out[code.strip()] = name.strip()
    return out


@cache
def _iso_text() -> str:
    try:
        return (resources.files("tzdata") / "zoneinfo" / "iso3166.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        sys_tab = Path("/usr/share/zoneinfo/iso3166.tab")
        return sys_tab.read_text("utf-8") if sys_tab.is_file() else ""


@cache
def _iso_names() -> dict[str, str]:
    text = _iso_text()
    out: dict[str, str] = {}
    for line in text.splitlines():
        code, _, name = line.partition("\t")
        if name and not line.startswith("#"):
            out[name.strip().lower()] = code.strip()
    # the formal names some geolocation databases print
    for long, code in (("united states of america", "US"), ("russian federation", "RU"),
                       ("korea, republic of", "KR"), ("republic of korea", "KR"),
                       ("iran, islamic republic of", "IR"), ("viet nam", "VN"),
                       ("taiwan, province of china", "TW"), ("hong kong sar", "HK"),
                       ("united kingdom of great britain and northern ireland", "GB"),
                       ("netherlands (the)", "NL"), ("czechia", "CZ")):  # fmt: skip
        out.setdefault(long, code)
    return out


def rdp_logons(ctx: Context, pool: Pool) -> list[dict[str, Any]]:
    """Remote desktop logons (4624 type 10, TerminalServices 1149 / 21) and where from:
    the internet, a VPN session (whose user and public address), or the inside."""
    t = ctx.events
    rdp4624 = (t["event.code"] == "4624") & (t["winlog.logon.type"] == 10)
    ts = t["event.dataset"].contains("terminalservices") & t["event.code"].isin(["1149", "21"])
    out: list[dict[str, Any]] = []
    for r in select_rows(ctx, t.filter(rdp4624 | ts), limit=5000):
        ip, user = r.get("source.ip"), user_of(r)
        if r["event.code"] != "4624":
            data = _user_data(r)
            ip = data.get("Param3") or data.get("Address") or ip
            raw = data.get("Param1") or data.get("User") or ""
            user = str(raw).rsplit("\\", 1)[-1].lower() or None
        if not ip or ip in ("127.0.0.1", "::1", "LOCAL", "-"):
            continue
        s = pool.at(ip, r["@timestamp"])
        out.append(
            {
                "time": iso(r["@timestamp"]),
                "host": r.get("host.name"),
                "user": user,
                "source_ip": ip,
                "exposed": not is_internal(ip) and s is None,
                "country": country(ip),
                "vpn": {
                    "user": s.user,
                    "public_ip": s.public_ip,
                    "country": s.country,
                    "start": iso(s.start),
                }
                if s
                else None,
                "ref": ref_of(r),
                "_row": r,
            }
        )
    return out


def _user_data(r: dict[str, Any]) -> dict[str, Any]:
    w = extra_of(r).get("winlog") or {}
    data = w.get("user_data") or w.get("event_data") or {}
    return data if isinstance(data, dict) else {}


def vpn_logons(
    ctx: Context, host: str, lo: datetime, hi: datetime, sess: list[VpnSession]
) -> list[tuple[str, dict[str, Any]]]:
    """For the vector: logons on ``host`` (4624 RDP or network) from an address that was in
    a VPN session at the time, each preceded by that session's sign-in row."""
    pool = Pool(sess)
    if not pool.by_ip:
        return []
    t = ctx.events
    q = t.filter(
        (t["host.name"] == host)
        & (t["event.code"] == "4624")
        & t["winlog.logon.type"].isin([3, 10])
        & t["@timestamp"].between(lo, hi)
        & t["source.ip"].isin(sorted(pool.by_ip))
    )
    out: list[tuple[str, dict[str, Any]]] = []
    signed: set[int] = set()
    for r in select_rows(ctx, q, limit=200):
        s = pool.at(r.get("source.ip"), r["@timestamp"])
        if s is None:
            continue
        if id(s) not in signed:
            signed.add(id(s))
            out.append(_sign_in(s))
        how = "remote desktop" if r.get("winlog.logon.type") == 10 else "network"
        out.append((said(f"{how} logon from the VPN address {s.tunnel_ip} ({s.user})",
                         f"vector.role.vpn_logon.{how.replace(' ', '_')}", ip=s.tunnel_ip,
                         user=s.user), r))
    return out


def _sign_in(s: VpnSession) -> tuple[str, dict[str, Any]]:
    """The VPN sign-in behind a session, as a step of a vector's chain."""
    where = f"{s.public_ip or '?'} ({s.country or 'country unknown'})"
    return (said(f"VPN sign-in of {s.user} from {where}", "vector.role.vpn_sign_in",
                 user=s.user, ip=s.public_ip or "?",
                 country=s.country or msg("country_unknown")), s.rows[0])  # fmt: skip


REMOTE_PORTS = (3389, 22, 5985, 5986)  # a desktop or a shell on the host


def vpn_flows(
    ctx: Context, ips: list[str], lo: datetime, hi: datetime, sess: list[VpnSession]
) -> list[tuple[str, dict[str, Any]]]:
    """For the vector when the host's own logs are missing: firewall or Zeek flows from a
    VPN tunnel address to the host's address on a remote-desktop or shell port."""
    pool = Pool(sess)
    t = ctx.events
    if not pool.by_ip or not ips or "destination.port" not in t.columns:
        return []
    q = t.filter(
        t["source.ip"].isin(sorted(pool.by_ip))
        & t["destination.ip"].isin(sorted(ips))
        & t["destination.port"].isin(list(REMOTE_PORTS))
        # a firewall logs a session when it closes, hours after the desktop opened
        & (t["@timestamp"] >= lo)
        & ibis.coalesce(t["observer.type"] != "vpn", True)
    )
    out: list[tuple[str, dict[str, Any]]] = []
    signed: set[int] = set()
    for r in select_rows(ctx, q, limit=200):
        s = pool.at(r.get("source.ip"), r["@timestamp"])
        if s is None or s.start > hi:
            continue
        if id(s) not in signed:
            signed.add(id(s))
            out.append(_sign_in(s))
        port = r.get("destination.port")
        out.append((said(f"connection from the VPN address {s.tunnel_ip} ({s.user}) to port "
                         f"{port}", "vector.role.vpn_connection", ip=s.tunnel_ip, user=s.user,
                         port=port), r))
    return out


def reached(ctx: Context, sess: list[VpnSession], limit: int = 20) -> list[str]:
    """Inside addresses the VPN sessions' tunnel addresses talked to (firewall, Zeek)."""
    tunnels = sorted({s.tunnel_ip for s in sess if s.tunnel_ip})
    if not tunnels:
        return []
    t = ctx.events
    q = t.filter(
        t["source.ip"].isin(tunnels)
        & t["destination.ip"].notnull()
        & ibis.coalesce(t["observer.type"] != "vpn", True)
    )
    agg = q.group_by("destination.ip").aggregate(n=q.count(), first=q["@timestamp"].min())
    rows = ctx.rows(agg.order_by([ibis.desc("n"), "destination.ip"]), limit=500)
    return [r["destination.ip"] for r in rows if is_internal(r["destination.ip"])][:limit]
