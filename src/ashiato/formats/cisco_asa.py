"""Cisco ASA (and Firepower Threat Defense) syslog messages (domain.md 3.5).

A line is ``[envelope] %ASA-<level>-<id>: <text>`` (``%FTD-``, ``%PIX-``, ``%FWSM-`` too).
The envelope depends on ``logging timestamp`` and the relay: the ASA's own
``Sep 09 2015 11:45:04`` (with year; device-local, read in the source's zone), an ISO
time with its offset (``logging timestamp rfc5424``), or only a collector's RFC 3164 /
5424 header (year inferred by the shared syslog peeler). ``asa01 :`` after the time
is the device id -> observer.name.

Messages read into fields (others keep their text in ``message`` with event.code and
event.severity):

- 302013/302015 Built {inbound|outbound} TCP/UDP connection, 302014/302016 Teardown.
  The ASA names the outside (lower-security) side first ("for outside:... to
  inside:..."), so for **outbound** connections the *to* side is the initiator ->
  source.*, and for inbound the *for* side is. A Teardown takes the direction of its
  Built line, paired by connection id; without one (the Built was before the log
  starts) the side with the lower port below 1024 is the responder, else the *to*
  side is taken as the initiator (outbound is the common case). 302014's ``bytes``
  counts both directions, so it goes to extra ``network.bytes``, not source.bytes;
  ``duration`` -> extra ``event.duration`` (ns); the teardown reason -> extra ``reason``; mapped
  (NAT) addresses -> extra ``nat_source_ip``/``nat_destination_ip`` (+ ports).
- 106023 Deny ... by access-group, 106100 access-list permitted/denied, 106001, 106006,
  106007, 106015 and 710003 denies: source/destination, ACL -> rule.name.
- 305011/305012 dynamic/static translation built/teardown: real -> source, mapped ->
  extra ``nat_source_ip``.
- 304001 Accessed URL: the server address -> destination.ip, what follows its ``:``
  (a URL or a path, as logged) -> url.original.
- 111008/111010 commands run by an administrator -> user.name, extra ``command``.
- 605004/605005 management login, 611101/611102 user authentication: user.name,
  source.ip, outcome.
- Remote access (AnyConnect, clientless WebVPN), in the shared remote-access interface
  with observer.type ``vpn``: 113004/113012 (successful) and 113005/113015 (rejected)
  AAA user authentication -> event.action ``vpn-login``, category authentication, the
  ``user IP`` -> source.ip (the ASA writes ``***`` for the name of a rejected user unless
  told not to: no user.name then); 113039 AnyConnect parent session started, 716001
  WebVPN session started and 722051 address assigned -> ``vpn-session-start`` (722051's
  IPv4 address -> host.ip, the tunnel address); 716002 WebVPN session terminated and
  113019 session disconnected -> ``vpn-session-end`` (reason in extra); 113019's byte
  counts are the ASA's: ``Bytes rcv`` (from the remote user, the session's initiator) ->
  source.bytes, ``Bytes xmt`` (to the user) -> destination.bytes. The per-channel
  722022 (TLS/DTLS channel established) and 722023/722028/722037 (closed) ->
  ``vpn-channel-up`` / ``vpn-channel-down``: a session has several. Category session;
  ``Group <...>`` -> extra ``vpn_group``.

observer.type firewall (vpn for the remote-access events), observer.vendor cisco,
event.dataset cisco.asa.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

import pyarrow as pa

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.syslog import MONTHS, peel

Row = dict[str, Any]

TAG = re.compile(r"%(?P<dev>ASA|FTD|PIX|FWSM)-(?P<level>[0-7])-(?P<id>\d{6}): ?")
_MONTHS = {m: i for i, m in enumerate(MONTHS, 1)}
_OWN_TIME = re.compile(
    r"(?:^|[\s>])(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<year>\d{4}) "
    r"(?P<time>\d\d:\d\d:\d\d)(?:\.\d+)?(?: (?P<host>[^\s:]+))?\s*:?\s*$"
)
_ISO_TIME = re.compile(
    r"(?:^|[\s>])(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r"(?: (?P<host>[^\s:]+))?\s*:?\s*$"
)

_EP = r"(?P<{0}ifc>[^:\s]+):(?P<{0}ip>[^/\s]+)/(?P<{0}port>\d+)"
_USER = r"(?: ?\((?P<{0}user>[^)]*)\))?"
_BUILT = re.compile(
    r"^Built (?P<dir>inbound|outbound) (?P<proto>TCP|UDP|SCTP) connection (?P<id>\d+) for "
    + _EP.format("f") + r" \((?P<fmip>[^/\s]+)/(?P<fmport>\d+)\)" + _USER.format("f")
    + " to " + _EP.format("t") + r" \((?P<tmip>[^/\s]+)/(?P<tmport>\d+)\)" + _USER.format("t")
)  # fmt: skip
_TEARDOWN = re.compile(
    r"^Teardown (?P<proto>TCP|UDP|SCTP) connection (?P<id>\d+) for "
    + _EP.format("f") + _USER.format("f") + " to " + _EP.format("t") + _USER.format("t")
    + r" duration (?P<dur>\d+:\d\d:\d\d) bytes (?P<bytes>\d+)(?: (?P<reason>[^(]*?))?"
    + r"(?: \((?P<user>[^)]*)\))?\s*$"
)  # fmt: skip
_DENY_ACL = re.compile(
    r"^Deny (?P<proto>\S+) src (?P<sifc>[^:\s]+):(?P<sip>[^/\s(]+)(?:/(?P<sport>\d+))?"
    r"(?:\((?P<suser>[^)]*)\))? dst (?P<difc>[^:\s]+):(?P<dip>[^/\s(]+)(?:/(?P<dport>\d+))?"
    r"(?:\([^)]*\))?(?: \(type (?P<itype>\d+), code (?P<icode>\d+)\))?"
    r' by access-group "(?P<acl>[^"]*)"'
)
_ACCESS_LIST = re.compile(
    r"^access-list (?P<acl>\S+) (?P<action>permitted|denied|est-allowed) (?P<proto>\S+) "
    r"(?P<sifc>[^/\s]+)/(?P<sip>[^(\s]+)\((?P<sport>\d+)\)(?:\((?P<suser>[^)]*)\))? -> "
    r"(?P<difc>[^/\s]+)/(?P<dip>[^(\s]+)\((?P<dport>\d+)\)(?:\([^)]*\))? hit-cnt (?P<hits>\d+)"
)
_FROM_TO = re.compile(
    r"from (?:(?P<sifc>[A-Za-z][\w.-]*):)?(?P<sip>[0-9a-fA-F.:]+)(?:/(?P<sport>\d+))?"
    r"(?:\([^)]*\))? to (?:(?P<difc>[A-Za-z][\w.-]*):)?(?P<dip>[0-9a-fA-F.:]+)"
    r"(?:/(?P<dport>\d+))?(?:.*? on interface (?P<ifc>\S+))?"
)
_COMMAND = re.compile(r"^User '(?P<user>[^']*)' executed (?:the )?'?(?P<cmd>.*?)'? command")
_PROTO_WORD = re.compile(r"\b(TCP|UDP|ICMP|tcp|udp|icmp)\b")
_XLATE = re.compile(
    r"^(?P<verb>Built|Teardown) (?P<kind>dynamic|static) (?P<proto>\S+) translation from "
    + _EP.format("s") + r"(?:\([^)]*\))? to (?P<mifc>[^:\s]+):(?P<mip>[^/\s]+)/(?P<mport>\d+)"
    + r"(?: duration (?P<dur>\d+:\d\d:\d\d))?"
)  # fmt: skip
_URL = re.compile(
    r"^(?P<sip>[^\s(]+)(?:\((?P<user>[^)]*)\))? Accessed (?:JAVA )?URL "
    r"(?P<dip>[^:\s]+):(?P<url>.*)$"
)
_AAA = re.compile(r"AAA user (?P<what>authentication|authorization) (?P<res>Successful|Rejected)")
_AAA_USER = re.compile(r"user = (?P<user>.+?)(?: : user IP = (?P<ip>\S+))?\s*$")
_AAA_REASON = re.compile(r"reason = (?P<reason>.+?) :")
_LOGIN = re.compile(
    r"^Login (?P<res>denied|permitted) from (?P<sip>[^/\s]+)/(?P<sport>\S+) to "
    r"(?P<difc>[^:\s]+):(?P<dip>[^/\s]+)/(?P<svc>\S+) for user \"(?P<user>[^\"]*)\""
)
_UNAME = re.compile(
    r"^User authentication (?P<res>succeeded|failed).*?IP(?: address)?[:,] ?(?P<ip>[^\s,:]+)"
    r".*?Uname: ?(?P<user>\S+)"
)
_GROUP_USER = re.compile(r"Group <(?P<group>[^>]*)> User <(?P<user>[^>]*)> IP <(?P<ip>[^>]*)>")
_GROUP_EQ = re.compile(
    r"Group = (?P<group>[^,]*), Username = (?P<user>[^,]*), IP = (?P<ip>[^,]*),"
    r"(?P<rest>.*)$"
)
_ASSIGNED = re.compile(r"Address <(?P<addr>[^>]*)>.* assigned")
_BYTES_XR = re.compile(
    r"Bytes xmt: (?P<xmt>\d+), Bytes rcv: (?P<rcv>\d+)(?:, Reason: (?P<reason>.*))?"
)

_DENY_IDS = frozenset({"106001", "106006", "106007", "106015", "106021", "710003"})
# the shared remote-access actions (docs/formats.md); 7220xx are per-channel (TLS,
# DTLS) events inside a session, so they get their own names, not session start/end
_VPN_ACTIONS = {
    "113039": "vpn-session-start", "716001": "vpn-session-start",
    "722051": "vpn-session-start", "716002": "vpn-session-end", "113019": "vpn-session-end",
    "722022": "vpn-channel-up", "722023": "vpn-channel-down",
    "722028": "vpn-channel-down", "722037": "vpn-channel-down",
}  # fmt: skip
_TERMINATED = re.compile(r"session terminated: (?P<reason>.+?)\.?$")
MAX_OPEN = 1_000_000  # Built lines remembered for pairing (a teardown forgets its own)


def sniff(sample: Sample) -> bool:
    return sample.mostly(TAG.search)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    years = source.year_state()
    rows = Rows(source)
    open_conns: dict[str, bool] = {}  # connection id -> the "to" side initiated
    for first, chunk in vx.line_arrays(source, vx.chunk_bytes(source)):
        lines: list[str] = chunk.to_pylist()
        found: list[tuple[int, re.Match[str]] | None] = []
        need_peel: list[int] = []
        prefixes: list[str] = []
        for i, line in enumerate(lines):
            m = TAG.search(line)
            found.append((i, m) if m else None)
            if m and not (
                _OWN_TIME.search(line, 0, m.start()) or _ISO_TIME.search(line, 0, m.start())
            ):
                need_peel.append(i)
                prefixes.append(line[: m.start()])
        envelopes: dict[int, tuple[datetime | None, str | None]] = {}
        if need_peel:
            env = peel(pa.array(prefixes, pa.string()), source.tz, years)
            for i, ts, host in zip(
                need_peel, env.timestamp.to_pylist(), env.host.to_pylist(), strict=True
            ):
                envelopes[i] = (ts, host)
        for i, line in enumerate(lines):
            record = first + i
            hit = found[i]
            if hit is None:
                if line.strip():
                    source.reject(record, "no %ASA-<level>-<id> message tag", line)
                continue
            m = hit[1]
            ts, host = _prefix_time(line[: m.start()], envelopes.get(i))
            if ts is None:
                source.reject(record, "no usable time before the %ASA tag", line)
                continue
            row = _message(m, line[m.end() :].rstrip(), open_conns)
            row["@timestamp"] = ts
            if host:
                row["observer.name"] = host
            batch = rows.add(record, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


@lru_cache(maxsize=4096)  # the same second is logged many times
def _own_datetime(year: str, mon: str, day: str, hms: str) -> datetime | None:
    month = _MONTHS.get(mon)
    if month is None:
        return None
    try:
        return datetime(int(year), month, int(day), int(hms[:2]), int(hms[3:5]), int(hms[6:8]))
    except ValueError:
        return None


def _own_time(line: str, end: int) -> bool:
    return bool(_OWN_TIME.search(line, 0, end) or _ISO_TIME.search(line, 0, end))


def _prefix_time(
    prefix: str, env: tuple[datetime | None, str | None] | None
) -> tuple[datetime | None, str | None]:
    m = _OWN_TIME.search(prefix)
    if m:
        naive = _own_datetime(m["year"], m["mon"], m["day"], m["time"])
        return (naive, m["host"]) if naive is not None else (None, None)
    m = _ISO_TIME.search(prefix)
    if m:
        try:
            return datetime.fromisoformat(m["iso"].replace("Z", "+00:00")), m["host"]
        except ValueError:
            return None, None
    if env is None:
        return None, None
    return env


def _message(tag: re.Match[str], text: str, open_conns: dict[str, bool]) -> Row:
    code = tag["id"]
    row: Row = {
        "event.code": code,
        "event.severity": int(tag["level"]),
        "event.provider": tag["dev"],
        "message": text,
        "observer.type": "firewall",
        "observer.vendor": "cisco",
    }
    handler = _HANDLERS.get(code)
    if code.startswith(("106", "302", "305", "710")):
        row["event.category"] = "network"
    if handler is not None:
        handler(text, row, open_conns)
    elif code in _DENY_IDS:
        _deny_from_to(text, row)
    elif code in _VPN_ACTIONS:
        _vpn(code, text, row)
    return row


def _side(m: re.Match[str], p: str) -> tuple[str, str, int]:
    return m[p + "ifc"], m[p + "ip"], int(m[p + "port"])


def _set_endpoints(row: Row, src: tuple[str, str, int], dst: tuple[str, str, int]) -> None:
    row["source.ip"], row["source.port"] = src[1], src[2]
    row["destination.ip"], row["destination.port"] = dst[1], dst[2]
    row["source_interface"], row["destination_interface"] = src[0], dst[0]


def _built(text: str, row: Row, open_conns: dict[str, bool]) -> None:
    m = _BUILT.match(text)
    if not m:
        return
    to_initiates = m["dir"] == "outbound"
    cid = m["id"]
    if len(open_conns) >= MAX_OPEN:
        open_conns.pop(next(iter(open_conns)))
    open_conns[cid] = to_initiates
    f, t = _side(m, "f"), _side(m, "t")
    fm, tm = (m["fmip"], m["fmport"]), (m["tmip"], m["tmport"])
    src, dst, src_nat, dst_nat = (t, f, tm, fm) if to_initiates else (f, t, fm, tm)
    _set_endpoints(row, src, dst)
    if src_nat[0] != src[1] or int(src_nat[1]) != src[2]:
        row["nat_source_ip"], row["nat_source_port"] = src_nat[0], int(src_nat[1])
    if dst_nat[0] != dst[1] or int(dst_nat[1]) != dst[2]:
        row["nat_destination_ip"], row["nat_destination_port"] = dst_nat[0], int(dst_nat[1])
    row.update({
        "event.action": "connection-built", "event.outcome": "success",
        "network.transport": m["proto"].lower(), "connection_id": cid, "direction": m["dir"],
    })  # fmt: skip
    user = m["fuser"] or m["tuser"]
    if user:
        _user(row, user)


def _teardown(text: str, row: Row, open_conns: dict[str, bool]) -> None:
    m = _TEARDOWN.match(text)
    if not m:
        return
    cid = m["id"]
    f, t = _side(m, "f"), _side(m, "t")
    known = open_conns.pop(cid, None)
    if known is not None:
        to_initiates = known
        row["direction"] = "outbound" if known else "inbound"
    elif (f[2] < 1024) != (t[2] < 1024):
        to_initiates = f[2] < t[2]  # the well-known port is the responder's
    else:
        to_initiates = True
    src, dst = (t, f) if to_initiates else (f, t)
    _set_endpoints(row, src, dst)
    h, mi, s = (int(x) for x in m["dur"].split(":"))
    row.update({
        "event.action": "connection-teardown", "event.outcome": "success",
        "network.transport": m["proto"].lower(), "connection_id": cid,
        "network.bytes": int(m["bytes"]),
        "event.duration": (h * 3600 + mi * 60 + s) * 1_000_000_000,
    })  # fmt: skip
    if m["reason"]:
        row["reason"] = m["reason"].strip()
    user = m["user"] or m["fuser"] or m["tuser"]
    if user:
        _user(row, user)


def _deny_acl(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _DENY_ACL.match(text)
    if not m:
        return
    row.update({
        "event.action": "deny", "event.outcome": "failure",
        "network.transport": m["proto"].lower(), "source.ip": m["sip"],
        "destination.ip": m["dip"], "source_interface": m["sifc"],
        "destination_interface": m["difc"], "rule.name": m["acl"],
    })  # fmt: skip
    if m["sport"]:
        row["source.port"] = int(m["sport"])
    if m["dport"]:
        row["destination.port"] = int(m["dport"])
    if m["itype"]:
        row["icmp_type"], row["icmp_code"] = int(m["itype"]), int(m["icode"])
    if m["suser"]:
        _user(row, m["suser"])


def _access_list(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _ACCESS_LIST.match(text)
    if not m:
        return
    action = m["action"]
    row.update({
        "event.action": action, "event.outcome": "failure" if action == "denied" else "success",
        "network.transport": m["proto"].lower(), "source.ip": m["sip"],
        "source.port": int(m["sport"]), "destination.ip": m["dip"],
        "destination.port": int(m["dport"]), "source_interface": m["sifc"],
        "destination_interface": m["difc"], "rule.name": m["acl"], "hit_count": int(m["hits"]),
    })  # fmt: skip
    if m["suser"]:
        _user(row, m["suser"])


def _deny_from_to(text: str, row: Row) -> None:
    m = _FROM_TO.search(text)
    row["event.action"], row["event.outcome"] = "deny", "failure"
    if not m:
        return
    row["source.ip"], row["destination.ip"] = m["sip"], m["dip"]
    if m["sport"]:
        row["source.port"] = int(m["sport"])
    if m["dport"]:
        row["destination.port"] = int(m["dport"])
    ifc = m["sifc"] or m["ifc"]
    if ifc:
        row["source_interface"] = ifc
    if m["difc"]:
        row["destination_interface"] = m["difc"]
    proto = _PROTO_WORD.search(text)
    if proto:
        row["network.transport"] = proto[1].lower()


def _xlate(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _XLATE.match(text)
    if not m:
        return
    row.update({
        "event.action": f"translation-{m['verb'].lower()}", "event.outcome": "success",
        "network.transport": m["proto"].lower(), "source.ip": m["sip"],
        "source.port": int(m["sport"]), "source_interface": m["sifc"],
        "nat_source_ip": m["mip"], "nat_source_port": int(m["mport"]),
        "nat_interface": m["mifc"],
    })  # fmt: skip


def _url(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _URL.match(text)
    if not m:
        return
    row.update({
        "event.action": "url-accessed", "event.category": "web", "event.outcome": "success",
        "source.ip": m["sip"], "destination.ip": m["dip"], "url.original": m["url"],
    })  # fmt: skip
    if m["user"]:
        _user(row, m["user"])


def _aaa(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _AAA.search(text)
    if not m:
        return
    ok = m["res"] == "Successful"
    # AAA authentication on an ASA is the remote-access login (administrators' logins
    # are 605004/605005/611101); authorization keeps its own name
    login = m["what"] == "authentication"
    row.update({
        "event.category": "authentication", "event.outcome": "success" if ok else "failure",
        "event.action": "vpn-login" if login else f"authorization-{'success' if ok else 'failure'}",
    })  # fmt: skip
    if login:
        row["observer.type"] = "vpn"
    u = _AAA_USER.search(text)
    if u:
        if u["user"] != "***":  # the ASA masks names of failed logons unless told not to
            _user(row, u["user"])
        if u["ip"]:
            row["source.ip"] = u["ip"]
    r = _AAA_REASON.search(text)
    if r:
        row["reason"] = r["reason"]


def _login(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _LOGIN.match(text)
    if not m:
        return
    ok = m["res"] == "permitted"
    row.update({
        "event.category": "authentication", "event.outcome": "success" if ok else "failure",
        "event.action": f"login-{m['res']}", "source.ip": m["sip"], "destination.ip": m["dip"],
        "network.protocol": m["svc"].lower(), "destination_interface": m["difc"],
    })  # fmt: skip
    if m["sport"].isdigit():
        row["source.port"] = int(m["sport"])
    _user(row, m["user"])


def _uname(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _UNAME.match(text)
    if not m:
        return
    ok = m["res"] == "succeeded"
    row.update({
        "event.category": "authentication", "event.outcome": "success" if ok else "failure",
        "event.action": f"authentication-{'success' if ok else 'failure'}",
        "source.ip": m["ip"],
    })  # fmt: skip
    _user(row, m["user"])


def _vpn(code: str, text: str, row: Row) -> None:
    row["event.category"] = "session"
    row["event.action"] = _VPN_ACTIONS[code]
    row["event.outcome"] = "success"
    row["observer.type"] = "vpn"
    m = _GROUP_USER.search(text) or _GROUP_EQ.search(text)
    if m:
        _user(row, m["user"])
        row["source.ip"], row["vpn_group"] = m["ip"], m["group"]
    a = _ASSIGNED.search(text)
    if a:
        row["host.ip"] = a["addr"]
    t = _TERMINATED.search(text)
    if t:
        row["reason"] = t["reason"]
    b = _BYTES_XR.search(text)
    if b:
        # counted by the ASA: it received from the remote user, transmitted to them
        row["source.bytes"], row["destination.bytes"] = int(b["rcv"]), int(b["xmt"])
        if b["reason"]:
            row["reason"] = b["reason"]


def _command(text: str, row: Row, _open: dict[str, bool]) -> None:
    m = _COMMAND.match(text)
    if not m:
        return
    row["event.category"], row["event.action"] = "configuration", "command-executed"
    row["command"] = m["cmd"]
    _user(row, m["user"])


def _user(row: Row, user: str) -> None:
    user = user.strip()
    if not user or user in ("-", "*****", "***"):
        return
    if "\\" in user:
        dom, _, name = user.rpartition("\\")
        row["user.domain"], row["user.name"] = dom, name
    else:
        row["user.name"] = user


Handler = Callable[[str, Row, dict[str, bool]], None]
_HANDLERS: dict[str, Handler] = {
    "302013": _built, "302015": _built, "302014": _teardown, "302016": _teardown,
    "106023": _deny_acl, "106100": _access_list, "305011": _xlate, "305012": _xlate,
    "304001": _url, "113004": _aaa, "113005": _aaa, "113012": _aaa, "113015": _aaa,
    "605004": _login, "605005": _login, "611101": _uname, "611102": _uname,
    "111008": _command, "111010": _command,
}  # fmt: skip


FORMAT = Format(
    name="cisco_asa",
    dataset="cisco.asa",
    description="Cisco ASA / FTD syslog (%ASA-n-nnnnnn): connections, denies, NAT, VPN, AAA",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.code", "event.severity", "event.provider", "event.action",
        "event.category", "event.outcome", "message", "source.ip", "source.port",
        "source.bytes", "destination.ip", "destination.port", "destination.bytes",
        "network.transport", "network.protocol", "user.name", "user.domain", "host.ip",
        "url.original", "rule.name", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
