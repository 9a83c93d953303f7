"""SonicWall SonicOS syslog (``id=firewall sn=... m=<message id> msg="..."``), with or
without a syslog header, including SSL-VPN (NetExtender / Mobile Connect) user logins.

Fields: ``time`` -> @timestamp (``"2024-02-03 02:10:01"`` is device-local, read in the
source's zone; a trailing `` UTC`` is honoured), ``m`` -> event.code, ``msg`` -> message,
``pri`` -> event.severity, ``sn`` -> observer.name (the serial number: SonicOS writes no
device name), ``src``/``dst`` (``ip:port:interface[:host]``) -> source/destination ip
and port (interfaces and resolved host names in extra), ``usr`` -> user.name
(``DOMAIN\\user`` split), ``sent``/``rcvd`` (WELF: as seen from ``src``) ->
source/destination.bytes, ``proto`` (``tcp/443``) -> network.transport; ``fw`` (the
firewall's WAN address), ``c``/``gcat`` (category), ``note``, ``vpnpolicy``, ``n`` in
extra.

Logins, by message id (SonicOS log events reference) and wording:

- remote-access logins in the shared interface, observer.type ``vpn``: 1080 "SSL VPN zone
  remote user login allowed", 237 "VPN zone remote user login allowed", 238 "WAN zone
  remote user login allowed" -> event.action ``vpn-login``, outcome success; "User login
  denied ..." (32, 33, 243-246, 745-757, 759, 986, 987, 1035, 1048...) and 329 "User
  login failure rate exceeded" -> ``vpn-login`` failure (the denial does not say which
  zone; on an edge firewall these are remote attempts);
- 31 "User login from an internal zone allowed" -> ``login`` success; administrator
  logins (29, 30, 199, 200, 235, 236, 35) -> ``admin-login`` with outcome; "User logged
  out ..." -> ``logout``. Category authentication.

Other messages keep their text with the network fields; observer.type ``firewall``.
SonicOS logs no tunnel address for an SSL-VPN login: host.ip stays empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source

Row = dict[str, Any]

_HEAD = re.compile(r"(?:^|[\s>])id=\"?firewall\"?\s")
_KV = re.compile(r"""(?:^|\s)(?P<k>[A-Za-z_]+)=(?:"(?P<q>[^"]*)"|'(?P<s>[^']*)'|(?P<v>[^\s"']*))""")
_ENDPOINT = re.compile(
    r"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3})(?::(?P<port>\d+))?(?::(?P<ifc>[^:\s]*))?(?::(?P<h>.*))?$"
)
_VPN_LOGIN_OK = frozenset({"1080", "237", "238"})
_ADMIN_OK = frozenset({"29", "199", "235", "236"})
_ADMIN_FAIL = frozenset({"30", "35", "200"})
_SEVERITY_MAX = 7


def sniff(sample: Sample) -> bool:
    return sample.mostly(lambda ln: _HEAD.search(ln) and " sn=" in ln and " m=" in ln)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    for record, line in source.lines():
        if not line.strip():
            continue
        head = _HEAD.search(line)
        if head is None:
            source.reject(record, "no id=firewall: not a SonicWall log line", line)
            continue
        kv = {m["k"]: _value(m) for m in _KV.finditer(line, head.start())}
        ts = _time(kv.get("time", ""))
        if ts is None:
            source.reject(record, 'no readable time="YYYY-MM-DD HH:MM:SS"', line)
            continue
        batch = rows.add(record, _row(kv, ts))
        if batch is not None:
            yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _value(m: re.Match[str]) -> str:
    for group in ("q", "s", "v"):
        if m[group] is not None:
            return m[group]
    return ""


def _time(text: str) -> datetime | None:
    text = text.strip()
    utc = text.endswith(" UTC")
    try:
        ts = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if utc else ts


def _row(kv: dict[str, str], ts: datetime) -> Row:
    code = kv.get("m") or None
    msg = kv.get("msg", "")
    row: Row = {
        "@timestamp": ts,
        "event.code": code,
        "message": msg or None,
        "observer.name": kv.get("sn") or None,
        "observer.type": "firewall",
        "observer.vendor": "sonicwall",
    }
    pri = kv.get("pri", "")
    if pri.isdigit() and int(pri) <= _SEVERITY_MAX:
        row["event.severity"] = int(pri)
    for key, side in (("src", "source"), ("dst", "destination")):
        ep = _ENDPOINT.match(kv.get(key, ""))
        if ep:
            row[f"{side}.ip"] = ep["ip"]
            if ep["port"]:
                row[f"{side}.port"] = int(ep["port"])
            if ep["ifc"]:
                row[f"{side}_interface"] = ep["ifc"]
            if ep["h"]:
                row[f"{side}_host"] = ep["h"]
    for key, col in (("sent", "source.bytes"), ("rcvd", "destination.bytes")):
        if kv.get(key, "").isdigit():
            row[col] = int(kv[key])
    proto = kv.get("proto", "")
    if proto:
        row["network.transport"] = proto.split("/", 1)[0].lower()
    user = kv.get("usr", "").strip()
    if user:
        dom, sep, name = user.rpartition("\\")
        row["user.name"] = name if sep else user
        if sep and dom:
            row["user.domain"] = dom
    for key in ("fw", "c", "gcat", "note", "vpnpolicy", "n", "app", "appName"):
        if kv.get(key):
            row[key] = kv[key]
    _login(code, msg, row)
    return row


def _login(code: str | None, msg: str, row: Row) -> None:
    low = msg.lower()
    action = outcome = None
    if code in _VPN_LOGIN_OK:
        action, outcome = "vpn-login", "success"
    elif low.startswith("user login denied") or low.startswith("user login failure rate"):
        action, outcome = "vpn-login", "failure"
    elif code in _ADMIN_OK or low.startswith("administrator login allowed"):
        action, outcome = "admin-login", "success"
    elif code in _ADMIN_FAIL or low.startswith("administrator login denied"):
        action, outcome = "admin-login", "failure"
    elif low.startswith("user login from an internal zone allowed"):
        action, outcome = "login", "success"
    elif low.startswith("user logged out"):
        action, outcome = "logout", "success"
    if action is None:
        return
    row["event.action"], row["event.outcome"] = action, outcome
    row["event.category"] = "authentication"
    if action == "vpn-login":
        row["observer.type"] = "vpn"  # src is the remote user's public address


FORMAT = Format(
    name="sonicwall",
    dataset="sonicwall.firewall",
    description="SonicWall SonicOS syslog (id=firewall ... m= msg=), incl. SSL-VPN logins",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.code", "event.action", "event.category", "event.outcome",
        "event.severity", "message", "source.ip", "source.port", "source.bytes",
        "destination.ip", "destination.port", "destination.bytes", "network.transport",
        "user.name", "user.domain", "observer.name", "observer.type", "observer.vendor",
        "extra",
    ),
)  # fmt: skip
