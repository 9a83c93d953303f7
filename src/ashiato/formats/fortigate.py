"""FortiGate ``key=value`` logs (domain.md 3.3): traffic, UTM (ips, virus, webfilter,
app-ctrl, ...) and event logs, values quoted or not, bare or inside a syslog envelope
(``<189>date=...``, RFC 3164 ``Sep  9 11:45:07 FG-TOKYO date=...`` or RFC 5424).

Parsing is vectorised per ~8 MB chunk (``vector.scan_kv``): the keys below are found
by their bytes, not by one regular expression each, so the cost does not grow with
the number of keys. Keys outside ``KEYS`` are not kept: building a JSON object of
every key of every line would cost more than the rest of the parser; the useful
ones (countries, policy, session, NAT, application, interfaces, UTM details) are in
``EXTRA`` and land in ``extra``.

Time: ``eventtime`` wins when present: it is an epoch in UTC (seconds on older
firmware, milli/micro/nanoseconds on newer; the unit is read from its size) and so is
the least ambiguous. Otherwise ``date`` + ``time`` are device-local wall-clock time,
read with the line's ``tz`` (``+0900``) when logged, else in the source's zone.
Lines with neither fall back to the syslog envelope's time. ``devname`` is
``observer.name`` (else the envelope host).

Mapping: srcip/srcport/dstip/dstport -> source/destination ip/port; sentbyte ->
source.bytes; rcvdbyte -> destination.bytes; proto -> network.transport (6 tcp, 17
udp, 1 icmp...); service -> network.protocol (lower case); action -> event.action;
logid -> event.code; type -> event.provider, type/subtype -> event.category; level ->
event.severity (syslog numbers); attack/virus/app -> rule.name; attackid/virusid ->
rule.id; catdesc -> rule.category; hostname -> url.domain and destination.domain;
url (+ hostname when the url is a path) -> url.original; user/srcuser -> user.name;
msg -> message; ``duration`` (seconds) -> extra ``event.duration`` (nanoseconds).

VPN events (``type=event subtype=vpn``, FortiOS log ids 39424-39426, 39947-39949 for
SSL-VPN, 37138/37141 for IPsec) follow the shared remote-access interface:
observer.type ``vpn``; action ``ssl-login-fail`` -> event.action ``vpn-login`` (outcome
failure, category authentication; ``reason`` such as ``sslvpn_login_unknown_user`` in
extra), ``tunnel-up`` -> ``vpn-session-start``, ``tunnel-down`` -> ``vpn-session-end``
(category session; ``tunnel-stats`` keeps its name, category session); remip -> source.ip
(the client's public address), tunnelip (or IPsec ``assignip``) -> host.ip, user (or
IPsec ``xauthuser``) -> user.name, sentbyte/rcvdbyte -> source/destination.bytes as for
traffic; group, tunneltype, tunnelid, vpntunnel in extra. FortiGate writes no success
line for an SSL-VPN login: the ``tunnel-up`` is it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.syslog import YearState, peel
from ashiato.schema import TS, batch_from_columns

MAPPED = (
    "date", "time", "tz", "eventtime", "devname", "logid", "type", "subtype", "level",
    "srcip", "srcport", "dstip", "dstport", "proto", "service", "action", "status",
    "sentbyte", "rcvdbyte", "attack", "attackid", "virus", "virusid", "catdesc",
    "hostname", "url", "user", "srcuser", "msg", "duration",
)  # fmt: skip
EXTRA = (
    "devid", "vd", "eventtype", "severity", "policyid", "sessionid", "srcintf", "dstintf",
    "srccountry", "dstcountry", "trandisp", "transip", "transport", "tranip", "tranport",
    "app", "appcat",
    "utmaction", "direction", "profile", "ref", "reason", "logdesc", "dstuser", "filename",
    "quarskip", "craction", "crscore", "crlevel", "group", "tunneltype", "tunnelid",
    "vpntunnel", "xauthgroup", "dst_host", "nextstat",
)  # fmt: skip
# VPN events (type=event subtype=vpn): the remote client and its tunnel address
VPN_KEYS = ("remip", "tunnelip", "assignip", "xauthuser")
KEYS = vx.KeyTable(MAPPED + EXTRA + VPN_KEYS)

_TRANSPORT = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "47": "gre", "50": "esp"}
_SEVERITY = {
    "emergency": 0, "alert": 1, "critical": 2, "error": 3, "warning": 4,
    "notice": 5, "notification": 5, "information": 6, "debug": 7,
}  # fmt: skip
_CATEGORY = {
    "forward": "network", "local": "network", "multicast": "network", "sniffer": "network",
    "ips": "intrusion_detection", "anomaly": "intrusion_detection", "virus": "malware",
    "webfilter": "web", "app-ctrl": "network", "dns": "network", "emailfilter": "email",
    "dlp": "file", "waf": "web", "ssl": "network", "user": "authentication",
    "vpn": "network", "system": "configuration",
}  # fmt: skip
_FAILED = (
    "deny", "denied", "block", "blocked", "drop", "dropped", "reset", "reset_client",
    "reset_server", "drop_session", "clear_session", "failed", "failure", "timeout-deny",
    "ssl-login-fail",
)  # fmt: skip
# the shared remote-access actions (docs/formats.md): SSL-VPN and dial-up IPsec
_VPN_ACTIONS = {
    "ssl-login-fail": "vpn-login", "tunnel-up": "vpn-session-start",
    "tunnel-down": "vpn-session-end",
}  # fmt: skip
_VPN_CATEGORY = {"vpn-login": "authentication", "vpn-session-start": "session",
                 "vpn-session-end": "session", "tunnel-stats": "session"}  # fmt: skip
_NULL = pa.scalar(None, pa.string())
_SNIFF = re.compile(r"(?:^|[\s>])(?:logid|devid|devname|type)=")
_SNIFF_TIME = re.compile(r"(?:^|[\s>])(?:date=\S+ time=\d|eventtime=\d)")


def sniff(sample: Sample) -> bool:
    return sample.mostly(lambda ln: _SNIFF_TIME.search(ln) and _SNIFF.search(ln))


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    workers = int(source.options.get("workers", 2))
    years = source.year_state()

    def chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
        return parse_chunk(source, years, first, lines, rejects)

    return vx.parse_parallel(source, chunk, workers, keep_ends=True)


def parse_chunk(
    source: Source, years: YearState, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    try:
        return _parse_chunk(source, years, first, lines, rejects)
    finally:
        years.skip(first, len(lines))  # always, or later chunks would wait for ever


def _parse_chunk(
    source: Source, years: YearState, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    n = len(lines)
    v, found = vx.scan_kv(lines, KEYS)  # "-" and empty values are already null
    ts = _times(v, source)
    devname = v["devname"]
    no_env = vx.mask(pc.is_null(ts)) | vx.mask(pc.is_null(devname))
    need_env = np.flatnonzero((found > 0) & no_env)
    if len(need_env):
        # the envelope's year inference runs in file order, whatever thread this is
        years.wait_turn(first)
        sub = pc.utf8_rtrim(lines.take(pa.array(need_env)), "\r\n")
        env = peel(sub, source.tz, years)
        ts = pc.coalesce(ts, vx.scatter(env.timestamp, need_env, n))
        devname = pc.coalesce(devname, vx.scatter(env.host, need_env, n))
    blank = vx.mask(pc.equal(pc.utf8_trim_whitespace(lines), ""))
    no_kv = (found == 0) & ~blank
    no_ts = (found > 0) & vx.mask(pc.is_null(ts))
    bad = no_kv | no_ts
    if bad.any():
        rows = np.flatnonzero(bad)
        reasons = [
            "no key=value pairs of a FortiGate log" if no_kv[r] else
            "no usable time (date/time, eventtime or syslog header)"
            for r in rows
        ]  # fmt: skip
        vx.reject_rows(rejects, first, lines, rows, reasons)
    keep = np.flatnonzero(~(bad | blank))
    if not len(keep):
        return None
    if len(keep) < n:
        sel = pa.array(keep)
        v = {k: a.take(sel) for k, a in v.items()}
        ts, devname = ts.take(sel), devname.take(sel)
    return batch_from_columns(_columns(v, ts, devname, keep + first), len(keep))


def _times(v: dict[str, pa.Array], source: Source) -> pa.Array:
    """UTC time of every line: eventtime, else date+time in tz/source zone; null if none."""
    n = len(v["date"])
    out = pa.nulls(n, TS)
    et = v["eventtime"]
    if et.null_count < n:
        num, _bad = vx.to_int(et)
        scale = pc.if_else(
            pc.less(num, 100_000_000_000), 1_000_000,
            pc.if_else(pc.less(num, 100_000_000_000_000), 1_000, 1),
        )  # fmt: skip
        us = pc.multiply(num, scale)
        us = pc.if_else(pc.greater_equal(num, 10**17), pc.divide(num, 1000), us)
        out = us.cast(pa.timestamp("us")).cast(TS)
    date, hms = v["date"], v["time"]
    missing = pc.is_null(out)
    if pc.any(pc.and_(missing, pc.is_valid(date))).as_py():
        text = pc.binary_join_element_wise(date, hms, " ")
        naive = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=True)
        local = vx.localize(naive, source.tz)
        tz = v["tz"]
        if tz.null_count < n:
            local = pc.coalesce(_with_offset(naive, tz), local)
        out = pc.coalesce(out, local)
    return out


def _with_offset(naive: pa.Array, tz: pa.Array) -> pa.Array:
    """Wall-clock times with a ``+0900`` / ``-05:00`` offset per row -> UTC."""
    m = pc.extract_regex(tz, r"^(?P<s>[+-])(?P<h>\d\d):?(?P<m>\d\d)$")
    hours = pc.struct_field(m, "h").cast(pa.int64())
    minutes = pc.struct_field(m, "m").cast(pa.int64())
    secs = pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60))
    secs = pc.if_else(pc.equal(pc.struct_field(m, "s"), "-"), pc.negate(secs), secs)
    local_us = naive.cast(pa.int64())
    utc_us = pc.subtract(local_us, pc.multiply(secs, 1_000_000))
    return utc_us.cast(pa.timestamp("us")).cast(TS)


def _no_na(arr: pa.Array) -> pa.Array:
    """FortiGate writes N/A for an unknown user."""
    return pc.if_else(pc.fill_null(pc.equal(arr, "N/A"), False), _NULL, arr)


def _lookup(values: pa.Array, table: dict[str, object], typ: pa.DataType) -> pa.Array:
    keys = list(table)
    idx = pc.index_in(values, value_set=pa.array(keys))
    return pa.array([table[k] for k in keys], typ).take(idx)


def _columns(
    v: dict[str, pa.Array], ts: pa.Array, devname: pa.Array, records: np.ndarray
) -> dict[str, pa.Array]:
    m = len(records)
    action = pc.utf8_lower(v["action"])
    status = pc.utf8_lower(v["status"])
    failed = pc.is_in(pc.coalesce(status, action), value_set=pa.array(_FAILED))
    known = pc.is_valid(pc.coalesce(status, action))
    outcome = pc.if_else(failed, "failure", pc.if_else(known, "success", _NULL))
    proto = v["proto"]
    transport = pc.coalesce(_lookup(proto, dict(_TRANSPORT), pa.string()), proto)
    ltype = pc.utf8_lower(v["type"])
    category = pc.coalesce(
        _lookup(pc.utf8_lower(v["subtype"]), dict(_CATEGORY), pa.string()),
        pc.if_else(pc.equal(ltype, "traffic"), "network", _NULL),
    )
    logins = pc.fill_null(pc.is_in(action, value_set=pa.array(["login", "logout"])), False)
    category = pc.if_else(logins, "authentication", category)
    vpn = pc.fill_null(pc.equal(pc.utf8_lower(v["subtype"]), "vpn"), False)
    if pc.any(vpn).as_py():
        vpn_action = pc.if_else(vpn, _lookup(action, dict(_VPN_ACTIONS), pa.string()), _NULL)
        action = pc.coalesce(vpn_action, action)
        category = pc.if_else(
            vpn, pc.coalesce(_lookup(action, dict(_VPN_CATEGORY), pa.string()), category),
            category,
        )  # fmt: skip
    source_ip = pc.coalesce(v["srcip"], pc.if_else(vpn, v["remip"], _NULL))
    tunnel_ip = pc.coalesce(_no_na(v["tunnelip"]), _no_na(v["assignip"]))
    tunnel_ip = pc.if_else(pc.fill_null(pc.equal(tunnel_ip, "(null)"), False), _NULL, tunnel_ip)
    tunnel_ip = pc.if_else(vpn, tunnel_ip, _NULL)
    observer = pc.if_else(vpn, "vpn", "firewall")
    user = pc.coalesce(_no_na(v["user"]), _no_na(v["srcuser"]), _no_na(v["xauthuser"]))
    host, url = v["hostname"], v["url"]
    is_path = pc.fill_null(pc.starts_with(url, "/"), False)
    url_full = pc.if_else(
        pc.and_(is_path, pc.is_valid(host)), pc.binary_join_element_wise(host, url, ""), url
    )
    duration, _ = vx.to_int(v["duration"])
    extra = [("event.duration", pc.multiply(duration, 1_000_000_000), False)]
    extra += [("subtype", v["subtype"], True)]
    extra += [(k, v[k], True) for k in EXTRA]
    return {
        "@timestamp": ts,
        "event.code": v["logid"],
        "event.action": action,
        "event.category": category,
        "event.outcome": outcome,
        "event.severity": _lookup(pc.utf8_lower(v["level"]), dict(_SEVERITY), pa.int32()),
        "event.provider": ltype,
        "message": v["msg"],
        "source.ip": source_ip,
        "source.port": vx.to_int(v["srcport"], pa.int32())[0],
        "source.bytes": vx.to_int(v["sentbyte"])[0],
        "destination.ip": v["dstip"],
        "destination.port": vx.to_int(v["dstport"], pa.int32())[0],
        "destination.bytes": vx.to_int(v["rcvdbyte"])[0],
        "destination.domain": host,
        "network.transport": transport,
        "network.protocol": pc.utf8_lower(v["service"]),
        "user.name": user,
        "host.ip": tunnel_ip,
        "url.original": url_full,
        "url.domain": pc.utf8_lower(host),
        "url.path": pc.if_else(is_path, url, _NULL),
        "rule.name": pc.coalesce(v["attack"], v["virus"]),
        "rule.id": pc.coalesce(v["attackid"], v["virusid"]),
        "rule.category": v["catdesc"],
        "observer.name": devname,
        "observer.type": observer,
        "observer.vendor": vx.constant("fortinet", m),
        "extra": vx.json_objects(extra, m),
        "record": pa.array(records, pa.int64()),
    }


FORMAT = Format(
    name="fortigate",
    dataset="fortinet.fortigate",
    description="FortiGate key=value logs (traffic, UTM, event), bare or in syslog",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.code", "event.action", "event.category", "event.outcome",
        "event.severity", "event.provider", "message", "source.ip", "source.port",
        "source.bytes", "destination.ip", "destination.port", "destination.bytes",
        "destination.domain", "network.transport", "network.protocol", "user.name",
        "host.ip", "url.original", "url.domain", "url.path", "rule.name", "rule.id",
        "rule.category", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
