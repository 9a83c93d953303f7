"""Ivanti Connect Secure / Pulse Connect Secure (formerly Juniper SA) event logs.

Three shapes of the same events are read, line by line:

- syslog "Standard" format: ``[syslog header] PulseSecure: 2024-02-03 02:11:40 - ics01 -
  [185.220.101.5] tanaka(Users)[Users] - AUT24414: Agent login succeeded for tanaka/Users
  from 185.220.101.5 with Pulse-Secure/9.1.15.2051 (Windows 10) Pulse/9.1.15.2051.``
  (the tag may be ``Juniper:``/``Ivanti:``; the message id prefix is optional);
- WELF: ``id=firewall time="2024-02-03 02:11:40" pri=6 fw=... vpn=ics01 user=tanaka
  realm="Users" roles="Users" proto=auth src=185.220.101.5 ... sent=... rcvd=...
  msg="AUT24414: ..."``;
- the admin console's saved log: ``info - [185.220.101.5] - tanaka(Users)[Users] -
  2024/02/03 02:11:40 - Agent login succeeded ...``.

The device writes its local wall-clock time without offset: read in the source's zone
(the syslog header's time, a collector's, is not used). ``[IP]`` (WELF ``src``) is the
client's address -> source.ip; ``user(realm)[roles]`` -> user.name, extra ``realm`` and
``roles``; the node name -> observer.name; observer.type ``vpn``, vendor ``ivanti``.
WELF ``sent``/``rcvd`` (as seen from ``src``, the client) -> source/destination.bytes,
``agent`` -> user_agent.original.

Messages in the shared remote-access actions:

- ``vpn-login``: ``AUT24414`` Agent login succeeded, ``AUT22670`` Login succeeded
  (success); ``AUT23457`` Login failed using auth server, ``AUT24327`` Primary
  authentication failed, ``AUT22886`` and other "authentication failed" (failure; reason
  in extra). ``AUT24326`` Primary authentication successful -> ``vpn-primary-auth``
  (a step before the login line, not a second login).
- ``vpn-session-start``: ``NWC23464`` VPN Tunneling: Session started for user with IPv4
  address A, hostname H -> host.ip A, extra ``client.hostname`` H.
- ``vpn-session-end``: ``NWC23465`` VPN Tunneling: Session ended for user with IPv4
  address A -> host.ip; ``Closed connection to TUN-VPN ... with R bytes read ... and W
  bytes written`` -> source.bytes R (read from the client), destination.bytes W.
- ``vpn-logout``: ``AUT22673`` Logout from IP.

Other lines keep their text in ``message`` with the id in event.code. Lines of none of
the three shapes are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source

Row = dict[str, Any]

_WHO = r"\[(?P<ip>[^\]]*)\]\s+(?:-\s+)?(?P<user>.*?)\((?P<realm>[^)]*)\)\[(?P<roles>[^\]]*)\]"
STANDARD = re.compile(
    r"(?:^|\s)(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d) - (?P<node>\S+) - "
    + _WHO + r" - (?P<msg>.*)$"
)  # fmt: skip
SAVED = re.compile(
    r"^(?P<sev>info|minor|major|critical|warning|error)\s+-\s+" + _WHO
    + r"\s+-\s+(?P<date>\d{4}/\d\d/\d\d) (?P<time>\d\d:\d\d:\d\d)\s+-\s+(?P<msg>.*)$"
)  # fmt: skip
WELF = re.compile(r'(?:^|\s)id=firewall\s.*\btime="(?P<date>[\d-]+) (?P<time>[\d:]+)"')
_KV = re.compile(r'(?P<k>[a-z_]+)=(?:"(?P<q>[^"]*)"|(?P<v>\S*))')
_CODE = re.compile(r"^(?P<code>[A-Z]{3}\d{5}):\s*")

_LOGIN_OK = re.compile(
    r"^(?:Agent login|Login) succeeded for (?P<user>[^/]+)/(?P<realm>.+?)"
    r"(?: \(session:[^)]*\))? from (?P<ip>\S+?)(?: with (?P<agent>.+?))?\.?$"
)
_PRIMARY = re.compile(
    r"^Primary authentication (?P<res>successful|failed) for (?P<user>[^/]+)/(?P<realm>.+?)"
    r" from (?P<ip>\S+?)\.?$"
)
_LOGIN_FAIL = re.compile(r"^Login failed using auth server (?P<server>.+?)\.\s+Reason: (?P<r>.+)$")
_AUTH_FAIL = re.compile(r"[Aa]uthentication failed")
_TUNNEL = re.compile(
    r"^VPN Tunneling: Session (?P<what>started|ended) for user with IPv4 address "
    r"(?P<addr>[\d.]+)(?:,? hostname (?P<host>\S+))?"
)
_CLOSED = re.compile(
    r"^Closed connection to TUN-VPN.*? with (?P<read>\d+) bytes read.*? and (?P<written>\d+) "
    r"bytes written"
)
_LOGOUT = re.compile(r"^Logout from (?P<ip>\S+?)(?: \(session:[^)]*\))?\.?$")


def sniff(sample: Sample) -> bool:
    def pulse(ln: str) -> bool:
        if SAVED.match(ln) or STANDARD.search(ln):
            return True
        return bool(WELF.search(ln) and " vpn=" in ln and " realm=" in ln)

    return sample.mostly(pulse)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    for record, line in source.lines():
        if not line.strip():
            continue
        row = _row(line)
        if row is None:
            source.reject(record, "not a Connect Secure event log line", line)
            continue
        batch = rows.add(record, row)
        if batch is not None:
            yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _row(line: str) -> Row | None:
    row: Row = {"observer.type": "vpn", "observer.vendor": "ivanti"}
    m = SAVED.match(line) or STANDARD.search(line)
    when = m or WELF.search(line)
    if when is None:
        return None
    if m:
        msg = m["msg"]
        _who(row, m["ip"], m["user"], m["realm"], m["roles"])
        if "node" in m.re.groupindex:
            row["observer.name"] = m["node"]
    else:
        kv = {k["k"]: k["q"] if k["q"] is not None else k["v"] for k in _KV.finditer(line)}
        msg = kv.get("msg", "")
        _who(row, kv.get("src", ""), kv.get("user", ""), kv.get("realm", ""), kv.get("roles", ""))
        row["observer.name"] = kv.get("vpn") or kv.get("fw") or None
        for key, col in (("sent", "source.bytes"), ("rcvd", "destination.bytes")):
            if kv.get(key, "").isdigit():
                # WELF counts as seen from src (the client): sent by it, received by it
                row[col] = int(kv[key])
        if kv.get("agent"):
            row["user_agent.original"] = kv["agent"]
    stamp = f"{when['date'].replace('/', '-')} {when['time']}"
    try:
        row["@timestamp"] = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    code = _CODE.match(msg)
    if code:
        row["event.code"] = code["code"]
        msg = msg[code.end() :]
    row["message"] = msg
    _classify(msg, row)
    return row


def _who(row: Row, ip: str, user: str, realm: str, roles: str) -> None:
    ip, user = ip.strip(), user.strip()
    if ip and ip not in ("127.0.0.1", "0.0.0.0"):  # noqa: S104 - the appliance itself
        row["source.ip"] = ip
    if user and user.lower() != "system":
        row["user.name"] = user
    if realm:
        row["realm"] = realm
    if roles:
        row["roles"] = roles


def _act(row: Row, action: str, category: str, outcome: str) -> None:
    row["event.action"], row["event.category"], row["event.outcome"] = action, category, outcome


def _classify(msg: str, row: Row) -> None:
    if ok := _LOGIN_OK.match(msg):
        _act(row, "vpn-login", "authentication", "success")
        row["user.name"], row["realm"], row["source.ip"] = ok["user"], ok["realm"], ok["ip"]
        if ok["agent"]:
            row["user_agent.original"] = ok["agent"]
    elif p := _PRIMARY.match(msg):
        good = p["res"] == "successful"
        _act(row, "vpn-primary-auth" if good else "vpn-login", "authentication",
             "success" if good else "failure")  # fmt: skip
        row["user.name"], row["realm"], row["source.ip"] = p["user"], p["realm"], p["ip"]
    elif f := _LOGIN_FAIL.match(msg):
        _act(row, "vpn-login", "authentication", "failure")
        row["auth_server"], row["reason"] = f["server"], f["r"]
    elif t := _TUNNEL.match(msg):
        start = t["what"] == "started"
        _act(row, "vpn-session-start" if start else "vpn-session-end", "session", "success")
        row["host.ip"] = t["addr"]
        if t["host"]:
            row["client.hostname"] = t["host"]
    elif c := _CLOSED.match(msg):
        _act(row, "vpn-session-end", "session", "success")
        row["source.bytes"], row["destination.bytes"] = int(c["read"]), int(c["written"])
    elif _LOGOUT.match(msg):
        _act(row, "vpn-logout", "authentication", "success")
    elif _AUTH_FAIL.search(msg):
        _act(row, "vpn-login", "authentication", "failure")


FORMAT = Format(
    name="pulse_secure",
    dataset="ivanti.connect_secure",
    description="Ivanti/Pulse Connect Secure event log (syslog standard, WELF, saved log)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.code", "event.action", "event.category", "event.outcome",
        "message", "source.ip", "source.bytes", "destination.bytes", "host.ip", "user.name",
        "user_agent.original", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
