"""QNAP QTS / QuTS hero connection and event logs, by syslog or as exported CSV.

Shapes:

- syslog from QuLog Center (``qulogd``, older ``qlogd``): ``<30>Feb  3 02:10:01 NAS01
  qulogd[19238]: conn log: Users: admin, Source IP: 185.220.101.5, Computer name: ---,
  Connection type: HTTP, Accessed resources: Administration, Action: Login Fail`` and
  ``event log: Users: ..., Source IP: ..., Computer name: ..., Application: ...,
  Category: ..., Content: ...`` (RFC 3164 or 5424 header; a time without zone is read in
  the source's zone);
- the CSV exported from System Logs / QuLog Center, with a header row: connection logs
  ``Type,Date,Time,Users,Source IP,Computer name,Connection type,Accessed resources,
  Action``; event logs ``Type,Date,Time,Users,Source IP,Computer name,[Application,
  Category,]Content``. Date and time are the NAS's local time (source zone).

Connection log rows -> event.dataset ``qnap.connection``: Users -> user.name
(``DOMAIN\\user`` split), Source IP -> source.ip, Computer name -> extra
``client.hostname``, Connection type -> network.protocol (lower case; SAMBA -> smb),
Action -> event.action: ``Login Success``/``Login OK`` -> ``login`` success, ``Login
Fail`` -> ``login`` failure, ``Logout`` -> ``logout``, ``Write``/``Add``/``Make
directory`` -> ``file-write``, ``Delete`` -> ``file-delete``, ``Rename``/``Move`` ->
``file-rename`` (``old -> new``: file.path the new name, extra ``file.old_path``),
``Read`` -> ``file-read``; for file actions Accessed resources -> file.path, else extra
``resource``. Event log rows -> ``qnap.event`` with Content as message and Application,
Category, Type (severity) in extra. ``---`` is no value.

host.name / observer.name = the NAS (syslog host); observer.type ``nas``,
observer.vendor ``qnap``. Lines that are neither are rejected.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.syslog import YearState, peel

Row = dict[str, Any]

CONN = re.compile(
    r"conn log: Users: (?P<user>.*?), Source IP: (?P<ip>.*?), Computer name: (?P<pc>.*?), "
    r"Connection type: (?P<ctype>.*?), Accessed resources: (?P<res>.*?), "
    r"Action: (?P<action>.*?)\.?\s*$"
)
EVENT = re.compile(
    r"event log: Users: (?P<user>.*?), Source IP: (?P<ip>.*?), Computer name: (?P<pc>.*?), "
    r"(?:Application: (?P<app>.*?), )?(?:Category: (?P<cat>.*?), )?Content: (?P<content>.*)$"
)
_CONN_HEADER = ("Type", "Date", "Time", "Users", "Source IP", "Computer name")
_ACTIONS = {
    "login success": ("login", "authentication", "success"),
    "login ok": ("login", "authentication", "success"),
    "login fail": ("login", "authentication", "failure"),
    "login failed": ("login", "authentication", "failure"),
    "logout": ("logout", "authentication", "success"),
    "write": ("file-write", "file", "success"),
    "add": ("file-write", "file", "success"),
    "make directory": ("file-write", "file", "success"),
    "delete": ("file-delete", "file", "success"),
    "rename": ("file-rename", "file", "success"),
    "move": ("file-rename", "file", "success"),
    "read": ("file-read", "file", "success"),
}
_PROTOCOLS = {"samba": "smb"}
_NONE = ("", "---", "--")


def _is_header(line: str) -> bool:
    cells = [c.strip().strip('"').strip("\ufeff") for c in line.split(",")]
    return tuple(cells[:6]) == _CONN_HEADER


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(10)
    if lines and _is_header(lines[0]):
        return True
    return sample.mostly(lambda ln: CONN.search(ln) or EVENT.search(ln))


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    with source.text_stream() as fh:
        head = fh.readline()
    if _is_header(head):
        return _parse_csv(source)
    return _parse_syslog(source)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value in _NONE else value


def _parse_syslog(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    years = YearState(source.year_hint)
    for first, chunk in vx.line_arrays(source, vx.chunk_bytes(source)):
        lines: list[str] = [ln.rstrip("\r") for ln in chunk.to_pylist()]
        env = peel(pa.array(lines, pa.string()), source.tz, years)
        stamps, hosts = env.timestamp.to_pylist(), env.host.to_pylist()
        for i, line in enumerate(lines):
            record = first + i
            if not line.strip():
                continue
            conn, event = CONN.search(line), None
            if conn is None:
                event = EVENT.search(line)
            if stamps[i] is None or (conn is None and event is None):
                why = "no syslog time" if stamps[i] is None else "not a QNAP conn/event log"
                source.reject(record, why, line)
                continue
            row: Row = {"@timestamp": stamps[i]}
            if hosts[i]:
                row["observer.name"] = row["host.hostname"] = hosts[i]
                row["host.name"] = hosts[i].split(".")[0].lower()
            if conn is not None:
                _conn(row, conn.groupdict())
            elif event is not None:
                _event(row, event.groupdict())
            batch = rows.add(record, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _parse_csv(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    with source.text_stream() as fh:
        reader = csv.reader(fh)
        header = [h.strip().strip("\ufeff") for h in next(reader, [])]
        index = {name.lower(): i for i, name in enumerate(header)}
        conn = "action" in index and "connection type" in index
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue

            def cell(name: str, cells: list[str] = cells) -> str | None:
                i = index.get(name)
                return cells[i] if i is not None and i < len(cells) else None

            stamp = f"{(cell('date') or '').replace('-', '/')} {cell('time') or ''}"
            try:
                ts = datetime.strptime(stamp.strip(), "%Y/%m/%d %H:%M:%S")
            except ValueError:
                source.reject(number, "Date/Time is not YYYY/MM/DD HH:MM:SS", ",".join(cells))
                continue
            row: Row = {"@timestamp": ts, "severity_text": _clean(cell("type"))}
            fields = {
                "user": cell("users"), "ip": cell("source ip"), "pc": cell("computer name"),
                "ctype": cell("connection type"), "res": cell("accessed resources"),
                "action": cell("action"), "app": cell("application"),
                "cat": cell("category"), "content": cell("content"),
            }  # fmt: skip
            if conn:
                _conn(row, fields)
            else:
                _event(row, fields)
            batch = rows.add(number, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _common(row: Row, f: dict[str, str | None]) -> None:
    row["observer.type"], row["observer.vendor"] = "nas", "qnap"
    user = _clean(f.get("user"))
    if user:
        dom, sep, name = user.rpartition("\\")
        row["user.name"] = name if sep else user
        if sep and dom:
            row["user.domain"] = dom
    ip = _clean(f.get("ip"))
    if ip:
        row["source.ip"] = ip
    pc = _clean(f.get("pc"))
    if pc:
        row["client.hostname"] = pc


def _conn(row: Row, f: dict[str, str | None]) -> None:
    _common(row, f)
    row["event.dataset"] = "qnap.connection"
    ctype = _clean(f.get("ctype"))
    if ctype:
        row["network.protocol"] = _PROTOCOLS.get(ctype.lower(), ctype.lower())
    word = (_clean(f.get("action")) or "").strip(".")
    row["message"] = word or None
    spec = _ACTIONS.get(word.lower())
    resource = _clean(f.get("res"))
    if spec is None:
        if word:
            row["event.action"] = word.lower()
        row["resource"] = resource
        return
    row["event.action"], row["event.category"], row["event.outcome"] = spec
    if spec[1] == "file" and resource:
        if " -> " in resource:
            old, _, resource = resource.partition(" -> ")
            row["file.old_path"] = old
        row["file.path"] = resource
    else:
        row["resource"] = resource


def _event(row: Row, f: dict[str, str | None]) -> None:
    _common(row, f)
    row["event.dataset"] = "qnap.event"
    row["message"] = _clean(f.get("content"))
    row["application"] = _clean(f.get("app"))
    row["category"] = _clean(f.get("cat"))


FORMAT = Format(
    name="qnap",
    dataset="qnap.connection",
    description="QNAP QTS/QuTS connection and event logs (QuLog syslog or exported CSV)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.dataset", "event.action", "event.category", "event.outcome",
        "message", "source.ip", "network.protocol", "user.name", "user.domain", "file.path",
        "host.name", "host.hostname", "observer.name", "observer.type", "observer.vendor",
        "extra",
    ),
)  # fmt: skip
