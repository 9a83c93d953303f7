"""How one piece of network activity shows up in every device that sees it.

Topology (one place, so every source agrees):
- HTTP(S) goes through Squid at HQ as a transparent proxy: the proxy, the firewalls and the
  IDS all see the client's own address and the real server address.
- Branch PCs reach HQ and the Internet over a VPN: their branch FortiGate logs every session
  (SMB to FS01 included); FG-TOKYO logs everything that leaves for the Internet, with NAT.
- Traffic between HQ PCs and the servers stays on the LAN: no firewall sees it.
- Suricata listens on the HQ core: client HTTP, DNS to DC01, SMB flows, and the DMZ.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import urlsplit

from ashiato.lab.clock import jst_offset_iso
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import Proc
from ashiato.lab.world import EGRESS_IP, SERVERS, Host

DNS_SERVER = SERVERS["DC01"].ip
FS01_IP = SERVERS["FS01"].ip


@dataclass(slots=True)
class Req:
    url: str
    ip: str
    size: int
    ctype: str
    country: str = "Japan"
    method: str = "GET"
    status: int = 200
    referer: str | None = None
    ua: str | None = None  # None: the host's browser
    elapsed: int = 180  # ms
    gap: int = 150  # ms after the previous request completed
    sent: int = 420  # request bytes incl. headers (POST bodies are bigger)
    auth: bool = True  # the proxy logs the user name when the host authenticates
    code: str = "TCP_MISS"
    # Filled in by web(): where the request went on the wire, so callers can tie IDS alerts
    # and file records to the same flow.
    at: int = 0
    sport: int = 0
    flow: int = 0

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or self.url.split(":")[0]

    @property
    def https(self) -> bool:
        return self.method == "CONNECT"


def fw_session(ctx: Ctx, host: Host, ip: str, start: int, end: int, dst: str, dport: int,
               service: str, sent: int, rcvd: int, country: str, *, internet: bool = True,
               action: str = "close", sport: int | None = None) -> None:
    """One TCP session as the FortiGates on its path log it (at session end)."""
    sport = sport or ctx.port()
    dur = max(1, (end - start) // 1000)
    common = {"kind": "traffic", "srcip": ip, "srcport": sport, "dstip": dst, "dstport": dport,
              "service": service, "duration": dur, "sentbyte": sent, "rcvdbyte": rcvd,
              "action": action, "dstcountry": country if internet else "Reserved"}
    site = host.site
    if not site.hq:
        ctx.emit(f"fw:{site.firewall}", end, {**common, "srcintf": "internal",
                                              "dstintf": "to-HQ", "policyid": 2})
    if internet:
        ctx.emit("fw:FG-TOKYO", end + 2, {
            **common, "srcintf": "internal" if site.hq else f"to-{site.name.upper()}",
            "dstintf": "wan1", "policyid": 3, "transip": EGRESS_IP,
            "transport": 40000 + sport % 20000})


def dns_query(ctx: Ctx, ip: str, ts: int, name: str, rng: random.Random) -> None:
    ctx.emit("ids", ts, {"flow_id": ctx.flow_id(), "event_type": "dns", "src_ip": ip,
                         "src_port": ctx.port(), "dest_ip": DNS_SERVER, "dest_port": 53,
                         "proto": "UDP", "dns": {"type": "query", "id": rng.randint(1, 65535),
                                                 "rrname": name, "rrtype": "A", "tx_id": 0}})


def ids_alert(ctx: Ctx, ts: int, flow_id: int, src: str, sport: int, dst: str, dport: int,
              sid: int, signature: str, category: str, severity: int,
              http: dict[str, object] | None = None) -> None:
    rec: dict[str, object] = {
        "flow_id": flow_id, "event_type": "alert", "src_ip": src, "src_port": sport,
        "dest_ip": dst, "dest_port": dport, "tx_id": 0,
        "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 2,
                  "signature": signature, "category": category, "severity": severity},
    }
    if http:
        rec["app_proto"] = "http"
        rec["http"] = http
    ctx.emit("ids", ts, rec)


def web(ctx: Ctx, host: Host, ip: str, start: int, reqs: list[Req], rng: random.Random,
        proc: Proc | None = None) -> int:
    """A burst of requests from one PC; returns when the last one completed.

    Emits the proxy lines, IDS http/dns events, the PC's Sysmon 3/22 if it was collected,
    and one firewall session per server contacted.
    """
    ep = ctx.endpoint(host)
    if ep is not None and proc is None:
        proc = ep.ensure_browser(start)
    t = start
    # The Windows DNS client caches answers: one query per name per PC and day is enough.
    resolved = ctx.dns_cache.setdefault(host.short, set())
    sessions: dict[str, list[int]] = {}  # server ip -> [first, last, sent, rcvd, port, flow]
    for r in reqs:
        t += r.gap
        name = r.hostname
        if name not in resolved:
            resolved.add(name)
            dns_query(ctx, ip, t - 4, name, rng)
            if ep is not None and proc is not None:
                ep.dns(t - 3, proc, name, r.ip)
        s = sessions.get(r.ip)
        if s is None:
            s = sessions[r.ip] = [t, t, 0, 0, ctx.port(), ctx.flow_id()]
            if ep is not None and proc is not None:
                ep.connect(t - 1, proc, ip, r.ip, 443 if r.https else 80, name)
        done = t + r.elapsed
        r.at, r.sport, r.flow = t, s[4], s[5]
        s[1], s[2], s[3] = done, s[2] + r.sent, s[3] + r.size + 310
        user = host.user.sam if host.proxy_auth and r.auth else None
        url = f"{name}:443" if r.https else r.url
        ctx.emit("proxy", done, {"elapsed": r.elapsed, "client": ip, "code": r.code,
                                 "status": r.status, "bytes": r.size, "method": r.method,
                                 "url": url, "user": user,
                                 "server_ip": None if r.code == "TCP_HIT" else r.ip,
                                 "ctype": None if r.https else r.ctype})
        if not r.https:
            split = urlsplit(r.url)
            path = split.path + (f"?{split.query}" if split.query else "")
            http: dict[str, object] = {
                "hostname": name, "url": path or "/",
                "http_user_agent": r.ua or host.ua, "http_content_type": r.ctype,
                "http_method": r.method, "protocol": "HTTP/1.1", "status": r.status,
                "length": r.size}
            if r.referer:
                http["http_refer"] = r.referer
            ctx.emit("ids", t, {"flow_id": s[5], "event_type": "http", "src_ip": ip,
                                "src_port": s[4], "dest_ip": r.ip, "dest_port": 80,
                                "tx_id": 0, "http": http})
        t = done
    countries = {r.ip: r.country for r in reqs}
    for dst, (first, last, sent, rcvd, port, _flow) in sessions.items():
        https = any(r.https for r in reqs if r.ip == dst)
        fw_session(ctx, host, ip, first, last + rng.randint(200, 4000), dst,
                   443 if https else 80, "HTTPS" if https else "HTTP", sent, rcvd,
                   countries[dst], sport=port)
    return t


def smb_connect(ctx: Ctx, host: Host, ip: str, start: int) -> None:
    """The client side of opening an SMB session: the PC's Sysmon 3 (System -> FS01:445)."""
    ep = ctx.endpoint(host)
    if ep is not None:
        ep.connect(start, ep.system, ip, FS01_IP, 445, "FS01")


def smb_close(ctx: Ctx, host: Host, ip: str, start: int, end: int, sent: int,
              rcvd: int, sport: int | None = None) -> None:
    """What the network logs when an SMB session with FS01 ends: branch firewall, IDS flow.

    ``sport`` is the session's client port, the one FS01's 4624/5140 show: a branch
    firewall's SMB sessions then match the file server's share audit (its only witness
    when no PC of the branch is collected)."""
    if not host.site.hq:
        fw_session(ctx, host, ip, start, end, FS01_IP, 445, "SMB", sent, rcvd, "Reserved",
                   internet=False, sport=sport)
    ids_flow(ctx, ip, FS01_IP, 445, start, end, sent, rcvd, "smb")


def ids_flow(ctx: Ctx, src: str, dst: str, dport: int, start: int, end: int, to_server: int,
             to_client: int, app_proto: str) -> None:
    ctx.emit("ids", end, {
        "flow_id": ctx.flow_id(), "event_type": "flow", "src_ip": src, "src_port": ctx.port(),
        "dest_ip": dst, "dest_port": dport, "app_proto": app_proto,
        "flow": {"pkts_toserver": to_server // 1300 + 2, "pkts_toclient": to_client // 1300 + 2,
                 "bytes_toserver": to_server, "bytes_toclient": to_client,
                 "start": jst_offset_iso(start), "end": jst_offset_iso(end),
                 "age": max(0, (end - start) // 1000), "state": "closed", "reason": "timeout",
                 "alerted": False}})
