"""YAMAHA RTX routers' syslog and ``show log`` (domain.md 3.8).

The router sends its messages without a time; the syslog server that stores them adds
an RFC 3164 header (collector-local time, no year: the shared peeler infers the year
from the source's year hint) or RFC 5424. ``show log`` output carries
``YYYY/MM/DD HH:MM:SS: `` instead. Both are read in the source's zone.

Messages read into fields:

- dynamic filter sessions ``[INSPECT] PP[01][out][101] TCP 10.31.5.20:49750 >
  203.0.113.77:80 (2015/09/09 11:45:04)``: event.action ``inspect`` (a session was
  opened), the time in brackets (it has a year) wins over the header;
- static filter hits ``PP[01] Rejected at OUT(1030) filter: TCP 10.31.5.20:49822 >
  198.51.100.25:25`` (and ``Passed at IN(...)``): event.action ``reject``/``pass``,
  outcome failure/success;
- logins ``Login succeeded as (admin) for TELNET: 192.0.2.5`` / ``Login failed for
  SSH: ...`` and ``'administrator' succeeded for ...``: event.category
  authentication, user.name, source.ip.

For filter lines: ``src > dst`` -> source/destination ip and port, protocol ->
network.transport, filter number -> rule.id, interface (``PP[01]``, ``LAN2``,
``TUNNEL[1]``) and direction (in/out) -> extra ``interface``/``filter_direction``,
anything after the ports (ICMP type text) -> extra ``detail``. Every other message
keeps its text in ``message``. observer.name is the syslog host; observer.type
firewall, observer.vendor yamaha.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.syslog import peel

Row = dict[str, Any]

_IP = r"\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9a-fA-F]*:[0-9a-fA-F:]*\]?"
_FLOW = (
    rf"(?P<proto>[A-Za-z0-9-]+) (?P<sip>{_IP})(?::(?P<sport>\d+))? > "
    rf"(?P<dip>{_IP})(?::(?P<dport>\d+))?"
)
_INSPECT = re.compile(
    r"^\[INSPECT\]\s+(?P<ifc>\S+?)\[(?P<dir>in|out)\]\[(?P<filter>\d+)\] " + _FLOW
    + r"(?: \((?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\))?\s*(?P<rest>.*)$"
)  # fmt: skip
_FILTER = re.compile(
    r"^(?P<ifc>\S+) (?P<res>Rejected|Passed) at (?P<dir>IN|OUT)\((?P<filter>\d+)\) filter: "
    + _FLOW + r"(?P<rest>.*)$"
)  # fmt: skip
_LOGIN = re.compile(
    r"^(?:Login (?P<res>succeeded|failed)(?: as \((?P<user>[^)]*)\))?|'(?P<admin>administrator)'"
    r" (?P<res2>succeeded|failed)) for (?P<svc>[A-Za-z]+)[^:]*: ?(?P<ip>[0-9a-fA-F.:]+)"
)
_SHOW_LOG = re.compile(r"^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d): (?P<msg>.*)$")
_SNIFF = re.compile(
    r"\[INSPECT\]\s+\S+\[(?:in|out)\]\[\d+\] |\b(?:Rejected|Passed) at (?:IN|OUT)\(\d+\) filter: "
)
_TIME = "%Y/%m/%d %H:%M:%S"


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(12)
    if not lines:
        return False
    hits = sum(1 for ln in lines if _SNIFF.search(ln))
    return hits >= max(1, len(lines) // 3)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    years = source.year_state()
    rows = Rows(source)
    for first, chunk in vx.line_arrays(source, vx.chunk_bytes(source)):
        env = peel(chunk, source.tz, years)
        for i, (line, ts, host, msg) in enumerate(
            zip(
                chunk.to_pylist(),
                env.timestamp.to_pylist(),
                env.host.to_pylist(),
                env.message.to_pylist(),
                strict=True,
            )
        ):
            record = first + i
            if not line.strip():
                continue
            when: datetime | None = ts
            text = msg if ts is not None else line
            shown = _SHOW_LOG.match(text)
            if shown:
                when = _strptime(shown["time"])
                text = shown["msg"]
            row = _message(text.strip())
            if host and ts is not None and msg.startswith(("Rejected at", "Passed at")):
                # a header without host: the peeler took the interface for one
                row, host = _message(f"{host} {msg}".strip()), None
            inner = row.pop("_time", None)  # the [INSPECT] time, with its year
            if inner is not None:
                when = inner
            if when is None:
                source.reject(record, "no time (neither a syslog header nor a show log time)", line)
                continue
            row["@timestamp"] = when
            if host:
                row["observer.name"] = host
            batch = rows.add(record, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _strptime(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, _TIME)
    except ValueError:
        return None


def _message(text: str) -> Row:
    row: Row = {
        "message": text,
        "observer.type": "firewall",
        "observer.vendor": "yamaha",
    }
    m = _INSPECT.match(text)
    if m:
        row.update({"event.action": "inspect", "event.category": "network"})
        _flow(m, row)
        row["filter_direction"] = m["dir"]
        if m["time"]:
            row["_time"] = _strptime(m["time"])
        return row
    m = _FILTER.match(text)
    if m:
        passed = m["res"] == "Passed"
        row.update({
            "event.action": "pass" if passed else "reject", "event.category": "network",
            "event.outcome": "success" if passed else "failure",
        })  # fmt: skip
        _flow(m, row)
        row["filter_direction"] = m["dir"].lower()
        return row
    m = _LOGIN.match(text)
    if m:
        ok = (m["res"] or m["res2"]) == "succeeded"
        row.update({
            "event.category": "authentication", "event.outcome": "success" if ok else "failure",
            "event.action": ("administrator" if m["admin"] else "login")
            + ("-success" if ok else "-failure"),
            "network.protocol": m["svc"].lower(), "source.ip": m["ip"],
        })  # fmt: skip
        if m["user"]:
            row["user.name"] = m["user"]
    return row


def _flow(m: re.Match[str], row: Row) -> None:
    row["source.ip"], row["destination.ip"] = m["sip"].strip("[]"), m["dip"].strip("[]")
    if m["sport"]:
        row["source.port"] = int(m["sport"])
    if m["dport"]:
        row["destination.port"] = int(m["dport"])
    row["network.transport"] = m["proto"].lower()
    row["rule.id"] = m["filter"]
    row["interface"] = m["ifc"]
    rest = m["rest"].strip(" :")
    if rest:
        row["detail"] = rest


FORMAT = Format(
    name="yamaha_rtx",
    dataset="yamaha.rtx",
    description="YAMAHA RTX router syslog / show log: [INSPECT] sessions, filter hits, logins",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "event.outcome", "message",
        "source.ip", "source.port", "destination.ip", "destination.port",
        "network.transport", "network.protocol", "user.name", "rule.id", "observer.name",
        "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
