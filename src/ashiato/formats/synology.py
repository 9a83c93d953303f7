"""Synology DSM logs: Connection and File Transfer (Log Center), by syslog or as saved.

A line is either a syslog message from the NAS (RFC 3164 or 5424 header: time, host and
program; DSM sends them through Log Center) or a line of Log Center's saved log
(``2024/02/03 02:10:01 warn  User [admin] from [...] ...``). Times without offset
(RFC 3164, saved log) are read in the source's zone.

Messages:

- File transfer (``WinFileService`` for SMB, and the other file services) ``Event: write,
  Path: /share/a.xlsx, File/Folder: File, Size: 24.23 KB, User: tanaka, IP: 10.50.0.12``
  -> event.dataset ``synology.file_transfer``, file.path, file.size (bytes, from the
  KB/MB/GB figure), user.name (``DOMAIN\\user`` or ``user@domain`` split), source.ip;
  event.action ``file-write`` (write, create, upload), ``file-delete`` (delete),
  ``file-rename`` (rename, move; ``Path: old -> new``: file.path the new name, extra
  ``file.old_path``), ``file-read`` (read, download), else the event word.
- Connection (``Connection:`` program or text) -> event.dataset ``synology.connection``:
  ``User [U] from [IP] signed in to [SVC] successfully via [M]`` -> ``login`` success,
  ``... failed to sign in to [SVC] via [M]`` / ``failed to log in via [SVC]`` -> ``login``
  failure (network.protocol the service, lower case; extra ``auth_method``); ``logged
  out the server via [SVC] with totally [X] uploaded and [Y] downloaded`` -> ``logout``
  with source.bytes X (sent by the user) and destination.bytes Y; ``Host [IP] was
  blocked via [SVC]`` -> ``source-blocked``; ``via [SVC] accessed shared folder [F]`` ->
  ``share-access`` (file.share F).
- anything else -> ``synology.system`` with its text in message.

host.name / observer.name = the NAS (syslog host); observer.type ``nas``,
observer.vendor ``synology``. Lines with no time are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.syslog import YearState, peel

Row = dict[str, Any]

SAVED = re.compile(
    r"^(?P<date>\d{4}/\d\d/\d\d) (?P<time>\d\d:\d\d:\d\d)\s+(?P<level>[a-z]+)\s+(?P<msg>.*)$"
)
TRANSFER = re.compile(
    r"Event: (?P<event>[\w ]+?), Path: (?P<path>.*?), File/Folder: (?P<kind>\w+), "
    r"Size: (?P<size>[^,]*), User: (?P<user>.*?), IP: (?P<ip>[0-9A-Fa-f.:]+)"
)
_BR = r"\[(?P<{}>[^\]]*)\]"
_SIGNIN = re.compile(
    r"User " + _BR.format("user") + r" from " + _BR.format("ip")
    + r" (?:signed in to " + _BR.format("svc") + r" successfully"
    + r"|failed to (?:sign|log) in(?: to " + _BR.format("svc2") + r")?)"
    + r"(?: via " + _BR.format("via") + r")?"
)  # fmt: skip
_LOGOUT = re.compile(
    r"User " + _BR.format("user") + r" from " + _BR.format("ip") + r" logged out the server"
    + r"(?: via " + _BR.format("svc") + r")?(?: with totally " + _BR.format("up")
    + r" uploaded and " + _BR.format("down") + r" downloaded)?"
)  # fmt: skip
_BLOCKED = re.compile(r"Host " + _BR.format("ip") + r" was blocked via " + _BR.format("svc"))
_SHARE = re.compile(
    r"User " + _BR.format("user") + r" from " + _BR.format("ip") + r" via "
    + _BR.format("svc") + r" accessed shared folder " + _BR.format("share")
)  # fmt: skip
_SIZE = re.compile(r"^(?P<n>[\d.]+)\s*(?P<unit>[KMGT]?B|Bytes?)$", re.I)
_UNITS = {"b": 1, "byte": 1, "bytes": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30,
          "tb": 1 << 40}  # fmt: skip
_FILE_ACTIONS = {
    "write": "file-write", "create": "file-write", "upload": "file-write",
    "delete": "file-delete", "rename": "file-rename", "move": "file-rename",
    "read": "file-read", "download": "file-read",
}  # fmt: skip
_SEVERITY = {"err": 3, "error": 3, "crit": 2, "warn": 4, "warning": 4, "info": 6,
             "notice": 5, "debug": 7}  # fmt: skip


def _ours(msg: str) -> bool:
    return bool(
        TRANSFER.search(msg) or _SIGNIN.search(msg) or _LOGOUT.search(msg)
        or _BLOCKED.search(msg) or _SHARE.search(msg)
    )  # fmt: skip


def sniff(sample: Sample) -> bool:
    return sample.mostly(lambda ln: _ours(ln) and bool(SAVED.match(ln) or re.search(
        r"^(?:<\d{1,3}>)?(?:1 \d{4}-|[A-Z][a-z]{2} [ \d]\d \d\d:)", ln)))  # fmt: skip


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    years = YearState(source.year_hint)
    for first, chunk in vx.line_arrays(source, vx.chunk_bytes(source)):
        lines: list[str] = [ln.rstrip("\r") for ln in chunk.to_pylist()]
        env = peel(pa.array(lines, pa.string()), source.tz, years)
        stamps = env.timestamp.to_pylist()
        hosts = env.host.to_pylist()
        apps = env.app.to_pylist()
        messages = env.message.to_pylist()
        for i, line in enumerate(lines):
            record = first + i
            if not line.strip():
                continue
            row = _row(line, stamps[i], hosts[i], apps[i], messages[i])
            if row is None:
                source.reject(record, "no time: neither a syslog header nor Log Center's", line)
                continue
            batch = rows.add(record, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _row(
    line: str, ts: datetime | None, host: str | None, app: str | None, msg: str | None
) -> Row | None:
    row: Row = {"observer.type": "nas", "observer.vendor": "synology"}
    text = msg or ""
    if ts is None:
        saved = SAVED.match(line)
        if saved is None:
            return None
        ts = datetime.strptime(f"{saved['date']} {saved['time']}", "%Y/%m/%d %H:%M:%S")
        text = saved["msg"]
        if saved["level"] in _SEVERITY:
            row["event.severity"] = _SEVERITY[saved["level"]]
    row["@timestamp"] = ts
    row["message"] = text
    if app:
        row["event.provider"] = app
    if host:
        row["observer.name"] = row["host.hostname"] = host
        row["host.name"] = host.split(".")[0].lower()
    if t := TRANSFER.search(text):
        _transfer(t, row)
    else:
        _connection(text, row)
    return row


def _user(row: Row, user: str) -> None:
    user = user.strip()
    if not user:
        return
    if "\\" in user:
        row["user.domain"], _, row["user.name"] = user.rpartition("\\")
    elif "@" in user:
        row["user.name"], _, row["user.domain"] = user.partition("@")
    else:
        row["user.name"] = user


def _size(text: str) -> int | None:
    m = _SIZE.match(text.strip())
    if m is None:
        return None
    return int(float(m["n"]) * _UNITS.get(m["unit"].lower(), 1))


def _transfer(t: re.Match[str], row: Row) -> None:
    row["event.dataset"] = "synology.file_transfer"
    row["event.category"] = "file"
    event = t["event"].strip().lower()
    row["event.action"] = _FILE_ACTIONS.get(event, event)
    row["event.outcome"] = "success"
    path = t["path"]
    if " -> " in path:
        old, _, path = path.partition(" -> ")
        row["file.old_path"] = old
    row["file.path"] = path
    row["file.type"] = t["kind"].lower()
    size = _size(t["size"])
    if size is not None:
        row["file.size"] = size
    _user(row, t["user"])
    row["source.ip"] = t["ip"]


def _connection(text: str, row: Row) -> None:
    row["event.dataset"] = "synology.system"
    if s := _SIGNIN.search(text):
        ok = s["svc"] is not None
        _auth(row, "login", "success" if ok else "failure", s["ip"], s["svc"] or s["svc2"])
        _user(row, s["user"])
        if s["via"]:
            # "via [SSH]" after "failed to log in" is the service, else the method
            if ok or s["svc2"]:
                row["auth_method"] = s["via"]
            else:
                row["network.protocol"] = s["via"].lower()
    elif lo := _LOGOUT.search(text):
        _auth(row, "logout", "success", lo["ip"], lo["svc"])
        _user(row, lo["user"])
        for key, col in (("up", "source.bytes"), ("down", "destination.bytes")):
            if lo[key] and (n := _size(lo[key])) is not None:
                row[col] = n
    elif b := _BLOCKED.search(text):
        _auth(row, "source-blocked", None, b["ip"], b["svc"])
    elif sh := _SHARE.search(text):
        _auth(row, "share-access", "success", sh["ip"], sh["svc"])
        row["event.category"] = "file"
        row["file.share"] = sh["share"]
        _user(row, sh["user"])


def _auth(row: Row, action: str, outcome: str | None, ip: str, service: str | None) -> None:
    row["event.dataset"] = "synology.connection"
    row["event.action"], row["event.category"] = action, "authentication"
    if outcome:
        row["event.outcome"] = outcome
    row["source.ip"] = ip
    if service:
        row["network.protocol"] = service.lower()


FORMAT = Format(
    name="synology",
    dataset="synology.connection",
    description="Synology DSM Connection and File Transfer logs (syslog or Log Center)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.dataset", "event.action", "event.category", "event.outcome",
        "event.severity", "event.provider", "message", "source.ip", "source.bytes",
        "destination.bytes", "network.protocol", "user.name", "user.domain", "file.path",
        "file.size", "file.share", "host.name", "host.hostname", "observer.name",
        "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
